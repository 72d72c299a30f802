"""Loads weights files one after another in this process under a memory cap, reporting each outcome as JSON.

Run as ``python _reader_harness.py MANIFEST OUT`` (``PYTHONPATH`` at the repository root). ``MANIFEST`` holds
``honest`` (zip and legacy checkpoints reloaded and compared after every case), ``cases`` (files to load,
each with a loader) and ``fuzz`` (valid files to mutate byte by byte). Address space is capped at 1 GiB above
what the imports took, and each load at :data:`_CASE_SECONDS`, so a bomb or a hang shows up as an error
outcome here instead of taking the test machine down. ``OUT`` receives one JSON object per case and per fuzz
file.
"""
from __future__ import annotations

import json
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

import jax.numpy as jnp
import ml_dtypes
import numpy as np

import models
from models import _serialization, torch_reader

_CAP = 1 << 30
_CASE_SECONDS = 30


class _Hang(Exception):
  pass


def _alarm(*_):
  raise _Hang(f"still running after {_CASE_SECONDS} s")


def _status(field: str) -> int:
  """A ``/proc/self/status`` field in bytes."""
  for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith(field + ":"):
      return int(line.split()[1]) * 1024
  return 0


def _reset_peak() -> bool:
  try:
    Path("/proc/self/clear_refs").write_text("5")  # Resets VmHWM to the current resident size.
    return True
  except OSError:
    return False


_LOADERS = {
    "pickle": torch_reader.read_torch_pickle,
    "state_dict": torch_reader.load_torch_checkpoint,
    "msgpack": _serialization.load_variables,
}


def _load(loader: str, path: str):
  if loader.startswith("create:"):
    return models.create(loader[len("create:"):], path)
  return _LOADERS[loader](path)


def _arrays(obj, out: list, prefix: str = "") -> list:
  """``(name, array)`` for every array in nested containers."""
  if isinstance(obj, np.ndarray):
    out.append((prefix, obj))
  elif isinstance(obj, dict):
    for k, v in obj.items():
      _arrays(v, out, f"{prefix}/{k}")
  elif isinstance(obj, (list, tuple)):
    for i, v in enumerate(obj):
      _arrays(v, out, f"{prefix}/{i}")
  return out


def _touch(obj) -> None:
  """Reads every array (an out-of-bounds layout would fault here): copies in full, views at their two ends,
  which bound every address they reach (strides are non-negative)."""
  for _, a in _arrays(obj, []):
    if not a.size:
      continue
    if a.flags.owndata:
      a.reshape(-1).view(np.uint8).sum()
    else:
      a[(0,) * a.ndim].tobytes(), a[tuple(n - 1 for n in a.shape)].tobytes()


def _attempt(loader: str, path: str) -> dict:
  """Loads ``path``; the outcome with its time and peak memory (bytes above the resident size before)."""
  before, measured = _status("VmRSS"), _reset_peak()
  start = time.perf_counter()
  signal.alarm(_CASE_SECONDS)
  result: dict = {}
  try:
    obj = _load(loader, path)
    signal.alarm(0)
    _touch(obj)
    arrays = _arrays(obj if not isinstance(obj, models.Model) else {}, [])
    result = {"status": "loaded", "arrays": [[n, list(a.shape), bool(a.flags.writeable), bool(a.flags.owndata)]
                                             for n, a in arrays[:20]], "n_arrays": len(arrays),
              "distinct": len({id(a) for _, a in arrays})}
  except BaseException as err:  # pylint: disable=broad-except
    signal.alarm(0)
    result = {"status": "refused" if isinstance(err, models.CheckpointError) else "escaped",
              "type": type(err).__name__, "message": str(err)}
  result["seconds"] = time.perf_counter() - start
  result["peak_bytes"] = _status("VmHWM") - before if measured else None
  return result


def _same(got: dict, want: dict) -> bool:
  return list(got) == list(want) and all(
      g.dtype == w.dtype and g.shape == w.shape and g.tobytes() == w.tobytes() for g, w in zip(got.values(),
                                                                                               want.values()))


def _invariants() -> list:
  """Process-wide objects a crafted file must not be able to change."""
  return [(str(np.dtype(t)), np.dtype(t).itemsize, np.dtype(t).byteorder, np.dtype(t).flags)
          for t in (np.float32, np.float16, np.int64, ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn,
                    ml_dtypes.float8_e5m2, np.uint16, np.uint8)]


