"""What every benchmark records beside its numbers: the machine, the versions, and a markdown table."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

import jax

from evojax_lime.versions import PACKAGES, package_versions

_PACKAGES = (*PACKAGES, "torch", "torchvision", "lime", "captum")


def commit() -> str:
  """The checkout's commit, with "+changes" when its tracked files differ from it; "not recorded" outside git."""
  root = Path(__file__).resolve().parents[1]
  try:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                          check=True, timeout=10).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True,
                           text=True, check=True, timeout=10).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return "not recorded"
  return head + ("+changes" if dirty else "")


def machine() -> dict[str, Any]:
  """Hardware and software the numbers were measured on, and the code's commit."""
  versions = {k: v for k, v in package_versions(_PACKAGES).items() if v is not None}
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
  except OSError:
    pass
  return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
          "devices": [str(d) for d in jax.devices()], "device_kind": jax.devices()[0].device_kind,
          "backend": jax.default_backend(), "versions": versions,
          "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "commit": commit()}


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
  """Rows as a markdown table over ``columns`` (floats to 4 significant digits)."""
  fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
  lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
  return "\n".join(lines) + "\n"


def write(out_dir: str | os.PathLike, name: str, payload: dict[str, Any], table: str, title: str) -> Path:
  """Writes ``<name>.json`` (payload + machine) and ``<name>.md`` (title, machine line, table)."""
  out = Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  info = machine()
  (out / f"{name}.json").write_text(json.dumps({"machine": info, **payload}, indent=2, default=str))
  header = f"# {title}\n\nMachine: {info['device_kind']} ({info['backend']}), CPU {info['cpu']} x{info['cpu_count']}, " \
           f"jax {info['versions'].get('jax', '?')}, {info['date']}, commit {info['commit']}\n\n"
  (out / f"{name}.md").write_text(header + table)
  return out / f"{name}.json"
