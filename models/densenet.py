"""torchvision DenseNet-121/161/169/201 (DenseNet-BC, ``bn_size`` 4) in Flax."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models._blocks import ConvBN, VariableTree, batch_norm, conv, family_specs, global_avg_pool, max_pool_3x3_s2
from models._convert import StateDict
from models._spec import ModelSpec

_EPS = 1e-5
_BN_SIZE = 4

# Old DenseNet checkpoints name a dense layer's modules "norm.1", "conv.2", ...; torchvision's _load_state_dict
# renames them with this pattern before loading, and so do we.
_LEGACY_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


@dataclasses.dataclass(frozen=True)
class DenseNetConfig:
  """One depth of the family.

  Attributes:
    growth_rate: channels each dense layer adds (``k`` in the paper).
    block_config: dense layers in each of the four blocks.
    num_init_features: channels of the stem convolution.
  """

  growth_rate: int
  block_config: tuple[int, int, int, int]
  num_init_features: int


CONFIGS = {
    "densenet121": DenseNetConfig(32, (6, 12, 24, 16), 64),
    "densenet161": DenseNetConfig(48, (6, 12, 36, 24), 96),
    "densenet169": DenseNetConfig(32, (6, 12, 32, 32), 64),
    "densenet201": DenseNetConfig(32, (6, 12, 48, 32), 64),
}


def _norm_relu_conv(x: jax.Array, features: int, kernel_size: int, *, suffix: str, dtype: Any) -> jax.Array:
  """Pre-activation ``BatchNorm -> ReLU -> Conv``, named ``norm{suffix}``/``conv{suffix}`` in the calling module."""
  x = nn.relu(batch_norm(eps=_EPS, dtype=dtype, name=f"norm{suffix}")(x))
  return conv(features, kernel_size, dtype=dtype, name=f"conv{suffix}")(x)


class _DenseLayer(nn.Module, kw_only=True):
  """``(N, H, W, C) -> (N, H, W, growth_rate)``: 1x1 bottleneck to ``bn_size * growth_rate``, then 3x3."""

  growth_rate: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = _norm_relu_conv(x, _BN_SIZE * self.growth_rate, 1, suffix="1", dtype=self.dtype)
    return _norm_relu_conv(x, self.growth_rate, 3, suffix="2", dtype=self.dtype)


class DenseBlock(nn.Module, kw_only=True):
  """torchvision ``_DenseBlock``: ``(N, H, W, C) -> (N, H, W, C + num_layers * growth_rate)``.

  Variables: ``denselayer{m}`` (m from 1) holding ``norm1, conv1, norm2, conv2``.

  Attributes:
    num_layers: dense layers; each sees the concatenation of the input and all earlier layers' outputs.
    growth_rate: channels each layer adds.
    dtype: computation dtype.
  """

  num_layers: int
  growth_rate: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for m in range(1, self.num_layers + 1):
      y = _DenseLayer(growth_rate=self.growth_rate, dtype=self.dtype, name=f"denselayer{m}")(x)
      x = jnp.concatenate([x, y], axis=-1)
    return x


class _Transition(nn.Module, kw_only=True):
  """``(N, H, W, C) -> (N, H // 2, W // 2, features)``: norm, relu, 1x1 conv, 2x2 average pool (floor sizes)."""

  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = _norm_relu_conv(x, self.features, 1, suffix="", dtype=self.dtype)
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


class DenseNet(nn.Module, kw_only=True):
  """torchvision ``DenseNet``: normalised ``(N, H, W, 3)`` images -> ``(N, num_classes)`` float32 logits.

  Variables: ``stem`` (conv0 + norm0), ``denseblock{i}`` (:class:`DenseBlock`), ``transition{i}`` (``norm``,
  ``conv``), ``norm5``, ``classifier``.

  Attributes:
    config: depth of the family.
    num_classes: size of the output layer.
    dtype: computation dtype (parameters stay float32).
  """

  config: DenseNetConfig
  num_classes: int = 1000
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    cfg = self.config
    x = x.astype(self.dtype)
    x = ConvBN(features=cfg.num_init_features, kernel_size=7, stride=2, eps=_EPS, act=nn.relu, dtype=self.dtype,
               name="stem")(x)
    x = max_pool_3x3_s2(x)
    for i, num_layers in enumerate(cfg.block_config, start=1):
      x = DenseBlock(num_layers=num_layers, growth_rate=cfg.growth_rate, dtype=self.dtype, name=f"denseblock{i}")(x)
      if i < len(cfg.block_config):
        x = _Transition(features=x.shape[-1] // 2, dtype=self.dtype, name=f"transition{i}")(x)
    x = nn.relu(batch_norm(eps=_EPS, dtype=self.dtype, name="norm5")(x))
    x = nn.Dense(self.num_classes, dtype=self.dtype, name="classifier")(global_avg_pool(x))
    return x.astype(jnp.float32)


def normalize_legacy_keys(state_dict: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Renames old-style dense-layer keys (``...denselayer1.norm.1.weight``) to current ones (``...norm1.weight``)."""
  out = {}
  for key, value in state_dict.items():
    match = _LEGACY_KEY.match(key)
    out[match.group(1) + match.group(2) if match else key] = value
  return out


def _convert_norm_conv(tree: VariableTree, path: str, key: str, suffix: str) -> None:
  """The ``norm{suffix}``/``conv{suffix}`` pair that :func:`_norm_relu_conv` makes in the module at ``path``."""
  tree.batch_norm(f"{path}/norm{suffix}", f"{key}.norm{suffix}")
  tree.conv(f"{path}/conv{suffix}", f"{key}.conv{suffix}")


def convert(state_dict: Mapping[str, np.ndarray], *, name: str) -> dict:
  """torchvision DenseNet ``state_dict`` (current or legacy keys) -> variables of ``DenseNet(config=CONFIGS[name])``.

  Raises:
    CheckpointMismatchError: listing missing and unexpected keys.
  """
  config = CONFIGS[name]
  sd = StateDict(normalize_legacy_keys(state_dict))
  tree = VariableTree(sd)
  tree.conv_bn("stem", "features.conv0", "features.norm0")
  for i, num_layers in enumerate(config.block_config, start=1):
    for m in range(1, num_layers + 1):
      for suffix in ("1", "2"):
        _convert_norm_conv(tree, f"denseblock{i}/denselayer{m}", f"features.denseblock{i}.denselayer{m}", suffix)
    if i < len(config.block_config):
      _convert_norm_conv(tree, f"transition{i}", f"features.transition{i}", "")
  tree.batch_norm("norm5", "features.norm5")
  tree.dense("classifier", "classifier")
  sd.finish(name)
  return tree.variables()


SPECS: dict[str, ModelSpec] = family_specs(DenseNet, CONFIGS, convert)
