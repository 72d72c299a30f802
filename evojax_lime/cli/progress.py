"""A one-line text progress bar over generations, drawn on stderr while the compiled GA runs."""
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
