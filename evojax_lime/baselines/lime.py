"""LIME for images (Ribeiro et al., 2016) in JAX, on E-LIME's superpixels, fill and compiled evaluation.

It reproduces ``lime`` 0.2.0.1 (``lime_image.LimeImageExplainer`` + ``lime_base.LimeBase``): binary samples whose
first row keeps every superpixel, and the local linear model of :mod:`evojax_lime.strategies.lime_fit`, fitted in
the same compiled program as the samples' evaluation, which then scores its ranking by the insertion and
deletion curves that score every explainer.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, Optional

import jax
import numpy as np

from evojax_lime.config import ELimeConfig
from evojax_lime.engine.search import Search
from evojax_lime.engine.seeds import prng_key, recorded
from evojax_lime.evaluation.fitness import Classifier
from evojax_lime.scores import Faithfulness
from evojax_lime.strategies.lime_fit import (  # noqa: F401  (public here too: the fit is LIME's)
    FEATURE_SELECTIONS, KERNEL_WIDTH, LimeFit, check_fit_options, cosine_distances, forward_selection,
    highest_weights, kernel, lime_weights, r2_score, weighted_ridge)
from evojax_lime.strategies.lime_sampling import LimeSampling, lime_samples  # noqa: F401  (lime_samples: public)


@dataclasses.dataclass(frozen=True)
class LimeExplanation:
  """A LIME explanation of one image.

  Attributes:
    image: ``(H, W, 3)`` float32 image explained.
    labels: ``(H, W)`` int32 superpixel ids 0..K-1.
    fill: ``(H, W, 3)`` float32 shown in place of hidden superpixels.
    target: class explained.
    weights: ``(K,)`` float32 ridge coefficient per superpixel (positive: supports ``target``).
    intercept, score, local_prediction: the ridge's intercept, weighted R^2 and prediction on the full image.
    used: ``(K,)`` bool, superpixels that entered the ridge after feature selection.
    original_probability: p(target | full image).
    samples: ``(S, K)`` bool perturbations (row 0 = all kept).
    sample_probabilities: ``(S,)`` float32 p(target) of each perturbation.
    num_evaluations: classifier evaluations (S).
    timings: seconds: ``segmentation``, ``compile``, ``evaluate`` (the samples, the fit and the curves, one
      program), ``wall``.
    seed: the seed the samples came from.
    faithfulness: the insertion and deletion curves of :attr:`ranking`, evaluated by the same program as every
      explainer's (``None`` with ``ELimeConfig(faithfulness=False)``).
    scoring_evaluations: classifier evaluations of those curves (0 without them).
  """

  image: np.ndarray
  labels: np.ndarray
  fill: np.ndarray
  target: int
  weights: np.ndarray
  intercept: float
  score: float
  local_prediction: float
  used: np.ndarray
  original_probability: float
  samples: np.ndarray
  sample_probabilities: np.ndarray
  num_evaluations: int
  timings: dict
  seed: Any
  faithfulness: Optional[Faithfulness] = None
  scoring_evaluations: int = 0

  @property
  def num_segments(self) -> int:
    return int(self.weights.shape[0])

  @property
  def ranking(self) -> np.ndarray:
    """``(K,)`` superpixel ids by decreasing weight (most supportive first; ties in index order)."""
    return np.argsort(-self.weights, kind="stable")

  def selected(self, k: int, *, positive_only: bool = True) -> np.ndarray:
    """Ids (ascending) of the top ``k`` superpixels, as lime's ``get_image_and_mask(num_features=k)``.

    With ``positive_only`` (lime's default) only superpixels with weight > 0 count, so fewer than ``k`` may
    come back; otherwise the ``k`` largest ``|weight|`` whatever their sign.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
      raise ValueError(f"k must be an integer >= 0, got {k!r}")
    order = np.argsort(-np.abs(self.weights), kind="stable")  # lime sorts its explanation by |weight|
    if positive_only:
      order = order[self.weights[order] > 0]
    return np.sort(order[:k])

  def genome(self, k: int, *, positive_only: bool = True) -> np.ndarray:
    """``(K,)`` bool, True for :meth:`selected` superpixels."""
    genome = np.zeros(self.num_segments, bool)
    genome[self.selected(k, positive_only=positive_only)] = True
    return genome

  def mask(self, k: int, *, positive_only: bool = True) -> np.ndarray:
    """``(H, W)`` bool, True where a selected superpixel lies."""
    return self.genome(k, positive_only=positive_only)[self.labels]

  def masked_image(self, k: int, *, positive_only: bool = True) -> np.ndarray:
    """``(H, W, 3)`` float32: the selected superpixels over the fill."""
    return np.where(self.mask(k, positive_only=positive_only)[..., None], self.image, self.fill).astype(np.float32)

  def summary(self) -> dict[str, Any]:
    """JSON-ready scalars and lists (no images or samples)."""
    out = {"target": self.target, "original_probability": self.original_probability,
           "num_segments": self.num_segments, "weights": self.weights.tolist(), "intercept": self.intercept,
           "score": self.score, "local_prediction": self.local_prediction, "used": self.used.tolist(),
           "num_evaluations": self.num_evaluations, "scoring_evaluations": self.scoring_evaluations,
           "timings": dict(self.timings), "seed": recorded(self.seed)}
    if self.faithfulness is not None:
      out["faithfulness"] = self.faithfulness.summary()
    return out


@functools.lru_cache(maxsize=16)  # no classifier's: kept here, not in the engine's cache of classifiers' programs
def fit_program(kernel_width: float, alpha: float, num_features: Optional[int], feature_selection: str):
  """The jitted :func:`lime_weights` for these options (one per options, reused)."""
  return jax.jit(functools.partial(lime_weights, kernel_width=kernel_width, alpha=alpha, num_features=num_features,
                                   feature_selection=feature_selection))


def _check_call(num_samples: Any, config: Any, seed: Any) -> None:
  if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 2:
    raise ValueError(f"num_samples must be an integer >= 2, got {num_samples!r}")
  prng_key(seed)
  if not isinstance(config, ELimeConfig):
    raise ValueError(f"config must be an ELimeConfig, got {type(config).__name__}")
  defaults = ELimeConfig()
  if (config.population_size, config.generations) != (defaults.population_size, defaults.generations):
    raise ValueError("explain_lime takes its budget from num_samples: leave population_size and generations "
                     "at their defaults")


def explain_lime(image: Any, classifier: Classifier, *, target: Optional[int] = None, segments: Any = None,
                 num_samples: int = 1000, config: ELimeConfig = ELimeConfig(), seed: Any = 0, logits: bool = False,
                 baseline: Any = None, num_features: Optional[int] = None, feature_selection: str = "auto",
                 kernel_width: float = KERNEL_WIDTH, alpha: float = 1.0) -> LimeExplanation:
  """Explains ``classifier``'s belief in ``target`` with LIME on the engine's superpixels and fill.

  The samples are drawn, masked and classified, the ridge fitted and its ranking's curves evaluated by a
  :class:`~evojax_lime.engine.search.Search` with the :class:`~evojax_lime.strategies.LimeSampling` strategy
  (one compiled program, the same preparation and chunked evaluation as E-LIME).

  Args:
    image: ``(H, W, 3)`` RGB (any format :func:`evojax_lime.explain` takes).
    classifier: JAX function ``(N, H, W, 3)`` in [0, 1] -> probabilities ``(N, C)`` (logits with ``logits=True``).
    target: class to explain; ``None`` takes the top-1 class on the full image.
    segments: optional ``(H, W)`` label map; otherwise ``config.segmentation`` cuts the image.
    num_samples: perturbations S, each one classifier evaluation (row 0 is the full image).
    config: segmentation, fill (``"mean"`` is lime's ``hide_color=None``, ``"black"`` its ``hide_color=0``),
      ``chunk_size``, ``dtype``, ``shard``, ``genome_length`` and ``faithfulness``; the search options
      (population, generations, GA rates) must stay at their defaults.
    seed: integer or ``jax.random`` key for the samples.
    logits: the classifier returns logits.
    baseline: optional ``(H, W, 3)`` image shown where superpixels are hidden (overrides ``config.fill``).
    num_features, feature_selection, kernel_width, alpha: as for :func:`lime_weights`.

  Returns:
    The :class:`LimeExplanation`.

  Raises:
    ValueError: a bad image, label map, target, seed, option or classifier output.
  """
  start = time.perf_counter()
  _check_call(num_samples, config, seed)
  sampling = LimeSampling(population_size=num_samples, kernel_width=kernel_width, alpha=alpha,
                          num_features=num_features, feature_selection=feature_selection)
  search = Search([image], classifier, strategy=sampling, targets=[target],
                  segments=None if segments is None else [segments], config=dataclasses.replace(config, generations=0),
                  seeds=[seed], logits=logits, baselines=None if baseline is None else [baseline])
  search.advance()
  sampled = search.explanations()[0]  # checks the verdicts (NaN, range, K)
  k = sampled.num_segments
  state = jax.device_get(search.state.strategy)
  fit = jax.tree_util.tree_map(lambda x: x[0], state.fit)
  return LimeExplanation(
      image=sampled.image, labels=sampled.labels, fill=sampled.fill, target=sampled.target,
      weights=np.asarray(fit.weights[:k], np.float32), intercept=float(fit.intercept), score=float(fit.score),
      local_prediction=float(fit.local_prediction), used=np.asarray(fit.used[:k], bool),
      original_probability=sampled.original_probability, samples=np.asarray(state.samples[0, :, :k], bool),
      sample_probabilities=np.asarray(state.probability[0], np.float32), num_evaluations=num_samples,
      timings={"segmentation": sampled.segmentation_time, "compile": search.compile_time,
               "evaluate": search.evolve_time, "wall": time.perf_counter() - start},
      seed=seed, faithfulness=sampled.faithfulness, scoring_evaluations=sampled.scoring_evaluations)
