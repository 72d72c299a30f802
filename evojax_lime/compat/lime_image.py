"""``lime.lime_image`` (lime 0.2.0.1) computed by this engine: change one import and keep the rest.

``explain_instance`` takes lime's arguments and returns an :class:`ImageExplanation` with lime's fields, types and
``get_image_and_mask``. Four methods (keyword-only ``method=``):

- ``"lime"`` (default): LIME. The perturbations are drawn on the host with ``numpy`` exactly as lime draws them
  from ``random_state`` (so the same ``random_state`` gives the same samples and superpixels as reference lime),
  the masked images are built and classified by the engine, and the local models are
  :func:`evojax_lime.baselines.lime.lime_weights`. The fields equal reference lime's to float32 precision.
- ``"elime"``: the evolved explanation (:func:`evojax_lime.explain`) of each label on the same superpixels and
  hidden colour. ``local_exp[label]`` ranks superpixels by evolved importance: a superpixel the best genome keeps
  has weight ``importance`` (> 0; at least 1e-6), one it hides ``importance - 1`` (< 0; at most -1e-6), so ``get_image_and_mask(label,
  num_features=K)`` with lime's default ``positive_only=True`` shows exactly the evolved explanation.
  ``intercept[label]`` is 0 (there is no linear model), ``score`` and ``local_pred`` hold p(label | only the kept
  superpixels) of the last label, and ``explanations[label]`` the full :class:`evojax_lime.Explanation`. The
  budget is ``config``'s population x (generations + 1); ``num_samples`` is not used.
- ``"kernelshap"``: KernelSHAP (``Search(strategy="kernelshap")``) of each label on the same superpixels and
  hidden colour: ``local_exp[label]`` holds the Shapley values, ``intercept[label]`` p(label | nothing shown),
  so weights and intercept sum to p(label | image) as lime's linear model would; ``get_image_and_mask`` treats
  them as lime's weights. Budget and ``explanations`` as for ``"elime"``.
- ``"extremal"``: gradient-optimised masks (``Search(strategy="extremal")``), weighted and shown as ``"elime"``.

``classifier_fn`` receives images in the dtype and value range of ``image``, as lime gives them (lime never
rescales): uint8 0..255, float 0..1, 0..255, -1..1 or any other. The engine works on the same pixels mapped
affinely into [0, 1] and maps every masked image back before the call (exactly for integer images, to float32
precision for float ones). A function that JAX can trace (found by tracing it once, or forced with
``jax_classifier=True/False``) is compiled into the engine's program, in chunks of an automatically chosen size;
any other (torch, Keras, numpy) is called on the host with ``batch_size`` images at a time.
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.compat._classifier import engine_classifier, scores_program, traces_as_jax
from evojax_lime.compat._value_range import value_range
from evojax_lime.config import DEFAULT_SIZES, ELimeConfig
from evojax_lime.engine.checks import check_superpixel_count
from evojax_lime.explain_api import explain, explain_batch
from evojax_lime.baselines.lime import fit_program
from evojax_lime.evaluation.fitness import Problem
from evojax_lime.evaluation.host import run_checked
from evojax_lime.metrics import chunk_size_for

METHODS = ("lime", "elime", "kernelshap", "extremal")
_STRATEGIES = {"elime": "ga", "kernelshap": "kernelshap", "extremal": "extremal"}  # the engine's, by method
_FEATURE_SELECTIONS = ("auto", "none", "forward_selection", "highest_weights")
_RIDGE_ALPHA = 1.0  # lime_base's Ridge(alpha=1)
_MIN_WEIGHT = 1e-6  # E-LIME's smallest |weight|: keeps every superpixel's sign
_EVERY_FEATURE = 100000  # lime's default num_features: no feature selection


def _check_random_state(seed: Any) -> Any:
  """``sklearn.utils.check_random_state``: None -> numpy's global state, int -> a new one, a state as is.

  The global state is reached through ``numpy.random``'s own functions (``np.random.randint`` draws from it), the
  public face of the ``RandomState`` that sklearn reads from a private name.
  """
  if seed is None or seed is np.random:
    return np.random
  if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
    return np.random.RandomState(seed)
  if isinstance(seed, np.random.RandomState):
    return seed
  raise ValueError(f"random_state must be None, an integer or a numpy.random.RandomState, got {seed!r}")


def _default_kernel(d: np.ndarray, kernel_width: float) -> np.ndarray:
  return np.sqrt(np.exp(-(d ** 2) / kernel_width ** 2))


class ImageExplanation:
  """lime's ``ImageExplanation``: per-label superpixel weights and the mask that shows them.

  Attributes:
    image: ``(H, W, 3)`` the explained image as given (grayscale made RGB).
    segments: ``(H, W)`` superpixel ids, as the segmentation returned them.
    top_labels: (only when ``top_labels`` was given) the labels with the highest scores, highest first.
    intercept: ``{label: float}`` the local model's intercept.
    local_exp: ``{label: [(superpixel, weight), ...]}`` sorted by decreasing ``|weight|``.
    score: R^2 of the last label's local model (E-LIME: p(label | kept superpixels)).
    local_pred: ``(1,)`` the last label's local model prediction on the full image (E-LIME: as ``score``).
    method: ``"lime"``, ``"elime"``, ``"kernelshap"`` or ``"extremal"``.
    explanations: ``{label: Explanation}``, or for ``"lime"`` ``{label: LimeFit}`` (the JAX fit).
  """

  def __init__(self, image: np.ndarray, segments: np.ndarray, *, method: str = "lime"):
    self.image = image
    self.segments = segments
    self.intercept: dict = {}
    self.local_exp: dict = {}
    self.local_pred = None
    self.method = method
    self.explanations: dict = {}
    self.segment_ids: Optional[np.ndarray] = None  # E-LIME: lime's superpixel id of each gene

  def get_image_and_mask(self, label, positive_only=True, negative_only=False, hide_rest=False, num_features=5,
                         min_weight=0.):
    """lime's ``(image, mask)``: the image with the explaining superpixels and a mask for ``mark_boundaries``.

    Args:
      label: a label of ``local_exp`` (``KeyError`` otherwise, as lime).
      positive_only: only superpixels with weight > ``min_weight``.
      negative_only: only superpixels with weight < ``-min_weight`` (not with ``positive_only``).
      hide_rest: zero the other pixels (a float64 image) instead of keeping them.
      num_features: at most this many superpixels, by decreasing ``|weight|``; for E-LIME with
        ``positive_only``, the most probable mask of at most this many superpixels the search evaluated.
      min_weight: smallest ``|weight|`` shown.

    Returns:
      ``(image (H, W, 3), mask (H, W) of segments' dtype)``: mask 1 on the superpixels shown; with neither
      ``positive_only`` nor ``negative_only``, 1 / -1 for positive / negative weights, which are also tinted
      green / red in the image (channel 1 / 0 set to the image's maximum).
    """
    if label not in self.local_exp:
      raise KeyError('Label not in explanation')
    if positive_only & negative_only:
      raise ValueError("Positive_only and negative_only cannot be true at the same time.")
    segments, image, exp = self.segments, self.image, self.local_exp[label]
    mask = np.zeros(segments.shape, segments.dtype)
    temp = np.zeros(self.image.shape) if hide_rest else self.image.copy()
    if positive_only or negative_only:
      if positive_only and self.method in ("elime", "extremal"):
        fs = self._best_of_size(label, num_features, min_weight)
      elif positive_only:
        fs = [f for f, w in exp if w > 0 and w > min_weight][:num_features]
      else:
        fs = [f for f, w in exp if w < 0 and abs(w) > min_weight][:num_features]
      for f in fs:
        temp[segments == f] = image[segments == f].copy()
        mask[segments == f] = 1
      return temp, mask
    for f, w in exp[:num_features]:
      if np.abs(w) < min_weight:
        continue
      channel = 0 if w < 0 else 1
      mask[segments == f] = -1 if w < 0 else 1
      temp[segments == f] = image[segments == f].copy()
      temp[segments == f, channel] = np.max(image)
    return temp, mask


  def _best_of_size(self, label, num_features, min_weight) -> list:
    """E-LIME: the most probable mask the search evaluated with at most ``num_features`` superpixels (not the
    answer's top weights: the best mask of that size), as lime's ids."""
    if min_weight:
      raise ValueError("min_weight filters lime's weights; E-LIME's best mask of a size is one mask, kept whole: "
                       "leave min_weight at 0")
    if num_features <= 0:
      return []
    evolved = self.explanations[label]
    return list(self.segment_ids[evolved.best_of_size(int(min(num_features, evolved.num_segments)))])


def _lime_segmentation(random_seed: int) -> Callable[[np.ndarray], np.ndarray]:
  """lime's default: ``SegmentationAlgorithm('quickshift', kernel_size=4, max_dist=200, ratio=0.2, random_seed)``.

  Like lime's wrapper, it passes ``random_seed`` only to a quickshift that takes it (scikit-image >= 0.22 does not:
  it seeds with its own ``rng`` default).
  """
  from skimage.segmentation import quickshift

  params = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2, "random_seed": random_seed}
  accepted = inspect.signature(quickshift).parameters
  return lambda image: quickshift(image, **{k: v for k, v in params.items() if k in accepted})


def _fudged_image(image: np.ndarray, segments: np.ndarray, hide_color: Any) -> np.ndarray:
  """lime's hidden-superpixel image: each superpixel's mean colour (``hide_color=None``) or ``hide_color``.

  Computed in the image's dtype, as lime does (an integer image gets truncated means).
  """
  fudged = image.copy()
  if hide_color is None:
    for x in np.unique(segments):
      fudged[segments == x] = tuple(np.mean(image[segments == x][:, c]) for c in range(3))
  else:
    fudged[:] = hide_color
  return fudged


def _engine_labels(segments: np.ndarray) -> tuple[np.ndarray, int, bool]:
  """lime's ``(S, K)`` samples, K = number of distinct ids, hide pixels whose id equals a column index.

  Ids outside 0..K-1 (a segmentation starting at 1) are therefore never hidden by lime; they go to an extra
  always-kept gene K, so the engine shows exactly lime's images. Returns ``(labels, K, extra gene needed)``.
  """
  if segments.ndim != 2 or not np.issubdtype(segments.dtype, np.integer):
    raise ValueError(f"segmentation_fn must return an (H, W) integer label map, got shape {segments.shape} "
                     f"dtype {segments.dtype}")
  k = int(np.unique(segments).shape[0])
  inside = (segments >= 0) & (segments < k)
  return np.where(inside, segments, k).astype(np.int32), k, not inside.all()


@dataclasses.dataclass(frozen=True)
class _Problem:
  """One ``explain_instance`` call's host-side inputs in the engine's terms."""

  image01: np.ndarray
  fill01: np.ndarray
  labels: np.ndarray
  num_segments: int
  extra_gene: bool
  classifier: Callable
  is_jax: bool


def _sized(config: ELimeConfig, num_features: int) -> ELimeConfig:
  """``config`` searching masks of ``num_features`` superpixels, where its seeding reads sizes and lime's
  ``num_features`` was given (below lime's default, every feature)."""
  if config.seeding != "sizes" or num_features >= _EVERY_FEATURE:
    return config
  if config.sizes not in (DEFAULT_SIZES, (num_features,)):
    raise ValueError(f"num_features ({num_features}) and config.sizes ({config.sizes}) both name the sizes to "
                     f"search; give one")
  return dataclasses.replace(config, sizes=(num_features,))


def _check_call(method: str, config: Any, **counts: Any) -> None:
  """Refuses an unknown method, a config where it is not used, and counts below their least value."""
  if method not in METHODS:
    raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
  if config is not None and not isinstance(config, ELimeConfig):
    raise ValueError(f"config must be an ELimeConfig, got {type(config).__name__}")
  if method == "lime" and config is not None:
    raise ValueError("config is E-LIME's; it is only used with method='elime'")
  for name, value in counts.items():
    low = 2 if name == "num_samples" else 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
      raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _rgb(image: Any) -> np.ndarray:
  """``image`` as a numeric ``(H, W, 3)`` array (a grayscale ``(H, W)`` one repeated over the channels)."""
  image = np.asarray(image)
  if image.ndim == 2:
    from skimage.color import gray2rgb
    image = gray2rgb(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grayscale, got shape {image.shape}")
  if image.dtype == bool or not np.issubdtype(image.dtype, np.number):
    raise ValueError(f"image must be a numeric array, got dtype {image.dtype}")
  return image


class LimeImageExplainer:
  """lime's ``LimeImageExplainer`` with the same constructor.

  Args:
    kernel_width: width of the exponential kernel on the cosine distance.
    kernel: optional ``kernel(distances, kernel_width) -> weights``; ``None`` is lime's exponential kernel.
    verbose: print each local model's intercept and prediction, as lime.
    feature_selection: ``'auto'``, ``'none'``, ``'forward_selection'`` or ``'highest_weights'`` (lime's
      ``'lasso_path'`` is not supported).
    random_state: ``None`` (numpy's global state), an integer, or a ``numpy.random.RandomState``; it draws the
      segmentation seed and the samples exactly as lime does (and E-LIME's seed).
  """

  def __init__(self, kernel_width=.25, kernel=None, verbose=False, feature_selection='auto', random_state=None):
    self.kernel_width = float(kernel_width)
    if not self.kernel_width > 0:
      raise ValueError(f"kernel_width must be > 0, got {kernel_width!r}")
    if feature_selection not in _FEATURE_SELECTIONS:
      raise ValueError(f"feature_selection must be one of {', '.join(_FEATURE_SELECTIONS)}; got {feature_selection!r}")
    self.kernel = kernel
    self.verbose = verbose
    self.feature_selection = feature_selection
    self.random_state = _check_random_state(random_state)

  def explain_instance(self, image, classifier_fn, labels=(1,), hide_color=None, top_labels=5, num_features=100000,
                       num_samples=1000, batch_size=10, segmentation_fn=None, distance_metric='cosine',
                       model_regressor=None, random_seed=None, progress_bar=True, *, method: str = "lime",
                       config: Optional[ELimeConfig] = None,
                       jax_classifier: Optional[bool] = None) -> ImageExplanation:
    """Explains ``classifier_fn``'s labels on ``image`` (lime's arguments and meanings).

    Args:
      image: ``(H, W, 3)`` (or grayscale ``(H, W)``) in the dtype and range ``classifier_fn`` expects.
      classifier_fn: images ``(N, H, W, 3)`` -> scores ``(N, C)``; numpy in and out, or a JAX function.
      labels: labels to explain when ``top_labels`` is ``None``.
      hide_color: value of hidden superpixels, in the image's range; ``None`` shows each one's mean colour.
      top_labels: explain the labels with the highest scores on the full image, this many.
      num_features: features the local model may use (lime's feature selection); for ``"elime"`` with
        ``config.seeding="sizes"``, a value below lime's default (100000: every feature) is the mask size the
        search spends its forwards on (``sizes=(num_features,)``).
      num_samples: perturbations (``"lime"``), each one classifier evaluation; row 0 is the full image.
      batch_size: images per call of a host ``classifier_fn``.
      segmentation_fn: ``image -> (H, W)`` integer ids; ``None`` is lime's quickshift.
      distance_metric: any ``sklearn.metrics.pairwise_distances`` metric (``'cosine'`` runs in JAX).
      model_regressor: optional scikit-learn regressor fitted instead of ``Ridge(alpha=1)`` (on the host).
      random_seed: the segmentation's seed; ``None`` draws it from ``random_state`` as lime does.
      progress_bar: accepted for lime's current signature; nothing is printed.
      method: ``"lime"``, ``"elime"``, ``"kernelshap"`` or ``"extremal"`` (keyword only).
      config: the engine's :class:`evojax_lime.ELimeConfig` for the methods but ``"lime"`` (default:
        ``ELimeConfig()``); with a host
        classifier and no ``chunk_size``, the population is evaluated ``batch_size`` images at a time.
      jax_classifier: ``True`` / ``False`` to say whether ``classifier_fn`` is a JAX function; ``None`` finds out
        by tracing it once.

    Returns:
      The :class:`ImageExplanation`.

    Raises:
      ValueError: a bad image, option or classifier output.
      KeyError: as lime, no such thing is raised here; ``get_image_and_mask`` raises it for an unexplained label.
    """
    del progress_bar
    _check_call(method, config, num_samples=num_samples, batch_size=batch_size, num_features=num_features)
    image = _rgb(image)
    if random_seed is None:
      random_seed = self.random_state.randint(0, high=1000)
    segmentation_fn = _lime_segmentation(random_seed) if segmentation_fn is None else segmentation_fn
    segments = np.asarray(segmentation_fn(image))
    problem = self._problem(image, segments, classifier_fn, hide_color, jax_classifier)
    explanation = ImageExplanation(image, segments, method=method)
    if method == "lime":
      self._explain_lime(explanation, problem, labels=labels, top_labels=top_labels, num_features=int(num_features),
                         num_samples=int(num_samples), batch_size=int(batch_size), distance_metric=distance_metric,
                         model_regressor=model_regressor)
    else:
      self._explain_elime(explanation, problem, labels=labels, top_labels=top_labels,
                          config=_sized(ELimeConfig() if config is None else config, int(num_features)),
                          batch_size=int(batch_size), strategy=_STRATEGIES[method])
    return explanation

  def _problem(self, image, segments, classifier_fn, hide_color, jax_classifier) -> _Problem:
    if not callable(classifier_fn):
      raise ValueError(f"classifier_fn must be callable, got {type(classifier_fn).__name__}")
    if segments.shape != image.shape[:2]:
      raise ValueError(f"segmentation_fn returned shape {segments.shape}, expected the image's {image.shape[:2]}")
    labels, k, extra = _engine_labels(segments)
    check_superpixel_count(k)
    try:
      fudged = _fudged_image(image, segments, hide_color)
    except (TypeError, ValueError, OverflowError) as e:
      raise ValueError(f"hide_color must be a value or an RGB triple of the image's dtype, got {hide_color!r}: "
                       f"{e}") from None
    convention = value_range(image, fudged)
    is_jax = traces_as_jax(classifier_fn, image.shape, image.dtype) if jax_classifier is None else bool(jax_classifier)
    num_classes = None
    if not is_jax:  # the host adapter needs C: one call on the full image, as lime's first batch would make
      first = np.asarray(classifier_fn(image[None].copy()))
      if first.ndim != 2 or first.shape[0] != 1 or first.shape[1] < 1:
        raise ValueError(f"classifier_fn must map (N, H, W, 3) images to (N, C) scores; for N=1 it returned "
                         f"shape {first.shape}")
      num_classes = int(first.shape[1])
    classifier = engine_classifier(classifier_fn, convention, is_jax, num_classes)
    return _Problem(image01=convention.to_unit(image), fill01=convention.to_unit(fudged), labels=labels, num_segments=k, extra_gene=extra,
                    classifier=classifier, is_jax=is_jax)

  def _sample_weights(self, data: np.ndarray, distance_metric: str) -> Optional[np.ndarray]:
    """``None`` for lime's default (cosine distance, exponential kernel: computed in JAX), else host weights."""
    if distance_metric == 'cosine' and self.kernel is None:
      return None
    import sklearn.metrics  # lime's own dependency, needed only for its other metrics
    distances = sklearn.metrics.pairwise_distances(data, data[0].reshape(1, -1), metric=distance_metric).ravel()
    return (self.kernel or _default_kernel)(distances, kernel_width=self.kernel_width)

  def _explain_lime(self, explanation: ImageExplanation, problem: _Problem, *, labels, top_labels, num_features,
                    num_samples, batch_size, distance_metric, model_regressor) -> None:
    k = problem.num_segments
    # lime_image.data_labels: the same draw from the same state gives the same samples.
    data = self.random_state.randint(0, 2, num_samples * k).reshape((num_samples, k))
    data[0, :] = 1
    genomes = data.astype(bool)
    if problem.extra_gene:
      genomes = np.concatenate([genomes, np.ones((num_samples, 1), bool)], axis=1)
    if problem.is_jax:
      chunk = chunk_size_for(problem.classifier, ELimeConfig(), image_shape=problem.image01.shape, rows=num_samples)
    else:
      chunk = batch_size
    num_classes = jax.eval_shape(problem.classifier, jax.ShapeDtypeStruct((1, *problem.image01.shape),
                                                                         jnp.float32)).shape[-1]
    images = Problem(image=jnp.asarray(problem.image01), labels=jnp.asarray(problem.labels),
                     fill=jnp.asarray(problem.fill01), target=jnp.int32(0), num_genes=jnp.int32(genomes.shape[1]))
    scores = np.asarray(run_checked(problem.classifier, scores_program(problem.classifier, min(chunk, num_samples),
                                                                      num_classes), jnp.asarray(genomes), images))
    if scores.ndim != 2 or scores.shape[0] != num_samples:
      raise ValueError(f"classifier_fn must return (N, C) scores, got shape {scores.shape[1:]} per batch")
    if not np.isfinite(scores).all():
      raise ValueError("classifier_fn returned NaN or infinite values for a perturbed image")
    top = self._labels(explanation, scores[0], labels, top_labels)
    weights = self._sample_weights(data, distance_metric)
    fit_fn = fit_program(self.kernel_width, _RIDGE_ALPHA, num_features, self.feature_selection)
    for label in top:
      fit = fit_fn(data, scores[:, label], sample_weights=None if weights is None else jnp.asarray(weights))
      used = np.flatnonzero(np.asarray(fit.used))
      if model_regressor is None:
        coef = np.asarray(fit.weights, np.float64)[used]
        intercept, score = np.float64(fit.intercept), float(fit.score)
        local_pred = np.array([float(fit.local_prediction)])
      else:  # lime_base with the caller's regressor, on the features the JAX selection chose
        w = np.asarray(fit.kernel_weights, np.float64) if weights is None else weights
        model_regressor.fit(data[:, used], scores[:, label], sample_weight=w)
        score = model_regressor.score(data[:, used], scores[:, label], sample_weight=w)
        local_pred = model_regressor.predict(data[0, used].reshape(1, -1))
        coef, intercept = model_regressor.coef_, model_regressor.intercept_
      explanation.intercept[label] = intercept
      explanation.local_exp[label] = sorted(zip(used, coef), key=lambda x: np.abs(x[1]), reverse=True)
      explanation.score, explanation.local_pred = score, local_pred
      explanation.explanations[label] = fit
      if self.verbose:
        print('Intercept', intercept)
        print('Prediction_local', local_pred)
        print('Right:', scores[0, label])

  @staticmethod
  def _labels(explanation: ImageExplanation, full_scores: np.ndarray, labels, top_labels) -> list:
    """lime's choice of labels: the ``top_labels`` highest scores on the full image, or ``labels``."""
    if top_labels:
      top = np.argsort(full_scores)[-top_labels:]
      explanation.top_labels = list(top)
      explanation.top_labels.reverse()
      return list(top)
    num_classes = full_scores.shape[0]
    out = []
    for label in labels:
      if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < num_classes:
        raise ValueError(f"labels must be class indices in [0, {num_classes}), got {label!r}")
      out.append(label)
    return out

  def _explain_elime(self, explanation: ImageExplanation, problem: _Problem, *, labels, top_labels,
                     config: ELimeConfig, batch_size: int, strategy: str) -> None:
    if not problem.is_jax and config.chunk_size is None:
      config = dataclasses.replace(config, chunk_size=batch_size)
    # The engine wants ids 0..K-1: renumber, and report lime's own ids.
    ids, dense = np.unique(explanation.segments, return_inverse=True)
    dense = dense.reshape(explanation.segments.shape).astype(np.int32)
    full = np.asarray(run_checked(problem.classifier, problem.classifier, jnp.asarray(problem.image01)[None]))[0]
    if not np.isfinite(full).all():
      raise ValueError("classifier_fn returned NaN or infinite values for the image")
    seed = int(self.random_state.randint(0, 2 ** 31 - 1))
    for label in self._labels(explanation, full, labels, top_labels):
      if strategy == "ga":
        exp = explain(problem.image01, problem.classifier, target=int(label), segments=dense, config=config,
                      seed=seed, baseline=problem.fill01)
      else:
        exp, = explain_batch([problem.image01], problem.classifier, targets=[int(label)], segments=[dense],
                             config=config, seeds=seed, baselines=[problem.fill01], strategy=strategy)
      intercept = 0.0
      if strategy == "kernelshap":  # a linear model: the values and p(nothing shown), which sum to p(image)
        signed = exp.importance.astype(np.float64)
        intercept = exp.original_probability - signed.sum()
      else:
        # Kept > 0 > hidden even at importance 0 or 1 (without elitism the best genome can leave the population).
        signed = np.where(exp.genome, np.maximum(exp.importance, _MIN_WEIGHT),
                          np.minimum(exp.importance - 1.0, -_MIN_WEIGHT)).astype(np.float64)
      order = np.argsort(-np.abs(signed), kind="stable")
      explanation.local_exp[label] = [(ids[i], signed[i]) for i in order]
      explanation.intercept[label] = np.float64(intercept)
      explanation.score = exp.explanation_probability
      explanation.local_pred = np.array([exp.explanation_probability])
      explanation.explanations[label] = exp
    explanation.segment_ids = ids
