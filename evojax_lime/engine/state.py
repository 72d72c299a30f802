"""What a compiled search carries from one step to the next, for ``B`` rows (images x restarts)."""
from __future__ import annotations

from typing import Any

import jax
from flax import struct

from evojax_lime.config import GAParams
from evojax_lime.evaluation.fitness import Problem


@struct.dataclass
class RunState:
  """Everything a compiled run carries for ``B`` rows; saving it pauses the run.

  Attributes:
    strategy: the strategy's state with a leading row axis.
    problem: :class:`Problem` with a leading row axis (superpixels, fill and target are completed in the
      program's first step when it computes them itself).
    params: :class:`GAParams` with a leading row axis (each row may run its own rates).
    original_probability: ``(B,)`` p(target | full image), NaN before the first step.
    original_verdict: ``(B, 3)`` the sum, min and max of the classifier's raw output row on the full image
      (checked on the host: probabilities, or logits with ``logits=True``), NaN before the first step.
    best_history: ``(B, G + 1)`` the best fitness after each population, NaN where not run.
    mean_history: ``(B, G + 1)`` the population's mean fitness, likewise.
    archive_probability: ``(B, L + 1)`` the best target probability evaluated with exactly k kept (-inf: none).
    archive_genome: ``(B, L + 1, L)`` bool, the genome that reached it (the first to reach it).
    archive_history: ``(B, G + 1, L + 1)`` ``archive_probability`` after each population.
    answer, answer_fitness, answer_probability: ``(B, L)`` bool, ``(B,)``, ``(B,)``: each row's answer so far
      (the strategy's best, or the archive's sufficient mask; see :func:`~evojax_lime.engine.loop.sufficient`).
    consensus_fitness, consensus_probability: ``(B,)`` of the consensus of each group of restarts, evaluated
      in a last step once every row has finished (NaN until then, and in rows that do not lead a group).
    consensus_done: ``()`` bool, that step has run.
    ranking: ``(B, L)`` int32 the answer's genes ranked (see :mod:`evojax_lime.evaluation.faithfulness`).
    curve_shown: ``(B, S + 1)`` int32 superpixels moved after each curve step.
    insertion, deletion: ``(B, S + 1)`` p(target) along the answer's insertion and deletion curves, evaluated
      in a last step once the answer is final (NaN until then, and in rows that do not lead a group).
    faithfulness_done: ``()`` bool, that step has run.
    pruning_stage: ``()`` int32, steps of the pruning pass taken (0 to 2; see :mod:`~evojax_lime.engine.pruning`).
    pruning_mask, pruning_base: ``(B, L)`` bool, ``(B,)``: each row's combined pruned mask and the probability
      of its answer before pruning, kept between the pass's two steps.
    pruning_forwards: ``(B,)`` int32, the forwards the pass spent on each row.
    nonfinite: ``(B,)`` bool, the classifier returned NaN or infinity for some evaluated image.
    importance: ``(B, L)`` how strongly the current population keeps each gene.
    stall: ``(B,)`` int32, populations since the answer last changed (for ``patience``).
    steps: ``()`` int32, loop steps taken (step 0 evaluates the initial population).
  """

  strategy: Any
  problem: Problem
  params: GAParams
  original_probability: jax.Array
  original_verdict: jax.Array
  best_history: jax.Array
  mean_history: jax.Array
  archive_probability: jax.Array
  archive_genome: jax.Array
  archive_history: jax.Array
  answer: jax.Array
  answer_fitness: jax.Array
  answer_probability: jax.Array
  consensus_fitness: jax.Array
  consensus_probability: jax.Array
  consensus_done: jax.Array
  ranking: jax.Array
  curve_shown: jax.Array
  insertion: jax.Array
  deletion: jax.Array
  faithfulness_done: jax.Array
  pruning_stage: jax.Array
  pruning_mask: jax.Array
  pruning_base: jax.Array
  pruning_forwards: jax.Array
  nonfinite: jax.Array
  importance: jax.Array
  stall: jax.Array
  steps: jax.Array
