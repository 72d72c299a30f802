"""Elitist replacement, and the fittest genome a strategy keeps across its populations."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class BestSoFar:
  """The part of a strategy's state that keeps the fittest genome evaluated so far (:func:`best_so_far`).

  Attributes:
    best_genome: ``(L,)`` bool, the fittest genome evaluated so far.
    best_fitness: ``()`` float32 (-inf before the first population).
    best_probability: ``()`` float32 target probability of ``best_genome`` (NaN before).
    generation: ``()`` int32, populations evaluated (0: the next ``ask`` returns the initial population).
  """

  best_genome: jax.Array
  best_fitness: jax.Array
  best_probability: jax.Array
  generation: jax.Array

  @staticmethod
  def start(length: int) -> dict[str, Any]:
    """The fields before the first population (numpy), for a subclass's constructor: ``State(**start(L), ...)``."""
    return dict(best_genome=np.zeros((length,), bool), best_fitness=np.float32(-np.inf),
                best_probability=np.float32(np.nan), generation=np.int32(0))

  def best(self) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``((L,) genome, () fitness, () probability)``: the strategy's answer so far."""
    return self.best_genome, self.best_fitness, self.best_probability


def _rank_key(fitness: jax.Array) -> jax.Array:
  return jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)


def elitist_replacement(parents: Any, parent_fitness: jax.Array, offspring: Any, offspring_fitness: jax.Array, *,
                        num_elite: int) -> tuple[Any, jax.Array]:
  """The next generation: offspring, with its ``num_elite`` worst replaced by the best parents.

  The parents' fitness is already known, so elites cost no re-evaluation, and the best fitness of the
  population can never decrease.

  Args:
    parents: ``(P, L)`` genomes of the current generation, or any pytree of arrays with leading axis ``P``
      (for example genomes with their probabilities) that travels with them.
    parent_fitness: ``(P,)``.
    offspring: evaluated children, the same structure as ``parents``.
    offspring_fitness: ``(P,)``.
    num_elite: static number of elites n (0 <= n < P).

  Returns:
    ``(next generation (same structure as parents), (P,) fitness)``.
  """
  if num_elite == 0:
    return offspring, offspring_fitness
  _, elite = jax.lax.top_k(_rank_key(parent_fitness), num_elite)
  _, worst = jax.lax.top_k(-_rank_key(offspring_fitness), num_elite)  # ties: the lower index, as a stable sort
  replace = lambda o, p: o.at[worst].set(p[elite])
  return jax.tree_util.tree_map(replace, offspring, parents), replace(offspring_fitness, parent_fitness)


def best_index(fitness: jax.Array) -> jax.Array:
  """Index of the fittest individual (the first on ties; NaN counts as least fit)."""
  return jnp.argmax(_rank_key(fitness))


def best_so_far(state: BestSoFar, genomes: jax.Array, fitness: jax.Array,
                probability: jax.Array) -> dict[str, jax.Array]:
  """A strategy's ``best_genome``, ``best_fitness`` and ``best_probability`` after one more population.

  Args:
    state: the strategy's state before it (0 generations: nothing kept yet).
    genomes: ``(P, L)`` the population's genomes; ``fitness``, ``probability``: ``(P,)`` each.

  Returns:
    The three fields, the fittest of ``genomes`` where it beats the kept one (``state.replace(**...)``).
  """
  i = best_index(fitness)
  improved = (state.generation == 0) | (fitness[i] > state.best_fitness)
  return dict(best_genome=jnp.where(improved, genomes[i], state.best_genome),
              best_fitness=jnp.where(improved, fitness[i], state.best_fitness),
              best_probability=jnp.where(improved, probability[i], state.best_probability))
