"""Pictures of a :class:`ParetoFront`: the probability-vs-size curve and a strip of explanations at a few sizes.

Both draw on matplotlib's Agg canvas (no display) and write a PNG.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from evojax_lime.front import ParetoFront
from evojax_lime.render import PLAIN_TEXT, save_strip


def plot_front(front: ParetoFront, path: str | os.PathLike, *, title: str = "",
               points: Optional[Sequence[tuple[int, float, str]]] = None) -> None:
  """p(target | kept) against the number kept: every size's best (grey), the non-dominated front (red steps),
  the original probability (dashed) and optional extra ``(kept, probability, label)`` points, for example the
  single-objective runs of a parsimony sweep. ``title`` and the points' labels are drawn as plain text, never as
  mathtext."""
  from matplotlib.figure import Figure

  fig = Figure(figsize=(6.4, 4.0), dpi=100, layout="constrained")
  ax = fig.add_subplot()
  sizes, nd = front.sizes, front.non_dominated()
  ax.scatter(sizes, front.probabilities[sizes], s=12, color="#999999", label="best at each size")
  ax.step(nd, front.probabilities[nd], where="post", color="#d62728", linewidth=2, marker="o", markersize=4,
          label=f"front (hypervolume {front.hypervolume():.3f})")
  ax.axhline(front.original_probability, color="#333333", linestyle="--", linewidth=1, label="full image")
  for kept, prob, label in points or ():
    ax.scatter([kept], [prob], marker="x", s=50, zorder=3, label=label)
  ax.set_xlabel(f"superpixels kept (of {front.num_segments})")
  ax.set_ylabel("p(target | kept superpixels)")
  ax.set_xlim(-0.5, front.num_segments + 0.5)
  ax.set_ylim(0, 1.02)
  ax.grid(alpha=0.3)
  legend = ax.legend(loc="lower right", fontsize=8)
  for text in legend.get_texts():  # the points' labels may be names, as the title
    text.set(**PLAIN_TEXT)
  if title:
    ax.set_title(title, **PLAIN_TEXT)
  fig.savefig(path, format="png")


def front_strip(front: ParetoFront, sizes: Sequence[int], path: str | os.PathLike) -> None:
  """The masked image the classifier saw at each of ``sizes`` (each must have a genome), side by side."""
  if not len(sizes):
    raise ValueError("front_strip needs at least one size")
  points = [front.point(int(k)) for k in sizes]  # raises a clear ValueError for a size without a genome
  save_strip([(exp.masked_image(), f"k={len(exp.selected)}  p={exp.explanation_probability:.2f}")
              for exp in points], path)


def strip_sizes(front: ParetoFront, count: int = 4) -> list[int]:
  """Up to ``count`` sizes spread evenly along the non-dominated front (smallest and largest included)."""
  nd = front.non_dominated()
  if len(nd) <= count:
    return nd.tolist()
  return sorted({int(nd[i]) for i in np.linspace(0, len(nd) - 1, count).round().astype(int)})
