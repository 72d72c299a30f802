"""Pareto E-LIME: NSGA-II (Deb et al., 2002) over superpixel masks as a strategy.

Two objectives: maximise p(target | kept superpixels) and minimise the number kept. Parents are picked by
binary tournaments on (rank, crowding), recombined and mutated with the GA's operators, and the merged
parents and children are cut back to P by rank, then crowding. What the user reads, the best genome of every
size, is the search's per-size archive, which the engine keeps for every strategy.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.strategies.base import Features
from evojax_lime.strategies.operators import bernoulli_init, bit_flip_mutation, crossover
from evojax_lime.strategies.operators.non_dominated import crowded_tournament, survivors

# Rows of the dominance matrix built at once: bounds its (rows, 2P, 2) comparison for large populations.
DOMINANCE_CHUNK = 512


@struct.dataclass
class NSGA2State:
  """Attributes:
    population: ``(P, L)`` bool current parents.
    probability: ``(P,)`` float32 their target probability (-inf before the first :meth:`NSGA2.tell`).
    kept: ``(P,)`` int32 their number of kept superpixels (L + 1 before the first tell).
    rank: ``(P,)`` int32 non-dominated front of each parent.
    crowding: ``(P,)`` float32 crowding distance within its front.
    generation: ``()`` int32 populations evaluated (0: the next ask returns the initial population).
    key: PRNG key for the next ask.
  """

  population: jax.Array
  probability: jax.Array
  kept: jax.Array
  rank: jax.Array
  crowding: jax.Array
  generation: jax.Array
  key: jax.Array


@dataclasses.dataclass(frozen=True)
class NSGA2:
  """NSGA-II's static options: the population size (crossover kind and rates come from the config)."""

  name: ClassVar[str] = "nsga2"
  options: ClassVar[frozenset[str]] = frozenset({"init_prob", "crossover", "crossover_rate", "mutation_rate"})
  features: ClassVar[Features] = Features(ranks_by_importance=True)  # a front: no single answer to choose
  population_size: int = 64
  crossover: str = "uniform"

  @classmethod
  def from_config(cls, config: ELimeConfig) -> "NSGA2":
    return cls(population_size=config.population_size, crossover=config.crossover)

  def init(self, key: jax.Array, *, length: int) -> NSGA2State:
    pop = self.population_size
    return NSGA2State(population=np.zeros((pop, length), bool), probability=np.full((pop,), -np.inf, np.float32),
                      kept=np.full((pop,), length + 1, np.int32), rank=np.zeros((pop,), np.int32),
                      crowding=np.zeros((pop,), np.float32), generation=np.int32(0), key=key)

  def own_params(self, rates: GAParams) -> GAParams:
    """The GA's rates (parsimony aside: the objectives are the probability and the size)."""
    return rates

  def ask(self, state: NSGA2State, *, num_genes: jax.Array, params: GAParams) -> tuple[NSGA2State, jax.Array]:
    pop, length = state.population.shape
    key, k_init, k_sel, k_cx, k_mut = jax.random.split(state.key, 5)

    def initial():
      return bernoulli_init(k_init, pop, length, num_genes=num_genes, p=params.init_prob)

    def children():
      parents = crowded_tournament(k_sel, state.rank, state.crowding, 2 * pop)
      kids = crossover(k_cx, state.population[parents[:pop]], state.population[parents[pop:]],
                       num_genes=num_genes, kind=self.crossover, rate=params.crossover_rate)
      rate = params.gene_mutation_rate(num_genes)
      return bit_flip_mutation(k_mut, kids, num_genes=num_genes, rate=rate)

    return state.replace(key=key), jax.lax.cond(state.generation == 0, initial, children)

  def tell(self, state: NSGA2State, candidates: jax.Array, fitness: jax.Array,
           probability: jax.Array) -> NSGA2State:
    del fitness  # the objectives are the probability and the size
    probability = jnp.where(jnp.isnan(probability), -jnp.inf, probability.astype(jnp.float32))
    kept = candidates.sum(-1).astype(jnp.int32)
    pop = jnp.concatenate([state.population, candidates])
    prob = jnp.concatenate([state.probability, probability])
    size = jnp.concatenate([state.kept, kept])
    objectives = jnp.stack([-prob, size.astype(jnp.float32)], axis=1)
    keep, rank, crowd = survivors(objectives, candidates.shape[0], chunk_size=DOMINANCE_CHUNK)
    return state.replace(population=pop[keep], probability=prob[keep], kept=size[keep], rank=rank,
                         crowding=crowd, generation=state.generation + 1)

  def best(self, state: NSGA2State) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The most probable parent (its fitness is its probability)."""
    i = jnp.argmax(state.probability)
    return state.population[i], state.probability[i], state.probability[i]

  def scores(self, state: NSGA2State) -> jax.Array:
    return state.probability

  def importance(self, state: NSGA2State) -> jax.Array:
    """``(L,)`` in [0, 1]: how often each gene is kept across the front (the parents of rank 0), each parent
    weighted by its p; what the curves rank the superpixels by."""
    weight = jnp.where((state.rank == 0) & jnp.isfinite(state.probability), state.probability, 0.0)
    kept = jnp.matmul(weight, state.population.astype(jnp.float32), precision=jax.lax.Precision.HIGHEST)
    return kept / jnp.maximum(weight.sum(), jnp.finfo(jnp.float32).tiny)
