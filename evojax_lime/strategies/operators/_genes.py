"""Random draws of the operators, one PRNG call per operator, that do not depend on the padded genome length.

Each operator draws all of its numbers with one ``jax.random.uniform`` call: every call is one threefry hash
in the compiled program (a loop of its own on a CPU, a tenth of a second of compile each), so a draw per gene
or per individual would multiply the compile time, not the randomness. Gene draws are laid out gene-major,
``(L, P)``: JAX's threefry is counter based (``jax_threefry_partitionable``, the default), so the draws of the
first K genes are the same whether the genome is padded to 64 or to 256 genes: padding never changes a result.
A strategy that needs several operators in one step draws for all of them, and its next key, with one call
(:func:`step_draws`).
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


def step_draws(key: jax.Array, pop_size: int, length: int, *, leading: int,
               per_gene: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The next key and every uniform [0, 1) draw of one step, from one threefry call.

  The call's first counters give the next key, the rest the draws, laid out as :func:`gene_uniform`'s:
  ``leading`` rows per individual, then ``per_gene`` rows per gene, gene-major, so the draws of the first K
  genes do not depend on L. Each draw takes the top 23 bits of its word, as ``jax.random.uniform`` does.

  Args:
    key: PRNG key (raw ``(2,)`` uint32 or typed).
    pop_size: static population size P.
    length: static genome length L.
    leading: static number of per-individual draws.
    per_gene: static number of draws per gene of every individual.

  Returns:
    ``(next key (like key), (P, leading) per individual, (per_gene, P, L) per gene)``.
  """
  typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
  words = (jax.random.key_data(key) if typed else key).shape[-1]
  bits = jax.random.bits(key, (words + (leading + per_gene * length) * pop_size,))
  next_key = jax.random.wrap_key_data(bits[:words], impl=jax.random.key_impl(key)) if typed else bits[:words]
  one = jnp.asarray(1.0, jnp.float32)
  draws = jax.lax.bitcast_convert_type((bits[words:] >> 9) | jax.lax.bitcast_convert_type(one, jnp.uint32),
                                       jnp.float32) - one
  per_individual = draws[:leading * pop_size].reshape(leading, pop_size).T
  genes = draws[leading * pop_size:].reshape(length, per_gene, pop_size).transpose(1, 2, 0)
  return next_key, per_individual, genes


def uniform_index(draws: jax.Array, n: jax.Array | int, *, low: jax.Array | int = 0) -> jax.Array:
  """Uniform [0, 1) draws -> int32 indices uniform in ``[low, n)`` (``n > low``)."""
  span = jnp.asarray(n, jnp.float32) - jnp.asarray(low, jnp.float32)
  return jnp.minimum(low + jnp.floor(draws * span).astype(jnp.int32), jnp.asarray(n, jnp.int32) - 1)


def valid_genes(num_genes: jax.Array, length: int) -> jax.Array:
  """``(L,)`` bool: True for the first ``num_genes`` (real) genes, False for the inert padding."""
  return jnp.arange(length) < num_genes
