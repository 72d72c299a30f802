"""LIME (Ribeiro et al., 2016) as a strategy: one population of S random masks, evaluated once, and its local
linear model fitted to them.

Row 0 keeps every superpixel; every other gene is 1 with probability 0.5. The model
(:func:`~evojax_lime.strategies.lime_fit.lime_weights`) is fitted in ``tell``, in the engine's one compiled
program like any search, so the curves that score every explainer score its ranking (its weights) too.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from evojax_lime.config import GAParams
from evojax_lime.strategies.base import Features, NoParams
from evojax_lime.strategies.lime_fit import KERNEL_WIDTH, LimeFit, check_fit_options, lime_weights


def lime_samples(key: jax.Array, num_samples: int, num_genes: Any, *, length: Optional[int] = None) -> jax.Array:
  """LIME's perturbations: row 0 keeps every superpixel, other genes are 1 with probability 0.5.

  Args:
    key: PRNG key.
    num_samples: S (static).
    num_genes: K (may be traced); genes K..L-1 are False padding.
    length: static genome length L >= K; ``None`` means ``num_genes`` (then it must be static).

  Returns:
    ``(S, L)`` bool.
  """
  length = num_genes if length is None else length
  valid = jnp.arange(length) < num_genes
  bits = jax.random.bernoulli(key, 0.5, (length, num_samples)).T  # gene-major: padding never changes a draw
  return jnp.where(valid, bits.at[0].set(True), False)


@struct.dataclass
class LimeState:
  """Attributes: samples ``(S, L)`` bool; probability ``(S,)`` of each; fit: the :class:`LimeFit` of them
  (``(L,)`` leaves, 0 on padding; zeros before the samples are told); generation (0 or 1); key."""

  samples: jax.Array
  probability: jax.Array
  fit: LimeFit
  generation: jax.Array
  key: jax.Array


@dataclasses.dataclass(frozen=True)
class LimeSampling:
  """``population_size`` = S samples, asked once (run it with ``generations=0``), and the fit's options (see
  :func:`~evojax_lime.strategies.lime_fit.lime_weights`). ``importance`` is each superpixel's weight (signed);
  the curves rank the superpixels by it."""

  name: ClassVar[str] = "lime"
  options: ClassVar[frozenset[str]] = frozenset()
  features: ClassVar[Features] = Features(ranks_by_importance=True)
  population_size: int = 1000
  kernel_width: float = KERNEL_WIDTH
  alpha: float = 1.0
  num_features: Optional[int] = None
  feature_selection: str = "auto"

  def __post_init__(self):
    check_fit_options(self.num_features, self.feature_selection, self.kernel_width, self.alpha)

  def init(self, key: jax.Array, *, length: int) -> LimeState:
    s = self.population_size
    zeros = lambda *shape: np.zeros(shape, np.float32)
    fit = LimeFit(weights=zeros(length), intercept=zeros(), score=zeros(), local_prediction=zeros(),
                  used=np.zeros((length,), bool), kernel_weights=zeros(s))
    return LimeState(samples=np.zeros((s, length), bool), probability=zeros(s), fit=fit, generation=np.int32(0),
                     key=key)

  def own_params(self, rates: GAParams) -> NoParams:
    return NoParams()

  def ask(self, state: LimeState, *, num_genes: jax.Array, params: NoParams) -> tuple[LimeState, jax.Array]:
    samples = lime_samples(state.key, self.population_size, num_genes, length=state.samples.shape[1])
    return state.replace(samples=samples), samples

  def tell(self, state: LimeState, candidates: jax.Array, fitness: jax.Array, probability: jax.Array) -> LimeState:
    # Row 0 keeps every real superpixel: the rest of a row is padding, which the fit leaves out.
    fit = lime_weights(candidates, probability, kernel_width=self.kernel_width, alpha=self.alpha,
                       num_features=self.num_features, feature_selection=self.feature_selection, real=candidates[0])
    return state.replace(samples=candidates, probability=probability, fit=fit, generation=state.generation + 1)

  def best(self, state: LimeState) -> tuple[jax.Array, jax.Array, jax.Array]:
    i = jnp.argmax(state.probability)
    return state.samples[i], state.probability[i], state.probability[i]

  def scores(self, state: LimeState) -> jax.Array:
    return state.probability

  def importance(self, state: LimeState) -> jax.Array:
    return state.fit.weights
