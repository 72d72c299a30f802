"""The ``evojax-lime`` command line.

Modules: :mod:`~evojax_lime.cli.args` (options), :mod:`~evojax_lime.cli.images` (reading photos),
:mod:`~evojax_lime.cli.model` (classifier and target), :mod:`~evojax_lime.cli.pipeline` (one photo end to end),
:mod:`~evojax_lime.cli.record` (what is written; pictures are drawn by :mod:`evojax_lime.render`),
:mod:`~evojax_lime.cli.outputs` (atomic writes), :mod:`~evojax_lime.cli.progress` and
:mod:`~evojax_lime.cli.report` (what a person sees while and after it runs).
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

from evojax_lime.cli.errors import FAILURE, CliError, print_error

_INTERRUPTED = 130  # the shell's status for a run stopped with Ctrl-C


def _dispatch(argv: Optional[Sequence[str]]) -> int:
  from evojax_lime.cli.args import build_parser

  parser = build_parser()
  args = parser.parse_args(argv)
  if not hasattr(args, "command"):
    parser.print_help()
    return 0
  if args.command == "models":
    from evojax_lime.cli.models_command import run
  else:
    from evojax_lime.cli.explain_command import run
  return run(args)


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Entry point of the ``evojax-lime`` console script; returns the exit status.

  Every failure becomes one ``evojax-lime: error: ...`` line on stderr: 2 for a wrong command line, 1 for a
  failure while running. Set ``EVOJAX_LIME_DEBUG=1`` to get the traceback of an unexpected error instead.
  """
  try:
    return _dispatch(argv)
  except CliError as err:
    print_error(str(err))
    return err.code
  except KeyboardInterrupt:
    print("\nevojax-lime: interrupted", file=sys.stderr)
    return _INTERRUPTED
  except Exception as err:  # a bug, not a bad input: still one line unless asked for the traceback
    if os.environ.get("EVOJAX_LIME_DEBUG"):
      raise
    print_error(str(CliError(f"unexpected {type(err).__name__}: {err} (EVOJAX_LIME_DEBUG=1 shows the traceback)")))
    return FAILURE
