"""Explanation metrics: explanation probability, insertion/deletion curves and AUC, sparsity, stability.

Every metric is a pure, jit-able function of arrays, but for :func:`stability`, a score and so a Python float;
the formulas they share with the search's program (the trapezoid area, the Jaccard index) live in
:mod:`evojax_lime.scores`. Probabilities come from the engine's own chunked evaluation
(:func:`evojax_lime.evaluation.fitness.evaluate`: the same masked batch, fill and classifier the GA sees), so a
metric scores exactly the images an explainer saw. Rankings and genomes index superpixels ``0..K-1``; a genome
may be padded to a longer static length with ``False``.
"""
from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
from flax import struct

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.evaluation.fitness import Classifier, Problem, evaluate
from evojax_lime.engine.cache import cached, weakly
from evojax_lime.evaluation.chunk_size import chunk_size
from evojax_lime.evaluation.faithfulness import shown_counts
from evojax_lime.scores import auc, jaccard, mean_pairwise_jaccard  # noqa: F401 (auc, jaccard: public here too)

_NO_PARSIMONY = GAParams(*(jnp.float32(0.0),) * 5)
MODES = ("insertion", "deletion")


def masked_probabilities(genomes: jax.Array, problem: Problem, *, classifier: Classifier, logits: bool = False,
                         chunk_size: Optional[int] = None, dtype: Any = jnp.float32) -> jax.Array:
  """p(target | only each genome's superpixels visible), through the engine's chunked evaluation.

  Args:
    genomes: ``(N, L)`` bool, True = superpixel shown.
    problem: image, superpixels, fill and target.
    classifier: ``(N, H, W, 3)`` -> ``(N, C)`` probabilities (or logits with ``logits=True``).
    logits: the classifier returns logits.
    chunk_size: images evaluated at once (``None``: all).
    dtype: dtype of the images given to the classifier.

  Returns:
    ``(N,)`` float32.
  """
  _, probs = evaluate(genomes, problem, _NO_PARSIMONY, classifier=classifier, logits=logits, chunk_size=chunk_size,
                      dtype=dtype)
  return probs


def explanation_probability(genome: jax.Array, problem: Problem, *, classifier: Classifier, logits: bool = False,
                            chunk_size: Optional[int] = None, dtype: Any = jnp.float32) -> jax.Array:
  """p(target | only the selected superpixels visible) for ``(L,)`` -> ``()`` or ``(N, L)`` -> ``(N,)`` genomes."""
  genomes = jnp.atleast_2d(genome)
  probs = masked_probabilities(genomes, problem, classifier=classifier, logits=logits, chunk_size=chunk_size,
                               dtype=dtype)
  return probs[0] if genome.ndim == 1 else probs


def rank(scores: jax.Array, *, first: Optional[jax.Array] = None) -> jax.Array:
  """Superpixels ordered from most to least important.

  Args:
    scores: ``(K,)`` importance (LIME weights, E-LIME gene importance, ...).
    first: optional ``(K,)`` bool; these come before all others whatever their score (e.g. E-LIME's selected
      superpixels), each group still ordered by score.

  Returns:
    ``(K,)`` int32 permutation of ``0..K-1``; equal scores keep index order.
  """
  scores = jnp.asarray(scores, jnp.float32)
  keys = (-scores,) if first is None else (-scores, ~jnp.asarray(first, bool))
  return jnp.lexsort(keys).astype(jnp.int32)


def _step_counts(num_genes: int, steps: Optional[int]) -> jax.Array:
  steps = num_genes if steps is None else steps
  if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= num_genes:
    raise ValueError(f"steps must be an integer in [1, K={num_genes}] (or None for one superpixel per step), "
                     f"got {steps!r}")
  # Superpixels shown after step t: an even share of K per step, exactly K at the last step (the search's own
  # curve step counts them the same way).
  return shown_counts(jnp.int32(num_genes), steps)


def ranking_genomes(ranking: jax.Array, *, mode: str = "insertion", steps: Optional[int] = None,
                    length: Optional[int] = None) -> tuple[jax.Array, jax.Array]:
  """The genomes of an insertion or deletion curve.

  Insertion starts from the all-hidden image and reveals superpixels in ranked order; deletion starts from the
  full image and hides them in ranked order. Step ``t`` of ``T`` has moved ``floor(t * K / T)`` superpixels.

  Args:
    ranking: ``(K,)`` int permutation of ``0..K-1``, most important first.
    mode: ``"insertion"`` or ``"deletion"``.
    steps: static number of steps T in ``[1, K]``; ``None`` moves one superpixel per step (T = K).
    length: static genome length L >= K (padding genes are False); ``None`` means K.

  Returns:
    ``((T + 1, L) bool genomes, (T + 1,) float32 fraction of superpixels shown)``.
  """
  if mode not in MODES:
    raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
  num_genes = ranking.shape[0]
  length = num_genes if length is None else length
  if length < num_genes:
    raise ValueError(f"length {length} is shorter than the ranking ({num_genes} superpixels)")
  counts = _step_counts(num_genes, steps)
  position = jnp.zeros((num_genes,), jnp.int32).at[ranking].set(jnp.arange(num_genes, dtype=jnp.int32))
  moved = position[None, :] < counts[:, None]
  shown = moved if mode == "insertion" else ~moved
  genomes = jnp.pad(shown, ((0, 0), (0, length - num_genes)))
  return genomes, shown.sum(1).astype(jnp.float32) / num_genes


