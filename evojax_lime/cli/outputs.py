"""The output folder: names for each photo's files and the run's, and writing one image's files so that they
appear all together or not at all.

Nothing the person owns is replaced. The folder keeps a list of the names this tool wrote there
(:data:`MANIFEST`, one JSON string a line, appended as files are written); an existing file under any other name,
or one that is an input photo, is never written over: the photo's outputs get another name instead. So a run
with ``--out`` set to the photos' own folder leaves the person's ``cat_overlay.png`` alone, and a resumed run
replaces only its own earlier files.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

from evojax_lime import files
from evojax_lime.cli.errors import CliError, print_note, shown

DEFAULT_ROOT = Path("evojax-lime-out")
# Not ".evojax-lime-*", the staging folders' prefix; no photo's file can have this name (theirs end in .png, .json).
MANIFEST = ".evojax-lime.files"
MANIFEST_LIMIT = 64 << 20  # bytes: about 600 000 names; a larger list is not one this tool wrote
# Every file a photo may have, by suffix of its stem; no suffix ends with another, so distinct stems never
# share a file name.
PHOTO_SUFFIXES = ("_overlay.png", "_explanation.png", "_fitness.png", ".json", "_front.png", "_strip.png",
                  "_sizes.png")
# The run's own files, by stem and suffix; a photo may not take the summary's stem (summary.png -> summary.json).
RUN_FILES = {"csv": ("summary", ".csv"), "json": ("summary", ".json"), "html": ("index", ".html")}
# File names are at most 255 bytes on most file systems: a longer stem is cut and made unique with a hash,
# leaving room for "-<n>" and the longest suffix.
MAX_STEM_BYTES = 200


def short_stem(base: str) -> str:
  """``base`` if its file-name bytes fit :data:`MAX_STEM_BYTES`; else its start and a hash of all of it."""
  raw = os.fsencode(base)
  if len(raw) <= MAX_STEM_BYTES:
    return base
  digest = hashlib.sha256(raw).hexdigest()[:12]
  kept, size = [], 0
  for char in base:  # whole characters: a cut UTF-8 sequence would make a name that is not text
    size += len(os.fsencode(char))
    if size > MAX_STEM_BYTES - len(digest) - 1:
      break
    kept.append(char)
  return "".join(kept) + "~" + digest


def _read_manifest(path: Path) -> set[str]:
  """The names :data:`MANIFEST` lists; none when it is missing or is not a plain file of this tool's."""
  try:
    text = files.read_regular(path, limit=MANIFEST_LIMIT, follow=False).decode("utf-8", "replace")
  except OSError:
    return set()
  names = set()
  for line in text.splitlines():
    try:
      name = json.loads(line)
    except ValueError:  # a line cut short by a crash: that one file is simply not claimed
      continue
    if isinstance(name, str) and name and "/" not in name and name not in (".", ".."):
      names.add(name)
  return names

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
    self._stems: set[str] = set()  # casefolded: on a case-insensitive disk Cat and cat are one name
    self._owned: set[str] = set()  # names this tool wrote here, in this run or an earlier one
    self._inputs: set[tuple[int, int]] = set()  # (device, inode) of every input photo
    self._lock = threading.Lock()  # files are written on a writer thread, the run's own on the main one
    self._manifest_failed = False

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
      raise CliError(f"cannot write to output folder {shown(self.path)}: {err.strerror or err}") from None
    self._owned = _read_manifest(self.path / MANIFEST)
    return self

  def __exit__(self, *exc) -> None:
    self._remove_created()

  def _remove_created(self) -> None:
    for folder in self._created:
      try:
        folder.rmdir()  # only succeeds while empty, which is the point
      except OSError:
        break

  def protect(self, inputs: Iterable[Path]) -> None:
    """Never writes over these files (the photos), whatever their names in this folder."""
    for path in inputs:
      try:
        info = os.stat(path)
      except OSError:
        continue
      self._inputs.add((info.st_dev, info.st_ino))

  def is_own_output(self, path: Path) -> bool:
    """Whether ``path`` is a file this tool wrote into this folder (a folder scan must not take it as a photo)."""
    if path.name not in self._owned:
      return False
    try:
      return os.path.samefile(path.parent, self.path)
    except OSError:
      return False

  def _conflict(self, name: str) -> Optional[str]:
    """Why the file ``name`` may not be written, as ``"<name> <reason>"``; ``None`` when nothing is there, or a
    plain file this tool wrote (and not an input photo)."""
    path = self.path / name
    try:
      info = os.lstat(path)
    except FileNotFoundError:
      return None
    except OSError as err:
      return f"{shown(path)} cannot be examined ({err.strerror or err})"
    if (info.st_dev, info.st_ino) in self._inputs:
      return f"{shown(path)} is a photo of this run"
    if name not in self._owned:
      return f"{shown(path)} exists and was not written by evojax-lime"
    if not stat.S_ISREG(info.st_mode):
      return f"{shown(path)} is {'a symbolic link' if stat.S_ISLNK(info.st_mode) else files.kind(info.st_mode)}"
    return None

  def _free(self, name: str) -> bool:
    return self._conflict(name) is None

  def _blocker(self, stem: str, suffixes: Iterable[str]) -> Optional[str]:
    """``""`` when another photo of this run has ``stem``, else the first conflict of its files, if any."""
    if stem.casefold() in self._stems:
      return ""
    return next(filter(None, (self._conflict(stem + s) for s in suffixes)), None)

  def run_files(self) -> dict[str, str]:
    """Names of the run's summary files (``csv``, ``json``, ``html``): ``summary.csv``, ``summary.json`` and
    ``index.html``, or ``summary-2.csv`` ... where a file of the person's has one of those names."""
    n = 1
    while True:
      tag = "" if n == 1 else f"-{n}"
      names = {kind: f"{stem}{tag}{suffix}" for kind, (stem, suffix) in RUN_FILES.items()}
      if all(self._free(name) for name in names.values()):
        break
      n += 1
    self._stems.update({"summary", f"summary{tag}".casefold()})
    return names

  def stem(self, path: Path) -> tuple[str, Optional[str]]:
    """A file-name stem for ``path``'s outputs: its own stem (cut short when too long), or ``cat-2``, ... when
    that one is taken by another photo of this run, or one of its files would replace a file this tool did not
    write or an input photo.

    Returns:
      ``(stem, blocker)``: ``blocker`` says which file made it avoid its own stem and why, else ``None``.
    """
    base = short_stem(path.stem or "image")
    stem, n, blocker = base, 1, None
    while (found := self._blocker(stem, PHOTO_SUFFIXES)) is not None:
      if n == 1 and found:
        blocker = found
      n += 1
      stem = f"{base}-{n}"
    self._stems.add(stem.casefold())
    return stem, blocker

  def _claim(self, names: Iterable[str]) -> None:
    """Adds ``names`` to :data:`MANIFEST` (opened without following a link, and only if a plain file)."""
    new = [n for n in names if n not in self._owned]
    self._owned.update(new)
    if not new or self._manifest_failed:
      return
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
      fd = os.open(self.path / MANIFEST, flags, 0o644)
      try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
          raise files.UnusableFile("is not a regular file")
        os.write(fd, "".join(json.dumps(n) + "\n" for n in new).encode("utf-8", "surrogateescape"))
      finally:
        os.close(fd)
    except OSError as err:
      self._manifest_failed = True
      print_note(f"cannot list the files written in {shown(self.path / MANIFEST)} ({err.strerror or err}); "
                 f"a later --resume will not recognise them and will write beside them")

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
      with self._lock:
        # Names were chosen to be free; checked again here, just before, since the folder is not ours alone.
        taken = list(filter(None, map(self._conflict, writers)))
        if taken:
          raise CliError(f"{taken[0]}; not replacing it")
        for name in writers:
          os.replace(staging / name, self.path / name)
          moved.append(self.path / name)
        self._claim(writers)
      return moved
    except Exception as err:
      for path in moved:
        path.unlink(missing_ok=True)
      if isinstance(err, OSError):
        raise CliError(f"cannot write outputs to {shown(self.path)}: {err.strerror or err}") from None
      raise
    finally:
      shutil.rmtree(staging, ignore_errors=True)
