"""Per-size archives for the answer rules' tests (:func:`~evojax_lime.engine.loop.sufficient`,
:func:`~evojax_lime.engine.loop.knee`): a rule applied to an archive, its shapes checked."""
from __future__ import annotations

from typing import Any, Callable

import chex
import jax.numpy as jnp
import numpy as np

NEG = -np.inf  # an archive size with no mask evaluated


def apply_rule(rule: Callable, probability: Any, *rest: Any, genome: Any = None) -> tuple:
  """``(genome, found, mask, p)``: ``rule(probability, genome, *rest)`` on a ``(B, L + 1)`` archive (float32 rows
  of its probabilities) whose genomes are ``genome`` (default: a fixed pattern of ``(B, L + 1, L)`` distinct
  rows), its outputs checked for shape."""
  probability = jnp.asarray(probability, jnp.float32)
  rows, sizes = probability.shape
  if genome is None:
    genome = jnp.arange(rows * sizes * (sizes - 1)).reshape(rows, sizes, sizes - 1) % 3 == 0
  found, mask, p = rule(probability, genome, *rest)
  chex.assert_shape((found, mask, p), ((rows,), (rows, sizes - 1), (rows,)))
  return genome, found, mask, p
