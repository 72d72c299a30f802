"""The one kind of failure the command line reports: a single line on stderr and an exit status."""
from __future__ import annotations

import sys

USAGE = 2  # the command line itself is wrong: an option, a value, a class that does not exist
FAILURE = 1  # the command line was fine but something failed while running it


class CliError(Exception):
  """A problem to report as ``evojax-lime: error: <message>`` with exit status ``code``.

  Attributes:
    code: :data:`USAGE` or :data:`FAILURE`.
  """

  def __init__(self, message: str, *, code: int = FAILURE):
    # Messages from libraries may span lines; the report must stay one line.
    super().__init__(" ".join(str(message).split()))
    self.code = code


def shown(text: object) -> str:
  """``text`` safe to print on a terminal, on one line: every character that is not printable (control
  characters such as ESC, BEL or a newline, format characters such as a right-to-left override) written as its
  escape (``\\x1b``, ``\\n``, ``\\u202e``), and a byte of a file name that is not UTF-8 as ``\\xff``.

  A file name is text to show, never something for the terminal to act on: one named
  ``\\x1b]0;title\\x07.png`` must not retitle the window, one with a newline must not split its result line.
  """
  return "".join(c if c.isprintable() else _escape(c) for c in str(text))


def _escape(char: str) -> str:
  code = ord(char)
  if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's surrogateescape: an undecodable byte of a file name
    return f"\\x{code - 0xDC00:02x}"
  return char.encode("unicode_escape").decode("ascii")


def print_error(message: str) -> None:
  """Writes ``evojax-lime: error: <message>`` to stderr (escaped: see :func:`shown`)."""
  print(f"evojax-lime: error: {shown(message)}", file=sys.stderr, flush=True)


def print_note(message: str) -> None:
  """Writes ``evojax-lime: note: <message>`` to stderr, on one line: something the run worked around (callers
  pass names through :func:`shown`)."""
  print(f"evojax-lime: note: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def usage_error(message: str) -> CliError:
  """A :class:`CliError` for a wrong command line (exit status 2)."""
  return CliError(message, code=USAGE)
