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


def print_error(message: str) -> None:
  """Writes ``evojax-lime: error: <message>`` to stderr."""
  print(f"evojax-lime: error: {message}", file=sys.stderr, flush=True)


def print_note(message: str) -> None:
  """Writes ``evojax-lime: note: <message>`` to stderr, on one line: something the run worked around."""
  print(f"evojax-lime: note: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def usage_error(message: str) -> CliError:
  """A :class:`CliError` for a wrong command line (exit status 2)."""
  return CliError(message, code=USAGE)
