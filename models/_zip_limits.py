"""Reads members of an untrusted zip archive with every decompressed byte paid for by the file's own size.

``torch.save`` stores its members uncompressed, so an honest archive decompresses to about its own size. A
crafted one can declare (and deflate to) thousands of times more; here every member is checked against the
central directory before it is opened and the total read is capped at :data:`RATIO` times the file's size
plus :data:`SLACK`. Encrypted members and compression methods other than stored and deflate are refused.
"""
from __future__ import annotations

import zipfile
from typing import BinaryIO

from models._checkpoint_errors import CheckpointLimitError, CorruptCheckpointError, shown

RATIO = 10
SLACK = 1 << 20
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class BoundedZip:
  """A zip archive whose reads are capped by the size of the file that holds it.

  Args:
    file: the open archive file.
    file_size: its size in bytes.
  """

  def __init__(self, file: BinaryIO, file_size: int):
    self._archive = zipfile.ZipFile(file)
    self._file_size = file_size
    self._left = RATIO * file_size + SLACK
    self._infos: dict[str, zipfile.ZipInfo] = {}
    for info in self._archive.infolist():
      if info.filename in self._infos:
        raise CorruptCheckpointError(f"zip member {shown(info.filename)} appears twice")
      if info.flag_bits & 0x1:
        raise CorruptCheckpointError(f"zip member {shown(info.filename)} is encrypted")
      if info.compress_type not in _METHODS:
        raise CorruptCheckpointError(f"zip member {shown(info.filename)} uses unsupported compression method "
                                     f"{info.compress_type}")
      if info.compress_size > file_size or (info.compress_type == zipfile.ZIP_STORED
                                            and info.compress_size != info.file_size):
        raise CorruptCheckpointError(f"zip member {shown(info.filename)} declares sizes the file cannot hold")
      self._infos[info.filename] = info

  def names(self) -> list[str]:
    """Member names in archive order."""
    return list(self._infos)

  def size(self, name: str) -> int:
    """Declared decompressed size of member ``name`` (which must exist)."""
    return self._infos[name].file_size

  def read(self, name: str, *, limit: int) -> bytes:
    """The member's bytes, refusing more than ``limit`` bytes or more than the archive's remaining allowance."""
    size = self._infos[name].file_size
    if size > limit or size > self._left:
      raise CheckpointLimitError(
          f"zip member {shown(name)} decompresses to {size} bytes, more than allowed for a "
          f"{self._file_size}-byte file")
    self._left -= size
    with self._archive.open(self._infos[name]) as member:
      data = member.read(size)  # Reads stop at the declared size however long the compressed stream runs.
    if len(data) != size:
      raise CorruptCheckpointError(f"zip member {shown(name)} is shorter than declared")
    return data

  def close(self) -> None:
    self._archive.close()
