"""The output folder, and writing one image's files so that they appear all together or not at all."""
from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Optional

from evojax_lime.cli.errors import CliError

DEFAULT_ROOT = Path("evojax-lime-out")

# file name -> function that writes that file at the path it is given
Writers = Mapping[str, Callable[[Path], None]]


def _fresh_default() -> Path:
  stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
  path = DEFAULT_ROOT / stamp
  n = 1
  while path.exists():  # two runs in one second must not share a folder
    n += 1
    path = DEFAULT_ROOT / f"{stamp}-{n}"
  return path


class OutputFolder:
  """The folder outputs go to, created on entry and removed on exit if this run created it and left it empty.

  Use as a context manager. A person who passed ``--out`` to a run that failed finds no folder or the folder
  as it was, never one half-filled.
  """

  def __init__(self, path: Optional[str]):
    self.path = Path(path) if path else _fresh_default()
    self._created: list[Path] = []
    self._stems: set[str] = set()

  def __enter__(self) -> "OutputFolder":
    missing = [p for p in (self.path, *self.path.parents) if not p.exists()]
    try:
      self.path.mkdir(parents=True, exist_ok=True)
      self._created = missing  # innermost first: the order to remove them in
      # mkdir succeeding does not prove we may write files here (e.g. an existing read-only folder).
      with tempfile.TemporaryFile(dir=self.path):
        pass
    except OSError as err:
      self._remove_created()
      raise CliError(f"cannot write to output folder {self.path}: {err.strerror or err}") from None
    return self

  def __exit__(self, *exc) -> None:
    self._remove_created()

  def _remove_created(self) -> None:
    for folder in self._created:
      try:
        folder.rmdir()  # only succeeds while empty, which is the point
      except OSError:
        break

  def stem(self, path: Path) -> str:
    """A file-name stem for ``path`` not yet used in this run (``cat``, ``cat-2``, ...)."""
    base = path.stem or "image"
    stem, n = base, 1
    while stem in self._stems:
      n += 1
      stem = f"{base}-{n}"
    self._stems.add(stem)
    return stem

  def write(self, writers: Writers) -> list[Path]:
    """Writes all of one image's files, or none of them.

    Every file is first written into a hidden temporary folder beside the outputs (same file system), then
    moved into place with ``os.replace``; any failure removes whatever was written or moved.

    Returns:
      The final paths.

    Raises:
      CliError: a file could not be written.
    """
    staging = Path(tempfile.mkdtemp(prefix=".evojax-lime-", dir=self.path))
    moved: list[Path] = []
    try:
      for name, write in writers.items():
        write(staging / name)
      for name in writers:
        os.replace(staging / name, self.path / name)
        moved.append(self.path / name)
      return moved
    except Exception as err:
      for path in moved:
        path.unlink(missing_ok=True)
      if isinstance(err, OSError):
        raise CliError(f"cannot write outputs to {self.path}: {err.strerror or err}") from None
      raise
    finally:
      shutil.rmtree(staging, ignore_errors=True)
