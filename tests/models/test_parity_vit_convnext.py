"""Flax ports of torchvision's Vision Transformers and ConvNeXts against torchvision itself.

Random weights with non-trivial LayerNorms, biases, class token, position embeddings and layer scales go through
``torch.save`` in both checkpoint formats (zip and legacy), the torch-free reader, the converter and
``check_shapes``, and must reproduce torch's logits: ViTs at their native 224 px, ConvNeXts at two resolutions
(one odd, so the strided patchify layers floor). ViT-L/16 and ConvNeXt-Base run at their widths but reduced depth
(the converters loop over blocks); every full-size architecture is checked key by key and shape by shape against
torchvision's own ``state_dict``, built on the meta device without allocating its weights.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is the parity reference")
torchvision = pytest.importorskip("torchvision", reason="torchvision is the parity reference")
from torchvision.models.convnext import CNBlockConfig  # noqa: E402

import models  # noqa: E402
from models import convnext, vit  # noqa: E402
from models._convert import CheckpointMismatchError, check_shapes  # noqa: E402
from models.torch_reader import load_torch_checkpoint  # noqa: E402
from tests.torch_reference import (ATOL, LOGIT_STD, assert_close, flax_logits, images,  # noqa: E402
                                   randomise_norms_and_embeddings, rescale_logits, torch_logits)

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it


def _torch_convnext(config: convnext.ConvNeXtConfig) -> "torch.nn.Module":
  widths = (*config.widths, None)
  setting = [CNBlockConfig(widths[s], widths[s + 1], depth) for s, depth in enumerate(config.depths)]
  return torchvision.models.convnext.ConvNeXt(setting)


def _torch_vit(config: vit.ViTConfig) -> "torch.nn.Module":
  return torchvision.models.VisionTransformer(
      image_size=config.image_size, patch_size=config.patch_size, num_layers=config.num_layers,
      num_heads=config.num_heads, hidden_dim=config.hidden_dim, mlp_dim=config.mlp_dim)


@dataclasses.dataclass(frozen=True)
class Case:
  """One architecture under test: the torch reference, our module and converter, and input sizes."""

  torch_model: Callable[[], "torch.nn.Module"]
  module: Callable[[], "object"]
  convert: Callable[[dict], dict]
  resolutions: tuple[int, ...]
  depthwise_impls: tuple[str, ...] = ()


def _torchvision(name: str) -> Callable[[], "torch.nn.Module"]:
  return lambda: getattr(torchvision.models, name)()


def _vit_case(config: vit.ViTConfig, name: str, torch_model=None) -> Case:
  return Case(torch_model or (lambda: _torch_vit(config)), lambda: vit.VisionTransformer(config=config),
              functools.partial(vit.convert_config, config=config, name=name), (224,))


def _convnext_case(config: convnext.ConvNeXtConfig, name: str, impls: tuple[str, str], torch_model=None) -> Case:
  return Case(torch_model or (lambda: _torch_convnext(config)), lambda: convnext.ConvNeXt(config=config),
              functools.partial(convnext.convert_config, config=config, name=name), (64, 77), impls)


L16_DEPTH2 = dataclasses.replace(vit.CONFIGS["vit_l_16"], num_layers=2)
B32_DEPTH2 = dataclasses.replace(vit.CONFIGS["vit_b_32"], num_layers=2)
BASE_SHALLOW = dataclasses.replace(convnext.CONFIGS["convnext_base"], depths=(1, 1, 2, 1))
CASES = {
    "vit_l_16 at depth 2": _vit_case(L16_DEPTH2, "vit_l_16 at depth 2"),
    "vit_b_32 at depth 2": _vit_case(B32_DEPTH2, "vit_b_32 at depth 2"),
    "convnext_tiny": _convnext_case(convnext.CONFIGS["convnext_tiny"], "convnext_tiny", ("grouped", "grouped"),
                                    _torchvision("convnext_tiny")),
    "convnext_base at depths 1-1-2-1": _convnext_case(BASE_SHALLOW, "convnext_base at depths 1-1-2-1",
                                                      ("taps", "grouped")),
}
# The full-size ViT-B/16 runs through models.create and Model.logits instead (normalisation included).
CREATED = "vit_b_16"
# ConvNeXt's depthwise convolutions run as shifted taps (the CPU default) in the shallow model and as XLA's
# grouped convolution (the accelerator default) elsewhere: both read the same variables, and the 49-tap sums of
# a full-depth model take several times longer to compile.


@functools.cache
def _reference(name: str, directory: str) -> tuple["torch.nn.Module", str]:
  """The seeded torch model for ``name`` and the path of its ``state_dict`` saved in the zip format."""
  torch.manual_seed(0)
  if name in CASES:
    model, size = CASES[name].torch_model(), CASES[name].resolutions[0]
  else:
    model, size = _torchvision(name)(), models.spec(name).input_size
  model.eval()
  randomise_norms_and_embeddings(model)
  rescale_logits(model, torch.from_numpy(images(size, seed=1).transpose(0, 3, 1, 2).copy()))
  path = f"{directory}/{name.replace(' ', '_')}.pth"
  torch.save(model.state_dict(), path)
  return model, path


@functools.cache
def _legacy(name: str, directory: str) -> str:
  """The same ``state_dict`` saved in torch's legacy (pre-1.6, non-zip) format."""
  path = f"{directory}/{name.replace(' ', '_')}_legacy.pth"
  torch.save(_reference(name, directory)[0].state_dict(), path, _use_new_zipfile_serialization=False)
  return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """``name -> (torch model, zip checkpoint)``, built once per module; ``.legacy(name)``: the legacy file."""
  directory = str(tmp_path_factory.mktemp("torchvision"))
  threads = torch.get_num_threads()
  torch.set_num_threads(1)  # see test_parity_torchvision: a second thread only spin-waits at batch 2
  get = functools.partial(_reference, directory=directory)
  get.legacy = functools.partial(_legacy, directory=directory)
  yield get
  torch.set_num_threads(threads)
  _reference.cache_clear()
  _legacy.cache_clear()


