"""Uniform, one-point and two-point crossover of pairs of parents."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from evojax_lime.strategies.operators._genes import gene_uniform, uniform_index

# (per pair draws (P, 2), per gene draws (P, L), parents a and b (P, L), K) -> (P, L) children
Recombine = Callable[[jax.Array, jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]


def _uniform(pair: jax.Array, genes: jax.Array, a: jax.Array, b: jax.Array, num_genes: jax.Array) -> jax.Array:
  del pair, num_genes  # each gene decides on its own, so padding is irrelevant
  return jnp.where(genes < 0.5, a, b)


def _cuts(pair: jax.Array, num_genes: jax.Array) -> jax.Array:
  # Cuts lie strictly inside the K real genes so both parents always contribute.
  return uniform_index(pair, jnp.maximum(num_genes, 2), low=1)


def _one_point(pair: jax.Array, genes: jax.Array, a: jax.Array, b: jax.Array, num_genes: jax.Array) -> jax.Array:
  del genes
  cut = _cuts(pair[:, :1], num_genes)
  return jnp.where(jnp.arange(a.shape[1]) < cut, a, b)


def _two_point(pair: jax.Array, genes: jax.Array, a: jax.Array, b: jax.Array, num_genes: jax.Array) -> jax.Array:
  del genes
  cuts = jnp.sort(_cuts(pair, num_genes), axis=1)
  idx = jnp.arange(a.shape[1])
  return jnp.where((idx >= cuts[:, :1]) & (idx < cuts[:, 1:]), b, a)


CROSSOVER_FNS: dict[str, Recombine] = {"uniform": _uniform, "one_point": _one_point, "two_point": _two_point}


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
  pop_size, length = parents_a.shape
  per_pair, genes = gene_uniform(key, pop_size, length, leading=3)
  return recombine(per_pair, genes, parents_a, parents_b, num_genes=num_genes, kind=kind, rate=rate)


def recombine(per_pair: jax.Array, genes: jax.Array, parents_a: jax.Array, parents_b: jax.Array, *,
              num_genes: jax.Array | int, kind: str = "uniform", rate: jax.Array | float = 0.9) -> jax.Array:
  """:func:`crossover` on given uniform [0, 1) draws: ``per_pair`` ``(P, 3)`` (whether to recombine, then two
  cuts) and ``genes`` ``(P, L)``."""
  if kind not in CROSSOVER_FNS:
    raise ValueError(f"crossover kind must be one of {', '.join(CROSSOVER_FNS)}; got {kind!r}")
  children = CROSSOVER_FNS[kind](per_pair[:, 1:], genes, parents_a, parents_b, jnp.asarray(num_genes))
  return jnp.where(per_pair[:, :1] < rate, children, parents_a)
