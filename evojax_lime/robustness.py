"""Robustness of an explanation: does the answer hold, in pixels, when the image is cut or filled otherwise?

``explain(..., robustness=True)`` adds, for each image, one row per :data:`VARIANTS` entry to the same search
(the same compiled program): the image cut by another segmentation, and the image with another fill. Each
variant's answer is compared with the image's own, pixel by pixel: the score is their mean pixel Jaccard
index (1: every variant keeps exactly the same pixels; higher is better). An explanation that depends on how
the superpixels happened to be drawn, or on the colour hidden pixels take, explains the segmentation rather
than the model.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from evojax_lime.config import ELimeConfig
from evojax_lime.engine.checks import as_image
from evojax_lime.scores import jaccard
from evojax_lime.segmentation.superpixels import segment

# name -> (segmentation method, params) for the cuts; "fill" is another fill on the image's own superpixels.
CUTS = {"quickshift_kernel6": ("quickshift", {"kernel_size": 6, "max_dist": 200, "ratio": 0.2}),
        "slic50": ("slic", {"n_segments": 50, "compactness": 10.0, "start_label": 0})}
VARIANTS = (*CUTS, "fill")


def other_fill(config: ELimeConfig) -> str:
  """The fill of the ``"fill"`` variant: a blurred copy, or the image's mean colour when the run blurs."""
  return "image_mean" if config.fill == "blur" else "blur"


def variant_inputs(image: Any, config: ELimeConfig) -> list[tuple[Optional[np.ndarray], Optional[np.ndarray]]]:
  """``(segments, baseline)`` of each :data:`VARIANTS` row of ``image`` (``None``: as the image's own row)."""
  pixels = as_image(image)
  rows = []
  for name, (method, params) in CUTS.items():
    labels = segment(pixels, method, params)
    if labels.max() < 1:
      raise ValueError(f"robustness: the {name} cut of the image has a single superpixel (the image is too small "
                       f"or too plain for it)")
    rows.append((labels, None))
  return rows + [(None, _fill(pixels, other_fill(config), config.blur_sigma))]


def _fill(pixels: np.ndarray, kind: str, sigma: float) -> np.ndarray:
  """The variant's fill, on the host with numpy (an eager JAX op would compile a program of its own); the blur
  is :func:`evojax_lime.evaluation.fill.gaussian_blur`'s (reflected borders, radius 3 sigma)."""
  if kind == "image_mean":
    return np.broadcast_to(pixels.mean(axis=(0, 1)), pixels.shape).astype(np.float32)
  from scipy import ndimage  # deferred: only this variant needs it

  return ndimage.gaussian_filter(pixels, sigma=(sigma, sigma, 0), mode="mirror", truncate=3.0).astype(np.float32)


def pixel_jaccard(a: np.ndarray, b: np.ndarray) -> float:
  """:func:`~evojax_lime.scores.jaccard` of two ``(H, W)`` bool masks, their pixels as the sets (1.0 when both are
  empty)."""
  return float(jaccard(np.ravel(a), np.ravel(b)))


def agreement(mask: np.ndarray, variant_masks: list[np.ndarray]) -> dict[str, float]:
  """Pixel Jaccard of ``mask`` with each variant's, by :data:`VARIANTS` name."""
  return {name: pixel_jaccard(mask, other) for name, other in zip(VARIANTS, variant_masks)}
