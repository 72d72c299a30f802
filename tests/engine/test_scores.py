"""Sanity and robustness scores: a rerun of the same program with other weights, and variant rows of one search."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime import robustness, scores
from evojax_lime.engine.search import Search
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


def test_rerun_with_the_same_weights_repeats_the_search_exactly(weighted):
  image, labels, weights = weighted
  clf = _weighted(24, weights)
  search = Search([image], clf, segments=[labels], config=BASE, seeds=[5]).advance()
  first = search.explanations()[0]
  with counted_compiles() as events:
    again = search.rerun(_weighted(24, jnp.asarray(np.array(weights))))  # equal weights, another object
  assert events == []  # the same compiled program
  np.testing.assert_array_equal(again[0].genome, first.genome)
  np.testing.assert_array_equal(again[0].importance, first.importance)
  assert search.explanations()[0].explanation_probability == first.explanation_probability  # state untouched


def test_sanity_scores_agreement_with_a_randomised_model(weighted):
  image, labels, weights = weighted
  clf = _weighted(24, weights)
  same = el.explain(image, clf, segments=labels, config=BASE, randomised=_weighted(24, weights * 1.0))
  assert same.sanity == pytest.approx(1.0)
  noise = jnp.asarray(np.random.default_rng(0).normal(size=weights.shape), jnp.float32)
  exp = el.explain(image, clf, segments=labels, config=BASE, randomised=_weighted(24, noise))
  assert exp.sanity < 0.5  # the planted set no longer matters, so the importance changes
  assert exp.scores()["sanity"] == exp.sanity
  np.testing.assert_array_equal(exp.genome, same.genome)  # the score never changes the answer
  other = el.explain(image, clf, segments=labels, config=BASE)
  assert other.sanity is None and other.scores()["sanity"] is None


def test_rerun_refuses_other_shapes_and_plain_functions(weighted):
  image, labels, weights = weighted
  search = Search([image], _weighted(24, weights), segments=[labels], config=BASE).advance()
  with pytest.raises(ValueError, match="same shapes"):
    search.rerun(_weighted(24, weights[:-1]))
  _, _, plain = planted_problem((1,), side=24, n_segments=12)
  with pytest.raises(ValueError, match="same shapes"):
    Search([image], plain, segments=[labels], config=BASE).advance().rerun(plain)


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
  assert len(exp.sanity_cascade) == 2 and exp.sanity == exp.sanity_cascade[0] == pytest.approx(1.0)
  assert exp.sanity_cascade[1] == el.explain(image, clf, segments=labels, config=BASE, randomised=random).sanity
  assert exp.summary()["sanity_cascade"] == list(exp.sanity_cascade)
  assert el.explain(image, clf, segments=labels, config=BASE, randomised=random).sanity_cascade is None
  with pytest.raises(ValueError, match="non-empty list"):
    el.explain(image, clf, segments=labels, config=BASE, cascade=[])
  with pytest.raises(ValueError, match=r"as cascade=\[\.\.\.\]"):
    el.explain(image, clf, segments=labels, config=BASE, randomised=[same, random])
  with pytest.raises(ValueError, match="not both"):
    el.explain(image, clf, segments=labels, config=BASE, randomised=random, cascade=[same])
