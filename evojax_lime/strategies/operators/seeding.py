"""Occlusion seeding: a deterministic start that ranks the superpixels before the GA searches.

The initial population holds the full image and, for each superpixel ``g``, the image without it (the
occlusion test of Zeiler & Fergus, 2014); the drop in the target's probability ranks the superpixels. The
second population holds the ranking's prefixes: the top 1, 2, ... superpixels kept. These candidates give the
probability-vs-size curve a good mask of every size after two populations, and the GA starts from them.
Rows beyond K (or beyond what the population holds) stay the GA's own random or bred candidates.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from evojax_lime.strategies.operators._genes import valid_genes


def leave_one_out(num_genes: jax.Array, pop_size: int, length: int) -> tuple[jax.Array, jax.Array]:
  """Row 0 keeps every real gene, row ``j >= 1`` every real gene but gene ``j - 1``.

  Args:
    num_genes: K real genes (may be traced).
    pop_size: static P.
    length: static L.

  Returns:
    ``((P, L) bool candidates, (P,) bool)``: the rows that are seeded (row 0 and rows ``1..K``).
  """
  valid = valid_genes(num_genes, length)
  rows = jnp.arange(pop_size)
  out = valid[None, :] & (jnp.arange(length)[None, :] != rows[:, None] - 1)
  return out, rows <= num_genes


def occlusion_drop(population: jax.Array, probability: jax.Array, num_genes: jax.Array) -> jax.Array:
  """``(L,)`` p(full) - p(without gene g) from a population built by :func:`leave_one_out`, evaluated; genes
  that had no row of their own (K >= P) and padding get 0 and -inf."""
  pop_size, length = population.shape
  genes = jnp.arange(length)
  measured = jnp.where(genes + 1 < pop_size, probability[jnp.minimum(genes + 1, pop_size - 1)], probability[0])
  drop = probability[0] - measured
  return jnp.where(valid_genes(num_genes, length), jnp.nan_to_num(drop, nan=0.0), -jnp.inf)


def ranked_prefixes(drop: jax.Array, num_genes: jax.Array, pop_size: int) -> tuple[jax.Array, jax.Array]:
  """Row ``j`` keeps the ``j + 1`` genes of largest ``drop`` (ties: the lower gene first).

  Returns:
    ``((P, L) bool, (P,) bool)``: the rows that are seeded (``j + 1 < K``: the full image is not repeated).
  """
  length = drop.shape[0]
  # Each gene's place in that order, counted: half the compile of a sort and a scatter.
  genes = jnp.arange(length)
  ahead = (drop[None, :] > drop[:, None]) | ((drop[None, :] == drop[:, None]) & (genes[None, :] < genes[:, None]))
  rank = ahead.sum(1, dtype=jnp.int32)
  rows = jnp.arange(pop_size)
  out = (rank[None, :] <= rows[:, None]) & valid_genes(num_genes, length)[None, :]
  return out, rows + 1 < num_genes
