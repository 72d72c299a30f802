"""The GA's deterministic starts (occlusion, greedy): the operators' shapes and rules, the greedy chain on an
additive classifier, and planted classifiers found in two populations."""
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.strategies.ga import GA
from evojax_lime.strategies.operators import (alone_probability, greedy_rows, insertion_rows, kept_alone,
                                              leave_one_out, occlusion_drop, pool_size, ranked_prefixes)
from tests.engine.planted import planted_problem


class SeedingTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_leave_one_out_and_kept_alone(self):
    expected = {leave_one_out: [[1, 1, 1, 0, 0], [0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [1, 1, 0, 0, 0],
                                [1, 1, 1, 0, 0], [1, 1, 1, 0, 0]],
                kept_alone: [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0],
                             [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]}
    for rows, want in expected.items():
      candidates, seeded = self.variant(rows, static_argnums=(1, 2))(jnp.int32(3), 6, 5)
      chex.assert_shape(candidates, (6, 5))
      np.testing.assert_array_equal(np.asarray(candidates, int), want)
      np.testing.assert_array_equal(seeded, [True, True, True, True, False, False])

  @chex.variants(with_jit=True, without_jit=True)
  def test_prefixes_follow_the_drop(self):
    drop = jnp.array([0.1, 0.7, -0.2, 0.3, -jnp.inf, -jnp.inf])
    prefixes, seeded = self.variant(ranked_prefixes, static_argnums=(2,))(drop, jnp.int32(4), 5)
    chex.assert_shape(prefixes, (5, 6))
    np.testing.assert_array_equal(np.asarray(prefixes, int)[:3],
                                  [[0, 1, 0, 0, 0, 0], [0, 1, 0, 1, 0, 0], [1, 1, 0, 1, 0, 0]])
    np.testing.assert_array_equal(seeded, [True, True, True, False, False])  # the full image is not repeated
    assert not np.asarray(prefixes)[:, 4:].any()  # padding is never kept


def test_drop_of_genes_without_a_row_is_zero():
  candidates, _ = leave_one_out(jnp.int32(5), 3, 6)  # K = 5 genes, room for 2 of them
  prob = jnp.array([0.9, 0.4, 0.95])
  np.testing.assert_allclose(occlusion_drop(candidates, prob, jnp.int32(5)), [0.5, -0.05, 0, 0, 0, -np.inf],
                             atol=1e-6)


@pytest.mark.parametrize("size", [3, 5])
def test_prefixes_are_sorted_by_drop_property(size):
  rng = np.random.default_rng(size)
  for _ in range(20):
    k = int(rng.integers(2, 9))
    drop = np.where(np.arange(9) < k, rng.normal(size=9), -np.inf).astype(np.float32)
    prefixes, _ = ranked_prefixes(jnp.asarray(drop), jnp.int32(k), size)
    prefixes = np.asarray(prefixes)
    assert (prefixes.sum(1) == np.minimum(np.arange(1, size + 1), k)).all()
    assert (prefixes[1:] >= prefixes[:-1]).all()  # each prefix holds the one before
    for row in prefixes:
      assert drop[row].min() >= drop[(~row) & (np.arange(9) < k)].max(initial=-np.inf)


@functools.lru_cache(maxsize=None)
def _planted():
  """One planted problem (the same classifier object) for the module: a config already run with it is not compiled
  again."""
  return planted_problem((1, 2, 7), side=24, n_segments=12)


def _two_populations(seeding):
  return el.ELimeConfig(population_size=16, generations=1, fill="black", parsimony=0.05, seeding=seeding,
                        answer="fittest")


@pytest.mark.parametrize("seeding", ["occlusion", "greedy"])
def test_planted_set_found_in_two_populations(seeding):
  image, labels, clf = _planted()
  exp = el.explain(image, clf, segments=labels, config=_two_populations(seeding), seed=0)
  np.testing.assert_array_equal(exp.selected, [1, 2, 7])
  np.testing.assert_array_equal(np.flatnonzero(exp.best_of_size(3, at_most=False)), [1, 2, 7])
  assert exp.num_evaluations == 32
  if seeding == "occlusion":  # every size up to K - 1 has a mask after two populations: the ranking's prefixes
    assert np.isfinite(exp.size_history[1, 1:exp.num_segments]).all()


def test_seeding_is_a_function_of_the_seed():
  # The planted test's program (compiled once): the GA's rows after the occlusion start are drawn from the seed.
  image, labels, clf = _planted()
  a, b = (el.explain(image, clf, segments=labels, config=_two_populations("occlusion"), seed=3) for _ in range(2))
  np.testing.assert_array_equal(a.fitness_history, b.fitness_history)
  np.testing.assert_array_equal(a.mean_fitness_history, b.mean_fitness_history)
  np.testing.assert_array_equal(a.size_history, b.size_history)
  np.testing.assert_array_equal(a.genome, b.genome)


def test_paper_preset_is_the_random_start():
  assert el.ELimeConfig.paper().seeding == "random"
  assert el.ELimeConfig.paper(population_size=8).population_size == 8
  with pytest.raises(ValueError, match="seeding"):
    el.ELimeConfig(seeding="bogus")
  with pytest.raises(ValueError, match="nsga2 strategy does not use seeding"):
    image, labels, clf = planted_problem((1,), side=24, n_segments=12)
    other = "occlusion" if el.ELimeConfig().seeding == "random" else "random"
    el.explain_front(image, clf, segments=labels, config=el.ELimeConfig(seeding=other))


class GreedySeedingTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_insertion_rows(self):
    chain = jnp.array([0, 1, 0, 0, 0, 0], bool)
    score = jnp.array([0.2, 0.9, 0.5, 0.1, 0.4, -jnp.inf])  # gene 1 is the chain's, gene 5 unmeasured
    rows, ok = self.variant(insertion_rows, static_argnums=(2,))(chain, score, 3)
    chex.assert_shape(rows, (6, 6))
    kept = [tuple(np.flatnonzero(r)) for r in np.asarray(rows)]
    assert kept == [(1, 2), (1, 4), (0, 1), (1, 2, 4), (0, 1, 2), (0, 1, 4)]  # singles best first, then pairs
    assert np.asarray(ok).all()

  @chex.variants(with_jit=True, without_jit=True)
  def test_greedy_rows_by_population(self):
    """P = 9: rows 0-2 extend the chain (m = 2: two singles, one pair); then the removals, then their prefixes."""
    chain = jnp.array([0, 0, 1, 0, 0, 0, 0, 0], bool)
    alone = jnp.array([0.5, 0.1, 0.9, 0.3, 0.2, 0.0, -jnp.inf, -jnp.inf])  # K = 6
    removal = jnp.array([-0.1, -0.9, -0.2, -0.5, -0.3, -0.8, -jnp.inf, -jnp.inf])
    rows = self.variant(greedy_rows, static_argnums=(5,))
    kept = lambda c, ok: [tuple(np.flatnonzero(r)) if o else None for r, o in zip(np.asarray(c), np.asarray(ok))]
    second, seeded, extends = rows(chain, alone, removal, jnp.int32(6), jnp.int32(1), 9)
    assert kept(second, seeded) == [(0, 2), (2, 3), (0, 2, 3), (1, 2, 3, 4, 5), (0, 2, 3, 4, 5), (0, 1, 3, 4, 5),
                                    (0, 1, 2, 4, 5), (0, 1, 2, 3, 5), (0, 1, 2, 3, 4)]
    np.testing.assert_array_equal(extends, [True] * 3 + [False] * 6)
    third, seeded, _ = rows(chain, alone, removal, jnp.int32(6), jnp.int32(2), 9)
    assert kept(third, seeded)[3:] == [(0,), (0, 2), (0, 2, 4), (0, 2, 3, 4), (0, 2, 3, 4, 5), None]
    _, seeded, extends = rows(chain, alone, removal, jnp.int32(6), jnp.int32(3), 9)
    np.testing.assert_array_equal(seeded, extends)  # later: the chain's rows only, the GA breeds the rest

  def test_unavailable_genes_are_flagged(self):
    chain = jnp.array([1, 1, 0, 0], bool)
    rows, ok = insertion_rows(chain, jnp.array([0.5, 0.4, 0.3, -jnp.inf]), 3)
    # Free: gene 2 only (gene 3 is unmeasured): one single, and no pair, is available.
    np.testing.assert_array_equal(ok, [True, False, False, False, False, False])
    np.testing.assert_array_equal(np.asarray(rows)[0], [1, 1, 1, 0])


def test_alone_probability_of_genes_without_a_row_or_a_value():
  prob = jnp.array([0.9, 0.1, jnp.nan, 0.3])  # rows: full, gene 0, gene 1 (non-finite), gene 2
  np.testing.assert_allclose(alone_probability(prob, jnp.int32(5), 6), [0.1, -np.inf, 0.3, -np.inf, -np.inf, -np.inf])


@pytest.mark.parametrize("pop_size", [3, 8, 16, 64, 128])
def test_pool_size_takes_a_third_of_the_population(pop_size):
  m = pool_size(pop_size)
  assert m >= 1 and m * (m + 1) // 2 <= pop_size // 3 < (m + 1) * (m + 2) // 2
  assert pool_size(64) == 6 and pool_size(2) == 0


@pytest.mark.parametrize("size", [2, 4, 12])  # 12: more slots than the 9 genes (a population far larger)
def test_insertion_rows_property(size):
  rng = np.random.default_rng(size)
  for _ in range(20):
    chain = rng.random(9) < 0.3
    score = np.where(rng.random(9) < 0.8, rng.normal(size=9), -np.inf).astype(np.float32)
    rows, ok = (np.asarray(x) for x in insertion_rows(jnp.asarray(chain), jnp.asarray(score), size))
    assert rows.shape == (size + size * (size - 1) // 2, 9)
    assert (rows >= chain).all()  # every row holds the chain
    added = rows & ~chain
    assert (added.sum(1) == [1] * size + [2] * (len(rows) - size))[ok].all()  # rows that are available
    free = np.where(chain, -np.inf, score)
    for row, good in zip(added[ok], ok[ok]):
      assert good and np.isfinite(free[row]).all()
      others = free[~row & ~chain & np.isfinite(free)]
      # the inserted genes are among the size best-scored free genes
      assert (others > free[row].min()).sum() < size


@pytest.mark.parametrize("jitted", [False, True])
def test_greedy_chain_follows_an_additive_classifier(jitted):
  """p = w . mask, w known: the chain starts at the heaviest gene and gains the next two each population."""
  length, k = 16, 12  # P = 16: the chain's pool is m = 2 genes
  w = np.random.default_rng(0).permutation(np.linspace(0.01, 0.12, k)).astype(np.float32)
  w = np.concatenate([w, np.zeros(length - k, np.float32)])
  order = np.argsort(-w[:k])
  ga = GA(population_size=16, seeding="greedy")
  params = el.ELimeConfig().ga_params()
  ask = lambda s: ga.ask(s, num_genes=jnp.int32(k), params=params)
  ask, tell = (jax.jit(ask), jax.jit(ga.tell)) if jitted else (ask, ga.tell)
  state = jax.tree_util.tree_map(jnp.asarray, ga.init(jax.random.key(0), length=length))  # numpy leaves
  for population in range(4):
    state, candidates = ask(state)
    if population == 0:  # the engine's candidate 0: the full image
      candidates = candidates.at[0].set(jnp.arange(length) < k)
    prob = candidates.astype(jnp.float32) @ w
    state = tell(state, candidates, prob, prob)
    np.testing.assert_array_equal(np.flatnonzero(state.chain), np.sort(order[:1 + 2 * population]))
  np.testing.assert_allclose(state.alone, np.where(np.arange(length) < k, w, -np.inf))
  np.testing.assert_allclose(state.removal, np.where(np.arange(length) < k, w - w.sum(), -np.inf), rtol=1e-5)


def test_greedy_rows_do_not_depend_on_the_seed():
  """Only the GA's own rows are random: the chain's and the prefixes' best masks are the same for every seed."""
  image, labels, clf = planted_problem((0, 5, 9), side=24, n_segments=12)
  config = el.ELimeConfig(population_size=16, generations=2, fill="black", seeding="greedy", crossover_rate=0.0,
                          mutation_rate=0.0, init_prob=0.0)  # the GA's rows copy parents: nothing new is found
  a, b = (el.explain(image, clf, segments=labels, config=config, seed=s) for s in (1, 2))
  np.testing.assert_array_equal(a.size_genomes, b.size_genomes)
  np.testing.assert_array_equal(a.size_probabilities, b.size_probabilities)
