"""Superpixels, fill and target computed inside the compiled program (``"quickshift_jax"``, ``"slic_jax"``).

The host hands over only the image (and a target, or -1 for the top-1 class); the JAX segmentation, the fill
and the classifier's verdict on the full image are traced into the same program as the evolution, so a batch
of photos goes from pixels to explanations without a host round trip.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from evojax_lime.config import ELimeConfig
from evojax_lime.fill import make_fill
from evojax_lime.fitness import Classifier, Problem
from evojax_lime.superpixels import in_program_labels


def complete_problem(problem: Problem, classifier: Classifier, *, config: ELimeConfig, length: int, logits: bool,
                     given_fill: bool) -> tuple[Problem, jax.Array]:
  """Fills in ``problem``'s labels, K, fill (unless ``given_fill``) and target (where it is negative).

  Returns:
    The completed :class:`Problem` and ``()`` p(target | full image).
  """
  image = problem.image
  labels, num_genes = in_program_labels(image, config.segmentation, dict(config.segmentation_params))
  fill = problem.fill if given_fill else make_fill(image, labels, kind=config.fill, length=length,
                                                   blur_sigma=config.blur_sigma)
  scores = classifier(image[None].astype(jnp.dtype(config.dtype)))[0].astype(jnp.float32)
  probs = jax.nn.softmax(scores) if logits else scores
  target = jnp.where(problem.target < 0, jnp.argmax(probs), problem.target).astype(jnp.int32)
  return Problem(image=image, labels=labels, fill=fill, target=target, num_genes=num_genes), probs[target]
