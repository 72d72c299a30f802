"""Choosing the evaluation chunk size from the memory a device has free."""
from __future__ import annotations

import functools
import os
from typing import Callable

import jax
import jax.numpy as jnp

from evojax_lime.classifier import lower_classifier

_PROBE_BATCH = 8
# Leave room for XLA's own buffers, the population and fragmentation.
_BUDGET_FRACTION = 0.4


def free_memory_bytes(device: jax.Device) -> int:
  """Bytes free on ``device``: its allocator's limit minus use, or the host's available RAM on CPU."""
  stats = device.memory_stats() or {}
  if "bytes_limit" in stats:
    return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
  return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


@functools.lru_cache(maxsize=64)
def bytes_per_image(classifier: Callable, height: int, width: int, dtype: str) -> int:
  """Memory one image costs in a batched forward of ``classifier``, from XLA's compiled memory analysis."""
  spec = jax.ShapeDtypeStruct((_PROBE_BATCH, height, width, 3), jnp.dtype(dtype))
  stats = lower_classifier(classifier, spec).memory_analysis()
  used = 0 if stats is None else stats.temp_size_in_bytes + stats.argument_size_in_bytes + stats.output_size_in_bytes
  # CPU backends may report no temporaries; never estimate below a few copies of the input.
  floor = 4 * height * width * 3 * jnp.dtype(dtype).itemsize
  return max(used // _PROBE_BATCH, floor)


def auto_chunk_size(classifier: Callable, *, height: int, width: int, dtype: str, population: int,
                    num_devices: int = 1) -> int:
  """Largest chunk (at most the population) whose forward fits in a share of free device memory."""
  budget = _BUDGET_FRACTION * free_memory_bytes(jax.devices()[0]) * num_devices
  fits = int(budget // bytes_per_image(classifier, height, width, dtype))
  return max(1, min(population, fits))
