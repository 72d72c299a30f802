"""NSGA-II as array ops: non-dominated sorting, crowding distance, crowded tournament, elitist survival.

Objectives are ``(N, M)`` float32 and every objective is minimised (negate one to maximise it). All functions are
pure, jit-able and vmappable (for example over images).
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

from evojax_lime.strategies.operators._genes import uniform_index


def dominance_matrix(objectives: jax.Array, *, chunk_size: Optional[int] = None) -> jax.Array:
  """``(N, N)`` bool: entry ``[i, j]`` is True when point i dominates point j.

  i dominates j when it is no worse in every objective and better in at least one. The ``(rows, N, M)``
  comparison is built ``chunk_size`` rows at a time, so memory stays at ``chunk_size * N * M`` for large N.

  Args:
    objectives: ``(N, M)`` values to minimise.
    chunk_size: static number of rows compared at once (``None``: all N).
  """
  n = objectives.shape[0]
  size = n if chunk_size is None else max(1, min(chunk_size, n))
  num_chunks = -(-n // size)
  rows = jnp.pad(objectives, ((0, num_chunks * size - n), (0, 0)))

  def chunk(block):  # (size, M) -> (size, N)
    le = (block[:, None, :] <= objectives[None, :, :]).all(-1)
    lt = (block[:, None, :] < objectives[None, :, :]).any(-1)
    return le & lt

  return jax.lax.map(chunk, rows.reshape(num_chunks, size, -1)).reshape(num_chunks * size, n)[:n]


def non_dominated_rank(objectives: jax.Array, *, chunk_size: Optional[int] = None) -> jax.Array:
  """``(N,)`` int32 front index of every point: 0 for the non-dominated, 1 for those only the first front
  dominates, and so on (fast non-dominated sorting, peeled one front per loop iteration).

  Equal points share a rank. Give NaN-free objectives (map a NaN to +inf first).
  """
  dom = dominance_matrix(objectives, chunk_size=chunk_size)  # kept as bool: N^2 bytes, not 4 N^2
  n = objectives.shape[0]

  def body(carry):
    rank, count, r = carry
    front = (rank < 0) & (count == 0)
    # Removing a front lowers the domination count of everything it dominated.
    count = count - (dom & front[:, None]).sum(0, dtype=jnp.int32)
    return jnp.where(front, r, rank), count, r + 1

  rank, _, _ = jax.lax.while_loop(lambda c: (c[0] < 0).any(), body,
                                  (jnp.full((n,), -1, jnp.int32), dom.sum(0, dtype=jnp.int32), jnp.int32(0)))
  return rank


def crowding_distance(objectives: jax.Array, rank: jax.Array) -> jax.Array:
  """``(N,)`` float32 crowding distance of every point within its own front.

  Per objective, the points of a front are sorted by value (ties by index); the two ends get +inf and each
  inner point adds the gap between its neighbours divided by the front's range in that objective (nothing when
  the range is 0). A front of one or two points is all ends.

  Args:
    objectives: ``(N, M)`` values to minimise, finite or +inf.
    rank: ``(N,)`` int32 front of every point (from :func:`non_dominated_rank`).
  """
  n, m = objectives.shape
  idx = jnp.arange(n)

  def one_objective(values):
    order = jnp.lexsort((idx, values, rank))  # by front, then value, then index
    v, r = values[order], rank[order]
    first = jnp.concatenate([jnp.array([True]), r[1:] != r[:-1]])
    last = jnp.concatenate([r[1:] != r[:-1], jnp.array([True])])
    lo = jax.ops.segment_min(v, r, num_segments=n)[r]
    hi = jax.ops.segment_max(v, r, num_segments=n)[r]
    span = hi - lo
    gap = jnp.roll(v, -1) - jnp.roll(v, 1)
    inner = jnp.where((span > 0) & jnp.isfinite(span), gap / jnp.where(span > 0, span, 1.0), 0.0)
    sorted_d = jnp.where(first | last, jnp.inf, inner)
    return jnp.zeros((n,), jnp.float32).at[order].set(sorted_d.astype(jnp.float32))

  return jax.vmap(one_objective, in_axes=1)(objectives.astype(jnp.float32)).sum(0)


def crowded_better(rank_a: jax.Array, crowd_a: jax.Array, rank_b: jax.Array, crowd_b: jax.Array) -> jax.Array:
  """True where a beats b: lower rank, or the same rank and a larger crowding distance."""
  return (rank_a < rank_b) | ((rank_a == rank_b) & (crowd_a > crowd_b))


def crowded_tournament(key: jax.Array, rank: jax.Array, crowding: jax.Array, num_selected: int) -> jax.Array:
  """``(S,)`` int32 winners of binary tournaments on (rank, -crowding); draws go to the first entrant.

  Args:
    key: PRNG key.
    rank, crowding: ``(N,)`` of the current population.
    num_selected: static number of winners S.
  """
  a, b = uniform_index(jax.random.uniform(key, (2, num_selected)), rank.shape[0])
  b_wins = crowded_better(rank[b], crowding[b], rank[a], crowding[a])
  return jnp.where(b_wins, b, a).astype(jnp.int32)


def survivors(objectives: jax.Array, num_survivors: int, *,
              chunk_size: Optional[int] = None) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The elitist merge: the ``num_survivors`` best points by rank, then by crowding distance.

  Whole fronts survive while they fit; the front that does not fit keeps its least crowded points. Ranks and
  crowding are computed over all N points (crowding within a front does not depend on the other fronts).

  Args:
    objectives: ``(N, M)`` values to minimise (parents and children together).
    num_survivors: static number kept, at most N.
    chunk_size: rows of the dominance matrix built at once.

  Returns:
    ``((S,) int32 indices, (S,) int32 rank, (S,) float32 crowding)`` of the survivors, best first.
  """
  rank = non_dominated_rank(objectives, chunk_size=chunk_size)
  crowd = crowding_distance(objectives, rank)
  order = jnp.lexsort((jnp.arange(rank.shape[0]), -crowd, rank))[:num_survivors].astype(jnp.int32)
  return order, rank[order], crowd[order]
