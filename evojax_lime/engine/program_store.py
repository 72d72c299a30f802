"""Search programs kept across processes, so that a warm start does not trace them again.

JAX's persistent compilation cache skips XLA's compile, but each process still traces and lowers the program
first: with EfficientNet-Lite0 and quickshift on a CPU, 2.9 s of a 3.3 s warm start. Here the program is
exported (``jax.export``, StableHLO, no pickle) into the compilation cache folder under a key that names all
it depends on, and a later process compiles the stored program instead (a lookup in the persistent cache).

Only classifiers whose computation has a name that is the same in every process are stored: a
``jax.tree_util.Partial`` of a module-level function (as ``models.Model.classifier()`` returns), named by that
function, its bound options, the layout of its weights and the source of its package. Any other classifier is
traced as before. A stored file that cannot be read, or that does not fit the call, is a miss. What is read is
kept with the classifier in the engine's one cache (:mod:`evojax_lime.engine.cache`), so a process reads each
file once.
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
import numpy as np

from evojax_lime import files

_FOLDER = "evojax-lime-programs"
_MAGIC = b"evojax-lime program 1\n"
_HEADER = struct.Struct("<I")  # length of the JSON that follows the magic
# A search program exports to well under a megabyte; a file this large is not one.
MAX_FILE_BYTES = 256 << 20


@dataclasses.dataclass(frozen=True)
class StoredProgram:
  """A program read back: the chunk it was built for, its classifier's classes, the exported program."""

  chunk_size: int
  num_classes: int
  exported: Any


def store_folder() -> Optional[Path]:
  """Where programs are stored: a folder in JAX's compilation cache folder, or ``None`` when none is set."""
  directory = jax.config.jax_compilation_cache_dir
  return Path(directory) / _FOLDER if directory else None


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


def classifier_name(classifier: Any) -> Optional[str]:
  """What ``classifier`` computes, as text that is the same in every process, or ``None`` when it has none.

  A ``jax.tree_util.Partial`` of a module-level function of an installed package qualifies: the function's
  module, name and package source, the options bound to it (``functools.partial`` layers, whose text must not
  hold memory addresses) and the layout of the weights it carries.
  """
  if not isinstance(classifier, jax.tree_util.Partial):
    return None
  fn = getattr(classifier.func, "fun", classifier.func)  # JAX wraps the function in a hashable shim
  bound = []
  while isinstance(fn, functools.partial):
    bound.append(repr((fn.args, sorted(fn.keywords.items()))))
    fn = fn.func
  module, name = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
  if not module or module == "__main__" or "<" in name:
    return None
  source = _source_digest(module.split(".")[0])
  layout = str(jax.tree_util.tree_structure((classifier.args, classifier.keywords)))
  text = json.dumps([module, name, source, bound, layout])
  return None if source is None or " at 0x" in text else text


def store_key(*, classifier: str, program: str, shapes: Any, chunk: Any) -> Optional[str]:
  """The file name of a stored program: a digest of everything the program depends on (``None`` when this
  package's own source cannot be read).

  Args:
    classifier: :func:`classifier_name`.
    program: the program's options as text (with the chunk size as requested, not as resolved).
    shapes: shapes and dtypes of the program's arguments.
    chunk: what decides the chunk size: the size asked for, or the device memory it is computed from.
  """
  device = jax.local_devices()[0]
  source = _source_digest("evojax_lime")
  parts = [classifier, program, repr(shapes), repr(chunk), jax.__version__, _package_version("jaxlib"),
           _package_version("flax"), np.__version__, source, device.platform, getattr(device, "device_kind", "")]
  return None if source is None else hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _package_version(name: str) -> str:
  module = sys.modules.get(name)
  return str(getattr(module, "__version__", ""))


def load(key: str, arguments: list, *, rows: int) -> Optional[StoredProgram]:
  """The program stored under ``key`` if it can be read and takes ``arguments`` (flat list); else ``None``.

  ``rows`` bounds the chunk size a stored program may name (the rows a step evaluates).
  """
  folder = store_folder()
  if folder is None:
    return None
  try:
    # A regular file of a plausible size only: a named pipe would block, a huge file fill the memory.
    data = files.read_regular(folder / f"{key}.bin", limit=MAX_FILE_BYTES)
    if not data.startswith(_MAGIC):
      return None
    start = len(_MAGIC) + _HEADER.size
    (length,) = _HEADER.unpack_from(data, len(_MAGIC))
    meta = json.loads(data[start:start + length])
    chunk, classes = meta["chunk_size"], meta["num_classes"]
    if not (type(chunk) is int and 1 <= chunk <= rows and type(classes) is int and classes >= 2):
      return None
    exported = jax.export.deserialize(bytearray(data[start + length:]))
  except Exception:  # a missing, damaged or foreign file is a miss, never a failed run
    return None
  platform = jax.export.default_export_platform()  # "cuda" where the device says "gpu"
  wanted = [(tuple(np.shape(x)), np.dtype(jax.dtypes.result_type(x))) for x in arguments]
  given = [(tuple(a.shape), np.dtype(a.dtype)) for a in exported.in_avals]
  if given != wanted or exported.nr_devices != 1 or platform not in exported.platforms:
    return None
  return StoredProgram(chunk_size=chunk, num_classes=classes, exported=exported)


def save(key: str, exported: Any, *, chunk_size: int, num_classes: int) -> None:
  """Stores ``exported`` under ``key`` (written whole, then renamed into place); a folder that cannot be
  written is skipped silently, as JAX's own cache does."""
  folder = store_folder()
  if folder is None:
    return
  meta = json.dumps({"chunk_size": chunk_size, "num_classes": num_classes}).encode()
  try:
    data = _MAGIC + _HEADER.pack(len(meta)) + meta + bytes(exported.serialize())
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
