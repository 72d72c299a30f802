"""The caller's pixel convention (dtype and value range) <-> the engine's float32 images in [0, 1].

lime hands ``classifier_fn`` images exactly as the caller gave them (uint8 0..255, float 0..1, float 0..255 or
Keras-style float -1..1), while the engine works in [0, 1]. The map is affine, so converting a masked image back
gives the pixels lime would have built (exactly for integer images, to float32 precision for float ones).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

# Float images are read in the first of these ranges that holds them, else in their own [min, max].
_FLOAT_RANGES = ((0.0, 1.0), (0.0, 255.0), (-1.0, 1.0))


@dataclasses.dataclass(frozen=True)
class ValueRange:
  """The caller's pixels ``x`` relate to the engine's ``u`` in [0, 1] by ``x = low + u * (high - low)``."""

  dtype: np.dtype
  low: float
  high: float

  def to_unit(self, pixels: np.ndarray) -> np.ndarray:
    """Caller pixels -> float32 in [0, 1]."""
    return ((np.asarray(pixels, np.float64) - self.low) / (self.high - self.low)).astype(np.float32)

  def from_unit(self, unit: Any, xp: Any = np) -> Any:
    """Engine images (numpy or JAX, pass ``xp=jax.numpy``) -> the caller's dtype and range."""
    pixels = unit * (self.high - self.low) + self.low
    if np.issubdtype(self.dtype, np.integer):
      pixels = xp.clip(xp.round(pixels), self.low, self.high)
    return pixels.astype(self.dtype)


def value_range(image: np.ndarray, fill: np.ndarray) -> ValueRange:
  """A range in the caller's convention that holds ``image`` and the hidden-superpixel ``fill``.

  Any range that holds both works (the map is affine and inverted exactly); a known convention keeps the
  engine's images looking like images. ``ValueError`` for non-numeric or non-finite pixels.
  """
  if image.dtype == bool or not np.issubdtype(image.dtype, np.number):
    raise ValueError(f"image must be a numeric array, got dtype {image.dtype}")
  if image.size == 0:
    raise ValueError(f"image is empty, shape {image.shape}")
  if not (np.isfinite(image).all() and np.isfinite(fill).all()):
    raise ValueError("image and hide_color must be finite")
  lo, hi = min(image.min(), fill.min()), max(image.max(), fill.max())
  if np.issubdtype(image.dtype, np.integer):
    return ValueRange(image.dtype, float(min(lo, 0)), float(max(hi, 255 if hi <= 255 else 65535)))
  for low, high in _FLOAT_RANGES:
    if low <= lo and hi <= high:
      return ValueRange(image.dtype, low, high)
  return ValueRange(image.dtype, float(lo), float(hi) if hi > lo else float(lo) + 1.0)
