"""Progress on stderr: a bar over generations for one photo, and a bar over the photos of a run."""
from __future__ import annotations

import sys
import threading
import time
from typing import Optional, TextIO

_MIN_INTERVAL = 0.1  # seconds between redraws: a terminal cannot show more, and drawing is not free


class ProgressBar:
  """Call it as ``bar(generation, best_fitness)``; the engine does, from inside the compiled loop.

  The first draw says the program is compiling: nothing else would move on screen until the first
  generation returns, and a first compile takes longer than a short run.

  Args:
    label: what is being explained, shown before the bar.
    total: generations the run will make at most.
    stream: where to draw; nothing is drawn unless it is a terminal.
    width: characters of the bar itself.
  """

  def __init__(self, label: str, total: int, *, stream: TextIO = sys.stderr, width: int = 28):
    self._label, self._total, self._stream, self._width = label, max(total, 1), stream, width
    self._start = time.perf_counter()
    self._first: Optional[tuple[int, float]] = None  # (generation, time) of the first report: after compiling
    self._last_draw = 0.0
    self._generation = 0
    self._lock = threading.Lock()  # callbacks may arrive on XLA's threads
    self._draw("compiling / first generation ...")

  def __call__(self, generation: int, best_fitness: float) -> None:
    with self._lock:
      # Unordered callbacks may arrive late; the bar never moves backwards.
      self._generation = max(self._generation, int(generation))
      now = time.perf_counter()
      self._first = self._first or (self._generation, now)
      if now - self._last_draw < _MIN_INTERVAL and self._generation < self._total:
        return
      self._last_draw = now
      done = int(self._width * self._generation / self._total)
      bar = "#" * done + "." * (self._width - done)
      self._draw(f"[{bar}] {self._generation}/{self._total} gen  best {best_fitness:.3f}  "
                 f"{now - self._start:.1f} s{self._eta(now)}")

  def _eta(self, now: float) -> str:
    first_gen, first_time = self._first
    if self._generation <= first_gen or self._generation >= self._total:
      return ""
    per_gen = (now - first_time) / (self._generation - first_gen)
    return f"  (~{per_gen * (self._total - self._generation):.0f} s left)"

  def _draw(self, text: str) -> None:
    self._stream.write(f"\r\x1b[2K{self._label} {text}")
    self._stream.flush()

  def close(self) -> None:
    """Erases the bar, leaving the line free for the summary."""
    with self._lock:
      self._stream.write("\r\x1b[2K")
      self._stream.flush()


def progress_bar(label: str, total: int, *, quiet: bool, stream: TextIO = sys.stderr) -> Optional[ProgressBar]:
  """A :class:`ProgressBar` when ``stream`` is a terminal and not ``quiet``; otherwise ``None`` (no callback
  is compiled into the run at all)."""
  if quiet or not stream.isatty():
    return None
  return ProgressBar(label, total, stream=stream)


def status(message: str, *, quiet: bool, stream: TextIO = sys.stderr) -> None:
  """Shows what is happening on a line the next status, bar or output overwrites (terminals only)."""
  if not quiet and stream.isatty():
    stream.write(f"\r\x1b[2K{message}")
    stream.flush()


class PhotosBar:
  """A one-line bar over the photos of a run, redrawn per batch (and per generation once the engine reports).

  Args:
    total: photos to explain in this run.
    batches: ``explain_batch`` calls the run will make.
    generations: generations per call, for :meth:`generation`.
    stream: a terminal.
    width: characters of the bar itself.
  """

  def __init__(self, total: int, *, batches: int, generations: int, stream: TextIO = sys.stderr, width: int = 28):
    self._total, self._batches, self._generations = max(total, 1), batches, max(generations, 1)
    self._stream, self._width = stream, width
    self._start = time.perf_counter()
    self._done = 0
    self._batch = (0, 0)  # (index, photos) of the batch evolving now
    self._fraction = 0.0  # of the current batch's generations
    self._lock = threading.Lock()

  def batch(self, index: int, photos: int) -> None:
    """Batch ``index`` (0-based) of ``photos`` photos starts evolving."""
    with self._lock:
      self._batch, self._fraction = (index, photos), 0.0
      self._draw()

  def generation(self, generation: int, best_fitness: float) -> None:
    """The engine's per-generation report inside the current batch (the ``progress=`` callback's signature)."""
    del best_fitness  # one batch holds many photos: no single best to show
    with self._lock:
      self._fraction = max(self._fraction, min(1.0, int(generation) / self._generations))
      self._draw()

  def photos_done(self, count: int) -> None:
    """``count`` more photos are explained."""
    with self._lock:
      self._done += count
      self._fraction = 0.0
      self._draw()

  def clear(self) -> None:
    """Erases the bar so that a line can be printed; the next update draws it again."""
    with self._lock:
      self._stream.write("\r\x1b[2K")
      self._stream.flush()

  def _draw(self) -> None:
    index, photos = self._batch
    done = min(self._total, self._done + self._fraction * photos)
    filled = int(self._width * done / self._total)
    elapsed = time.perf_counter() - self._start
    eta = f"  (~{elapsed / done * (self._total - done):.0f} s left)" if 0 < done < self._total else ""
    self._stream.write(f"\r\x1b[2K[{'#' * filled}{'.' * (self._width - filled)}] {self._done}/{self._total} photos"
                       f"  batch {index + 1}/{self._batches}: {photos} photos evolving  {elapsed:.0f} s{eta}")
    self._stream.flush()

  close = clear


def photos_bar(total: int, *, batches: int, generations: int, quiet: bool,
               stream: TextIO = sys.stderr) -> Optional[PhotosBar]:
  """A :class:`PhotosBar` when ``stream`` is a terminal and not ``quiet``; otherwise ``None``."""
  if quiet or not stream.isatty():
    return None
  return PhotosBar(total, batches=batches, generations=generations, stream=stream)
