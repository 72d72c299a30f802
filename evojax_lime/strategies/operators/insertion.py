"""Greedy seeding: each superpixel kept alone and removed alone, then greedy insertion, two superpixels a step.

The initial population holds the full image and, for each superpixel ``g``, the image with only ``g`` kept:
the probability each keeps alone ranks the superpixels by sufficiency. From then on a *chain* (the best mask
the greedy has found, starting with the best superpixel alone) grows: each population's first rows hold the
chain plus one, and plus two, of the ``m`` best-ranked superpixels it does not hold yet, and the chain moves
to the most probable of those rows (a lookahead of two, so the chain grows by two superpixels a population).
The second population's other rows hold the image without each superpixel in turn (the occlusion test of
Zeiler & Fergus, 2014: necessity), the third's the prefixes of the ranking those removals give (the top 1,
2, ... superpixels), so the GA, which breeds every remaining row, also starts from large masks. Every seeded
row is deterministic.

Why: a user reads the top 3 to 10 superpixels, and greedy insertion finds small sufficient masks in few
forwards; removals find the large masks that raise the probability most (``benchmarks/time_to_quality.py``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.strategies.operators._genes import valid_genes
from evojax_lime.strategies.operators.seeding import leave_one_out, ranked_prefixes

Rows = tuple[jax.Array, jax.Array]  # ((R, L) bool candidates, (R,) bool: seeded)


def kept_alone(num_genes: jax.Array, pop_size: int, length: int, generation: jax.Array | int = 0) -> Rows:
  """Row 0 keeps every real gene, row ``j >= 1`` gene ``j - 1`` alone: ``((P, L) bool candidates, (P,) bool)``,
  the rows that are seeded (row 0 and rows ``1..K``); arguments as for
  :func:`~evojax_lime.strategies.operators.seeding.leave_one_out`. Population ``generation`` g > 0 continues
  where the last stopped (row ``j >= 1`` keeps gene ``g (P - 1) + j - 1``; row 0 is not seeded), so a
  population smaller than K + 1 measures every gene over several populations."""
  rows = jnp.arange(pop_size)
  genes = jnp.arange(length)
  gene = generation * (pop_size - 1) + rows - 1
  out = jnp.where(rows[:, None] == 0, valid_genes(num_genes, length)[None, :], genes[None, :] == gene[:, None])
  return out, jnp.where(rows == 0, generation == 0, gene < num_genes)


def _measured(probability: jax.Array, at: int, real: jax.Array) -> tuple[jax.Array, jax.Array]:
  """``(L,)`` the probability of row ``at + g`` for each gene g, and where it was measured: a real gene with a
  row in the population and a finite value."""
  pop_size, genes = probability.shape[0], jnp.arange(real.shape[0])
  measured = probability[jnp.clip(at + genes, 0, pop_size - 1)]
  return measured, (at + genes >= 0) & (at + genes < pop_size) & real & jnp.isfinite(measured)


def alone_probability(probability: jax.Array, num_genes: jax.Array, length: int,
                      generation: jax.Array | int = 0) -> jax.Array:
  """``(L,)`` p(only gene g kept) from population ``generation`` built by :func:`kept_alone`, evaluated; genes
  without a row in it, padding and non-finite values get -inf."""
  offset = generation * (probability.shape[0] - 1)
  real = valid_genes(num_genes, length) & (jnp.arange(length) >= offset)
  measured, ok = _measured(probability, 1 - offset, real)
  return jnp.where(ok, measured, -jnp.inf)


def pool_size(pop_size: int) -> int:
  """Static m: the largest with its m + m (m - 1) / 2 insertion rows in a third of the population (6 at 64),
  so that the removals fit beside them and the GA keeps the rest later."""
  m = 0
  while (m + 1) * (m + 2) // 2 <= pop_size // 3:
    m += 1
  return m


def _insertion_count(pop_size: int) -> int:
  m = pool_size(pop_size)
  return m + m * (m - 1) // 2


def insertion_rows(chain: jax.Array, score: jax.Array, size: int) -> Rows:
  """The chain plus each, and each pair, of the ``size`` best-scored genes it does not hold.

  Args:
    chain: ``(L,)`` bool, the mask that grows.
    score: ``(L,)`` float32 ranking of the genes; -inf: never inserted (padding, unmeasured).
    size: static m.

  Returns:
    ``((R, L) bool, (R,) bool)`` with ``R = m + m (m - 1) / 2``: the m singles first (best first), then the
    pairs; a row is False where one of its genes is not available.
  """
  free = jnp.where(chain, -jnp.inf, score)
  k = min(size, chain.shape[0])
  _, pool = jax.lax.top_k(free, k)  # ties: the lower gene first
  ok = jnp.isfinite(free[pool])
  if k < size:  # more slots than genes (a population far larger than the genome): the rest are unavailable
    pool = jnp.concatenate([pool, jnp.zeros(size - k, pool.dtype)])
    ok = jnp.concatenate([ok, jnp.zeros(size - k, bool)])
  first, second = np.triu_indices(size, k=1)
  genes = jnp.arange(chain.shape[0])
  singles = chain[None, :] | (genes[None, :] == pool[:, None])
  pairs = singles[first] | singles[second]
  return jnp.concatenate([singles, pairs]), jnp.concatenate([ok, ok[first] & ok[second]])


def _placed(rows: Rows, at: int, pop_size: int) -> Rows:
  """``rows`` moved to population rows ``at, at + 1, ...`` (the others unseeded)."""
  candidates, ok = rows
  index = jnp.arange(pop_size) - at
  inside = (index >= 0) & (index < candidates.shape[0])
  index = jnp.clip(index, 0, candidates.shape[0] - 1)
  return candidates[index], ok[index] & inside


def greedy_rows(chain: jax.Array, alone: jax.Array, removal: jax.Array, num_genes: jax.Array,
                generation: jax.Array, pop_size: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The seeded rows of population ``generation >= 1``.

  Returns:
    ``((P, L) bool candidates, (P,) bool seeded, (P,) bool the rows that extend the chain)``.
  """
  length = chain.shape[0]
  at = _insertion_count(pop_size)
  extend = _placed(insertion_rows(chain, alone, pool_size(pop_size)), 0, pop_size)
  without, kept = leave_one_out(num_genes, pop_size - at + 1, length)  # row j >= 1: without gene j - 1
  second = _placed((without[1:], kept[1:] & (generation == 1)), at, pop_size)
  prefixes, kept = ranked_prefixes(removal, num_genes, max(pop_size - at, 1))
  third = _placed((prefixes, kept & (generation == 2)), at, pop_size)
  candidates = jnp.where(extend[1][:, None], extend[0], jnp.where(second[1][:, None], second[0], third[0]))
  return candidates, extend[1] | second[1] | third[1], extend[1]


