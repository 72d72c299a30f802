"""Occlusion seeding: the operators' shapes and rules, and a planted classifier found in two populations."""
import chex
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.strategies.operators import leave_one_out, occlusion_drop, ranked_prefixes
from tests.engine.planted import planted_problem


class SeedingTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_leave_one_out(self):
    candidates, seeded = self.variant(leave_one_out, static_argnums=(1, 2))(jnp.int32(3), 6, 5)
    chex.assert_shape(candidates, (6, 5))
    np.testing.assert_array_equal(np.asarray(candidates, int),
                                  [[1, 1, 1, 0, 0], [0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [1, 1, 0, 0, 0],
                                   [1, 1, 1, 0, 0], [1, 1, 1, 0, 0]])
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


def test_planted_set_found_in_two_populations():
  image, labels, clf = planted_problem((1, 2, 7), side=24, n_segments=12)
  config = el.ELimeConfig(population_size=16, generations=1, fill="black", parsimony=0.05, seeding="occlusion")
  exp = el.explain(image, clf, segments=labels, config=config, seed=0)
  np.testing.assert_array_equal(exp.selected, [1, 2, 7])
  np.testing.assert_array_equal(np.flatnonzero(exp.best_of_size(3, at_most=False)), [1, 2, 7])
  assert exp.num_evaluations == 32
  # Every size up to K - 1 has a mask after the two populations: the prefixes of the ranking.
  assert np.isfinite(exp.size_history[1, 1:exp.num_segments]).all()


def test_seeding_is_a_function_of_the_seed():
  image, labels, clf = planted_problem((0, 5), side=24, n_segments=12)
  config = el.ELimeConfig(population_size=8, generations=3, fill="black", seeding="occlusion")
  a, b = (el.explain(image, clf, segments=labels, config=config, seed=3) for _ in range(2))
  np.testing.assert_array_equal(a.fitness_history, b.fitness_history)
  np.testing.assert_array_equal(a.genome, b.genome)


def test_paper_preset_is_the_random_start():
  assert el.ELimeConfig.paper().seeding == "random"
  assert el.ELimeConfig.paper(population_size=8).population_size == 8
  with pytest.raises(ValueError, match="seeding"):
    el.ELimeConfig(seeding="greedy")
  with pytest.raises(ValueError, match="nsga2 strategy does not use seeding"):
    image, labels, clf = planted_problem((1,), side=24, n_segments=12)
    other = "occlusion" if el.ELimeConfig().seeding == "random" else "random"
    el.explain_front(image, clf, segments=labels, config=el.ELimeConfig(seeding=other))
