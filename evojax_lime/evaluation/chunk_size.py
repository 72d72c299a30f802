"""The evaluation chunk size: a stable function of the device, the classifier, the image shape and the rows.

The memory one image costs in the classifier's forward is estimated from its jaxpr (a liveness walk over
the traced program at batch 1 and 2, nothing compiled), and the budget is a share of the device's *total*
memory: the chunk, and so the compiled program, does not change from one call to the next as free memory
moves.
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.extend import core as jcore

from evojax_lime.engine.cache import cached
from evojax_lime.evaluation.classifier import split_classifier

# Leave room for XLA's own buffers, the weights, the population and fragmentation. The jaxpr estimate
# ignores fusion, so it errs on the large side already.
_BUDGET_FRACTION = 0.5
# On a CPU larger batches buy no throughput and lose the caches: a study of 120 Lite0 explanations ran 1.9x faster
# in chunks of 16 than of 480 (benchmarks/results/paper_protocol_cpu_*), so CPU chunks stay this small.
CPU_MAX_CHUNK = 32


def total_memory_bytes(device: jax.Device) -> int:
  """Bytes ``device``'s allocator may use in all (the host's physical RAM on CPU)."""
  stats = device.memory_stats() or {}
  if "bytes_limit" in stats:
    return int(stats["bytes_limit"])
  return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _nbytes(var: Any) -> int:
  aval = getattr(var, "aval", None)
  shape, dtype = getattr(aval, "shape", None), getattr(aval, "dtype", None)
  if shape is None or dtype is None:
    return 0
  try:
    return math.prod(shape) * jnp.dtype(dtype).itemsize
  except TypeError:  # extended dtypes (PRNG keys) are tiny
    return 0


def _sub_jaxprs(params: dict) -> list:
  found = []
  for value in params.values():
    for v in value if isinstance(value, (tuple, list)) else (value,):
      if isinstance(v, jcore.ClosedJaxpr):
        found.append(v.jaxpr)
      elif isinstance(v, jcore.Jaxpr):
        found.append(v)
  return found


def peak_bytes(jaxpr: Any) -> int:
  """Largest total size of the values alive at once while ``jaxpr`` runs in order (inputs included)."""
  eqns = jaxpr.eqns
  last_use: dict = {}
  for i, eqn in enumerate(eqns):
    for v in eqn.invars:
      if isinstance(v, jcore.Var):
        last_use[v] = i
  for v in jaxpr.outvars:
    if isinstance(v, jcore.Var):
      last_use[v] = len(eqns)
  live = sum(_nbytes(v) for v in (*jaxpr.invars, *jaxpr.constvars))
  peak = live
  for i, eqn in enumerate(eqns):
    out = sum(_nbytes(v) for v in eqn.outvars)
    inner = max((peak_bytes(sub) for sub in _sub_jaxprs(eqn.params)), default=0)
    peak = max(peak, live + max(out, inner))
    live += out
    live -= sum(_nbytes(v) for v in {v for v in eqn.invars if isinstance(v, jcore.Var)} if last_use.get(v) == i)
    live -= sum(_nbytes(v) for v in eqn.outvars if v not in last_use)
  return peak


@dataclasses.dataclass(frozen=True)
class ClassifierProfile:
  """What the engine needs to know of a classifier before compiling: its output and its memory per image."""

  num_classes: int
  output_shape: tuple[int, ...]  # for a batch of 1
  bytes_per_image: int


def classifier_profile(classifier: Callable, height: int, width: int, dtype: str) -> ClassifierProfile:
  """Traces ``classifier`` at batch 1 and 2 (no compilation) for its output shape and memory per image; kept in
  the engine's cache, so a classifier is profiled once per image size."""
  return cached(classifier, ("profile", height, width, dtype), lambda: _profile(classifier, height, width, dtype))


def _profile(classifier: Callable, height: int, width: int, dtype: str) -> ClassifierProfile:
  weights, rebuild = split_classifier(classifier)
  trace = lambda n: jax.make_jaxpr(lambda w, x: rebuild(w)(x))(
      weights, jax.ShapeDtypeStruct((n, height, width, 3), jnp.dtype(dtype)))
  one, two = trace(1), trace(2)
  shape = tuple(one.out_avals[0].shape) if len(one.out_avals) == 1 else ()
  per_image = peak_bytes(two.jaxpr) - peak_bytes(one.jaxpr)
  # Never estimate below a few copies of the input.
  floor = 4 * height * width * 3 * jnp.dtype(dtype).itemsize
  return ClassifierProfile(num_classes=shape[1] if len(shape) == 2 else 0, output_shape=shape,
                           bytes_per_image=max(per_image, floor))


def choose_chunk(rows: int, fits: int, *, multiple: int = 1) -> int:
  """The chunk for ``rows`` rows per step when at most ``fits`` fit: all rows if they fit, else a divisor of
  ``rows`` near the largest size that fits, or (when ``rows`` has no good divisor) the even split with at
  most a few padded rows. Always a multiple of ``multiple`` (the device count)."""
  fits = max(multiple, fits // multiple * multiple)
  if rows <= fits:
    return -(-rows // multiple) * multiple
  fewest = -(-rows // fits)
  for n in range(fewest, fewest + max(2, fewest // 2) + 1):  # a divisor within ~50% more chunks
    if rows % n == 0 and (rows // n) % multiple == 0:
      return rows // n
  even = -(-rows // fewest)
  return -(-even // multiple) * multiple


def auto_chunk_size(profile: ClassifierProfile, *, rows: int, num_devices: int = 1,
                    device: jax.Device | None = None) -> int:
  """Rows per classifier call for ``rows`` rows per step (images x population), from total device memory (at
  most :data:`CPU_MAX_CHUNK` per device on a CPU)."""
  device = device or jax.local_devices()[0]
  fits = int(_BUDGET_FRACTION * total_memory_bytes(device) * num_devices // profile.bytes_per_image)
  if device.platform == "cpu":
    fits = min(fits, CPU_MAX_CHUNK * num_devices)
  return choose_chunk(rows, fits, multiple=num_devices)


def at_most(rows: int, limit: int, *, multiple: int = 1) -> int:
  """The chunk for ``rows`` rows when the caller allows at most ``limit`` per chunk: the fewest chunks, then the
  least padding (64 rows, at most 48: two chunks of 32). A multiple of ``multiple`` (the device count)."""
  limit = max(multiple, limit // multiple * multiple)
  fewest = -(-rows // limit)
  even = -(-rows // fewest)
  return -(-even // multiple) * multiple


def chunk_size(classifier: Callable, *, limit: int | None, rows: int, height: int, width: int, dtype: str,
               num_devices: int = 1) -> int:
  """Rows per classifier call: :func:`at_most` ``limit`` when given (no profile is traced), else
  :func:`auto_chunk_size` from the classifier's memory profile."""
  if limit is not None:
    return at_most(rows, limit, multiple=num_devices)
  profile = classifier_profile(classifier, height, width, dtype)
  return auto_chunk_size(profile, rows=rows, num_devices=num_devices)