def _fuzz(spec: dict, tmp: Path) -> dict:
  """Every single-byte mutation of ``spec["path"]`` (plus random multi-byte ones and truncations) must either be
  refused with a CheckpointError or load correctly (see :func:`_correct`)."""
  data = Path(spec["path"]).read_bytes()
  fmt, loader = spec["format"], ("msgpack" if spec["format"] == "msgpack" else "state_dict")
  want = _flat(_load(loader, spec["path"]))
  rng = np.random.default_rng(spec["seed"])
  mutants = []
  for i, x in enumerate(rng.integers(1, 256, len(data))):
    mutants.append(([i], data[:i] + bytes([data[i] ^ int(x)]) + data[i + 1:]))
  for _ in range(spec["random"]):
    where = sorted(rng.choice(len(data), 3, replace=False).tolist())
    mutant = bytearray(data)
    for i in where:
      mutant[i] = int(rng.integers(0, 256))
    mutants.append((where, bytes(mutant)))
  truncations = sorted(set(rng.integers(0, len(data), 40).tolist()))
  path = tmp / f"mutant.{'msgpack' if fmt == 'msgpack' else 'pt'}"
  counts = {"refused": 0, "loaded": 0, "truncations_refused": 0}
  failures = []
  for where, mutant in mutants + [(None, data[:n]) for n in truncations]:
    path.write_bytes(mutant)
    outcome = _attempt(loader, str(path))
    if outcome["status"] == "refused":
      counts["refused"] += 1
      counts["truncations_refused"] += where is None
      continue
    if outcome["status"] == "loaded" and where is not None:
      why = _correct(_flat(_load(loader, str(path))), want, where, spec)
      if why is None:
        counts["loaded"] += 1
        continue
      outcome = {"status": "wrong", "why": why}
    failures.append({"where": where, **outcome})
  return {"fuzz": fmt, "mutants": len(mutants) + len(truncations), **counts, "failures": failures[:10],
          "n_failures": len(failures)}


def _flat(obj) -> dict:
  return {name: a for name, a in _arrays(obj, [])}


def _correct(got: dict, want: dict, where: list, spec: dict):
  """Why a mutant's load is wrong, or None.

  zip members carry CRC-32s, so a zip mutant that loads must load exactly the original. The legacy and msgpack
  formats have no checksums: a byte changed inside a tensor's data may change that tensor's values only, and a
  byte changed elsewhere (names, sizes) may give any well-formed result, which ``_touch`` has read in full.
  """
  if spec["format"] == "zip":
    return None if _same(got, want) else "a changed zip loaded different tensors"
  regions = {name: range(*r) for name, r in spec["regions"].items()}
  hit = {name for name, r in regions.items() if any(i in r for i in where)}
  if not hit or any(not any(i in r for r in regions.values()) for i in where):
    return None
  if list(got) != list(want):
    return "a change inside tensor data changed the keys"
  for name in want:
    g, w = got[name], want[name]
    if g.dtype != w.dtype or g.shape != w.shape:
      return f"a change inside tensor data changed {name}'s layout"
    if name not in hit and g.tobytes() != w.tobytes():
      return f"a change inside other tensors' data changed {name}"
  return None


def main(manifest_path: str, out_path: str) -> None:
  manifest = json.loads(Path(manifest_path).read_text())
  jnp.zeros(1).block_until_ready()  # Start the backend (threads, allocator) before the cap.
  resource.setrlimit(resource.RLIMIT_AS, (_status("VmSize") + _CAP, resource.RLIM_INFINITY))
  signal.signal(signal.SIGALRM, _alarm)
  honest = {fmt: torch_reader.load_torch_checkpoint(p) for fmt, p in manifest.get("honest", {}).items()}
  invariants = _invariants()
  with open(out_path, "w") as out, tempfile.TemporaryDirectory() as tmp:
    for case in manifest.get("cases", []):
      outcome = _attempt(case["loader"], case["path"])
      outcome["honest_unchanged"] = all(_same(torch_reader.load_torch_checkpoint(p), honest[fmt])
                                        for fmt, p in manifest["honest"].items()) and _invariants() == invariants
      out.write(json.dumps({"name": case["name"], **outcome}) + "\n")
      out.flush()
    for spec in manifest.get("fuzz", []):
      out.write(json.dumps(_fuzz(spec, Path(tmp))) + "\n")
      out.flush()


if __name__ == "__main__":
  main(*sys.argv[1:])
