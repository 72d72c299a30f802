"""The host side of an explanation: checks, superpixels (when cut on the host) and the problem's arrays."""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.config import ELimeConfig
from evojax_lime.evaluation.fitness import Classifier, Problem
from evojax_lime.engine.checks import as_image, check_scores, check_segments, check_target
from evojax_lime.evaluation.chunking import ClassifierProfile, classifier_profile
from evojax_lime.segmentation.superpixels import genome_length, in_program_max_segments, relabel, segment


@dataclasses.dataclass(frozen=True)
class Prepared:
  """One image made ready for the compiled program.

  ``labels`` is ``None`` when the program cuts the superpixels itself; ``target`` is -1 for "the top-1
  class", which the program resolves; ``length`` is the static genome length (a bound on K).
  """

  image: np.ndarray
  labels: Optional[np.ndarray]
  baseline: Optional[np.ndarray]
  target: int
  segmentation_time: float
  length: int

  def problem(self) -> Problem:
    """The :class:`Problem` the program completes (labels, K and fill may be placeholders)."""
    labels = np.zeros(self.image.shape[:2], np.int32) if self.labels is None else self.labels
    k = 0 if self.labels is None else int(self.labels.max()) + 1
    fill = np.zeros_like(self.image) if self.baseline is None else self.baseline
    return Problem(image=self.image, labels=labels, fill=fill, target=np.int32(self.target), num_genes=np.int32(k))


def _checked_baseline(baseline: Any, shape: tuple[int, ...]) -> Optional[np.ndarray]:
  if baseline is None:
    return None
  fill = as_image(baseline, name="baseline")
  if fill.shape != shape:
    raise ValueError(f"baseline shape {fill.shape} does not match the image's {shape}")
  return fill


def check_classifier(classifier: Classifier, shape: tuple[int, ...], dtype: str) -> ClassifierProfile:
  """The classifier's profile for images of ``shape``, refusing outputs that are not ``(N, C)`` with C >= 2."""
  profile = classifier_profile(classifier, shape[0], shape[1], dtype)
  if len(profile.output_shape) != 2 or profile.output_shape[0] != 1 or profile.num_classes < 2:
    raise ValueError(f"classifier must map (N, H, W, 3) images to (N, C) scores with C >= 2; "
                     f"for N=1 it returns shape {profile.output_shape}")
  return profile


def prepare(image: Any, classifier: Classifier, *, target: Optional[int], segments: Any,
            config: ELimeConfig, baseline: Any, in_program: bool = True) -> Prepared:
  """Validates the inputs and cuts superpixels on the host unless the program cuts them.

  With ``in_program=False`` a JAX segmentation runs here, on its own, rather than in the caller's program.
  """
  if not isinstance(config, ELimeConfig):
    raise ValueError(f"config must be an ELimeConfig, got {type(config).__name__}")
  img = as_image(image)
  profile = check_classifier(classifier, img.shape, config.dtype)
  target = -1 if target is None else check_target(target, profile.num_classes)
  fill = _checked_baseline(baseline, img.shape)
  if segments is None and config.segments_in_program and in_program:
    bound = in_program_max_segments(config.segmentation, img.shape[0], img.shape[1], dict(config.segmentation_params))
    return Prepared(image=img, labels=None, baseline=fill, target=target, segmentation_time=0.0,
                    length=genome_length(bound, config.genome_length))
  t0 = time.perf_counter()
  labels = segment(img, config.segmentation, dict(config.segmentation_params)) if segments is None else relabel(segments)
  segmentation_time = time.perf_counter() - t0
  check_segments(labels, img.shape[:2])
  return Prepared(image=img, labels=labels, baseline=fill, target=target, segmentation_time=segmentation_time,
                  length=genome_length(int(labels.max()) + 1, config.genome_length))


@dataclasses.dataclass(frozen=True)
class Completed:
  """One image with everything a host-driven explainer (LIME, the metrics) needs: superpixels, fill, target
  and the classifier's verdict on the full image."""

  image: np.ndarray
  labels: np.ndarray
  fill: np.ndarray
  target: int
  original_probability: float
  segmentation_time: float

  @property
  def num_genes(self) -> int:
    return int(self.labels.max()) + 1

  def problem(self) -> Problem:
    return Problem(image=jnp.asarray(self.image), labels=jnp.asarray(self.labels), fill=jnp.asarray(self.fill),
                   target=jnp.int32(self.target), num_genes=jnp.int32(self.num_genes))


def prepare_on_host(image: Any, classifier: Classifier, *, target: Optional[int], segments: Any,
                    config: ELimeConfig, logits: bool, baseline: Any) -> Completed:
  """:func:`prepare`, then superpixels, fill and target computed on the host (for explainers outside the
  compiled search)."""
  from evojax_lime.engine.program import fill_fn, predict_fn  # deferred: the program module imports this one

  img = as_image(image)
  t0 = time.perf_counter()
  if segments is None:
    segments = segment(img, config.segmentation, dict(config.segmentation_params))
  prep = prepare(img, classifier, target=target, segments=segments, config=config, baseline=baseline)
  segmentation_time = time.perf_counter() - t0
  scores = check_scores(predict_fn(classifier)(jnp.asarray(img)[None]), 1, logits=logits)
  probs = np.asarray(jax.nn.softmax(scores, axis=-1)) if logits else scores
  target = int(np.argmax(probs[0])) if prep.target < 0 else prep.target
  fill = prep.baseline
  if fill is None:
    fill = np.asarray(fill_fn(config.fill, prep.length, float(config.blur_sigma))(img, prep.labels))
  return Completed(image=img, labels=prep.labels, fill=fill.astype(np.float32), target=target,
                   original_probability=float(probs[0, target]), segmentation_time=segmentation_time)
