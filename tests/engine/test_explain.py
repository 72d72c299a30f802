"""explain() end to end: a small Flax CNN on a real photo, host classifiers, logits."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from skimage import data

import evojax_lime as el


class TinyCNN(nn.Module):
  num_classes: int = 10

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(8, (3, 3), strides=2)(x))
    x = nn.relu(nn.Conv(16, (3, 3), strides=2)(x))
    return nn.Dense(self.num_classes)(x.mean((1, 2)))


@pytest.fixture(scope="module")
def photo():
  return np.asarray(Image.fromarray(data.chelsea()).resize((64, 48)))


@pytest.fixture(scope="module")
def cnn():
  module = TinyCNN()
  variables = module.init(jax.random.PRNGKey(0), jnp.zeros((1, 48, 64, 3)))
  logits_fn = lambda x: module.apply(variables, x)
  return logits_fn, lambda x: jax.nn.softmax(logits_fn(x))


def test_small_cnn_on_real_photo(photo, cnn):
  _, probs = cnn
  config = el.ELimeConfig(population_size=16, generations=5, fill="black", patience=None)
  exp = el.explain(photo, probs, config=config, seed=0)
  k = exp.num_segments
  assert k >= 2 and exp.labels.shape == (48, 64)
  assert exp.genome.shape == (k,) and exp.importance.shape == (k,)
  assert ((exp.importance >= 0) & (exp.importance <= 1)).all()
  assert exp.target == int(np.argmax(probs(jnp.asarray(photo / 255.0, jnp.float32)[None])[0]))
  assert exp.num_evaluations == 16 * 6
  assert exp.mask().shape == (48, 64)
  masked = exp.masked_image()
  np.testing.assert_array_equal(masked[exp.mask()], exp.image[exp.mask()])
  assert (masked[~exp.mask()] == 0).all()  # black fill
  # The reported probability is the classifier's on the rendered explanation.
  p = float(probs(jnp.asarray(masked)[None])[0, exp.target])
  assert abs(p - exp.explanation_probability) < 1e-5
  assert exp.best_fitness == pytest.approx(p - config.parsimony * len(exp.selected) / k, abs=1e-5)
  assert exp.wall_time >= exp.evolve_time > 0
  summary = exp.summary()
  assert summary["selected"] == exp.selected.tolist()


def test_logits_flag_equals_probabilities(photo, cnn):
  logits, probs = cnn
  config = el.ELimeConfig(population_size=8, generations=3, segmentation="grid")
  a = el.explain(photo, probs, config=config, seed=1)
  b = el.explain(photo, logits, config=config, seed=1, logits=True)
  np.testing.assert_array_equal(a.genome, b.genome)
  np.testing.assert_allclose(a.fitness_history, b.fitness_history, atol=1e-6)


def test_host_classifier_matches_jax(photo, cnn):
  _, probs = cnn
  host = el.host_classifier(lambda x: np.asarray(probs(jnp.asarray(x))), num_classes=10)
  config = el.ELimeConfig(population_size=8, generations=3, segmentation="grid", chunk_size=4)
  a = el.explain(photo, probs, config=config, seed=2)
  b = el.explain(photo, host, config=config, seed=2)
  np.testing.assert_array_equal(a.genome, b.genome)
  np.testing.assert_allclose(a.fitness_history, b.fitness_history, atol=1e-6)


@pytest.mark.parametrize("fill", ["black", "mean", "image_mean", "blur"])
def test_every_fill_runs(photo, cnn, fill):
  _, probs = cnn
  exp = el.explain(photo, probs, config=el.ELimeConfig(population_size=8, generations=2, segmentation="grid",
                                                       fill=fill), seed=0)
  hidden = ~exp.mask()
  np.testing.assert_array_equal(exp.masked_image()[hidden], exp.fill[hidden])


def test_baseline_image(photo, cnn):
  _, probs = cnn
  baseline = np.full(photo.shape, 0.5, np.float32)
  exp = el.explain(photo, probs, config=el.ELimeConfig(population_size=8, generations=2, segmentation="grid"),
                   baseline=baseline)
  assert (exp.masked_image()[~exp.mask()] == 0.5).all()


def test_bfloat16_evaluation_is_close(photo, cnn):
  _, probs = cnn
  cfg = el.ELimeConfig(population_size=8, generations=2, segmentation="grid")
  import dataclasses
  a = el.explain(photo, probs, config=cfg, seed=0)
  b = el.explain(photo, probs, config=dataclasses.replace(cfg, dtype="bfloat16"), seed=0)
  assert abs(a.fitness_history[0] - b.fitness_history[0]) < 0.02