def _assert_same_variables(got: dict, want: dict) -> None:
  assert jax.tree_util.tree_structure(got) == jax.tree_util.tree_structure(want)
  for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name", list(CASES))
def test_float32_logits_match_torchvision(name, reference):
  model, zip_path = reference(name)
  case = CASES[name]
  module = case.module()
  size = case.resolutions[0]
  variables = check_shapes(case.convert(load_torch_checkpoint(zip_path)), module, (1, size, size, 3), name)
  _assert_same_variables(case.convert(load_torch_checkpoint(reference.legacy(name))), variables)
  for seed, resolution in enumerate(case.resolutions):
    x = images(resolution, seed)
    variant, what = module, f"{name} at {resolution}px"
    if case.depthwise_impls:
      impl = case.depthwise_impls[seed]
      variant, what = module.clone(depthwise_impl=impl), f"{what} ({impl} depthwise)"
    assert_close(flax_logits(variant, variables, x), torch_logits(model, x), atol=ATOL, what=what)


def test_create_matches_torchvision(reference):
  """models.create reads a full-size ViT-B/16 checkpoint and normalises [0, 1] images itself."""
  model, zip_path = reference(CREATED)
  ours = models.create(CREATED, zip_path)
  pixels = np.random.default_rng(2).uniform(size=(2, 224, 224, 3)).astype(np.float32)
  normalised = (pixels - np.float32(ours.mean)) / np.float32(ours.std)
  with jax.default_matmul_precision("highest"):
    got = np.asarray(ours.logits(pixels))
  assert_close(got, torch_logits(model, normalised), atol=ATOL, what=f"{CREATED} via models.create")


def test_msgpack_round_trip(reference, tmp_path):
  _, zip_path = reference("convnext_tiny")
  ours = models.create("convnext_tiny", zip_path)
  path = models.save_variables(tmp_path / "convnext_tiny.msgpack", ours)
  _assert_same_variables(models.create("convnext_tiny", path).variables, ours.variables)
  with pytest.raises(CheckpointMismatchError, match="holds variables for 'convnext_tiny', not convnext_small"):
    models.create("convnext_small", path)


