"""``--resume``: which photos an earlier run in the same output folder already explained with the same options.

A photo counts as done when ``<stem>.json`` in the folder holds a record whose photo has the same SHA-256 of
its file's bytes (so a renamed, copied or touched file is still recognised, an edited one is not) and whose
``options`` equal this run's: model, weights (a weights file by its SHA-256), every GA option, seed, requested
target and overlay size. Anything else (no record, another photo, other options, an unreadable record) is
explained again and its files replaced.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Optional

from evojax_lime.cli.images import file_sha256
from evojax_lime.config import ELimeConfig


def options(*, model: str, weights: str, config: ELimeConfig, seed: int, target: Optional[int],
            overlay_side: Optional[int], objective: str = "single", restarts: int = 1) -> dict[str, Any]:
  """What a photo's result depends on besides the photo, as a JSON-ready dict (compared by value)."""
  weights_id: Any = weights
  if weights != "pretrained":
    weights_id = {"file": Path(weights).name, "sha256": file_sha256(Path(weights))}
  data = {"model": model, "weights": weights_id, "config": dataclasses.asdict(config), "seed": seed,
          "target": target, "overlay_longest_side": overlay_side, "objective": objective,
          "restarts": restarts}
  return json.loads(json.dumps(data))  # tuples -> lists: equal to what a record read back holds


def read_record(path: Path) -> Optional[dict[str, Any]]:
  """The JSON object at ``path``, or ``None`` when it is missing, unreadable or not an object."""
  try:
    data = json.loads(path.read_text(encoding="utf-8"))
  except (OSError, ValueError):
    return None
  return data if isinstance(data, dict) else None


def done_record(path: Path, *, sha256: str, run_options: dict[str, Any]) -> Optional[dict[str, Any]]:
  """The record at ``path`` when it is of this photo (by hash) with these options; otherwise ``None``."""
  data = read_record(path)
  if data is None:
    return None
  image = data.get("image")
  if not isinstance(image, dict) or image.get("sha256") != sha256 or data.get("options") != run_options:
    return None
  return data


def latest_run(root: Path) -> Optional[Path]:
  """The newest run folder under ``root`` (their names are timestamps, so the last by name), if any."""
  try:
    # <stamp>, then <stamp>-2, <stamp>-3, ... <stamp>-10 for runs started within one second.
    runs = sorted((p for p in root.iterdir() if p.is_dir() and p.name[:1].isdigit()),
                  key=lambda p: (p.name[:15], len(p.name), p.name))
  except OSError:
    return None
  return runs[-1] if runs else None
