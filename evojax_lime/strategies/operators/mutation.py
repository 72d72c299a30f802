"""Bit-flip mutation."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from evojax_lime.strategies.operators._genes import gene_uniform, valid_genes


def bit_flip_mutation(key: jax.Array, population: jax.Array, *, num_genes: jax.Array | int,
                      rate: jax.Array | float | None = None) -> jax.Array:
  """Flips each real gene independently with probability ``rate``.

  Args:
    key: PRNG key.
    population: ``(P, L)`` bool genomes.
    num_genes: K, the number of real genes; padding genes never flip.
    rate: per-gene flip probability; ``None`` means 1 / K.

  Returns:
    ``(P, L)`` bool mutated genomes.
  """
  _, draws = gene_uniform(key, *population.shape)
  return flip_genes(draws, population, num_genes=num_genes, rate=rate)


def flip_genes(draws: jax.Array, population: jax.Array, *, num_genes: jax.Array | int,
               rate: jax.Array | float | None = None) -> jax.Array:
  """:func:`bit_flip_mutation` on given ``(P, L)`` uniform [0, 1) draws."""
  per_gene = 1.0 / jnp.asarray(num_genes, jnp.float32)
  if rate is not None:
    per_gene = jnp.asarray(rate, jnp.float32)
  return population ^ ((draws < per_gene) & valid_genes(num_genes, population.shape[1]))
