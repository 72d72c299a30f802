"""A classifier bundled with its weights and preprocessing: what :func:`models.create` returns."""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def normalise(images: jax.Array, mean: tuple[float, ...], std: tuple[float, ...]) -> jax.Array:
  """``(N, H, W, 3)`` float RGB in ``[0, 1]`` -> ``(images - mean) / std`` in float32; traceable under jit."""
  if images.ndim != 4 or images.shape[-1] != 3:
    raise ValueError(f"images must be (N, H, W, 3) RGB, got shape {tuple(images.shape)}")
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise ValueError(f"images must be floats in [0, 1], got {images.dtype} (divide uint8 images by 255)")
  return (images.astype(jnp.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


# Module-level and keyed on the (hashable, compared by value) module, so every Model of one architecture and
# dtype shares the compiled programs: a second create() of the same name compiles nothing new.
@functools.partial(jax.jit, static_argnames=("module", "mean", "std", "softmax"))
def _forward(variables: Mapping[str, Any], images: jax.Array, *, module: nn.Module, mean: tuple, std: tuple,
             softmax: bool) -> jax.Array:
  logits = module.apply(variables, normalise(images, mean, std))
  return jax.nn.softmax(logits, axis=-1) if softmax else logits


@dataclasses.dataclass(frozen=True, eq=False)
class Model:
  """An image classifier ready for inference.

  Every entry point takes RGB images as floats in ``[0, 1]``, shape ``(N, H, W, 3)`` (``H, W`` ideally
  ``input_size``; any size the architecture can downsample works, except for the Vision Transformers, which
  take exactly ``input_size``), and normalises them itself.

  Attributes:
    name: registry name, e.g. ``"efficientnet_lite0"``.
    module: the Flax module; ``module.apply(variables, preprocess(images))`` gives logits.
    variables: ``{"params": ..., "batch_stats": ...}`` (float32 arrays, whatever ``dtype`` computes in).
    input_size: side of the square input the weights were trained at.
    mean, std: per-channel normalisation of ``[0, 1]`` RGB the weights expect.
    class_names: ``num_classes`` labels in output order (ImageNet-1k names for 1000 classes).
    dtype: computation dtype of ``module``; logits and probabilities are float32 either way.
  """

  name: str
  module: nn.Module
  variables: Mapping[str, Any]
  input_size: int
  mean: tuple[float, float, float]
  std: tuple[float, float, float]
  class_names: tuple[str, ...]
  dtype: Any = jnp.float32

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def preprocess(self, images: jax.Array) -> jax.Array:
    """``(N, H, W, 3)`` float RGB in ``[0, 1]`` -> normalised float32 ``(N, H, W, 3)``; traceable under jit."""
    return normalise(images, self.mean, self.std)

  def _compiled(self, *, softmax: bool) -> Callable:
    return functools.partial(_forward, module=self.module, mean=tuple(self.mean), std=tuple(self.std),
                             softmax=softmax)

  def logits(self, images: jax.Array) -> jax.Array:
    """Float32 logits ``(N, num_classes)`` of ``[0, 1]`` images ``(N, H, W, 3)`` (jit-compiled per shape)."""
    return self._compiled(softmax=False)(self.variables, jnp.asarray(images))

  @functools.cached_property
  def _classifier(self) -> jax.tree_util.Partial:
    return jax.tree_util.Partial(self._compiled(softmax=True), self.variables)

  def classifier(self) -> Callable[[jax.Array], jax.Array]:
    """The pure function ``images (N, H, W, 3) in [0, 1] -> probabilities (N, num_classes)`` (float32 softmax).

    The same object on every call, so jit caches keyed on it keep hitting. It is a
    ``jax.tree_util.Partial`` whose leaves are ``variables``: passing it *as an argument* to a jitted function
    keeps the weights out of the compiled program, while closing over it embeds them as constants (fine for
    small models, slower to compile for large ones).
    """
    return self._classifier

  def predict(self, images: Any) -> np.ndarray:
    """Host-side class probabilities ``(N, num_classes)`` float32 of ``[0, 1]`` images ``(N, H, W, 3)``."""
    return np.asarray(self._classifier(jnp.asarray(images)))
