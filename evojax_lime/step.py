"""One compiled generation: select -> crossover -> mutate -> mask -> classifier -> fitness -> elitism."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.fitness import Problem
from evojax_lime.operators import (bernoulli_init, best_index, bit_flip_mutation, crossover, elitist_replacement,
                                   tournament_selection)
from evojax_lime.state import GAState

# (genomes (P, L), problem, params) -> ((P,) fitness, (P,) target probability)
EvaluateFn = Callable[[jax.Array, Problem, GAParams], tuple[jax.Array, jax.Array]]


def init_state(key: jax.Array, problem: Problem, params: GAParams, *, config: ELimeConfig, length: int,
               evaluate_fn: EvaluateFn) -> GAState:
  """Random initial population (evaluated) for genomes of static length L = ``length``."""
  key, k_init = jax.random.split(key)
  population = bernoulli_init(k_init, config.population_size, length, num_genes=problem.num_genes,
                              p=params.init_prob)
  fitness, _ = evaluate_fn(population, problem, params)
  best = best_index(fitness)
  return GAState(population=population, fitness=fitness, best_genome=population[best], best_fitness=fitness[best],
                 generation=jnp.int32(0), stall=jnp.int32(0), key=key)


def generation_step(state: GAState, problem: Problem, params: GAParams, *, config: ELimeConfig,
                    evaluate_fn: EvaluateFn) -> GAState:
  """The next generation: P children from tournament-selected pairs, evaluated, with elitist replacement."""
  pop_size = config.population_size
  key, k_sel, k_cx, k_mut = jax.random.split(state.key, 4)
  parents = tournament_selection(k_sel, state.fitness, 2 * pop_size, size=config.tournament_size)
  children = crossover(k_cx, state.population[parents[:pop_size]], state.population[parents[pop_size:]],
                       num_genes=problem.num_genes, kind=config.crossover, rate=params.crossover_rate)
  children = bit_flip_mutation(k_mut, children, num_genes=problem.num_genes, rate=params.mutation_rate)
  child_fitness, _ = evaluate_fn(children, problem, params)
  population, fitness = elitist_replacement(state.population, state.fitness, children, child_fitness,
                                            num_elite=config.num_elite)
  best = best_index(fitness)
  improved = fitness[best] > state.best_fitness
  return GAState(population=population, fitness=fitness,
                 best_genome=jnp.where(improved, population[best], state.best_genome),
                 best_fitness=jnp.where(improved, fitness[best], state.best_fitness),
                 generation=state.generation + 1, stall=jnp.where(improved, 0, state.stall + 1), key=key)
