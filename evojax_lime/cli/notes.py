"""Library warnings as the run's own one-line notes, naming the photo they are about.

Python prints a warning with the file and line that raised it, and a message that may span lines (Pillow's
corrupt EXIF, its decompression-bomb warning, matplotlib's missing glyph): noise that says nothing about which
photo it concerns. While a run is on, every warning becomes ``evojax-lime: note: <photo>: <message>``, shown
once per photo and message. Work for one photo runs on worker threads, so the photo is kept per thread.
"""
from __future__ import annotations

import contextlib
import threading
import warnings
from typing import Iterator, Optional

from evojax_lime.cli.errors import print_note, shown

_current = threading.local()
_lock = threading.Lock()
_seen: set[tuple[str, str]] = set()


@contextlib.contextmanager
def about(label: str) -> Iterator[None]:
  """Warnings raised on this thread inside the block are about the photo ``label``."""
  before = getattr(_current, "label", None)
  _current.label = label
  try:
    yield
  finally:
    _current.label = before


def _show(message, category, filename, lineno, file=None, line=None) -> None:
  del category, filename, lineno, file, line  # where in a library it came from is not the person's concern
  label: Optional[str] = getattr(_current, "label", None)
  text = " ".join(str(message).split())
  key = (label or "", text)
  with _lock:
    if key in _seen:
      return
    _seen.add(key)
  print_note(f"{shown(label)}: {text}" if label else text)


@contextlib.contextmanager
def warnings_as_notes() -> Iterator[None]:
  """Inside the block, warnings are printed as notes (see the module's docstring), each once per photo."""
  _seen.clear()
  with warnings.catch_warnings():
    # The same warning may concern several photos: let each through to the hook, which shows it once per photo.
    warnings.simplefilter("always", UserWarning)
    warnings.simplefilter("always", RuntimeWarning)
    warnings.showwarning = _show
    yield
