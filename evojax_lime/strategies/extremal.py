"""Extremal perturbations (Fong, Patrick and Vedaldi, 2019) over superpixels as a strategy, optimised with optax.

Each of the P rows holds a continuous mask ``m = sigmoid(logits)`` over the superpixels and a target area of
``k`` superpixels (rows spread over 1..K-1). Before each population the engine blends every row's mask with
the fill (:mod:`evojax_lime.evaluation.gradient`), runs the classifier forward and backward, and the strategy
takes one Adam step on

  loss = -p(target | blend(m)) + weight * mean((sort(m) - r_k)^2),

where ``r_k`` keeps the k largest values at 1 and the rest at 0 (the paper's area constraint) and ``weight``
rises linearly over the generations (an optax schedule), so the masks end near binary at their area. The
population the engine evaluates as usual is each row's mask made binary: its k largest values kept. That gives
the per-size archive and the answer exactly as for the other strategies.

A step costs P forwards (the binary masks) and P forwards and backwards (the descent); :meth:`Extremal.
num_evaluations` counts a backward as :data:`BACKWARD_COST` forwards, measured on EfficientNet-Lite0, so budgets
compare with the other strategies'.
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.strategies.base import Features, NoParams
from evojax_lime.strategies.operators import BestSoFar, best_so_far

# Seconds of a backward pass over those of a forward: 4.4 for EfficientNet-Lite0 at 224 px on this project's
# CPU (XLA's CPU backward of depthwise convolutions is slow; benchmarks/results/backward_cost_cpu.md).
BACKWARD_COST = 4.4


def area_sizes(num_genes: jax.Array, population_size: int) -> jax.Array:
  """``(P,)`` int32 target areas, spread evenly over 1..K-1: row i keeps about ``(i + 1) K / (P + 1)``."""
  k = jnp.asarray(num_genes, jnp.float32)
  sizes = jnp.round((jnp.arange(population_size) + 1) * k / (population_size + 1)).astype(jnp.int32)
  return jnp.clip(sizes, 1, num_genes - 1)


def area_loss(mask: jax.Array, size: jax.Array, real: jax.Array) -> jax.Array:
  """``mean((sort(m) - r)^2)`` over the real genes, ``r`` holding ``size`` ones then zeros (sorted descending)."""
  ordered = -jnp.sort(-jnp.where(real, mask, -1.0))  # padding last
  reference = (jnp.arange(mask.shape[0]) < size).astype(jnp.float32)
  return jnp.sum(jnp.where(real, (ordered - reference) ** 2, 0.0)) / jnp.maximum(real.sum(), 1)


def largest(logits: jax.Array, sizes: jax.Array, real: jax.Array) -> jax.Array:
  """``(P, L)`` bool: each row's ``sizes[i]`` real genes of largest logit (ties to the lower index)."""
  order = jnp.argsort(-jnp.where(real, logits, -jnp.inf), axis=-1, stable=True)
  rank = jnp.argsort(order, axis=-1)
  return (rank < sizes[:, None]) & real


