"""Spreading the population (or a batch of images) over every local device.

The population axis of each evaluated chunk carries a ``NamedSharding`` over a one-axis ``Mesh``, so every
chip evaluates its share of the masked images; the GA's own arrays are tiny and XLA moves them as needed.
Random draws are a function of the key and of each gene's and individual's place (counter-based threefry), so
results do not depend on the device count.
"""
from __future__ import annotations

from typing import Optional, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "population"


def population_mesh(devices: Optional[Sequence[jax.Device]] = None) -> Mesh:
  """A one-axis mesh named ``"population"`` over ``devices`` (default: all devices, every host)."""
  return Mesh(np.asarray(list(devices) if devices is not None else jax.devices()), (AXIS,))


def shard_rows(x: jax.Array, mesh: Optional[Mesh]) -> jax.Array:
  """Constrains axis 0 of ``x`` to be split over ``mesh`` (a no-op without a mesh)."""
  if mesh is None:
    return x
  return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, PartitionSpec(AXIS)))


def round_to_devices(chunk: int, mesh: Optional[Mesh]) -> int:
  """``chunk`` rounded up to a multiple of the device count so every device gets an equal share."""
  n = 1 if mesh is None else mesh.devices.size
  return -(-chunk // n) * n
