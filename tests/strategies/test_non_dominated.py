"""Properties of the NSGA-II operators against brute-force numpy references, jitted and not."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings, strategies as st

from evojax_lime.strategies.operators import non_dominated


def _ranks_reference(obj: np.ndarray) -> np.ndarray:
  """Peels fronts by checking every pair (Deb's definition, no shortcuts)."""
  n = len(obj)
  rank = np.full(n, -1)
  r = 0
  while (rank < 0).any():
    left = np.flatnonzero(rank < 0)
    front = [j for j in left
             if not any((obj[i] <= obj[j]).all() and (obj[i] < obj[j]).any() for i in left)]
    rank[front] = r
    r += 1
  return rank


def _crowding_reference(obj: np.ndarray, rank: np.ndarray) -> np.ndarray:
  d = np.zeros(len(obj))
  for r in np.unique(rank):
    members = np.flatnonzero(rank == r)
    for m in range(obj.shape[1]):
      order = members[np.lexsort((members, obj[members, m]))]
      v = obj[order, m]
      d[order[0]] = d[order[-1]] = np.inf
      span = v[-1] - v[0]
      for i in range(1, len(order) - 1):
        if span > 0:
          d[order[i]] += (v[i + 1] - v[i - 1]) / span
  return d


def _objectives(seed: int, n: int, *, ties: bool) -> np.ndarray:
  """Two objectives shaped like ours: (-p, kept); with ties, p on a coarse grid and duplicated rows."""
  rng = np.random.default_rng(seed)
  p = rng.integers(0, 6, n) / 5.0 if ties else rng.uniform(size=n)
  kept = rng.integers(0, 8, n) if ties else rng.permutation(n)
  obj = np.stack([-p, kept], 1).astype(np.float32)
  if ties:
    obj[n // 2:n // 2 + 3] = obj[0]  # exact duplicates
  return obj


class NSGA2Test(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_ranks_match_reference_with_ties_and_chunks(self):
    for seed in range(4):
      obj = _objectives(seed, 40, ties=seed % 2 == 0)
      want = _ranks_reference(obj)
      for chunk in (None, 7):
        got = self.variant(lambda o: non_dominated.non_dominated_rank(o, chunk_size=chunk))(jnp.asarray(obj))
        np.testing.assert_array_equal(np.asarray(got), want, err_msg=f"seed {seed} chunk {chunk}")

  @chex.variants(with_jit=True, without_jit=True)
  def test_crowding_matches_reference_and_ends_are_infinite(self):
    for seed in range(4):
      obj = _objectives(seed, 40, ties=seed % 2 == 0)
      rank = _ranks_reference(obj)
      got = np.asarray(self.variant(non_dominated.crowding_distance)(jnp.asarray(obj), jnp.asarray(rank, jnp.int32)))
      want = _crowding_reference(obj, rank)
      np.testing.assert_allclose(got, want, rtol=1e-5)
      for r in np.unique(rank):  # the extremes of every front in every objective are infinite
        members = np.flatnonzero(rank == r)
        for m in range(2):
          assert np.isinf(got[members[np.argmin(obj[members, m])]])
          assert np.isinf(got[members[np.argmax(obj[members, m])]])

  @chex.variants(with_jit=True, without_jit=True)
  def test_survival_keeps_first_front_and_fills_by_rank(self):
    obj = _objectives(5, 60, ties=False)
    rank = _ranks_reference(obj)
    for keep in (int((rank == 0).sum()), 45):
      idx, r, crowd = self.variant(lambda o: non_dominated.survivors(o, keep, chunk_size=16))(jnp.asarray(obj))
      idx, r = np.asarray(idx), np.asarray(r)
      assert len(set(idx.tolist())) == keep
      np.testing.assert_array_equal(r, rank[idx])
      if keep >= (rank == 0).sum():
        assert set(np.flatnonzero(rank == 0)) <= set(idx.tolist())
      # Nothing left out has a better rank than anything kept.
      out = np.setdiff1d(np.arange(len(obj)), idx)
      assert rank[out].min() >= r.max()
      # Within the last front taken, the kept points are the least crowded ones.
      last = r.max()
      crowd_all = _crowding_reference(obj, rank)
      taken = crowd_all[idx[r == last]]
      left = crowd_all[out[rank[out] == last]]
      if left.size:
        assert taken.min() >= left.max()

  @chex.variants(with_jit=True, without_jit=True)
  def test_tournament_prefers_lower_rank_then_crowding(self):
    rank = jnp.array([0, 1, 0, 2], jnp.int32)
    crowd = jnp.array([1.0, 9.0, jnp.inf, 0.0])
    winners = np.asarray(self.variant(lambda k: non_dominated.crowded_tournament(k, rank, crowd, 4000))(
        jax.random.PRNGKey(0)))
    counts = np.bincount(winners, minlength=4) / 4000
    # Index 2 (rank 0, infinite crowding) beats everyone; index 3 (worst) wins only against itself.
    np.testing.assert_allclose(counts, [5 / 16, 3 / 16, 7 / 16, 1 / 16], atol=0.03)


_rank = jax.jit(non_dominated.non_dominated_rank)
_crowding = jax.jit(non_dominated.crowding_distance)
_survivors = jax.jit(non_dominated.survivors, static_argnums=1)


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([2, 9, 30]), st.booleans())
def test_ranks_are_permutation_equivariant_and_match_reference(seed, n, ties):
  obj = _objectives(seed, n, ties=ties)
  perm = np.random.default_rng(seed + 1).permutation(n)
  rank = np.asarray(_rank(jnp.asarray(obj)))
  np.testing.assert_array_equal(rank, _ranks_reference(obj))
  np.testing.assert_array_equal(np.asarray(_rank(jnp.asarray(obj[perm]))), rank[perm])
  if not ties:  # crowding breaks ties by index, so only tie-free sets are permutation invariant
    crowd = np.asarray(_crowding(jnp.asarray(obj), jnp.asarray(rank)))
    crowd_perm = np.asarray(_crowding(jnp.asarray(obj[perm]), jnp.asarray(rank[perm])))
    np.testing.assert_allclose(crowd_perm, crowd[perm], rtol=1e-5)
    # Survivors may differ only among points tied on (rank, crowding): compare what was kept, not who.
    _, r, c = _survivors(jnp.asarray(obj), n // 2)
    _, r_perm, c_perm = _survivors(jnp.asarray(obj[perm]), n // 2)
    np.testing.assert_array_equal(np.asarray(r_perm), np.asarray(r))
    np.testing.assert_allclose(np.asarray(c_perm), np.asarray(c), rtol=1e-5)


def test_vmaps_over_images():
  objs = np.stack([_objectives(s, 24, ties=True) for s in range(3)])
  ranks = np.asarray(jax.jit(jax.vmap(non_dominated.non_dominated_rank))(jnp.asarray(objs)))
  for o, r in zip(objs, ranks):
    np.testing.assert_array_equal(r, _ranks_reference(o))
