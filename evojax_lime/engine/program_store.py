"""Search programs kept across processes, so that a warm start does not trace the search again.

JAX's persistent compilation cache skips XLA's compile, but each process still traces and lowers the program
first: with EfficientNet-Lite0 and quickshift on a CPU, 2.9 s of a 3.3 s warm start. Here the program is
exported (``jax.export``, StableHLO, no pickle) into the compilation cache folder, and a later process compiles
the stored program instead (a lookup in the persistent cache).

**The key names what the program computes.** A stored program is right only for the computation it was built
from, so its key is made of that computation, not of the objects that describe it:

- The classifier by its jaxpr for one image, traced as the program calls it (weights as arguments), with the
  bytes of every constant it closes over and of every literal in it, sub-programs included: what JAX's own
  cache keys on (the lowered program and its constants), one step before lowering. A key without any trace (the
  function's name, its bound values, its package's source) cannot be complete: a module-level value the
  function reads, or a helper it calls, changes what it computes and none of those, and the store would answer
  for another model without a word. So the classifier is traced, but only the classifier, once, for one image,
  and kept in the engine's cache: the search around it (the loop, the strategy, the segmentation, the fill) and
  the lowering of it all are what the store skips. The classifier is assumed to score an image the same in any
  batch, as the chunked evaluation already assumes.
- Weights that are arguments (a ``jax.tree_util.Partial`` whose leaves are all arrays) are not in the program,
  only their shapes: other weights of the same layout run the same stored program on their own values, and are
  never digested. Weights that are closed over (a ``functools.partial``, a ``Partial`` with a number among its
  leaves, a closure) are constants of the jaxpr and so part of the key, by their bytes (sha256, about 0.1 s for
  ResNet-50's 100 MB on this project's CPU).
- The rest of the program by its options (:class:`~evojax_lime.engine.program.ProgramKey`, fill and
  segmentation included), the shapes of its arguments, what decides its chunk, the versions of jax, jaxlib,
  flax and numpy, the source of this package and the device.

Only a ``jax.tree_util.Partial`` is stored, as ``models.Model.classifier()`` returns and the command line runs: a
plain function closes over its weights, so its program would hold them (a file the size of the model) and
compile slowly anyway. Nothing is stored for a classifier that cannot be traced alone, whose jaxpr prints a memory address (a
function object in it, different in every process), or whose constants cannot be read as bytes, nor for a
strategy defined outside this package.

**The file** carries its key and a sha256 of all it holds (key, chunk size, number of classes, program). On
load the digest, the key and the number of classes (from the trace) are checked: a file copied under another
key, edited or damaged is a miss, and the program built instead replaces it (written whole, then renamed into
place). What is read is kept with the classifier in the engine's one cache, so a process reads each file once.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore

from evojax_lime import files
from evojax_lime.engine.cache import cached
from evojax_lime.evaluation.chunk_size import total_memory_bytes
from evojax_lime.evaluation.classifier import split_classifier

_FOLDER = "evojax-lime-programs"
_MAGIC = b"evojax-lime program 2\n"
_DIGEST_BYTES = 32  # sha256 of everything after it
_HEADER = struct.Struct("<I")  # length of the JSON that follows
# A search program exports to well under a megabyte; a file this large is not one.
MAX_FILE_BYTES = 256 << 20


@dataclasses.dataclass(frozen=True)
class StoredProgram:
  """A program read back: the chunk it was built for, its classifier's classes, the exported program."""

  chunk_size: int
  num_classes: int
  exported: Any


@dataclasses.dataclass(frozen=True)
class ClassifierDigest:
  """What a classifier computes for one image, as a sha256 (hex), and its number of classes."""

  digest: str
  num_classes: int


def store_folder() -> Optional[Path]:
  """Where programs are stored: a folder in JAX's compilation cache folder, or ``None`` when JAX's cache is off
  or has no folder."""
  directory = jax.config.jax_compilation_cache_dir
  if not directory or not jax.config.jax_enable_compilation_cache:
    return None
  return Path(directory) / _FOLDER


