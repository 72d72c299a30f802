"""Tournament selection."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from evojax_lime.strategies.operators._genes import uniform_index


def tournament_selection(key: jax.Array, fitness: jax.Array, num_selected: int, *, size: int = 3) -> jax.Array:
  """Indices of tournament winners.

  Each of the ``num_selected`` tournaments draws ``size`` individuals uniformly with replacement and keeps
  the fittest (NaN counts as least fit).

  Args:
    key: PRNG key.
    fitness: ``(P,)`` fitness of the current population.
    num_selected: static number of winners S.
    size: static tournament size.

  Returns:
    ``(S,)`` int32 indices into the population.
  """
  return tournament_winners(jax.random.uniform(key, (num_selected, size)), fitness)


def tournament_winners(draws: jax.Array, fitness: jax.Array) -> jax.Array:
  """:func:`tournament_selection` on given draws: ``(S, size)`` uniform [0, 1) -> ``(S,)`` int32 winners."""
  fit = jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)
  entrants = uniform_index(draws, fitness.shape[0])
  winner = jnp.argmax(fit[entrants], axis=1)
  return jnp.take_along_axis(entrants, winner[:, None], axis=1)[:, 0].astype(jnp.int32)
