"""Driving the GA by hand with your own ``evaluate_fn``: the ask -> evaluate -> tell steps the engine's loop
runs for every row, for one image, as pure functions."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import struct

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.evaluation.fitness import Problem
from evojax_lime.strategies.ga import GA, GAState

# (genomes (P, L), problem, params) -> ((P,) fitness, (P,) target probability)
EvaluateFn = Callable[[jax.Array, Problem, GAParams], tuple[jax.Array, jax.Array]]


def generation_step(state: GAState, problem: Problem, params: GAParams, *, config: ELimeConfig,
                    evaluate_fn: EvaluateFn) -> GAState:
  """The next population (the initial one, whose individual 0 keeps every superpixel, for a fresh state)."""
  strategy = GA.from_config(config)
  state, candidates = strategy.ask(state, num_genes=problem.num_genes, params=params)
  full = jnp.arange(candidates.shape[1]) < problem.num_genes
  candidates = jnp.where(state.generation == 0, candidates.at[0].set(full), candidates)
  fitness, probability = evaluate_fn(candidates, problem, params)
  return strategy.tell(state, candidates, fitness, probability)


def init_state(key: jax.Array, problem: Problem, params: GAParams, *, config: ELimeConfig, length: int,
               evaluate_fn: EvaluateFn) -> GAState:
  """The evaluated initial population for genomes of static length L = ``length``."""
  blank = jax.tree_util.tree_map(jnp.asarray, GA.from_config(config).init(key, length=length))
  return generation_step(blank, problem, params, config=config, evaluate_fn=evaluate_fn)


@struct.dataclass
class EvolveResult:
  """Attributes: state (the final :class:`GAState`); best_history and mean_history ``(G + 1,)``;
  best_probability ``()``; importance ``(L,)``."""

  state: GAState
  best_history: jax.Array
  mean_history: jax.Array
  best_probability: jax.Array
  importance: jax.Array


def evolve(key: jax.Array, problem: Problem, params: GAParams, *, config: ELimeConfig, length: int,
           evaluate_fn: EvaluateFn) -> EvolveResult:
  """The initial population plus ``config.generations`` generations of :func:`generation_step`, traced."""
  if config.patience is not None:
    raise ValueError("evolve runs every generation; for patience use evojax_lime.Search")
  state = init_state(key, problem, params, config=config, length=length, evaluate_fn=evaluate_fn)

  def body(s, _):
    s = generation_step(s, problem, params, config=config, evaluate_fn=evaluate_fn)
    return s, (s.best_fitness, s.fitness.mean())

  final, (best, mean) = jax.lax.scan(body, state, None, length=config.generations)
  strategy = GA.from_config(config)
  return EvolveResult(state=final, best_history=jnp.concatenate([state.best_fitness[None], best]),
                      mean_history=jnp.concatenate([state.fitness.mean()[None], mean]),
                      best_probability=final.best_probability, importance=strategy.importance(final))
