"""Per-gene random draws that do not depend on the padded genome length.

Gene ``j`` of an individual draws from ``fold_in(key, j)``, so the draws for the K real genes are the same
whether the genome is padded to 64 or to 256 genes: padding never changes a result.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def gene_uniform(key: jax.Array, length: int) -> jax.Array:
  """Uniform [0, 1) draws, one per gene.

  Args:
    key: PRNG key of one individual.
    length: static genome length L.

  Returns:
    ``(L,)`` float32.
  """
  return jax.vmap(lambda j: jax.random.uniform(jax.random.fold_in(key, j)))(jnp.arange(length))


def valid_genes(num_genes: jax.Array, length: int) -> jax.Array:
  """``(L,)`` bool: True for the first ``num_genes`` (real) genes, False for the inert padding."""
  return jnp.arange(length) < num_genes


def per_individual(fn, key: jax.Array, *populations: jax.Array, **kwargs) -> jax.Array:
  """Applies ``fn(key_i, *rows_i, **kwargs)`` to every individual with its own key (vmapped)."""
  keys = jax.random.split(key, populations[0].shape[0])
  return jax.vmap(lambda k, *rows: fn(k, *rows, **kwargs))(keys, *populations)
