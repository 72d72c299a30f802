"""One generation of the GA as ask/tell: propose candidates, evaluate them, accept them into the state.

:func:`init_state` and :func:`generation_step` are the pure building blocks for a caller who drives the loop
(with any ``evaluate_fn``); the compiled programs run the same :func:`propose` and :func:`accept` for a batch
of images, with one flat evaluation of every image's candidates in between (:mod:`evojax_lime.engine.loop`).
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.evaluation.fitness import Problem
from evojax_lime.strategies.operators import (bernoulli_init, best_index, bit_flip_mutation, crossover, elitist_replacement,
                                   tournament_selection, valid_genes)
from evojax_lime.engine.state import GAState

# (genomes (P, L), problem, params) -> ((P,) fitness, (P,) target probability)
EvaluateFn = Callable[[jax.Array, Problem, GAParams], tuple[jax.Array, jax.Array]]


def blank_states(keys: Any, *, config: ELimeConfig, length: int) -> GAState:
  """The states of ``B`` images before their initial populations are evaluated (``generation == -1``).

  Built with numpy (``keys`` ``(B, 2)`` aside, which may be traced), so that starting a run dispatches no JAX
  operation of its own.
  """
  n, pop = keys.shape[0], config.population_size
  return GAState(population=np.zeros((n, pop, length), bool), fitness=np.full((n, pop), -np.inf, np.float32),
                 probability=np.zeros((n, pop), np.float32), best_genome=np.zeros((n, length), bool),
                 best_fitness=np.full((n,), -np.inf, np.float32), best_probability=np.full((n,), np.nan, np.float32),
                 generation=np.full((n,), -1, np.int32), stall=np.zeros((n,), np.int32), key=keys)


def blank_state(key: jax.Array, *, config: ELimeConfig, length: int) -> GAState:
  """The state of one image before its initial population is evaluated."""
  return jax.tree_util.tree_map(lambda x: x[0], blank_states(key[None], config=config, length=length))


def initial_population(key: jax.Array, problem: Problem, params: GAParams, *, config: ELimeConfig,
                       length: int) -> jax.Array:
  """``(P, L)`` Bernoulli genomes; individual 0 keeps every superpixel.

  Individual 0 is the full image: its verdict gives the reference probability (and the top-1 target) from the
  same evaluation as the rest of the population, and the trivial explanation is a fair starting point.
  """
  population = bernoulli_init(key, config.population_size, length, num_genes=problem.num_genes, p=params.init_prob)
  return population.at[0].set(valid_genes(problem.num_genes, length))


def offspring(state: GAState, problem: Problem, params: GAParams, *, config: ELimeConfig) -> tuple[jax.Array, jax.Array]:
  """``(next key, (P, L) children)`` from tournament-selected pairs, crossover and mutation."""
  pop_size = config.population_size
  key, k_sel, k_cx, k_mut = jax.random.split(state.key, 4)
  parents = tournament_selection(k_sel, state.fitness, 2 * pop_size, size=config.tournament_size)
  children = crossover(k_cx, state.population[parents[:pop_size]], state.population[parents[pop_size:]],
                       num_genes=problem.num_genes, kind=config.crossover, rate=params.crossover_rate)
  return key, bit_flip_mutation(k_mut, children, num_genes=problem.num_genes, rate=params.mutation_rate)


def propose(state: GAState, problem: Problem, params: GAParams, *, config: ELimeConfig,
            initial: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Ask: ``(next key, (P, L) candidates)``, the initial population when ``initial`` else children."""
  length = state.population.shape[1]

  def first():
    key, k_init = jax.random.split(state.key)
    return key, initial_population(k_init, problem, params, config=config, length=length)

  return jax.lax.cond(initial, first, lambda: offspring(state, problem, params, config=config))


def accept(state: GAState, key: jax.Array, candidates: jax.Array, fitness: jax.Array, probability: jax.Array, *,
           config: ELimeConfig) -> GAState:
  """Tell: the evaluated candidates become the population (elitist replacement after the first)."""
  initial = state.generation < 0
  (population, prob), fit = elitist_replacement((state.population, state.probability), state.fitness,
                                                (candidates, probability), fitness, num_elite=config.num_elite)
  population, prob, fit = (jnp.where(initial, new, old) for new, old in
                           ((candidates, population), (probability, prob), (fitness, fit)))
  best = best_index(fit)
  improved = initial | (fit[best] > state.best_fitness)
  return GAState(population=population, fitness=fit, probability=prob,
                 best_genome=jnp.where(improved, population[best], state.best_genome),
                 best_fitness=jnp.where(improved, fit[best], state.best_fitness),
                 best_probability=jnp.where(improved, prob[best], state.best_probability),
                 generation=state.generation + 1, stall=jnp.where(improved, 0, state.stall + 1), key=key)


def init_state(key: jax.Array, problem: Problem, params: GAParams, *, config: ELimeConfig, length: int,
               evaluate_fn: EvaluateFn) -> GAState:
  """The initial population (evaluated) for genomes of static length L = ``length``."""
  blank = jax.tree_util.tree_map(jnp.asarray, blank_state(key, config=config, length=length))
  return generation_step(blank, problem, params, config=config, evaluate_fn=evaluate_fn)


def generation_step(state: GAState, problem: Problem, params: GAParams, *, config: ELimeConfig,
                    evaluate_fn: EvaluateFn) -> GAState:
  """The next generation (the initial population for a blank state): propose, evaluate, accept."""
  key, candidates = propose(state, problem, params, config=config, initial=state.generation < 0)
  fitness, probability = evaluate_fn(candidates, problem, params)
  return accept(state, key, candidates, fitness, probability, config=config)
