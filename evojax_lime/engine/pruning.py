"""A pruning pass over a finished search's answer: drop each kept superpixel whose removal does not lower p beyond
:data:`PRUNE_TOLERANCE`, add each left-out one whose addition raises p beyond it.

Two more steps of the same compiled program (:mod:`evojax_lime.engine.loop`), before any consensus or curves:

1. every single flip of the answer, one candidate each: the kept superpixels' removals first, then the others'
   additions in the order of :func:`~evojax_lime.evaluation.faithfulness.answer_ranking` (``min(K, P)``
   forwards, so with K > P the least promising additions are not tried);
2. all the qualifying flips at once (1 forward, none where a single flip or nothing qualified): flips that
   qualify alone may not together, so the combined mask is kept only where it stays within the tolerance of the
   best evaluated mask so far; otherwise the best single flip is the answer (the smallest loss among removals,
   else the largest gain among additions), or the answer stays.

Every mask the pass answers with was evaluated, so its probability is measured, not assumed; its forwards are
counted in the row's (``RunState.pruning_forwards``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

# How far a removal may lower p, and by more than how much an addition must raise it: below one piece of evidence
# that moves p by 0.15 (the planted cases of benchmarks/ground_truth.py), near the noise of a real network's p.
PRUNE_TOLERANCE = 0.02


def flip_candidates(answer: jax.Array, ranking: jax.Array, num_genes: jax.Array, *,
                    population_size: int) -> tuple[jax.Array, jax.Array]:
  """One row's single flips of its answer as a population: ``((P, L) bool candidates, (P,) bool live)``.

  Args:
    answer: ``(L,)`` bool, the answer to prune.
    ranking: ``(L,)`` int32 gene ids, the answer's genes first, then the other real genes, then the padding.
    num_genes: K, the real superpixels.
    population_size: P, candidates a step evaluates.
  """
  length = answer.shape[0]
  genes = jnp.pad(ranking, (0, max(0, population_size - length)))[:population_size]
  live = jnp.arange(population_size) < jnp.minimum(num_genes, length)
  flips = jax.nn.one_hot(genes, length, dtype=jnp.bool_) & live[:, None]
  return answer[None, :] ^ flips, live


def combined(answer: jax.Array, probability: jax.Array, candidates: jax.Array, flip_probability: jax.Array,
             live: jax.Array, *, tolerance: float = PRUNE_TOLERANCE
             ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
  """One row's pruned masks from its evaluated flips.

  Args:
    answer: ``(L,)`` bool, the answer before pruning; ``probability`` its p(target).
    candidates: ``(P, L)`` bool, its single flips (:func:`flip_candidates`); ``flip_probability`` ``(P,)`` their
      p(target), ``live`` ``(P,)`` those evaluated.

  Returns:
    ``((L,) combined mask, (L,) best single flip or the answer, () its probability, () bool the combined mask
    needs a forward)``: the combined mask drops every removal that costs at most ``tolerance`` and adds every
    addition that gains more; it needs evaluating where it is neither the best single flip nor empty.
  """
  p = jnp.where(live, flip_probability, -jnp.inf)
  removal = candidates.sum(-1) < answer.sum()
  drop = live & removal & (p >= probability - tolerance)
  add = live & ~removal & (p > probability + tolerance)
  moved = ((candidates ^ answer[None, :]) & (drop | add)[:, None]).any(0)
  mask = answer ^ moved
  # The best single flip: the most probable qualifying removal, else the most probable qualifying addition.
  score = jnp.where(drop, p + 2.0, jnp.where(add, p, -jnp.inf))
  best = jnp.argmax(score)
  found = jnp.isfinite(score[best])
  single = jnp.where(found, candidates[best], answer)
  single_p = jnp.where(found, p[best], probability)
  needs = mask.any() & (mask != single).any()
  return mask, single, single_p, needs


def settled(single: jax.Array, single_probability: jax.Array, mask: jax.Array, mask_probability: jax.Array,
            base_probability: jax.Array, evaluated: jax.Array, *,
            tolerance: float = PRUNE_TOLERANCE) -> tuple[jax.Array, jax.Array]:
  """One row's answer after the pass: the combined ``mask`` where it was ``evaluated`` and its p is within
  ``tolerance`` of the best of the answer before pruning (``base_probability``) and the best single flip;
  otherwise the best single flip. Returns ``((L,) mask, () its probability)``."""
  accept = evaluated & (mask_probability >= jnp.maximum(base_probability, single_probability) - tolerance)
  return jnp.where(accept, mask, single), jnp.where(accept, mask_probability, single_probability)
