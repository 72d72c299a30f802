"""Masked batch -> classifier -> fitness, evaluated in chunks of bounded size.

One function, :func:`evaluate_rows`, is the only place a program calls the classifier: it takes the
candidates of every image of a batch as one flat list of rows, so memory is bounded by one chunk of rows
whatever the number of images, and the classifier always receives ``(chunk, H, W, 3)``.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct

from evojax_lime.config import GAParams
from evojax_lime.evaluation.masking import masked_batch

# images (N, H, W, 3) in [0, 1] -> probabilities (or logits) (N, C)
Classifier = Callable[[jax.Array], jax.Array]


@struct.dataclass
class Problem:
  """One image to explain, as the compiled program sees it (all leaves are arrays).

  Attributes:
    image: ``(H, W, 3)`` float32 in [0, 1].
    labels: ``(H, W)`` int32 superpixel ids in 0..K-1.
    fill: ``(H, W, 3)`` float32 shown in place of hidden superpixels.
    target: ``()`` int32 class whose probability is maximised; -1 inside a program means "the classifier's
      top-1 class on the full image", resolved when the full image is first evaluated.
    num_genes: ``()`` int32, K; genes K..L-1 are inert padding.
  """

  image: jax.Array
  labels: jax.Array
  fill: jax.Array
  target: jax.Array
  num_genes: jax.Array


def target_probability(scores: jax.Array, target: jax.Array, *, logits: bool) -> jax.Array:
  """``(N, C)`` classifier outputs -> ``(N,)`` float32 probability of ``target`` (``()`` or ``(N,)``)."""
  probs = _probabilities(scores, logits)
  target = jnp.broadcast_to(target, probs.shape[:1])
  return jnp.take_along_axis(probs, target[:, None], axis=1)[:, 0]


def _probabilities(scores: jax.Array, logits: bool) -> jax.Array:
  scores = scores.astype(jnp.float32)
  return jax.nn.softmax(scores, axis=-1) if logits else scores


def _masked_rows(genomes: jax.Array, image_of_row: jax.Array, problems: Problem, dtype) -> jax.Array:
  """``(c, L)`` genomes, each of its own image -> ``(c, H, W, 3)`` masked images of ``dtype``."""
  if problems.image.shape[0] == 1:  # one image: broadcast it rather than gather a copy per row
    return masked_batch(genomes, problems.image[0].astype(dtype), problems.labels[0], problems.fill[0].astype(dtype))
  labels = problems.labels[image_of_row]
  keep = jax.vmap(lambda g, lab: g[lab])(genomes, labels)
  return jnp.where(keep[..., None], problems.image[image_of_row].astype(dtype),
                   problems.fill[image_of_row].astype(dtype))


def map_chunks(fn: Callable[[jax.Array], Any], rows: jax.Array, chunk_size: int | None) -> Any:
  """``fn`` over ``rows`` ``(N, ...)`` in chunks of ``chunk_size`` rows: a compiled loop whose memory is
  bounded by one chunk (the last chunk is padded, and the padding dropped from the result)."""
  n = rows.shape[0]
  size = n if chunk_size is None else min(chunk_size, n)
  num_chunks = -(-n // size)
  padded = jnp.pad(rows, ((0, num_chunks * size - n),) + ((0, 0),) * (rows.ndim - 1))
  out = jax.lax.map(fn, padded.reshape(num_chunks, size, *rows.shape[1:]))
  return jax.tree_util.tree_map(lambda x: x.reshape(num_chunks * size, *x.shape[2:])[:n], out)


def evaluate_rows(genomes: jax.Array, problems: Problem, parsimony: jax.Array, *, classifier: Classifier,
                  logits: bool, chunk_size: int | None, dtype=jnp.float32,
                  constrain: Callable[[jax.Array], jax.Array] = lambda x: x
                  ) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Fitness of the candidates of ``B`` images, evaluated as one flat list of ``B * P`` rows in chunks.

  fitness = p(target | image with only the kept superpixels) - kept * (parsimony / K).

  An image whose target is -1 takes the top-1 class of its row 0 (which must then be the full image,
  every real gene kept): row 0 of an image comes before its other rows, so it is always evaluated in the
  same chunk as, or an earlier chunk than, the rows that need its verdict.

  Args:
    genomes: ``(B, P, L)`` bool candidates.
    problems: :class:`Problem` with a leading image axis ``B``.
    parsimony: ``(B,)`` float32 penalty per image.
    classifier: ``(N, H, W, 3)`` -> ``(N, C)``.
    logits: the classifier returns logits rather than probabilities.
    chunk_size: rows evaluated at once (``None``: all); the classifier only ever sees this many images.
    dtype: dtype of the images given to the classifier.
    constrain: applied to each chunk of masked images before the classifier (sharding).

  Returns:
    ``((B, P) fitness, (B, P) target probability, (B,) targets)``, the targets resolved.
  """
  num_images, pop, length = genomes.shape
  rows = num_images * pop
  size = rows if chunk_size is None else min(chunk_size, rows)
  num_chunks = -(-rows // size)
  flat = jnp.pad(genomes.reshape(rows, length), ((0, num_chunks * size - rows), (0, 0)))
  image_of_row = jnp.minimum(jnp.arange(num_chunks * size) // pop, num_images - 1)
  scale = parsimony / jnp.maximum(problems.num_genes, 1).astype(jnp.float32)  # penalty per kept superpixel

  def chunk(targets, inputs):
    index, g = inputs
    start = index * size
    img = jax.lax.dynamic_slice_in_dim(image_of_row, start, size)
    probs = _probabilities(classifier(constrain(_masked_rows(g, img, problems, dtype))), logits)
    # Images whose row 0 lies in this chunk and whose target is still open take its top-1 class.
    first = jnp.arange(num_images) * pop - start
    here = (first >= 0) & (first < size) & (targets < 0)
    top1 = jnp.argmax(probs[jnp.clip(first, 0, size - 1)], axis=-1).astype(jnp.int32)
    targets = jnp.where(here, top1, targets)
    prob = jnp.take_along_axis(probs, jnp.maximum(targets[img], 0)[:, None], axis=1)[:, 0]
    # One rounding (an exact count times a per-image scale), and a barrier that keeps XLA from fusing it into
    # a multiply-add: the penalty, and so the fitness, is the same whatever the shapes of the program.
    penalty = jax.lax.optimization_barrier(g.sum(axis=1).astype(jnp.float32) * scale[img])
    return targets, (prob - penalty, prob)

  targets, (fitness, prob) = jax.lax.scan(chunk, problems.target.astype(jnp.int32),
                                          (jnp.arange(num_chunks), flat.reshape(num_chunks, size, length)))
  unflat = lambda x: x.reshape(-1)[:rows].reshape(num_images, pop)
  return unflat(fitness), unflat(prob), targets


def evaluate(genomes: jax.Array, problem: Problem, params: GAParams, *, classifier: Classifier, logits: bool = False,
             chunk_size: int | None = None, dtype=jnp.float32) -> tuple[jax.Array, jax.Array]:
  """Fitness of each genome of one image (see :func:`evaluate_rows`).

  Args:
    genomes: ``(P, L)`` bool.
    problem: the image, its superpixels, fill and target (``target >= 0``).
    params: GA rates (``parsimony`` is used here).
    classifier: ``(N, H, W, 3)`` -> ``(N, C)``.
    logits: the classifier returns logits rather than probabilities.
    chunk_size: evaluate at most this many images at once.
    dtype: dtype of the images given to the classifier.

  Returns:
    ``((P,) fitness, (P,) target probability)``, float32.
  """
  one = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], problem)
  fitness, prob, _ = evaluate_rows(genomes[None], one, jnp.reshape(params.parsimony, (1,)), classifier=classifier,
                                   logits=logits, chunk_size=chunk_size, dtype=dtype)
  return fitness[0], prob[0]
