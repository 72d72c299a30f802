"""Layers shared by the model families, the converter-side tree their variables are filled from, and specs.

The torchvision ports pad every convolution explicitly with torch's symmetric ``(k - 1) // 2`` (:func:`conv`,
:class:`DepthwiseConv`) so that strided layers sample the same pixels as torch; ``"SAME"`` would pad
asymmetrically when the input size is even.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import traverse_util

from models._convert import StateDict
from models._spec import ModelSpec

Activation = Optional[Callable[[jax.Array], jax.Array]]

# Ways to compute a depthwise convolution; see DepthwiseConv.
DEPTHWISE_IMPLS = ("auto", "taps", "grouped")


def torch_padding(kernel: int) -> tuple[tuple[int, int], tuple[int, int]]:
  """torch's ``padding=(k - 1) // 2`` for a square kernel, as Flax's explicit per-side padding."""
  p = (kernel - 1) // 2
  return ((p, p), (p, p))


def conv(features: int, kernel: int, *, stride: int = 1, bias: bool = False, dtype: Any, name: str) -> nn.Conv:
  """A torch-padded dense ``nn.Conv`` with float32 parameters computing in ``dtype``."""
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding=torch_padding(kernel),
                 use_bias=bias, dtype=dtype, name=name)


def batch_norm(*, eps: float, dtype: Any, name: str) -> nn.BatchNorm:
  """Inference-mode BatchNorm (running statistics) with torch's ``eps``."""
  return nn.BatchNorm(use_running_average=True, epsilon=eps, dtype=dtype, name=name)


def layer_norm(*, eps: float, dtype: Any, name: str) -> nn.LayerNorm:
  """torch ``LayerNorm`` over the last axis, statistics in float32 and two-pass: the one-pass
  ``E[x^2] - E[x]^2`` loses digits where the mean dwarfs the spread (a transformer's residual stream)."""
  return nn.LayerNorm(epsilon=eps, use_fast_variance=False, dtype=dtype, name=name)


def max_pool_3x3_s2(x: jax.Array) -> jax.Array:
  """torch ``MaxPool2d(3, stride=2, padding=1)``: ``(N, H, W, C) -> (N, ceil(H/2), ceil(W/2), C)``.

  Flax pads max pooling with ``-inf``, as torch does, so border windows see only real pixels.
  """
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))


def global_avg_pool(x: jax.Array, *, keepdims: bool = False) -> jax.Array:
  """torch ``AdaptiveAvgPool2d(1)`` as a mean: ``(N, H, W, C) -> (N, C)`` (or ``(N, 1, 1, C)``)."""
  return jnp.mean(x, axis=(1, 2), keepdims=keepdims)


def depthwise_conv(x: jax.Array, kernel: jax.Array, *, stride: int,
                   padding: tuple[tuple[int, int], tuple[int, int]], impl: str) -> jax.Array:
  """Bias-free depthwise convolution, computed one of two ways that agree to float rounding.

  ``"grouped"`` is XLA's grouped convolution (``feature_group_count=C``), which XLA's CPU backend lowers
  poorly. ``"taps"`` sums the ``k * k`` strided slices of the padded input times the per-channel tap weights:
  elementwise work that XLA fuses into one loop. ``"auto"`` is ``"taps"`` on a CPU default backend, else
  ``"grouped"``.

  Measured at batch 16, 224 px, float32, one thread each (images/s, taps / grouped / torch 2.14 CPU):
  MobileNetV2 87 / 18 / 37, MobileNetV3-Large 116 / 26 / 76, MobileNetV3-Small 479 / 67 / 408. On an H100
  the two are within 20% of each other either way (taps ahead at batch 16, grouped at batch 128 in bfloat16).

  Args:
    x: ``(N, H, W, C)``.
    kernel: ``(k, k, 1, C)``, ``nn.Conv``'s depthwise layout.
    stride: spatial stride.
    padding: explicit ``((top, bottom), (left, right))``.
    impl: ``"taps"``, ``"grouped"`` or ``"auto"``.

  Returns:
    ``(N, Ho, Wo, C)`` with ``Ho = (H + top + bottom - k) // stride + 1``, likewise ``Wo``.
  """
  if impl not in DEPTHWISE_IMPLS:
    raise ValueError(f"depthwise impl must be one of {DEPTHWISE_IMPLS}, got {impl!r}")
  if impl == "auto":
    impl = "taps" if jax.default_backend() == "cpu" else "grouped"
  if impl == "grouped":
    return jax.lax.conv_general_dilated(x, kernel, (stride, stride), padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=x.shape[-1])
  k = kernel.shape[0]
  x = jnp.pad(x, ((0, 0), *padding, (0, 0)))
  n, h, w, c = x.shape
  ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
  out = None
  for i in range(k):
    for j in range(k):
      tap = jax.lax.slice(x, (0, i, j, 0), (n, i + (ho - 1) * stride + 1, j + (wo - 1) * stride + 1, c),
                          (1, stride, stride, 1)) * kernel[i, j, 0]
      out = tap if out is None else out + tap
  return out


