"""Scores of an explanation: what each one measures, which way is better, and how it is computed.

The faithfulness curves are evaluated by the search's own compiled program, in one last step after the
answer is known (see :mod:`evojax_lime.engine.loop`); this module turns them into numbers, on the host.

* ``insertion_auc`` and ``deletion_auc`` (Petsiuk et al., "RISE", BMVC 2018; as superpixel curves in
  Samek et al., IEEE TNNLS 2017): reveal (insertion) or hide (deletion) the superpixels in the explanation's
  order of importance, starting from the all-hidden (insertion) or the full image (deletion), and integrate
  p(target) over the fraction of superpixels shown with the trapezoid rule. A faithful ranking makes the
  probability rise early on insertion (high AUC) and fall early on deletion (low AUC).
* ``size_auc``: the best p(target) the search evaluated with at most k superpixels kept, integrated over
  k / K: how good an answer the search holds at every size (higher is better), at no extra forward.
* ``sanity`` (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018): Spearman's rank correlation
  between the superpixels' importance and their importance when the same search explains the same class under
  a copy of the model whose last layers are re-initialised (:mod:`models.randomised`). An explanation of the
  prediction must change when the layers that make it are destroyed: near 0 or below is sane, near 1 means
  the explanation does not depend on what the model learnt (lower is better).
* ``robustness``: the mean pixel Jaccard index of the answer with the answers found when the same image is cut
  by other segmentations or filled otherwise (:mod:`evojax_lime.robustness`; higher is better).
* ``stability``: mean pairwise Jaccard index of the selected superpixels of independent runs (restarts or
  seeds); 1 means every run selected the same set.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import numpy as np

# name -> (short label, one-line meaning, "higher" or "lower": which way is better)
LEGEND: dict[str, tuple[str, str, str]] = {
    "insertion_auc": ("insertion AUC", "p(target) as superpixels are revealed in the explanation's order, "
                      "area over the fraction shown", "higher"),
    "deletion_auc": ("deletion AUC", "p(target) as superpixels are hidden in the explanation's order, "
                     "area over the fraction shown", "lower"),
    "size_auc": ("size AUC", "best p(target) the search found with at most k superpixels, area over k / K",
                 "higher"),
    "sanity": ("sanity", "rank correlation of superpixel importance with that under a model whose last layers "
               "are randomised", "lower"),
    "robustness": ("robustness", "mean pixel Jaccard of the answer with those under other segmentations and "
                   "another fill", "higher"),
    "stability": ("stability", "mean pairwise Jaccard index of the runs' selected superpixels", "higher"),
}


def legend_line(name: str) -> str:
  """``"deletion AUC: p(target) as ... (lower is better)"``."""
  label, meaning, better = LEGEND[name]
  return f"{label}: {meaning} ({better} is better)"


def trapezoid(x: np.ndarray, y: np.ndarray) -> float:
  """Trapezoid area under ``y`` over ascending ``x`` (float64)."""
  x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
  return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


@dataclasses.dataclass(frozen=True)
class Faithfulness:
  """The insertion and deletion curves of an explanation's ranking, as the search's program evaluated them.

  Attributes:
    ranking: ``(K,)`` int superpixel ids, most important first: the kept superpixels, then the others, each group
      by how many of the search's best masks of each size keep them, then by importance.
    shown: ``(T + 1,)`` int, superpixels revealed after insertion step t (0 .. K, ascending); deletion step t
      has hidden as many.
    insertion: ``(T + 1,)`` p(target) after insertion step t (``insertion[0]``: every superpixel hidden).
    deletion: ``(T + 1,)`` p(target) after deletion step t (``deletion[0]``: the full image).
  """

  ranking: np.ndarray
  shown: np.ndarray
  insertion: np.ndarray
  deletion: np.ndarray

  @property
  def num_segments(self) -> int:
    return int(self.ranking.shape[0])

  @property
  def num_evaluations(self) -> int:
    """Forwards the curves cost: the all-hidden image and each curve's inner points (the full image is known)."""
    return 2 * (int(self.shown.shape[0]) - 1) - 1

  @property
  def insertion_auc(self) -> float:
    return trapezoid(self.shown / self.num_segments, self.insertion)

  @property
  def deletion_auc(self) -> float:
    # Deletion step t shows K - shown[t]: integrate over that axis in ascending order.
    return trapezoid((self.num_segments - self.shown[::-1]) / self.num_segments, self.deletion[::-1])

  def summary(self) -> dict[str, Any]:
    return {"ranking": self.ranking.tolist(), "shown": self.shown.tolist(),
            "insertion": self.insertion.tolist(), "deletion": self.deletion.tolist()}


def _average_ranks(values: np.ndarray) -> np.ndarray:
  order = np.argsort(values, kind="stable")
  ranks = np.empty(len(values), np.float64)
  ranks[order] = np.arange(len(values), dtype=np.float64)
  _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
  for start, count in zip(first, counts):  # ties share the mean of their ranks
    ranks[order[start:start + count]] = start + (count - 1) / 2.0
  return ranks


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
  """Spearman's rank correlation of two ``(K,)`` vectors (ties take their mean rank); NaN when either is
  constant."""
  ra, rb = _average_ranks(np.asarray(a, np.float64)), _average_ranks(np.asarray(b, np.float64))
  ra, rb = ra - ra.mean(), rb - rb.mean()
  norm = np.sqrt((ra * ra).sum() * (rb * rb).sum())
  return float((ra * rb).sum() / norm) if norm > 0 else float("nan")


def size_auc(size_probabilities: Optional[np.ndarray]) -> float:
  """Area under the best p(target) with at most k kept over k / K (NaN without a curve).

  Args:
    size_probabilities: ``(K + 1,)`` best p with exactly k kept, NaN where none was evaluated.
  """
  if size_probabilities is None:
    return float("nan")
  p = np.asarray(size_probabilities, np.float64)
  best = np.fmax.accumulate(np.where(np.isnan(p), -np.inf, p))  # at most k: the best of every smaller size
  if not np.isfinite(best[-1]):
    return float("nan")
  known = np.isfinite(best)  # sizes below the smallest evaluated one have no mask: they count as p = 0
  return trapezoid(np.arange(p.shape[0]) / (p.shape[0] - 1), np.where(known, best, 0.0))