@struct.dataclass
class Curves:
  """Insertion and deletion curves of one ranking (``T + 1`` points each, x = fraction shown, ascending)."""

  insertion_fractions: jax.Array
  insertion: jax.Array
  deletion_fractions: jax.Array
  deletion: jax.Array

  @property
  def insertion_auc(self) -> jax.Array:
    return auc(self.insertion_fractions, self.insertion)

  @property
  def deletion_auc(self) -> jax.Array:
    # Deletion hides superpixels, so its fractions descend: flip to integrate over an ascending axis.
    return auc(self.deletion_fractions[::-1], self.deletion[::-1])


def curves(ranking: jax.Array, problem: Problem, *, classifier: Classifier, steps: Optional[int] = None,
           logits: bool = False, chunk_size: Optional[int] = None, dtype: Any = jnp.float32) -> Curves:
  """Insertion and deletion curves of ``ranking``, evaluated together as one masked batch.

  Args:
    ranking: ``(K,)`` permutation of ``0..K-1``, most important first (see :func:`rank`).
    problem: image, superpixels ``0..K-1``, fill and target.
    classifier, logits, chunk_size, dtype: as for :func:`masked_probabilities`.
    steps: static number of steps (``None``: one superpixel per step).

  Returns:
    :class:`Curves`; ``insertion[t]`` and ``deletion[t]`` are p(target) after step t, so ``insertion[0]`` is the
    all-hidden image and ``deletion[0]`` the full image.
  """
  ins, ins_x = ranking_genomes(ranking, mode="insertion", steps=steps)
  dels, del_x = ranking_genomes(ranking, mode="deletion", steps=steps)
  probs = masked_probabilities(jnp.concatenate([ins, dels]), problem, classifier=classifier, logits=logits,
                               chunk_size=chunk_size, dtype=dtype)
  n = ins.shape[0]
  return Curves(insertion_fractions=ins_x, insertion=probs[:n], deletion_fractions=del_x, deletion=probs[n:])


def sparsity(genomes: jax.Array, num_genes: Any = None) -> jax.Array:
  """Fraction of superpixels kept: ``(..., L)`` bool -> ``(...)``; ``num_genes`` K defaults to L."""
  genomes = jnp.asarray(genomes, bool)
  total = genomes.shape[-1] if num_genes is None else num_genes
  return genomes.sum(-1).astype(jnp.float32) / jnp.asarray(total, jnp.float32)


def stability(selections: Any) -> float:
  """Mean pairwise Jaccard index of the selected sets of R >= 2 runs (e.g. seeds), ``(R, K)`` bool -> a float."""
  selections = jnp.asarray(selections, bool)
  if selections.ndim != 2 or selections.shape[0] < 2:
    raise ValueError(f"stability needs (R, K) selections with R >= 2 runs, got shape {selections.shape}")
  return float(mean_pairwise_jaccard(selections))


def as_problem(explanation: Any) -> Problem:
  """The :class:`Problem` of an explanation (anything with ``image``, ``labels``, ``fill`` and ``target``)."""
  labels = jnp.asarray(explanation.labels, jnp.int32)
  return Problem(image=jnp.asarray(explanation.image, jnp.float32), labels=labels,
                 fill=jnp.asarray(explanation.fill, jnp.float32), target=jnp.int32(explanation.target),
                 num_genes=jnp.int32(labels.max() + 1))


def chunk_size_for(classifier: Classifier, config: ELimeConfig, *, image_shape: tuple[int, ...], rows: int) -> int:
  """The engine's chunk for ``rows`` rows of ``image_shape`` images (``config.chunk_size`` as an upper bound)."""
  return chunk_size(classifier, limit=config.chunk_size, rows=rows, height=image_shape[0], width=image_shape[1],
                    dtype=config.dtype)


def _program(classifier: Classifier, name: str, fn, **options):
  held = weakly(classifier)  # the cached program must not keep the classifier alive
  return cached(classifier, (name, tuple(sorted(options.items()))),
                lambda: jax.jit(lambda *args: fn(*args, classifier=held(), **options)))


def probability_program(classifier: Classifier, *, logits: bool, chunk_size: int, dtype: str):
  """Jitted :func:`masked_probabilities` from the engine's cache: ``(genomes (N, L), problem) -> (N,)``."""
  return _program(classifier, "probabilities", masked_probabilities, logits=logits, chunk_size=chunk_size,
                  dtype=jnp.dtype(dtype))


def curves_program(classifier: Classifier, *, logits: bool, chunk_size: int, dtype: str, steps: Optional[int]):
  """Jitted :func:`curves` from the engine's cache: ``(ranking (K,), problem) -> Curves``."""
  return _program(classifier, "curves", curves, logits=logits, chunk_size=chunk_size, dtype=jnp.dtype(dtype),
                  steps=steps)
