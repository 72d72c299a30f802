"""lime's ``classifier_fn`` (numpy in, numpy out, or a JAX function) as an engine classifier.

A JAX function is compiled into the engine's programs; any other function (torch, Keras, numpy) runs on the
host through :func:`evojax_lime.host_classifier`. Either way it receives images in the caller's own dtype and
value range, as lime would give them.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.compat._value_range import ValueRange
from evojax_lime.engine.cache import cached, weakly
from evojax_lime.evaluation.fitness import Classifier, Evaluator, evaluate_scores
from evojax_lime.evaluation.host import host_classifier


def traces_as_jax(fn: Callable, shape: tuple[int, ...], dtype: np.dtype) -> bool:
  """Whether ``fn`` traces with JAX on ``(1, *shape)`` images to ``(1, C)`` scores.

  A torch or Keras (non-JAX backend) model fails to trace (it cannot read a tracer), so it is run on the host.
  """
  try:
    with warnings.catch_warnings():  # a probe: what a non-JAX function warns about here is not the caller's concern
      warnings.simplefilter("ignore")
      out = jax.eval_shape(fn, jax.ShapeDtypeStruct((1, *shape), dtype))
  except Exception:  # any failure to trace means "not a JAX function"; the host path reports real errors
    return False
  return hasattr(out, "shape") and len(out.shape) == 2 and out.shape[0] == 1


def engine_classifier(fn: Callable, convention: ValueRange, is_jax: bool,
                      num_classes: Optional[int]) -> Classifier:
  """Engine images ``(N, H, W, 3)`` in [0, 1] -> ``fn``'s float32 scores, ``fn`` seeing the caller's pixels.

  Kept in the engine's cache on the function object, so explaining again with the same ``fn`` reuses the
  compiled programs (the wrapper holds ``fn`` weakly).
  """
  held = weakly(fn)

  def build() -> Classifier:
    if is_jax:  # float64 images become float32 unless JAX runs with x64 enabled
      inside = dataclasses.replace(convention, dtype=jax.dtypes.canonicalize_dtype(convention.dtype))
      return lambda images: jnp.asarray(held()(inside.from_unit(images, jnp))).astype(jnp.float32)
    return host_classifier(lambda images: np.asarray(held()(convention.from_unit(images))), num_classes=num_classes,
                           name="classifier_fn")

  return cached(fn, ("engine_classifier", convention, is_jax, num_classes), build)


def scores_program(classifier: Classifier, chunk_size: int, num_classes: int):
  """Jitted ``(genomes (S, L), problem) -> (S, C)`` probabilities of every masked image, in chunks, from the
  engine's cache (the engine's own chunked evaluation,
  :func:`~evojax_lime.evaluation.fitness.evaluate_scores`).

  lime's regression needs every class's column (one fit per explained label), so this keeps the whole score row
  that the search's fitness reduces to the target.
  """
  held = weakly(classifier)
  evaluator = lambda: Evaluator(classifier=held(), logits=False, chunk_size=chunk_size)
  return cached(classifier, ("scores", chunk_size, num_classes),
                lambda: jax.jit(lambda g, p: evaluate_scores(g, p, evaluator(), num_classes=num_classes)))
