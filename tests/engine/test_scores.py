"""Sanity and robustness scores: a rerun of the same program with other weights, and variant rows of one search."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime import metrics, robustness, scores
from evojax_lime.engine.search import Search
from evojax_lime.engine.seeds import independent_seeds, prng_key
from tests.compiles import counted_compiles
from tests.engine.planted import planted_problem

BASE = el.ELimeConfig(population_size=16, generations=4, parsimony=0.05, fill="black")


def _weighted(image_side: int, weights: jax.Array):
  """A classifier whose class-0 logit is a weighted sum of the visible pixels: a pytree over its weights."""
  def classify(w, images):
    visible = (images.sum(-1) > 0.05).astype(jnp.float32)
    score = (visible * w).sum((1, 2)) * 8.0 / (image_side * image_side)
    return jax.nn.softmax(jnp.stack([score, jnp.zeros_like(score)], axis=-1), axis=-1)
  return jax.tree_util.Partial(classify, weights)


@pytest.fixture(scope="module")
def weighted():
  image, labels, _ = planted_problem((1, 5, 6), side=24, n_segments=12)
  planted = np.isin(labels, (1, 5, 6))
  weights = jnp.asarray(np.where(planted, 3.0, -1.0), jnp.float32)
  return image, labels, weights


def test_rerun_repeats_the_search_from_the_same_keys_and_draws_anew_from_others(weighted):
  image, labels, weights = weighted
  clf = _weighted(24, weights)
  search = Search([image], clf, segments=[labels], config=BASE, seeds=[5]).advance()
  first = search.explanations()[0]
  keys = independent_seeds([5])
  prng_key(keys[0])  # the host's one-off conversion of a raw key: not the search's program
  with counted_compiles() as events:
    again = search.rerun(_weighted(24, jnp.asarray(np.array(weights))), seeds=[5])  # equal weights, another object
    other = search.rerun(clf, seeds=keys)
  assert events == []  # the same compiled program
  np.testing.assert_array_equal(again[0].genome, first.genome)
  np.testing.assert_array_equal(again[0].importance, first.importance)
  assert again[0].seed == 5
  # Other keys, other draws: the final population differs, the planted answer does not.
  assert not np.array_equal(other[0].importance, first.importance)
  np.testing.assert_array_equal(other[0].genome, first.genome)
  np.testing.assert_array_equal(other[0].seed, keys[0])
  assert search.explanations()[0].explanation_probability == first.explanation_probability  # state untouched


def test_independent_seeds_are_keys_of_their_own_and_a_function_of_the_seed():
  keys = independent_seeds([0, 1, jax.random.PRNGKey(0)])
  assert all(k.shape == (2,) and k.dtype == np.uint32 for k in keys)
  np.testing.assert_array_equal(keys[0], keys[2])  # seed 0 and its key give the same stream
  assert not np.array_equal(keys[0], keys[1])
  assert not np.array_equal(keys[0], np.asarray(jax.random.PRNGKey(0)))
  np.testing.assert_array_equal(independent_seeds([1])[0], keys[1])


def test_sanity_scores_agreement_with_a_randomised_model(weighted):
  image, labels, weights = weighted
  clf = _weighted(24, weights)
  # The same weights: the answer must not change, though the rerun draws anew (so not exactly 1).
  same = el.explain(image, clf, segments=labels, config=BASE, randomised=_weighted(24, weights * 1.0))
  assert same.sanity > 0.8
  fresh = Search([image], clf, segments=[labels], config=BASE, seeds=independent_seeds([0])).advance()
  # The rerun is the search from the independent keys.
  assert same.sanity == pytest.approx(scores.ranking_correlation(same.ranking, fresh.explanations()[0].ranking))
  noise = jnp.asarray(np.random.default_rng(0).normal(size=weights.shape), jnp.float32)
  exp = el.explain(image, clf, segments=labels, config=BASE, randomised=_weighted(24, noise))
  assert exp.sanity < 0.5  # the planted set no longer matters, so the ranking changes
  assert exp.scores()["sanity"] == exp.sanity
  np.testing.assert_array_equal(exp.genome, same.genome)  # the score never changes the answer
  other = el.explain(image, clf, segments=labels, config=BASE)
  assert other.sanity is None and other.scores()["sanity"] is None


def _two_part(evidence: jax.Array, other: jax.Array):
  """Class 0's logit reads ``evidence`` (a weighted sum of the visible pixels); ``other`` feeds only class 2,
  whose logit is held 60 below: randomising it cannot move p(class 0)."""
  def classify(params, images):
    visible = (images.sum(-1) > 0.05).astype(jnp.float32)
    score, unread = ((visible * w).sum((1, 2)) * 8.0 / (visible.shape[1] * visible.shape[2]) for w in params)
    return jax.nn.softmax(jnp.stack([score, jnp.zeros_like(score), jnp.tanh(unread) - 60.0], axis=-1), axis=-1)
  return jax.tree_util.Partial(classify, (evidence, other))


def test_sanity_falls_only_when_the_part_the_answer_depends_on_is_randomised(weighted):
  image, labels, weights = weighted
  clf = _two_part(weights, jnp.zeros_like(weights))
  values = []
  for draw in range(3):  # three randomised copies, each with a seed of its own
    noise = [jnp.asarray(np.random.default_rng([draw, part]).normal(size=weights.shape), jnp.float32)
             for part in range(2)]
    cascade = [_two_part(weights, noise[1]), _two_part(noise[0], noise[1])]  # the unread part, then both
    values.append(el.explain(image, clf, segments=labels, config=BASE, seed=draw, cascade=cascade).sanity_cascade)
  unread, both = np.asarray(values).T
  assert unread.min() > 0.8  # the answer does not depend on it: the ranking stays
  assert np.median(both) < 0.3 and both.max() < 0.6  # it depends on the evidence: the ranking goes


def test_rerun_refuses_other_shapes_and_plain_functions(weighted):
  image, labels, weights = weighted
  search = Search([image], _weighted(24, weights), segments=[labels], config=BASE).advance()
  with pytest.raises(ValueError, match="same shapes"):
    search.rerun(_weighted(24, weights[:-1]), seeds=1)
  _, _, planted = planted_problem((1,), side=24, n_segments=12)
  plain = lambda images: planted(images)  # a closure: its weights are constants, none to swap
  with pytest.raises(ValueError, match="same shapes"):
    Search([image], plain, segments=[labels], config=BASE).advance().rerun(plain, seeds=1)


def test_rank_correlation_matches_its_definition():
  assert scores.rank_correlation(np.arange(5), np.arange(5) * 3.0) == pytest.approx(1.0)
  assert scores.rank_correlation(np.arange(5), -np.arange(5)) == pytest.approx(-1.0)
  # Ties take their mean rank: ranks (0.5, 0.5, 2) and (0, 1, 2).
  a, b = np.array([1.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0])
  ra, rb = np.array([0.5, 0.5, 2.0]) - 1.0, np.array([0.0, 1.0, 2.0]) - 1.0
  assert scores.rank_correlation(a, b) == pytest.approx((ra * rb).sum() / np.sqrt((ra ** 2).sum() * (rb ** 2).sum()))
  assert np.isnan(scores.rank_correlation(np.ones(4), np.arange(4)))


def test_robustness_runs_the_variants_in_the_same_search():
  # Large enough blocks for the variants' own cuts (quickshift, SLIC) to find several superpixels.
  image, labels, clf = planted_problem((1, 5, 6), side=96, n_segments=12)
  exp = el.explain(image, clf, segments=labels, config=BASE, robustness=True)
  # Host-side helpers are warm now: a new classifier needs its one program, and nothing else.
  with counted_compiles() as events:
    again = el.explain(image, lambda x: clf(x) * 1.0, segments=labels, config=BASE, robustness=True)
  assert len(events) == 1
  assert again.robustness_by_variant == exp.robustness_by_variant
  assert set(exp.robustness_by_variant) == set(robustness.VARIANTS)
  assert all(0.0 <= v <= 1.0 for v in exp.robustness_by_variant.values())
  assert exp.robustness == pytest.approx(np.mean(list(exp.robustness_by_variant.values())))
  # The planted classifier tells hidden from visible pixels by their darkness: under a blurred fill nothing
  # looks hidden, so the fill variant cannot find the planted set.
  assert exp.robustness_by_variant["fill"] < 0.5
  alone = el.explain(image, clf, segments=labels, config=BASE)
  np.testing.assert_array_equal(exp.genome, alone.genome)  # the image's own row is the run without variants


def test_pixel_jaccard():
  a = np.zeros((4, 4), bool)
  a[:2] = True
  b = np.zeros((4, 4), bool)
  b[1:3] = True
  assert robustness.pixel_jaccard(a, b) == pytest.approx(4 / 12)
  assert robustness.pixel_jaccard(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0


def test_robustness_is_refused_unless_a_bool(weighted):
  image, labels, weights = weighted
  with pytest.raises(ValueError, match="robustness"):
    el.explain(image, _weighted(24, weights), segments=labels, config=BASE, robustness=1)


def test_a_cascade_scores_each_randomised_model_in_order(weighted):
  image, labels, weights = weighted
  clf = _weighted(24, weights)
  noise = jnp.asarray(np.random.default_rng(0).normal(size=weights.shape), jnp.float32)
  same, random = _weighted(24, weights * 1.0), _weighted(24, noise)
  exp = el.explain(image, clf, segments=labels, config=BASE, cascade=[same, random])
  assert len(exp.sanity_cascade) == 2 and exp.sanity == exp.sanity_cascade[0] > 0.8
  assert exp.sanity_cascade[1] == el.explain(image, clf, segments=labels, config=BASE, randomised=random).sanity
  assert exp.summary()["sanity_cascade"] == list(exp.sanity_cascade)
  assert el.explain(image, clf, segments=labels, config=BASE, randomised=random).sanity_cascade is None
  with pytest.raises(ValueError, match="non-empty list"):
    el.explain(image, clf, segments=labels, config=BASE, cascade=[])
  with pytest.raises(ValueError, match=r"as cascade=\[\.\.\.\]"):
    el.explain(image, clf, segments=labels, config=BASE, randomised=[same, random])
  with pytest.raises(ValueError, match="not both"):
    el.explain(image, clf, segments=labels, config=BASE, randomised=random, cascade=[same])


def test_ranking_correlation_compares_places():
  assert scores.ranking_correlation([2, 0, 1], [2, 0, 1]) == pytest.approx(1.0)
  assert scores.ranking_correlation([0, 1, 2, 3], [3, 2, 1, 0]) == pytest.approx(-1.0)
  # Places (superpixel -> place) of [1, 0, 2] are (1, 0, 2), of [0, 1, 2] (0, 1, 2): d^2 = 2, 1 - 6 * 2 / 24.
  assert scores.ranking_correlation([1, 0, 2], [0, 1, 2]) == pytest.approx(0.5)
  with pytest.raises(ValueError, match="permutations"):
    scores.ranking_correlation([0, 0, 1], [0, 1, 2])
  with pytest.raises(ValueError, match="permutations"):
    scores.ranking_correlation([0, 1], [0, 1, 2])


def test_the_ranking_is_the_curves_or_the_kept_first(weighted):
  image, labels, weights = weighted
  exp = el.explain(image, _weighted(24, weights), segments=labels, config=BASE)
  np.testing.assert_array_equal(exp.ranking, exp.faithfulness.ranking)
  bare = dataclasses.replace(exp, faithfulness=None)  # as with ELimeConfig(faithfulness=False)
  np.testing.assert_array_equal(bare.ranking, metrics.rank(bare.importance, first=bare.genome))
