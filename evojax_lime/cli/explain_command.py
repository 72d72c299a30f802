"""``evojax-lime explain``: options checked first, photos already done skipped, the rest explained in batches, then
the run's summary (CSV, JSON) and its HTML report."""
from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Optional

from evojax_lime.config import ELimeConfig
from evojax_lime.engine.compilation_cache import default_cache_dir, run_cache
from evojax_lime.cli import batching, html_report, images, notes, report, resume, summary
from evojax_lime.cli.args import check_objective, config_from_args, score_options
from evojax_lime.cli.errors import FAILURE, CliError, print_error, print_note, shown, usage_error
from evojax_lime.cli.model import load_model, randomised_models, resolve_target
from evojax_lime.cli.outputs import DEFAULT_ROOT, OutputFolder
from evojax_lime.cli.pipeline import OVERLAY_LONGEST_SIDE, BatchExplainer, Photo, run_batches
from evojax_lime.cli.progress import photos_bar, status


def _out_dir(args: argparse.Namespace) -> Optional[str]:
  """``--out``, or with ``--resume`` alone the newest run folder (a fresh one when there is none)."""
  if args.out or not args.resume:
    return args.out
  latest = resume.latest_run(DEFAULT_ROOT)
  return str(latest) if latest else None


def _photos(paths, out: OutputFolder, origin: Optional[str]) -> tuple[list[Photo], list[report.Outcome]]:
  """Each path as a :class:`Photo` (stems in command-line order), or an outcome saying why it cannot be read."""
  photos, failed = [], []
  for path in paths:
    label = path.name if origin else str(path)  # as typed: two folders may hold photos of the same name
    try:
      sha256 = images.file_sha256(path)
    except OSError as err:
      failed.append(report.Outcome(name=label, error=f"{shown(path)}: cannot read: {err.strerror or err}"))
      continue
    stem, blocker = out.stem(path)
    if blocker:
      print_note(f"{shown(label)}: its files are named {shown(stem)}_*: {blocker}")
    photos.append(Photo(path, label, stem, origin or str(path), sha256))
  return photos, failed


def _show(outcome: report.Outcome, bar) -> None:
  if bar is not None:
    bar.clear()
  if outcome.error is None:
    print(report.line(outcome), flush=True)
  else:
    print_error(outcome.error)


def run(args: argparse.Namespace) -> int:
  """Runs the command; returns the exit status. Raises :class:`CliError` for a problem that stops everything.

  Library warnings become notes (:mod:`~evojax_lime.cli.notes`) for the whole run.
  """
  with notes.warnings_as_notes():
    return _run(args)


@contextlib.contextmanager
def _caches(args: argparse.Namespace) -> Iterator[None]:
  """The run's caches: compiled programs in ``--cache-dir`` (default :func:`default_cache_dir`); with
  ``--no-cache`` none that outlives the run, JAX's (even where ``JAX_COMPILATION_CACHE_DIR`` is set) and
  matplotlib's font cache included. Everything changed is as it was afterwards."""
  if args.no_cache and args.cache_dir:
    raise usage_error("--no-cache and --cache-dir contradict each other: give one of them")
  with contextlib.ExitStack() as stack:
    note = stack.enter_context(run_cache(None if args.no_cache else args.cache_dir or default_cache_dir()))
    if note:
      print_note(note)
    if args.no_cache:
      # matplotlib keeps its font cache in MPLCONFIGDIR (else under $XDG_CACHE_HOME): a folder the run removes.
      # MPLCONFIGDIR is also where it reads the person's matplotlibrc, which MATPLOTLIBRC keeps in use.
      home = os.path.expanduser("~")
      config = os.environ.get("MPLCONFIGDIR") or os.path.join(
          os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "matplotlib")
      scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="evojax-lime-matplotlib-"))
      stack.enter_context(_environment(MPLCONFIGDIR=scratch, MATPLOTLIBRC=os.environ.get("MATPLOTLIBRC", config)))
    yield


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
  """Environment variables set for the block, as they were afterwards."""
  before = {name: os.environ.get(name) for name in values}
  os.environ.update(values)
  try:
    yield
  finally:
    for name, value in before.items():
      if value is None:
        os.environ.pop(name, None)
      else:
        os.environ[name] = value


def _run(args: argparse.Namespace) -> int:
  config = config_from_args(args)
  check_objective(args, config)
  with _caches(args):
    return _explain_all(args, config)


def _explain_all(args: argparse.Namespace, config: ELimeConfig) -> int:
  """Every photo named on the command line explained and written (the caches already set up)."""
  inputs = images.collect(args.images)
  for arg, reason in inputs.errors:
    print_error(f"{shown(arg)}: {reason}")
  if args.images and not inputs.paths:
    return FAILURE
  overlay_side = None if args.full_resolution else OVERLAY_LONGEST_SIDE

  with tempfile.TemporaryDirectory(prefix="evojax-lime-") as scratch, OutputFolder(_out_dir(args)) as out:
    paths, origin = _inputs(inputs.paths, out, Path(scratch))
    run_files = out.run_files()  # before the photos' stems: summary.png may not take summary.json
    status(f"loading {args.model} ({shown(args.weights)}) ...", quiet=args.quiet)
    explainer = _explainer(args, config, overlay_side)
    photos, failed = _photos(paths, out, origin)
    outcomes, todo = _resumed(photos, out, explainer.options) if args.resume else ([None] * len(photos),
                                                                                   list(range(len(photos))))
    for outcome in failed:
      _show(outcome, None)
    status("", quiet=args.quiet)
    for i, outcome in zip(todo, _explain(explainer, [photos[i] for i in todo], out, args, overlay_side)):
      outcomes[i] = outcome

    ordered = [report.Outcome(name=arg, error=reason) for arg, reason in inputs.errors] + failed + \
        [o for o in outcomes if o is not None]
    if len(ordered) > 1:
      print("\n" + report.table(ordered))
    if any(o.error is None for o in ordered):
      _write_summary(ordered, out, run_files, args, config)
  return FAILURE if any(o.error for o in ordered) else 0


