"""Continuous masks -> blended images -> classifier -> target probability and its gradient, in chunks.

For strategies that descend a gradient (:mod:`evojax_lime.strategies.extremal`): each superpixel shows
``m * image + (1 - m) * fill`` for a mask value ``m`` in [0, 1], so a mask of 0s and 1s gives the masked image of
:func:`~evojax_lime.evaluation.masking.masked_batch`. Each row costs one forward and one backward pass.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from evojax_lime.evaluation.fitness import Evaluator, Problem, target_probability


def blended_batch(masks: jax.Array, image: jax.Array, labels: jax.Array, fill: jax.Array) -> jax.Array:
  """``(N, L)`` masks in [0, 1] -> ``(N, H, W, 3)`` images, each superpixel ``m * image + (1 - m) * fill``."""
  m = masks[:, labels][..., None]
  return fill[None] + m * (image - fill)[None]


def probability_and_gradient(masks: jax.Array, problems: Problem, evaluator: Evaluator,
                             live: jax.Array) -> tuple[jax.Array, jax.Array]:
  """p(target | blended image) and its gradient with respect to the mask, for ``B`` rows of ``P`` masks.

  Rows are evaluated as one flat list in chunks of at most ``evaluator.chunk_size`` (a backward pass holds the
  chunk's activations: about a forward's memory again); chunks holding no live row are skipped, and an exact
  evaluator's chunks divide the population, so no chunk mixes live and finished rows.

  Args:
    masks: ``(B, P, L)`` float32 in [0, 1].
    problems: :class:`Problem` with a leading axis ``B``, targets resolved.
    evaluator: the classifier and how to call it.
    live: ``(B, P)`` bool, the masks whose values are wanted (the others get 0 and a zero gradient).

  Returns:
    ``((B, P) probability, (B, P, L) gradient)``, float32.
  """
  rows, pop, length = masks.shape
  n = rows * pop
  size = evaluator.size(n, pop)  # the live masks are P per unfinished row
  chunks = -(-n // size)
  flat = jnp.pad(masks.reshape(n, length), ((0, chunks * size - n), (0, 0)))
  flat_live = jnp.pad(live.reshape(n), (0, chunks * size - n))
  image_of_row = jnp.minimum(jnp.arange(chunks * size) // pop, rows - 1)

  def chunk(index):
    which = jax.lax.dynamic_slice_in_dim(image_of_row, index * size, size)
    m = jax.lax.dynamic_slice_in_dim(flat, index * size, size)

    def total(m):
      images = jax.vmap(lambda mi, i: blended_batch(mi[None], problems.image[i], problems.labels[i],
                                                    problems.fill[i])[0])(m, which)
      scores = evaluator.classifier(evaluator.constrain(images.astype(evaluator.dtype)))
      p = target_probability(scores, problems.target[which], logits=evaluator.logits)
      return p.sum(), p  # rows are independent: the gradient of the sum is each row's own

    grad, p = jax.grad(total, has_aux=True)(m)
    return p, grad

  def body(index, outputs):
    p, grad = outputs
    any_live = jax.lax.dynamic_slice_in_dim(flat_live, index * size, size).any()
    cp, cg = jax.lax.cond(any_live, chunk,
                          lambda _: (jnp.zeros((size,), jnp.float32), jnp.zeros((size, length), jnp.float32)), index)
    return (jax.lax.dynamic_update_slice_in_dim(p, cp.astype(jnp.float32), index * size, 0),
            jax.lax.dynamic_update_slice_in_dim(grad, cg.astype(jnp.float32), index * size, 0))

  p, grad = jax.lax.fori_loop(0, chunks, body, (jnp.zeros((chunks * size,), jnp.float32),
                                                jnp.zeros((chunks * size, length), jnp.float32)))
  keep = flat_live[:n]
  return (jnp.where(keep, p[:n], 0.0).reshape(rows, pop),
          jnp.where(keep[:, None], grad[:n], 0.0).reshape(rows, pop, length))
