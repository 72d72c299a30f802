"""The result of an explanation and how to render it."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import numpy as np

from evojax_lime import render
from evojax_lime.config import ELimeConfig
from evojax_lime.engine.seeds import recorded
from evojax_lime.scores import LEGEND, Faithfulness, size_auc


@dataclasses.dataclass(frozen=True)
class Explanation:
  """Which superpixels explain the classifier's prediction.

  Attributes:
    image: ``(H, W, 3)`` float32 image that was explained.
    labels: ``(H, W)`` int32 superpixel ids 0..K-1.
    fill: ``(H, W, 3)`` float32 shown in place of hidden superpixels.
    genome: ``(K,)`` bool, the best genome: True = superpixel kept.
    importance: ``(K,)`` float32 per superpixel, higher = more important; what it is depends on the strategy:
      the GA's is the fitness-weighted frequency of each superpixel in the final population (in [0, 1]),
      KernelSHAP's the Shapley values (signed: negative for a superpixel that lowers p(target)), the extremal
      masks' the mean of their masks (in [0, 1]).
    target: class explained.
    original_probability: p(target | full image).
    explanation_probability: p(target | only the kept superpixels).
    best_fitness: fitness of ``genome``.
    fitness_history: ``(generations_run + 1,)`` best fitness per generation (entry 0: initial population).
    mean_fitness_history: ``(generations_run + 1,)`` mean population fitness.
    generations_run: generations evolved (fewer than configured after an early stop).
    num_evaluations: classifier evaluations spent by the search.
    scoring_evaluations: classifier evaluations spent on the answer's curves after the search (0 without).
    sanity: with ``explain(..., randomised=...)``, the rank correlation of :attr:`ranking` with the ranking the
      same search finds under the randomised model, rerun under independent keys (see :mod:`evojax_lime.scores`);
      ``None`` otherwise.
    sanity_cascade: with a cascade (``cascade=[...]``), the correlation under each randomised model, in the
      order given (``sanity`` is the first); ``None`` otherwise.
    robustness: with ``explain(..., robustness=True)``, the mean pixel Jaccard of the answer's mask with the
      answers under other segmentations and another fill; ``robustness_by_variant`` has each
      (:mod:`evojax_lime.robustness`).
    segmentation_time, compile_time, evolve_time, wall_time: seconds; ``wall_time`` covers the whole call.
    config: the options used.
    seed: the seed the run derived every random choice from.
    stability: with restarts, the runs' mean pairwise Jaccard index of their selected sets (1.0 = all agree);
      ``None`` for a single run.
    runs: with restarts, each run's :class:`Explanation` (this one is their consensus); ``()`` otherwise.
    size_probabilities: ``(K + 1,)`` float64, the best p(target | kept) the search evaluated with exactly k
      superpixels kept (NaN where it evaluated none): the probability-vs-size curve, at no extra forward.
    size_genomes: ``(K + 1, K)`` bool, the genome that reached it.
    size_history: ``(generations_run + 1, K + 1)`` float64, ``size_probabilities`` after each population: when
      the search first held a mask of each size that good.
    faithfulness: the insertion and deletion curves of the answer's ranking, evaluated by the search's program
      (``None`` with ``ELimeConfig(faithfulness=False)``); see :meth:`scores`.
  """

  image: np.ndarray
  labels: np.ndarray
  fill: np.ndarray
  genome: np.ndarray
  importance: np.ndarray
  target: int
  original_probability: float
  explanation_probability: float
  best_fitness: float
  fitness_history: np.ndarray
  mean_fitness_history: np.ndarray
  generations_run: int
  num_evaluations: int
  segmentation_time: float
  compile_time: float
  evolve_time: float
  wall_time: float
  config: ELimeConfig
  seed: Any
  stability: Optional[float] = None
  runs: tuple = ()
  size_probabilities: Optional[np.ndarray] = None
  size_genomes: Optional[np.ndarray] = None
  size_history: Optional[np.ndarray] = None
  faithfulness: Optional[Faithfulness] = None
  scoring_evaluations: int = 0
  sanity: Optional[float] = None
  sanity_cascade: Optional[tuple] = None
  robustness: Optional[float] = None
  robustness_by_variant: Optional[dict] = None

  @property
  def num_segments(self) -> int:
    return int(self.genome.shape[0])

  @property
  def margin(self) -> float:
    """``explanation_probability - original_probability``: how far the answer raised p over the whole photo
    (negative: it lowered it). Reported beside "raised", which is true for any margin above 0."""
    return float(self.explanation_probability - self.original_probability)

  @property
  def compact(self) -> bool:
    """Whether the answer keeps at most half of the superpixels. An answer that keeps more says little beyond
    "most of the photo" and is reported as no compact explanation found."""
    return 2 * len(self.selected) <= self.num_segments

  @property
  def ranking(self) -> np.ndarray:
    """``(K,)`` int superpixel ids, most important first: the order the answer's curves were evaluated in (the
    kept superpixels first, each group by the per-size archive, then by importance); without curves, the kept
    superpixels first, each group by importance (equal scores keep id order)."""
    if self.faithfulness is not None:
      return np.asarray(self.faithfulness.ranking)
    return np.lexsort((np.arange(self.num_segments), -np.asarray(self.importance, np.float64), ~self.genome))

  @property
  def selected(self) -> np.ndarray:
    """``(k,)`` int ids of the kept superpixels, ascending."""
    return np.flatnonzero(self.genome)

  def best_of_size(self, k: int, *, at_most: bool = True) -> np.ndarray:
    """``(K,)`` bool, the most probable mask the search evaluated with ``k`` superpixels kept (with
    ``at_most``, the most probable of at most ``k``; ties go to the smaller size).

    Raises:
      ValueError: ``k`` is not in ``[0, K]``, or no mask of that size was evaluated.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= self.num_segments:
      raise ValueError(f"size must be an integer in [0, K={self.num_segments}], got {k!r}")
    if self.size_probabilities is None:
      raise ValueError("this explanation carries no per-size masks")
    p = np.where(np.isnan(self.size_probabilities), -np.inf, self.size_probabilities)
    size = int(np.argmax(p[:k + 1])) if at_most else int(k)
    if not np.isfinite(p[size]):
      raise ValueError(f"the search evaluated no mask of {'at most ' if at_most else ''}{k} superpixels")
    return self.size_genomes[size].copy()

  def scores(self) -> dict[str, Optional[float]]:
    """Each :data:`evojax_lime.scores.LEGEND` score of this explanation, ``None`` where it was not computed."""
    f = self.faithfulness
    values = {"insertion_auc": None if f is None else f.insertion_auc,
              "deletion_auc": None if f is None else f.deletion_auc,
              "size_auc": size_auc(self.size_probabilities), "sanity": self.sanity, "robustness": self.robustness, "stability": self.stability}
    return {name: (None if values[name] is None or not np.isfinite(values[name]) else float(values[name]))
            for name in LEGEND}

  def mask(self) -> np.ndarray:
    """``(H, W)`` bool, True where a kept superpixel lies."""
    return self.genome[self.labels]

  def masked_image(self) -> np.ndarray:
    """``(H, W, 3)`` float32, the image the classifier saw for the explanation."""
    return np.where(self.mask()[..., None], self.image, self.fill).astype(np.float32)

  # Notebook views (IPython's display protocol); drawn by evojax_lime.render, which the CLI uses too.
  def _repr_png_(self) -> bytes:
    """The overlay as PNG: kept superpixels as they are, the rest dimmed, boundaries drawn."""
    return render.png_bytes(render.overlay(render.photo_of(self), self))

  def _repr_html_(self) -> str:
    """The overlay beside its numbers (class, p before -> after, kept / K, fitness, evaluations, timings)."""
    return render.explanation_html(self)

  def plot(self, *, figsize: tuple[float, float] = (11.0, 4.0)) -> Any:
    """Draws the overlay and the fitness curve with matplotlib; returns the ``Figure``."""
    return render.plot(self, figsize=figsize)

  def summary(self) -> dict[str, Any]:
    """JSON-ready scalars and lists (no images); with restarts also ``stability`` and each run's ``runs``."""
    out = {
        "target": self.target,
        "original_probability": self.original_probability,
        "explanation_probability": self.explanation_probability,
        "margin": self.margin,
        "compact": self.compact,
        "best_fitness": self.best_fitness,
        "num_segments": self.num_segments,
        "selected": self.selected.tolist(),
        "importance": self.importance.tolist(),
        "fitness_history": self.fitness_history.tolist(),
        "mean_fitness_history": self.mean_fitness_history.tolist(),
        "generations_run": self.generations_run,
        "num_evaluations": self.num_evaluations,
        "scoring_evaluations": self.scoring_evaluations,
        "timings": {"segmentation": self.segmentation_time, "compile": self.compile_time,
                    "evolve": self.evolve_time, "wall": self.wall_time},
        "config": dataclasses.asdict(self.config),
        "seed": recorded(self.seed),
        "scores": self.scores(),
    }
    if self.faithfulness is not None:
      out["faithfulness"] = self.faithfulness.summary()
    if self.robustness_by_variant is not None:
      out["robustness_by_variant"] = dict(self.robustness_by_variant)
    if self.sanity_cascade is not None:
      out["sanity_cascade"] = [None if not np.isfinite(v) else float(v) for v in self.sanity_cascade]
    if self.size_probabilities is not None:
      out["size_probabilities"] = [None if np.isnan(v) else float(v) for v in self.size_probabilities]
    if self.stability is not None:
      out["stability"] = self.stability
      out["runs"] = [{"seed": recorded(r.seed), "selected": r.selected.tolist(),
                      "explanation_probability": r.explanation_probability, "best_fitness": r.best_fitness,
                      "generations_run": r.generations_run} for r in self.runs]
    return out
