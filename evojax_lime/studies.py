"""Studies: images x seeds x GA settings run as one compiled program, returned as a tidy table.

Each (image, seed, setting) is one row of a :class:`~evojax_lime.engine.search.Search`, with its own seed and its own
traced rates (:class:`~evojax_lime.config.GAParams`), so a whole study of one image size is one program and
one compile. Images of different sizes are grouped by size: one search (one program) per size.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from evojax_lime import metrics
from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.evaluation.fitness import Classifier
from evojax_lime.engine.preparation import per_image
from evojax_lime.engine.search import Progress, Search
from evojax_lime.engine.seeds import prng_key, recorded

RATES = ("init_prob", "crossover_rate", "mutation_rate", "parsimony")
COLUMNS = ("image", "seed", "setting", *RATES, "target", "original_probability", "explanation_probability", "kept",
           "K", "selected", "evaluations", "seconds", "evolve_seconds")
_FLOATS = {"init_prob", "crossover_rate", "mutation_rate", "parsimony", "original_probability",
           "explanation_probability", "seconds", "evolve_seconds"}
_INTS = {"setting", "target", "kept", "K", "evaluations"}


def _scalar(value: Any) -> Any:
  return value.item() if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0) \
      else value


def setting_rates(setting: Any, config: ELimeConfig, index: int = 0) -> dict[str, Any]:
  """One setting (a dict of :data:`RATES`, or a :class:`GAParams` of scalars) over ``config``'s rates, checked.

  ``mutation_rate`` ``None`` (a GAParams: ``mutation_flips=1``) means 1 / K.
  """
  if isinstance(setting, GAParams):
    values = {f: np.asarray(getattr(setting, f)) for f in RATES}
    if any(v.shape != () for v in values.values()):
      raise ValueError(f"settings[{index}]: a GAParams setting must hold scalars")
    rates = {f: float(str(np.float32(v))) for f, v in values.items()}  # 0.2, not float32's 0.20000000298...
    flips = float(setting.mutation_flips)
    if flips not in (0.0, 1.0) or (flips and rates["mutation_rate"]):
      raise ValueError(f"settings[{index}]: a GAParams setting mutates at a rate (mutation_flips=0) or at 1 / K "
                       f"(mutation_rate=0, mutation_flips=1), got mutation_rate={rates['mutation_rate']}, "
                       f"mutation_flips={flips}")
    rates["mutation_rate"] = None if flips else rates["mutation_rate"]
  elif isinstance(setting, Mapping):
    unknown = sorted(str(k) for k in setting if k not in RATES)
    if unknown:
      raise ValueError(f"settings[{index}]: unknown field(s) {', '.join(unknown)}; a setting may set "
                       f"{', '.join(RATES)}")
    rates = {f: getattr(config, f) for f in RATES}
    rates.update({k: _scalar(v) for k, v in setting.items()})
  else:
    raise ValueError(f"settings[{index}] must be a dict of {', '.join(RATES)} or a GAParams, "
                     f"got {type(setting).__name__}")
  try:
    checked = dataclasses.replace(config, **rates)
  except ValueError as err:
    raise ValueError(f"settings[{index}]: {err}") from None
  return {f: None if getattr(checked, f) is None else float(getattr(checked, f)) for f in RATES}


def _float(text: str) -> Optional[float]:
  return None if text == "" else float(text)


@dataclasses.dataclass(frozen=True)
class StudyTable:
  """One row per (image, seed, setting), in that order (images, then seeds, then settings).

  Row fields (:data:`COLUMNS`): ``image`` (name), ``seed`` (integer, or a key's data as a list), ``setting``
  (index into the settings) and its rates, ``target``, ``original_probability``, ``explanation_probability``,
  ``kept``, ``K``, ``selected`` (kept superpixel ids, space-separated), ``evaluations``, ``seconds`` (the wall
  time of the row's search, superpixels and compile included, divided by its number of rows) and
  ``evolve_seconds`` (its evolution time, likewise divided).

  ``meta`` holds the config and, per search (one per image size), its rows, chunk size, compile, evolution and
  wall seconds.
  """

  rows: tuple[dict, ...]
  meta: dict = dataclasses.field(default_factory=dict)

  def __len__(self) -> int:
    return len(self.rows)

  def column(self, name: str) -> list:
    """One column's values, in row order."""
    if name not in COLUMNS:
      raise ValueError(f"unknown column {name!r}; columns: {', '.join(COLUMNS)}")
    return [r[name] for r in self.rows]

  def summary(self) -> list[dict]:
    """Per (image, setting): runs, mean and std of the original and the explanation probability, superpixels
    kept, stability (mean pairwise Jaccard of the seeds' selected sets; with 2+ seeds) and mean seconds."""
    out = []
    for key in dict.fromkeys((r["image"], r["setting"]) for r in self.rows):
      group = [r for r in self.rows if (r["image"], r["setting"]) == key]
      col = lambda f: np.asarray([r[f] for r in group], np.float64)
      s = {"image": key[0], "setting": key[1], **{f: group[0][f] for f in RATES}, "runs": len(group),
           "target": group[0]["target"],
           "p_original": col("original_probability").mean(), "p_original_std": col("original_probability").std(),
           "p_explanation": col("explanation_probability").mean(),
           "p_explanation_std": col("explanation_probability").std(),
           "raised": float((col("explanation_probability") > col("original_probability")).mean()),
           # the margin beside "raised": a raise of 0.003 counts as raised, and the mean says how much
           "margin": float((col("explanation_probability") - col("original_probability")).mean()),
           "compact": float((2 * col("kept") <= col("K")).mean()),
           "kept": col("kept").mean(), "kept_std": col("kept").std(), "K": col("K").mean(),
           "seconds": col("seconds").mean()}
      if len(group) > 1 and len({r["K"] for r in group}) == 1:
        selections = np.zeros((len(group), group[0]["K"]), bool)
        for i, r in enumerate(group):
          selections[i, [int(x) for x in r["selected"].split()]] = True
        s["stability"] = metrics.stability(selections)
      out.append({k: float(v) if isinstance(v, np.floating) else v for k, v in s.items()})
    return out

  def to_csv(self, path: str | os.PathLike) -> None:
    """Writes the rows as CSV with a header of :data:`COLUMNS` (``mutation_rate`` 1 / K as an empty cell)."""
    with open(path, "w", newline="") as f:
      writer = csv.writer(f)
      writer.writerow(COLUMNS)
      for r in self.rows:
        writer.writerow(["" if r[c] is None else json.dumps(r[c]) if isinstance(r[c], list) else repr(r[c])
                         if isinstance(r[c], float) else r[c] for c in COLUMNS])

  def to_json(self, path: str | os.PathLike) -> None:
    """Writes ``{"columns", "rows", "meta"}`` as JSON."""
    with open(path, "w") as f:
      json.dump({"columns": list(COLUMNS), "rows": list(self.rows), "meta": self.meta}, f, indent=1)

  @classmethod
  def from_csv(cls, path: str | os.PathLike) -> "StudyTable":
    """Reads a table :meth:`to_csv` wrote (``meta`` is not in a CSV)."""
    with open(path, newline="") as f:
      lines = list(csv.reader(f))
    if not lines or tuple(lines[0]) != COLUMNS:
      raise ValueError(f"{os.fspath(path)!r} is not a study table CSV (expected the header {','.join(COLUMNS)})")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
      if len(line) != len(COLUMNS):
        raise ValueError(f"{os.fspath(path)!r} line {n}: expected {len(COLUMNS)} fields, got {len(line)}")
      try:
        rows.append(_parsed(dict(zip(COLUMNS, line))))
      except ValueError as err:
        raise ValueError(f"{os.fspath(path)!r} line {n}: {err}") from None
    return cls(rows=tuple(rows))

  @classmethod
  def from_json(cls, path: str | os.PathLike) -> "StudyTable":
    """Reads a table :meth:`to_json` wrote."""
    try:
      with open(path) as f:
        data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
      raise ValueError(f"{os.fspath(path)!r} is not JSON: {type(err).__name__}") from None
    if not isinstance(data, dict) or data.get("columns") != list(COLUMNS) or not isinstance(data.get("rows"), list) \
        or not all(isinstance(r, dict) and set(r) == set(COLUMNS) for r in data["rows"]):
      raise ValueError(f"{os.fspath(path)!r} is not a study table JSON (columns {', '.join(COLUMNS)})")
    return cls(rows=tuple(data["rows"]), meta=data.get("meta") or {})


def _parsed(cells: dict[str, str]) -> dict:
  row: dict[str, Any] = {}
  for c, text in cells.items():
    if c in _FLOATS:
      row[c] = _float(text)
    elif c in _INTS:
      row[c] = int(text)
    elif c == "seed":
      row[c] = json.loads(text)
    else:
      row[c] = text
  return row


def study(images: Sequence[Any], classifier: Classifier, *, seeds: Sequence[Any], settings: Any = None,
          config: ELimeConfig = ELimeConfig(), names: Optional[Sequence[str]] = None, targets: Any = None,
          segments: Any = None, logits: bool = False, baselines: Any = None,
          progress: Optional[Progress] = None) -> StudyTable:
  """Explains every image with every seed and every setting, one search per image size.

  Args:
    images: N images (sizes may differ: each size is its own search).
    classifier: as for :func:`evojax_lime.explain`.
    seeds: S seeds (integers or ``jax.random`` keys); every image runs each of them.
    settings: T settings: dicts of :data:`RATES` (missing fields: ``config``'s) or :class:`GAParams` of
      scalars; ``None`` is one setting, ``config``'s rates. Settings share the program (rates are traced).
    config: the options every row shares (population, generations, superpixels, fill, ...).
    names: one name per image for the table (default ``"0"``, ``"1"``, ...).
    targets: ``None`` (each image's top-1), one class for all, or one per image.
    segments: ``None`` (cut once per image on the host, or in the program for ``slic_jax``) or one label map
      per image.
    logits: the classifier returns logits.
    baselines: ``None`` or one baseline image per image.
    progress: as for :func:`evojax_lime.explain`, per search.

  Returns:
    A :class:`StudyTable` of N x S x T rows; each row equals ``explain(image, seed=seed, config=config with
    the setting's rates)``.

  Raises:
    ValueError: bad images, seeds, settings or names, each with one line saying what was expected.
  """
  images = list(images)
  n = len(images)
  if n == 0:
    raise ValueError("study needs at least one image")
  seeds = _checked_seeds(seeds)
  rates = _checked_settings(settings, config)
  params = [dataclasses.replace(config, **r).ga_params() for r in rates]
  names = [str(i) for i in range(n)] if names is None else [str(x) for x in names]
  if len(names) != n or len(set(names)) != n:
    raise ValueError(f"names must be {n} distinct names, one per image")
  per_row = dict(zip(("targets", "segments", "baselines"), (per_image(v, n, name) for v, name in
                     ((targets, "targets"), (segments, "segments"), (baselines, "baselines")))))
  groups: dict[tuple, list[int]] = {}
  for i, img in enumerate(images):  # checked and converted once, by the search of its size
    groups.setdefault(np.shape(img)[:2], []).append(i)
  rows: dict[tuple, dict] = {}
  searches = []
  for shape, members in groups.items():
    keys = [(i, s, j) for i in members for s in range(len(seeds)) for j in range(len(rates))]
    found, searched = _search_of_size(keys, images, classifier, seeds=seeds, rates=rates, params=params,
                                      config=config, names=names, logits=logits, progress=progress, **per_row)
    rows.update(found)
    searches.append({"size": list(shape), **searched})
  ordered = tuple(rows[k] for k in sorted(rows))
  return StudyTable(rows=ordered, meta={"config": _jsonable(dataclasses.asdict(config)), "searches": searches})


def _checked_seeds(seeds: Any) -> list:
  if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or len(seeds) == 0:
    raise ValueError(f"seeds must be a non-empty sequence of integer seeds or keys, got {seeds!r}")
  seeds = list(seeds)
  for s in seeds:
    prng_key(s)
  return seeds


def _checked_settings(settings: Any, config: ELimeConfig) -> list[dict]:
  """Each setting's rates (``config``'s where it leaves one out)."""
  if isinstance(settings, (GAParams, Mapping)):
    raise ValueError("settings must be a list of settings (dicts or GAParams), not a single one")
  settings = [{}] if settings is None else list(settings)
  if not settings:
    raise ValueError("settings must hold at least one setting (or be None for the config's rates)")
  return [setting_rates(s, config, i) for i, s in enumerate(settings)]


def _search_of_size(keys: list[tuple[int, int, int]], images: list, classifier: Classifier, *, seeds: list,
                    rates: list[dict], params: list[GAParams], config: ELimeConfig, names: list[str],
                    targets: list, segments: list, baselines: list, logits: bool,
                    progress: Optional[Progress]) -> tuple[dict, dict]:
  """The table rows of ``keys`` (image, seed, setting) of one image size, searched together, and the search's
  record (rows, chunk, seconds)."""
  t0 = time.perf_counter()
  search = Search([images[i] for i, _, _ in keys], classifier, targets=[targets[i] for i, _, _ in keys],
                  segments=[segments[i] for i, _, _ in keys], config=config,
                  seeds=[seeds[s] for _, s, _ in keys], logits=logits, baselines=[baselines[i] for i, _, _ in keys],
                  params=[params[j] for _, _, j in keys])
  exps = search.advance(progress=progress).explanations()
  wall = time.perf_counter() - t0
  rows = {}
  for (i, s, j), e in zip(keys, exps):
    rows[(i, s, j)] = {
        "image": names[i], "seed": recorded(seeds[s]), "setting": j, **rates[j], "target": e.target,
        "original_probability": e.original_probability, "explanation_probability": e.explanation_probability,
        "kept": int(e.genome.sum()), "K": e.num_segments, "selected": " ".join(map(str, e.selected.tolist())),
        "evaluations": e.num_evaluations, "seconds": wall / len(keys),
        "evolve_seconds": search.evolve_time / len(keys)}
  return rows, {"rows": len(keys), "chunk_size": search.chunk_size, "compile_seconds": search.compile_time,
                "evolve_seconds": search.evolve_time, "wall_seconds": wall}


def _jsonable(value: Any) -> Any:
  if isinstance(value, dict):
    return {k: _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  return value if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float)
                                                                            and math.isfinite(value)) else str(value)
