"""EfficientNet-Lite in Flax: parity with ``efficientnet_lite_pytorch``, real predictions, bfloat16.

Photos are fed as the Model API documents: PIL bicubic resize of the shorter side to ``input_size``, centre crop
to a square, RGB in ``[0, 1]``; the model normalises them itself.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import skimage.data
from PIL import Image

import models
from models import efficientnet_lite
from models._convert import check_shapes
from models.torch_reader import load_torch_checkpoint
from tests.torch_reference import randomise_batch_norm

ATOL = 1e-4
LOGIT_STD = 3.0
CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = (504, 967, 968)  # coffee mug, espresso, cup


def _photo(image: np.ndarray, size: int) -> np.ndarray:
  """Shorter side resized to ``size`` (bicubic), centre-cropped square, float32 RGB in ``[0, 1]``."""
  im = Image.fromarray(image)
  scale = size / min(im.size)
  im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BICUBIC)
  left, top = (im.width - size) // 2, (im.height - size) // 2
  return np.asarray(im.crop((left, top, left + size, top + size)), np.float32) / 255.0


@functools.cache
def _photos(size: int) -> np.ndarray:
  return np.stack([_photo(skimage.data.chelsea(), size), _photo(skimage.data.coffee(), size)])


@pytest.fixture(scope="module")
def lite0():
  return models.create("efficientnet_lite0", "pretrained")


def test_pretrained_lite0_recognises_photos(lite0):
  probs = lite0.predict(_photos(lite0.input_size))
  cat, coffee = probs.argmax(axis=1)
  assert cat in CATS, lite0.class_names[cat]
  assert coffee in COFFEE, lite0.class_names[coffee]
  assert probs[1, coffee] > 0.5


def test_tf_lite_normalisation():
  """The TF Lite checkpoints expect (x * 255 - 127) / 128, not ImageNet mean/std (stem BN statistics agree)."""
  spec = efficientnet_lite.SPECS["efficientnet_lite0"]
  np.testing.assert_allclose(spec.mean, (127 / 255,) * 3)
  np.testing.assert_allclose(spec.std, (128 / 255,) * 3)
  assert [s.input_size for s in efficientnet_lite.SPECS.values()] == [224, 240, 260]


def test_bfloat16_stays_close_to_float32(lite0):
  lite0_bf16 = models.create("efficientnet_lite0", lite0.variables, dtype=jnp.bfloat16)
  photos = _photos(lite0.input_size)
  p32, p16 = lite0.predict(photos), lite0_bf16.predict(photos)
  assert p16.dtype == np.float32 and lite0_bf16.logits(photos).dtype == jnp.float32
  np.testing.assert_array_equal(p16.argmax(axis=1), p32.argmax(axis=1))
  assert np.abs(p16 - p32).max() < 0.05


@pytest.mark.parametrize("size,kernel,stride,want", [
    (224, 3, 2, (0, 1)), (224, 5, 2, (1, 2)), (225, 3, 2, (1, 1)), (7, 5, 1, (2, 2)), (1, 3, 2, (1, 1))])
def test_tf_same_padding(size, kernel, stride, want):
  assert efficientnet_lite._same_padding(size, kernel, stride) == want


@pytest.mark.parametrize("name,blocks", [("efficientnet_lite0", 16), ("efficientnet_lite1", 21),
                                         ("efficientnet_lite2", 21)])
def test_block_counts(name, blocks):
  v = efficientnet_lite._VARIANTS[name]
  assert len(efficientnet_lite._blocks(v.width, v.depth)) == blocks


# --- parity with the torch reference ---------------------------------------------------------------------------

def _reference_package():
  pytest.importorskip("torch", reason="efficientnet_lite_pytorch (torch) is the parity reference")
  return pytest.importorskip("efficientnet_lite_pytorch", reason="the parity reference")


def _torch_logits(model, images: np.ndarray) -> np.ndarray:
  import torch  # pylint: disable=import-outside-toplevel
  with torch.no_grad():
    return model(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()


def _flax_logits(name: str, state_dict, images: np.ndarray, **options) -> np.ndarray:
  spec = efficientnet_lite.SPECS[name]
  module = spec.build(jnp.float32).clone(**options)
  variables = check_shapes(spec.convert(state_dict), module, (1, *images.shape[1:]), name)
  with jax.default_matmul_precision("highest"):
    return np.asarray(jax.jit(module.apply)(variables, jnp.asarray(images)))


def _assert_close(got: np.ndarray, want: np.ndarray, what: str) -> None:
  assert got.shape == want.shape and got.dtype == np.float32, what
  assert want.std() > 0.5, f"{what}: reference logits too small for the tolerance to mean anything"
  err = float(np.abs(got - want).max())
  assert err <= ATOL, f"{what}: max |flax - torch| = {err:.3g} > {ATOL:g}"


def _normalised(size: int, seed: int) -> np.ndarray:
  return np.random.default_rng(seed).standard_normal((2, size, size, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def lite0_pretrained_state():
  return load_torch_checkpoint(efficientnet_lite.SPECS["efficientnet_lite0"].pretrained())


@pytest.mark.parametrize("resolution,impl", [(224, "auto"), (192, "auto"), (224, "grouped")])
def test_pretrained_lite0_matches_reference(lite0_pretrained_state, resolution, impl):
  import torch  # pylint: disable=import-outside-toplevel
  package = _reference_package()
  # The reference bakes its padding in at construction ("static same padding"), so build it for this size.
  reference = package.EfficientNet.from_name("efficientnet-lite0", image_size=resolution).eval()
  reference.load_state_dict({k: torch.from_numpy(v) for k, v in lite0_pretrained_state.items()})
  images = _normalised(resolution, seed=resolution)
  got = _flax_logits("efficientnet_lite0", lite0_pretrained_state, images, depthwise_impl=impl)
  _assert_close(got, _torch_logits(reference, images), f"lite0 {resolution}px {impl}")


@pytest.mark.parametrize("name,resolution", [("efficientnet_lite1", 67), ("efficientnet_lite2", 64)])
def test_random_lite12_match_reference(tmp_path, name, resolution):
  """Random weights (non-trivial BatchNorm statistics) through torch.save, the reader and the converter."""
  import torch  # pylint: disable=import-outside-toplevel
  package = _reference_package()
  torch.manual_seed(0)
  reference = package.EfficientNet.from_name(name.replace("_", "-"), image_size=resolution).eval()
  randomise_batch_norm(reference)
  with torch.no_grad():
    images = _normalised(resolution, seed=1)
    reference._fc.weight.mul_(LOGIT_STD / float(_torch_logits(reference, images).std()))
  path = tmp_path / f"{name}.pth"
  torch.save(reference.state_dict(), path)
  got = _flax_logits(name, load_torch_checkpoint(path), images)
  _assert_close(got, _torch_logits(reference, images), f"{name} {resolution}px")
