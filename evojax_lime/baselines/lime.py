"""LIME for images (Ribeiro et al., 2016) in JAX, on E-LIME's superpixels, fill and compiled evaluation.

It reproduces ``lime`` 0.2.0.1 (``lime_image.LimeImageExplainer`` + ``lime_base.LimeBase``): binary samples whose
first row keeps every superpixel, cosine distance of each sample to that row (``lime_image`` does not scale it
by 100; ``lime_text`` does), the kernel ``sqrt(exp(-d**2 / width**2))``, ``'auto'`` feature selection
(forward selection for at most 6 features, else the largest ``|Ridge(alpha=0.01) coefficient * x0|``), and a
weighted ``Ridge(alpha, fit_intercept=True)`` on the selected features. The ridge is solved in closed form on
weighted, centred data; its coefficients agree with scikit-learn's to float32 precision.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from evojax_lime.config import ELimeConfig
from evojax_lime.engine.search import Search
from evojax_lime.engine.seeds import prng_key, recorded
from evojax_lime.evaluation.fitness import Classifier
from evojax_lime.strategies.lime_sampling import LimeSampling, lime_samples  # noqa: F401  (lime_samples: public)

KERNEL_WIDTH = 0.25
FEATURE_SELECTIONS = ("auto", "none", "forward_selection", "highest_weights")
# lime_base: 'auto' means forward selection up to this many features, 'highest_weights' above.
_AUTO_FORWARD_MAX = 6
_HIGHEST_WEIGHTS_ALPHA = 0.01
_HI = jax.lax.Precision.HIGHEST  # no TF32/bf16 passes on accelerators: the fit must match float64 sklearn


@struct.dataclass
class LimeFit:
  """The local linear model of one LIME explanation.

  Attributes:
    weights: ``(K,)`` ridge coefficient of each superpixel (0 for superpixels feature selection left out).
    intercept: ``()`` the ridge intercept.
    score: ``()`` weighted R^2 of the ridge on the samples.
    local_prediction: ``()`` the ridge's prediction on the first sample (all superpixels kept).
    used: ``(K,)`` bool, the features that entered the ridge.
    kernel_weights: ``(S,)`` each sample's weight, ``sqrt(exp(-d**2 / width**2))``.
  """

  weights: jax.Array
  intercept: jax.Array
  score: jax.Array
  local_prediction: jax.Array
  used: jax.Array
  kernel_weights: jax.Array


def cosine_distances(samples: jax.Array) -> jax.Array:
  """``(S, K)`` -> ``(S,)`` cosine distance of each row to row 0, as ``sklearn.metrics.pairwise_distances``.

  A zero row has similarity 0 (distance 1), and distances are clipped to [0, 2].
  """
  x = samples.astype(jnp.float32)
  norms = jnp.linalg.norm(x, axis=1)
  unit = x / jnp.where(norms > 0, norms, 1.0)[:, None]
  return jnp.clip(1.0 - jnp.matmul(unit, unit[0], precision=_HI), 0.0, 2.0)


def kernel(distances: jax.Array, *, kernel_width: float = KERNEL_WIDTH) -> jax.Array:
  """LIME's exponential kernel ``sqrt(exp(-d**2 / width**2))``."""
  return jnp.sqrt(jnp.exp(-(distances ** 2) / kernel_width ** 2))


