"""Compiled E-LIME programs, cached per (classifier, static options) and per input shape.

A program is the resumable loop of :mod:`evojax_lime.engine.loop`, compiled once: ``(weights, RunState, stop_at) ->
RunState``. The classifier is traced into it exactly once (in :func:`evojax_lime.evaluation.fitness.evaluate_rows`);
the first step also computes superpixels (when the program segments), the fill and the target, so nothing
else about the classifier needs a program of its own.
"""
from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from evojax_lime.evaluation.classifier import jit_classifier, split_classifier
from evojax_lime.config import ELimeConfig
from evojax_lime.evaluation.fill import make_fill
from evojax_lime.evaluation.fitness import Classifier, evaluate_rows
from evojax_lime.engine.first_step import complete_problem
from evojax_lime.engine.loop import advance
from evojax_lime.evaluation.sharding import population_mesh, round_to_devices, shard_rows
from evojax_lime.engine.state import RunState


def shape_key(*trees: Any) -> tuple:
  """The shapes and dtypes of every leaf: what a compiled executable is specific to."""
  return tuple((tuple(x.shape), str(x.dtype)) for x in jax.tree_util.tree_leaves(trees))


class Program:
  """``(RunState, stop_at) -> RunState`` for a batch of images, compiled once per argument shape.

  Compiling ahead of time keeps compile time apart from run time; the program has no host callbacks, so
  JAX's persistent compilation cache stores it like any other.
  """

  def __init__(self, classifier: Classifier, *, logits: bool, config: ELimeConfig, length: int, chunk_size: int,
               given_fill: bool):
    mesh = population_mesh() if config.shard else None
    self._weights, rebuild = split_classifier(classifier)
    self.chunk_size = round_to_devices(chunk_size, mesh)

    def run(weights, state: RunState, stop_at):
      evaluate_batch = functools.partial(evaluate_rows, classifier=rebuild(weights), logits=logits,
                                         chunk_size=self.chunk_size, dtype=jnp.dtype(config.dtype),
                                         constrain=functools.partial(shard_rows, mesh=mesh))
      complete = jax.vmap(functools.partial(complete_problem, config=config, length=length, given_fill=given_fill))
      return advance(state, stop_at, config=config, evaluate_batch=evaluate_batch, complete=complete)

    self._jitted = jax.jit(run)
    self._compiled: dict[tuple, Any] = {}

  def compiled(self, state: RunState) -> tuple[Any, bool]:
    """``(state, stop_at) -> state`` compiled for this state's shapes, and whether it was compiled now."""
    shape = shape_key(state)
    fresh = shape not in self._compiled
    if fresh:
      self._compiled[shape] = self._jitted.lower(self._weights, state, jnp.int32(0)).compile()
    return functools.partial(self._compiled[shape], self._weights), fresh


@functools.lru_cache(maxsize=64)
def program(classifier: Classifier, *, logits: bool, config: ELimeConfig, length: int, chunk_size: int,
            given_fill: bool = False) -> Program:
  """The cached :class:`Program`; ``config`` should be ``ELimeConfig.static()`` so rate sweeps share it."""
  return Program(classifier, logits=logits, config=config, length=length, chunk_size=chunk_size,
                 given_fill=given_fill)


@functools.lru_cache(maxsize=64)
def predict_fn(classifier: Classifier):
  """The jitted classifier on its own (for host-side verdicts outside the search, such as LIME's)."""
  return jit_classifier(classifier)


@functools.lru_cache(maxsize=64)
def fill_fn(kind: str, length: int, blur_sigma: float):
  """The jitted fill of one image (for host-side preparation outside the search, such as LIME's)."""
  return jax.jit(functools.partial(make_fill, kind=kind, length=length, blur_sigma=blur_sigma))
