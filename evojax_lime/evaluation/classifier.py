"""Keeping a classifier's weights out of the compiled program.

A classifier that is a pytree of arrays (a ``jax.tree_util.Partial`` over model variables, as
``models.Model.classifier()`` returns) has its arrays passed to the compiled program as arguments. Closing
over them would embed them as constants: slow to compile and a second copy in memory for large models.
"""
from __future__ import annotations

import functools
import hashlib
from typing import Any, Callable, TypeVar

import jax
import numpy as np

from evojax_lime.engine.cache import weakly
from evojax_lime.evaluation.fitness import Classifier
from evojax_lime.evaluation.host import host_function

T = TypeVar("T")


def split_classifier(classifier: Classifier) -> tuple[list, Callable[[list], Classifier]]:
  """``(weights, rebuild)`` with ``rebuild(weights)`` equivalent to ``classifier`` inside a trace.

  A plain function has no weights to split off: it is returned as is by ``rebuild``.
  """
  leaves, treedef = jax.tree_util.tree_flatten(classifier)
  if leaves and all(isinstance(x, (jax.Array, np.ndarray)) for x in leaves):
    return leaves, lambda weights: jax.tree_util.tree_unflatten(treedef, weights)
  held = weakly(classifier)  # a cached program must not keep the caller's classifier (and its constants) alive
  return [], lambda weights: held()


def lower_classifier(classifier: Classifier, spec: Any) -> Any:
  """The compiled classifier alone for input ``spec`` (a ``ShapeDtypeStruct``), weights as arguments."""
  weights, rebuild = split_classifier(classifier)
  return jax.jit(lambda w, images: rebuild(w)(images)).lower(weights, spec).compile()


# What tracing a classifier that is not written in JAX raises (it reads a traced array as a concrete one).
_NOT_JAX = (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError,
            jax.errors.TracerIntegerConversionError, jax.errors.TracerBoolConversionError)


def traced(build: Callable[[], T]) -> T:
  """``build()``, which traces the classifier, with a non-JAX classifier's tracer error made one clear line.

  Raises:
    ValueError: the classifier is a numpy, torch or other host function (it must be wrapped).
  """
  try:
    return build()
  except _NOT_JAX as err:
    raise ValueError(f"the classifier is not a JAX function (tracing it raised {type(err).__name__}); wrap a "
                     "numpy or torch classifier with evojax_lime.host_classifier(fn, num_classes=C)") from None


def check_same_structure(classifier: Classifier, other: Classifier, *, name: str) -> list:
  """``other``'s weights, if it is ``classifier`` with other weights of the same shapes and dtypes.

  Raises:
    ValueError: ``other`` is not such a classifier (a plain function has no weights to swap).
  """
  ours, _ = split_classifier(classifier)
  weights, _ = split_classifier(other)
  if not ours or [(x.shape, x.dtype) for x in weights] != [(x.shape, x.dtype) for x in ours]:
    raise ValueError(f"{name} must be the classifier with other weights of the same shapes (a Flax port's "
                     "classifier() or a jax.tree_util.Partial over arrays); a plain function has no weights to swap")
  return weights


def _function_name(fn: Any) -> str:
  while isinstance(fn, (functools.partial, jax.tree_util.Partial)):
    fn = fn.func
  return f"{getattr(fn, '__module__', None)}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"


def _arrays_held(fn: Any) -> list:
  """Arrays a plain function or ``functools.partial`` holds: bound arguments, defaults and closed-over cells."""
  held = []
  while isinstance(fn, functools.partial):
    held += [*fn.args, *fn.keywords.values()]
    fn = fn.func
  cells = getattr(fn, "__closure__", None) or ()
  for value in [*held, *(getattr(fn, "__defaults__", None) or ()), *(c.cell_contents for c in cells
                                                                      if _has_contents(c))]:
    held += [x for x in jax.tree_util.tree_leaves(value) if isinstance(x, (jax.Array, np.ndarray))]
  return [x for x in held if isinstance(x, (jax.Array, np.ndarray))]


def _has_contents(cell: Any) -> bool:
  try:
    cell.cell_contents
  except ValueError:  # an empty cell
    return False
  return True


def classifier_identity(classifier: Classifier) -> dict:
  """What tells ``classifier`` from another (JSON-ready): its function's name and a digest of its weights'
  values (the arrays a ``Partial`` holds, or those a plain function closes over); for a host classifier, its
  name and the wrapped function's closure."""
  weights, _ = split_classifier(classifier)
  host = host_function(classifier)
  fn = classifier if host is None else host[1]
  arrays = weights if weights else _arrays_held(fn)
  digest = hashlib.sha256()
  for x in arrays:
    x = np.asarray(x)
    digest.update(f"{x.shape}{x.dtype}".encode())
    digest.update(np.ascontiguousarray(x).tobytes())
  return {"function": _function_name(fn) if host is None else f"host classifier {host[0]!r}: {_function_name(fn)}",
          "weights": digest.hexdigest()}
