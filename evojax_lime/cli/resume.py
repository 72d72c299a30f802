"""``--resume``: which photos an earlier run in the same output folder already explained with the same options.

A photo counts as done when ``<stem>.json`` in the folder holds a record whose photo has the same SHA-256 of
its file's bytes (so a renamed, copied or touched file is still recognised, an edited one is not), whose
``options`` equal this run's (model, weights (a weights file by its SHA-256), every GA option, seed, requested
target and overlay size), and whose files, the record and the overlay among them, are all still there as the
tool wrote them (see :func:`files_kept`). Anything else (no record, another photo, other options, an unreadable
record, a picture deleted or changed) is explained again.

A record is read back as untrusted input: only a regular file of at most :data:`RECORD_LIMIT` bytes is read (a
FIFO would block, a huge file would be read whole), and it counts only if every value the run reuses has the
type and range the tool writes (no NaN, no number too large for a float). One that does not is treated as
absent: the photo is explained again.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Callable, Optional

from evojax_lime import files
from evojax_lime.cli.images import file_sha256
from evojax_lime.config import ELimeConfig

# Bytes: a record is tens of kilobytes, a few megabytes with a long run's histories and fronts.
RECORD_LIMIT = 32 << 20


def options(*, model: str, weights: str, config: ELimeConfig, seed: int, target: Optional[int],
            overlay_side: Optional[int], objective: str = "single", restarts: int = 1,
            scores: Optional[dict[str, Any]] = None, strategy: str = "ga") -> dict[str, Any]:
  """What a photo's result depends on besides the photo, as a JSON-ready dict (compared by value)."""
  weights_id: Any = weights
  if weights != "pretrained":
    weights_id = {"file": Path(weights).name, "sha256": file_sha256(Path(weights))}
  data = {"model": model, "weights": weights_id, "config": dataclasses.asdict(config), "seed": seed,
          "target": target, "overlay_longest_side": overlay_side, "objective": objective,
          "restarts": restarts, "scores": scores or {}}
  if strategy != "ga":  # records of the GA, written before there was a choice, stay comparable
    data["strategy"] = strategy
  return json.loads(json.dumps(data))  # tuples -> lists: equal to what a record read back holds


def _no_constants(name: str) -> Any:
  raise ValueError(f"{name} is not a JSON number")


def read_record(path: Path) -> Optional[dict[str, Any]]:
  """The JSON object at ``path``, or ``None`` when it is missing, not a regular file, larger than
  :data:`RECORD_LIMIT`, not strict JSON (``NaN`` and ``Infinity`` are refused) or not an object."""
  try:
    data = json.loads(files.read_regular(path, limit=RECORD_LIMIT).decode("utf-8"), parse_constant=_no_constants)
  except (OSError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; deep nesting recurses
    return None
  return data if isinstance(data, dict) else None


def _number(value: Any, low: float = -math.inf, high: float = math.inf) -> bool:
  """A JSON number (not a bool) that is a finite float in ``[low, high]``."""
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    return False
  try:
    value = float(value)  # a 400-digit integer does not fit
  except OverflowError:
    return False
  return math.isfinite(value) and low <= value <= high


def _count(value: Any) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 31


def valid(data: dict[str, Any]) -> bool:
  """Whether every value a resumed photo's report reads has the type and range the tool writes."""
  target, timings, kept = data.get("target"), data.get("timings"), data.get("kept")
  stability, names = data.get("stability"), data.get("files")
  return (isinstance(target, dict) and _count(target.get("id")) and isinstance(target.get("name"), str)
          and _number(data.get("original_probability"), 0.0, 1.0)
          and _number(data.get("explanation_probability"), 0.0, 1.0)
          and _count(data.get("num_superpixels"))
          and isinstance(kept, list) and len(kept) <= data["num_superpixels"]
          and all(isinstance(k, dict) and _count(k.get("id")) and _number(k.get("importance")) for k in kept)
          and isinstance(timings, dict) and all(isinstance(k, str) and _number(v) for k, v in timings.items())
          and (stability is None or _number(stability) or (isinstance(stability, dict) and all(
              isinstance(k, str) and (v is None or _number(v)) for k, v in stability.items())))
          and isinstance(names, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in names.items()))


def done_record(path: Path, *, sha256: str, run_options: dict[str, Any]) -> Optional[dict[str, Any]]:
  """The record at ``path`` when it is of this photo (by hash) with these options and valid (see
  :func:`valid`); otherwise ``None``."""
  data = read_record(path)
  if data is None:
    return None
  image = data.get("image")
  if not isinstance(image, dict) or image.get("sha256") != sha256 or data.get("options") != run_options:
    return None
  return data if valid(data) else None


def files_kept(data: dict[str, Any], stem: str, *, own: Callable[[str], bool]) -> bool:
  """Whether the files a record lists (``data["files"]``, checked by :func:`valid`) include its own
  ``<stem>.json`` and the overlay ``<stem>_overlay.png``, and every one of them is still ``own`` (a file name in
  the output folder the tool wrote, unchanged since): a photo whose picture was deleted has no overlay and no
  thumbnail to show, so it is explained again."""
  names = data["files"]
  return (names.get("record") == f"{stem}.json" and names.get("overlay") == f"{stem}_overlay.png"
          and all(map(own, names.values())))


def latest_run(root: Path) -> Optional[Path]:
  """The newest run folder under ``root`` (their names are timestamps, so the last by name), if any."""
  try:
    # <stamp>, then <stamp>-2, <stamp>-3, ... <stamp>-10 for runs started within one second.
    runs = sorted((p for p in root.iterdir() if p.is_dir() and p.name[:1].isdigit()),
                  key=lambda p: (p.name[:15], len(p.name), p.name))
  except OSError:
    return None
  return runs[-1] if runs else None
