"""The evolving state, a pytree carried from one compiled generation to the next."""
from __future__ import annotations

import jax
from flax import struct


@struct.dataclass
class GAState:
  """Attributes:
    population: ``(P, L)`` bool genomes.
    fitness: ``(P,)`` float32.
    best_genome: ``(L,)`` bool, the fittest genome seen so far.
    best_fitness: ``()`` float32.
    generation: ``()`` int32, generations completed (0 = initial population only).
    stall: ``()`` int32, generations since ``best_fitness`` last improved.
    key: PRNG key for the next generation.
  """

  population: jax.Array
  fitness: jax.Array
  best_genome: jax.Array
  best_fitness: jax.Array
  generation: jax.Array
  stall: jax.Array
  key: jax.Array
