"""torchvision ConvNeXt-Tiny/Small/Base in Flax (inference: stochastic depth is the identity)."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models._blocks import DepthwiseConv, VariableTree, family_specs, global_avg_pool, layer_norm
from models._convert import StateDict
from models._spec import ModelSpec

_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class ConvNeXtConfig:
  """One size of the family (torchvision's ``CNBlockConfig`` list).

  Attributes:
    widths: channels of each stage.
    depths: blocks in each stage; a 2x2 stride-2 convolution leads from one stage's width to the next.
  """

  widths: tuple[int, ...]
  depths: tuple[int, ...]

  def __post_init__(self):
    if len(self.widths) != len(self.depths):
      raise ValueError(f"widths {self.widths} and depths {self.depths} must list the same stages")


CONFIGS = {
    "convnext_tiny": ConvNeXtConfig(widths=(96, 192, 384, 768), depths=(3, 3, 9, 3)),
    "convnext_small": ConvNeXtConfig(widths=(96, 192, 384, 768), depths=(3, 3, 27, 3)),
    "convnext_base": ConvNeXtConfig(widths=(128, 256, 512, 1024), depths=(3, 3, 27, 3)),
}


class CNBlock(nn.Module, kw_only=True):
  """torchvision ``CNBlock``: depthwise 7x7, LayerNorm, Linear 4x, GELU, Linear, per-channel layer scale, residual.

  Variables ``dwconv`` (:class:`DepthwiseConv` with bias), ``norm``, ``pwconv1``, ``pwconv2``, ``layer_scale (C,)``.

  Attributes:
    depthwise_impl: how the depthwise convolution is computed, see :func:`models._blocks.depthwise_conv`.
    dtype: computation dtype.
  """

  depthwise_impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """``(N, H, W, C) -> (N, H, W, C)``."""
    c = x.shape[-1]
    y = DepthwiseConv(kernel_size=7, bias=True, impl=self.depthwise_impl, dtype=self.dtype, name="dwconv")(x)
    y = layer_norm(eps=_EPS, dtype=self.dtype, name="norm")(y)
    y = nn.Dense(4 * c, dtype=self.dtype, name="pwconv1")(y)
    y = nn.Dense(c, dtype=self.dtype, name="pwconv2")(nn.gelu(y, approximate=False))
    return x + y * self.param("layer_scale", nn.initializers.constant(1e-6), (c,)).astype(self.dtype)


def _patchify_conv(features: int, size: int, *, dtype: Any, name: str) -> nn.Conv:
  """torch ``Conv2d(kernel_size=size, stride=size)`` with bias: non-overlapping patches, no padding."""
  return nn.Conv(features, (size, size), strides=(size, size), padding="VALID", dtype=dtype, name=name)


class ConvNeXt(nn.Module, kw_only=True):
  """torchvision ``ConvNeXt``: normalised ``(N, H, W, 3)`` images -> ``(N, num_classes)`` float32 logits.

  Any ``H, W >= 32`` works (stride 32 overall; torch floors each strided stage the same way).

  Variables: ``stem_conv`` (4x4 stride 4) and ``stem_norm``; ``stage{s}_{i}`` (:class:`CNBlock`);
  ``downsample{s}_norm`` and ``downsample{s}_conv`` (2x2 stride 2) after every stage but the last;
  ``head_norm`` and ``head`` after global average pooling.

  Attributes:
    config: size of the family.
    num_classes: size of the output layer.
    depthwise_impl: how the 7x7 depthwise convolutions are computed (``"auto"``: taps on CPU, grouped elsewhere).
    dtype: computation dtype (parameters stay float32).
  """

  config: ConvNeXtConfig
  num_classes: int = 1000
  depthwise_impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    widths, depths = self.config.widths, self.config.depths
    x = _patchify_conv(widths[0], 4, dtype=self.dtype, name="stem_conv")(x.astype(self.dtype))
    x = layer_norm(eps=_EPS, dtype=self.dtype, name="stem_norm")(x)
    for stage, depth in enumerate(depths):
      for i in range(depth):
        x = CNBlock(depthwise_impl=self.depthwise_impl, dtype=self.dtype, name=f"stage{stage}_{i}")(x)
      if stage + 1 < len(depths):
        x = layer_norm(eps=_EPS, dtype=self.dtype, name=f"downsample{stage}_norm")(x)
        x = _patchify_conv(widths[stage + 1], 2, dtype=self.dtype, name=f"downsample{stage}_conv")(x)
    x = layer_norm(eps=_EPS, dtype=self.dtype, name="head_norm")(global_avg_pool(x))
    return nn.Dense(self.num_classes, dtype=self.dtype, name="head")(x).astype(jnp.float32)


def convert_config(state_dict: Mapping[str, np.ndarray], config: ConvNeXtConfig, *, name: str) -> dict:
  """torchvision ``ConvNeXt`` ``state_dict`` -> variables of ``ConvNeXt(config=config)``.

  torch numbers ``features`` as stem 0, then stage and downsampling modules alternately (1, 2, 3, ...).

  Raises:
    CheckpointMismatchError: listing missing and unexpected keys.
  """
  sd = StateDict(state_dict)
  tree = VariableTree(sd)
  tree.conv("stem_conv", "features.0.0", bias=True)
  tree.layer_norm("stem_norm", "features.0.1")
  for stage, depth in enumerate(config.depths):
    for i in range(depth):
      block, path = f"features.{2 * stage + 1}.{i}", f"stage{stage}_{i}"
      tree.conv(f"{path}/dwconv", f"{block}.block.0", bias=True)
      tree.layer_norm(f"{path}/norm", f"{block}.block.2")
      tree.dense(f"{path}/pwconv1", f"{block}.block.3")
      tree.dense(f"{path}/pwconv2", f"{block}.block.5")
      tree.put(path, {"layer_scale": sd.take(f"{block}.layer_scale").reshape(-1)})
    if stage + 1 < len(config.depths):
      tree.layer_norm(f"downsample{stage}_norm", f"features.{2 * stage + 2}.0")
      tree.conv(f"downsample{stage}_conv", f"features.{2 * stage + 2}.1", bias=True)
  tree.layer_norm("head_norm", "classifier.0")
  tree.dense("head", "classifier.2")
  sd.finish(name)
  return tree.variables()


def convert(state_dict: Mapping[str, np.ndarray], *, name: str) -> dict:
  """torchvision ``convnext_*`` ``state_dict`` -> variables of ``ConvNeXt(config=CONFIGS[name])``."""
  return convert_config(state_dict, CONFIGS[name], name=name)


SPECS: dict[str, ModelSpec] = family_specs(ConvNeXt, CONFIGS, convert)
