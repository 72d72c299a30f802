"""torchvision ResNet-18/34/50/101/152 (v1.5: a Bottleneck strides on its 3x3 convolution) in Flax."""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models._blocks import ConvBN, VariableTree, family_specs, global_avg_pool, max_pool_3x3_s2
from models._convert import StateDict
from models._spec import ModelSpec

_EPS = 1e-5
_WIDTHS = (64, 128, 256, 512)


@dataclasses.dataclass(frozen=True)
class ResNetConfig:
  """One depth of the family.

  Attributes:
    layers: residual blocks in each of the four stages.
    bottleneck: Bottleneck (1x1, 3x3, 1x1, expansion 4) instead of BasicBlock (3x3, 3x3, expansion 1) blocks.
  """

  layers: tuple[int, int, int, int]
  bottleneck: bool

  @property
  def expansion(self) -> int:
    return 4 if self.bottleneck else 1

  @property
  def convs_per_block(self) -> int:
    return 3 if self.bottleneck else 2

  def blocks(self):
    """Yields ``(stage, index, width, stride, has_downsample)`` per block, stages numbered from 1 as torch."""
    in_features = 64
    for stage, (num_blocks, width) in enumerate(zip(self.layers, _WIDTHS), start=1):
      for index in range(num_blocks):
        stride = 2 if stage > 1 and index == 0 else 1
        yield stage, index, width, stride, stride != 1 or in_features != width * self.expansion
        in_features = width * self.expansion


CONFIGS = {
    "resnet18": ResNetConfig((2, 2, 2, 2), bottleneck=False),
    "resnet34": ResNetConfig((3, 4, 6, 3), bottleneck=False),
    "resnet50": ResNetConfig((3, 4, 6, 3), bottleneck=True),
    "resnet101": ResNetConfig((3, 4, 23, 3), bottleneck=True),
    "resnet152": ResNetConfig((3, 8, 36, 3), bottleneck=True),
}


class ResidualBlock(nn.Module, kw_only=True):
  """torchvision ``BasicBlock`` or ``Bottleneck``; variables ``conv1..convK`` (:class:`ConvBN`), ``downsample``.

  Attributes:
    width: torch ``planes``; the block outputs ``width * expansion`` channels.
    stride: stride of the 3x3 convolution (and of the downsample projection).
    downsample: project the shortcut with a strided 1x1 convolution + BatchNorm.
    bottleneck: Bottleneck rather than BasicBlock.
    dtype: computation dtype.
  """

  width: int
  stride: int
  downsample: bool
  bottleneck: bool
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """``(N, H, W, Cin) -> (N, H/stride, W/stride, width * expansion)``."""
    layer = functools.partial(ConvBN, eps=_EPS, dtype=self.dtype)
    if self.bottleneck:
      out_features = 4 * self.width
      y = layer(features=self.width, kernel_size=1, act=nn.relu, name="conv1")(x)
      y = layer(features=self.width, kernel_size=3, stride=self.stride, act=nn.relu, name="conv2")(y)
      y = layer(features=out_features, kernel_size=1, name="conv3")(y)
    else:
      out_features = self.width
      y = layer(features=self.width, kernel_size=3, stride=self.stride, act=nn.relu, name="conv1")(x)
      y = layer(features=self.width, kernel_size=3, name="conv2")(y)
    if self.downsample:
      x = layer(features=out_features, kernel_size=1, stride=self.stride, name="downsample")(x)
    return nn.relu(y + x)


class ResNet(nn.Module, kw_only=True):
  """torchvision ``ResNet``: normalised ``(N, H, W, 3)`` images -> ``(N, num_classes)`` float32 logits.

  Variables: ``stem`` (conv1 + bn1), ``layer{stage}_{index}`` (:class:`ResidualBlock`), ``fc``.

  Attributes:
    config: depth of the family.
    num_classes: size of the output layer.
    dtype: computation dtype (parameters stay float32).
  """

  config: ResNetConfig
  num_classes: int = 1000
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = x.astype(self.dtype)
    x = ConvBN(features=64, kernel_size=7, stride=2, eps=_EPS, act=nn.relu, dtype=self.dtype, name="stem")(x)
    x = max_pool_3x3_s2(x)
    for stage, index, width, stride, downsample in self.config.blocks():
      x = ResidualBlock(width=width, stride=stride, downsample=downsample, bottleneck=self.config.bottleneck,
                        dtype=self.dtype, name=f"layer{stage}_{index}")(x)
    x = nn.Dense(self.num_classes, dtype=self.dtype, name="fc")(global_avg_pool(x))
    return x.astype(jnp.float32)


def convert(state_dict: Mapping[str, np.ndarray], *, name: str) -> dict:
  """torchvision ResNet ``state_dict`` -> variables of ``ResNet(config=CONFIGS[name])``.

  Raises:
    CheckpointMismatchError: listing missing and unexpected keys.
  """
  config = CONFIGS[name]
  sd = StateDict(state_dict)
  tree = VariableTree(sd)
  tree.conv_bn("stem", "conv1", "bn1")
  for stage, index, _, _, downsample in config.blocks():
    torch_block, flax_block = f"layer{stage}.{index}", f"layer{stage}_{index}"
    for k in range(1, config.convs_per_block + 1):
      tree.conv_bn(f"{flax_block}/conv{k}", f"{torch_block}.conv{k}", f"{torch_block}.bn{k}")
    if downsample:
      tree.conv_bn(f"{flax_block}/downsample", f"{torch_block}.downsample.0", f"{torch_block}.downsample.1")
  tree.dense("fc", "fc")
  sd.finish(name)
  return tree.variables()


SPECS: dict[str, ModelSpec] = family_specs(ResNet, CONFIGS, convert)
