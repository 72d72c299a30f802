"""Image -> superpixel labels ``(H, W)`` int32 in 0..K-1, and the static genome length they are padded to."""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

# LIME's quickshift settings (lime.wrappers.scikit_image.SegmentationAlgorithm defaults in LimeImageExplainer).
LIME_QUICKSHIFT = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "quickshift": LIME_QUICKSHIFT,
    "slic": {"n_segments": 100, "compactness": 10.0, "start_label": 0},
    "felzenszwalb": {"scale": 100.0, "sigma": 0.8, "min_size": 50},
    "grid": {"n_segments": 64},
}
MIN_GENOME_LENGTH = 16


def relabel(labels: np.ndarray) -> np.ndarray:
  """Any integer label map -> ``(H, W)`` int32 labels 0..K-1 in order of first value."""
  labels = np.asarray(labels)
  if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f"segments must be an (H, W) integer label map, got shape {labels.shape} dtype {labels.dtype}")
  _, inverse = np.unique(labels, return_inverse=True)
  return inverse.reshape(labels.shape).astype(np.int32)


def grid_segments(height: int, width: int, n_segments: int) -> np.ndarray:
  """A regular grid of about ``n_segments`` near-square cells, ``(H, W)`` int32."""
  rows = max(1, round(math.sqrt(n_segments * height / width)))
  cols = max(1, round(n_segments / rows))
  r = np.minimum(np.arange(height) * rows // height, rows - 1)
  c = np.minimum(np.arange(width) * cols // width, cols - 1)
  return (r[:, None] * cols + c[None, :]).astype(np.int32)


def segment(image: np.ndarray, method: str = "quickshift", params: Mapping[str, Any] | None = None) -> np.ndarray:
  """Superpixels of an ``(H, W, 3)`` float image in [0, 1].

  Args:
    image: ``(H, W, 3)`` float32 RGB in [0, 1].
    method: ``"quickshift"``, ``"slic"``, ``"felzenszwalb"`` or ``"grid"``.
    params: keyword arguments overriding the method's defaults.

  Returns:
    ``(H, W)`` int32 labels 0..K-1.
  """
  if method not in _DEFAULTS:
    raise ValueError(f"segmentation must be one of {', '.join(_DEFAULTS)}; got {method!r}")
  kwargs = {**_DEFAULTS[method], **dict(params or {})}
  from skimage import segmentation as sk  # deferred: only host segmentation needs it

  try:
    if method == "grid":
      labels = grid_segments(image.shape[0], image.shape[1], **kwargs)
    elif method == "quickshift":
      labels = sk.quickshift(image.astype(np.float64), **kwargs)
    elif method == "slic":
      labels = sk.slic(image.astype(np.float64), channel_axis=-1, **kwargs)
    else:
      labels = sk.felzenszwalb(image.astype(np.float64), channel_axis=-1, **kwargs)
  except TypeError as e:  # an unknown keyword from the caller
    raise ValueError(f"bad segmentation_params for {method}: {e}") from None
  return relabel(labels)


def genome_length(num_segments: int, fixed: int | None = None) -> int:
  """Static genome length for K superpixels: ``fixed`` if given, else the next power of two (>= 16)."""
  if fixed is not None:
    if fixed < num_segments:
      raise ValueError(f"genome_length {fixed} is smaller than the number of superpixels {num_segments}")
    return fixed
  return max(MIN_GENOME_LENGTH, 1 << (num_segments - 1).bit_length())
