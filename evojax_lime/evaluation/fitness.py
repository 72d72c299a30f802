"""Masked batch -> classifier -> fitness, evaluated in chunks of bounded size.

:func:`evaluate_rows` is the only place a program calls the classifier. It takes the candidates of every row
of a search (images x restarts) as one flat list, packs the rows that need an evaluation to the front and runs
the classifier on the chunks of ``(chunk, H, W, 3)`` images they fill, the last one padded, or (an exact
evaluator) in chunks that always divide the live count, so that every forward is a live row: memory is bounded
by one chunk whatever the number of rows, and a row that has finished costs no forward pass.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
from flax import struct

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
    target: ``()`` int32 class whose probability is maximised (when ``top1`` is False).
    top1: ``()`` bool: explain the classifier's top-1 class on the full image; the program resolves it into
      ``target`` when it first evaluates the full image.
    num_genes: ``()`` int32, K; genes K..L-1 are inert padding.
    labels_given: ``()`` bool: ``labels`` and ``num_genes`` are final (else a program that segments cuts them).
    fill_given: ``()`` bool: ``fill`` is final (a baseline image; else the program computes the fill).
  """

  image: jax.Array
  labels: jax.Array
  fill: jax.Array
  target: jax.Array
  num_genes: jax.Array
  top1: jax.Array = False
  labels_given: jax.Array = True
  fill_given: jax.Array = True


def probabilities(scores: jax.Array, *, logits: bool) -> jax.Array:
  """``(N, C)`` classifier outputs -> float32 probabilities."""
  scores = scores.astype(jnp.float32)
  return jax.nn.softmax(scores, axis=-1) if logits else scores


def target_probability(scores: jax.Array, target: jax.Array, *, logits: bool) -> jax.Array:
  """``(N, C)`` classifier outputs -> ``(N,)`` float32 probability of ``target`` (``()`` or ``(N,)``)."""
  probs = probabilities(scores, logits=logits)
  target = jnp.broadcast_to(target, probs.shape[:1])
  return jnp.take_along_axis(probs, target[:, None], axis=1)[:, 0]


def _masked_rows(genomes: jax.Array, image_of_row: jax.Array, problems: Problem, dtype) -> jax.Array:
  """``(c, L)`` genomes, each of its own image -> ``(c, H, W, 3)`` masked images of ``dtype``."""
  if problems.image.shape[0] == 1:  # one image: broadcast it rather than gather a copy per row
    return masked_batch(genomes, problems.image[0].astype(dtype), problems.labels[0], problems.fill[0].astype(dtype))
  labels = problems.labels[image_of_row]
  keep = jax.vmap(lambda g, lab: g[lab])(genomes, labels)
  return jnp.where(keep[..., None], problems.image[image_of_row].astype(dtype),
                   problems.fill[image_of_row].astype(dtype))


