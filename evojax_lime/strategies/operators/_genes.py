"""Random draws of the operators, one PRNG call per operator, that do not depend on the padded genome length.

Each operator draws all of its numbers with one ``jax.random.uniform`` call: every call is one threefry hash
in the compiled program (a loop of its own on a CPU, a tenth of a second of compile each), so a draw per gene
or per individual would multiply the compile time, not the randomness. Gene draws are laid out gene-major,
``(L, P)``: JAX's threefry is counter based (``jax_threefry_partitionable``, the default), so the draws of the
first K genes are the same whether the genome is padded to 64 or to 256 genes: padding never changes a result.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def gene_uniform(key: jax.Array, pop_size: int, length: int, *, leading: int = 0) -> tuple[jax.Array, jax.Array]:
  """Uniform [0, 1) draws: ``leading`` per individual, then one per gene of every individual.

  Args:
    key: PRNG key.
    pop_size: static population size P.
    length: static genome length L.
    leading: static number of per-individual draws before the gene draws (they come first, so the gene draws'
      places, and so their values, do not depend on L).

  Returns:
    ``((P, leading) per individual, (P, L) per gene)`` float32.
  """
  draws = jax.random.uniform(key, (leading + length, pop_size)).T
  return draws[:, :leading], draws[:, leading:]


def uniform_index(draws: jax.Array, n: jax.Array | int, *, low: jax.Array | int = 0) -> jax.Array:
  """Uniform [0, 1) draws -> int32 indices uniform in ``[low, n)`` (``n > low``)."""
  span = jnp.asarray(n, jnp.float32) - jnp.asarray(low, jnp.float32)
  return jnp.minimum(low + jnp.floor(draws * span).astype(jnp.int32), jnp.asarray(n, jnp.int32) - 1)


def valid_genes(num_genes: jax.Array, length: int) -> jax.Array:
  """``(L,)`` bool: True for the first ``num_genes`` (real) genes, False for the inert padding."""
  return jnp.arange(length) < num_genes
