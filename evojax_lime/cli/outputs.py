"""The output folder: names for each photo's files and the run's, and writing one image's files so that they
appear all together or not at all.

Nothing the person owns is replaced. The folder keeps a list of the files this tool wrote there (:data:`MANIFEST`,
one entry a line, appended as files are written): each file's name, size and SHA-256. A file is the tool's own
only while it is a regular file of exactly that size and digest (the last entry of its name counts). Any other
file (not listed, listed but changed since, a link, an input photo) is the person's and is never written over:
the photo's outputs, or the run's summary, are written beside it under another name (``cat-2_overlay.png``,
``summary-2.csv``), with a note. So a run with ``--out`` set to the photos' own folder leaves the person's
``cat_overlay.png`` alone, ``rm out/*`` followed by files of the person's own leaves those alone, and a resumed run
replaces only its own earlier files, unchanged. An edited list cannot claim a file whose bytes its entry does not
describe exactly.

The list is read as hostile input (see :func:`read_manifest`): every line must be an entry exactly as the tool
writes it, or the run stops with one error before anything is written.

Files are staged in a hidden folder beside the outputs (``.evojax-lime-XXXXXXXX``), which the writing process
holds locked. A run killed while writing (``kill -9``) leaves one behind; a later run removes such a folder only
when it is provably a staging folder of this tool's that no living process holds (see :func:`_stale_staging`).
"""
from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional

from evojax_lime import files
from evojax_lime.cli.errors import CliError, print_note, shown

DEFAULT_ROOT = Path("evojax-lime-out")
# Not ".evojax-lime-*", the staging folders' prefix; no photo's file can have this name (theirs end in .png, .json).
MANIFEST = ".evojax-lime.files"
MANIFEST_LIMIT = 64 << 20  # bytes: about 350 000 entries; a larger list is not one this tool wrote
# One entry as json.dumps writes it (ASCII only): a name is at most 255 bytes, so at most 255 characters or escapes
# and a line under 2,048 bytes.
_LINE_LIMIT = 2048
_ENTRY = re.compile(r'\{"name": ("(?:[^"\\\x00-\x1f\x7f-\uffff]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4}){1,255}"), '
                    r'"size": (0|[1-9][0-9]{0,17}), "sha256": "([0-9a-f]{64})"\}')
STAGING_PREFIX = ".evojax-lime-"
_STAGING = re.compile(re.escape(STAGING_PREFIX) + r"[a-z0-9_]{8}")  # tempfile.mkdtemp's random part
# A staging folder younger than this may be one another run has just made and not yet locked.
STAGING_GRACE_SECONDS = 60
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


Entry = tuple[int, str]  # (size in bytes, hex SHA-256) of a file as this tool wrote it


def _entry_line(name: str, entry: Entry) -> str:
  return json.dumps({"name": name, "size": entry[0], "sha256": entry[1]}) + "\n"


def read_manifest(path: Path) -> dict[str, Entry]:
  """The files :data:`MANIFEST` at ``path`` lists, by name (none when there is no list).

  Read as hostile input: a regular file (not a link) of at most :data:`MANIFEST_LIMIT` bytes, each line matched
  whole against the one form the tool writes before its name is decoded, so no line can make the reader recurse
  or take long.

  Raises:
    CliError: the list is not a regular file, or a line is not an entry as the tool writes it (edited or
      damaged); one line saying what to do.
  """
  advice = "move it away (every file beside it is then treated as yours) or choose another --out"
  try:
    data = files.read_regular(path, limit=MANIFEST_LIMIT, follow=False)
  except FileNotFoundError:
    return {}
  except OSError as err:
    raise CliError(f"{shown(path)}, the list of the files evojax-lime wrote there, cannot be read "
                   f"({err.strerror or err}): {advice}") from None
  lines = data.split(b"\n")
  if lines[-1] == b"":  # the newline that ends the last entry
    lines.pop()
  entries = {}
  for number, line in enumerate(lines, start=1):
    found = _ENTRY.fullmatch(line.decode("ascii", "replace")) if len(line) <= _LINE_LIMIT else None
    name = json.loads(found.group(1)) if found else None
    if not name or "/" in name or "\x00" in name or name in (".", "..", MANIFEST):
      raise CliError(f"{shown(path)}: line {number} is not an entry of the list of the files evojax-lime wrote "
                     f"there (edited or damaged); nothing was written: {advice}")
    entries[name] = (int(found.group(2)), found.group(3))
  return entries


