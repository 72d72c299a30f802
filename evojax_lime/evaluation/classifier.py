"""Keeping a classifier's weights out of the compiled program.

A classifier that is a pytree of arrays (a ``jax.tree_util.Partial`` over model variables, as
``models.Model.classifier()`` returns) has its arrays passed to the compiled program as arguments. Closing
over them would embed them as constants: slow to compile and a second copy in memory for large models.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import numpy as np

from evojax_lime.engine.cache import weakly
from evojax_lime.evaluation.fitness import Classifier


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
