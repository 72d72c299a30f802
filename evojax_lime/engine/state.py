"""The evolving state: pytrees carried from one compiled generation to the next."""
from __future__ import annotations

import jax
from flax import struct

from evojax_lime.config import GAParams
from evojax_lime.evaluation.fitness import Problem


@struct.dataclass
class GAState:
  """The GA of one image.

  Attributes:
    population: ``(P, L)`` bool genomes.
    fitness: ``(P,)`` float32.
    probability: ``(P,)`` float32 target probability of each genome.
    best_genome: ``(L,)`` bool, the fittest genome seen so far.
    best_fitness: ``()`` float32.
    best_probability: ``()`` float32 target probability of ``best_genome``.
    generation: ``()`` int32, generations completed (0 = initial population only, -1 = not evaluated yet).
    stall: ``()`` int32, generations since ``best_fitness`` last improved.
    key: PRNG key for the next generation.
  """

  population: jax.Array
  fitness: jax.Array
  probability: jax.Array
  best_genome: jax.Array
  best_fitness: jax.Array
  best_probability: jax.Array
  generation: jax.Array
  stall: jax.Array
  key: jax.Array


@struct.dataclass
class RunState:
  """Everything a compiled run carries for a batch of ``B`` images; saving it pauses the run.

  Attributes:
    ga: :class:`GAState` with a leading image axis.
    problem: :class:`Problem` with a leading image axis (superpixels, fill and target are completed in the
      program's first step when it computes them itself).
    params: :class:`GAParams` with a leading image axis (each image may run its own rates).
    original_probability: ``(B,)`` p(target | full image), NaN before the first step.
    best_history: ``(B, G + 1)`` best fitness after each generation, NaN where not run.
    mean_history: ``(B, G + 1)`` mean population fitness, likewise.
    nonfinite: ``(B,)`` bool, the classifier returned NaN or infinity for some evaluated image.
    importance: ``(B, L)`` fitness-weighted frequency of each gene in the current population.
    steps: ``()`` int32, loop steps taken (step 0 evaluates the initial population).
  """

  ga: GAState
  problem: Problem
  params: GAParams
  original_probability: jax.Array
  best_history: jax.Array
  mean_history: jax.Array
  nonfinite: jax.Array
  importance: jax.Array
  steps: jax.Array
