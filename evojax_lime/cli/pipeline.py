"""One photo through the whole pipeline: read, classify, cut, evolve, render, write."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from evojax_lime.cli import images, progress, record, render
from evojax_lime.cli.errors import CliError
from evojax_lime.cli.outputs import OutputFolder
from evojax_lime.cli.report import Outcome
from evojax_lime.config import ELimeConfig
from evojax_lime.explain import explain
from evojax_lime.program import predict_fn
from evojax_lime.superpixels import genome_length, segment

# Genomes are padded to at least this many genes, so that the photos of a run, whose superpixel counts
# differ, share one compiled program; a gene of padding costs next to nothing.
MIN_GENOME_LENGTH = 256


@dataclasses.dataclass
class Explainer:
  """Explains photos one by one with one classifier, sharing its compiled program across them.

  Attributes:
    model: a ``models.Model``.
    weights: what ``--weights`` said, for the record.
    config: the GA options.
    target: the class to explain, or ``None`` for each photo's top-1 class.
    seed: the seed of every photo's run.
    quiet: no progress bar.
  """

  model: Any
  weights: str
  config: ELimeConfig
  target: Optional[int]
  seed: int
  quiet: bool
  _length: int = MIN_GENOME_LENGTH

  def __post_init__(self):
    # The same function object for every photo: the engine caches compiled programs on it.
    self._classifier = self.model.classifier()

  def _class(self, index: int, probs: np.ndarray) -> record.ClassInfo:
    return record.ClassInfo(int(index), self.model.class_names[index], float(probs[index]))

  def __call__(self, path: Path, out: OutputFolder, *, origin: Optional[str] = None) -> Outcome:
    """Explains the photo at ``path`` and writes its outputs into ``out``.

    Args:
      path: the photo.
      out: where its outputs go.
      origin: what to record as the photo's source instead of ``path`` (for a bundled photo).

    Raises:
      CliError: the photo cannot be read or explained, or its outputs cannot be written.
    """
    start = time.perf_counter()
    label = path.name if origin else str(path)  # as typed: two folders may hold photos of the same name
    photo = images.load_photo(path)
    # Every photo is resized to the model's input first, so all share the shapes of one compiled program.
    image = images.model_input(photo, self.model.input_size)
    probs = np.asarray(predict_fn(self._classifier)(image[None]))[0]
    target = int(np.argmax(probs)) if self.target is None else self.target

    try:
      exp, segmentation_time = self._explain(label, image, target)
    except ValueError as err:  # e.g. a blank photo that yields a single superpixel
      raise CliError(f"{path}: {err}") from None
    wall = time.perf_counter() - start

    order = np.argsort(probs)[::-1]
    run = record.Run(source=origin or str(path), photo_size=photo.shape[:2], model=self.model.name,
                     weights=self.weights, predicted=self._class(order[0], probs), target=self._class(target, probs),
                     top5=[self._class(i, probs) for i in order[:5]],
                     timings={"segmentation": segmentation_time, "compile": exp.compile_time,
                              "evolve": exp.evolve_time, "wall": wall})
    self._write(out, out.stem(path), label, run, photo, exp)
    return Outcome(name=label, class_name=run.target.name, class_id=target, original=exp.original_probability,
                   explanation=exp.explanation_probability, kept=len(exp.selected), superpixels=exp.num_segments,
                   seconds=wall)

  def _explain(self, label: str, image: np.ndarray, target: int) -> tuple[Any, float]:
    """The :class:`Explanation` of the resized photo, and the seconds its segmentation took."""
    if self.config.segments_in_program:  # segmentation is part of the compiled program and its time
      labels, segmentation_time, config = None, 0.0, self.config
    else:
      t0 = time.perf_counter()
      labels = segment(image, self.config.segmentation, dict(self.config.segmentation_params))
      segmentation_time = time.perf_counter() - t0
      # Photos may differ in superpixel count; the genome length only grows, so it recompiles at most rarely.
      self._length = max(self._length, genome_length(int(labels.max()) + 1))
      config = dataclasses.replace(self.config, genome_length=self._length)
    bar = progress.progress_bar(label, config.generations, quiet=self.quiet)
    try:
      return explain(image, self._classifier, target=target, segments=labels, config=config, seed=self.seed,
                     progress=bar), segmentation_time
    finally:
      if bar is not None:
        bar.close()

  def _write(self, out: OutputFolder, stem: str, name: str, run: record.Run, photo: np.ndarray, exp: Any) -> None:
    files = {kind: f"{stem}{suffix}" for kind, suffix in
             (("overlay", "_overlay.png"), ("explanation", "_explanation.png"), ("fitness", "_fitness.png"),
              ("record", ".json"))}
    title = f"Fitness per generation: {name}, {run.target.name} ({run.target.id})"
    out.write({
        files["overlay"]: lambda p: render.save_png(render.overlay(photo, exp), p),
        files["explanation"]: lambda p: render.save_png(render.masked_input(exp), p),
        files["fitness"]: lambda p: render.save_fitness_plot(exp, p, title=title),
        files["record"]: lambda p: record.save_json(record.record(run, exp, files), p),
    })
