"""Photos through the pipeline: read and cut on worker threads, evolved in batches, written on a writer thread.

While batch i evolves, worker threads decode, resize and cut the photos of batch i + 1, and a writer thread
renders and encodes the files of batch i - 1: the device (or the CPU's XLA threads) is rarely left waiting.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import jax
import numpy as np

from evojax_lime import Search, explain_batch, genome_length, render, segment
from evojax_lime.cli import batching, html_report, images, notes, record, report
from evojax_lime.cli.errors import CliError, shown
from evojax_lime.cli.outputs import OutputFolder
from evojax_lime.cli.progress import PhotosBar
from evojax_lime.config import ELimeConfig
from evojax_lime.engine.checks import check_superpixel_count
from evojax_lime.explanation import Explanation
from evojax_lime.front import ParetoFront
from evojax_lime.front_render import front_strip, plot_front, strip_sizes

# Genomes of a run's photos are padded to at least this many genes, so that photos whose superpixel counts
# differ share one compiled program; a gene of padding costs next to nothing.
RUN_GENOME_LENGTH = 256
# Longest side of the overlay unless --full-resolution: drawing and PNG-encoding a 24-megapixel overlay costs
# more than explaining it, and a screen shows little more than this.
OVERLAY_LONGEST_SIDE = 1024
PREPARE_WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclasses.dataclass(frozen=True)
class Photo:
  """A photo of the run before it is read.

  Attributes:
    path: the file.
    label: how it is named on screen and in the summary (as typed).
    stem: file-name stem of its outputs.
    source: what its record names as its source.
    sha256: of the file's bytes.
  """

  path: Path
  label: str
  stem: str
  source: str
  sha256: str


@dataclasses.dataclass(frozen=True)
class PhotoInput:
  """A photo read, resized to the model's input and cut into superpixels (on a worker thread).

  Attributes:
    photo: which photo.
    size: ``(height, width)`` of the original.
    display: ``(h, w, 3)`` uint8 the overlay is drawn on: the photo bounded to the overlay size, or itself.
    image: ``(S, S, 3)`` float32 model input.
    labels: ``(S, S)`` int32 superpixels; ``None`` when the compiled program cuts them (``quickshift_jax``,
      ``slic_jax``, or the default ``auto`` on an accelerator: see
      :func:`~evojax_lime.segmentation.superpixels.runs_in_program`).
    segmentation_time: seconds cutting.
    seconds: seconds reading, resizing and cutting.
  """

  photo: Photo
  size: tuple[int, int]
  display: np.ndarray
  image: np.ndarray
  labels: Optional[np.ndarray]
  segmentation_time: float
  seconds: float


def photo_input(photo: Photo, *, input_size: int, config: ELimeConfig, overlay_side: Optional[int]) -> PhotoInput:
  """Reads, resizes and cuts one photo; a photo that cannot be explained raises :class:`CliError` here, before
  it could sink the batch it would have joined. Warnings on the way are notes about this photo."""
  with notes.about(photo.label):
    try:
      return _photo_input(photo, input_size=input_size, config=config, overlay_side=overlay_side)
    except CliError:
      raise
    except Exception as err:  # whatever else a library raises on a strange photo costs that photo alone
      raise CliError(f"{shown(photo.path)}: cannot be read: {type(err).__name__}: {err}") from None


def _photo_input(photo: Photo, *, input_size: int, config: ELimeConfig,
                 overlay_side: Optional[int]) -> PhotoInput:
  start = time.perf_counter()
  original = images.load_photo(photo.path)
  image = images.model_input(original, input_size)
  display = images.bounded(original, overlay_side)
  size = original.shape[:2]
  del original  # a phone photo is 36 MB; only the bounded copy lives on
  t0 = time.perf_counter()
  if config.segments_in_program:  # cut inside the compiled program, with the evolution
    return PhotoInput(photo, size, display, image, None, 0.0, time.perf_counter() - start)
  try:
    labels = segment(image, config.segmentation, dict(config.segmentation_params))
    check_superpixel_count(int(labels.max()) + 1)  # e.g. a blank photo: nothing to select between
  except ValueError as err:
    raise CliError(f"{shown(photo.path)}: {err}") from None
  segmentation_time = time.perf_counter() - t0
  return PhotoInput(photo, size, display, image, labels, segmentation_time, time.perf_counter() - start)


Result = tuple[PhotoInput, Union[Explanation, CliError], Optional[record.Run]]


def headline_size(front: ParetoFront) -> int:
  """The size a front's overlay shows: the smallest on the front whose probability reaches the full image's,
  else the most probable."""
  sizes = front.non_dominated()
  reach = [k for k in sizes if front.probabilities[k] >= front.original_probability]
  return int(reach[0]) if reach else int(sizes[np.argmax(front.probabilities[sizes])])


def photo_failure(err: BaseException) -> bool:
  """Whether ``err`` is one a photo of a batch can cause, so that explaining each photo alone is worth a try: the
  engine's refusal of an input (``ValueError``: a classifier that returns NaN for one photo's masked images, ...)
  or memory exhausted (on the host, or XLA's ``RESOURCE_EXHAUSTED`` on the device). Anything else is a fault of
  the tool, which a retry would hide."""
  if isinstance(err, (ValueError, MemoryError)):
    return True
  return isinstance(err, jax.errors.JaxRuntimeError) and "RESOURCE_EXHAUSTED" in str(err)


@dataclasses.dataclass
class BatchExplainer:
  """Explains batches of prepared photos with one classifier and writes each photo's files.

  Attributes:
    model: a ``models.Model``.
    weights: what ``--weights`` said, for the record.
    config: the GA options.
    target: the class to explain, or ``None`` for each photo's top-1 class.
    seed: the seed of every photo's run.
    options: what ``--resume`` compares (see :mod:`~evojax_lime.cli.resume`).
    objective: ``"single"`` (one explanation per photo, in batches) or ``"pareto"`` (each photo's whole
      probability-vs-size front, one photo at a time).
    strategy: the search of a single objective: ``"ga"``, ``"kernelshap"`` or ``"extremal"``.
    restarts: independent runs per photo whose consensus is written (with its stability).
    randomised: the model with its last layers re-initialised, one copy per depth of ``--sanity``, for the
      sanity score (its cascade when there are several).
    robustness: score each answer against those under other segmentations and another fill.
  """

  model: Any
  weights: str
  config: ELimeConfig
  target: Optional[int]
  seed: int
  options: dict[str, Any]
  objective: str = "single"
  strategy: str = "ga"
  restarts: int = 1
  randomised: Any = None
  robustness: bool = False
  _length: int = RUN_GENOME_LENGTH

  def __post_init__(self):
    # The same function object for every batch: the engine caches compiled programs on it.
    self._classifier = self.model.classifier()

  def _class(self, index: int, probs: np.ndarray) -> record.ClassInfo:
    return record.ClassInfo(int(index), self.model.class_names[index], float(probs[index]))

  def _evolve(self, batch: Sequence[PhotoInput], targets: Sequence[int], progress: Optional[PhotosBar]) -> list[Any]:
    labels, config = None, self.config  # in-program superpixels: the engine bounds the genome itself
    if not self.config.segments_in_program:
      labels = [p.labels for p in batch]
      # Photos differ in superpixel count; the genome length only grows, so it recompiles at most rarely.
      self._length = max(self._length, *(genome_length(int(l.max()) + 1) for l in labels))
      config = dataclasses.replace(self.config, genome_length=self._length)
    on_generation = None if progress is None else progress.generation
    if self.objective == "pareto":
      search = Search([p.image for p in batch], self._classifier, strategy="nsga2", targets=list(targets),
                      segments=labels, config=config, seeds=self.seed)
      return search.advance(progress=on_generation).fronts()
    return explain_batch([p.image for p in batch], self._classifier, targets=list(targets), segments=labels,
                         config=config, seeds=self.seed, restarts=self.restarts, progress=on_generation,
                         cascade=None if self.randomised is None else [m.classifier() for m in self.randomised],
                         robustness=self.robustness, strategy=self.strategy)

  def explain(self, batch: Sequence[PhotoInput], *, size: int, index: int,
              progress: Optional[PhotosBar] = None) -> list[Result]:
    """Explains ``batch`` in one ``explain_batch`` call compiled for ``size`` photos (topped up with copies when a
    few short, see :func:`~evojax_lime.cli.batching.padding`). If the batch fails with an error a photo can cause
    (see :func:`photo_failure`), each photo is explained alone, so one bad photo costs only itself; any other
    error is a fault of the tool and ends the run."""
    start = time.perf_counter()
    n = len(batch)
    # Copies top a batch up to the compiled size; fronts are evolved one photo at a time and need none.
    copies = batching.padding(n, size) if self.objective == "single" else 0
    padded = list(batch) + [batch[j % n] for j in range(copies)]
    if progress is not None:
      progress.batch(index, n)
    try:
      probs = self.model.predict(np.stack([p.image for p in padded]))[:n]
      targets = [int(np.argmax(p)) if self.target is None else self.target for p in probs]
      outcomes: list[Any] = self._evolve(padded, [targets[j % n] for j in range(len(padded))], progress)[:n]
    except Exception as err:  # pylint: disable=broad-except
      if not photo_failure(err):
        raise
      probs, targets, outcomes = map(list, zip(*map(self._alone, batch)))
    share = (time.perf_counter() - start) / n
    batch_info = {"index": index, "photos": n, "size": len(padded)}
    return [(prep, exp, None) if isinstance(exp, CliError) else
            self._result(prep, prob, target, exp, timings_share=share, batch_info=batch_info)
            for prep, prob, target, exp in zip(batch, probs, targets, outcomes)]

  def _result(self, prep: PhotoInput, prob: np.ndarray, target: int, exp: Union[Explanation, ParetoFront], *,
              timings_share: float, batch_info: dict[str, int]) -> Result:
    """One photo's explanation (a front's headline point) with the record of its run."""
    front = None
    if isinstance(exp, ParetoFront):
      front, exp = exp, exp.point(headline_size(exp))
    order = np.argsort(prob)[::-1]
    run = record.Run(source=prep.photo.source, photo_size=prep.size, model=self.model.name, weights=self.weights,
                     predicted=self._class(order[0], prob), target=self._class(target, prob),
                     top5=[self._class(i, prob) for i in order[:5]],
                     timings={"segmentation": prep.segmentation_time, "compile": exp.compile_time,
                              "evolve": exp.evolve_time, "wall": prep.seconds + timings_share},
                     sha256=prep.photo.sha256, options=self.options, batch=batch_info, front=front)
    return prep, exp, run

  def _alone(self, prep: PhotoInput) -> tuple[Optional[np.ndarray], int, Union[Explanation, CliError]]:
    """``(probabilities, target, explanation or the error)`` of one photo explained on its own; an error that
    is not :func:`photo_failure` is raised."""
    prob, target = None, -1
    try:
      prob = self.model.predict(prep.image[None])[0]
      target = int(np.argmax(prob)) if self.target is None else self.target
      return prob, target, self._evolve([prep], [target], None)[0]
    except ValueError as err:  # e.g. a classifier that returns NaN for this photo's masked images
      return prob, target, CliError(f"{shown(prep.photo.path)}: {err}")
    except Exception as err:  # pylint: disable=broad-except
      if not photo_failure(err):
        raise
      return prob, target, CliError(f"{shown(prep.photo.path)}: cannot be explained: {type(err).__name__}: {err}")

  def write(self, out: OutputFolder, prep: PhotoInput, exp: Explanation, run: record.Run) -> report.Outcome:
    """Renders and writes one photo's files (all or none); returns its summary row. Runs on the writer thread;
    warnings on the way (a glyph missing from the font) are notes about this photo."""
    with notes.about(prep.photo.label):
      return self._write(out, prep, exp, run)

  def _write(self, out: OutputFolder, prep: PhotoInput, exp: Explanation, run: record.Run) -> report.Outcome:
    stem = prep.photo.stem
    files = {kind: f"{stem}{suffix}" for kind, suffix in
             (("overlay", "_overlay.png"), ("explanation", "_explanation.png"), ("fitness", "_fitness.png"),
              ("record", ".json"))}
    if run.front is not None:
      files.update(front=f"{stem}_front.png", strip=f"{stem}_strip.png")
    sizes = record.best_of_sizes(exp)  # empty for a front's point: its strip shows a few sizes instead
    if sizes:
      files["sizes"] = f"{stem}_sizes.png"
    # Titles name the photo escaped as on screen (a font has no glyph for ESC, and a byte of a name that is not
    # UTF-8 cannot be drawn at all); plot functions draw them as plain text, never as mathtext ($x^2$).
    label = shown(prep.photo.label)
    title = f"Fitness per generation: {label}, {run.target.name} ({run.target.id})"
    start = time.perf_counter()
    overlay = render.overlay(prep.display, exp)
    data = record.record(run, exp, files)

    def save_record(path: Path) -> None:
      # Written last: by now the pictures are drawn and encoded, and their cost is known.
      data["timings"]["write"] = time.perf_counter() - start
      record.save_json(data, path)

    out.write({
        files["overlay"]: lambda p: render.save_png(overlay, p),
        files["explanation"]: lambda p: render.save_png(render.masked_input(exp), p),
        files["fitness"]: lambda p: render.save_fitness_plot(exp, p, title=title),
        **({files["sizes"]: lambda p: render.save_sizes(exp, sizes, p)} if sizes else {}),
        **({} if run.front is None else {
            files["front"]: lambda p: plot_front(run.front, p, title=f"{label}: {run.target.name}"),
            files["strip"]: lambda p: front_strip(run.front, strip_sizes(run.front), p)}),
        files["record"]: save_record,
    })
    return report.from_record(prep.photo.label, data, thumbnail=html_report.thumbnail(overlay))


def run_batches(explainer: BatchExplainer, photos: Sequence[Photo], *, batch_size: int, out: OutputFolder,
                overlay_side: Optional[int], on_done: Callable[[report.Outcome], None],
                progress: Optional[PhotosBar] = None) -> list[report.Outcome]:
  """Explains ``photos`` in batches of at most ``batch_size`` (sizes from :func:`~evojax_lime.cli.batching.plan`),
  with the next batch read and cut and the previous one written on other threads.

  Args:
    explainer: classifier and options.
    photos: the photos to explain, in order.
    batch_size: most photos per ``explain_batch`` call.
    out: where files go.
    overlay_side: longest side of the overlay, ``None`` for the photo's own size.
    on_done: called on this thread with each photo's outcome, in the photos' order, as soon as it is known.
    progress: a bar to move, if any.

  Returns:
    One outcome per photo, in order (a failed photo's with its error).
  """
  sizes = batching.plan(len(photos), batch_size)
  starts = [int(s) for s in np.cumsum([0] + sizes)]
  read = lambda p: photo_input(p, input_size=explainer.model.input_size, config=explainer.config,
                               overlay_side=overlay_side)
  workers = cf.ThreadPoolExecutor(PREPARE_WORKERS, thread_name_prefix="read")
  writer = cf.ThreadPoolExecutor(1, thread_name_prefix="write")
  outcomes = _InOrder(photos, on_done)
  try:
    pending = _reads(workers, read, photos, starts, 0)
    for index, first in enumerate(starts[:-1]):
      current, pending = pending, _reads(workers, read, photos, starts, index + 1)
      ready = outcomes.inputs(current, first)
      if index >= 2:  # back-pressure: files of at most two batches wait in memory for the writer
        outcomes.wait(starts[index - 2], starts[index - 1])
      _explain_ready(explainer, ready, outcomes, writer=lambda *a: writer.submit(explainer.write, out, *a),
                     size=sizes[0], index=index, progress=progress)
      outcomes.report(wait=False)
    outcomes.report(wait=True)
  finally:
    # Stopped early (Ctrl-C, a failure): photos not yet read are dropped; files being written are finished.
    workers.shutdown(wait=False, cancel_futures=True)
    writer.shutdown(wait=True)
  return outcomes.items


def _reads(workers: cf.Executor, read: Callable[[Photo], PhotoInput], photos: Sequence[Photo],
           starts: Sequence[int], batch: int) -> list[cf.Future]:
  """The futures reading the photos of batch ``batch`` (photos ``starts[batch]`` to ``starts[batch + 1]``;
  none past the last batch)."""
  if batch >= len(starts) - 1:
    return []
  return [workers.submit(read, p) for p in photos[starts[batch]:starts[batch + 1]]]


def _explain_ready(explainer: BatchExplainer, ready: list[tuple[int, PhotoInput]], outcomes: "_InOrder", *,
                   writer: Callable[..., cf.Future], size: int, index: int, progress: Optional[PhotosBar]) -> None:
  """Explains the photos of batch ``index`` that could be read (``(slot, input)`` each): a failed photo's outcome,
  or the future of ``writer(input, explanation, run)`` writing its files, goes into its slot."""
  if not ready:
    return
  results = explainer.explain([inp for _, inp in ready], size=size, index=index, progress=progress)
  for (slot, _), (inp, exp, run) in zip(ready, results):
    outcomes[slot] = (report.Outcome(name=inp.photo.label, error=str(exp)) if isinstance(exp, CliError)
                      else writer(inp, exp, run))
  if progress is not None:
    progress.photos_done(len(ready))


class _InOrder:
  """Each photo's outcome, or the future of writing its files, passed to ``on_done`` in the photos' order."""

  def __init__(self, photos: Sequence[Photo], on_done: Callable[[report.Outcome], None]):
    self.photos, self.on_done = photos, on_done
    self.items: list[Any] = [None] * len(photos)  # an Outcome, or the future that will give it
    self.reported = 0

  def __setitem__(self, slot: int, item: Any) -> None:
    self.items[slot] = item

  def inputs(self, futures: Sequence[cf.Future], first: int) -> list[tuple[int, PhotoInput]]:
    """``(slot, input)`` of each photo read from ``futures`` (photos ``first``, ...); a photo that could not be
    read gets its outcome here."""
    ready = []
    for slot, future in enumerate(futures, start=first):
      try:
        ready.append((slot, future.result()))
      except CliError as err:  # photo_input() turns every failure of a photo into one
        self.items[slot] = report.Outcome(name=self.photos[slot].label, error=str(err))
    return ready

  def wait(self, start: int, stop: int) -> None:
    """Waits until the files of photos ``start`` to ``stop`` are written (or failed)."""
    for item in self.items[start:stop]:
      if isinstance(item, cf.Future):
        item.exception()

  def report(self, *, wait: bool) -> None:
    """Passes on every outcome known, in order, up to the first not yet known (waiting for writes if ``wait``)."""
    while self.reported < len(self.photos) and self.items[self.reported] is not None:
      item = self.items[self.reported]
      if isinstance(item, cf.Future):
        if not (wait or item.done()):
          return
        item = self.items[self.reported] = _written(item, self.photos[self.reported])
      self.on_done(item)
      self.reported += 1


def _written(future: cf.Future, photo: Photo) -> report.Outcome:
  """The outcome of writing a photo's files; a failure (of any kind) is that photo's error, not the run's end."""
  try:
    return future.result()
  except CliError as err:
    return report.Outcome(name=photo.label, error=str(err))
  except Exception as err:  # e.g. a plot that cannot be drawn: the photo fails, the next ones are still written
    error = CliError(f"{shown(photo.path)}: cannot write its files: {type(err).__name__}: {err}")
    return report.Outcome(name=photo.label, error=str(error))
