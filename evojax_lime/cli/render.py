"""Pictures of an explanation: the overlay on the original photo, the masked input, the fitness curve."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from evojax_lime.explanation import Explanation

HIDDEN_BRIGHTNESS = 0.3  # hidden superpixels stay faintly visible, so the kept ones read in context
_HIDDEN_SATURATION = 0.4
_EDGE_ALPHA_KEPT, _EDGE_ALPHA_HIDDEN = 0.35, 0.2  # superpixel boundaries: visible, never louder than the photo
_OUTLINE_RGB = np.array([1.0, 0.82, 0.1], np.float32)  # the kept region's outline


def upscale_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
  """``(h, w)`` superpixel ids -> ``(height, width)`` by nearest neighbour (ids must not be interpolated)."""
  h, w = labels.shape
  rows = np.minimum((np.arange(height) * h) // height, h - 1)
  cols = np.minimum((np.arange(width) * w) // width, w - 1)
  return labels[rows[:, None], cols[None, :]]


def _thicken(edges: np.ndarray, width: int) -> np.ndarray:
  from skimage.morphology import dilation

  return edges if width <= 1 else dilation(edges, np.ones((width, width), bool))


def overlay(photo: np.ndarray, explanation: Explanation) -> np.ndarray:
  """The photo at its own resolution, kept superpixels as they are, the rest dimmed, boundaries drawn.

  Args:
    photo: ``(H, W, 3)`` uint8, the original photo.
    explanation: its explanation, computed on a resized copy.

  Returns:
    ``(H, W, 3)`` uint8.
  """
  from skimage.segmentation import find_boundaries

  height, width = photo.shape[:2]
  labels = upscale_labels(explanation.labels, height, width)
  kept = explanation.genome[labels]
  rgb = photo.astype(np.float32) / 255.0
  gray = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
  hidden = HIDDEN_BRIGHTNESS * (_HIDDEN_SATURATION * rgb + (1 - _HIDDEN_SATURATION) * gray[..., None])
  out = np.where(kept[..., None], rgb, hidden)

  # Lines about 1/600 of the photo's size: one pixel on small photos, still visible on large ones.
  line = max(1, round(max(height, width) / 600))
  edges = _thicken(find_boundaries(labels, mode="inner"), line)
  alpha = np.where(kept, _EDGE_ALPHA_KEPT, _EDGE_ALPHA_HIDDEN)[..., None] * edges[..., None]
  out = out * (1 - alpha) + alpha
  outline = _thicken(find_boundaries(kept, mode="inner"), line + 1)
  out[outline] = _OUTLINE_RGB
  return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


def masked_input(explanation: Explanation) -> np.ndarray:
  """``(h, w, 3)`` uint8: exactly what the classifier saw for the explanation, at the model's resolution."""
  return np.clip(np.rint(explanation.masked_image() * 255.0), 0, 255).astype(np.uint8)


def save_png(pixels: np.ndarray, path: Path) -> None:
  # Photos hardly compress losslessly: zlib level 1 is ~10x faster than optimize=True for ~12% more bytes.
  Image.fromarray(pixels).save(path, format="PNG", compress_level=1)


def save_fitness_plot(explanation: Explanation, path: Path, *, title: str) -> None:
  """Best and mean population fitness per generation, as a PNG (matplotlib's Agg canvas, no display)."""
  from matplotlib.figure import Figure

  gens = np.arange(len(explanation.fitness_history))
  fig = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
  ax = fig.add_subplot()
  style = {"marker": "o", "markersize": 3} if len(gens) <= 30 else {}
  ax.plot(gens, explanation.fitness_history, label="best", color="#d62728", linewidth=2, **style)
  ax.plot(gens, explanation.mean_fitness_history, label="population mean", color="#1f77b4", linewidth=1.5, **style)
  ax.set_xlabel("generation")
  ax.set_ylabel("fitness  (p(class | kept) - parsimony x kept fraction)", fontsize=8)
  ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend(loc="lower right")
  if len(gens) > 1:
    ax.set_xlim(0, gens[-1])
  fig.savefig(path, format="png")
