"""Pictures of an explanation: the overlay on the original photo, the masked input, the fitness curve, the best
masks of a few sizes side by side.

Shared by the command line's files and the notebook views of :class:`evojax_lime.Explanation`.
"""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

# An :class:`evojax_lime.Explanation`. The Explanation's own views import this module, so it does not import
# the Explanation back: it reads only the explanation's fields.
_Explanation = Any

HIDDEN_BRIGHTNESS = 0.3  # hidden superpixels stay faintly visible, so the kept ones read in context
_HIDDEN_SATURATION = 0.4
_EDGE_ALPHA_KEPT, _EDGE_ALPHA_HIDDEN = 0.35, 0.2  # superpixel boundaries: visible, never louder than the photo
_OUTLINE_RGB = np.array([1.0, 0.82, 0.1], np.float32)  # the kept region's outline
# For every text that may hold a name (a file's, a class's): drawn as written. Otherwise matplotlib reads
# "x$^$.png" as mathtext and fails on it, or hands it to LaTeX where the person's matplotlibrc sets usetex.
PLAIN_TEXT = {"parse_math": False, "usetex": False}


def upscale_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
  """``(h, w)`` superpixel ids -> ``(height, width)`` by nearest neighbour (ids must not be interpolated)."""
  h, w = labels.shape
  rows = np.minimum((np.arange(height) * h) // height, h - 1)
  cols = np.minimum((np.arange(width) * w) // width, w - 1)
  return labels[rows[:, None], cols[None, :]]


def _thicken(edges: np.ndarray, width: int) -> np.ndarray:
  from skimage.morphology import dilation

  return edges if width <= 1 else dilation(edges, np.ones((width, width), bool))


def overlay(photo: np.ndarray, explanation: _Explanation) -> np.ndarray:
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
  return _to_uint8(out)


def _to_uint8(unit: np.ndarray) -> np.ndarray:
  return np.clip(np.rint(unit * 255.0), 0, 255).astype(np.uint8)


def masked_input(explanation: _Explanation) -> np.ndarray:
  """``(h, w, 3)`` uint8: exactly what the classifier saw for the explanation, at the model's resolution."""
  return _to_uint8(explanation.masked_image())


def photo_of(explanation: _Explanation) -> np.ndarray:
  """``(h, w, 3)`` uint8: the explained image itself (at the model's resolution)."""
  return _to_uint8(explanation.image)


def png_bytes(pixels: np.ndarray) -> bytes:
  """``(H, W, 3)`` uint8 -> PNG file contents."""
  buffer = io.BytesIO()
  # Photos hardly compress losslessly: zlib level 1 is ~10x faster than optimize=True for ~12% more bytes.
  Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
  return buffer.getvalue()


def save_png(pixels: np.ndarray, path: Path) -> None:
  Path(path).write_bytes(png_bytes(pixels))


def numbers(explanation: _Explanation) -> list[tuple[str, str]]:
  """The explanation's headline numbers as ``(name, value)`` text, in reading order."""
  e = explanation
  return [("class", str(e.target)),
          ("p(class)", f"{e.original_probability:.3f} -> {e.explanation_probability:.3f}"),
          ("margin", f"{e.margin:+.3f}"),
          ("kept / K", f"{len(e.selected)} / {e.num_segments}"
                       + ("" if e.compact else " (no compact explanation found)")),
          ("best fitness", f"{e.best_fitness:.3f}"),
          ("generations", str(e.generations_run)),
          ("evaluations", str(e.num_evaluations)),
          ("seconds", f"segmentation {e.segmentation_time:.2f}, compile {e.compile_time:.2f}, "
                      f"evolve {e.evolve_time:.2f}")]


def caption(explanation: _Explanation) -> str:
  """One line: class, p before and after, superpixels kept."""
  e = explanation
  return (f"class {e.target}  p {e.original_probability:.3f} -> {e.explanation_probability:.3f}  "
          f"kept {len(e.selected)} / {e.num_segments}")


_MIN_SHOWN_WIDTH = 224  # small images are shown enlarged (pixelated) so the superpixels stay readable


def explanation_html(explanation: _Explanation) -> str:
  """Self-contained HTML: the overlay (an inline PNG) beside a table of :func:`numbers`."""
  import base64
  import html

  pixels = overlay(photo_of(explanation), explanation)
  data = base64.b64encode(png_bytes(pixels)).decode("ascii")
  width = max(pixels.shape[1], _MIN_SHOWN_WIDTH)
  rows = "".join(f"<tr><th style=\"text-align:left\">{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                 for k, v in numbers(explanation))
  return (f'<div class="evojax-lime-explanation" style="display:flex;gap:1em;align-items:flex-start">'
          f'<img alt="{html.escape(caption(explanation))}" src="data:image/png;base64,{data}" width="{width}" '
          f'style="image-rendering:pixelated"><table>{rows}</table></div>')


def plot(explanation: _Explanation, *, figsize: tuple[float, float] = (11.0, 4.0)) -> Any:
  """A pyplot figure: the overlay (titled with :func:`caption`) beside the fitness curve."""
  import matplotlib.pyplot as plt

  fig, (left, right) = plt.subplots(1, 2, figsize=figsize, layout="constrained",
                                    gridspec_kw={"width_ratios": (1, 1.4)})
  left.imshow(overlay(photo_of(explanation), explanation), interpolation="nearest")
  left.set_title(caption(explanation), fontsize=9, **PLAIN_TEXT)
  left.set_axis_off()
  draw_fitness(right, explanation, title="fitness per generation")
  return fig


def draw_fitness(ax: Any, explanation: _Explanation, *, title: str) -> None:
  """Best and mean population fitness per generation on a matplotlib ``Axes``; ``title`` is plain text."""
  gens = np.arange(len(explanation.fitness_history))
  style = {"marker": "o", "markersize": 3} if len(gens) <= 30 else {}
  ax.plot(gens, explanation.fitness_history, label="best", color="#d62728", linewidth=2, **style)
  ax.plot(gens, explanation.mean_fitness_history, label="population mean", color="#1f77b4", linewidth=1.5, **style)
  ax.set_xlabel("generation")
  ax.set_ylabel("fitness  (p(class | kept) - parsimony x kept fraction)", fontsize=8)
  ax.set_title(title, **PLAIN_TEXT)
  ax.grid(alpha=0.3)
  ax.legend(loc="lower right")
  if len(gens) > 1:
    ax.set_xlim(0, gens[-1])


def save_fitness_plot(explanation: _Explanation, path: Path, *, title: str) -> None:
  """The fitness curve (:func:`draw_fitness`) as a PNG (matplotlib's Agg canvas, no display); ``title`` is plain
  text, never mathtext."""
  from matplotlib.figure import Figure

  fig = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
  draw_fitness(fig.add_subplot(), explanation, title=title)
  fig.savefig(path, format="png")


def save_strip(panels: Sequence[tuple[np.ndarray, str]], path: Path) -> None:
  """Images side by side, each under its caption (plain text), as a PNG (matplotlib's Agg canvas).

  Args:
    panels: ``(image, caption)``; images ``(H, W, 3)`` float in [0, 1] or uint8.
    path: where the PNG goes.
  """
  from matplotlib.figure import Figure

  if not len(panels):
    raise ValueError("a strip needs at least one image")
  fig = Figure(figsize=(2.2 * len(panels), 2.6), dpi=100, layout="constrained")
  for i, (image, text) in enumerate(panels):
    ax = fig.add_subplot(1, len(panels), i + 1)
    ax.imshow(image if image.dtype == np.uint8 else np.clip(image, 0, 1))
    ax.set_title(text, fontsize=9, **PLAIN_TEXT)
    ax.axis("off")
  fig.savefig(path, format="png")


def size_panels(explanation: _Explanation,
                best_of_size: Mapping[str, Mapping[str, Any]]) -> list[tuple[np.ndarray, str]]:
  """The masked image the classifier saw for the most probable mask of at most k superpixels, with its caption
  ``k=3  p=0.81`` (``k=2 (of at most 3)`` when a smaller mask was the better one), for each k of
  ``best_of_size`` (the record's: ``{"3": {"selected": [...], "probability": p}, ...}``).
  """
  panels = []
  for key, entry in sorted(best_of_size.items(), key=lambda item: int(item[0])):
    k = int(key)
    best = dataclasses.replace(explanation, genome=explanation.best_of_size(k))
    kept = len(best.selected)
    size = f"k={k}" if kept == k else f"k={kept} (of at most {k})"
    panels.append((best.masked_image(), f"{size}  p={entry['probability']:.2f}"))
  return panels


def save_sizes(explanation: _Explanation, best_of_size: Mapping[str, Mapping[str, Any]], path: Path) -> None:
  """:func:`size_panels` side by side as a PNG (:func:`save_strip`)."""
  save_strip(size_panels(explanation, best_of_size), path)
