"""Explain a classifier that is not written in JAX (numpy, torch, ...) through a host callback."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np


def host_classifier(fn: Callable[[np.ndarray], np.ndarray], *, num_classes: int) -> Callable[[jax.Array], jax.Array]:
  """Wraps a host function so the compiled engine can call it.

  Every evaluation leaves the compiled program for the host, so this is slower than a JAX classifier, but any
  model works. Create the wrapper once and reuse it: the engine caches compiled programs per classifier.

  Args:
    fn: numpy images ``(N, H, W, 3)`` float32 in [0, 1] -> scores ``(N, C)``.
    num_classes: C.

  Returns:
    A JAX function ``(N, H, W, 3) -> (N, C)`` float32.
  """
  def host(images):
    scores = np.asarray(fn(np.asarray(images, np.float32)), np.float32)
    if scores.shape != (images.shape[0], num_classes):
      raise ValueError(f"host classifier returned shape {scores.shape}, expected {(images.shape[0], num_classes)}")
    return scores

  def classifier(images: jax.Array) -> jax.Array:
    out = jax.ShapeDtypeStruct((images.shape[0], num_classes), jnp.float32)
    return jax.pure_callback(host, out, images.astype(jnp.float32), vmap_method="legacy_vectorized")

  return classifier
