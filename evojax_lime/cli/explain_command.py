"""``evojax-lime explain``: options checked first, then each photo explained and written on its own."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from evojax_lime.cache import enable_compilation_cache
from evojax_lime.cli import images, report
from evojax_lime.cli.args import config_from_args
from evojax_lime.cli.errors import FAILURE, CliError, print_error
from evojax_lime.cli.model import load_model, resolve_target
from evojax_lime.cli.outputs import OutputFolder
from evojax_lime.cli.pipeline import Explainer
from evojax_lime.cli.progress import status


def run(args: argparse.Namespace) -> int:
  """Runs the command; returns the exit status. Raises :class:`CliError` for a problem that stops everything."""
  config = config_from_args(args)
  if args.cache_dir:
    try:
      enable_compilation_cache(args.cache_dir)
    except OSError as err:
      raise CliError(f"--cache-dir {args.cache_dir}: {err.strerror or err}") from None
  inputs = images.collect(args.images)
  for arg, reason in inputs.errors:
    print_error(f"{arg}: {reason}")
  if args.images and not inputs.paths:
    return FAILURE

  with tempfile.TemporaryDirectory(prefix="evojax-lime-") as scratch, OutputFolder(args.out) as out:
    paths = inputs.paths or (images.bundled_photo(Path(scratch)),)
    origin = None if inputs.paths else images.BUNDLED_ORIGIN
    status(f"loading {args.model} ({args.weights}) ...", quiet=args.quiet)
    model = load_model(args.model, args.weights, dtype=args.dtype)
    explainer = Explainer(model=model, weights=args.weights, config=config,
                          target=resolve_target(args.target, model.class_names), seed=args.seed, quiet=args.quiet)
    outcomes = [report.Outcome(name=arg, error=reason) for arg, reason in inputs.errors]
    for path in paths:
      status(f"{path.name}: reading and cutting into superpixels ...", quiet=args.quiet)
      try:
        outcome = explainer(path, out, origin=origin)
      except CliError as err:  # this photo failed; the others still get explained
        outcomes.append(report.Outcome(name=str(path), error=str(err)))
        print_error(str(err))
        continue
      finally:
        status("", quiet=args.quiet)
      outcomes.append(outcome)
      print(report.line(outcome), flush=True)
    if len(outcomes) > 1:
      print("\n" + report.table(outcomes))
    if any(o.error is None for o in outcomes):
      print(f"outputs: {out.path}")
  return FAILURE if any(o.error for o in outcomes) else 0
