"""What a photo's detail view in ``index.html`` shows, read from its JSON record and validated.

A record read back from disk on ``--resume`` may be damaged or hostile: every field here is checked for its type,
size and range, and a field that fails is left out of the detail (never an exception). Strings are kept as they
are; the page escapes them when it writes them.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from evojax_lime.scores import LEGEND

# Longest curve kept (fitness history, probability by size, faithfulness steps): far more than any run writes
# (RUN_GENOME_LENGTH superpixels, thousands of generations), far less than would make the page heavy.
MAX_POINTS = 20_000
MAX_TEXT = 500  # characters of a class name kept
MAX_SIZES = 32  # entries of best_of_size kept (the tool writes at most 3)
# Files a detail view shows, by record kind: a name this tool writes ends with the suffix.
IMAGE_SUFFIXES = {"overlay": "_overlay.png", "sizes": "_sizes.png", "strip": "_strip.png",
                  "fitness": "_fitness.png", "front": "_front.png"}
MAX_FILE_NAME = 1024  # characters: more than any file system takes


def real(value: Any) -> Optional[float]:
  """``value`` as a finite float, or ``None`` for anything else (``null``, a string, a bool, NaN, 10**400)."""
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    return None
  try:
    number = float(value)
  except OverflowError:
    return None
  return number if math.isfinite(number) else None


def _count(value: Any) -> Optional[int]:
  """``value`` if it is a non-negative int (not a bool), else ``None``."""
  return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def series(value: Any) -> Optional[list[Optional[float]]]:
  """A list of numbers or gaps (``None``): ``None`` unless ``value`` is a list of at most :data:`MAX_POINTS`
  whose entries are each a finite number or ``null``. A point that is no number is a gap, so a damaged entry
  costs only that point."""
  if not isinstance(value, list) or not value or len(value) > MAX_POINTS:
    return None
  return [real(v) for v in value]


def _scores(value: Any) -> dict[str, Optional[float]]:
  """The record's scores by :data:`~evojax_lime.scores.LEGEND` name, in LEGEND order; other names are dropped
  (their label and meaning would be unknown), a value that is no finite number is ``None``."""
  if not isinstance(value, dict):
    return {}
  return {name: real(value[name]) for name in LEGEND if name in value}


def _best_of_size(value: Any) -> list[tuple[int, int, float]]:
  """``[(k, kept, p), ...]`` by ascending k from ``{"3": {"selected": [...], "probability": p}, ...}``."""
  if not isinstance(value, dict) or len(value) > MAX_SIZES:
    return []
  out = []
  for key, entry in value.items():
    if not (isinstance(key, str) and key.isdigit() and len(key) <= 6 and isinstance(entry, dict)):
      continue
    selected, p = entry.get("selected"), real(entry.get("probability"))
    if isinstance(selected, list) and len(selected) <= int(key) and p is not None:
      out.append((int(key), len(selected), p))
  return sorted(out)


def _faithfulness(value: Any, num_superpixels: Optional[int]) -> Optional[dict[str, Any]]:
  """``{"shown", "insertion", "deletion", "num_superpixels"}``, or ``None`` unless the curves are consistent:
  ``shown`` ints in ``[0, K]``, both curves as long."""
  if not isinstance(value, dict):
    return None
  ranking = value.get("ranking")
  k = len(ranking) if isinstance(ranking, list) else num_superpixels
  shown, insertion, deletion = value.get("shown"), series(value.get("insertion")), series(value.get("deletion"))
  if not k or insertion is None or deletion is None or not isinstance(shown, list):
    return None
  if not len(shown) == len(insertion) == len(deletion) or any(_count(s) is None or s > k for s in shown):
    return None
  return {"shown": list(shown), "insertion": insertion, "deletion": deletion, "num_superpixels": k}


def _top5(value: Any) -> list[tuple[int, str, float]]:
  """``[(id, name, p), ...]``: the first five entries that are well formed (names cut to :data:`MAX_TEXT`)."""
  if not isinstance(value, list):
    return []
  out = []
  for entry in value[:5]:
    if not isinstance(entry, dict):
      continue
    class_id, name, p = _count(entry.get("id")), entry.get("name"), real(entry.get("probability"))
    if class_id is not None and isinstance(name, str) and p is not None:
      out.append((class_id, name[:MAX_TEXT], p))
  return out


def plain_file_name(name: Any, suffix: str) -> bool:
  """Whether ``name`` is a file name in the output folder this tool could have written with ``suffix``: no folder
  part, no NUL, not absurdly long. Anything else (``../x_overlay.png``, ``http://...``) is not shown."""
  return (isinstance(name, str) and name.endswith(suffix) and len(name) <= MAX_FILE_NAME
          and not any(c in name for c in "/\\\x00"))


def _files(value: Any) -> dict[str, str]:
  if not isinstance(value, dict):
    return {}
  return {kind: value[kind] for kind, suffix in IMAGE_SUFFIXES.items() if plain_file_name(value.get(kind), suffix)}


def _size_curve(data: dict[str, Any]) -> Optional[list[Optional[float]]]:
  """The best p(target) with exactly k kept, k = 0..K: the record's own, or a Pareto front's."""
  curve = series(data.get("size_probabilities"))
  front = data.get("front")
  if curve is None and isinstance(front, dict):
    curve = series(front.get("best_probability_by_size"))
  return curve if curve is not None and len(curve) >= 2 else None


def from_record(data: dict[str, Any]) -> dict[str, Any]:
  """The detail view's fields from a JSON record: each key present only when its value validated.

  Returns:
    A dict with any of: ``scores`` (name -> float or ``None``), ``size_probabilities`` (list of float or
    ``None``), ``best_of_size`` (``[(k, kept, p)]``), ``fitness`` (``{"best", "mean"}`` lists),
    ``faithfulness`` (see :func:`_faithfulness`), ``top5`` (``[(id, name, p)]``), ``files`` (kind -> name).
  """
  if not isinstance(data, dict):
    return {}
  history = data.get("fitness_history") if isinstance(data.get("fitness_history"), dict) else {}
  fitness = {key: curve for key in ("best", "mean") if (curve := series(history.get(key))) is not None}
  fields = {
      "scores": _scores(data.get("scores")),
      "size_probabilities": _size_curve(data),
      "best_of_size": _best_of_size(data.get("best_of_size")),
      "fitness": fitness,
      "faithfulness": _faithfulness(data.get("faithfulness"), _count(data.get("num_superpixels"))),
      "top5": _top5(data.get("top5")),
      "files": _files(data.get("files")),
  }
  return {key: value for key, value in fields.items() if value}