def weighted_ridge(x: jax.Array, y: jax.Array, w: jax.Array, used: jax.Array, *,
                   alpha: float) -> tuple[jax.Array, jax.Array]:
  """``Ridge(alpha, fit_intercept=True).fit(x[:, used], y, sample_weight=w)`` in closed form.

  Minimises ``sum_i w_i (y_i - b - x_i . c)^2 + alpha |c|^2``: centre x and y on their weighted means, solve
  ``(Xc^T W Xc + alpha I) c = Xc^T W yc``, and ``b = mean_w(y) - mean_w(x) . c``. Features outside ``used`` get a
  unit diagonal and a zero right-hand side, so their coefficient is exactly 0 and the system keeps one shape.

  Args:
    x: ``(S, K)`` float.
    y: ``(S,)`` float.
    w: ``(S,)`` sample weights >= 0.
    used: ``(K,)`` bool.
    alpha: L2 penalty (0 = ordinary weighted least squares).

  Returns:
    ``((K,) coefficients, () intercept)``.
  """
  total = w.sum()
  x_mean = jnp.matmul(w, x, precision=_HI) / total
  y_mean = jnp.dot(w, y, precision=_HI) / total
  xc, yc = x - x_mean, y - y_mean
  gram = jnp.matmul(xc.T * w, xc, precision=_HI)
  rhs = jnp.matmul(xc.T * w, yc, precision=_HI)
  both = used[:, None] & used[None, :]
  eye = jnp.eye(x.shape[1], dtype=x.dtype)
  system = jnp.where(both, gram, 0.0) + jnp.where(used, alpha, 1.0) * eye
  coef = jnp.linalg.solve(system, jnp.where(used, rhs, 0.0))
  return coef, y_mean - jnp.dot(x_mean, coef, precision=_HI)


def r2_score(x: jax.Array, y: jax.Array, w: jax.Array, coef: jax.Array, intercept: jax.Array) -> jax.Array:
  """Weighted R^2 of ``x @ coef + intercept`` for ``y``, as ``sklearn.metrics.r2_score(sample_weight=w)``."""
  residual = y - jnp.matmul(x, coef, precision=_HI) - intercept
  num = jnp.dot(w, residual ** 2, precision=_HI)
  den = jnp.dot(w, (y - jnp.dot(w, y, precision=_HI) / w.sum()) ** 2, precision=_HI)
  # sklearn's force_finite: a constant target scores 1 if fitted exactly, else 0.
  return jnp.where(den > 0, 1.0 - num / jnp.where(den > 0, den, 1.0), jnp.where(num == 0, 1.0, 0.0))


def forward_selection(x: jax.Array, y: jax.Array, w: jax.Array, *, num_features: int) -> jax.Array:
  """``lime_base.forward_selection``: greedily add the feature whose ``Ridge(alpha=0)`` fit has the best R^2.

  All candidates of a step are fitted at once (vmapped); ties go to the lowest index, as in lime's loop.

  Returns:
    ``(K,)`` bool mask of the ``min(num_features, K)`` chosen features.
  """
  k = x.shape[1]

  def candidate_score(used, feature):
    trial = used.at[feature].set(True)
    coef, intercept = weighted_ridge(x, y, w, trial, alpha=0.0)
    return r2_score(x, y, w, coef, intercept)

  def add_one(used, _):
    scores = jax.vmap(candidate_score, in_axes=(None, 0))(used, jnp.arange(k))
    best = jnp.argmax(jnp.where(used, -jnp.inf, scores))
    return used.at[best].set(True), None

  used, _ = jax.lax.scan(add_one, jnp.zeros((k,), bool), None, length=min(num_features, k))
  return used


def highest_weights(x: jax.Array, y: jax.Array, w: jax.Array, *, num_features: int) -> jax.Array:
  """``lime_base`` 'highest_weights': the features with the largest ``|Ridge(alpha=0.01) coef * x[0]|``."""
  k = x.shape[1]
  coef, _ = weighted_ridge(x, y, w, jnp.ones((k,), bool), alpha=_HIGHEST_WEIGHTS_ALPHA)
  order = jnp.argsort(-jnp.abs(coef * x[0]), stable=True)  # Python's sorted(reverse=True) is stable too
  return jnp.zeros((k,), bool).at[order[:min(num_features, k)]].set(True)


