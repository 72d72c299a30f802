"""A whole run of one image as one traced function, for callers who bring their own ``evaluate_fn``."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.evaluation.fitness import Problem
from evojax_lime.engine.loop import advance, start
from evojax_lime.engine.state import GAState, RunState
from evojax_lime.strategies.ga import EvaluateFn


@struct.dataclass
class EvolveResult:
  """Attributes:
    state: the final :class:`GAState`.
    best_history: ``(G + 1,)`` best fitness after each generation (entry 0: initial population); NaN after an
      early stop.
    mean_history: ``(G + 1,)`` mean population fitness, likewise.
    best_probability: ``()`` target probability of the best genome.
    importance: ``(L,)`` fitness-weighted frequency of each gene being 1 in the final population.
  """

  state: GAState
  best_history: jax.Array
  mean_history: jax.Array
  best_probability: jax.Array
  importance: jax.Array


def result_of(run: RunState, index: int = 0) -> EvolveResult:
  """The :class:`EvolveResult` of image ``index`` of a batched run."""
  ga = jax.tree_util.tree_map(lambda x: x[index], run.ga)
  return EvolveResult(state=ga, best_history=run.best_history[index], mean_history=run.mean_history[index],
                      best_probability=ga.best_probability, importance=run.importance[index])


def evolve(key: jax.Array, problem: Problem, params: GAParams, *, config: ELimeConfig, length: int,
           evaluate_fn: EvaluateFn) -> EvolveResult:
  """Initial population plus ``config.generations`` generations (fewer with ``patience``), one traced loop.

  Args:
    key: PRNG key; the whole run is a function of it.
    problem: image, superpixels, fill and target (``target >= 0``).
    params: GA rates.
    config: static options (population size, generations, operators, patience).
    length: static genome length L.
    evaluate_fn: genomes -> fitness (see :mod:`evojax_lime.evaluation.fitness`).
  """
  one = lambda tree: jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], tree)

  def evaluate_batch(candidates, problems, parsimony):
    del parsimony  # evaluate_fn applies params itself
    fitness, prob = evaluate_fn(candidates[0], problem, params)
    return fitness[None], prob[None], problems.target

  run = start(jnp.asarray(key)[None], one(problem), one(params), config=config, length=length)
  run = advance(run, jnp.int32(config.generations + 1), config=config, evaluate_batch=evaluate_batch,
                complete=lambda p: p)
  return result_of(run)