@pytest.mark.parametrize("name", ["vit_l_16 at depth 2", "convnext_base at depths 1-1-2-1"])
def test_bfloat16_runs_close_to_float32(name, reference):
  """(ConvNeXt with the grouped depthwise convolution, as accelerators run it; MobileNet's bfloat16 test covers
  the taps.)"""
  _, zip_path = reference(name)
  case = CASES[name]
  variables = case.convert(load_torch_checkpoint(zip_path))
  x = images(case.resolutions[0], seed=0)
  module = case.module()
  if case.depthwise_impls:
    module = module.clone(depthwise_impl="grouped")
  want = flax_logits(module, variables, x)
  got = flax_logits(module.clone(dtype=jnp.bfloat16), variables, x)
  assert got.dtype == np.float32
  # bfloat16 keeps 8 mantissa bits; the error stays a small fraction of the logit spread.
  err = float(np.abs(got - want).max())
  assert err <= 0.1 * LOGIT_STD, f"{name} bfloat16: max |bf16 - f32| = {err:.3g}"


def _meta_state_dict(name: str) -> dict:
  """torchvision's ``state_dict`` for ``name`` as zero arrays of the right shapes, never materialising weights."""
  with torch.device("meta"):
    model = getattr(torchvision.models, name)()
  # np.zeros maps untouched zero pages: only what the converter copies is ever allocated.
  return {k: np.zeros(tuple(v.shape), np.float32) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", [*vit.CONFIGS, *convnext.CONFIGS])
def test_full_size_architecture_matches_torchvision_keys_and_shapes(name):
  spec = models.spec(name)
  variables = spec.convert(_meta_state_dict(name))  # raises on any missing or unexpected key
  shape = (1, spec.input_size, spec.input_size, 3)
  expected = jax.eval_shape(spec.build(jnp.float32).init, jax.random.PRNGKey(0),
                            jax.ShapeDtypeStruct(shape, jnp.float32))
  got = jax.tree_util.tree_map(np.shape, variables)
  assert got == jax.tree_util.tree_map(lambda a: a.shape, expected)


def test_vit_accepts_pre_0_13_mlp_keys(reference):
  """Checkpoints saved before torchvision 0.13 name the MLP ``linear_1``/``linear_2``; torchvision still loads
  them, and so do we, to exactly the same variables."""
  _, zip_path = reference("vit_l_16 at depth 2")
  current = load_torch_checkpoint(zip_path)
  legacy = {k.replace(".mlp.0.", ".mlp.linear_1.").replace(".mlp.3.", ".mlp.linear_2."): v for k, v in current.items()}
  assert "encoder.layers.encoder_layer_1.mlp.linear_2.bias" in legacy
  convert = CASES["vit_l_16 at depth 2"].convert
  _assert_same_variables(convert(legacy), convert(current))


def test_vit_rejects_other_image_sizes(reference):
  _, zip_path = reference("vit_l_16 at depth 2")
  case = CASES["vit_l_16 at depth 2"]
  variables = case.convert(load_torch_checkpoint(zip_path))
  with pytest.raises(ValueError, match=r"takes 224 x 224 images .* got 192 x 192"):
    jax.eval_shape(case.module().apply, variables, jax.ShapeDtypeStruct((1, 192, 192, 3), jnp.float32))


@pytest.mark.parametrize("checkpoint, target, named", [
    ("vit_l_16 at depth 2", "vit_l_16", ["missing keys", "encoder.layers.encoder_layer_2.ln_1.weight"]),
    ("convnext_tiny", "convnext_small", ["missing keys", "features.5.9.block.0.weight"]),
    ("convnext_tiny", "vit_b_16", ["missing keys", "conv_proj.weight", "unexpected keys", "features.0.0.weight"]),
])
def test_rejects_checkpoint_of_another_architecture(checkpoint, target, named, reference):
  _, zip_path = reference(checkpoint)
  with pytest.raises(CheckpointMismatchError) as err:
    models.spec(target).convert(load_torch_checkpoint(zip_path))
  for text in named:
    assert text in str(err.value)


def test_vit_b_16_widths_reject_vit_l_16_checkpoint(reference):
  """Same keys at depth 2, other widths: caught by the shape check, naming the offending variables."""
  _, zip_path = reference("vit_l_16 at depth 2")
  config = dataclasses.replace(vit.CONFIGS["vit_b_16"], num_layers=2)
  variables = vit.convert_config(load_torch_checkpoint(zip_path), config, name="vit_b_16 at depth 2")
  with pytest.raises(CheckpointMismatchError, match=r"mis-shaped: params/class_token \(1, 1, 1024\) != \(1, 1, 768\)"):
    check_shapes(variables, vit.VisionTransformer(config=config), (1, 224, 224, 3), "vit_b_16 at depth 2")
