"""KernelSHAP (Lundberg and Lee, 2017) as a strategy: LIME's sampling with the Shapley kernel, solved in JAX.

Like :class:`~evojax_lime.strategies.lime_sampling.LimeSampling` it asks for random masks and fits a linear model
to their probabilities; it differs in the weighting and the solve. The Shapley kernel gives a coalition of k of
K superpixels the weight ``(K - 1) / (C(K, k) k (K - k))``; as in ``shap`` and captum, the weight is put into the
sampling instead (the size k is drawn with probability proportional to ``(K - 1) / (k (K - k))``, then k
superpixels uniformly), so every sample counts once. The efficiency constraint is exact: the empty mask and the
full image are evaluated in the first population, the intercept is ``f(empty)`` and the values sum to
``f(image) - f(empty)`` (captum approximates both with a weight of 10^6 on those two rows).

Each population adds its samples to the normal equations held in the state, so a run of P x (G + 1) samples
in G + 1 populations gives the values of all of them, with progress, pauses and saving between populations.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.strategies.base import Features, NoParams
from evojax_lime.strategies.operators import BestSoFar, best_so_far

_HI = jax.lax.Precision.HIGHEST  # the normal equations in full float32 on accelerators too
_RIDGE = 1e-6


def shapley_coalitions(key: jax.Array, num_samples: int, num_genes: jax.Array, *, length: int) -> jax.Array:
  """``(S, L)`` bool coalitions of 1 to K - 1 of the K real genes, sized by the Shapley kernel's mass.

  Args:
    key: PRNG key.
    num_samples: S (static).
    num_genes: K >= 2 (may be traced); genes K..L-1 are False padding.
    length: static genome length L >= K.
  """
  k_size, k_pick = jax.random.split(key)
  sizes = jnp.arange(length)
  k = jnp.asarray(num_genes, jnp.float32)
  valid_size = (sizes >= 1) & (sizes < num_genes)
  # (K - 1) / (k (K - k)) summed over the C(K, k) coalitions of size k: each coalition then has its kernel weight.
  # Drawn by the inverse of the cumulative mass, so a longer padding leaves the draws as they are.
  mass = jnp.where(valid_size, 1.0 / (jnp.maximum(sizes, 1) * jnp.maximum(k - sizes, 1)), 0.0)
  cumulative = jnp.cumsum(mass) / mass.sum()
  u = jax.random.uniform(k_size, (num_samples,))
  size = jnp.clip((cumulative[None, :] <= u[:, None]).sum(1), 1, num_genes - 1)
  valid = sizes < num_genes
  noise = jax.random.uniform(k_pick, (length, num_samples)).T  # gene-major: padding never changes a draw
  noise = jnp.where(valid, noise, jnp.inf)
  threshold = jnp.take_along_axis(jnp.sort(noise, axis=1), (size - 1)[:, None], axis=1)
  return (noise <= threshold) & valid


def constrained_values(gram: jax.Array, zy: jax.Array, z: jax.Array, empty: jax.Array, full: jax.Array,
                       real: jax.Array) -> jax.Array:
  """The Shapley values: weighted least squares with intercept ``empty`` and values summing to ``full - empty``.

  Minimises ``sum_i (y_i - empty - z_i . phi)^2`` subject to ``sum(phi) = full - empty`` through its KKT system
  ``[[Z^T Z, 1], [1^T, 0]] [phi; lambda] = [Z^T y - empty Z^T 1; full - empty]``; padding genes get a unit
  diagonal and a zero right-hand side, so their value is 0 and the system keeps one shape. A ridge of
  :data:`_RIDGE` (relative to the largest diagonal entry) keeps the system regular where the samples cannot
  tell genes apart (too few samples, or genes always kept together), so an LU solve suffices: XLA's CPU least
  squares (an SVD) took over a second for K = 64.

  Args:
    gram: ``(L, L)`` ``Z^T Z`` over the samples.
    zy: ``(L,)`` ``Z^T y``.
    z: ``(L,)`` ``Z^T 1``, how often each gene was kept.
    empty, full: ``()`` f(no superpixel), f(the image).
    real: ``(L,)`` bool, the real genes (the rest is padding).

  Returns:
    ``(L,)`` float32.
  """
  length = gram.shape[0]
  both = real[:, None] & real[None, :]
  # Scaled to the largest diagonal so the constraint row is of the same magnitude as the samples' rows.
  scale = jnp.maximum(jnp.max(jnp.diag(gram)), 1.0)
  top = jnp.where(both, gram / scale, 0.0) + jnp.diag(jnp.where(real, _RIDGE, 1.0))
  ones = real.astype(jnp.float32)
  system = jnp.block([[top, ones[:, None]], [ones[None, :], jnp.zeros((1, 1))]])
  rhs = jnp.concatenate([jnp.where(real, (zy - empty * z) / scale, 0.0), (full - empty)[None]])
  solution = jnp.linalg.solve(system, rhs)
  return jnp.where(real, solution[:length], 0.0).astype(jnp.float32)


@struct.dataclass
class KernelShapState(BestSoFar):
  """The fittest coalition evaluated so far (:class:`BestSoFar`), and:

  Attributes:
    samples: ``(P, L)`` bool, the last population.
    fitness, probability: ``(P,)`` float32 of each.
    gram, zy, z: the normal equations so far (``Z^T Z``, ``Z^T y``, ``Z^T 1``) over the sampled coalitions.
    empty, full: ``()`` f(no superpixel) and f(image), from the first population (NaN before).
    real: ``(L,)`` bool, the image's real genes (from the first population's full image).
    values: ``(L,)`` float32 Shapley value of each gene (0 before the first tell).
    key: PRNG key for the next ask.
  """

  samples: jax.Array
  fitness: jax.Array
  probability: jax.Array
  gram: jax.Array
  zy: jax.Array
  z: jax.Array
  empty: jax.Array
  full: jax.Array
  real: jax.Array
  values: jax.Array
  key: jax.Array


@dataclasses.dataclass(frozen=True)
class KernelShap:
  """KernelSHAP over P x (G + 1) coalitions; the first population holds the full image and the empty mask.

  ``importance`` is each superpixel's Shapley value (signed, not in [0, 1]); the answer is chosen from the
  evaluated coalitions by the config's ``answer`` rule like the GA's (``parsimony`` weighs its fitness).
  """

  name: ClassVar[str] = "kernelshap"
  options: ClassVar[frozenset[str]] = frozenset({"parsimony"})
  features: ClassVar[Features] = Features(answer_rule=True)
  population_size: int = 64

  @classmethod
  def from_config(cls, config: ELimeConfig) -> "KernelShap":
    return cls(population_size=config.population_size)

  def init(self, key: jax.Array, *, length: int) -> KernelShapState:
    p = self.population_size
    return KernelShapState(
        **BestSoFar.start(length), samples=np.zeros((p, length), bool), fitness=np.full((p,), -np.inf, np.float32),
        probability=np.zeros((p,), np.float32), gram=np.zeros((length, length), np.float32),
        zy=np.zeros((length,), np.float32), z=np.zeros((length,), np.float32), empty=np.float32(np.nan),
        full=np.float32(np.nan), real=np.zeros((length,), bool), values=np.zeros((length,), np.float32), key=key)

  def own_params(self, rates: GAParams) -> NoParams:
    return NoParams()

  def ask(self, state: KernelShapState, *, num_genes: jax.Array,
          params: NoParams) -> tuple[KernelShapState, jax.Array]:
    key, sample_key = jax.random.split(state.key)
    samples = shapley_coalitions(sample_key, self.population_size, num_genes, length=state.samples.shape[1])
    # The first population's rows 0 and 1 are the end points of the efficiency constraint: the engine puts the
    # full image in row 0; row 1 is the empty mask.
    ends = samples.at[0].set(jnp.arange(samples.shape[1]) < num_genes).at[1].set(False)
    samples = jnp.where(state.generation == 0, ends, samples)
    return state.replace(key=key), samples

  def tell(self, state: KernelShapState, candidates: jax.Array, fitness: jax.Array,
           probability: jax.Array) -> KernelShapState:
    initial = state.generation == 0
    # The end points fix the intercept and the sum; they take no part in the least squares.
    sample = jnp.where(initial, jnp.arange(candidates.shape[0]) >= 2, True)
    z = (candidates & sample[:, None]).astype(jnp.float32)
    y = jnp.where(sample, probability, 0.0)
    gram = state.gram + jnp.matmul(z.T, z, precision=_HI)
    zy = state.zy + jnp.matmul(z.T, y, precision=_HI)
    kept = state.z + z.sum(0)
    full = jnp.where(initial, probability[0], state.full)
    empty = jnp.where(initial, probability[1], state.empty)
    real = jnp.where(initial, candidates[0], state.real)  # the first population's row 0 keeps every real gene
    values = constrained_values(gram, zy, kept, empty, full, real)
    return state.replace(
        samples=candidates, fitness=fitness, probability=probability, gram=gram, zy=zy, z=kept, empty=empty,
        full=full, real=real, values=values, **best_so_far(state, candidates, fitness, probability),
        generation=state.generation + 1)

  def best(self, state: KernelShapState) -> tuple[jax.Array, jax.Array, jax.Array]:
    return state.best()

  def scores(self, state: KernelShapState) -> jax.Array:
    return state.fitness

  def importance(self, state: KernelShapState) -> jax.Array:
    return state.values
