"""What a hidden superpixel shows: the fill image ``(H, W, 3)`` that replaces it."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def superpixel_mean(image: jax.Array, labels: jax.Array, length: int) -> jax.Array:
  """Each pixel replaced by the mean colour of its superpixel (LIME's ``hide_color=None``).

  Args:
    image: ``(H, W, 3)`` float.
    labels: ``(H, W)`` int32 in 0..L-1.
    length: static upper bound L on the number of labels.
  """
  flat = labels.reshape(-1)
  sums = jax.ops.segment_sum(image.reshape(-1, 3), flat, num_segments=length)
  counts = jax.ops.segment_sum(jnp.ones_like(flat, image.dtype), flat, num_segments=length)
  return (sums / jnp.maximum(counts, 1)[:, None])[labels]


def gaussian_blur(image: jax.Array, sigma: float) -> jax.Array:
  """Separable Gaussian blur with reflected borders, ``(H, W, 3)`` -> ``(H, W, 3)``."""
  radius = max(1, int(3 * sigma + 0.5))
  x = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
  kernel = jnp.exp(-0.5 * (x / sigma) ** 2)
  kernel = kernel / kernel.sum()
  def along(img, axis):
    pad = [(0, 0)] * 3
    pad[axis] = (radius, radius)
    padded = jnp.pad(img, pad, mode="reflect" if img.shape[axis] > radius else "edge")
    taps = [jax.lax.slice_in_dim(padded, i, i + img.shape[axis], axis=axis) for i in range(2 * radius + 1)]
    return jnp.tensordot(kernel, jnp.stack(taps), axes=1)
  return along(along(image, 0), 1)


def make_fill(image: jax.Array, labels: jax.Array, *, kind: str, length: int, blur_sigma: float = 8.0) -> jax.Array:
  """The fill image for ``kind`` in ``"black"``, ``"mean"``, ``"image_mean"``, ``"blur"`` (jit-able, static kind).

  Args:
    image: ``(H, W, 3)`` float in [0, 1].
    labels: ``(H, W)`` int32 in 0..length-1.
    kind: static fill kind.
    length: static genome length (bound on labels) for ``"mean"``.
    blur_sigma: static blur width for ``"blur"``.

  Returns:
    ``(H, W, 3)`` float32.
  """
  image = image.astype(jnp.float32)
  if kind == "black":
    return jnp.zeros_like(image)
  if kind == "mean":
    return superpixel_mean(image, labels, length)
  if kind == "image_mean":
    return jnp.broadcast_to(image.mean(axis=(0, 1)), image.shape)
  if kind == "blur":
    return gaussian_blur(image, blur_sigma)
  raise ValueError(f"fill must be one of black, mean, image_mean, blur; got {kind!r}")
