"""Bernoulli initialisation."""
from __future__ import annotations

import jax

from evojax_lime.strategies.operators._genes import gene_uniform, valid_genes


def bernoulli_init(key: jax.Array, pop_size: int, length: int, *, num_genes: jax.Array | int,
                   p: jax.Array | float = 0.5) -> jax.Array:
  """A random population where each real gene is 1 with probability ``p``.

  Args:
    key: PRNG key.
    pop_size: static population size P.
    length: static genome length L (K real genes, then inert padding).
    num_genes: K, the number of real genes (may be traced).
    p: probability of a 1.

  Returns:
    ``(P, L)`` bool; padding genes are always False.
  """
  _, draws = gene_uniform(key, pop_size, length)
  return bernoulli_genes(draws, num_genes=num_genes, p=p)


def bernoulli_genes(draws: jax.Array, *, num_genes: jax.Array | int, p: jax.Array | float = 0.5) -> jax.Array:
  """:func:`bernoulli_init` on given ``(P, L)`` uniform [0, 1) draws."""
  return (draws < p) & valid_genes(num_genes, draws.shape[1])
