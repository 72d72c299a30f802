"""Planted classifiers whose evidence is known, over irregular regions: the ground truth an answer is judged on.

Each case has a classifier of its own (:func:`planted_classifier`) with two classes, the case's and the rest,
so that its outputs are probabilities (rows sum to 1, as the engine checks); every seed and answer rule of a
case runs as rows of one compiled search. A case's image paints each SLIC region of a photo in a bright colour
of its own; explained with ``fill="black"`` and the regions given as ``segments=``, the classifier sees which
regions are kept (the fraction of each region's pixels that is not black) and maps that to p(case's class) by
a planted formula.

What each case's right answer is, and why:

- ``additive``: 5 of 21 regions add 0.18 each to p, 3 take 0.15 each away, the rest do nothing
  (p = 0.05 + 0.18 positives - 0.15 negatives, clipped). The most probable mask keeps exactly the 5 positives
  (p 0.95 against 0.50 for the photo) and every positive moves p by 0.18: the answer is the 5 positives.
- ``conjunction``: p is 0.95 only when all 4 planted regions are kept (0.05 otherwise): the answer is all 4,
  since any 3 of them say nothing.
- ``disjunction``: p is 0.95 when either of two disjoint sets of 3 is kept whole. Either set alone is a
  complete reason; keeping both claims evidence that is not needed, so the answer is exactly one of the two
  (scored against the set it overlaps more). Which one is not determined by the classifier.
- ``saturation``: each of 5 positives adds 2.5 to a logit of -3 (p = sigmoid): 3 positives already give
  p 0.99, all 5 give 0.9999. Which 3 is not determined, so the case is scored on precision (only positives)
  and on reaching saturation, not on recall of all 5.
- ``many``: 84 regions, 6 positives adding 0.15 each, 2 negatives, 76 neutral distractors: the answer is the 6.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

SIDE = 64  # pixels: enough for 84 SLIC regions, small enough that a forward of every case costs little
COLOUR_SEED = 0


@dataclasses.dataclass(frozen=True)
class Case:
  """One planted case: its regions, its evidence and the answer it should get.

  Attributes:
    name: the case.
    labels: ``(SIDE, SIDE)`` int32 region ids 0..K-1 (SLIC on a photo, irregular).
    image: ``(SIDE, SIDE, 3)`` float32, each region one bright colour.
    truth: the regions a right answer keeps (for ``disjunction``, the first of the two sets).
    alternative: the other complete set where two are right (``disjunction``), else empty.
    negative: regions that lower p (none expected in an answer).
    recall_scored: whether the case is scored on recall of every truth region (False where which subset of
      them is needed is not determined: ``saturation``).
  """

  name: str
  labels: np.ndarray
  image: np.ndarray
  truth: tuple[int, ...]
  alternative: tuple[int, ...] = ()
  negative: tuple[int, ...] = ()
  recall_scored: bool = True

  @property
  def num_segments(self) -> int:
    return int(self.labels.max()) + 1


def _regions(n_segments: int) -> np.ndarray:
  """SLIC regions of a photo at ``SIDE`` px, relabelled 0..K-1 (irregular shapes and sizes)."""
  from skimage import data, segmentation, transform
  photo = transform.resize(data.astronaut(), (SIDE, SIDE), anti_aliasing=True)
  labels = segmentation.slic(photo, n_segments=n_segments, compactness=10, start_label=0)
  return np.unique(labels, return_inverse=True)[1].reshape(labels.shape).astype(np.int32)


def _painted(labels: np.ndarray) -> np.ndarray:
  colours = np.random.default_rng(COLOUR_SEED).uniform(0.3, 1.0, size=(int(labels.max()) + 1, 3))
  return colours[labels].astype(np.float32)


def _pick(k: int, count: int, rng: np.random.Generator, taken: tuple[int, ...] = ()) -> tuple[int, ...]:
  free = np.setdiff1d(np.arange(k), taken)
  return tuple(int(i) for i in np.sort(rng.choice(free, count, replace=False)))


def cases() -> list[Case]:
  """The planted cases, in the order of :data:`FORMULAS` (the classifier's classes)."""
  rng = np.random.default_rng(1)
  small, large = _regions(40), _regions(100)  # K = 21 and 84
  ks, kl = int(small.max()) + 1, int(large.max()) + 1
  out = []
  pos = _pick(ks, 5, rng)
  out.append(Case("additive", small, _painted(small), pos, negative=_pick(ks, 3, rng, pos)))
  out.append(Case("conjunction", small, _painted(small), _pick(ks, 4, rng)))
  a = _pick(ks, 3, rng)
  out.append(Case("disjunction", small, _painted(small), a, alternative=_pick(ks, 3, rng, a)))
  out.append(Case("saturation", small, _painted(small), _pick(ks, 5, rng), recall_scored=False))
  pos = _pick(kl, 6, rng)
  out.append(Case("many", large, _painted(large), pos, negative=_pick(kl, 2, rng, pos)))
  return out


def _sum(v: jax.Array, ids: tuple[int, ...]) -> jax.Array:
  return v[:, jnp.asarray(ids, jnp.int32)].sum(-1)


def _prod(v: jax.Array, ids: tuple[int, ...]) -> jax.Array:
  return v[:, jnp.asarray(ids, jnp.int32)].prod(-1)


# p(case's class | kept fractions v (N, K)) -> (N,)
FORMULAS: dict[str, Callable[[Case, jax.Array], jax.Array]] = {
    "additive": lambda c, v: jnp.clip(0.05 + 0.18 * _sum(v, c.truth) - 0.15 * _sum(v, c.negative), 0.01, 0.99),
    "conjunction": lambda c, v: 0.05 + 0.9 * _prod(v, c.truth),
    "disjunction": lambda c, v: 0.05 + 0.9 * jnp.maximum(_prod(v, c.truth), _prod(v, c.alternative)),
    "saturation": lambda c, v: jax.nn.sigmoid(2.5 * _sum(v, c.truth) - 3.0),
    "many": lambda c, v: jnp.clip(0.05 + 0.15 * _sum(v, c.truth) - 0.1 * _sum(v, c.negative), 0.01, 0.99),
}


def planted_classifier(case: Case) -> Callable[[jax.Array], jax.Array]:
  """``(N, SIDE, SIDE, 3)`` -> ``(N, 2)`` probabilities: column 0 is the case's planted p, read through its regions
  (explain the case's image with ``target=0``), column 1 the rest, so that every row sums to 1."""
  onehot = jnp.asarray(np.eye(case.num_segments, dtype=np.float32)[case.labels.reshape(-1)])
  count = onehot.sum(0)

  def classifier(images: jax.Array) -> jax.Array:
    visible = (images.sum(-1) > 0.05).astype(jnp.float32).reshape(images.shape[0], -1)
    p = FORMULAS[case.name](case, (visible @ onehot) / count)
    return jnp.stack([p, 1.0 - p], -1)

  return classifier


def truth_of(case: Case, selected: np.ndarray) -> tuple[int, ...]:
  """The right set ``selected`` is judged against: the truth, or for a disjunction the set it overlaps more."""
  if not case.alternative:
    return case.truth
  overlap = lambda s: len(np.intersect1d(selected, s))
  return case.truth if overlap(case.truth) >= overlap(case.alternative) else case.alternative


def precision_recall(selected: np.ndarray, truth: tuple[int, ...]) -> tuple[float, float]:
  """Of a set of kept superpixels against the right set: (precision, recall); an empty answer has precision 0."""
  hit = len(np.intersect1d(selected, truth))
  return (hit / len(selected) if len(selected) else 0.0), hit / len(truth)


def case_scores(case: Case, selected: np.ndarray, probability: Optional[float] = None) -> dict:
  """Precision, recall and F1 of an answer on a planted case (recall is None where it is not scored)."""
  precision, recall = precision_recall(np.asarray(selected), truth_of(case, np.asarray(selected)))
  if not case.recall_scored:
    return {"precision": precision, "recall": None, "f1": None, "kept": int(len(selected)),
            "probability": probability}
  f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
  return {"precision": precision, "recall": recall, "f1": f1, "kept": int(len(selected)),
          "probability": probability}
