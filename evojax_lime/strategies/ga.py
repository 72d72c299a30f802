"""E-LIME's genetic algorithm (Wang et al., 2022) as a strategy: tournament selection, crossover, bit-flip
mutation and elitist replacement, maximising p(target | kept) - parsimony * kept / K."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from evojax_lime.config import DEFAULT_SIZES, ELimeConfig, GAParams
from evojax_lime.strategies.base import Features
from evojax_lime.strategies.importance import gene_importance
from evojax_lime.strategies.operators import (BestSoFar, alone_probability, bernoulli_genes, best_so_far,
                                              chain_step, elitist_replacement, flip_genes, greedy_rows, kept_alone,
                                              leave_one_out, occlusion_drop, ranked_prefixes, recombine,
                                              removal_score, step_draws, tournament_winners)
from evojax_lime.strategies.operators.exchange import (alone_populations, incumbent_step, size_blocks, size_prefixes,
                                                       size_rows)


@struct.dataclass
class GAState(BestSoFar):
  """The GA of one row: the fittest genome so far (:class:`BestSoFar`), and:

  Attributes:
    population: ``(P, L)`` bool genomes.
    fitness: ``(P,)`` float32.
    probability: ``(P,)`` float32 target probability of each genome.
    key: PRNG key for the next ``ask``.
    alone: ``(L,)`` float32, greedy seeding: p(only gene g kept) (-inf: not measured).
    removal: ``(L,)`` float32, greedy seeding: -p(image without gene g) (-inf: not measured).
    chain: ``(L,)`` bool, greedy seeding: the mask that grows by insertion.
    inserted: ``(P,)`` bool, greedy seeding: the candidates of the last ``ask`` that extend the chain.
    num_genes: ``()`` int32, K (set by ``ask``).
    incumbent: ``(S, L)`` bool, sizes seeding: the most probable mask of each size evaluated so far.
    incumbent_p: ``(S,)`` float32, its probability (-inf: not evaluated).
    cursor: ``(S,)`` int32, sizes seeding: each incumbent's next exchange move.
    tabu: ``(S,)`` int32, sizes seeding: the gene each incumbent's last move dropped (-1: none).
  """

  population: jax.Array
  fitness: jax.Array
  probability: jax.Array
  key: jax.Array
  alone: jax.Array
  removal: jax.Array
  chain: jax.Array
  inserted: jax.Array
  num_genes: jax.Array
  incumbent: jax.Array
  incumbent_p: jax.Array
  cursor: jax.Array
  tabu: jax.Array


def _seeded(seeds: tuple[jax.Array, jax.Array], population: jax.Array) -> jax.Array:
  """The seeded rows of ``seeds = (candidates, rows)``, ``population``'s elsewhere."""
  candidates, rows = seeds
  return jnp.where(rows[:, None], candidates, population)


