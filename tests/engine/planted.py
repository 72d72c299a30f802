"""A classifier whose target probability is highest exactly when a planted set of superpixels is visible."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.segmentation.superpixels import grid_segments


def planted_problem(planted: tuple[int, ...], *, side: int = 32, n_segments: int = 16, num_classes: int = 3,
                    other_weight: float = 1.0):
  """Returns ``(image, labels, classifier)``.

  Every superpixel of ``image`` is a bright distinct colour; explain it with ``fill="black"`` so the classifier can tell
  which superpixels are visible. Class 0's logit is ``8 * (visible planted fraction - other_weight * visible
  other fraction)`` (fractions of pixels): its unique maximiser keeps every planted superpixel and nothing else.
  ``other_weight`` times the planted pixel count must be a whole number.
  """
  labels = grid_segments(side, side, n_segments)
  k = int(labels.max()) + 1
  rng = np.random.default_rng(0)
  colours = rng.uniform(0.3, 1.0, size=(k, 3)).astype(np.float32)
  image = colours[labels]
  in_set = np.isin(labels, planted)
  # Integer weights keep the pixel sum exact in float32 whatever order XLA sums in, so the score of an image
  # does not depend on how many images share its batch.
  n_in, n_out = int(in_set.sum()), int((~in_set).sum())
  w = jnp.asarray(np.where(in_set, n_out, -other_weight * n_in).astype(np.float32))

  def classifier(images):
    visible = (images.sum(-1) > 0.05).astype(jnp.float32)
    score = (visible * w).sum((1, 2)) * (8.0 / (n_in * n_out))
    logits = jnp.stack([score] + [jnp.zeros_like(score)] * (num_classes - 1), axis=-1)
    return jax.nn.softmax(logits, axis=-1)

  return image, labels, classifier