def _check_options(num_features: Optional[int], feature_selection: str, kernel_width: float, alpha: float) -> None:
  if feature_selection not in FEATURE_SELECTIONS:
    raise ValueError(f"feature_selection must be one of {', '.join(FEATURE_SELECTIONS)}; got {feature_selection!r}")
  if num_features is not None and (isinstance(num_features, bool) or not isinstance(num_features, int)
                                   or num_features < 1):
    raise ValueError(f"num_features must be an integer >= 1 or None (all superpixels), got {num_features!r}")
  if not (isinstance(kernel_width, (int, float)) and kernel_width > 0):
    raise ValueError(f"kernel_width must be > 0, got {kernel_width!r}")
  if not (isinstance(alpha, (int, float)) and alpha >= 0):
    raise ValueError(f"alpha must be >= 0, got {alpha!r}")


def lime_weights(samples: jax.Array, target_probs: jax.Array, *, kernel_width: float = KERNEL_WIDTH,
                 alpha: float = 1.0, num_features: Optional[int] = None, feature_selection: str = "auto",
                 sample_weights: Optional[jax.Array] = None) -> LimeFit:
  """LIME's local linear model from perturbation samples and the classifier's outputs (pure, jit-able).

  Equals ``LimeBase(kernel).explain_instance_with_data(samples, probs, distances, label, num_features,
  feature_selection)`` with lime_image's cosine distances and exponential kernel.

  Args:
    samples: ``(S, K)`` binary (bool or 0/1), row 0 being the explained instance (all ones in LIME).
    target_probs: ``(S,)`` classifier probability of the explained class for each sample.
    kernel_width: width of the exponential kernel (lime_image's default 0.25).
    alpha: ridge penalty of the final fit (lime's ``Ridge(alpha=1)``).
    num_features: static number of features the model may use; ``None`` uses all K (lime's default 100000).
    feature_selection: static: ``"auto"`` (forward selection if ``num_features <= 6``, else
      ``"highest_weights"``), ``"none"``, ``"forward_selection"`` or ``"highest_weights"``.
    sample_weights: optional ``(S,)`` weight of each sample, replacing the kernel of the cosine distance (lime's
      other ``distance_metric`` or a custom ``kernel``); ``kernel_width`` is then unused.

  Returns:
    The :class:`LimeFit` (float32).
  """
  _check_options(num_features, feature_selection, kernel_width, alpha)
  x = jnp.asarray(samples).astype(jnp.float32)
  y = jnp.asarray(target_probs).astype(jnp.float32)
  k = x.shape[1]
  if sample_weights is None:
    w = kernel(cosine_distances(x), kernel_width=kernel_width)
  else:
    w = jnp.asarray(sample_weights).astype(jnp.float32)
  method = feature_selection
  if method == "auto":
    forward = num_features is not None and num_features <= _AUTO_FORWARD_MAX
    method = "forward_selection" if forward else "highest_weights"
  if method == "none" or num_features is None or (method == "highest_weights" and num_features >= k):
    used = jnp.ones((k,), bool)  # every feature is selected: skip the selection fit
  elif method == "forward_selection":
    used = forward_selection(x, y, w, num_features=num_features)
  else:
    used = highest_weights(x, y, w, num_features=num_features)
  coef, intercept = weighted_ridge(x, y, w, used, alpha=alpha)
  return LimeFit(weights=coef, intercept=intercept, score=r2_score(x, y, w, coef, intercept),
                 local_prediction=jnp.dot(x[0], coef, precision=_HI) + intercept, used=used, kernel_weights=w)


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
    timings: seconds: ``segmentation``, ``compile``, ``evaluate`` (classifier on the samples), ``fit``, ``wall``.
    seed: the seed the samples came from.
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
    return {"target": self.target, "original_probability": self.original_probability,
            "num_segments": self.num_segments, "weights": self.weights.tolist(), "intercept": self.intercept,
            "score": self.score, "local_prediction": self.local_prediction, "used": self.used.tolist(),
            "num_evaluations": self.num_evaluations, "timings": dict(self.timings),
            "seed": recorded(self.seed)}


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


