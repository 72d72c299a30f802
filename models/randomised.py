"""Cascading randomisation of a model's last layers (Adebayo et al., "Sanity Checks for Saliency Maps",
NeurIPS 2018): the weights an explanation should depend on, destroyed from the output backwards.

An explanation that stays the same when the layers that make the prediction are re-initialised does not
explain the prediction. :func:`randomised` gives the copy to explain again (``evojax_lime.explain(...,
randomised=...)`` runs it through the same compiled search and scores the agreement).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models._model import Model
from models.registry import initial_values


def layer_order(model: Model) -> list[str]:
  """The model's top-level modules that hold parameters, in the order a forward pass calls them."""
  order: list[str] = []

  def record(next_fun, args, kwargs, context):
    path = context.module.path
    if len(path) == 1 and path[0] not in order:
      order.append(path[0])
    return next_fun(*args, **kwargs)

  shape = jax.ShapeDtypeStruct((1, model.input_size, model.input_size, 3), jnp.float32)
  with nn.intercept_methods(record):  # runs while tracing: nothing is computed
    jax.eval_shape(model.module.init, jax.random.PRNGKey(0), shape)
  return [name for name in order if name in model.variables["params"]]


def randomised(model: Model, *, layers: int, seed: int = 0) -> Model:
  """A copy of ``model`` whose last ``layers`` parameterised top-level modules are re-initialised.

  Each module's new weights come from a generator of its own (``seed`` and its place from the output), so the
  copies at 1, 2, 3 ... layers form a cascade: each re-initialises one more module and keeps the new weights
  of the ones before (see :func:`cascade`).

  Args:
    model: a Flax port from :func:`models.create`.
    layers: how many modules, counted back from the output (1: the classification head only); at most the
      number of such modules (:func:`layer_order`).
    seed: seed of the new weights (LeCun-normal kernels, zero biases, identity BatchNorm).

  Returns:
    A :class:`Model` with the same architecture and variable shapes (so a compiled search takes its weights
    as they are); BatchNorm statistics of the re-initialised modules are reset too.
  """
  order = layer_order(model)
  if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= len(order):
    raise ValueError(f"layers must be an integer in [1, {len(order)}] for {model.name}, got {layers!r}")
  variables = {collection: dict(values) for collection, values in model.variables.items()}
  for back, name in enumerate(reversed(order[-layers:])):
    rng = np.random.default_rng([seed, back])
    for collection in variables.values():
      if name in collection:
        collection[name] = initial_values(collection[name], rng)
  return dataclasses.replace(model, variables=variables)


def cascade(model: Model, *, depths: Sequence[int], seed: int = 0) -> list[Model]:
  """Adebayo et al.'s cascading randomisation: one copy of ``model`` per depth, each :func:`randomised` at that
  many layers from the output; deeper copies keep the shallower copies' new weights.

  Args:
    model: a Flax port from :func:`models.create`.
    depths: strictly increasing layer counts, each valid for :func:`randomised`.
    seed: seed of the new weights.

  Returns:
    The copies, in the order of ``depths`` (``explain(..., cascade=[m.classifier() for m in copies])``
    scores the explanation against each).
  """
  depths = list(depths)
  if not depths or any(b <= a for a, b in zip(depths, depths[1:])):
    raise ValueError(f"depths must be a non-empty, strictly increasing list of layer counts, got {depths!r}")
  return [randomised(model, layers=d, seed=seed) for d in depths]
