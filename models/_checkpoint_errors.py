"""The one exception family for weights files: every problem with a file is a ``ValueError`` with a one-line message.

``CheckpointError`` is the base; the reader raises ``UnsafeCheckpointError`` for files built to run code or to
exhaust memory or time (``CheckpointLimitError`` when a size or work bound is exceeded),
``CorruptCheckpointError`` for truncated, damaged or foreign files, and the converters raise
``CheckpointMismatchError`` (defined in ``models._convert``) for weights of another architecture.
"""
from __future__ import annotations

from typing import Any

# Longest message kept; a crafted file can hold names of any length.
_MAX_MESSAGE = 1000


def _escape(text: str) -> str:
  # Control, format and separator characters (ESC, newline, bidi overrides) would reach the terminal raw.
  return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(value: Any, limit: int = 80) -> str:
  """``repr`` of an untrusted value, cut to about ``limit`` characters (for error messages)."""
  try:
    text = repr(value) if isinstance(value, (str, bytes, int, float, bool, type(None))) else type(value).__name__
  except ValueError:  # An int too long to print in decimal.
    text = f"<{type(value).__name__}>"
  return text if len(text) <= limit else text[:limit] + "..."


class CheckpointError(ValueError):
  """A weights file cannot be used; the message is one printable line."""

  def __init__(self, message: str):
    message = _escape(" ".join(str(message).split()))
    super().__init__(message if len(message) <= _MAX_MESSAGE else message[:_MAX_MESSAGE] + "...")


class CorruptCheckpointError(CheckpointError):
  """The file is truncated, damaged, or not a checkpoint in a supported format."""


class UnsafeCheckpointError(CheckpointError):
  """A checkpoint's pickle names a global or a construct that is not plain tensor data (it could run code)."""


class CheckpointLimitError(UnsafeCheckpointError):
  """Reading the file would take more memory or work than its size allows (a decompression or pickle bomb)."""