def _fitted(samples: np.ndarray, probs: np.ndarray, *, kernel_width: float, alpha: float,
            num_features: Optional[int], feature_selection: str) -> tuple[Any, float, float]:
  """``(fit, compile seconds, fit seconds)``: the ridge of ``(S, K)`` samples and their ``(S,)`` probabilities,
  on the host."""
  fit_fn = fit_program(float(kernel_width), float(alpha), num_features, feature_selection)
  t0 = time.perf_counter()
  fit_exe = fit_fn.lower(jax.ShapeDtypeStruct(samples.shape, bool),
                         jax.ShapeDtypeStruct(probs.shape, jnp.float32)).compile()
  compile_time = time.perf_counter() - t0
  t0 = time.perf_counter()
  fit = jax.device_get(fit_exe(samples, probs))
  return fit, compile_time, time.perf_counter() - t0


def explain_lime(image: Any, classifier: Classifier, *, target: Optional[int] = None, segments: Any = None,
                 num_samples: int = 1000, config: ELimeConfig = ELimeConfig(), seed: Any = 0, logits: bool = False,
                 baseline: Any = None, num_features: Optional[int] = None, feature_selection: str = "auto",
                 kernel_width: float = KERNEL_WIDTH, alpha: float = 1.0) -> LimeExplanation:
  """Explains ``classifier``'s belief in ``target`` with LIME on the engine's superpixels and fill.

  The samples are drawn, masked and classified by a :class:`~evojax_lime.engine.search.Search` with the
  :class:`~evojax_lime.strategies.LimeSampling` strategy (one compiled program, the same preparation and
  chunked evaluation as E-LIME); the ridge is fitted afterwards.

  Args:
    image: ``(H, W, 3)`` RGB (any format :func:`evojax_lime.explain` takes).
    classifier: JAX function ``(N, H, W, 3)`` in [0, 1] -> probabilities ``(N, C)`` (logits with ``logits=True``).
    target: class to explain; ``None`` takes the top-1 class on the full image.
    segments: optional ``(H, W)`` label map; otherwise ``config.segmentation`` cuts the image.
    num_samples: perturbations S, each one classifier evaluation (row 0 is the full image).
    config: segmentation, fill (``"mean"`` is lime's ``hide_color=None``, ``"black"`` its ``hide_color=0``),
      ``chunk_size``, ``dtype``, ``shard`` and ``genome_length``; the search options (population, generations,
      GA rates) must stay at their defaults.
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
  _check_options(num_features, feature_selection, kernel_width, alpha)
  search = Search([image], classifier, strategy=LimeSampling(population_size=num_samples),
                  targets=[target], segments=None if segments is None else [segments],
                  config=dataclasses.replace(config, generations=0), seeds=[seed], logits=logits,
                  baselines=None if baseline is None else [baseline])
  search.advance()
  sampled = search.explanations()[0]  # checks the verdicts (NaN, range, K)
  k = sampled.num_segments
  state = jax.device_get(search.state.strategy)
  samples, probs = np.asarray(state.samples[0, :, :k]), np.asarray(state.probability[0], np.float32)
  fit, fit_compile_time, fit_time = _fitted(samples, probs, kernel_width=kernel_width, alpha=alpha,
                                            num_features=num_features, feature_selection=feature_selection)
  compile_time = search.compile_time + fit_compile_time
  return LimeExplanation(
      image=sampled.image, labels=sampled.labels, fill=sampled.fill, target=sampled.target,
      weights=np.asarray(fit.weights, np.float32), intercept=float(fit.intercept), score=float(fit.score),
      local_prediction=float(fit.local_prediction), used=np.asarray(fit.used, bool),
      original_probability=sampled.original_probability, samples=samples.astype(bool),
      sample_probabilities=probs, num_evaluations=num_samples,
      timings={"segmentation": sampled.segmentation_time, "compile": compile_time, "evaluate": search.evolve_time,
               "fit": fit_time, "wall": time.perf_counter() - start},
      seed=seed)
