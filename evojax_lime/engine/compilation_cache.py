"""JAX's persistent compilation cache, so a second process does not compile the same program again."""
from __future__ import annotations

import os

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
