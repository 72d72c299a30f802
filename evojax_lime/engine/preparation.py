"""The one preparation path: every explainer's inputs are checked, converted and cut into superpixels here.

:func:`prepare` turns images and their per-image options (targets, label maps, baselines) into the
:class:`~evojax_lime.evaluation.fitness.Problem` rows a search program completes and evolves. Each option
applies to exactly its image, whatever the order; an image given several times (restarts, study rows) is
checked and cut once.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Optional, Sequence

import jax
import numpy as np

from evojax_lime.config import ELimeConfig
from evojax_lime.engine.checks import as_image, check_segments, class_index
from evojax_lime.evaluation.fitness import Problem
from evojax_lime.segmentation.superpixels import MIN_GENOME_LENGTH, genome_length, in_program_max_segments, relabel, segment


@dataclasses.dataclass(frozen=True)
class Prepared:
  """One image made ready for a search program.

  Attributes:
    image: ``(H, W, 3)`` float32 in [0, 1].
    labels: ``(H, W)`` int32 superpixels, or ``None`` when the program cuts them.
    baseline: ``(H, W, 3)`` float32 shown where superpixels are hidden, or ``None`` for the config's fill.
    target: the class to explain, or ``None`` for the classifier's top-1 on the full image.
    segmentation_time: seconds spent cutting superpixels on the host.
    max_segments: a bound on K (the genome length must hold it).
  """

  image: np.ndarray
  labels: Optional[np.ndarray]
  baseline: Optional[np.ndarray]
  target: Optional[int]
  segmentation_time: float
  max_segments: int

  def problem(self) -> Problem:
    """The :class:`Problem` the program completes (labels, K and fill are placeholders where not given)."""
    labels = np.zeros(self.image.shape[:2], np.int32) if self.labels is None else self.labels
    k = 0 if self.labels is None else int(self.labels.max()) + 1
    fill = np.zeros_like(self.image) if self.baseline is None else self.baseline
    return Problem(image=self.image, labels=labels, fill=fill, target=np.int32(self.target or 0),
                   num_genes=np.int32(k), top1=np.bool_(self.target is None),
                   labels_given=np.bool_(self.labels is not None), fill_given=np.bool_(self.baseline is not None))


def check_config(config: Any) -> ELimeConfig:
  if not isinstance(config, ELimeConfig):
    raise ValueError(f"config must be an ELimeConfig, got {type(config).__name__}")
  return config


def per_image(value: Any, n: int, name: str) -> list:
  """``value`` for ``n`` images: ``None`` or one scalar for all, or a sequence of exactly ``n``."""
  if value is None or isinstance(value, (int, np.integer)):
    return [value] * n
  values = list(value)
  if len(values) != n:
    raise ValueError(f"{name} must have one entry per image ({n}), got {len(values)}")
  return values


def _baseline(baseline: Any, shape: tuple[int, ...]) -> Optional[np.ndarray]:
  if baseline is None:
    return None
  fill = as_image(baseline, name="baseline")
  if fill.shape != shape:
    raise ValueError(f"baseline shape {fill.shape} does not match the image's {shape}")
  return fill


def _one(image: Any, *, target: Any, segments: Any, baseline: Any, config: ELimeConfig,
         in_program: bool) -> Prepared:
  img = as_image(image)
  if target is not None:
    target = class_index(target)  # its upper bound is checked once the program knows the class count
  fill = _baseline(baseline, img.shape)
  if segments is None and in_program:
    bound = in_program_max_segments(config.segmentation, img.shape[0], img.shape[1], dict(config.segmentation_params))
    return Prepared(image=img, labels=None, baseline=fill, target=target, segmentation_time=0.0, max_segments=bound)
  t0 = time.perf_counter()
  labels = segment(img, config.segmentation, dict(config.segmentation_params)) if segments is None else relabel(segments)
  elapsed = time.perf_counter() - t0
  check_segments(labels, img.shape[:2])
  return Prepared(image=img, labels=labels, baseline=fill, target=target, segmentation_time=elapsed,
                  max_segments=int(labels.max()) + 1)


def prepare(images: Sequence[Any], *, targets: Any = None, segments: Any = None, baselines: Any = None,
            config: ELimeConfig, in_program: bool = True) -> list[Prepared]:
  """Checks and prepares ``B`` images of one size with their per-image options.

  Args:
    images: the images (any format :func:`~evojax_lime.engine.checks.as_image` takes).
    targets: ``None`` (each image's top-1), one class for all, or one per image.
    segments: ``None`` or one ``(H, W)`` label map (or ``None``) per image.
    baselines: ``None`` or one baseline image (or ``None``) per image.
    config: the options.
    in_program: a JAX segmentation may run inside the program (else it runs here, on the host).

  Returns:
    One :class:`Prepared` per image; the same input object given twice is prepared once.

  Raises:
    ValueError: anything wrong, in one line.
  """
  config = check_config(config)
  images = list(images)
  n = len(images)
  if n == 0:
    raise ValueError("at least one image is needed")
  targets, segments, baselines = (per_image(v, n, name) for v, name in
                                  ((targets, "targets"), (segments, "segments"), (baselines, "baselines")))
  in_program = in_program and config.segments_in_program
  done: dict[tuple, Prepared] = {}
  out = []
  for image, target, labels, baseline in zip(images, targets, segments, baselines):
    key = (id(image), repr(target), id(labels), id(baseline))
    if key not in done:
      done[key] = _one(image, target=target, segments=labels, baseline=baseline, config=config,
                       in_program=in_program)
    out.append(done[key])
  sizes = {p.image.shape[:2] for p in out}
  if len(sizes) > 1:
    raise ValueError(f"images must all have one size, got {sorted(sizes)}")
  return out


def length_for(prepared: Sequence[Prepared], config: ELimeConfig) -> int:
  """The static genome length of a search over ``prepared`` (none: the least any search of ``config`` has)."""
  if not prepared:
    return MIN_GENOME_LENGTH if config.genome_length is None else config.genome_length
  return genome_length(max(p.max_segments for p in prepared), config.genome_length)


def stacked(prepared: Sequence[Prepared]) -> Problem:
  """The rows' problems with a leading row axis (numpy)."""
  return jax.tree_util.tree_map(lambda *leaves: np.stack([np.asarray(x) for x in leaves]),
                                *[p.problem() for p in prepared])
