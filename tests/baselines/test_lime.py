"""JAX LIME against the reference ``lime`` package (0.2.0.1), and on a planted classifier."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.metrics
from lime import lime_base, lime_image

import evojax_lime as el
from evojax_lime.baselines import lime as jlime
from evojax_lime.segmentation.superpixels import grid_segments
from tests.engine.planted import planted_problem

# float32 JAX against float64 scikit-learn: the observed gap is ~1e-7 on coefficients of size ~0.05.
ATOL = 1e-5
PLANTED = (0, 5, 6, 9, 15)


def _reference_kernel(d, kernel_width=0.25):
  return np.sqrt(np.exp(-(d ** 2) / kernel_width ** 2))  # lime_image.LimeImageExplainer's default kernel


@pytest.fixture(scope="module")
def regression_data():
  rng = np.random.RandomState(0)
  data = rng.randint(0, 2, (600, 40))
  data[0] = 1
  beta = rng.normal(size=40) * 0.3
  probs = 1 / (1 + np.exp(-(data @ beta - 1.0))) + rng.normal(size=600) * 0.01
  return data, np.clip(probs, 0, 1)


def _reference_fit(data, probs, num_features, feature_selection):
  distances = sklearn.metrics.pairwise_distances(data, data[0].reshape(1, -1), metric="cosine").ravel()
  base = lime_base.LimeBase(_reference_kernel, random_state=0)
  labels = np.stack([1 - probs, probs], axis=1)
  return base.explain_instance_with_data(data, labels, distances, 1, num_features, feature_selection=feature_selection)


@pytest.mark.parametrize("feature_selection,num_features", [
    ("none", None), ("auto", None), ("auto", 4), ("auto", 6), ("auto", 7), ("auto", 15),
    ("forward_selection", 3), ("highest_weights", 10), ("highest_weights", 40), ("none", 5)])
def test_matches_lime_base(regression_data, feature_selection, num_features):
  data, probs = regression_data
  intercept, exp, score, local_pred = _reference_fit(data, probs, 100000 if num_features is None else num_features,
                                                     feature_selection)
  fit = jax.jit(functools.partial(jlime.lime_weights, num_features=num_features,
                                  feature_selection=feature_selection))(data, probs)
  ref = np.zeros(data.shape[1])
  for feature, weight in exp:
    ref[feature] = weight
  assert set(np.flatnonzero(fit.used)) == {f for f, _ in exp}
  np.testing.assert_allclose(fit.weights, ref, atol=ATOL)
  np.testing.assert_allclose(fit.intercept, intercept, atol=ATOL)
  np.testing.assert_allclose(fit.score, score, atol=ATOL)
  np.testing.assert_allclose(fit.local_prediction, local_pred[0], atol=ATOL)


def test_cosine_distances_and_kernel_match_sklearn():
  rng = np.random.RandomState(1)
  data = rng.randint(0, 2, (50, 12))
  data[0] = 1
  data[7] = 0  # a sample with every superpixel hidden: distance 1
  ref = sklearn.metrics.pairwise_distances(data, data[0].reshape(1, -1), metric="cosine").ravel()
  ours = jlime.cosine_distances(jnp.asarray(data))
  np.testing.assert_allclose(ours, ref, atol=1e-6)
  np.testing.assert_allclose(jlime.kernel(ours), _reference_kernel(ref), atol=1e-6)


def test_samples_first_row_all_ones_and_padding():
  samples = jlime.lime_samples(jax.random.PRNGKey(0), 2000, 5, length=8)
  assert samples.shape == (2000, 8) and samples.dtype == bool
  assert samples[0, :5].all() and not samples[:, 5:].any()
  assert abs(float(samples[1:, :5].mean()) - 0.5) < 0.03


class _FixedBits(np.random.RandomState):
  """A RandomState whose ``randint`` returns given bits: makes reference lime perturb exactly as we did."""

  def __init__(self, bits):
    super().__init__(0)
    self._bits = np.asarray(bits, np.int64)

  def randint(self, low, high=None, size=None, dtype=int):
    assert size == self._bits.size, "reference lime asked for other random numbers than its samples"
    return self._bits.reshape(-1).copy()


def _linear_classifier(num_pixels):
  w = jax.random.normal(jax.random.PRNGKey(3), (num_pixels, 4)) * 0.05
  return lambda images: jax.nn.softmax(images.reshape(images.shape[0], -1) @ w)


@pytest.mark.parametrize("fill,hide_color", [("mean", None), ("black", 0)])
def test_end_to_end_matches_lime_image_explainer(fill, hide_color):
  rng = np.random.RandomState(2)
  image = rng.uniform(0, 1, (24, 24, 3)).astype(np.float32)
  labels = grid_segments(24, 24, 16)
  clf = _linear_classifier(24 * 24 * 3)
  config = el.ELimeConfig(fill=fill, chunk_size=64)
  ours = jlime.explain_lime(image, clf, segments=labels, num_samples=300, config=config, seed=4)

  jit_clf = jax.jit(clf)
  explainer = lime_image.LimeImageExplainer(kernel_width=0.25, random_state=_FixedBits(ours.samples))
  ref = explainer.explain_instance(image, lambda x: np.asarray(jit_clf(jnp.asarray(x, jnp.float32))),
                                   labels=(ours.target,), top_labels=None, hide_color=hide_color, num_samples=300,
                                   batch_size=50, segmentation_fn=lambda _: labels, random_seed=0)
  weights = np.zeros(ours.num_segments)
  for feature, weight in ref.local_exp[ours.target]:
    weights[feature] = weight
  np.testing.assert_allclose(ours.weights, weights, atol=ATOL)
  np.testing.assert_allclose(ours.intercept, ref.intercept[ours.target], atol=ATOL)
  np.testing.assert_allclose(ours.score, ref.score, atol=ATOL)
  # The top-k selection is lime's get_image_and_mask (positive weights, largest first).
  for k in (1, 3, 8):
    _, mask = ref.get_image_and_mask(ours.target, positive_only=True, num_features=k, hide_rest=False)
    np.testing.assert_array_equal(ours.mask(k), mask.astype(bool))
    assert set(ours.selected(k)) == set(np.unique(labels[mask.astype(bool)]))


def test_planted_superpixels_get_the_top_weights():
  image, labels, clf = planted_problem(PLANTED)
  exp = jlime.explain_lime(image, clf, segments=labels, num_samples=400, seed=0,
                           config=el.ELimeConfig(fill="black"))
  assert exp.target == 0 and exp.num_evaluations == 400
  assert set(exp.ranking[:len(PLANTED)]) == set(PLANTED)
  assert (exp.weights[list(PLANTED)] > 0).all()
  assert tuple(exp.selected(len(PLANTED))) == PLANTED
  np.testing.assert_array_equal(exp.mask(len(PLANTED)), np.isin(labels, PLANTED))
  masked = exp.masked_image(len(PLANTED))
  assert (masked[~np.isin(labels, PLANTED)] == 0).all()
  assert exp.samples.shape == (400, 16) and exp.samples[0].all()
  assert exp.sample_probabilities[0] == pytest.approx(exp.original_probability, abs=1e-6)
  assert set(exp.timings) == {"segmentation", "compile", "evaluate", "wall"}  # the fit is in the program
  # The curves of every explainer score lime's own ranking (its weights), in the same program.
  np.testing.assert_array_equal(exp.faithfulness.ranking, exp.ranking)
  assert exp.scoring_evaluations == exp.faithfulness.num_evaluations > 0
  # Seeded: the same seed gives the same explanation, another seed other samples.
  again = jlime.explain_lime(image, clf, segments=labels, num_samples=400, seed=0,
                             config=el.ELimeConfig(fill="black"))
  np.testing.assert_array_equal(again.weights, exp.weights)
  other = jlime.explain_lime(image, clf, segments=labels, num_samples=400, seed=1,
                             config=el.ELimeConfig(fill="black"))
  assert not np.array_equal(other.samples, exp.samples)


def test_selected_positive_only_and_signed():
  image, labels, clf = planted_problem(PLANTED)
  exp = jlime.explain_lime(image, clf, segments=labels, num_samples=200, config=el.ELimeConfig(fill="black"))
  positives = int((exp.weights > 0).sum())
  assert len(exp.selected(16)) == positives < 16
  assert len(exp.selected(16, positive_only=False)) == 16
  assert len(exp.selected(0)) == 0


@pytest.mark.parametrize("kwargs,match", [
    ({"num_samples": 1}, "num_samples must be an integer >= 2"),
    ({"num_samples": 10.0}, "num_samples must be an integer"),
    ({"feature_selection": "lasso_path"}, "feature_selection must be one of"),
    ({"num_features": 0}, "num_features must be an integer >= 1"),
    ({"kernel_width": 0.0}, "kernel_width must be > 0"),
    ({"alpha": -1.0}, "alpha must be >= 0"),
    ({"target": 7}, "target 7 is out of range"),
    ({"seed": "a"}, "seed must be an integer"),
    ({"config": {"fill": "mean"}}, "config must be an ELimeConfig"),
])
def test_bad_inputs(kwargs, match):
  image, labels, clf = planted_problem(PLANTED)
  with pytest.raises(ValueError, match=match):
    jlime.explain_lime(image, clf, segments=labels, **kwargs)


def test_bad_k():
  image, labels, clf = planted_problem(PLANTED)
  exp = jlime.explain_lime(image, clf, segments=labels, num_samples=50)
  with pytest.raises(ValueError, match="k must be an integer >= 0"):
    exp.selected(-1)


@pytest.mark.parametrize("num_features,feature_selection", [(None, "auto"), (3, "forward_selection"),
                                                            (5, "highest_weights")])
def test_the_fit_in_the_program_agrees_with_the_host_fit(num_features, feature_selection):
  """The ridge fitted after the samples inside the search's program, on padded genomes (genome_length 24 for
  16 superpixels), equals ``fit_program`` on the host on the same samples, to 1e-5."""
  image, labels, clf = planted_problem(PLANTED)
  exp = jlime.explain_lime(image, clf, segments=labels, num_samples=120, seed=3, num_features=num_features,
                           feature_selection=feature_selection,
                           config=el.ELimeConfig(fill="black", genome_length=24, faithfulness=False))
  host = jlime.fit_program(jlime.KERNEL_WIDTH, 1.0, num_features, feature_selection)(exp.samples,
                                                                                     exp.sample_probabilities)
  np.testing.assert_array_equal(exp.used, np.asarray(host.used))
  np.testing.assert_allclose(exp.weights, host.weights, atol=1e-5)
  np.testing.assert_allclose([exp.intercept, exp.score, exp.local_prediction],
                             [host.intercept, host.score, host.local_prediction], atol=1e-5)
  assert exp.faithfulness is None and exp.scoring_evaluations == 0  # faithfulness=False is honoured
