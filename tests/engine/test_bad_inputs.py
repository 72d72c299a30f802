"""Each bad input raises a ValueError that says what was wrong."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el

CFG = el.ELimeConfig(population_size=4, generations=1, segmentation="grid", fill="black")
IMG = np.random.default_rng(0).uniform(size=(16, 16, 3)).astype(np.float32)


def probs(x):
  return jax.nn.softmax(jnp.stack([x.mean((1, 2, 3)), 1 - x.mean((1, 2, 3)), jnp.zeros(x.shape[0])], -1), -1)


@pytest.mark.parametrize("image, match", [
    (np.zeros((16, 16, 5)), r"\(H, W, 3\)"),
    (np.zeros((4, 16, 16, 3)), r"\(H, W, 3\)"),
    (np.full((16, 16, 3), np.nan), "NaN"),
    (np.full((16, 16, 3), 2.0), r"\[0, 1\]"),
    (np.array([["a"]]), "numeric"),
    (np.zeros((1, 16, 3)), "at least 2 x 2"),
])
def test_bad_images(image, match):
  with pytest.raises(ValueError, match=match):
    el.explain(image, probs, config=CFG)


def test_grayscale_and_rgba_are_converted():
  gray = (IMG[..., 0] * 255).astype(np.uint8)
  rgba = np.concatenate([IMG, np.ones((16, 16, 1), np.float32)], -1)
  assert el.explain(gray, probs, config=CFG).image.shape == (16, 16, 3)
  np.testing.assert_array_equal(el.explain(rgba, probs, config=CFG).image, IMG)


def test_fewer_than_two_superpixels():
  with pytest.raises(ValueError, match="fewer than 2 superpixels"):
    el.explain(IMG, probs, segments=np.zeros((16, 16), int), config=CFG)


def test_segments_of_wrong_shape():
  with pytest.raises(ValueError, match="does not match"):
    el.explain(IMG, probs, segments=np.zeros((8, 8), int), config=CFG)


@pytest.mark.parametrize("target", [3, -1, 1.5, "cat"])
def test_target_out_of_range(target):
  with pytest.raises(ValueError, match="target"):
    el.explain(IMG, probs, target=target, config=CFG)


@pytest.mark.parametrize("clf, match", [
    (lambda x: x.mean((1, 2, 3)), r"\(N, C\)"),
    (lambda x: jnp.ones((x.shape[0], 3, 2)), r"\(N, C\)"),
    (lambda x: jnp.full((x.shape[0], 3), jnp.nan), "NaN"),
    (lambda x: jnp.full((x.shape[0], 3), 5.0), "logits=True"),
])
def test_bad_classifier_output(clf, match):
  with pytest.raises(ValueError, match=match):
    el.explain(IMG, clf, config=CFG)


def test_nan_on_masked_images():
  # Fine on the full image, NaN as soon as anything is hidden (black pixels appear).
  def clf(x):
    bad = (x.sum(-1) == 0).any((1, 2))
    p = probs(x)
    return jnp.where(bad[:, None], jnp.nan, p)
  with pytest.raises(ValueError, match="masked image"):
    el.explain(IMG, clf, config=CFG)


@pytest.mark.parametrize("kwargs, match", [
    ({"population_size": 1}, "population_size"),
    ({"generations": -1}, "generations"),
    ({"crossover_rate": 1.5}, "crossover_rate"),
    ({"mutation_rate": -0.1}, "mutation_rate"),
    ({"num_elite": 4, "population_size": 4}, "num_elite"),
    ({"crossover": "three_point"}, "crossover"),
    ({"fill": "pink"}, "fill"),
    ({"segmentation": "watershed"}, "segmentation"),
    ({"parsimony": float("nan")}, "parsimony"),
    ({"tournament_size": 0}, "tournament_size"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"dtype": "float16"}, "dtype"),
])
def test_nonsensical_config(kwargs, match):
  with pytest.raises(ValueError, match=match):
    el.ELimeConfig(**kwargs)


def test_bad_seed_and_baseline_and_params():
  with pytest.raises(ValueError, match="seed"):
    el.explain(IMG, probs, config=CFG, seed="x")
  with pytest.raises(ValueError, match="baseline"):
    el.explain(IMG, probs, config=CFG, baseline=np.zeros((4, 4, 3)))
  with pytest.raises(ValueError, match="segmentation_params"):
    el.explain(IMG, probs, config=el.ELimeConfig(segmentation="grid", segmentation_params={"bogus": 1}))
  with pytest.raises(ValueError, match="genome_length"):
    el.explain(IMG, probs, config=el.ELimeConfig(segmentation="grid", genome_length=4))
