"""What a search strategy is: pure ``init`` / ``ask`` / ``tell`` over its own state, one row (image) at a time.

The engine's loop (:mod:`evojax_lime.engine.loop`) drives any strategy for every row of a search at once
(vmapped), with one flat evaluation of all rows' candidates between ``ask`` and ``tell``. A new strategy is a
file with a class like :class:`~evojax_lime.strategies.ga.GA`, not a new loop.

  state = strategy.init(key, length=L)
  state, candidates = strategy.ask(state, num_genes=K, params=params)   # (P, L) bool
  state = strategy.tell(state, candidates, fitness, probability)         # (P,) each, from the evaluation

The first ``ask`` returns the initial population; the engine replaces its candidate 0 by the full image (every
real gene kept), whose verdict gives the reference probability and the top-1 target in the same evaluation.

A strategy that descends a gradient (:class:`~evojax_lime.strategies.extremal.Extremal`) also has
``soft_masks(state) -> (P, L)`` masks in [0, 1] and ``descend(state, probability, gradient) -> state``: before
each ``ask`` after the first, the engine evaluates those masks forward and backward through the classifier
(:mod:`evojax_lime.evaluation.gradient`) and hands it the result. One with ``num_evaluations(generations_run)``
counts its own cost in forwards (its backward passes).
"""
from __future__ import annotations

from typing import Any, ClassVar, Protocol

import jax

from evojax_lime.config import ELimeConfig, GAParams


class Strategy(Protocol):
  """A search over ``(P, L)`` bool genomes (see the module docstring).

  Attributes:
    name: how the strategy is named (``Search(strategy=name)``).
    options: the :class:`~evojax_lime.config.ELimeConfig` fields it reads besides the shared ones; a search
      refuses a config that sets any other search option away from its default.
    population_size: P, candidates per ``ask``.
  """

  name: ClassVar[str]
  options: ClassVar[frozenset[str]]
  population_size: int

  @classmethod
  def from_config(cls, config: ELimeConfig) -> "Strategy": ...

  def init(self, key: jax.Array, *, length: int) -> Any:
    """The state before the initial population (numpy leaves, ``key`` aside)."""

  def ask(self, state: Any, *, num_genes: jax.Array, params: GAParams) -> tuple[Any, jax.Array]:
    """``(state, (P, L) bool candidates)``; padding genes are False."""

  def tell(self, state: Any, candidates: jax.Array, fitness: jax.Array, probability: jax.Array) -> Any:
    """The state after the candidates were evaluated."""

  def best(self, state: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``((L,) genome, () fitness, () probability)``: the answer so far."""

  def scores(self, state: Any) -> jax.Array:
    """``(P,)`` the current population's fitness (its mean is recorded per generation)."""

  def importance(self, state: Any) -> jax.Array:
    """``(L,)`` float32 in [0, 1], how strongly the current population keeps each gene."""
