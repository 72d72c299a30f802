"""A search's state on disk: what it belongs to, then the state; both checked before a search resumes it.

The file is a header line, the length and JSON of the search's identity (engine version, the classifier's
function and a digest of its weights, strategy, options, seeds, hashes of the images and their options, rates),
then the state as msgpack. A file is read only if it
is a regular file of plausible size, and the header and identity are read and checked before the state.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import struct
import tempfile
from typing import Any

import jax
import numpy as np
from flax import serialization

from evojax_lime.engine.seeds import recorded
from evojax_lime.versions import __version__

FORMAT = b"evojax-lime search state v2\n"
_MAX_IDENTITY = 1 << 20


def _digest(array: Any) -> Any:
  return None if array is None else hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _jsonable(value: Any) -> Any:
  return json.loads(json.dumps(value, default=str))


def identity(search: Any, *, classifier: dict) -> dict:
  """What ``search``'s state belongs to (JSON-ready), ``classifier`` the identity of its classifier (see
  :func:`evojax_lime.evaluation.classifier.classifier_identity`)."""
  rates = jax.device_get(search.params)
  return _jsonable({
      "engine": __version__, "classifier": classifier, "strategy": repr(search.strategy), "config": dataclasses.asdict(search.config),
      "restarts": search.restarts, "logits": search.logits, "length": search.length,
      "chunk_size": search.chunk_size, "seeds": [recorded(s) for s in search.seeds],
      "images": [_digest(p.image) for p in search.prepared], "targets": [p.target for p in search.prepared],
      "labels": [_digest(p.labels) for p in search.prepared],
      "baselines": [_digest(p.baseline) for p in search.prepared],
      "params": {f.name: np.asarray(getattr(rates, f.name)).tolist() for f in dataclasses.fields(rates)}})


def save(path: Any, ident: dict, state: Any) -> None:
  """Writes ``state`` with its identity to ``path`` atomically (a temporary file, then a rename)."""
  head = json.dumps(ident, sort_keys=True).encode()
  data = FORMAT + struct.pack("<Q", len(head)) + head + serialization.to_bytes(state)
  folder = os.path.dirname(os.fspath(path)) or "."
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".evojax-lime-state-")
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def _differences(saved: Any, ours: dict) -> list[str]:
  if not isinstance(saved, dict):
    return ["everything"]
  return sorted(k for k in set(ours) | set(saved) if saved.get(k) != ours.get(k))


def load(path: Any, ident: dict, template: Any, *, schedule: Any, num_classes: int) -> Any:
  """The state in ``path``, if it belongs to the search whose identity is ``ident``; raises ``ValueError``."""
  name = repr(os.fspath(path))
  expected = len(serialization.to_bytes(jax.device_get(template)))
  try:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
  except OSError as err:
    raise ValueError(f"cannot read {name}: {err.strerror}") from None
  if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder, FIFO or device: never read (it may block forever)
    os.close(fd)
    raise ValueError(f"{name} is not a regular file")
  with os.fdopen(fd, "rb") as f:
    info = os.fstat(f.fileno())
    if info.st_size > len(FORMAT) + 8 + _MAX_IDENTITY + 2 * expected + 4096:
      raise ValueError(f"{name} is too large ({info.st_size} bytes) to be this search's state")
    if f.read(len(FORMAT)) != FORMAT:
      raise ValueError(f"{name} is not an evojax-lime search state")
    size = f.read(8)
    length = struct.unpack("<Q", size)[0] if len(size) == 8 else _MAX_IDENTITY + 1
    if length > _MAX_IDENTITY:
      raise ValueError(f"{name} is a damaged search state: bad identity length")
    try:
      saved = json.loads(f.read(length))
    except (ValueError, UnicodeDecodeError):
      raise ValueError(f"{name} is a damaged search state: unreadable identity") from None
    differs = _differences(saved, ident)
    if "classifier" in differs and isinstance(saved, dict) and isinstance(saved.get("classifier"), dict):
      theirs, ours = saved["classifier"], ident["classifier"]
      what = "weights" if theirs.get("function") == ours.get("function") else "function"
      raise ValueError(f"{name} was saved by a search of another classifier (its {what} differ: "
                       f"{theirs.get('function')!s:.80} vs {ours.get('function')!s:.80})")
    if differs:
      raise ValueError(f"{name} holds the state of another search (differs in {', '.join(differs[:4])})")
    data = f.read()
  try:
    raw = serialization.msgpack_restore(data)
  except Exception as err:  # msgpack raises many types for damaged files
    raise ValueError(f"{name} is a damaged search state: {type(err).__name__}") from None
  try:
    state = serialization.from_state_dict(jax.device_get(template), raw)
  except Exception:  # readable, but not this layout: fields added or removed since it was saved
    raise ValueError(f"{name} holds a state of another search (its structure differs: saved by another version "
                     "of the engine?)") from None
  _check(state, template, name, schedule=schedule, num_classes=num_classes)
  return jax.tree_util.tree_map(jax.numpy.asarray, state)


def _check(state: Any, template: Any, name: str, *, schedule: Any, num_classes: int) -> None:
  """Shapes and dtypes as the template's, and every counter and index in range."""
  paths = jax.tree_util.tree_flatten_with_path(state)[0]
  ours = jax.tree_util.tree_leaves(jax.device_get(template))
  if len(paths) != len(ours):
    raise ValueError(f"{name} holds a state of another search (its structure differs)")
  wrong = [jax.tree_util.keystr(where) for (where, a), b in zip(paths, ours)
           if not isinstance(a, (np.ndarray, np.generic)) or np.shape(a) != np.shape(b) or np.asarray(a).dtype != np.asarray(b).dtype]
  if wrong:
    raise ValueError(f"{name} holds a state of another search (differs in {', '.join(wrong[:3])})")
  steps, generation = int(state.steps), np.asarray(state.strategy.generation)
  problem, length = state.problem, state.importance.shape[-1]
  bad = [what for what, ok in (
      ("steps", 0 <= steps <= schedule.steps),
      ("generation", bool(((generation >= 0) & (generation <= min(steps, schedule.generations + 1))).all())),
      ("target", bool(((problem.target >= 0) & (problem.target < num_classes)).all())),
      ("num_genes", bool(((problem.num_genes >= 0) & (problem.num_genes <= length)).all())),
      ("stall", bool(((state.stall >= 0) & (state.stall <= generation)).all())),
      ("images", bool(np.array_equal(problem.image, np.asarray(template.problem.image)))))
      if not ok]
  if bad:
    raise ValueError(f"{name} is a damaged search state: {', '.join(bad)} out of range")
