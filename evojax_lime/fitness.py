"""Masked batch -> classifier -> fitness, evaluated in chunks of bounded size."""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

from evojax_lime.config import GAParams
from evojax_lime.masking import masked_batch

# images (N, H, W, 3) in [0, 1] -> probabilities (or logits) (N, C)
Classifier = Callable[[jax.Array], jax.Array]


@struct.dataclass
class Problem:
  """One image to explain, as the compiled program sees it (all leaves are arrays).

  Attributes:
    image: ``(H, W, 3)`` float32 in [0, 1].
    labels: ``(H, W)`` int32 superpixel ids in 0..K-1.
    fill: ``(H, W, 3)`` float32 shown in place of hidden superpixels.
    target: ``()`` int32 class whose probability is maximised.
    num_genes: ``()`` int32, K; genes K..L-1 are inert padding.
  """

  image: jax.Array
  labels: jax.Array
  fill: jax.Array
  target: jax.Array
  num_genes: jax.Array


def target_probability(scores: jax.Array, target: jax.Array, *, logits: bool) -> jax.Array:
  """``(N, C)`` classifier outputs -> ``(N,)`` float32 probability of ``target``."""
  scores = scores.astype(jnp.float32)
  probs = jax.nn.softmax(scores, axis=-1) if logits else scores
  return probs[:, target]


def _chunked(fn: Callable[[jax.Array], Any], genomes: jax.Array, chunk_size: int | None) -> Any:
  """``fn`` over ``genomes`` in chunks of ``chunk_size`` rows (a compiled loop; memory bounded by one chunk).

  A single chunk goes through the same loop so that XLA compiles the same per-chunk arithmetic whatever the
  chunk size: fitness values then agree bit for bit across chunk sizes.
  """
  n = genomes.shape[0]
  size = n if chunk_size is None else min(chunk_size, n)
  num_chunks = -(-n // size)
  padded = jnp.pad(genomes, ((0, num_chunks * size - n), (0, 0)))
  out = jax.lax.map(fn, padded.reshape(num_chunks, size, -1))
  return jax.tree_util.tree_map(lambda x: x.reshape(num_chunks * size, *x.shape[2:])[:n], out)


def evaluate(genomes: jax.Array, problem: Problem, params: GAParams, *, classifier: Classifier, logits: bool = False,
             chunk_size: int | None = None, dtype=jnp.float32) -> tuple[jax.Array, jax.Array]:
  """Fitness of each genome.

  fitness = p(target | image with only the kept superpixels) - parsimony * kept / K.

  Args:
    genomes: ``(P, L)`` bool.
    problem: the image, its superpixels, fill and target.
    params: GA rates (``parsimony`` is used here).
    classifier: ``(N, H, W, 3)`` -> ``(N, C)``.
    logits: the classifier returns logits rather than probabilities.
    chunk_size: evaluate at most this many images at once.
    dtype: dtype of the images given to the classifier.

  Returns:
    ``((P,) fitness, (P,) target probability)``, float32.
  """
  image, fill = problem.image.astype(dtype), problem.fill.astype(dtype)

  def chunk_fitness(g):
    prob = target_probability(classifier(masked_batch(g, image, problem.labels, fill)), problem.target, logits=logits)
    kept = g.sum(axis=1).astype(jnp.float32) / problem.num_genes.astype(jnp.float32)
    return prob - params.parsimony * kept, prob

  return _chunked(chunk_fitness, genomes, chunk_size)
