"""KernelSHAP as a strategy: exact on an additive classifier, captum's KernelShap on the same coalitions, the
normal equations of several populations, and the search's seeds, saving and option refusal."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.strategies.kernelshap import KernelShap, constrained_values, shapley_coalitions
from evojax_lime.segmentation.superpixels import grid_segments
from tests.engine.same import assert_identical

SIDE, SEGMENTS = 16, 8
CONFIG = el.ELimeConfig(population_size=24, generations=2, fill="black")


@pytest.fixture(scope="module")
def photo():
  labels = grid_segments(SIDE, SIDE, SEGMENTS)
  k = int(labels.max()) + 1
  colours = np.random.default_rng(0).uniform(0.3, 1.0, size=(k, 3)).astype(np.float32)
  return colours[labels], labels


def additive(labels: np.ndarray):
  """p(class 0) = 0.1 + 0.8 * (weighted visible pixels): its Shapley values are each superpixel's share."""
  k = int(labels.max()) + 1
  share = np.random.default_rng(1).dirichlet(np.ones(k)).astype(np.float32)
  pixels = np.bincount(labels.ravel(), minlength=k)
  weight = jnp.asarray((share / pixels)[labels])

  def classifier(images):
    visible = (images.sum(-1) > 0.05).astype(jnp.float32)
    p = 0.1 + 0.8 * (visible * weight).sum((1, 2))
    return jnp.stack([p, 1.0 - p], axis=-1)
  return classifier, 0.8 * share


def nonlinear(images):
  """A tiny fixed network: interactions between superpixels, so the values depend on the samples."""
  w = jax.random.normal(jax.random.key(3), (3, 4)) * 2.0
  x = jnp.einsum("nhwc,ck->nhwk", images, w)
  x = jnp.tanh(x).reshape(images.shape[0], 4, -1).mean(-1)
  logits = jnp.stack([x[:, 0] * x[:, 1] * 4.0 + x[:, 2], x[:, 3] - x[:, 0]], axis=-1)
  return jax.nn.softmax(logits, axis=-1)


def test_coalitions_sizes_and_padding():
  sample = jax.jit(shapley_coalitions, static_argnums=1, static_argnames="length")  # K traced, as in a search
  coalitions = np.asarray(sample(jax.random.key(0), 4000, jnp.int32(6), length=9))
  chex.assert_shape(coalitions, (4000, 9))
  chex.assert_type(coalitions, bool)
  sizes = coalitions.sum(1)
  assert not coalitions[:, 6:].any() and sizes.min() >= 1 and sizes.max() <= 5
  # Sizes follow (K - 1) / (k (K - k)): for K = 6, k = 1..5 in ratio 1/5 : 1/8 : 1/9 : 1/8 : 1/5.
  mass = 1 / np.array([5, 8, 9, 8, 5])
  np.testing.assert_allclose(np.bincount(sizes, minlength=6)[1:] / 4000, mass / mass.sum(), atol=0.025)
  # Within a size, every gene equally likely.
  np.testing.assert_allclose(coalitions[sizes == 2, :6].mean(0), 2 / 6, atol=0.05)
  # Padding never changes a draw: the same key and K with a longer genome gives the same coalitions.
  longer = np.asarray(sample(jax.random.key(0), 4000, jnp.int32(6), length=16))
  np.testing.assert_array_equal(longer[:, :9], coalitions)


def test_additive_classifier_gives_its_shares(photo):
  image, labels = photo
  classifier, shares = additive(labels)
  exp = el.Search([image], classifier, strategy="kernelshap", segments=[labels], config=CONFIG, seeds=4
                  ).advance().explanations()[0]
  np.testing.assert_allclose(exp.importance, shares, atol=2e-5)
  assert exp.num_evaluations == CONFIG.num_evaluations


def _numpy_values(z: np.ndarray, y: np.ndarray, empty: float, full: float) -> np.ndarray:
  """The constrained least squares by elimination of the last value, in float64."""
  target = y - empty - z[:, -1] * (full - empty)
  design = z[:, :-1] - z[:, -1:]
  rest = np.linalg.lstsq(design, target, rcond=None)[0]
  return np.append(rest, (full - empty) - rest.sum())


def test_lime_drop_in_gives_the_values_and_the_empty_intercept(photo):
  from evojax_lime.compat import lime_image
  image, labels = photo
  classifier, shares = additive(labels)
  explanation = lime_image.LimeImageExplainer(random_state=0).explain_instance(
      image, classifier, labels=(0,), top_labels=None, hide_color=0, segmentation_fn=lambda _: labels,
      method="kernelshap", config=CONFIG)
  weights = dict(explanation.local_exp[0])
  np.testing.assert_allclose([weights[i] for i in range(len(shares))], shares, atol=2e-5)
  np.testing.assert_allclose(explanation.intercept[0], 0.1, atol=2e-5)  # p(class 0 | nothing shown)
  _, mask = explanation.get_image_and_mask(0, num_features=2)  # lime's reading: the two largest values
  np.testing.assert_array_equal(np.unique(labels[mask == 1]), np.sort(np.argsort(-shares)[:2]))