def _inputs(named: tuple[Path, ...], out: OutputFolder, scratch: Path) -> tuple[tuple[Path, ...], Optional[str]]:
  """The photos to explain (the bundled photo, written to ``scratch``, when none was named), protected from being
  written over, and what records name as their source when it is not their path."""
  # A folder that is also --out holds this tool's earlier outputs: they are not photos to explain.
  paths = tuple(p for p in named if not out.is_own_output(p))
  if named and not paths:
    raise CliError(f"no photos to explain: every image named is a file evojax-lime wrote in {shown(out.path)}")
  origin = None if named else images.BUNDLED_ORIGIN
  paths = paths or (images.bundled_photo(scratch),)
  out.protect(paths)
  return paths, origin


def _explainer(args: argparse.Namespace, config: ELimeConfig, overlay_side: Optional[int]) -> BatchExplainer:
  """The model loaded, with every option a photo's result depends on."""
  model = load_model(args.model, args.weights, dtype=args.dtype)
  target = resolve_target(args.target, model.class_names)
  randomised = None if args.sanity is None else randomised_models(model, layers=args.sanity, seed=args.seed)
  options = resume.options(model=args.model, weights=args.weights, config=config, seed=args.seed, target=target,
                           overlay_side=overlay_side, objective=args.objective, restarts=args.restarts,
                           scores=score_options(args), strategy=args.strategy)
  return BatchExplainer(model=model, weights=args.weights, config=config, target=target, seed=args.seed,
                        options=options, objective=args.objective, strategy=args.strategy, restarts=args.restarts,
                        randomised=randomised, robustness=args.robustness)


def _resumed(photos: list[Photo], out: OutputFolder,
             options: dict) -> tuple[list[Optional[report.Outcome]], list[int]]:
  """``(outcomes, todo)``: the outcome of each photo an earlier run in ``out`` explained with these options and
  whose files are all still as it wrote them (shown as it is found; ``None`` for the others), and the indices of
  the photos still to explain."""
  outcomes: list[Optional[report.Outcome]] = [None] * len(photos)
  todo = []
  for i, photo in enumerate(photos):
    done = resume.done_record(out.path / f"{photo.stem}.json", sha256=photo.sha256, run_options=options)
    if done is None or not resume.files_kept(done, photo.stem, own=lambda name: out.is_own_output(out.path / name)):
      todo.append(i)
      continue
    thumb = html_report.thumbnail_of_file(out.path / f"{photo.stem}_overlay.png")
    outcomes[i] = report.from_record(photo.label, done, thumbnail=thumb, resumed=True)
    _show(outcomes[i], None)
  return outcomes, todo


def _explain(explainer: BatchExplainer, photos: list[Photo], out: OutputFolder, args: argparse.Namespace,
             overlay_side: Optional[int]) -> list[report.Outcome]:
  """Explains ``photos`` in batches, with a progress bar; one outcome each, in order."""
  import jax

  config = explainer.config
  batch_size = args.batch_size or batching.auto_batch_size(config.population_size, backend=jax.default_backend())
  bar = photos_bar(len(photos), batches=len(batching.plan(len(photos), batch_size)), generations=config.generations,
                   quiet=args.quiet)
  try:
    return run_batches(explainer, photos, batch_size=batch_size, out=out, overlay_side=overlay_side,
                       on_done=lambda o: _show(o, bar), progress=bar)
  finally:
    if bar is not None:
      bar.close()


def _write_summary(ordered: list[report.Outcome], out: OutputFolder, run_files: dict[str, str],
                   args: argparse.Namespace, config: ELimeConfig) -> None:
  """Writes the run's ``summary.csv``, ``summary.json`` and ``index.html`` (or their names beside a person's files
  of those names, with a note saying so)."""
  subtitle = (f"{args.model} ({args.weights}), population {config.population_size}, generations "
              f"{config.generations}, {config.segmentation} superpixels, fill {config.fill}, seed {args.seed}")
  pictures = html_report.pictures_in(out.path, own=out.is_own_output)  # an earlier record may name any file
  out.write({
      run_files["csv"]: lambda p: summary.save_csv(ordered, p),
      run_files["json"]: lambda p: summary.save_json(ordered, p),
      run_files["html"]: lambda p: html_report.save(ordered, p, title=f"evojax-lime: {len(ordered)} photos",
                                                    subtitle=subtitle, pictures=pictures),
  })
  if run_files["csv"] != "summary.csv":
    print_note(f"the run's summary is {', '.join(map(shown, run_files.values()))}: a file of the same name "
               f"as summary.csv, summary.json or index.html is in {shown(out.path)} and was not written by "
               f"evojax-lime")
  print(f"outputs: {shown(out.path)}")
