"""Reporting generations to the host while the compiled GA runs, without changing what it computes.

A run asked for progress is compiled with a ``jax.debug.callback`` in its generation loop (a separate program
from the default one, which has none). The callback is a module-level trampoline, so the compiled program
never holds the caller's function: every run with progress shares one program, and each run installs its
own callback with :func:`reporting` for as long as it executes.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Callable, Iterator, Optional

import jax

# (generation, best fitness so far) -> None; called from a host thread while the program runs.
Progress = Callable[[int, float], None]

# About this many reports per run at most. Each is a device -> host round trip that stalls the device: about
# 0.6 ms on an H100, where a generation of 64 EfficientNet-Lite0 forwards takes about 3 ms, so one report per
# generation would cost ~16%; 20 per run cost ~10 ms in all, which no run long enough to want a bar notices.
_MAX_REPORTS = 20

_lock = threading.Lock()
_active: Optional[Progress] = None


def _dispatch(generation, best_fitness) -> None:
  callback = _active
  if callback is not None:
    callback(int(generation), float(best_fitness))


def report(generation: jax.Array, best_fitness: jax.Array, *, total: int) -> None:
  """Traced: hands ``(generation, best_fitness)`` to the active callback every ``total / 20`` generations
  and at the last one."""
  every = max(1, -(-total // _MAX_REPORTS))
  due = (generation % every == 0) | (generation >= total)
  jax.lax.cond(due, lambda: jax.debug.callback(_dispatch, generation, best_fitness, ordered=False), lambda: None)


def reported(step: Callable, state, *, total: int) -> Callable:
  """Traced: reports the initial ``state`` now and wraps ``step`` (state -> next state) to report each result."""
  report(state.generation, state.best_fitness, total=total)

  def step_and_report(s):
    s = step(s)
    report(s.generation, s.best_fitness, total=total)
    return s

  return step_and_report


@contextlib.contextmanager
def reporting(callback: Optional[Progress]) -> Iterator[None]:
  """Makes ``callback`` receive the reports of the runs inside this block (no-op for ``None``).

  Runs with progress are serialised across threads so that each report reaches its own run's callback.
  """
  global _active
  if callback is None:
    yield
    return
  with _lock:
    _active = callback
    try:
      yield
    finally:
      jax.effects_barrier()  # every report of this run is delivered before the callback is dropped
      _active = None