def removal_score(candidates: jax.Array, probability: jax.Array) -> jax.Array:
  """``(L,)`` -p(image without gene g), from the second population of :func:`greedy_rows`, evaluated: the
  larger, the more the gene is needed; genes without a row, padding and non-finite values get -inf."""
  pop_size, length = candidates.shape
  at = _insertion_count(pop_size)
  if at >= pop_size:  # no room for removals
    return jnp.full((length,), -jnp.inf, jnp.float32)
  measured, ok = _measured(probability, at, candidates[at].at[0].set(True))  # row ``at``: all but gene 0
  return jnp.where(ok, -measured, -jnp.inf)


def chain_step(chain: jax.Array, alone: jax.Array, extends: jax.Array, candidates: jax.Array,
               probability: jax.Array, initial: jax.Array) -> jax.Array:
  """The chain after a population: the best gene alone after the initial one, then the most probable row
  that extended it (unchanged where none did)."""
  start = (jnp.arange(alone.shape[0]) == jnp.argmax(alone)) & jnp.isfinite(alone).any()
  extended = jnp.where(extends & jnp.isfinite(probability), probability, -jnp.inf)
  moved = jnp.where(jnp.isfinite(extended).any(), candidates[jnp.argmax(extended)], chain)
  return jnp.where(initial, start, moved)
