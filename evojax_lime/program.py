"""Compiled E-LIME programs, cached per (classifier, static options) and per input shape."""
from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp

from evojax_lime.classifier import jit_classifier, split_classifier
from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.evolve import evolve
from evojax_lime.fill import make_fill
from evojax_lime.fitness import Classifier, Problem, evaluate
from evojax_lime.in_program import complete_problem
from evojax_lime.sharding import population_mesh, round_to_devices, shard_rows


def _shape_key(*trees: Any) -> tuple:
  return tuple((tuple(x.shape), str(x.dtype)) for x in jax.tree_util.tree_leaves(trees))


class Program:
  """``(key, problem, params) -> (EvolveResult, Problem, p_original)``, compiled once per argument shape.

  The returned problem and original probability are the ones the program computed itself with in-program
  segmentation (:mod:`evojax_lime.in_program`); otherwise the problem is the input and p_original NaN.

  With ``batched=True`` the key and every leaf of ``problem`` carry a leading image axis and all images
  evolve together in one program. With ``progress=True`` the program reports its generations to the host
  (:mod:`evojax_lime.progress`). Compiling ahead of time keeps compile time apart from run time.
  """

  def __init__(self, classifier: Classifier, *, logits: bool, config: ELimeConfig, length: int, chunk_size: int,
               batched: bool = False, progress: bool = False, given_fill: bool = False):
    mesh = population_mesh() if config.shard else None
    self._weights, rebuild = split_classifier(classifier)

    def run(weights, key, problem, params):
      clf = rebuild(weights)
      original = jnp.float32(jnp.nan)  # known on the host unless the program segments the image itself
      if config.segments_in_program:
        problem, original = complete_problem(problem, clf, config=config, length=length, logits=logits,
                                             given_fill=given_fill)
      sharded = (lambda images: clf(shard_rows(images, mesh))) if mesh else clf
      evaluate_fn = functools.partial(evaluate, classifier=sharded, logits=logits,
                                      chunk_size=round_to_devices(chunk_size, mesh), dtype=jnp.dtype(config.dtype))
      result = evolve(key, problem, params, config=config, length=length, evaluate_fn=evaluate_fn, progress=progress)
      return result, problem, original

    self._jitted = jax.jit(jax.vmap(run, in_axes=(None, 0, 0, None)) if batched else run)
    self._compiled: dict[tuple, Any] = {}

  def executable(self, key: jax.Array, problem: Problem, params: GAParams) -> tuple[Any, float]:
    """The compiled executable ``(weights, key, problem, params) -> ...`` for these argument shapes
    and the seconds spent compiling it (0 if cached)."""
    shape = _shape_key(key, problem, params)
    if shape in self._compiled:
      return self._compiled[shape], 0.0
    t0 = time.perf_counter()
    exe = self._jitted.lower(self._weights, key, problem, params).compile()
    self._compiled[shape] = exe
    return exe, time.perf_counter() - t0

  def compiled(self, key: jax.Array, problem: Problem, params: GAParams) -> tuple[Any, float]:
    """``(key, problem, params) -> (EvolveResult, Problem, p_original)`` compiled for these shapes, and the
    compile seconds."""
    exe, compile_time = self.executable(key, problem, params)
    return functools.partial(exe, self._weights), compile_time

  def __call__(self, key: jax.Array, problem: Problem, params: GAParams) -> tuple[Any, float]:
    run, compile_time = self.compiled(key, problem, params)
    return run(key, problem, params), compile_time


@functools.lru_cache(maxsize=64)
def program(classifier: Classifier, *, logits: bool, config: ELimeConfig, length: int, chunk_size: int,
            batched: bool = False, progress: bool = False, given_fill: bool = False) -> Program:
  """The cached :class:`Program`; ``config`` should be ``ELimeConfig.static()`` so rate sweeps share it."""
  return Program(classifier, logits=logits, config=config, length=length, chunk_size=chunk_size, batched=batched,
                 progress=progress, given_fill=given_fill)


@functools.lru_cache(maxsize=64)
def predict_fn(classifier: Classifier):
  return jit_classifier(classifier)


@functools.lru_cache(maxsize=64)
def fill_fn(kind: str, length: int, blur_sigma: float):
  return jax.jit(functools.partial(make_fill, kind=kind, length=length, blur_sigma=blur_sigma))
