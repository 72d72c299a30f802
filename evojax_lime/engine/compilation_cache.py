"""JAX's persistent compilation cache, so a second process does not compile the same program again."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

import jax


def enable_compilation_cache(directory: str | os.PathLike) -> None:
  """Stores compiled programs under ``directory`` and reuses them in later processes.

  Every program is cached, however fast it compiled: E-LIME programs are compiled once per image size and
  reused many times.
  """
  os.makedirs(directory, exist_ok=True)
  jax.config.update("jax_compilation_cache_dir", os.fspath(directory))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def default_cache_dir() -> Path:
  """Where the command line keeps compiled programs: ``$XDG_CACHE_HOME/evojax-lime`` (``~/.cache`` by default)."""
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return Path(base) / "evojax-lime"


def try_compilation_cache(directory: str | os.PathLike) -> Optional[str]:
  """Enables the cache in ``directory`` if it is a folder this process can write; otherwise says why not.

  Returns:
    ``None`` when enabled, else a one-line reason (the run then compiles as if there were no cache).
  """
  try:
    enable_compilation_cache(directory)
    # A folder that exists but cannot be written to would only fail later, entry by entry: probe it now.
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
      pass
  except OSError as err:
    jax.config.update("jax_compilation_cache_dir", None)
    return f"compiled programs are not cached: {directory}: {err.strerror or err}"
  return None
