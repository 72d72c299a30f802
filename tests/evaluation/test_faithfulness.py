"""The answer's insertion and deletion curves: the operators, and the search's last step that evaluates them."""
import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import evojax_lime as el
from evojax_lime import metrics, scores
from evojax_lime.evaluation import faithfulness as f
from tests.engine.planted import planted_problem
from tests.compiles import counted_compiles

BASE = el.ELimeConfig(population_size=16, generations=4, parsimony=0.05, fill="black", answer="fittest")


class OperatorTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_ranking_puts_the_answer_first_then_the_archive_then_importance_then_padding(self):
    importance = jnp.array([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 1.0, 1.0])
    answer = jnp.array([False, True, False, True, False, False, False, True])  # gene 7 is padding (K = 6)
    frequency = jnp.array([1, 2, 0, 2, 3, 1, 0, 0], jnp.int32)
    ranking = self.variant(f.answer_ranking)(importance, answer, jnp.int32(6), frequency)
    chex.assert_shape(ranking, (8,))
    np.testing.assert_array_equal(ranking, [3, 1, 4, 0, 5, 2, 6, 7])

  @chex.variants(with_jit=True, without_jit=True)
  def test_importance_ranking_orders_the_real_genes_by_importance_then_the_padding(self):
    importance = jnp.array([0.1, 0.5, -0.2, 0.5, 0.0, 0.0])  # genes 4, 5 are padding (K = 4)
    ranking = self.variant(f.importance_ranking)(importance, jnp.int32(4))
    chex.assert_shape(ranking, (6,))
    np.testing.assert_array_equal(ranking, [1, 3, 0, 2, 4, 5])  # a tie keeps id order

  @chex.variants(with_jit=True, without_jit=True)
  def test_archive_frequency_counts_the_sizes_found(self):
    genomes = jnp.array([[0, 0, 0], [0, 1, 0], [1, 1, 0], [1, 1, 1]], bool)
    probability = jnp.array([0.1, 0.5, -jnp.inf, 0.9])  # no mask of 2 was found (its row is stale)
    np.testing.assert_array_equal(self.variant(f.archive_frequency)(genomes, probability), [1, 2, 1])

  @chex.variants(with_jit=True, without_jit=True)
  def test_curve_candidates_reveal_and_hide_in_ranked_order(self):
    ranking = jnp.array([2, 0, 3, 1, 4, 5], jnp.int32)  # K = 4: genes 4, 5 are padding
    shown = f.shown_counts(jnp.int32(4), 4)
    candidates, live = self.variant(lambda r, s: f.curve_candidates(r, s, jnp.int32(4), population_size=9))(
        ranking, shown)
    chex.assert_shape(candidates, (9, 6))
    expected = [[0, 0, 0, 0, 0, 0],  # all hidden
                [0, 0, 1, 0, 0, 0], [1, 0, 1, 0, 0, 0], [1, 0, 1, 1, 0, 0],  # insertion steps 1..3
                [1, 1, 0, 1, 0, 0], [0, 1, 0, 1, 0, 0], [0, 1, 0, 0, 0, 0],  # deletion steps 1..3
                [0] * 6, [0] * 6]  # the population's unused rows
    np.testing.assert_array_equal(candidates, np.array(expected, bool))
    np.testing.assert_array_equal(live, [1, 1, 1, 1, 1, 1, 1, 0, 0])

  def test_curves_of_places_the_full_and_empty_images_at_the_ends(self):
    shown = f.shown_counts(jnp.int32(3), 4)  # T = 3 of at most 4 steps
    np.testing.assert_array_equal(shown, [0, 1, 2, 3, 3])
    prob = jnp.array([0.1, 0.2, 0.3, 0.9, 0.7, 0.6, 0.5, 0.0, 0.0])
    insertion, deletion = f.curves_of(prob, jnp.float32(0.8), shown, jnp.int32(3))
    np.testing.assert_allclose(insertion, [0.1, 0.2, 0.3, 0.8, 0.8])
    np.testing.assert_allclose(deletion, [0.8, 0.7, 0.6, 0.1, 0.1])  # step 3 hides all: the empty image


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 80), steps=st.integers(1, 40))
def test_shown_counts_rise_evenly_to_k(k, steps):
  shown = np.asarray(f.shown_counts(jnp.int32(k), steps))
  t = min(k, steps)
  assert shown.shape == (steps + 1,) and shown[0] == 0 and (shown[t:] == k).all()
  steps_taken = np.diff(shown[:t + 1])
  assert (steps_taken >= k // t).all() and (steps_taken <= -(-k // t)).all()


def test_areas_of_a_known_curve():
  curve = scores.Faithfulness(ranking=np.arange(4), shown=np.array([0, 2, 4]), insertion=np.array([0.0, 1.0, 1.0]),
                              deletion=np.array([1.0, 0.0, 0.0]))
  assert curve.insertion_auc == pytest.approx(0.75)
  assert curve.deletion_auc == pytest.approx(0.25)
  assert curve.num_evaluations == 3
  # The best of at most k: sizes 0 and 2 evaluated; size 1 holds size 0's mask, sizes 3, 4 size 2's.
  assert scores.size_auc(np.array([0.2, np.nan, 0.6, np.nan, np.nan])) == pytest.approx(
      0.25 * (0.2 + 0.2) / 2 + 0.25 * (0.2 + 0.6) / 2 + 0.5 * 0.6)
  assert np.isnan(scores.size_auc(None))


def _expected_ranking(exp, runs):
  """The kept superpixels first, then the rest; each group by how many of the runs' best masks of each size keep
  them, then by (mean) importance."""
  frequency = sum(r.size_genomes[~np.isnan(r.size_probabilities)].sum(0) for r in runs)
  importance = np.mean([r.importance for r in runs], axis=0).astype(np.float32)
  return np.lexsort((-importance, -frequency, ~exp.genome))


@pytest.fixture(scope="module")
def planted():
  return planted_problem((1, 5, 6), side=24, n_segments=12)


def _recording(clf):
  calls = []

  def classifier(images):
    jax.debug.callback(lambda n: calls.append(int(n)), images.shape[0])
    return clf(images)
  return classifier, calls


def test_the_search_evaluates_its_answers_curves_as_an_independent_evaluation_does(planted):
  image, labels, clf = planted
  exp = el.explain(image, clf, segments=labels, config=BASE, seed=3)
  curve = exp.faithfulness
  k = exp.num_segments
  t = min(k, f.max_steps(BASE.population_size))
  assert curve.shown.tolist() == [(i * k) // t for i in range(t + 1)]
  np.testing.assert_array_equal(curve.ranking, _expected_ranking(exp, [exp]))
  problem = metrics.as_problem(exp)
  independent = metrics.curves(jnp.asarray(curve.ranking), problem, classifier=clf, steps=t)
  np.testing.assert_allclose(curve.insertion, independent.insertion, atol=1e-6)
  np.testing.assert_allclose(curve.deletion, independent.deletion, atol=1e-6)
  assert curve.insertion_auc == pytest.approx(float(independent.insertion_auc), abs=1e-6)
  assert curve.deletion_auc == pytest.approx(float(independent.deletion_auc), abs=1e-6)
  assert curve.insertion[-1] == curve.deletion[0] == exp.original_probability
  # The planted set is exactly what raises class 0: a ranking that starts with it rises at once on insertion
  # and falls at once on deletion.
  assert set(exp.selected) == {1, 5, 6}
  assert curve.insertion_auc > 0.8 > 0.2 > curve.deletion_auc
  summary = exp.summary()
  assert summary["scores"]["insertion_auc"] == pytest.approx(curve.insertion_auc)
  assert summary["faithfulness"]["shown"] == curve.shown.tolist()


def test_curves_cost_one_step_of_forwards_and_no_program(planted):
  image, labels, clf = planted
  classifier, calls = _recording(clf)
  with counted_compiles() as events:
    exp = el.explain(image, classifier, segments=labels, config=dataclasses.replace(BASE, chunk_size=4))
  assert len(events) == 1  # the curves are rows of the search's own program
  t = min(exp.num_segments, f.max_steps(BASE.population_size))
  assert exp.scoring_evaluations == 2 * t - 1 == 15
  assert sum(calls) == exp.num_evaluations + 15  # 15 rows: three chunks of 4, then three single rows


def test_without_faithfulness_nothing_is_evaluated_after_the_search(planted):
  image, labels, clf = planted
  classifier, calls = _recording(clf)
  exp = el.explain(image, classifier, segments=labels, config=dataclasses.replace(BASE, faithfulness=False))
  assert exp.faithfulness is None and exp.scoring_evaluations == 0
  assert sum(calls) == exp.num_evaluations
  assert exp.scores()["insertion_auc"] is None and exp.scores()["size_auc"] is not None
  with_curves = el.explain(image, clf, segments=labels, config=BASE)
  np.testing.assert_array_equal(exp.genome, with_curves.genome)  # the curves come after the answer


def test_restarts_score_the_consensus_once(planted):
  image, labels, clf = planted
  classifier, calls = _recording(clf)
  exp = el.explain(image, classifier, segments=labels, config=dataclasses.replace(BASE, chunk_size=1), restarts=3)
  assert all(r.faithfulness is None for r in exp.runs)
  np.testing.assert_array_equal(exp.faithfulness.ranking, _expected_ranking(exp, exp.runs))
  assert exp.faithfulness.insertion[-1] == pytest.approx(exp.original_probability)
  assert exp.scores()["stability"] == exp.stability
  # 3 runs, one consensus row and one set of curves (chunks of one row: no padding).
  assert sum(calls) == 3 * BASE.num_evaluations + 1 + exp.scoring_evaluations


def test_a_batch_scores_every_image_with_its_own_ranking(planted):
  image, labels, clf = planted
  exps = el.explain_batch([image, image[::-1]], clf, segments=[labels, labels[::-1]], config=BASE, seeds=[0, 1])
  for exp in exps:
    problem = metrics.as_problem(exp)
    t = exp.faithfulness.shown.shape[0] - 1
    independent = metrics.curves(jnp.asarray(exp.faithfulness.ranking), problem, classifier=clf, steps=t)
    np.testing.assert_allclose(exp.faithfulness.deletion, independent.deletion, atol=1e-6)
