"""JAX's persistent compilation cache, so a second process does not compile the same program again.

The stored search programs (:mod:`evojax_lime.engine.program_store`) live in the same folder and follow the same
switch: where JAX's cache is off, so are they.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator, Optional

import jax
from jax.experimental.compilation_cache import compilation_cache as jax_cache

from evojax_lime import files

# JAX's settings a run changes, restored when it ends: a caller's own cache is theirs.
_SETTINGS = ("jax_compilation_cache_dir", "jax_enable_compilation_cache", "jax_persistent_cache_min_compile_time_secs",
             "jax_persistent_cache_min_entry_size_bytes")


def enable_compilation_cache(directory: str | os.PathLike) -> None:
  """Stores compiled programs under ``directory`` and reuses them in later processes.

  Every program is cached, however fast it compiled: E-LIME programs are compiled once per image size and
  reused many times.

  Raises:
    TypeError: ``directory`` is not a path (JAX's settings are left as they were: there is no "turn it off" here).
  """
  if not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
    raise TypeError(f"directory must be the path of a folder, got {directory!r}")
  os.makedirs(directory, exist_ok=True)
  _apply({"jax_compilation_cache_dir": os.fspath(directory), "jax_enable_compilation_cache": True,
          "jax_persistent_cache_min_compile_time_secs": 0.0, "jax_persistent_cache_min_entry_size_bytes": 0})


def _settings() -> dict:
  return {name: getattr(jax.config, name) for name in _SETTINGS}


def _apply(settings: dict) -> None:
  """JAX's cache ``settings``, in force from the next compile: JAX reads them once, at its first compile (an
  import may compile, and ``JAX_COMPILATION_CACHE_DIR`` is read then), so its cache is reset to read them again."""
  for name, value in settings.items():
    jax.config.update(name, value)
  jax_cache.reset_cache()


def default_cache_dir() -> Path:
  """Where the command line keeps compiled programs: ``$XDG_CACHE_HOME/evojax-lime``, or ``~/.cache/evojax-lime``
  when ``XDG_CACHE_HOME`` is unset, empty or relative (the XDG base directory spec: a relative path is invalid
  and ignored)."""
  base = os.environ.get("XDG_CACHE_HOME", "")
  if not os.path.isabs(base):
    base = os.path.join(os.path.expanduser("~"), ".cache")
  return Path(base) / "evojax-lime"


@contextlib.contextmanager
def run_cache(directory: Optional[str | os.PathLike]) -> Iterator[Optional[str]]:
  """JAX's persistent cache in ``directory`` for the block, or off when ``directory`` is ``None`` (JAX's cache
  and the stored programs alike, even where ``JAX_COMPILATION_CACHE_DIR`` is set); JAX's settings as they were
  afterwards.

  Yields:
    ``None``, or a one-line reason why ``directory`` cannot be used (the block then runs with the cache off).
  """
  before = _settings()
  try:
    note = None if directory is None else try_compilation_cache(directory)
    if directory is None or note is not None:
      _apply({"jax_enable_compilation_cache": False})
    yield note
  finally:
    _apply(before)


def try_compilation_cache(directory: str | os.PathLike) -> Optional[str]:
  """Enables the cache in ``directory`` if it is a folder this process can write; otherwise says why not and
  leaves JAX's settings as they were.

  Returns:
    ``None`` when enabled, else a one-line reason.
  """
  before = _settings()
  try:
    blocker = _not_a_folder(directory)
    if blocker:
      return f"compiled programs are not cached: {blocker}"
    enable_compilation_cache(directory)
    # A folder that exists but cannot be written to would only fail later, entry by entry: probe it now.
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
      pass
  except OSError as err:
    _apply(before)
    return f"compiled programs are not cached: {directory}: {err.strerror or err}"
  return None


def _not_a_folder(directory: str | os.PathLike) -> Optional[str]:
  """Says so, in words, when the nearest existing one of ``directory`` and its parents is not a folder."""
  path = Path(os.path.abspath(directory))
  for candidate in (path, *path.parents):
    if os.path.lexists(candidate):
      mode = os.stat(candidate).st_mode  # a dangling link raises: reported as the OSError it is
      return None if stat.S_ISDIR(mode) else f"{candidate} is {files.kind(mode)}, not a folder"
  return None
