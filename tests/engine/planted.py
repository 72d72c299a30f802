"""A classifier whose target probability is highest exactly when a planted set of superpixels is visible."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.segmentation.superpixels import grid_segments


def planted_scores(w, scale, other_classes, images):
  """Class 0's probability rises with the visible planted pixels.

  Args:
    w: ``(H, W)`` float32 weight of each pixel when visible.
    scale: ``()`` float32 factor of the weighted sum (class 0's logit).
    other_classes: ``(C - 1,)``; only its shape is read: the classes whose logit is 0.
    images: ``(N, H, W, 3)``.

  Returns:
    ``(N, C)`` probabilities.
  """
  visible = (images.sum(-1) > 0.05).astype(jnp.float32)
  score = (visible * w).sum((1, 2)) * scale
  logits = jnp.stack([score] + [jnp.zeros_like(score)] * other_classes.shape[0], axis=-1)
  return jax.nn.softmax(logits, axis=-1)


def planted_problem(planted: tuple[int, ...], *, side: int = 32, n_segments: int = 16, num_classes: int = 3,
                    other_weight: float = 1.0):
  """Returns ``(image, labels, classifier)``.

  Every superpixel of ``image`` is a bright distinct colour; explain it with ``fill="black"`` so the classifier can tell
  which superpixels are visible. Class 0's logit is ``8 * (visible planted fraction - other_weight * visible
  other fraction)`` (fractions of pixels): its unique maximiser keeps every planted superpixel and nothing else.
  ``other_weight`` times the planted pixel count must be a whole number.

  The classifier is a ``jax.tree_util.Partial`` of :func:`planted_scores` over arrays only: its weights are
  arguments of the search program, not constants, so every planted problem of the same shapes and search options
  runs one compiled program (from the compilation cache and the engine's program store).
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
  # The float32 rounding of the Python quotient, as a weakly typed constant was rounded when it was closed over.
  scale = jnp.asarray(np.float32(8.0 / (n_in * n_out)))
  classifier = jax.tree_util.Partial(planted_scores, w, scale, jnp.zeros((num_classes - 1,), jnp.float32))
  return image, labels, classifier