def _digest(path: Path) -> Entry:
  """``(size, SHA-256)`` of a regular file (not through a link)."""
  digest, size = hashlib.sha256(), 0
  with files.open_regular(path, follow=False) as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
      size += len(block)
  return size, digest.hexdigest()


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
    self._owned: dict[str, Entry] = {}  # files this tool wrote here, in this run or an earlier one
    self._unchanged: dict[str, tuple] = {}  # name -> the lstat fields of the file last found unchanged
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
    try:
      self._owned = read_manifest(self.path / MANIFEST)
    except CliError:
      self._remove_created()
      raise
    removed = _remove_stale_staging(self.path)
    if removed:
      print_note(f"removed {removed} staging folder{'s' * (removed > 1)} ({STAGING_PREFIX}*) left in "
                 f"{shown(self.path)} by a run that was killed")
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
    """Whether ``path`` is a file this tool wrote into this folder, unchanged since (a folder scan must not take it
    as a photo; ``--resume`` reuses only such files)."""
    if path.name not in self._owned:
      return False
    try:
      return os.path.samefile(path.parent, self.path) and self._is_unchanged(path.name, os.lstat(path))
    except OSError:
      return False

  def _is_unchanged(self, name: str, info: os.stat_result) -> bool:
    """Whether the listed file ``name`` (``lstat`` as ``info``) is a regular file of its entry's size and digest;
    a file found so is not read again while its inode, size and times stay the same."""
    fields = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    if not stat.S_ISREG(info.st_mode) or info.st_size != self._owned[name][0]:
      return False
    if self._unchanged.get(name) == fields:
      return True
    try:
      same = _digest(self.path / name) == self._owned[name]
    except OSError:
      return False
    if same:
      self._unchanged[name] = fields
    return same

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
    if not self._is_unchanged(name, info):
      return f"{shown(path)} was changed or replaced since evojax-lime wrote it"
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

  def _claim(self, written: Mapping[str, Entry]) -> None:
    """Adds ``written`` to :data:`MANIFEST` (opened without following a link, and only if a plain file)."""
    self._owned.update(written)
    if not written or self._manifest_failed:
      return
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
      fd = os.open(self.path / MANIFEST, flags, 0o644)
      try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
          raise files.UnusableFile("is not a regular file")
        os.write(fd, "".join(_entry_line(n, e) for n, e in written.items()).encode("ascii"))
      finally:
        os.close(fd)
    except OSError as err:
      self._manifest_failed = True
      print_note(f"cannot list the files written in {shown(self.path / MANIFEST)} ({err.strerror or err}); "
                 f"a later run will treat them as yours and write beside them")

  def write(self, writers: Writers) -> list[Path]:
    """Writes all of one image's files, or none of them.

    Every file is first written into a hidden staging folder beside the outputs (same file system, locked while
    in use), then moved into place with ``os.replace`` and listed with its size and digest; any failure removes
    whatever was written or moved.

    Returns:
      The final paths.

    Raises:
      CliError: a file could not be written.
    """
    staging, lock = _staging_folder(self.path)
    moved: list[Path] = []
    try:
      for name, write in writers.items():
        write(staging / name)
      written = {name: _digest(staging / name) for name in writers}
      with self._lock:
        # Names were chosen to be free; checked again here, just before, since the folder is not ours alone.
        taken = list(filter(None, map(self._conflict, writers)))
        if taken:
          raise CliError(f"{taken[0]}; not replacing it")
        for name in writers:
          os.replace(staging / name, self.path / name)
          moved.append(self.path / name)
        self._claim(written)
      return moved
    except Exception as err:
      for path in moved:
        path.unlink(missing_ok=True)
      if isinstance(err, OSError):
        raise CliError(f"cannot write outputs to {shown(self.path)}: {err.strerror or err}") from None
      raise
    finally:
      shutil.rmtree(staging, ignore_errors=True)
      os.close(lock)


def _staging_folder(parent: Path) -> tuple[Path, int]:
  """A new staging folder in ``parent`` and a descriptor holding its lock (released when closed, or when the
  process dies however it dies)."""
  staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent))
  try:
    lock = os.open(staging, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return staging, lock


def _is_output_name(name: str) -> bool:
  """Whether ``name`` is one this tool gives a file: a photo's (``<stem><suffix>``) or the run's."""
  run = (rf"{re.escape(stem)}(-[0-9]+)?{re.escape(suffix)}" for stem, suffix in RUN_FILES.values())
  return name.endswith(PHOTO_SUFFIXES) or any(re.fullmatch(p, name) for p in run)


def _stale_staging(folder: Path, name: str) -> bool:
  """Whether ``folder / name`` is provably a staging folder this tool made and no living process holds: named as
  :func:`_staging_folder` names them, a folder (not a link) of this user's with ``mkdtemp``'s permissions, older
  than :data:`STAGING_GRACE_SECONDS`, holding nothing but regular files named as outputs, and its lock free."""
  path = folder / name
  try:
    info = os.lstat(path)
    if not (_STAGING.fullmatch(name) and stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
            and stat.S_IMODE(info.st_mode) == 0o700 and time.time() - info.st_mtime > STAGING_GRACE_SECONDS):
      return False
    with os.scandir(path) as entries:
      if not all(e.is_file(follow_symlinks=False) and _is_output_name(e.name) for e in entries):
        return False
    lock = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
  except OSError:
    return False
  try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return os.path.samestat(os.fstat(lock), info)
  except OSError:  # held: a run is writing through it
    return False
  finally:
    os.close(lock)


def _remove_stale_staging(folder: Path) -> int:
  """Removes the staging folders of runs that were killed while writing (see :func:`_stale_staging`); returns
  how many."""
  try:
    names = [e.name for e in os.scandir(folder) if e.name.startswith(STAGING_PREFIX)]
  except OSError:
    return 0
  removed = 0
  for name in filter(lambda n: _stale_staging(folder, n), names):
    try:
      shutil.rmtree(folder / name)
      removed += 1
    except OSError:
      pass
  return removed
