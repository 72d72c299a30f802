"""Bit-flip mutation."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from evojax_lime.strategies.operators._genes import gene_uniform, per_individual, valid_genes


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
  length = population.shape[1]
  per_gene = 1.0 / jnp.asarray(num_genes, jnp.float32)
  if rate is not None:
    per_gene = jnp.asarray(rate, jnp.float32)
  valid = valid_genes(num_genes, length)
  flip = lambda k, g: g ^ ((gene_uniform(k, length) < per_gene) & valid)
  return per_individual(flip, key, population)
