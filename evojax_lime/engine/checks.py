"""Checks at the boundary: every bad input becomes one clear ValueError."""
from __future__ import annotations

from typing import Any

import numpy as np


def as_image(image: Any, *, name: str = "image") -> np.ndarray:
  """Any RGB-like image -> ``(H, W, 3)`` float32 in [0, 1].

  Accepts numpy/JAX arrays and PIL images: uint8 (0..255), uint16 (0..65535), bool, or float in [0, 1];
  grayscale ``(H, W)`` / ``(H, W, 1)`` is repeated to RGB and an alpha channel ``(H, W, 4)`` dropped.
  """
  arr = np.asarray(image)
  if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
    raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
  if arr.ndim == 3 and arr.shape[-1] == 1:
    arr = arr[..., 0]
  if arr.ndim == 2:
    arr = np.repeat(arr[..., None], 3, axis=-1)
  if arr.ndim == 3 and arr.shape[-1] == 4:
    arr = arr[..., :3]
  if arr.ndim != 3 or arr.shape[-1] != 3:
    raise ValueError(f"{name} must be (H, W, 3) RGB (or grayscale / RGBA), got shape {arr.shape}")
  if arr.shape[0] < 2 or arr.shape[1] < 2:
    raise ValueError(f"{name} must be at least 2 x 2 pixels, got {arr.shape[0]} x {arr.shape[1]}")
  if arr.dtype == bool:
    return arr.astype(np.float32)
  if np.issubdtype(arr.dtype, np.integer):
    top = 65535.0 if arr.dtype.itemsize >= 2 and arr.max() > 255 else 255.0
    if arr.min() < 0 or arr.max() > top:
      raise ValueError(f"integer {name} values must lie in [0, {int(top)}], got [{arr.min()}, {arr.max()}]")
    return (arr / top).astype(np.float32)
  arr = arr.astype(np.float32)
  if not np.isfinite(arr).all():
    raise ValueError(f"{name} has NaN or infinite pixels")
  if arr.min() < 0.0 or arr.max() > 1.0:
    raise ValueError(f"float {name} values must lie in [0, 1], got [{arr.min():.4g}, {arr.max():.4g}]")
  return arr


def check_target(target: Any, num_classes: int) -> int:
  """A class index in ``[0, num_classes)``."""
  if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
    raise ValueError(f"target must be an integer class index, got {target!r}")
  if not 0 <= int(target) < num_classes:
    raise ValueError(f"target {int(target)} is out of range: the classifier has {num_classes} classes (0..{num_classes - 1})")
  return int(target)


def check_segments(labels: np.ndarray, shape: tuple[int, int]) -> None:
  """Label map must match the image and hold at least two superpixels."""
  if labels.shape != shape:
    raise ValueError(f"segments shape {labels.shape} does not match the image's {shape}")
  if int(labels.max()) + 1 < 2:
    raise ValueError("the image has fewer than 2 superpixels; there is nothing to select between")
