"""torchvision MobileNetV2 and MobileNetV3-Small/Large in Flax.

Both families are a stem convolution, a stack of inverted residual blocks (expand 1x1, depthwise kxk, optional
squeeze-excite, project 1x1) and a 1x1 head convolution before global pooling; one module and one converter
serve all three, driven by :class:`MobileNetConfig`. Dropout is an identity at inference and is left out.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models._blocks import ConvBN, VariableTree, conv, family_specs, global_avg_pool
from models._convert import StateDict
from models._spec import ModelSpec


def make_divisible(v: float, divisor: int = 8) -> int:
  """torchvision's ``_make_divisible``: ``v`` rounded to a multiple of ``divisor``, losing at most 10%."""
  new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
  return new_v + divisor if new_v < 0.9 * v else new_v


@dataclasses.dataclass(frozen=True)
class BlockConfig:
  """One inverted residual block.

  Attributes:
    in_features, expanded, out_features: channels entering, inside (after the 1x1 expansion; no expansion layer
      when equal to ``in_features``) and leaving the block.
    kernel: depthwise kernel side.
    stride: depthwise stride.
    se: squeeze-excite after the depthwise convolution.
    act: activation of the expansion and depthwise layers.
  """

  in_features: int
  expanded: int
  out_features: int
  kernel: int
  stride: int
  se: bool
  act: Callable[[jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class MobileNetConfig:
  """One member of the family, and how its torch keys are laid out.

  Attributes:
    blocks: the inverted residual blocks, ``features.1`` onward.
    head_features: channels of the last 1x1 convolution (``features.{len(blocks) + 1}``).
    act: activation of the stem and head convolutions.
    hidden: width of the classifier's hidden Linear (V3), or ``None`` for a single Linear (V2).
    eps: BatchNorm epsilon.
    sequence: name of the ``nn.Sequential`` inside a torch block (``"conv"`` in V2, ``"block"`` in V3).
    split_project: the projection's conv and BatchNorm are two entries of that sequence (V2) rather than one
      ``Conv2dNormActivation`` (V3).
  """

  blocks: tuple[BlockConfig, ...]
  head_features: int
  act: Callable[[jax.Array], jax.Array]
  hidden: Optional[int]
  eps: float
  sequence: str
  split_project: bool


def _v2_config() -> MobileNetConfig:
  # (expansion ratio t, output channels c, repeats n, first stride s), as torchvision's MobileNetV2.
  setting = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
             (6, 320, 1, 1))
  blocks, in_features = [], 32
  for t, c, n, s in setting:
    for i in range(n):
      blocks.append(BlockConfig(in_features, int(round(in_features * t)), c, 3, s if i == 0 else 1, False,
                                jax.nn.relu6))
      in_features = c
  return MobileNetConfig(tuple(blocks), 1280, jax.nn.relu6, None, 1e-5, "conv", True)


def _v3_config(setting, last_channel: int) -> MobileNetConfig:
  """``setting``: torchvision's ``bneck_conf`` rows (in, kernel, expanded, out, se, "RE"/"HS", stride)."""
  act = {"RE": jax.nn.relu, "HS": jax.nn.hard_swish}
  blocks = tuple(BlockConfig(i, e, o, k, s, se, act[a]) for i, k, e, o, se, a, s in setting)
  return MobileNetConfig(blocks, 6 * blocks[-1].out_features, jax.nn.hard_swish, last_channel, 1e-3, "block", False)


CONFIGS = {
    "mobilenet_v2": _v2_config(),
    "mobilenet_v3_small": _v3_config(
        ((16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
         (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
         (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
         (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1)), last_channel=1024),
    "mobilenet_v3_large": _v3_config(
        ((16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
         (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
         (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
         (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
         (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1)),
        last_channel=1280),
}


class SqueezeExcite(nn.Module, kw_only=True):
  """torchvision ``SqueezeExcitation`` with a hard-sigmoid gate: ``(N, H, W, C) -> (N, H, W, C)``.

  Variables ``fc1``, ``fc2``: 1x1 convolutions with bias, as in torch.

  Attributes:
    squeeze: channels of the bottleneck.
    dtype: computation dtype.
  """

  squeeze: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    s = global_avg_pool(x, keepdims=True)
    s = nn.relu(conv(self.squeeze, 1, bias=True, dtype=self.dtype, name="fc1")(s))
    s = conv(x.shape[-1], 1, bias=True, dtype=self.dtype, name="fc2")(s)
    return x * jax.nn.hard_sigmoid(s)


class InvertedResidual(nn.Module, kw_only=True):
  """One MobileNet block: ``(N, H, W, in) -> (N, H/stride, W/stride, out)``, residual when shapes allow.

  Variables: ``expand`` (absent without expansion), ``depthwise``, ``se`` (absent without squeeze-excite),
  ``project``.

  Attributes:
    config: the block's shape.
    eps: BatchNorm epsilon.
    depthwise_impl: see :func:`models._blocks.depthwise_conv`.
    dtype: computation dtype.
  """

  config: BlockConfig
  eps: float
  depthwise_impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    cfg = self.config
    layer = functools.partial(ConvBN, eps=self.eps, dtype=self.dtype)
    y = x
    if cfg.expanded != cfg.in_features:
      y = layer(features=cfg.expanded, kernel_size=1, act=cfg.act, name="expand")(y)
    y = layer(features=cfg.expanded, kernel_size=cfg.kernel, stride=cfg.stride, depthwise=True,
              depthwise_impl=self.depthwise_impl, act=cfg.act, name="depthwise")(y)
    if cfg.se:
      y = SqueezeExcite(squeeze=make_divisible(cfg.expanded // 4), dtype=self.dtype, name="se")(y)
    y = layer(features=cfg.out_features, kernel_size=1, name="project")(y)
    return x + y if cfg.stride == 1 and cfg.in_features == cfg.out_features else y


class MobileNet(nn.Module, kw_only=True):
  """torchvision ``MobileNetV2``/``MobileNetV3``: normalised ``(N, H, W, 3)`` -> ``(N, num_classes)`` float32 logits.

  Variables: ``stem``, ``block{i}`` (i from 1, torch's ``features.{i}``), ``head``, then ``classifier`` (V2) or
  ``fc1``, ``fc2`` (V3).

  Attributes:
    config: member of the family.
    num_classes: size of the output layer.
    depthwise_impl: ``"auto"``, ``"taps"`` or ``"grouped"``, see :func:`models._blocks.depthwise_conv`; all read
      the same variables.
    dtype: computation dtype (parameters stay float32).
  """

  config: MobileNetConfig
  num_classes: int = 1000
  depthwise_impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    cfg = self.config
    layer = functools.partial(ConvBN, eps=cfg.eps, act=cfg.act, dtype=self.dtype)
    x = layer(features=cfg.blocks[0].in_features, kernel_size=3, stride=2, name="stem")(x.astype(self.dtype))
    for i, block in enumerate(cfg.blocks, start=1):
      x = InvertedResidual(config=block, eps=cfg.eps, depthwise_impl=self.depthwise_impl, dtype=self.dtype,
                           name=f"block{i}")(x)
    x = global_avg_pool(layer(features=cfg.head_features, kernel_size=1, name="head")(x))
    if cfg.hidden is None:
      x = nn.Dense(self.num_classes, dtype=self.dtype, name="classifier")(x)
    else:
      x = jax.nn.hard_swish(nn.Dense(cfg.hidden, dtype=self.dtype, name="fc1")(x))
      x = nn.Dense(self.num_classes, dtype=self.dtype, name="fc2")(x)
    return x.astype(jnp.float32)


def _convert_block(tree: VariableTree, path: str, key: str, cfg: BlockConfig, family: MobileNetConfig) -> None:
  """One :class:`InvertedResidual` at ``path`` <- the torch block at ``key``; its layers are numbered in order."""
  seq = (f"{key}.{family.sequence}.{j}" for j in range(5))
  if cfg.expanded != cfg.in_features:
    tree.conv_bn(f"{path}/expand", *_conv_norm(next(seq)))
  tree.conv_bn(f"{path}/depthwise", *_conv_norm(next(seq)))
  if cfg.se:
    se = next(seq)
    tree.conv(f"{path}/se/fc1", f"{se}.fc1", bias=True)
    tree.conv(f"{path}/se/fc2", f"{se}.fc2", bias=True)
  project = (next(seq), next(seq)) if family.split_project else _conv_norm(next(seq))
  tree.conv_bn(f"{path}/project", *project)


def _conv_norm(key: str) -> tuple[str, str]:
  """Keys of the conv and norm inside a torchvision ``Conv2dNormActivation`` at ``key``."""
  return f"{key}.0", f"{key}.1"


def convert(state_dict: Mapping[str, np.ndarray], *, name: str) -> dict:
  """torchvision MobileNetV2/V3 ``state_dict`` -> variables of ``MobileNet(config=CONFIGS[name])``.

  Raises:
    CheckpointMismatchError: listing missing and unexpected keys.
  """
  config = CONFIGS[name]
  sd = StateDict(state_dict)
  tree = VariableTree(sd)
  tree.conv_bn("stem", *_conv_norm("features.0"))
  for i, block in enumerate(config.blocks, start=1):
    _convert_block(tree, f"block{i}", f"features.{i}", block, config)
  tree.conv_bn("head", *_conv_norm(f"features.{len(config.blocks) + 1}"))
  if config.hidden is None:
    tree.dense("classifier", "classifier.1")
  else:
    tree.dense("fc1", "classifier.0")
    tree.dense("fc2", "classifier.3")
  sd.finish(name)
  return tree.variables()


SPECS: dict[str, ModelSpec] = family_specs(MobileNet, CONFIGS, convert)
