"""Pareto E-LIME: NSGA-II over superpixel masks as a pure ask/tell algorithm, plus a small compiled driver.

Two objectives: maximise p(target | kept superpixels) and minimise the number kept. Besides the population, the
state carries the front archive: for every size k = 0..L the best probability found with exactly k kept and its
genome, which is what a user reads after the run.

  state = init(key, population_size=P, length=L)
  state, genomes = ask(state, num_genes=K, params=params, config=config)   # generation 0: the initial population
  state = tell(state, genomes, probability, kept)                          # evaluated by the caller
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.evaluation.fitness import Problem
from evojax_lime.strategies.operators import bernoulli_init, bit_flip_mutation, crossover
from evojax_lime.strategies.operators.nsga2 import crowded_tournament, survivors
from evojax_lime.strategies.ga import EvaluateFn

# Rows of the dominance matrix built at once: bounds its (rows, 2P, 2) comparison for large populations.
DOMINANCE_CHUNK = 512


@struct.dataclass
class ParetoState:
  """Attributes:
    population: ``(P, L)`` bool current parents.
    probability: ``(P,)`` float32 their target probability (-inf before the first :func:`tell`).
    kept: ``(P,)`` int32 their number of kept superpixels (L + 1 before the first :func:`tell`).
    rank: ``(P,)`` int32 non-dominated front of each parent.
    crowding: ``(P,)`` float32 crowding distance within its front.
    front_probability: ``(L + 1,)`` float32 best probability found with exactly k kept (-inf: none yet).
    front_genome: ``(L + 1, L)`` bool the genome that reached it.
    generation: ``()`` int32 populations evaluated so far (0: :func:`ask` returns the initial population).
    key: PRNG key for the next :func:`ask`.
  """

  population: jax.Array
  probability: jax.Array
  kept: jax.Array
  rank: jax.Array
  crowding: jax.Array
  front_probability: jax.Array
  front_genome: jax.Array
  generation: jax.Array
  key: jax.Array


def init(key: jax.Array, *, population_size: int, length: int) -> ParetoState:
  """An empty state: placeholder parents that every evaluated genome dominates, and an empty archive."""
  return ParetoState(population=jnp.zeros((population_size, length), bool),
                     probability=jnp.full((population_size,), -jnp.inf, jnp.float32),
                     kept=jnp.full((population_size,), length + 1, jnp.int32),
                     rank=jnp.zeros((population_size,), jnp.int32),
                     crowding=jnp.zeros((population_size,), jnp.float32),
                     front_probability=jnp.full((length + 1,), -jnp.inf, jnp.float32),
                     front_genome=jnp.zeros((length + 1, length), bool), generation=jnp.int32(0), key=key)


def ask(state: ParetoState, *, num_genes: jax.Array | int, params: GAParams,
        config: ELimeConfig) -> tuple[ParetoState, jax.Array]:
  """The genomes to evaluate next: the initial population at generation 0, afterwards P children of parents
  picked by binary tournaments on (rank, crowding), recombined and mutated with the GA's operators.

  Returns:
    ``(state with a fresh key, (P, L) bool genomes)``; padding genes are always False.
  """
  pop_size, length = state.population.shape
  key, k_init, k_sel, k_cx, k_mut = jax.random.split(state.key, 5)

  def initial():
    return bernoulli_init(k_init, pop_size, length, num_genes=num_genes, p=params.init_prob)

  def children():
    parents = crowded_tournament(k_sel, state.rank, state.crowding, 2 * pop_size)
    kids = crossover(k_cx, state.population[parents[:pop_size]], state.population[parents[pop_size:]],
                     num_genes=num_genes, kind=config.crossover, rate=params.crossover_rate)
    return bit_flip_mutation(k_mut, kids, num_genes=num_genes, rate=params.mutation_rate)

  genomes = jax.lax.cond(state.generation == 0, initial, children)
  return state.replace(key=key), genomes


def _update_front(state: ParetoState, genomes: jax.Array, probability: jax.Array,
                  kept: jax.Array) -> tuple[jax.Array, jax.Array]:
  sizes = jnp.arange(state.front_probability.shape[0])
  at_size = jnp.where(kept[:, None] == sizes[None, :], probability[:, None], -jnp.inf)  # (P, L + 1)
  best = jnp.argmax(at_size, axis=0)
  best_p = at_size[best, sizes]
  better = best_p > state.front_probability  # strict: the first genome to reach a value keeps it
  return (jnp.where(better, best_p, state.front_probability),
          jnp.where(better[:, None], genomes[best], state.front_genome))


def tell(state: ParetoState, genomes: jax.Array, probability: jax.Array, kept: jax.Array) -> ParetoState:
  """Merges the evaluated genomes with the parents (2P -> P by rank, then crowding) and updates the archive.

  Args:
    state: the state :func:`ask` returned.
    genomes: ``(P, L)`` bool, as asked.
    probability: ``(P,)`` float32 target probability of each (NaN counts as the worst).
    kept: ``(P,)`` int32 kept superpixels of each.
  """
  probability = jnp.where(jnp.isnan(probability), -jnp.inf, probability.astype(jnp.float32))
  kept = kept.astype(jnp.int32)
  front_p, front_g = _update_front(state, genomes, probability, kept)
  pop = jnp.concatenate([state.population, genomes])
  prob = jnp.concatenate([state.probability, probability])
  size = jnp.concatenate([state.kept, kept])
  objectives = jnp.stack([-prob, size.astype(jnp.float32)], axis=1)
  keep, rank, crowd = survivors(objectives, genomes.shape[0], chunk_size=DOMINANCE_CHUNK)
  return state.replace(population=pop[keep], probability=prob[keep], kept=size[keep], rank=rank, crowding=crowd,
                       front_probability=front_p, front_genome=front_g, generation=state.generation + 1)


@struct.dataclass
class FrontResult:
  """Attributes:
    state: the final :class:`ParetoState` (its archive is the front).
    front_history: ``(G + 1, L + 1)`` float32 the archive's best probability per size after each population.
    mean_history: ``(G + 1,)`` float32 mean probability of the parents after each population.
  """

  state: ParetoState
  front_history: jax.Array
  mean_history: jax.Array


def evolve_front(key: jax.Array, problem: Problem, params: GAParams, *, config: ELimeConfig, length: int,
                 evaluate_fn: EvaluateFn) -> FrontResult:
  """The initial population plus ``config.generations`` generations of ask -> evaluate -> tell, under ``lax.scan``.

  Costs ``config.num_evaluations`` classifier evaluations. ``params.parsimony`` should be 0 so the probabilities
  ``evaluate_fn`` returns are p itself (only its second output, the probability, is used).
  """
  state = init(key, population_size=config.population_size, length=length)

  def body(s, _):
    s, genomes = ask(s, num_genes=problem.num_genes, params=params, config=config)
    _, prob = evaluate_fn(genomes, problem, params)
    s = tell(s, genomes, prob, genomes.sum(1).astype(jnp.int32))
    return s, (s.front_probability, s.probability.mean())

  state, (history, mean) = jax.lax.scan(body, state, None, length=config.generations + 1)
  return FrontResult(state=state, front_history=history, mean_history=mean)
