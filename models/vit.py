"""torchvision Vision Transformers ViT-B/16, ViT-B/32 and ViT-L/16 in Flax.

The port runs at the image size the position embeddings were trained for (224 px for torchvision's weights) and
raises ``ValueError`` at any other, as torchvision does; it does not interpolate the embeddings.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models._blocks import VariableTree, family_specs, layer_norm
from models._convert import StateDict
from models._spec import ModelSpec

_EPS = 1e-6


@dataclasses.dataclass(frozen=True)
class ViTConfig:
  """One size of the family (torchvision ``VisionTransformer`` arguments).

  Attributes:
    patch_size: side of the square patches the image is cut into.
    num_layers: encoder blocks.
    num_heads: attention heads per block.
    hidden_dim: token width.
    mlp_dim: hidden width of each block's MLP.
    image_size: side of the square input; fixes the number of position embeddings.
  """

  patch_size: int
  num_layers: int
  num_heads: int
  hidden_dim: int
  mlp_dim: int
  image_size: int = 224

  @property
  def seq_length(self) -> int:
    """Tokens per image: one per patch plus the class token."""
    return (self.image_size // self.patch_size) ** 2 + 1


CONFIGS = {
    "vit_b_16": ViTConfig(patch_size=16, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072),
    "vit_b_32": ViTConfig(patch_size=32, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072),
    "vit_l_16": ViTConfig(patch_size=16, num_layers=24, num_heads=16, hidden_dim=1024, mlp_dim=4096),
}


class PatchEmbedding(nn.Module, kw_only=True):
  """torch ``Conv2d(3, D, kernel_size=p, stride=p)`` as a matrix product over flattened patches.

  The same arithmetic as the strided convolution (variables ``kernel (p, p, 3, D)`` and ``bias (D,)``, Flax
  ``Conv`` layout), but a plain dot that XLA lowers to one GEMM on every backend.

  Attributes:
    patch_size: side of the square patches.
    features: output width ``D``.
    dtype: computation dtype.
  """

  patch_size: int
  features: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """``(N, H, W, C) -> (N, (H/p) * (W/p), D)``, patches in row-major order as torch flattens them."""
    p = self.patch_size
    n, h, w, c = x.shape
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (p, p, c, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    patches = x.reshape(n, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, -1, p * p * c)
    return patches @ kernel.reshape(p * p * c, -1).astype(self.dtype) + bias.astype(self.dtype)


class SelfAttention(nn.Module, kw_only=True):
  """torch ``MultiheadAttention(D, num_heads, batch_first=True)`` applied to ``(x, x, x)``.

  Variables ``in_proj`` (one ``Dense(3 D)``: torch's packed ``in_proj_weight`` rows are query, key, value, each
  split into heads) and ``out_proj``. Scores are einsums accumulated in float32 and the softmax runs in float32
  whatever ``dtype`` is, so XLA fuses scale, softmax and the casts around two batched GEMMs.

  Attributes:
    num_heads: attention heads; ``D`` must divide by it.
    dtype: computation dtype.
  """

  num_heads: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """``(N, S, D) -> (N, S, D)``."""
    n, s, d = x.shape
    head_dim = d // self.num_heads
    qkv = nn.Dense(3 * d, dtype=self.dtype, name="in_proj")(x).reshape(n, s, 3, self.num_heads, head_dim)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    q = q * jnp.asarray(head_dim ** -0.5, self.dtype)
    scores = jnp.einsum("nqhd,nkhd->nhqk", q, k, preferred_element_type=jnp.float32)
    weights = jax.nn.softmax(scores, axis=-1).astype(self.dtype)
    out = jnp.einsum("nhqk,nkhd->nqhd", weights, v).reshape(n, s, d)
    return nn.Dense(d, dtype=self.dtype, name="out_proj")(out)


class EncoderBlock(nn.Module, kw_only=True):
  """torchvision ``EncoderBlock``: pre-LayerNorm attention and GELU MLP, each added to its input.

  Variables ``ln_1``, ``self_attention`` (:class:`SelfAttention`), ``ln_2``, ``linear_1``, ``linear_2``.

  Attributes:
    num_heads: attention heads.
    mlp_dim: hidden width of the MLP.
    dtype: computation dtype.
  """

  num_heads: int
  mlp_dim: int
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """``(N, S, D) -> (N, S, D)``."""
    y = layer_norm(eps=_EPS, dtype=self.dtype, name="ln_1")(x)
    x = x + SelfAttention(num_heads=self.num_heads, dtype=self.dtype, name="self_attention")(y)
    y = layer_norm(eps=_EPS, dtype=self.dtype, name="ln_2")(x)
    y = nn.Dense(self.mlp_dim, dtype=self.dtype, name="linear_1")(y)
    y = nn.Dense(x.shape[-1], dtype=self.dtype, name="linear_2")(nn.gelu(y, approximate=False))
    return x + y


class VisionTransformer(nn.Module, kw_only=True):
  """torchvision ``VisionTransformer``: normalised ``(N, S, S, 3)`` images -> ``(N, num_classes)`` float32 logits.

  Variables: ``conv_proj`` (:class:`PatchEmbedding`), ``class_token (1, 1, D)``, ``pos_embedding (1, L, D)``,
  ``encoder_layer_{i}`` (:class:`EncoderBlock`), ``ln``, ``head``.

  Attributes:
    config: size of the family; ``S`` must be ``config.image_size``.
    num_classes: size of the output layer.
    dtype: computation dtype (parameters stay float32).
  """

  config: ViTConfig
  num_classes: int = 1000
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    cfg = self.config
    if x.shape[1:3] != (cfg.image_size, cfg.image_size):
      raise ValueError(f"this vision transformer takes {cfg.image_size} x {cfg.image_size} images (its position "
                       f"embeddings are fixed), got {x.shape[1]} x {x.shape[2]}")
    d = cfg.hidden_dim
    x = PatchEmbedding(patch_size=cfg.patch_size, features=d, dtype=self.dtype, name="conv_proj")(x.astype(self.dtype))
    class_token = self.param("class_token", nn.initializers.zeros, (1, 1, d)).astype(self.dtype)
    x = jnp.concatenate([jnp.broadcast_to(class_token, (x.shape[0], 1, d)), x], axis=1)
    x = x + self.param("pos_embedding", nn.initializers.normal(0.02), (1, cfg.seq_length, d)).astype(self.dtype)
    for i in range(cfg.num_layers):
      x = EncoderBlock(num_heads=cfg.num_heads, mlp_dim=cfg.mlp_dim, dtype=self.dtype, name=f"encoder_layer_{i}")(x)
    x = layer_norm(eps=_EPS, dtype=self.dtype, name="ln")(x[:, 0])
    return nn.Dense(self.num_classes, dtype=self.dtype, name="head")(x).astype(jnp.float32)


def _mlp_key(sd: StateDict, block: str, index: int) -> str:
  """torch key prefix of MLP linear ``index`` (1 or 2): ``mlp.0``/``mlp.3``, or ``mlp.linear_1``/``mlp.linear_2``
  in checkpoints saved before torchvision 0.13 (which torchvision itself still loads)."""
  legacy = f"{block}.mlp.linear_{index}"
  return legacy if f"{legacy}.weight" in sd else f"{block}.mlp.{3 * (index - 1)}"


def convert_config(state_dict: Mapping[str, np.ndarray], config: ViTConfig, *, name: str) -> dict:
  """torchvision ``VisionTransformer`` ``state_dict`` -> variables of ``VisionTransformer(config=config)``.

  Raises:
    CheckpointMismatchError: listing missing and unexpected keys.
  """
  sd = StateDict(state_dict)
  tree = VariableTree(sd)
  tree.conv("conv_proj", "conv_proj", bias=True)
  tree.put("", {"class_token": sd.take("class_token"), "pos_embedding": sd.take("encoder.pos_embedding")})
  for i in range(config.num_layers):
    block, path = f"encoder.layers.encoder_layer_{i}", f"encoder_layer_{i}"
    tree.layer_norm(f"{path}/ln_1", f"{block}.ln_1")
    attention = f"{block}.self_attention"
    tree.put(f"{path}/self_attention/in_proj", {"kernel": sd.take(f"{attention}.in_proj_weight").T,
                                                 "bias": sd.take(f"{attention}.in_proj_bias")})
    tree.dense(f"{path}/self_attention/out_proj", f"{attention}.out_proj")
    tree.layer_norm(f"{path}/ln_2", f"{block}.ln_2")
    tree.dense(f"{path}/linear_1", _mlp_key(sd, block, 1))
    tree.dense(f"{path}/linear_2", _mlp_key(sd, block, 2))
  tree.layer_norm("ln", "encoder.ln")
  tree.dense("head", "heads.head")
  sd.finish(name)
  return tree.variables()


def convert(state_dict: Mapping[str, np.ndarray], *, name: str) -> dict:
  """torchvision ``vit_*`` ``state_dict`` -> variables of ``VisionTransformer(config=CONFIGS[name])``."""
  return convert_config(state_dict, CONFIGS[name], name=name)


SPECS: dict[str, ModelSpec] = family_specs(VisionTransformer, CONFIGS, convert)
