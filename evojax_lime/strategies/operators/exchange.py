"""Exchange moves at fixed sizes: a search that spends its forwards on the mask sizes a user reads.

Each superpixel is first kept alone (:func:`~evojax_lime.strategies.operators.insertion.kept_alone`, over as
many populations as K needs). Then each size k asked for holds an *incumbent*, the most probable mask of
exactly k superpixels evaluated so far, starting from the k superpixels most probable alone; every population
gives each size a block of rows with the incumbent's next exchange moves (one kept superpixel swapped for one
dropped), and the incumbent moves to the most probable mask of its size whenever one beats it (a local search
that takes the best of each block). Moves are listed by the sum of two ranks, the kept superpixel's (weakest
alone first) and the dropped one's (strongest alone first), so the likeliest swaps come first, and each list is
walked once per incumbent: no move is evaluated twice, and the superpixel a move just dropped is not brought
back. Every row is deterministic.

Why: a user reads the top 3 to 10 superpixels (lime's ``num_features``); a GA pulled by parsimony and the
answer rule spends its later forwards elsewhere (``benchmarks/time_to_quality.py``).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.strategies.operators._genes import valid_genes
from evojax_lime.strategies.operators.seeding import ranked_prefixes

Rows = tuple[jax.Array, jax.Array]  # ((R, L) bool candidates, (R,) bool: seeded)


def alone_populations(num_genes: jax.Array, pop_size: int) -> jax.Array:
  """``()`` populations that keep each of K superpixels alone, ``P - 1`` a population: ceil(K / (P - 1))."""
  return (num_genes + pop_size - 2) // (pop_size - 1)


def size_prefixes(score: jax.Array, sizes: tuple[int, ...], num_genes: jax.Array) -> jax.Array:
  """``(S, L)`` bool: for each size k, the k genes of largest ``score`` (ties: the lower gene first)."""
  prefixes, _ = ranked_prefixes(score, num_genes, max(sizes))
  return prefixes[np.asarray(sizes) - 1]


@functools.lru_cache(maxsize=None)
def _move_order(length: int) -> tuple[np.ndarray, np.ndarray]:
  """Static ``(L * L,)`` pairs (i, j) by ``i + j``, then ``j``: i ranks the kept gene, j the dropped one."""
  i, j = (a.ravel() for a in np.meshgrid(np.arange(length), np.arange(length), indexing="ij"))
  order = np.lexsort((j, i + j))
  return i[order].astype(np.int32), j[order].astype(np.int32)


def _ranked(eligible: jax.Array, key: jax.Array) -> jax.Array:
  """``(L,)`` the genes, eligible ones first by decreasing ``key`` (ties: the lower gene first)."""
  finite = jnp.nan_to_num(key, nan=-3e38, neginf=-3e38, posinf=3e38)
  return jnp.argsort(-jnp.where(eligible, finite, -jnp.inf), stable=True)


def exchange_moves(incumbent: jax.Array, score: jax.Array, first: jax.Array, count: int, num_genes: jax.Array,
                   tabu: jax.Array) -> Rows:
  """Moves ``first .. first + count - 1`` of ``incumbent``'s exchange list (see the module docstring).

  Args:
    incumbent: ``(L,)`` bool, the mask whose moves are listed.
    score: ``(L,)`` float32 ranking of the genes (p kept alone; -inf: unmeasured, ranked last).
    first: ``()`` int32 index of the first move (negative indices give no move).
    count: static number of moves R.
    num_genes: K real genes (may be traced).
    tabu: ``()`` int32, a gene that is not brought back (-1: none).

  Returns:
    ``((R, L) bool, (R,) bool)``: the moved masks, and which moves exist (beyond the list's end: none).
  """
  length = incumbent.shape[0]
  genes = jnp.arange(length)
  free = valid_genes(num_genes, length) & ~incumbent & (genes != tabu)
  weak = _ranked(incumbent, -score)  # kept genes, weakest alone first
  strong = _ranked(free, score)  # dropped genes, strongest alone first
  pair_i, pair_j = (jnp.asarray(a) for a in _move_order(length))
  listed = (pair_i < incumbent.sum()) & (pair_j < free.sum())
  position = jnp.cumsum(listed)
  index = first + jnp.arange(count)
  exists = (index >= 0) & (index < position[-1])
  at = jnp.minimum(jnp.searchsorted(position, index + 1), pair_i.shape[0] - 1)  # the (index + 1)-th listed pair
  out, into = weak[pair_i[at]], strong[pair_j[at]]
  moved = (incumbent[None, :] & (genes[None, :] != out[:, None])) | (genes[None, :] == into[:, None])
  return moved, exists


def size_blocks(sizes: tuple[int, ...], num_genes: jax.Array, pop_size: int) -> jax.Array:
  """``(S,)`` int32 rows each size gets in a population of the size phase: the sizes that search
  (``1 < k < K``) share all P rows, the first ``P mod n`` of the n one row more; the others get none.

  Why: a row left to the GA's breeding spends a forward away from the sizes asked for.
  """
  k = jnp.asarray(sizes)
  active = (k > 1) & (k < num_genes)
  searching = jnp.maximum(active.sum(), 1)
  rank = jnp.cumsum(active) - 1
  return jnp.where(active, pop_size // searching + (rank < pop_size % searching), 0).astype(jnp.int32)


def size_rows(incumbents: jax.Array, cursor: jax.Array, tabu: jax.Array, fresh: jax.Array, score: jax.Array,
              sizes: tuple[int, ...], num_genes: jax.Array, pop_size: int) -> Rows:
  """The rows of a population of the size phase: each size's block of :func:`size_blocks` rows, in order.

  Args:
    incumbents: ``(S, L)`` bool, each size's incumbent.
    cursor: ``(S,)`` int32, each incumbent's next move.
    tabu: ``(S,)`` int32, the gene each incumbent's last move dropped (-1: none).
    fresh: ``()`` bool, the incumbents were just set and not evaluated: each block starts with its incumbent.
    score, num_genes: as for :func:`exchange_moves`.
    sizes: static S sizes; sizes 1 (every single was evaluated alone) and >= K get no rows.
    pop_size: static P.

  Returns:
    ``((P, L) bool, (P,) bool seeded)``: rows past a move list's end are not seeded.
  """
  blocks = size_blocks(sizes, num_genes, pop_size)
  first = cursor - fresh.astype(jnp.int32)
  moves, exists = jax.vmap(lambda m, f, t: exchange_moves(m, score, f, pop_size, num_genes, t))(incumbents, first,
                                                                                                  tabu)
  start = jnp.cumsum(blocks) - blocks
  row = jnp.arange(pop_size)
  owner = jnp.sum(row[:, None] >= (start + blocks)[None, :], axis=1)  # S: no size's block (no size searches)
  size = jnp.minimum(owner, len(sizes) - 1)
  offset = row - start[size]
  index = first[size] + offset  # -1: the incumbent itself
  rows = jnp.where((index == -1)[:, None], incumbents[size], moves[size, offset])
  return rows, (owner < len(sizes)) & ((index == -1) | exists[size, offset])


def incumbent_step(incumbents: jax.Array, incumbent_p: jax.Array, cursor: jax.Array, tabu: jax.Array,
                   consumed: jax.Array, candidates: jax.Array, probability: jax.Array,
                   sizes: tuple[int, ...]) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
  """Each size's incumbent after a population: the most probable evaluated mask of its size if it beats the
  incumbent (any row counts), with a fresh move list that does not bring back the gene it dropped; otherwise
  the list moves on by the ``consumed`` moves evaluated (``()``, or ``(S,)``: each size's).

  Returns:
    ``(incumbents (S, L), incumbent_p (S,), cursor (S,), tabu (S,))``.
  """
  p = jnp.where(jnp.isfinite(probability), probability, -jnp.inf)
  at_size = jnp.where(candidates.sum(-1)[None, :] == jnp.asarray(sizes)[:, None], p[None, :], -jnp.inf)
  best = jnp.argmax(at_size, axis=1)
  best_p = jnp.take_along_axis(at_size, best[:, None], axis=1)[:, 0]
  better = best_p > incumbent_p
  new = candidates[best]
  moved = better & (new != incumbents).any(-1)
  dropped = jnp.argmax(incumbents & ~new, axis=-1).astype(jnp.int32)
  return (jnp.where(moved[:, None], new, incumbents), jnp.where(better, best_p, incumbent_p),
          jnp.where(moved, 0, cursor + consumed), jnp.where(moved, dropped, tabu))