@struct.dataclass
class Evaluator:
  """How a program evaluates masked images (static: part of what a program is compiled for).

  Attributes:
    classifier: ``(N, H, W, 3)`` -> ``(N, C)``.
    logits: the classifier returns logits rather than probabilities.
    chunk_size: rows evaluated at once at most; the classifier only ever sees ``(size, H, W, 3)``, one size
      (see :meth:`size`).
    dtype: dtype of the images given to the classifier.
    constrain: applied to each chunk of masked images before the classifier (sharding).
    exact: no row is padded: the chunk is the largest size not above ``chunk_size`` that divides every live
      count the caller can pass (its ``multiple``), down to one row, so the classifier is still traced at one
      batch size and sees only live rows. For a CPU, where a padded row costs a forward like any other and a
      small batch costs no more per image than a large one. Otherwise the last chunk is padded, which costs
      next to nothing where a chunk's rows run side by side.
  """

  classifier: Classifier = struct.field(pytree_node=False)
  logits: bool = struct.field(pytree_node=False)
  chunk_size: int = struct.field(pytree_node=False)
  dtype: Any = struct.field(pytree_node=False, default=jnp.float32)
  constrain: Callable[[jax.Array], jax.Array] = struct.field(pytree_node=False, default=lambda x: x)
  exact: bool = struct.field(pytree_node=False, default=False)

  def size(self, rows: int, multiple: int) -> int:
    """Rows per classifier call for ``rows`` rows of which a multiple of ``multiple`` are live: at most the
    chunk and ``rows``; for an exact evaluator the largest such size that divides ``multiple``."""
    size = min(self.chunk_size, rows)
    if self.exact:
      size = max(d for d in range(1, size + 1) if multiple % d == 0)
    return size

  def chunks(self, genomes: jax.Array, live: jax.Array, problems: Problem, rows_per_image: int,
             reduce: Callable, carry: Any, outputs: tuple, *, multiple: int = 1) -> tuple[Any, tuple]:
    """Runs the classifier on the live rows of ``genomes``, packed to the front, one chunk at a time.

    Args:
      genomes: ``(N, L)`` bool, row ``n`` belonging to image ``n // rows_per_image``.
      live: ``(N,)`` bool, the rows to evaluate (their order is kept).
      problems: :class:`Problem` with a leading image axis.
      rows_per_image: static rows of each image.
      reduce: ``(carry, probs (c, C), genomes (c, L), image_of_row (c,), start, scores (c, C)) -> (carry,
        values)``, ``values`` one ``(c, ...)`` array per output; ``start`` is the chunk's first place in the packed
        order; ``scores`` the classifier's raw outputs as float32.
      carry: initial carry of ``reduce``.
      outputs: one ``(trailing shape, dtype, value of rows not evaluated)`` per output of ``reduce``.
      multiple: the number of live rows is always a multiple of this (static): an exact evaluator's chunk
        divides it (see :meth:`size`), so it never pads a row.

    Returns:
      ``(carry, outputs)``, every output ``(N, ...)`` in the original row order.
    """
    n = genomes.shape[0]
    num_images = problems.image.shape[0]
    size = self.size(n, multiple)
    total = -(-n // size) * size
    order = jnp.argsort(~live, stable=True).astype(jnp.int32)  # live rows first, each group in row order
    unpack = jnp.zeros((n,), jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32))
    order = jnp.pad(order, (0, total - n))
    num_live = live.sum()
    buffers = tuple(jnp.full((total, *shape), value, dtype) for shape, dtype, value in outputs)

    def body(state):
      index, start, carry, buffers = state
      rows = jax.lax.dynamic_slice_in_dim(order, start, size)
      real = start + jnp.arange(size) < num_live
      # Places past the live rows hold all-hidden images of the last image (their outputs are dropped), as a
      # padded last chunk always did: what a live row gets does not depend on how many rows are live.
      g = jnp.where(real[:, None], genomes[rows], False)
      image_of_row = jnp.where(real, rows // rows_per_image, num_images - 1)
      scores = self.classifier(self.constrain(_masked_rows(g, image_of_row, problems, self.dtype)))
      scores = scores.astype(jnp.float32)
      carry, values = reduce(carry, probabilities(scores, logits=self.logits), g, image_of_row, start, scores)
      buffers = tuple(jax.lax.dynamic_update_slice_in_dim(b, v.astype(b.dtype), start, 0)
                      for b, v in zip(buffers, values))
      return index + 1, start + size, carry, buffers

    calls = (num_live + size - 1) // size
    _, _, carry, buffers = jax.lax.while_loop(lambda s: s[0] < calls, body,
                                              (jnp.int32(0), jnp.int32(0), carry, buffers))
    return carry, tuple(b[unpack] for b in buffers)


def fitness_penalty(kept: Any, parsimony: jax.Array, num_genes: jax.Array) -> jax.Array:
  """``parsimony * kept / K``, what keeping ``kept`` of K superpixels costs in fitness (K of at least 1)."""
  return kept * (parsimony / jnp.maximum(num_genes, 1).astype(jnp.float32))


def mask_fitness(probability: jax.Array, masks: jax.Array, parsimony: jax.Array, num_genes: jax.Array) -> jax.Array:
  """``probability - parsimony * kept / K``: the fitness of ``(..., L)`` bool masks whose p is known (an
  archived or pruned answer), without another evaluation."""
  return probability - fitness_penalty(masks.sum(axis=-1), parsimony, num_genes)


def evaluate_rows(genomes: jax.Array, problems: Problem, parsimony: jax.Array, evaluator: Evaluator, *,
                  live: Optional[jax.Array] = None, multiple: int = 1
                  ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
  """Fitness of the candidates of ``B`` rows, evaluated as one flat list of ``B * P`` masked images in chunks.

  fitness = p(target | image with only the kept superpixels) - kept * (parsimony / K).

  A row whose problem has ``top1`` set takes the top-1 class of its candidate 0 (which must then be the full
  image, every real gene kept): candidate 0 of a row comes before its other candidates in the packed order, so
  it is evaluated in the same chunk as, or an earlier chunk than, the candidates that need its verdict.

  Args:
    genomes: ``(B, P, L)`` bool candidates.
    problems: :class:`Problem` with a leading axis ``B``.
    parsimony: ``(B,)`` float32 penalty per row.
    evaluator: the classifier and how to call it.
    live: ``(B, P)`` bool, the candidates to evaluate (default: all); the others cost nothing and get NaN.
    multiple: the number of live candidates is always a multiple of this (static; see :meth:`Evaluator.chunks`).

  Returns:
    ``((B, P) fitness, (B, P) target probability, (B,) targets, (B, 3) verdicts)``, the targets resolved; a
    row's verdict is the sum, min and max of the classifier's raw output for its candidate 0 (NaN where it was
    not evaluated), so the host can check what the outputs are without another forward.
  """
  num_rows, pop, length = genomes.shape
  flat_live = jnp.ones((num_rows * pop,), bool) if live is None else live.reshape(-1)
  order_of_first = jnp.cumsum(flat_live) - 1  # packed position of every row, live rows only
  first = jnp.where(flat_live[::pop], order_of_first[::pop], -1)  # where each row's candidate 0 is evaluated
  scale = fitness_penalty(1, parsimony, problems.num_genes)  # per kept superpixel
  resolve = jnp.asarray(problems.top1, bool) & (first >= 0)

  def reduce(carry, probs, g, image_of_row, start, scores):
    targets, verdicts = carry
    size = g.shape[0]
    offset = first - start
    in_chunk = (first >= 0) & (offset >= 0) & (offset < size)
    here = resolve & in_chunk
    top1 = jnp.argmax(probs[jnp.clip(offset, 0, size - 1)], axis=-1).astype(jnp.int32)
    targets = jnp.where(here, top1, targets)
    raw = scores[jnp.clip(offset, 0, size - 1)]  # (B, C) each row's candidate 0, where it is in this chunk
    verdicts = jnp.where(in_chunk[:, None], jnp.stack([raw.sum(-1), raw.min(-1), raw.max(-1)], -1), verdicts)
    prob = jnp.take_along_axis(probs, targets[image_of_row][:, None], axis=1)[:, 0]
    # One rounding (an exact count times a per-row scale), and a barrier that keeps XLA from fusing it into a
    # multiply-add: the penalty, and so the fitness, is the same whatever the shapes of the program.
    penalty = jax.lax.optimization_barrier(g.sum(axis=1).astype(jnp.float32) * scale[image_of_row])
    return (targets, verdicts), (prob - penalty, prob)

  nan = ((), jnp.float32, jnp.nan)
  carry = (jnp.asarray(problems.target, jnp.int32), jnp.full((num_rows, 3), jnp.nan, jnp.float32))
  (targets, verdicts), (fitness, prob) = evaluator.chunks(genomes.reshape(-1, length), flat_live, problems, pop,
                                                          reduce, carry, (nan, nan),
                                                          multiple=num_rows * pop if live is None else multiple)
  return fitness.reshape(num_rows, pop), prob.reshape(num_rows, pop), targets, verdicts


def evaluate_scores(genomes: jax.Array, problem: Problem, evaluator: Evaluator, *, num_classes: int) -> jax.Array:
  """``(N, C)`` float32 class probabilities of every masked image of one image's ``(N, L)`` genomes.

  For explainers that need every class's column (lime's regression fits one model per explained label).
  """
  one = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], problem)
  _, (scores,) = evaluator.chunks(genomes, jnp.ones(genomes.shape[:1], bool), one, genomes.shape[0],
                                  lambda c, probs, *_: (c, (probs,)), jnp.int32(0),
                                  (((num_classes,), jnp.float32, jnp.nan),), multiple=genomes.shape[0])
  return scores


def evaluate(genomes: jax.Array, problem: Problem, params: Any, *, classifier: Classifier, logits: bool = False,
             chunk_size: int | None = None, dtype=jnp.float32) -> tuple[jax.Array, jax.Array]:
  """Fitness of each genome of one image (see :func:`evaluate_rows`), for callers who drive a search by hand.

  Args:
    genomes: ``(P, L)`` bool.
    problem: the image, its superpixels, fill and target.
    params: rates with a ``parsimony`` (a :class:`~evojax_lime.config.GAParams`).
    classifier: ``(N, H, W, 3)`` -> ``(N, C)``.
    logits: the classifier returns logits rather than probabilities.
    chunk_size: evaluate at most this many images at once (``None``: all).
    dtype: dtype of the images given to the classifier.

  Returns:
    ``((P,) fitness, (P,) target probability)``, float32.
  """
  one = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], problem)
  evaluator = Evaluator(classifier=classifier, logits=logits, chunk_size=chunk_size or genomes.shape[0],
                        dtype=jnp.dtype(dtype))
  fitness, prob, _, _ = evaluate_rows(genomes[None], one, jnp.reshape(params.parsimony, (1,)), evaluator)
  return fitness[0], prob[0]
