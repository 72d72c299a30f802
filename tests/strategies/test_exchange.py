"""The sizes seeding: alone rows over several populations, each size's prefix and exchange moves, and the
forwards it spends to find the best mask of each size on classifiers where that mask is known."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.strategies.ga import GA
from evojax_lime.strategies.operators import (alone_populations, alone_probability, exchange_moves, incumbent_step,
                                              kept_alone, size_blocks, size_prefixes, size_rows)
from tests.engine.planted import planted_problem


class ExchangeTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_alone_rows_continue_over_populations(self):
    # K = 5, P = 3: genes 0-1, 2-3, then 4 and a free row; row 0 is the full image only in population 0.
    rows = self.variant(kept_alone, static_argnums=(1, 2))
    got = [rows(jnp.int32(5), 3, 6, jnp.int32(g)) for g in range(3)]
    np.testing.assert_array_equal(np.asarray(got[1][0][1:], int), [[0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0]])
    np.testing.assert_array_equal([np.asarray(s) for _, s in got], [[1, 1, 1], [0, 1, 1], [0, 1, 0]])
    assert int(alone_populations(jnp.int32(5), 3)) == 3
    prob = jnp.array([0.9, 0.2, 0.3])
    measured = self.variant(alone_probability, static_argnums=(2,))(prob, jnp.int32(5), 6, jnp.int32(1))
    np.testing.assert_allclose(measured, [-np.inf, -np.inf, 0.2, 0.3, -np.inf, -np.inf])

  @chex.variants(with_jit=True, without_jit=True)
  def test_moves_by_rank_sum(self):
    score = jnp.array([0.3, 0.3, 0.25, 0.2, 0.1, 0.05, -jnp.inf, -jnp.inf])  # K = 6, two padding genes
    incumbent = jnp.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    moves = self.variant(exchange_moves, static_argnums=(3,))
    rows, exists = moves(incumbent, score, jnp.int32(0), 10, jnp.int32(6), jnp.int32(-1))
    chex.assert_shape(rows, (10, 8))
    # kept, weakest first: 2, 0, 1 (ties: the lower gene); dropped, strongest first: 3, 4, 5
    swaps = [(2, 3), (0, 3), (2, 4), (1, 3), (0, 4), (2, 5), (1, 4), (0, 5), (1, 5)]
    for row, (out, into) in zip(np.asarray(rows), swaps):
      want = np.asarray(incumbent).copy()
      want[out], want[into] = False, True
      np.testing.assert_array_equal(row, want)
    np.testing.assert_array_equal(exists, [True] * 9 + [False])  # 3 x 3 moves, then the list's end
    assert (np.asarray(rows)[:9].sum(1) == 3).all()
    # from move 3, with gene 3 tabu: the list holds genes 4 and 5 only
    rows, exists = moves(incumbent, score, jnp.int32(3), 4, jnp.int32(6), jnp.int32(3))
    np.testing.assert_array_equal(exists, [True, True, True, False])
    np.testing.assert_array_equal(np.flatnonzero(rows[0]), [0, 2, 4])  # move 3: (i 2, j 0) -> out 1, in 4

  @chex.variants(with_jit=True, without_jit=True)
  def test_size_rows_blocks(self):
    score = jnp.array([0.5, 0.1, 0.4, 0.3, 0.2, -jnp.inf])
    sizes = (1, 2, 3)
    incumbents = size_prefixes(score, sizes, jnp.int32(5))
    assert [np.flatnonzero(m).tolist() for m in incumbents] == [[0], [0, 2], [0, 2, 3]]
    rows = self.variant(size_rows, static_argnums=(5, 7))
    got, seeded = rows(incumbents, jnp.zeros(3, jnp.int32), jnp.full(3, -1, jnp.int32), jnp.bool_(True), score,
                       sizes, jnp.int32(5), 7)
    chex.assert_shape(got, (7, 6))
    # size 1 gets no rows (every single was evaluated alone): sizes 2 and 3 share all 7, 4 and 3, each block
    # opening with its incumbent, then its moves by rank sum (kept weakest first, dropped strongest first)
    np.testing.assert_array_equal(seeded, [True] * 7)
    assert [np.flatnonzero(r).tolist() for r in np.asarray(got)] == [[0, 2], [0, 3], [2, 3], [0, 4], [0, 2, 3],
                                                                     [0, 2, 4], [0, 3, 4]]
    # later populations continue each list at its cursor; a list's end leaves its rows unseeded
    got, seeded = rows(incumbents, jnp.array([0, 4, 0]), jnp.full(3, -1, jnp.int32), jnp.bool_(False), score,
                       sizes, jnp.int32(5), 7)
    np.testing.assert_array_equal(seeded, [True, True, False, False, True, True, True])
    assert [np.flatnonzero(r).tolist() for r in np.asarray(got)[:2]] == [[0, 1], [1, 2]]  # moves 4, 5 of 6

  @chex.variants(with_jit=True, without_jit=True)
  def test_size_blocks_share_every_row(self):
    blocks = self.variant(size_blocks, static_argnums=(0, 2))
    np.testing.assert_array_equal(blocks((3, 5, 10), jnp.int32(40), 16), [6, 5, 5])
    np.testing.assert_array_equal(blocks((3, 5, 10), jnp.int32(8), 16), [8, 8, 0])  # 10 >= K: no rows
    np.testing.assert_array_equal(blocks((1, 2), jnp.int32(8), 5), [0, 5])
    np.testing.assert_array_equal(blocks((3,), jnp.int32(3), 4), [0])

  @chex.variants(with_jit=True, without_jit=True)
  def test_incumbent_moves_only_for_a_better_mask(self):
    incumbents = jnp.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
    candidates = jnp.array([[1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 1, 1], [0, 1, 1, 1]], bool)
    prob = jnp.array([0.4, 0.7, 0.9, 0.5])
    step = self.variant(incumbent_step, static_argnums=(7,))
    new, p, cursor, tabu = step(incumbents, jnp.array([0.6, 0.6]), jnp.array([3, 3]), jnp.array([-1, -1]),
                                jnp.int32(2), candidates, prob, (2, 3))
    np.testing.assert_array_equal(new, [[0, 1, 1, 0], [1, 1, 1, 0]])  # size 2 moved (0.7); size 3: 0.5 < 0.6
    np.testing.assert_allclose(p, [0.7, 0.6])
    np.testing.assert_array_equal(cursor, [0, 5])
    np.testing.assert_array_equal(tabu, [0, -1])  # size 2's move dropped gene 0


def _redundant(mask: jax.Array) -> jax.Array:
  """p of a classifier whose genes 0 and 1 show the same evidence (either counts once): alone, they rank first,
  so the prefix of 3 keeps both; the best masks of 3 keep one of them with genes 2 and 3 (p 0.75)."""
  m = mask.astype(jnp.float32)
  return 0.3 * jnp.maximum(m[..., 0], m[..., 1]) + 0.25 * m[..., 2] + 0.2 * m[..., 3] + 0.01 * m[..., 4]


@pytest.mark.parametrize("jitted", [False, True])
def test_exchange_finds_the_best_mask_the_prefix_misses(jitted):
  length, k, pop = 16, 12, 8
  ga = GA(population_size=pop, seeding="sizes", sizes=(3,))
  params = el.ELimeConfig().ga_params()
  ask = lambda s: ga.ask(s, num_genes=jnp.int32(k), params=params)
  ask, tell = (jax.jit(ask), jax.jit(ga.tell)) if jitted else (ask, ga.tell)
  state = jax.tree_util.tree_map(jnp.asarray, ga.init(jax.random.key(0), length=length))
  best_p, forwards, history = -np.inf, 0, []
  for population in range(5):
    state, candidates = ask(state)
    if population == 0:  # the engine's candidate 0: the full image
      candidates = candidates.at[0].set(jnp.arange(length) < k)
    prob = _redundant(candidates)
    state = tell(state, candidates, prob, prob)
    forwards += pop
    at_3 = np.asarray(prob)[np.asarray(candidates).sum(1) == 3]
    best_p = max(best_p, at_3.max(initial=-np.inf))
    history.append(best_p)
  # Alone over populations 0 and 1 (K = 12, 7 a population); population 2 holds the prefix {0, 1, 2} (p 0.55)
  # and its first seven moves, the second of which (gene 0 out, gene 3 in) is a best mask.
  assert int(alone_populations(jnp.int32(k), pop)) == 2
  np.testing.assert_allclose(state.alone[:k], _redundant(jnp.eye(length, dtype=bool)[:k]))
  first = next(i for i, p in enumerate(history) if p >= 0.75 - 1e-6)
  assert (first + 1) * pop == 24
  np.testing.assert_allclose(state.incumbent_p, [0.75], rtol=1e-6)
  assert np.flatnonzero(state.incumbent[0]).tolist() in ([0, 2, 3], [1, 2, 3])


def test_planted_sizes_found_after_the_alone_populations():
  """Planted {1, 6, 9} of 16: the best masks of 2 and 3 (planted only) and of 5 (planted and two more) are
  evaluated by the first population after the alone ones (populations 0-2), within 4 x 8 = 32 forwards."""
  image, labels, clf = planted_problem((1, 6, 9), side=24, n_segments=16)
  config = el.ELimeConfig(population_size=8, generations=4, fill="black", seeding="sizes", sizes=(2, 3, 5),
                          faithfulness=False)
  exp = el.explain(image, clf, segments=labels, config=config, seed=0, target=0)
  assert exp.num_evaluations == 40
  best = {2: clf(image[None] * np.isin(labels, (1, 6))[None, ..., None])[0, 0],
          3: clf(image[None] * np.isin(labels, (1, 6, 9))[None, ..., None])[0, 0]}
  for k, p in best.items():
    reached = np.flatnonzero(np.nan_to_num(exp.size_history[:, k], nan=-1) >= float(p) - 1e-6)
    assert (reached[0] + 1) * config.population_size <= 32, (k, exp.size_history[:, k])
    assert set(np.flatnonzero(exp.best_of_size(k, at_most=False))) <= {1, 6, 9}
  assert {1, 6, 9} <= set(np.flatnonzero(exp.best_of_size(5, at_most=False)))


def test_sizes_option_checks():
  assert el.ELimeConfig().sizes == (3, 5, 10)
  assert el.ELimeConfig(seeding="sizes", sizes=[10, np.int64(3)]).sizes == (3, 10)
  for bad, match in (((), "non-empty"), ((0, 3), "integers >= 1"), ((3, 3), "distinct"), ("35", "sequence"),
                     ((2.5,), "integers")):
    with pytest.raises(ValueError, match=match):
      el.ELimeConfig(seeding="sizes", sizes=bad)
  with pytest.raises(ValueError, match="sizes is read by seeding='sizes' only"):
    el.ELimeConfig(sizes=(4,))
  with pytest.raises(ValueError, match="population_size must be at least the number of sizes"):
    el.ELimeConfig(seeding="sizes", population_size=2, num_elite=1, sizes=(2, 3, 4))


def test_size_phase_spends_every_row_on_the_sizes():
  """After the alone populations, each population's rows are the sizes' moves only (3 + 3 + 2 of P = 8 for sizes
  3, 5 and 7), none bred: breeding would spend forwards on other sizes."""
  length, k, pop = 16, 12, 8
  ga = GA(population_size=pop, seeding="sizes", sizes=(3, 5, 7))
  params = el.ELimeConfig().ga_params()
  state = jax.tree_util.tree_map(jnp.asarray, ga.init(jax.random.key(1), length=length))
  ask = jax.jit(lambda s: ga.ask(s, num_genes=jnp.int32(k), params=params))
  for population in range(5):
    state, candidates = ask(state)
    if population == 0:
      candidates = candidates.at[0].set(jnp.arange(length) < k)
    if population >= 2:  # populations 0 and 1: the genes alone
      assert sorted(np.asarray(candidates).sum(1).tolist()) == [3] * 3 + [5] * 3 + [7] * 2, population
    prob = _redundant(candidates)
    state = ga.tell(state, candidates, prob, prob)