@pytest.mark.slow  # torch and captum's import, and a program of its own
def test_equals_captum_kernelshap_on_the_same_coalitions(photo):
  torch = pytest.importorskip("torch")
  attr = pytest.importorskip("captum.attr")
  image, labels = photo
  search = el.Search([image], nonlinear, strategy="kernelshap", segments=[labels], config=CONFIG, seeds=7)
  z, y = [], []
  while not search.done:  # a population at a time: every coalition the normal equations saw
    search.advance(1)
    state = jax.device_get(search.state.strategy)
    if search.steps <= CONFIG.generations + 1:
      z.append(state.samples[0]), y.append(state.probability[0])
  exp = search.explanations()[0]
  k = exp.num_segments
  coalitions, y = np.concatenate(z)[:, :k], np.concatenate(y).astype(np.float64)
  assert len(coalitions) == exp.num_evaluations == CONFIG.population_size * (CONFIG.generations + 1)
  assert coalitions[0].all() and not coalitions[1].any()  # the end points first, as captum's generator
  assert len({int(s) for s in coalitions[2:].sum(1)}) >= 4  # coalitions of many sizes, or this checks little
  full, empty = y[0], y[1]
  np.testing.assert_allclose(exp.importance.sum(), full - empty, atol=1e-5)  # efficiency, exactly
  np.testing.assert_allclose(exp.importance, _numpy_values(coalitions[2:].astype(np.float64), y[2:], empty, full),
                             atol=2e-5)

  def forward(x):
    return torch.from_numpy(np.array(nonlinear(jnp.asarray(x.permute(0, 2, 3, 1).numpy()))))

  def ours(*_, **__):  # captum's generator, drawing our coalitions in order
    for c in coalitions:
      yield torch.from_numpy(c[None].astype(np.int64))

  explainer = attr.KernelShap(forward)
  explainer.perturb_func = ours
  nchw = lambda a: torch.from_numpy(np.ascontiguousarray(np.asarray(a, np.float32).transpose(2, 0, 1)))[None]
  reference = explainer.attribute(nchw(exp.image), baselines=nchw(exp.fill), target=exp.target,
                                  feature_mask=torch.from_numpy(labels.astype(np.int64))[None, None],
                                  n_samples=len(coalitions), perturbations_per_eval=24, return_input_shape=False)
  reference = reference.double().numpy().reshape(-1)
  # captum weighs the end points 10^6 rather than constraining them exactly: agreement to 1e-4 absolute, the
  # values spanning more than 0.05.
  assert np.ptp(reference) > 0.05
  np.testing.assert_allclose(exp.importance, reference, atol=1e-4)


def test_constrained_values_pads_and_jits():
  rng = np.random.default_rng(0)
  z = (rng.random((40, 5)) < 0.5).astype(np.float32)
  y = rng.random(40).astype(np.float32)
  padded = np.zeros((40, 8), np.float32)
  padded[:, :5] = z
  real = np.arange(8) < 5
  args = (padded.T @ padded, padded.T @ y, padded.sum(0), np.float32(0.2), np.float32(0.9), real)
  for solve in (constrained_values, jax.jit(constrained_values)):
    values = np.asarray(solve(*args))
    chex.assert_shape(values, (8,))
    np.testing.assert_allclose(values[:5], _numpy_values(z.astype(np.float64), y, 0.2, 0.9), atol=2e-5)
    assert not values[5:].any()


def test_saved_and_resumed_equals_one_run_and_seeds_matter(photo, tmp_path):
  image, labels = photo
  run = lambda seed: el.Search([image], nonlinear, strategy="kernelshap", segments=[labels], config=CONFIG,
                               seeds=seed)  # the program of the captum test, from the cache
  whole = run(1).advance().explanations()[0]
  run(1).advance(2).save(tmp_path / "state")
  resumed = run(1).restore(tmp_path / "state").advance().explanations()[0]
  assert_identical(whole, resumed)
  assert whole.faithfulness is not None  # the answer is scored like the GA's
  assert not np.array_equal(whole.importance, run(2).advance().explanations()[0].importance)


def test_refuses_options_it_does_not_read(photo):
  image, labels = photo
  for option in ({"patience": 2}, {"tournament_size": 5}, {"seeding": "random"}, {"crossover_rate": 0.5}):
    with pytest.raises(ValueError, match="kernelshap strategy does not use"):
      el.Search([image], nonlinear, strategy="kernelshap", segments=[labels],
                config=el.ELimeConfig(fill="black", **option))
  with pytest.raises(ValueError, match="restarts are for the ga strategy"):
    el.Search([image], nonlinear, strategy="kernelshap", segments=[labels], restarts=2)
  assert KernelShap.from_config(el.ELimeConfig(population_size=10)).population_size == 10