@struct.dataclass
class ExtremalState(BestSoFar):
  """The fittest binary mask evaluated so far (:class:`BestSoFar`), and:

  Attributes:
    logits: ``(P, L)`` float32, each row's mask before the sigmoid.
    optimiser: optax's Adam state over ``logits``.
    sizes: ``(P,)`` int32 each row's area in superpixels.
    real: ``(L,)`` bool, the image's real genes.
    samples, fitness, probability: the last binary population and its verdicts.
    key: PRNG key.
  """

  logits: jax.Array
  optimiser: Any
  sizes: jax.Array
  real: jax.Array
  samples: jax.Array
  fitness: jax.Array
  probability: jax.Array
  key: jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class Extremal:
  """Gradient-optimised masks, one per target area.

  Attributes:
    population_size: P rows (target areas).
    learning_rate: Adam's step on the logits.
    area_weight: the area term's weight at the first descent and after ``ramp`` descents (linear between).
    ramp: descents over which the weight rises (``from_config``: the generations).
  """

  name: ClassVar[str] = "extremal"
  options: ClassVar[frozenset[str]] = frozenset({"parsimony"})
  features: ClassVar[Features] = Features(answer_rule=True)
  population_size: int = 8
  learning_rate: float = 0.3
  area_weight: tuple = (1.0, 30.0)
  ramp: int = 10

  def __post_init__(self):
    if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
      raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")
    if (len(self.area_weight) != 2 or not all(isinstance(w, (int, float)) and w >= 0 for w in self.area_weight)):
      raise ValueError(f"area_weight must be two numbers >= 0 (start, end), got {self.area_weight!r}")
    if isinstance(self.ramp, bool) or not isinstance(self.ramp, int) or self.ramp < 1:
      raise ValueError(f"ramp must be an integer >= 1, got {self.ramp!r}")

  @classmethod
  def from_config(cls, config: ELimeConfig) -> "Extremal":
    return cls(population_size=config.population_size, ramp=max(1, config.generations))

  def _optimiser(self) -> optax.GradientTransformation:
    return optax.adam(self.learning_rate)

  def num_evaluations(self, generations_run: int) -> int:
    """Forward-equivalents of a run: every population's binary masks, and one forward and backward per row
    in each generation after the first."""
    return round(self.population_size * ((generations_run + 1) + generations_run * (1 + BACKWARD_COST)))

  def init(self, key: jax.Array, *, length: int) -> ExtremalState:
    p = self.population_size
    logits = np.zeros((p, length), np.float32)
    optimiser = jax.tree_util.tree_map(np.asarray, self._optimiser().init(logits))
    return ExtremalState(
        **BestSoFar.start(length), logits=logits, optimiser=optimiser, sizes=np.ones((p,), np.int32), real=np.zeros((length,), bool),
        samples=np.zeros((p, length), bool), fitness=np.full((p,), -np.inf, np.float32),
        probability=np.zeros((p,), np.float32), key=key)

  def own_params(self, rates: GAParams) -> NoParams:
    return NoParams()

  def ask(self, state: ExtremalState, *, num_genes: jax.Array, params: NoParams) -> tuple[ExtremalState, jax.Array]:
    key, start_key = jax.random.split(state.key)
    real = jnp.arange(state.logits.shape[1]) < num_genes
    # A little noise breaks the ties of the start, so the first binary masks are random masks of their area.
    start = 0.01 * jax.random.normal(start_key, state.logits.shape)
    logits = jnp.where(state.generation == 0, start, state.logits)
    sizes = area_sizes(num_genes, self.population_size)
    state = state.replace(key=key, logits=logits, sizes=sizes, real=real)
    return state, largest(logits, sizes, real)

  def soft_masks(self, state: ExtremalState) -> jax.Array:
    """``(P, L)`` float32 in [0, 1], the masks the engine differentiates through."""
    return jnp.where(state.real, jax.nn.sigmoid(state.logits), 0.0)

  def descend(self, state: ExtremalState, probability: jax.Array, gradient: jax.Array) -> ExtremalState:
    """One Adam step from ``probability`` ``(P,)`` of the soft masks and its ``gradient`` ``(P, L)``."""
    start, end = self.area_weight
    weight = optax.linear_schedule(start, end, self.ramp)(state.generation - 1)
    mask = jax.nn.sigmoid(state.logits)
    area = jax.vmap(jax.grad(area_loss), in_axes=(0, 0, None))(mask, state.sizes, state.real)
    grad = (weight * area - gradient) * mask * (1.0 - mask)  # through the sigmoid
    grad = jnp.where(state.real, grad, 0.0)
    updates, optimiser = self._optimiser().update(grad, state.optimiser, state.logits)
    return state.replace(logits=optax.apply_updates(state.logits, updates), optimiser=optimiser)

  def tell(self, state: ExtremalState, candidates: jax.Array, fitness: jax.Array,
           probability: jax.Array) -> ExtremalState:
    return state.replace(samples=candidates, fitness=fitness, probability=probability,
                         **best_so_far(state, candidates, fitness, probability), generation=state.generation + 1)

  def best(self, state: ExtremalState) -> tuple[jax.Array, jax.Array, jax.Array]:
    return state.best()

  def scores(self, state: ExtremalState) -> jax.Array:
    return state.fitness

  def importance(self, state: ExtremalState) -> jax.Array:
    """The mean of the rows' masks: a superpixel that masks of every area keep scores near 1."""
    return jnp.where(state.real, jax.nn.sigmoid(state.logits).mean(0), 0.0)
