"""Scores of an explanation: what each one measures, which way is better, and how it is computed.

The formulas are pure, jit-able ``jax.numpy`` functions of arrays, the one home of each: :mod:`evojax_lime.metrics`
(inside its jitted programs too), the search (restarts' agreement) and the explanations' scores call the same
ones. The faithfulness curves are evaluated by the search's own compiled program, in one last step after the answer is
known (see :mod:`evojax_lime.evaluation.faithfulness`); this module turns them into areas.

* ``insertion_auc`` and ``deletion_auc`` (Petsiuk et al., "RISE", BMVC 2018; as superpixel curves in
  Samek et al., IEEE TNNLS 2017): reveal (insertion) or hide (deletion) the superpixels in the explanation's
  order of importance, starting from the all-hidden (insertion) or the full image (deletion), and integrate
  p(target) over the fraction of superpixels shown with the trapezoid rule. A faithful ranking makes the
  probability rise early on insertion (high AUC) and fall early on deletion (low AUC).
* ``size_auc``: the best p(target) the search evaluated with at most k superpixels kept, integrated over
  k / K: how good an answer the search holds at every size (higher is better), at no extra forward.
* ``sanity`` (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018): Spearman's rank correlation
  between the explanation's ranking of the superpixels (the one its curves and top-k use) and the ranking the
  same search finds for the same class under a copy of the model whose last layers are re-initialised
  (:mod:`models.randomised`), rerun under keys of its own so that the two runs share no random draw. An
  explanation of the prediction must change when the layers that make it are destroyed: near 0 or below is
  sane, near 1 means the explanation does not depend on what the model learnt (lower is better).
* ``robustness``: the mean pixel Jaccard index of the answer with the answers found when the same image is cut
  by other segmentations or filled otherwise (:mod:`evojax_lime.robustness`; higher is better).
* ``stability``: mean pairwise Jaccard index of the selected superpixels of independent runs (restarts or
  seeds); 1 means every run selected the same set.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# name -> (short label, one-line meaning, "higher" or "lower": which way is better)
LEGEND: dict[str, tuple[str, str, str]] = {
    "insertion_auc": ("insertion AUC", "p(target) as superpixels are revealed in the explanation's order, "
                      "area over the fraction shown", "higher"),
    "deletion_auc": ("deletion AUC", "p(target) as superpixels are hidden in the explanation's order, "
                     "area over the fraction shown", "lower"),
    "size_auc": ("size AUC", "best p(target) the search found with at most k superpixels, area over k / K",
                 "higher"),
    "sanity": ("sanity", "rank correlation of the superpixel ranking with that under a model whose last layers "
               "are randomised (an independent rerun)", "lower"),
    "robustness": ("robustness", "mean pixel Jaccard of the answer with those under other segmentations and "
                   "another fill", "higher"),
    "stability": ("stability", "mean pairwise Jaccard index of the runs' selected superpixels", "higher"),
}


def legend_line(name: str) -> str:
  """``"deletion AUC: p(target) as ... (lower is better)"``."""
  label, meaning, better = LEGEND[name]
  return f"{label}: {meaning} ({better} is better)"


def auc(fractions: Any, probabilities: Any) -> jax.Array:
  """Trapezoid area under ``probabilities`` over ``fractions`` (both ``(T + 1,)``, fractions ascending in [0, 1]):
  ``()`` float32."""
  return jnp.trapezoid(jnp.asarray(probabilities, jnp.float32), jnp.asarray(fractions, jnp.float32))


def _jaccard_of_counts(inter: jax.Array, union: jax.Array) -> jax.Array:
  # Two empty sets count as identical.
  return jnp.where(union > 0, inter / jnp.maximum(union, 1), 1.0).astype(jnp.float32)


def jaccard(a: Any, b: Any) -> jax.Array:
  """Jaccard index |a & b| / |a | b| of bool sets ``(..., K)`` -> ``(...)`` float32; two empty sets count as
  identical (1)."""
  a, b = jnp.asarray(a, bool), jnp.asarray(b, bool)
  return _jaccard_of_counts((a & b).sum(-1), (a | b).sum(-1))


def mean_pairwise_jaccard(selections: Any, *, block: int = 256) -> jax.Array:
  """Mean :func:`jaccard` over the pairs of ``(R, K)`` bool selections (1 for one run): ``()`` float32.

  Rows are taken ``block`` at a time, so memory is ``block x R`` counts rather than ``R x R x K``: restarts can
  reach hundreds of thousands of runs.
  """
  as_int = jnp.asarray(selections, bool).astype(jnp.int32)
  r = as_int.shape[0]
  if r < 2:
    return jnp.float32(1.0)
  counts = as_int.sum(1)
  total = jnp.float32(0.0)
  for first in range(0, r, block):
    inter = as_int[first:first + block] @ as_int.T  # (block, R)
    pairs = _jaccard_of_counts(inter, counts[first:first + block, None] + counts[None, :] - inter)
    upper = jnp.arange(r)[None, :] > jnp.arange(first, min(first + block, r))[:, None]  # each pair once
    total = total + jnp.where(upper, pairs, 0.0).sum()
  return total / jnp.float32(r * (r - 1) / 2)


def size_auc_of(size_probabilities: Any) -> jax.Array:
  """Area under the best p(target) with at most k superpixels kept over k / K (NaN when no size was evaluated).

  Args:
    size_probabilities: ``(K + 1,)`` best p with exactly k kept, NaN where none was evaluated.

  Returns:
    ``()`` float32.
  """
  p = jnp.asarray(size_probabilities, jnp.float32)
  best = lax.cummax(jnp.where(jnp.isnan(p), -jnp.inf, p))  # at most k: the best of every smaller size
  known = jnp.isfinite(best)  # sizes below the smallest evaluated one have no mask: they count as p = 0
  area = auc(jnp.arange(p.shape[0]) / (p.shape[0] - 1), jnp.where(known, best, 0.0))
  return jnp.where(known[-1], area, jnp.nan)


def _average_ranks(values: jax.Array) -> jax.Array:
  less = (values[None, :] < values[:, None]).sum(1)
  equal = (values[None, :] == values[:, None]).sum(1)
  return less + (equal - 1) / 2.0  # ties share the mean of their ranks


def rank_correlation_of(a: Any, b: Any) -> jax.Array:
  """Spearman's rank correlation of two ``(K,)`` vectors (ties take their mean rank): ``()`` float32, NaN when
  either is constant."""
  ra, rb = _average_ranks(jnp.asarray(a, jnp.float32)), _average_ranks(jnp.asarray(b, jnp.float32))
  ra, rb = ra - ra.mean(), rb - rb.mean()
  norm = jnp.sqrt((ra * ra).sum() * (rb * rb).sum())
  return jnp.where(norm > 0, (ra * rb).sum() / jnp.where(norm > 0, norm, 1.0), jnp.nan)


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
    return float(auc(self.shown / self.num_segments, self.insertion))

  @property
  def deletion_auc(self) -> float:
    # Deletion step t shows K - shown[t]: integrate over that axis in ascending order.
    return float(auc((self.num_segments - self.shown[::-1]) / self.num_segments, self.deletion[::-1]))

  def summary(self) -> dict[str, Any]:
    return {"ranking": self.ranking.tolist(), "shown": self.shown.tolist(),
            "insertion": self.insertion.tolist(), "deletion": self.deletion.tolist()}


def rank_correlation(a: Any, b: Any) -> float:
  """:func:`rank_correlation_of` as a Python float."""
  return float(rank_correlation_of(a, b))


def ranking_correlation(a: Any, b: Any) -> float:
  """Spearman's rank correlation of two rankings, each a ``(K,)`` permutation of ``0..K-1``, most important
  first (the correlation of each superpixel's place in the two): a Python float."""
  a, b = np.asarray(a), np.asarray(b)
  if a.shape != b.shape or a.ndim != 1 or sorted(a.tolist()) != list(range(a.size)) or \
      sorted(b.tolist()) != list(range(b.size)):
    raise ValueError(f"rankings must be two permutations of 0..K-1 of one length, got shapes {a.shape}, {b.shape}")
  place = lambda ranking: np.argsort(ranking).astype(np.float32)  # superpixel -> its place
  return rank_correlation(place(a), place(b))


def size_auc(size_probabilities: Optional[Any]) -> float:
  """:func:`size_auc_of` as a Python float (NaN without a curve)."""
  return float("nan") if size_probabilities is None else float(size_auc_of(size_probabilities))
