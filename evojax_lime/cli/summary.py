"""The run's summary table, one row per photo, as ``summary.csv`` and ``summary.json``."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Sequence

from evojax_lime.cli.report import Outcome
from evojax_lime.scores import LEGEND

# The scores (see evojax_lime.scores.LEGEND for what each means and which way is better) sit after the numbers of
# the answer; stability keeps its own column.
SCORES = tuple(name for name in LEGEND if name != "stability")
COLUMNS = ("name", "class", "class_id", "p_before", "p_after", "kept", "superpixels", *SCORES, "stability",
           "seconds", "resumed", "error")


def _value(value: Any) -> Any:
  return None if isinstance(value, float) and not math.isfinite(value) else value


def rows(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
  """One dict per photo over :data:`COLUMNS`; a failed photo has its error and ``None`` for every number."""
  out = []
  for o in outcomes:
    if o.error is not None:
      out.append({**dict.fromkeys(COLUMNS), "name": o.name, "resumed": False, "error": o.error})
      continue
    scores = o.detail.get("scores", {})
    out.append({"name": o.name, "class": o.class_name, "class_id": o.class_id, "p_before": _value(o.original),
                "p_after": _value(o.explanation), "kept": o.kept, "superpixels": o.superpixels,
                **{name: scores.get(name) for name in SCORES},
                "stability": o.stability if isinstance(o.stability, (int, float)) else None,
                "seconds": _value(o.seconds), "resumed": o.resumed, "error": None})
  return out


# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...), +cmd, @SUM, a tab or CR
# before them): text that comes from outside (a file name, a class name, an error) is made plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
  """``value`` as a CSV cell: ``""`` for a missing value, a string that a spreadsheet would run as a formula
  prefixed with ``'`` (which spreadsheets show as text); numbers as they are."""
  if value is None:
    return ""
  if isinstance(value, str) and value.startswith(_FORMULA_START):
    return "'" + value
  return value


def save_csv(outcomes: Sequence[Outcome], path: Path) -> None:
  """``summary.csv``: a header of :data:`COLUMNS`, then one row per photo (empty cells for missing values, text
  that would be a formula neutralised: see :func:`cell`)."""
  # A file name that is not UTF-8 keeps its odd bytes as visible escapes: the file stays valid UTF-8.
  with open(path, "w", newline="", encoding="utf-8", errors="backslashreplace") as f:
    writer = csv.DictWriter(f, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows(outcomes):
      writer.writerow({k: cell(v) for k, v in row.items()})


def save_json(outcomes: Sequence[Outcome], path: Path) -> None:
  """``summary.json``: ``{"photos": [row, ...]}`` with ``null`` for missing values."""
  path.write_text(json.dumps({"photos": rows(outcomes)}, indent=2, allow_nan=False) + "\n", encoding="utf-8")
