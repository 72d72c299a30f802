"""Elitist replacement."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _rank_key(fitness: jax.Array) -> jax.Array:
  return jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)


def elitist_replacement(parents: jax.Array, parent_fitness: jax.Array, offspring: jax.Array,
                        offspring_fitness: jax.Array, *, num_elite: int) -> tuple[jax.Array, jax.Array]:
  """The next generation: offspring, with its ``num_elite`` worst replaced by the best parents.

  The parents' fitness is already known, so elites cost no re-evaluation, and the best fitness of the
  population can never decrease.

  Args:
    parents: ``(P, L)`` genomes of the current generation.
    parent_fitness: ``(P,)``.
    offspring: ``(P, L)`` evaluated children.
    offspring_fitness: ``(P,)``.
    num_elite: static number of elites n (0 <= n < P).

  Returns:
    ``((P, L) genomes, (P,) fitness)``.
  """
  if num_elite == 0:
    return offspring, offspring_fitness
  _, elite = jax.lax.top_k(_rank_key(parent_fitness), num_elite)
  worst = jnp.argsort(_rank_key(offspring_fitness), stable=True)[:num_elite]
  return offspring.at[worst].set(parents[elite]), offspring_fitness.at[worst].set(parent_fitness[elite])


def best_index(fitness: jax.Array) -> jax.Array:
  """Index of the fittest individual (the first on ties; NaN counts as least fit)."""
  return jnp.argmax(_rank_key(fitness))
