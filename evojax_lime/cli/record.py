"""The JSON record of one explanation: everything needed to read, compare or reproduce it."""
from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evojax_lime.explanation import Explanation
from evojax_lime.versions import package_versions


@dataclasses.dataclass(frozen=True)
class ClassInfo:
  """A class of the classifier with its probability on the full image."""

  id: int
  name: str
  probability: float

  def as_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Run:
  """What one image's explanation is about, beyond the :class:`Explanation` itself.

  Attributes:
    source: where the photo came from: its path, or what provided a bundled one.
    photo_size: ``(height, width)`` of the original photo.
    model: registry name of the classifier.
    weights: ``"pretrained"`` or the weights file.
    predicted: top-1 class on the full image.
    target: the class explained.
    top5: the five most probable classes on the full image.
    timings: seconds: segmentation, compile, evolve, wall, write. ``wall`` is this photo's own reading,
      resizing and cutting plus its share (1/B) of its batch's classification and evolution; compile and evolve
      are the batch's; write (added when the files are written) is drawing and encoding its pictures.
    sha256: SHA-256 of the photo file's bytes (how ``--resume`` recognises it).
    options: what the result depends on besides the photo (see :mod:`~evojax_lime.cli.resume`).
    batch: ``{"index", "photos", "size"}``: which ``explain_batch`` call explained it, with how many photos,
      at which compiled batch size (more than ``photos`` when topped up with copies).
  """

  source: str
  photo_size: tuple[int, int]
  model: str
  weights: str
  predicted: ClassInfo
  target: ClassInfo
  top5: Sequence[ClassInfo]
  timings: dict[str, float]
  sha256: str = ""
  options: dict[str, Any] = dataclasses.field(default_factory=dict)
  batch: dict[str, int] = dataclasses.field(default_factory=dict)
  front: Any = None  # the ParetoFront with --objective pareto


@functools.cache
def versions() -> dict[str, str]:
  """Installed versions of the packages a result depends on."""
  return package_versions()


@functools.cache
def devices() -> list[str]:
  import jax

  return [f"{d.platform}:{d.id} {d.device_kind}" for d in jax.devices()]


def _finite(value: Any) -> Any:
  """JSON has no NaN or infinity; an unknown number is ``null``."""
  if isinstance(value, float) and not math.isfinite(value):
    return None
  if isinstance(value, dict):
    return {k: _finite(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_finite(v) for v in value]
  return value


# The sizes a lime user looks at (``get_image_and_mask(num_features=k)``): the record keeps the best mask of each.
SIZES = (3, 5, 10)


def best_of_sizes(explanation: Explanation) -> dict[str, Any]:
  """``{"3": {"selected": [...], "probability": p}, ...}``: the most probable mask of at most k superpixels the
  search evaluated, for each k of :data:`SIZES` below K that it has one for."""
  out = {}
  for k in SIZES:
    if k >= explanation.num_segments:
      continue
    try:
      genome = explanation.best_of_size(k)
    except ValueError:  # no per-size masks, or none of at most k superpixels
      continue
    probability = explanation.size_probabilities[int(genome.sum())]
    out[str(k)] = {"selected": np.flatnonzero(genome).tolist(), "probability": float(probability)}
  return out


def record(run: Run, explanation: Explanation, files: dict[str, str]) -> dict[str, Any]:
  """The JSON-ready record of one explanation."""
  summary = explanation.summary()
  importance = np.asarray(explanation.importance, float)
  return _finite({
      "image": {"source": run.source, "height": run.photo_size[0], "width": run.photo_size[1],
                "sha256": run.sha256},
      "model": {"name": run.model, "weights": run.weights},
      "predicted": run.predicted.as_dict(),
      "target": run.target.as_dict(),
      "top5": [c.as_dict() for c in run.top5],
      "original_probability": explanation.original_probability,
      "explanation_probability": explanation.explanation_probability,
      "best_fitness": explanation.best_fitness,
      "num_superpixels": explanation.num_segments,
      "kept": [{"id": int(i), "importance": float(importance[i])} for i in explanation.selected],
      "importance": importance.tolist(),
      "fitness_history": {"best": summary["fitness_history"], "mean": summary["mean_fitness_history"]},
      "generations_run": explanation.generations_run,
      "num_evaluations": explanation.num_evaluations,
      "scores": summary["scores"],
      "size_probabilities": summary.get("size_probabilities"),
      "best_of_size": best_of_sizes(explanation),
      **{key: summary[key] for key in ("faithfulness", "robustness_by_variant", "sanity_cascade") if key in summary},
      "config": summary["config"],
      "seed": summary["seed"],
      "timings": run.timings,
      "batch": run.batch,
      "options": run.options,
      "device": devices(),
      "versions": versions(),
      "files": files,
      **({} if explanation.stability is None else {"stability": explanation.stability,
                                                    "runs": summary["runs"]}),
      **({} if run.front is None else {"front": run.front.summary()}),
  })


def save_json(data: dict[str, Any], path: Path) -> None:
  path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