@dataclasses.dataclass(frozen=True)
class GA:
  """The genetic algorithm's static options (see :class:`~evojax_lime.config.ELimeConfig`)."""

  name: ClassVar[str] = "ga"
  options: ClassVar[frozenset[str]] = frozenset(
      {"init_prob", "tournament_size", "crossover", "crossover_rate", "mutation_rate", "num_elite", "parsimony",
       "seeding", "sizes", "prune"})
  features: ClassVar[Features] = Features(answer_rule=True, patience=True, restarts=True)
  population_size: int = 64
  tournament_size: int = 3
  crossover: str = "uniform"
  num_elite: int = 2
  seeding: str = "greedy"
  sizes: tuple[int, ...] = DEFAULT_SIZES

  @classmethod
  def from_config(cls, config: ELimeConfig) -> "GA":
    return cls(population_size=config.population_size, tournament_size=config.tournament_size,
               crossover=config.crossover, num_elite=config.num_elite, seeding=config.seeding, sizes=config.sizes)

  def init(self, key: jax.Array, *, length: int) -> GAState:
    pop = self.population_size
    return GAState(**BestSoFar.start(length), population=np.zeros((pop, length), bool),
                   fitness=np.full((pop,), -np.inf, np.float32), probability=np.zeros((pop,), np.float32), key=key,
                   alone=np.full((length,), -np.inf, np.float32), removal=np.full((length,), -np.inf, np.float32),
                   chain=np.zeros((length,), bool),
                   inserted=np.zeros((pop,), bool), num_genes=np.int32(0),
                   incumbent=np.zeros((len(self.sizes), length), bool),
                   incumbent_p=np.full((len(self.sizes),), -np.inf, np.float32),
                   cursor=np.zeros((len(self.sizes),), np.int32), tabu=np.full((len(self.sizes),), -1, np.int32))

  def own_params(self, rates: GAParams) -> GAParams:
    return rates

  def ask(self, state: GAState, *, num_genes: jax.Array, params: GAParams) -> tuple[GAState, jax.Array]:
    pop, length, size = self.population_size, state.population.shape[1], self.tournament_size
    # Every draw of the step and the next key from one PRNG call (each call is a threefry loop of its own in the
    # program): per individual, its two tournaments' entrants and its crossover's three numbers; per gene, the
    # crossover's and the mutation's (the initial population reads the latter).
    key, per_individual, (cx_genes, gene_draws) = step_draws(state.key, pop, length, leading=2 * size + 3,
                                                             per_gene=2)

    def initial():
      population = bernoulli_genes(gene_draws, num_genes=num_genes, p=params.init_prob)
      if self.seeding == "occlusion":
        population = _seeded(leave_one_out(num_genes, pop, length), population)
      elif self.seeding in ("greedy", "sizes"):
        population = _seeded(kept_alone(num_genes, pop, length), population)
      return population, state.inserted, state

    def offspring():
      entrants = per_individual[:, :2 * size].reshape(pop, 2, size).transpose(1, 0, 2).reshape(2 * pop, size)
      parents = tournament_winners(entrants, state.fitness)
      children = recombine(per_individual[:, 2 * size:], cx_genes, state.population[parents[:pop]],
                           state.population[parents[pop:]], num_genes=num_genes, kind=self.crossover,
                           rate=params.crossover_rate)
      children = flip_genes(gene_draws, children, num_genes=num_genes, rate=params.gene_mutation_rate(num_genes))
      if self.seeding == "occlusion":  # the second population: prefixes of the occlusion ranking
        drop = occlusion_drop(state.population, state.probability, num_genes)
        prefixes, seeded = ranked_prefixes(drop, num_genes, pop)
        children = jnp.where(state.generation == 1, _seeded((prefixes, seeded), children), children)
      inserted = jnp.zeros_like(state.inserted)
      if self.seeding == "greedy":  # the chain plus one or two; then the removals and their ranking's prefixes
        seeds, seeded, inserted = greedy_rows(state.chain, state.alone, state.removal, num_genes,
                                              state.generation, pop)
        children = _seeded((seeds, seeded), children)
      told = state
      if self.seeding == "sizes":  # singles until every gene was kept alone, then each size's block of moves
        children, told = self._sizes_rows(state, children, num_genes)
      return children, inserted, told

    population, inserted, state = jax.lax.cond(state.generation == 0, initial, offspring)
    return state.replace(key=key, inserted=inserted, num_genes=jnp.asarray(num_genes, jnp.int32)), population

  def _sizes_rows(self, state: GAState, children: jax.Array, num_genes: jax.Array) -> tuple[jax.Array, GAState]:
    """Seeding ``"sizes"``: the alone rows of the population, or the sizes' blocks (see
    :mod:`~evojax_lime.strategies.operators.exchange`); the incumbents start when the alone phase ends."""
    length = children.shape[1]
    fresh = state.generation == alone_populations(num_genes, self.population_size)
    incumbent = jnp.where(fresh, size_prefixes(state.alone, self.sizes, num_genes), state.incumbent)
    state = state.replace(incumbent=incumbent, incumbent_p=jnp.where(fresh, -jnp.inf, state.incumbent_p),
                          cursor=jnp.where(fresh, 0, state.cursor), tabu=jnp.where(fresh, -1, state.tabu))
    alone = kept_alone(num_genes, self.population_size, length, state.generation)
    sized = size_rows(state.incumbent, state.cursor, state.tabu, fresh, state.alone, self.sizes, num_genes,
                      self.population_size)
    rows = jax.tree_util.tree_map(
        lambda a, b: jnp.where(state.generation < alone_populations(num_genes, self.population_size), a, b),
        alone, sized)
    return _seeded(rows, children), state

  def tell(self, state: GAState, candidates: jax.Array, fitness: jax.Array, probability: jax.Array) -> GAState:
    initial = state.generation == 0
    (population, prob), fit = elitist_replacement((state.population, state.probability), state.fitness,
                                                  (candidates, probability), fitness, num_elite=self.num_elite)
    population, prob, fit = (jnp.where(initial, new, old) for new, old in
                             ((candidates, population), (probability, prob), (fitness, fit)))
    alone, removal, chain = state.alone, state.removal, state.chain
    if self.seeding == "greedy":
      measured = alone_probability(probability, candidates[0].sum(), candidates.shape[1])  # row 0: the full image
      alone = jnp.where(initial, measured, alone)
      removal = jnp.where(state.generation == 1, removal_score(candidates, probability), removal)
      chain = chain_step(chain, alone, state.inserted, candidates, probability, initial)
    incumbent, incumbent_p, cursor, tabu = state.incumbent, state.incumbent_p, state.cursor, state.tabu
    if self.seeding == "sizes":
      alone = jnp.maximum(alone, alone_probability(probability, state.num_genes, candidates.shape[1],
                                                   state.generation))
      first = alone_populations(state.num_genes, self.population_size)
      consumed = (size_blocks(self.sizes, state.num_genes, self.population_size)
                  - (state.generation == first).astype(jnp.int32))
      stepped = incumbent_step(incumbent, incumbent_p, cursor, tabu, consumed, candidates, probability, self.sizes)
      incumbent, incumbent_p, cursor, tabu = (jnp.where(state.generation >= first, new, old) for new, old in
                                              zip(stepped, (incumbent, incumbent_p, cursor, tabu)))
    return state.replace(population=population, fitness=fit, probability=prob, alone=alone, removal=removal,
                         chain=chain, incumbent=incumbent, incumbent_p=incumbent_p, cursor=cursor, tabu=tabu,
                         **best_so_far(state, population, fit, prob), generation=state.generation + 1)

  def best(self, state: GAState) -> tuple[jax.Array, jax.Array, jax.Array]:
    return state.best()

  def scores(self, state: GAState) -> jax.Array:
    return state.fitness

  def importance(self, state: GAState) -> jax.Array:
    return gene_importance(state.population, state.fitness)
