"""Segmentation inside the compiled program gives what host segmentation with the same labels gives."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from skimage import data

import evojax_lime as el
from evojax_lime.segmentation.superpixels import grid_segments, segment
from tests.engine.test_explain import TinyCNN

CFG = el.ELimeConfig(population_size=12, generations=4, segmentation="slic_jax", fill="mean",
                     segmentation_params={"n_segments": 30})
QUICKSHIFT = dataclasses.replace(CFG, segmentation="quickshift_jax", segmentation_params=())


@pytest.fixture(scope="module")
def setup():
  photos = [np.asarray(Image.fromarray(getattr(data, n)()).resize((48, 40))) for n in ("chelsea", "coffee")]
  module = TinyCNN()
  variables = module.init(jax.random.PRNGKey(0), jnp.zeros((1, 40, 48, 3)))
  return photos, jax.tree_util.Partial(lambda v, x: jax.nn.softmax(module.apply(v, x)), variables)


@pytest.mark.parametrize("config", [CFG, QUICKSHIFT], ids=["slic_jax", "quickshift_jax"])
def test_in_program_equals_host_labels(setup, config):
  photos, clf = setup
  exp = el.explain(photos[0], clf, config=config, seed=4)
  labels = segment(exp.image, config.segmentation, dict(config.segmentation_params))
  np.testing.assert_array_equal(exp.labels, labels)
  assert exp.num_segments == int(labels.max()) + 1 >= 2
  host = el.explain(photos[0], clf, segments=labels, config=dataclasses.replace(config, segmentation="grid"), seed=4)
  assert exp.target == host.target
  assert exp.original_probability == pytest.approx(host.original_probability, abs=1e-6)
  np.testing.assert_allclose(exp.fill, host.fill, atol=1e-6)
  np.testing.assert_array_equal(exp.genome, host.genome)
  np.testing.assert_allclose(exp.fitness_history, host.fitness_history, atol=1e-6)


def test_in_program_batch_equals_one_by_one(setup):
  photos, clf = setup
  batch = el.explain_batch(photos, clf, config=CFG, seeds=[1, 2], targets=[None, 3])
  assert batch[1].target == 3
  for photo, seed, target, got in zip(photos, [1, 2], [None, 3], batch):
    alone = el.explain(photo, clf, config=CFG, seed=seed, target=target)
    np.testing.assert_array_equal(alone.labels, got.labels)
    np.testing.assert_array_equal(alone.genome, got.genome)
    np.testing.assert_allclose(alone.fitness_history, got.fitness_history, atol=1e-6)


def test_in_program_baseline_and_errors(setup):
  photos, clf = setup
  baseline = np.full((40, 48, 3), 0.5, np.float32)
  exp = el.explain(photos[0], clf, config=CFG, baseline=baseline)
  assert (exp.masked_image()[~exp.mask()] == 0.5).all()
  with pytest.raises(ValueError, match="target"):
    el.explain(photos[0], clf, config=CFG, target=10)
  with pytest.raises(ValueError, match="segmentation_params"):
    el.explain(photos[0], clf, config=dataclasses.replace(CFG, segmentation_params={"bogus": 1}))


def test_in_program_single_superpixel_is_the_host_error(setup):
  _, clf = setup
  flat = np.full((40, 48, 3), 0.3, np.float32)  # quickshift finds one region
  for config in (QUICKSHIFT, dataclasses.replace(QUICKSHIFT, segmentation="quickshift")):
    with pytest.raises(ValueError, match="fewer than 2 superpixels"):
      el.explain(flat, clf, config=config)


def test_given_segments_are_used_with_an_in_program_config(setup):
  photos, clf = setup
  grid = grid_segments(40, 48, 6)
  exp = el.explain(photos[0], clf, segments=grid, config=QUICKSHIFT, seed=1)
  np.testing.assert_array_equal(exp.labels, grid)
  # One image with a label map, one without: the latter is cut on the host with the same quickshift.
  batch = el.explain_batch(photos, clf, segments=[grid, None], config=QUICKSHIFT, seeds=[1, 2])
  np.testing.assert_array_equal(batch[0].labels, grid)
  np.testing.assert_array_equal(batch[1].labels, segment(batch[1].image, "quickshift_jax"))