@functools.lru_cache(maxsize=None)
def _source_digest(package: str) -> Optional[str]:
  """sha256 over the ``.py`` files of an imported top-level package (``None`` if it has no source folder)."""
  module = sys.modules.get(package)
  paths = list(getattr(module, "__path__", []))
  if not paths:
    return None
  digest = hashlib.sha256()
  try:
    for root in paths:
      for path in sorted(Path(root).rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
  except OSError:  # unreadable source: nothing to name the program by
    return None
  return digest.hexdigest()


def _add_value(digest: Any, value: Any) -> None:
  """Feeds an array's dtype, shape and bytes to ``digest`` (``TypeError``/``ValueError`` if it has none)."""
  array = np.asarray(value)
  if array.dtype.hasobject:
    raise TypeError("an object array has no bytes to digest")
  digest.update(f"{array.dtype.str}{array.shape}".encode())
  digest.update(memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8)))


def _add_constants(digest: Any, jaxpr: Any) -> None:
  """Feeds the values of ``jaxpr``'s constants and literals, and of every sub-program's, to ``digest``."""
  if isinstance(jaxpr, jcore.ClosedJaxpr):
    for const in jaxpr.consts:
      _add_value(digest, const)
    jaxpr = jaxpr.jaxpr
  for eqn in jaxpr.eqns:
    for var in eqn.invars:
      if isinstance(var, jcore.Literal):
        _add_value(digest, var.val)
    for param in eqn.params.values():
      for sub in param if isinstance(param, (tuple, list)) else (param,):
        if isinstance(sub, (jcore.ClosedJaxpr, jcore.Jaxpr)):
          _add_constants(digest, sub)


def classifier_digest(classifier: Any, *, height: int, width: int, dtype: str) -> Optional[ClassifierDigest]:
  """What ``classifier`` computes for one ``(height, width, 3)`` image of ``dtype``, or ``None`` when it cannot
  be named (see the module's docstring); kept in the engine's cache, so a classifier is traced once per size."""
  return cached(classifier, ("program digest", height, width, dtype),
                lambda: _classifier_digest(classifier, height, width, dtype))


def _classifier_digest(classifier: Any, height: int, width: int, dtype: str) -> Optional[ClassifierDigest]:
  weights, rebuild = split_classifier(classifier)
  try:
    traced = jax.make_jaxpr(lambda w, images: rebuild(w)(images))(
        weights, jax.ShapeDtypeStruct((1, height, width, 3), jnp.dtype(dtype)))
    text = str(traced)
    digest = hashlib.sha256(text.encode())
    _add_constants(digest, traced)
  except Exception:  # no trace, no bytes: the search traces it itself and reports what is wrong
    return None
  shapes = [tuple(aval.shape) for aval in traced.out_avals]
  if " at 0x" in text or len(shapes) != 1 or len(shapes[0]) != 2 or shapes[0][1] < 2:
    return None
  return ClassifierDigest(digest=digest.hexdigest(), num_classes=int(shapes[0][1]))


def find(classifier: Any, requested: Any, *, weights: Any, state: Any, shapes: Any, rows: int,
         image_size: tuple[int, int]) -> tuple[Optional[str], Optional[StoredProgram]]:
  """The key under which a search's program is kept across processes (``None``: not kept) and the program
  when a process before this one stored it.

  Args:
    classifier: the search's classifier.
    requested: the program's :class:`~evojax_lime.engine.program.ProgramKey`, chunk size as asked for.
    weights: the classifier's weights (arguments of the program).
    state: the state the program advances.
    shapes: shapes and dtypes of ``weights`` and ``state``.
    rows: rows a step evaluates (the most a stored chunk size may name).
    image_size: ``(height, width)`` of the images.
  """
  if store_folder() is None or not isinstance(classifier, jax.tree_util.Partial):
    return None, None
  named = classifier_digest(classifier, height=image_size[0], width=image_size[1], dtype=requested.dtype)
  if named is None:
    return None, None
  # The chunk a program was built for is stored with it: an automatic one follows from the device's memory.
  chunk = requested.chunk_size if requested.chunk_size is not None else total_memory_bytes(jax.local_devices()[0])
  key = store_key(classifier=named.digest, program=requested, shapes=shapes, chunk=chunk)
  if key is None:
    return None, None
  arguments = [*jax.tree_util.tree_leaves((weights, state)), np.int32(0)]
  return key, cached(classifier, ("stored program", key),
                     lambda: load(key, arguments, rows=rows, num_classes=named.num_classes))


