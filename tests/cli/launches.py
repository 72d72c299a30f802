"""``python -m tests.cli.launches``: many ``evojax-lime`` command lines in one process.

Reads ``[{"args": [...], "cwd": "..."}, ...]`` as JSON on stdin and prints one ``{"returncode", "stdout",
"stderr"}`` per command line as JSON on stdout. Each runs ``evojax_lime.cli.main`` in its own working directory,
as the console script does; an exception that escapes ``main`` is written to its stderr as a traceback, as the
interpreter would. The error tests use it so that twenty refusals pay the JAX import once.
"""
import contextlib
import io
import json
import os
import sys
import traceback

from evojax_lime.cli import main


def _run(args: list, cwd: str) -> dict:
  out, err = io.StringIO(), io.StringIO()
  os.chdir(cwd)
  with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
      code = main(args)
    except SystemExit as exit_:
      code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # pylint: disable=broad-except
      traceback.print_exc()
      code = 1
  return {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


if __name__ == "__main__":
  launches = json.load(sys.stdin)
  json.dump([_run(launch["args"], launch["cwd"]) for launch in launches], sys.__stdout__)
