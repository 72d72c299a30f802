"""Counting the executables XLA hands a test: compiled now, or loaded from the tests' compilation cache.

The suite runs with JAX's persistent compilation cache (``tests/conftest.py``), so a program another test
already compiled is loaded, not compiled: both count, as both mean the engine asked XLA for a program.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import jax

# The duration event JAX records once per executable it hands over: around the compile, or around the load
# from the persistent cache (a hit records it too).
_EVENT = "/backend_compile_duration"


@contextlib.contextmanager
def counted_compiles() -> Iterator[list]:
  """Collects ``(event, seconds)`` for every executable XLA hands over inside the block."""
  events = []
  listener = lambda name, secs, **kw: events.append((name, secs)) if name.endswith(_EVENT) else None
  jax.monitoring.register_event_duration_secs_listener(listener)
  try:
    yield events
  finally:
    jax.monitoring.unregister_event_duration_listener(listener)