def store_key(*, classifier: str, program: Any, shapes: Any, chunk: Any) -> Optional[str]:
  """The file name of a stored program: a sha256 of everything the program depends on, or ``None`` when that
  cannot be named (a strategy from outside this package, an address in the options, unreadable source).

  Args:
    classifier: :func:`classifier_digest`'s digest.
    program: the program's :class:`~evojax_lime.engine.program.ProgramKey` (the chunk size as requested).
    shapes: shapes and dtypes of the program's arguments.
    chunk: what decides the chunk size: the size asked for, or the device memory it is computed from.
  """
  options = repr(program)
  if not type(program.strategy).__module__.startswith("evojax_lime.") or " at 0x" in options:
    return None
  device = jax.local_devices()[0]
  source = _source_digest("evojax_lime")
  parts = [classifier, options, repr(shapes), repr(chunk), jax.__version__, _package_version("jaxlib"),
           _package_version("flax"), np.__version__, source, device.platform, getattr(device, "device_kind", "")]
  return None if source is None else hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _package_version(name: str) -> str:
  module = sys.modules.get(name)
  return str(getattr(module, "__version__", ""))


def load(key: str, arguments: list, *, rows: int, num_classes: int) -> Optional[StoredProgram]:
  """The program stored under ``key`` if its file is whole, was written for ``key`` and takes ``arguments``
  (flat list); else ``None``.

  Args:
    key: :func:`store_key`.
    arguments: the program's arguments, flat.
    rows: the most rows a stored chunk size may name (the rows a step evaluates).
    num_classes: the classifier's classes, from its trace.
  """
  folder = store_folder()
  if folder is None:
    return None
  try:
    # A regular file of a plausible size only: a named pipe would block, a huge file fill the memory.
    data = files.read_regular(folder / f"{key}.bin", limit=MAX_FILE_BYTES)
    body = memoryview(data)[len(_MAGIC) + _DIGEST_BYTES:]
    if not data.startswith(_MAGIC) or hashlib.sha256(body).digest() != data[len(_MAGIC):len(_MAGIC) + _DIGEST_BYTES]:
      return None
    (length,) = _HEADER.unpack_from(body)
    meta = json.loads(bytes(body[_HEADER.size:_HEADER.size + length]))
    chunk = meta["chunk_size"]
    if not (meta["key"] == key and meta["num_classes"] == num_classes and type(chunk) is int and 1 <= chunk <= rows):
      return None
    exported = jax.export.deserialize(bytearray(body[_HEADER.size + length:]))
  except Exception:  # a missing, damaged or foreign file is a miss, never a failed run
    return None
  platform = jax.export.default_export_platform()  # "cuda" where the device says "gpu"
  wanted = [(tuple(np.shape(x)), np.dtype(jax.dtypes.result_type(x))) for x in arguments]
  given = [(tuple(a.shape), np.dtype(a.dtype)) for a in exported.in_avals]
  if given != wanted or exported.nr_devices != 1 or platform not in exported.platforms:
    return None
  return StoredProgram(chunk_size=chunk, num_classes=num_classes, exported=exported)


def save(key: str, exported: Any, *, chunk_size: int, num_classes: int) -> None:
  """Stores ``exported`` under ``key`` with its digest (written whole, then renamed into place, replacing a
  file that was a miss); a folder that cannot be written is skipped silently, as JAX's own cache does."""
  folder = store_folder()
  if folder is None:
    return
  meta = json.dumps({"key": key, "chunk_size": chunk_size, "num_classes": num_classes}).encode()
  try:
    body = _HEADER.pack(len(meta)) + meta + bytes(exported.serialize())
    data = _MAGIC + hashlib.sha256(body).digest() + body
    folder.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=folder, prefix=".part-")
  except Exception:  # unwritable folder, no serialiser installed: the next process traces again
    return
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    os.replace(part, folder / f"{key}.bin")
  except OSError:
    if os.path.exists(part):
      os.unlink(part)