class DepthwiseConv(nn.Module, kw_only=True):
  """Bias-free depthwise convolution with torch padding; kernel ``(k, k, 1, C)`` like ``nn.Conv``'s.

  Attributes:
    kernel_size: side of the square kernel.
    stride: spatial stride.
    impl: ``"taps"``, ``"grouped"`` or ``"auto"``, see :func:`depthwise_conv`; all read the same variables.
    bias: add a per-channel ``bias`` ``(C,)`` (torch ``Conv2d(bias=True)``).
    dtype: computation dtype; the kernel is stored in float32.
  """

  kernel_size: int
  stride: int = 1
  impl: str = "auto"
  bias: bool = False
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """``(N, H, W, C) -> (N, Ho, Wo, C)``."""
    k = self.kernel_size
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, 1, x.shape[-1]))
    y = depthwise_conv(x.astype(self.dtype), kernel.astype(self.dtype), stride=self.stride,
                       padding=torch_padding(k), impl=self.impl)
    if self.bias:
      y = y + self.param("bias", nn.initializers.zeros, (x.shape[-1],)).astype(self.dtype)
    return y


class ConvBN(nn.Module, kw_only=True):
  """torch ``Conv2d(bias=False) -> BatchNorm2d -> activation``, as torchvision's ``Conv2dNormActivation``.

  Variables live under ``conv`` and ``bn`` (see :meth:`VariableTree.conv_bn`). A dense convolution's BatchNorm is
  computed as ``norm_impl`` says (:func:`dense_conv_batch_norm`); a depthwise one normalises after it.

  Attributes:
    features: output channels.
    kernel_size: side of the square kernel.
    stride: spatial stride.
    depthwise: one group per channel (``features`` must equal the input channels).
    depthwise_impl: how a depthwise convolution is computed, see :class:`DepthwiseConv`.
    eps: BatchNorm epsilon.
    act: activation applied after normalisation; ``None`` for none.
    dtype: computation dtype.
    norm_impl: how a dense convolution's BatchNorm is computed, see :func:`dense_conv_batch_norm`.
  """

  features: int
  kernel_size: int
  stride: int = 1
  depthwise: bool = False
  depthwise_impl: str = "auto"
  eps: float = 1e-5
  act: Activation = None
  dtype: Any = jnp.float32
  norm_impl: str = "auto"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """``(N, H, W, Cin) -> (N, Ho, Wo, features)``."""
    if self.depthwise:
      x = DepthwiseConv(kernel_size=self.kernel_size, stride=self.stride, impl=self.depthwise_impl, dtype=self.dtype,
                        name="conv")(x)
      x = batch_norm(eps=self.eps, dtype=self.dtype, name="bn")(x)
    else:
      x = dense_conv_batch_norm(x, features=self.features, kernel_size=self.kernel_size, stride=self.stride,
                                padding=torch_padding(self.kernel_size), eps=self.eps, dtype=self.dtype,
                                impl=self.norm_impl)
    return x if self.act is None else self.act(x)


# Ways to compute a dense convolution's inference BatchNorm; see dense_conv_batch_norm.
NORM_IMPLS = ("auto", "folded", "after")


def dense_conv_batch_norm(x: jax.Array, *, features: int, kernel_size: int, stride: int,
                          padding: tuple[tuple[int, int], tuple[int, int]], eps: float, dtype: Any,
                          impl: str) -> jax.Array:
  """A bias-free dense convolution then inference BatchNorm, as submodules ``conv`` and ``bn`` of the caller.

  ``"folded"`` computes ``conv(x, kernel * factor) + shift`` (:class:`FoldedConv`): with the weights as arguments
  of a compiled program (as the engine passes them) XLA on a GPU then runs conv + bias + activation as one cuDNN
  call, where ``"after"`` (the convolution, then the normalisation) costs a pass of its own per layer.
  ``"auto"`` is ``"after"`` on a CPU default backend, where folding runs no faster and adds to the compile,
  else ``"folded"``. Both read the same variables and agree to float rounding.

  Args:
    x: ``(N, H, W, Cin)``.
    features: output channels.
    kernel_size: side of the square kernel.
    stride: spatial stride.
    padding: explicit ``((top, bottom), (left, right))``.
    eps: BatchNorm epsilon.
    dtype: computation dtype.
    impl: ``"auto"``, ``"folded"`` or ``"after"``.

  Returns:
    ``(N, Ho, Wo, features)``.
  """
  if impl not in NORM_IMPLS:
    raise ValueError(f"BatchNorm impl must be one of {NORM_IMPLS}, got {impl!r}")
  if impl == "folded" or (impl == "auto" and jax.default_backend() != "cpu"):
    factor, shift = BatchNormFactors(eps=eps, name="bn")(features)
    return FoldedConv(features=features, kernel_size=kernel_size, stride=stride, padding=padding, dtype=dtype,
                      name="conv")(x, factor, shift)
  x = nn.Conv(features, (kernel_size, kernel_size), strides=(stride, stride), padding=padding, use_bias=False,
              dtype=dtype, name="conv")(x)
  return batch_norm(eps=eps, dtype=dtype, name="bn")(x)


