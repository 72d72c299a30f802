"""Uniform, one-point and two-point crossover of pairs of parents."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from evojax_lime.strategies.operators._genes import gene_uniform, per_individual


def _uniform(key: jax.Array, a: jax.Array, b: jax.Array, num_genes: jax.Array) -> jax.Array:
  del num_genes  # each gene decides on its own, so padding is irrelevant
  return jnp.where(gene_uniform(key, a.shape[0]) < 0.5, a, b)


def _one_point(key: jax.Array, a: jax.Array, b: jax.Array, num_genes: jax.Array) -> jax.Array:
  # The cut lies strictly inside the K real genes so both parents always contribute.
  cut = jax.random.randint(key, (), 1, jnp.maximum(num_genes, 2))
  return jnp.where(jnp.arange(a.shape[0]) < cut, a, b)


def _two_point(key: jax.Array, a: jax.Array, b: jax.Array, num_genes: jax.Array) -> jax.Array:
  cuts = jnp.sort(jax.random.randint(key, (2,), 1, jnp.maximum(num_genes, 2)))
  idx = jnp.arange(a.shape[0])
  return jnp.where((idx >= cuts[0]) & (idx < cuts[1]), b, a)


CROSSOVER_FNS: dict[str, Callable] = {"uniform": _uniform, "one_point": _one_point, "two_point": _two_point}


def crossover(key: jax.Array, parents_a: jax.Array, parents_b: jax.Array, *, num_genes: jax.Array | int,
              kind: str = "uniform", rate: jax.Array | float = 0.9) -> jax.Array:
  """One child per pair of parents.

  With probability ``rate`` the child recombines its parents (every gene comes from one of them); otherwise it
  is a copy of ``parents_a``.

  Args:
    key: PRNG key.
    parents_a, parents_b: ``(P, L)`` bool genomes, row i of each forming pair i.
    num_genes: K, the number of real genes (cut points fall inside them).
    kind: ``"uniform"``, ``"one_point"`` or ``"two_point"`` (static).
    rate: crossover probability per pair.

  Returns:
    ``(P, L)`` bool children.
  """
  if kind not in CROSSOVER_FNS:
    raise ValueError(f"crossover kind must be one of {', '.join(CROSSOVER_FNS)}; got {kind!r}")
  recombine = CROSSOVER_FNS[kind]

  def child(k, a, b):
    k_do, k_mix = jax.random.split(k)
    return jnp.where(jax.random.uniform(k_do) < rate, recombine(k_mix, a, b, num_genes), a)

  return per_individual(child, key, parents_a, parents_b)
