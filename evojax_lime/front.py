"""The confidence-vs-size front of one image: for each size k, the best genome found and its probability."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import numpy as np

from evojax_lime.config import ELimeConfig
from evojax_lime.engine.seeds import recorded
from evojax_lime.explanation import Explanation
from evojax_lime.scores import Faithfulness


def non_dominated_sizes(probabilities: np.ndarray) -> np.ndarray:
  """Sizes k whose best probability beats every smaller size's (NaN: nothing found at k), ascending."""
  p = np.where(np.isnan(probabilities), -np.inf, np.asarray(probabilities, np.float64))
  best_below = np.maximum.accumulate(np.concatenate([[-np.inf], p[:-1]]))
  return np.flatnonzero((p > best_below) & np.isfinite(p))


def hypervolume(sizes: Any, probabilities: Any, num_genes: int) -> float:
  """Area dominated by points (k, p) with reference (k = K, p = 0), sizes normalised by K: in [0, 1].

  Minimising size and maximising p, the union of the boxes [k_i / K, 1] x [0, p_i].
  """
  sizes = np.asarray(sizes, np.float64) / num_genes
  probs = np.clip(np.asarray(probabilities, np.float64), 0.0, None)
  order = np.argsort(sizes, kind="stable")
  area, best = 0.0, 0.0
  edges = np.append(sizes[order], 1.0)
  for i, j in enumerate(order):
    best = max(best, probs[j])
    area += max(0.0, min(edges[i + 1], 1.0) - edges[i]) * best
  return float(area)


def covers(front_probabilities: np.ndarray, size: int, probability: float, *, tolerance: float = 1e-4) -> bool:
  """The front matches or dominates the point (size, probability): some front point with at most ``size``
  kept reaches ``probability`` (within ``tolerance``, for the same mask evaluated in another batch)."""
  p = np.where(np.isnan(front_probabilities), -np.inf, front_probabilities)[:size + 1]
  return bool(p.size and p.max() >= probability - tolerance)


@dataclasses.dataclass(frozen=True)
class ParetoFront:
  """The result of a Pareto E-LIME run.

  Attributes:
    image, labels, fill, target, original_probability: as in :class:`Explanation`.
    probabilities: ``(K + 1,)`` float64 best p(target | kept) found with exactly k kept; NaN where no genome of
      that size was evaluated.
    genomes: ``(K + 1, K)`` bool the genome that reached it (all False where none).
    history: ``(G + 1, K + 1)`` best probability per size after each population (NaN: none yet).
    mean_history: ``(G + 1,)`` mean probability of the parents after each population.
    num_evaluations: classifier evaluations spent.
    segmentation_time, compile_time, evolve_time, wall_time: seconds.
    config: the options used; seed: the seed.
    faithfulness: the insertion and deletion curves of the superpixels ranked by how often the front keeps
      them, weighted by p (``None`` with ``ELimeConfig(faithfulness=False)``).
    scoring_evaluations: classifier evaluations of those curves (0 without them).
  """

  image: np.ndarray
  labels: np.ndarray
  fill: np.ndarray
  target: int
  original_probability: float
  probabilities: np.ndarray
  genomes: np.ndarray
  history: np.ndarray
  mean_history: np.ndarray
  num_evaluations: int
  segmentation_time: float
  compile_time: float
  evolve_time: float
  wall_time: float
  config: ELimeConfig
  seed: Any
  faithfulness: Optional[Faithfulness] = None
  scoring_evaluations: int = 0

  @property
  def num_segments(self) -> int:
    return int(self.genomes.shape[1])

  @property
  def sizes(self) -> np.ndarray:
    """Sizes k with a genome found, ascending."""
    return np.flatnonzero(~np.isnan(self.probabilities))

  def non_dominated(self) -> np.ndarray:
    """Sizes on the front proper: each one's probability beats every smaller size's."""
    return non_dominated_sizes(self.probabilities)

  def hypervolume(self) -> float:
    """See :func:`hypervolume`; reference (K, 0), sizes divided by K."""
    sizes = self.sizes
    return hypervolume(sizes, self.probabilities[sizes], self.num_segments)

  def best_at_most(self, k: int) -> int:
    """The size (at most ``k``) of the most probable genome keeping at most ``k`` superpixels."""
    self._check_size(k)
    p = np.where(np.isnan(self.probabilities[:k + 1]), -np.inf, self.probabilities[:k + 1])
    if not np.isfinite(p).any():
      raise ValueError(f"no genome with at most {k} superpixels was found")
    return int(np.argmax(p))

  def _check_size(self, k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= self.num_segments:
      raise ValueError(f"size must be an integer in [0, K={self.num_segments}], got {k!r}")

  def point(self, k: int) -> Explanation:
    """The best genome found with exactly ``k`` kept, as an :class:`Explanation` (its fitness is p).

    Its importance is how often each superpixel is kept along the non-dominated front; its fitness histories
    are this size's best probability and the parents' mean probability per generation.
    """
    self._check_size(k)
    if np.isnan(self.probabilities[k]):
      raise ValueError(f"no genome with exactly {k} superpixels was found; sizes found: {self.sizes.tolist()}")
    front = self.genomes[self.non_dominated()]
    return Explanation(
        image=self.image, labels=self.labels, fill=self.fill, genome=self.genomes[k].copy(),
        importance=front.mean(0).astype(np.float32), target=self.target,
        original_probability=self.original_probability, explanation_probability=float(self.probabilities[k]),
        best_fitness=float(self.probabilities[k]), fitness_history=self.history[:, k].copy(),
        mean_fitness_history=self.mean_history.copy(), generations_run=len(self.mean_history) - 1,
        num_evaluations=self.num_evaluations, segmentation_time=self.segmentation_time,
        compile_time=self.compile_time, evolve_time=self.evolve_time, wall_time=self.wall_time, config=self.config,
        seed=self.seed)

  def summary(self) -> dict[str, Any]:
    """JSON-ready: the non-dominated front (size, probability, kept superpixels), every size's best
    probability, the hypervolume, evaluations and timings, and the curves where they were evaluated."""
    finite = lambda v: None if np.isnan(v) else float(v)
    return {
        "target": self.target,
        "original_probability": self.original_probability,
        "num_segments": self.num_segments,
        "front": [{"kept": int(k), "probability": float(self.probabilities[k]),
                   "selected": np.flatnonzero(self.genomes[k]).tolist()} for k in self.non_dominated()],
        "best_probability_by_size": [finite(v) for v in self.probabilities],
        "hypervolume": self.hypervolume(),
        "num_evaluations": self.num_evaluations,
        "scoring_evaluations": self.scoring_evaluations,
        "timings": {"segmentation": self.segmentation_time, "compile": self.compile_time,
                    "evolve": self.evolve_time, "wall": self.wall_time},
        "config": dataclasses.asdict(self.config),
        "seed": recorded(self.seed),
        **({} if self.faithfulness is None else {"faithfulness": self.faithfulness.summary()}),
    }
