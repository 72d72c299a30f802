"""Opening files the run did not make (photos, records of earlier runs) without trusting what they are.

A path may name a FIFO (reading it waits forever for a writer), a device (``/dev/zero`` never ends), a folder,
or a regular file far larger than anything the run writes. Each is opened without blocking and checked, by
what was actually opened, before a byte is read.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO, Optional

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class UnusableFile(OSError):
  """A path that is not a regular file, or is larger than the caller reads; ``str()`` says which, in words."""


def kind(mode: int) -> str:
  """What a ``st_mode`` is, in words (``"a regular file"``, ``"a named pipe (FIFO)"``, ...)."""
  if stat.S_ISREG(mode):
    return "a regular file"
  return next((text for test, text in _KINDS if test(mode)), "not a regular file")


def open_regular(path: Path, *, limit: Optional[int] = None, follow: bool = True) -> BinaryIO:
  """``path`` opened for reading in binary, once it is known to be a regular file of at most ``limit`` bytes.

  Args:
    path: the file.
    limit: most bytes accepted; ``None`` for any size.
    follow: whether a symbolic link is followed (``False``: a link is refused).

  Raises:
    UnusableFile: not a regular file, or larger than ``limit``.
    OSError: it cannot be opened.
  """
  flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
  try:
    fd = os.open(path, flags)
  except OSError as err:
    if not follow and os.path.islink(path):
      raise UnusableFile("is a symbolic link") from None
    raise err
  try:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
      raise UnusableFile(f"is {kind(info.st_mode)}, not a regular file")
    if limit is not None and info.st_size > limit:
      raise UnusableFile(f"is {info.st_size} bytes, more than the {limit} accepted")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")
  except BaseException:
    os.close(fd)
    raise


def read_regular(path: Path, *, limit: int, follow: bool = True) -> bytes:
  """The bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`); a file that grew past
  ``limit`` since it was opened is refused too."""
  with open_regular(path, limit=limit, follow=follow) as f:
    data = f.read(limit + 1)
  if len(data) > limit:
    raise UnusableFile(f"is more than the {limit} bytes accepted")
  return data
