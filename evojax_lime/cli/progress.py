"""Progress on stderr: a bar over the photos of a run, moved by the engine's generation reports."""
from __future__ import annotations

import sys
import threading
import time
from typing import Optional, TextIO


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
