"""Genomes -> the masked images the classifier sees."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def masked_batch(genomes: jax.Array, image: jax.Array, labels: jax.Array, fill: jax.Array) -> jax.Array:
  """Keeps each genome's selected superpixels and shows ``fill`` elsewhere.

  A gather (``genomes[:, labels]``) turns per-superpixel genes into per-pixel masks, so the cost is one
  select per pixel whatever the number of superpixels.

  Args:
    genomes: ``(N, L)`` bool, True = superpixel kept.
    image: ``(H, W, 3)`` float.
    labels: ``(H, W)`` int32 in 0..L-1.
    fill: ``(H, W, 3)`` float, shown where a superpixel is hidden.

  Returns:
    ``(N, H, W, 3)`` images, dtype of ``image``.
  """
  keep = genomes[:, labels]
  return jnp.where(keep[..., None], image[None], fill[None].astype(image.dtype))
