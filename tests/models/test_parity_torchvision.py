"""Flax ports of torchvision ResNet, DenseNet and MobileNet against torchvision itself.

Each architecture gets random weights with non-trivial BatchNorm statistics, goes through ``torch.save``, the
torch-free reader, the converter and ``check_shapes``, and must reproduce torch's logits at two resolutions (one
odd, so strided layers and pools see their floor/padding edge cases).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is the parity reference")
torchvision = pytest.importorskip("torchvision", reason="torchvision is the parity reference")

from models import densenet, mobilenet, resnet  # noqa: E402
from models._convert import CheckpointMismatchError, check_shapes  # noqa: E402
from models.torch_reader import load_torch_checkpoint  # noqa: E402
from tests.torch_reference import ATOL, LOGIT_STD, randomise_batch_norm
from tests.torch_reference import assert_close as _assert_close
from tests.torch_reference import flax_logits as _logits
from tests.torch_reference import images as _images
from tests.torch_reference import rescale_logits as _rescale_logits
from tests.torch_reference import torch_logits as _torch_logits

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it

SPECS = {**resnet.SPECS, **densenet.SPECS, **mobilenet.SPECS}
RESOLUTIONS = (64, 77)


@functools.cache
def _reference(name: str, directory: str) -> tuple["torch.nn.Module", str]:
  """The seeded torchvision model ``name`` in eval mode, and the path of its saved ``state_dict``."""
  torch.manual_seed(0)
  model = getattr(torchvision.models, name)().eval()
  randomise_batch_norm(model)
  _rescale_logits(model, torch.from_numpy(_images(RESOLUTIONS[0], seed=1).transpose(0, 3, 1, 2).copy()))
  path = f"{directory}/{name}.pth"
  torch.save(model.state_dict(), path)
  return model, path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """``name -> (torch model, checkpoint path)``, each built once per module."""
  directory = str(tmp_path_factory.mktemp("torchvision"))
  # At batch 2 torch's second thread only spin-waits, and on a busy 2-core machine that costs seconds per model.
  threads = torch.get_num_threads()
  torch.set_num_threads(1)
  yield lambda name: _reference(name, directory)
  torch.set_num_threads(threads)
  _reference.cache_clear()  # the torch models hold about 1 GB


def _flax(name: str, path: str, *, dtype=jnp.float32, **options):
  """``(module, variables)`` for ``name`` with its checkpoint read by the torch-free reader."""
  spec = SPECS[name]
  module = spec.build(dtype)
  if options:
    module = module.clone(**options)
  variables = check_shapes(spec.convert(load_torch_checkpoint(path)), module, (1, 64, 64, 3), name)
  return module, variables


# One architecture of each block kind meets both resolutions; the deeper variants repeat the same blocks (their
# own layer counts and weight names are what they add), so one resolution checks them at half the compiles.
BOTH_RESOLUTIONS = ("resnet18", "resnet50", "densenet121", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small")
# The deepest variants add only more of the blocks resnet50 and densenet121 check above: what they can get wrong
# (the block counts, hence the weight names) fails their conversion or shape check, without a forward.
SHAPES_ONLY = ("resnet101", "resnet152", "densenet169", "densenet201")


@pytest.mark.parametrize("name", SHAPES_ONLY)
def test_deepest_variants_convert_to_every_shape(name, tmp_path):
  torch.manual_seed(0)
  model = getattr(torchvision.models, name)()  # default weights: conversion never looks at the values
  path = str(tmp_path / f"{name}.pth")
  torch.save(model.state_dict(), path)
  _, variables = _flax(name, path)  # every Flax variable filled from a torch weight, its shape checked
  torch_values = sum(v.numel() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))
  assert sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(variables)) == torch_values  # each used once


@pytest.mark.parametrize("name", sorted(set(SPECS) - set(SHAPES_ONLY)))
def test_float32_logits_match_torchvision(name, reference):
  model, path = reference(name)
  module, variables = _flax(name, path)
  for seed, resolution in enumerate(RESOLUTIONS if name in BOTH_RESOLUTIONS else RESOLUTIONS[:1]):
    images = _images(resolution, seed)
    _assert_close(_logits(module, variables, images), _torch_logits(model, images), atol=ATOL,
                  what=f"{name} at {resolution}px")


@pytest.mark.parametrize("name", sorted(mobilenet.SPECS))
def test_grouped_depthwise_matches_torchvision(name, reference):
  """The XLA grouped-convolution path (the default on accelerators) reads the same variables and agrees too."""
  model, path = reference(name)
  module, variables = _flax(name, path, depthwise_impl="grouped")
  images = _images(RESOLUTIONS[1], seed=3)
  _assert_close(_logits(module, variables, images), _torch_logits(model, images), atol=ATOL, what=f"{name} grouped")


# The bfloat16 path is the same dtype plumbing in every port; one architecture checks it (the others' float32
# parity above and tests/models/test_efficientnet_lite.py's bfloat16 check cover the rest).
@pytest.mark.parametrize("name", ["resnet18"])
def test_bfloat16_runs_close_to_float32(name, reference):
  _, path = reference(name)
  images = _images(RESOLUTIONS[0], seed=0)
  module32, variables = _flax(name, path)
  module16, variables16 = _flax(name, path, dtype=jnp.bfloat16)
  assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(variables16))
  want, got = _logits(module32, variables, images), _logits(module16, variables16, images)
  assert got.dtype == np.float32
  # bfloat16 keeps 8 mantissa bits; errors compound over depth but stay a small fraction of the logit spread.
  err = float(np.abs(got - want).max())
  assert err <= 0.1 * LOGIT_STD, f"{name} bfloat16: max |bf16 - f32| = {err:.3g}"


def test_densenet_accepts_legacy_keys(reference):
  """Old checkpoints spell ``norm1`` as ``norm.1``; they convert to exactly the same variables."""
  _, path = reference("densenet121")
  current = load_torch_checkpoint(path)
  legacy = {key.replace(".norm1.", ".norm.1.").replace(".conv1.", ".conv.1.").replace(".norm2.", ".norm.2.")
            .replace(".conv2.", ".conv.2."): value for key, value in current.items()}
  assert "features.denseblock1.denselayer1.norm.1.running_var" in legacy
  want, got = densenet.convert(current, name="densenet121"), densenet.convert(legacy, name="densenet121")
  assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
  for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("target, named", [
    ("resnet34", ["missing keys", "layer1.2.conv1.weight"]),
    ("resnet50", ["missing keys", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight"]),
    ("mobilenet_v2", ["missing keys", "features.0.0.weight", "unexpected keys", "conv1.weight"]),
])
def test_rejects_checkpoint_of_another_architecture(target, named, reference):
  _, path = reference("resnet18")
  with pytest.raises(CheckpointMismatchError) as err:
    SPECS[target].convert(load_torch_checkpoint(path))
  for text in named:
    assert text in str(err.value)


def test_rejects_mis_shaped_checkpoint(tmp_path):
  torch.manual_seed(0)
  path = tmp_path / "resnet18_10.pth"
  torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), path)
  variables = resnet.SPECS["resnet18"].convert(load_torch_checkpoint(path))
  with pytest.raises(CheckpointMismatchError, match=r"mis-shaped: params/fc/bias \(10,\) != \(1000,\)"):
    check_shapes(variables, resnet.SPECS["resnet18"].build(jnp.float32), (1, 64, 64, 3), "resnet18")
