"""Generations under ``lax.scan``, or a compiled while loop when stopping early."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.fitness import Problem
from evojax_lime.progress import reported
from evojax_lime.step import EvaluateFn, generation_step, init_state
from evojax_lime.state import GAState


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


def gene_importance(population: jax.Array, fitness: jax.Array) -> jax.Array:
  """``(L,)`` how often each gene is 1 in ``population`` ``(P, L)``, weighting individuals by fitness.

  Weights are fitness minus the population minimum, so the worst individual counts for nothing and an equal
  fitness everywhere gives the plain frequency.
  """
  fit = jnp.where(jnp.isfinite(fitness), fitness, jnp.nanmin(jnp.where(jnp.isfinite(fitness), fitness, jnp.nan)))
  w = fit - fit.min()
  w = jnp.where(w.sum() > 0, w, jnp.ones_like(w))
  return (w[:, None] * population.astype(jnp.float32)).sum(0) / w.sum()


def evolve(key: jax.Array, problem: Problem, params: GAParams, *, config: ELimeConfig, length: int,
           evaluate_fn: EvaluateFn, progress: bool = False) -> EvolveResult:
  """Initial population plus ``config.generations`` generations, all in one traced program.

  Args:
    key: PRNG key; the whole run is a function of it.
    problem: image, superpixels, fill and target.
    params: GA rates.
    config: static options (population size, generations, operators, patience).
    length: static genome length L.
    evaluate_fn: genomes -> fitness (see :mod:`evojax_lime.fitness`).
    progress: compile in host reports of the generations (see :mod:`evojax_lime.progress`).
  """
  state = init_state(key, problem, params, config=config, length=length, evaluate_fn=evaluate_fn)
  step = lambda s: generation_step(s, problem, params, config=config, evaluate_fn=evaluate_fn)
  gens = config.generations
  if progress:
    step = reported(step, state, total=gens)
  best = jnp.full((gens + 1,), jnp.nan, jnp.float32).at[0].set(state.best_fitness)
  mean = jnp.full((gens + 1,), jnp.nan, jnp.float32).at[0].set(state.fitness.mean())
  if config.patience is None:
    def scan_body(s, _):
      s = step(s)
      return s, (s.best_fitness, s.fitness.mean())
    state, (b, m) = jax.lax.scan(scan_body, state, None, length=gens)
    best, mean = best.at[1:].set(b), mean.at[1:].set(m)
  else:
    def loop_body(carry):
      s, b, m = carry
      s = step(s)
      return s, b.at[s.generation].set(s.best_fitness), m.at[s.generation].set(s.fitness.mean())
    keep_going = lambda carry: (carry[0].generation < gens) & (carry[0].stall < config.patience)
    state, best, mean = jax.lax.while_loop(keep_going, loop_body, (state, best, mean))
  _, best_prob = evaluate_fn(state.best_genome[None], problem, params)
  return EvolveResult(state=state, best_history=best, mean_history=mean, best_probability=best_prob[0],
                      importance=gene_importance(state.population, state.fitness))
