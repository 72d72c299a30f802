"""The insertion and deletion curves of an answer, as rows of one more population of the search.

Once the answer is known, the program spends one last step on its curves (see :mod:`evojax_lime.engine.loop`):
the superpixels are ranked (kept ones first, each group by how many of the search's best masks of each size keep
them, then by importance; or by importance alone, for a strategy that explains by it), and the masks that reveal
or hide them
in that order are evaluated like any population, through the same chunked evaluation. With P candidates a step
holds ``2 T - 1`` of them: the all-hidden image and the ``T - 1`` inner points of each curve; the full image is
the search's own first evaluation. ``T = min(K, (P + 1) // 2)`` steps, so a population of 64 draws the exact
curve (one superpixel per step) for up to 32 superpixels and an even share of K per step above that.
:mod:`evojax_lime.scores` turns the curves into areas.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def max_steps(population_size: int) -> int:
  """The most curve steps T one population of ``population_size`` candidates can evaluate."""
  return (population_size + 1) // 2


def archive_frequency(archive_genome: jax.Array, archive_probability: jax.Array) -> jax.Array:
  """``(L,)`` int32: in how many of the search's best masks of each size (the per-size archive, ``(L + 1, L)``
  genomes, ``(L + 1,)`` probabilities, -inf where none) each gene is kept."""
  found = jnp.isfinite(archive_probability)[:, None]
  return (archive_genome & found).sum(0, dtype=jnp.int32)


def answer_ranking(importance: jax.Array, answer: jax.Array, num_genes: jax.Array,
                   frequency: jax.Array) -> jax.Array:
  """``(L,)`` int32 gene ids: the answer's genes first, then the other real genes, then the padding; within each
  group by how many of the search's best masks of each size keep them (``frequency``, see
  :func:`archive_frequency`: a gene that the best small masks already need ranks high), then by importance
  (equal keys keep id order)."""
  length = importance.shape[0]
  real = jnp.arange(length) < num_genes
  # lexsort: the last key is the primary one.
  return jnp.lexsort((-importance.astype(jnp.float32), -frequency, ~(answer & real), ~real)).astype(jnp.int32)


def importance_ranking(importance: jax.Array, num_genes: jax.Array) -> jax.Array:
  """``(L,)`` int32 gene ids: the real genes by importance (equal keys keep id order), then the padding; the
  ranking of a strategy that explains by its importance (LIME's weights, NSGA-II's front)."""
  real = jnp.arange(importance.shape[0]) < num_genes
  return jnp.lexsort((-importance.astype(jnp.float32), ~real)).astype(jnp.int32)


def shown_counts(num_genes: jax.Array, steps: int) -> jax.Array:
  """``(steps + 1,)`` int32 superpixels moved after step t of ``T = min(K, steps)``: ``floor(t K / T)``, K past T."""
  last = jnp.maximum(jnp.minimum(num_genes, steps), 1)
  return (jnp.minimum(jnp.arange(steps + 1), last) * num_genes) // last


def curve_candidates(ranking: jax.Array, shown: jax.Array, num_genes: jax.Array, *,
                     population_size: int) -> tuple[jax.Array, jax.Array]:
  """One row's curve masks as a population: ``((P, L) bool candidates, (P,) bool live)``.

  Candidate 0 hides every superpixel; candidates ``1 .. S - 1`` are insertion steps 1 .. S - 1 and
  ``S .. 2 S - 2`` deletion steps 1 .. S - 1 (S = the static most steps); those past the row's own T are not
  evaluated.
  """
  length, steps = ranking.shape[0], shown.shape[0] - 1
  position = jnp.zeros((length,), jnp.int32).at[ranking].set(jnp.arange(length, dtype=jnp.int32))
  real = jnp.arange(length) < num_genes
  moved = position[None, :] < shown[1:steps, None]  # (S - 1, L) inner steps
  candidates = jnp.concatenate([jnp.zeros((1, length), bool), moved & real, ~moved & real])
  inner = shown[1:steps] < num_genes
  live = jnp.concatenate([jnp.ones((1,), bool), inner, inner])
  pad = population_size - candidates.shape[0]
  return jnp.pad(candidates, ((0, pad), (0, 0))), jnp.pad(live, (0, pad))


def curves_of(probability: jax.Array, original: jax.Array, shown: jax.Array,
              num_genes: jax.Array) -> tuple[jax.Array, jax.Array]:
  """``((S + 1,) insertion, (S + 1,) deletion)`` p(target) of one row from its evaluated candidates
  ``(P,)`` (see :func:`curve_candidates`) and the full image's ``original``."""
  steps = shown.shape[0] - 1
  empty = probability[0]
  inner_ins, inner_del = probability[1:steps], probability[steps:2 * steps - 1]
  done = shown >= num_genes  # past the row's last step: every superpixel moved
  insertion = jnp.concatenate([empty[None], inner_ins, original[None]])
  deletion = jnp.concatenate([original[None], inner_del, empty[None]])
  return jnp.where(done, original, insertion), jnp.where(done, empty, deletion)
