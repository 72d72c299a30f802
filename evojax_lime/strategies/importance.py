"""Which genes the final population agrees on: the importance of each superpixel."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def gene_importance(population: jax.Array, fitness: jax.Array) -> jax.Array:
  """``(L,)`` how often each gene is 1 in ``population`` ``(P, L)``, weighting individuals by fitness.

  Weights are fitness minus the population minimum, so the worst individual counts for nothing and an equal
  fitness everywhere gives the plain frequency.
  """
  fit = jnp.where(jnp.isfinite(fitness), fitness, jnp.nanmin(jnp.where(jnp.isfinite(fitness), fitness, jnp.nan)))
  w = fit - fit.min()
  w = jnp.where(w.sum() > 0, w, jnp.ones_like(w))
  return (w[:, None] * population.astype(jnp.float32)).sum(0) / w.sum()