class BatchNormFactors(nn.Module, kw_only=True):
  """``nn.BatchNorm``'s inference variables (same names and collections) as ``(factor, shift)``, ``(C,)`` float32
  each, with ``bn(x) == x * factor + shift``."""

  eps: float

  @nn.compact
  def __call__(self, features: int) -> tuple[jax.Array, jax.Array]:
    scale = self.param("scale", nn.initializers.ones, (features,))
    bias = self.param("bias", nn.initializers.zeros, (features,))
    mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((features,), jnp.float32)).value
    var = self.variable("batch_stats", "var", lambda: jnp.ones((features,), jnp.float32)).value
    factor = scale * jax.lax.rsqrt(var + self.eps)
    return factor, bias - mean * factor


class FoldedConv(nn.Module, kw_only=True):
  """An explicitly padded dense convolution with an inference BatchNorm folded into its kernel and bias:
  ``conv(x, kernel * factor) + shift``, variables those of ``nn.Conv`` (``kernel`` only).

  Folding makes the layer a convolution plus a bias, which cuDNN runs as one conv-bias-activation call even when
  the weights are arguments of the compiled program rather than constants. Unfolded, with the weights as
  arguments, XLA ran every BatchNorm as a pass of its own: ResNet-50's float32 forward at batch 1,024 on an H200
  reached 16.4k images/s against 22.0k folded (bfloat16 27.4k against 35.4k; ``benchmarks/results/
  gpu_float32_gap.md``). On a CPU the two ran at the same speed (Lite0 36.9 vs 37.1 images/s at batch 32).
  """

  features: int
  kernel_size: int
  stride: int = 1
  padding: tuple[tuple[int, int], tuple[int, int]]
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, factor: jax.Array, shift: jax.Array) -> jax.Array:
    k = self.kernel_size
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, x.shape[-1], self.features))
    y = jax.lax.conv_general_dilated(x.astype(self.dtype), (kernel * factor).astype(self.dtype),
                                     (self.stride, self.stride), self.padding,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + shift.astype(self.dtype)


class VariableTree:
  """Flax variables filled in one layer at a time: Flax module path <- torch key prefix.

  Paths are ``/``-separated Flax module names, e.g. ``"layer1_0/conv1"``.
  """

  def __init__(self, sd: StateDict):
    self._sd = sd
    self._flat: dict[tuple[str, ...], Any] = {}

  def put(self, path: str, leaves: Mapping[str, Any], *, collection: str = "params") -> None:
    """Variables ``{leaf: array}`` of the module at ``path`` (``""``: the top module), for layouts the helpers
    below do not cover."""
    modules = tuple(path.split("/")) if path else ()
    for leaf, value in leaves.items():
      self._flat[(collection, *modules, leaf)] = value

  def conv(self, path: str, key: str, *, bias: bool = False) -> None:
    """``nn.Conv`` (or :class:`DepthwiseConv`) at ``path`` <- torch ``Conv2d`` at ``key``."""
    self.put(path, self._sd.conv(key, bias=bias))

  def dense(self, path: str, key: str) -> None:
    """``nn.Dense`` at ``path`` <- torch ``Linear`` at ``key``."""
    self.put(path, self._sd.dense(key))

  def batch_norm(self, path: str, key: str) -> None:
    """``nn.BatchNorm`` at ``path`` <- torch ``BatchNorm2d`` at ``key``."""
    params, stats = self._sd.batch_norm(key)
    self.put(path, params)
    self.put(path, stats, collection="batch_stats")

  def layer_norm(self, path: str, key: str) -> None:
    """``nn.LayerNorm`` at ``path`` <- torch ``LayerNorm`` (or torchvision's ``LayerNorm2d``) at ``key``."""
    self.put(path, {"scale": self._sd.take(f"{key}.weight"), "bias": self._sd.take(f"{key}.bias")})

  def conv_bn(self, path: str, conv_key: str, bn_key: str) -> None:
    """:class:`ConvBN` at ``path`` <- torch ``Conv2d`` at ``conv_key`` and ``BatchNorm2d`` at ``bn_key``."""
    self.conv(f"{path}/conv", conv_key)
    self.batch_norm(f"{path}/bn", bn_key)

  def variables(self) -> dict:
    """``{"params": ..., "batch_stats": ...}`` as nested dicts of numpy arrays."""
    return traverse_util.unflatten_dict(self._flat)


def family_specs(module: Callable[..., nn.Module], configs: Mapping[str, Any],
                 convert: Callable[..., dict]) -> dict[str, ModelSpec]:
  """One :class:`ModelSpec` per named config of a family.

  Args:
    module: the family's module class, built as ``module(config=configs[name], dtype=dtype)``.
    configs: ``name -> config``.
    convert: the family's converter, called as ``convert(state_dict, name=name)``.
  """
  def spec(name: str) -> ModelSpec:
    return ModelSpec(name=name, build=lambda dtype: module(config=configs[name], dtype=dtype),
                     convert=functools.partial(convert, name=name))
  return {name: spec(name) for name in configs}
