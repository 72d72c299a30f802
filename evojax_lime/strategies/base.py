"""What a search strategy is: pure ``init`` / ``ask`` / ``tell`` over its own state, one row (image) at a time.

The engine's loop (:mod:`evojax_lime.engine.loop`) drives any strategy for every row of a search at once
(vmapped), with one flat evaluation of all rows' candidates between ``ask`` and ``tell``. A new strategy is a
file with a class like :class:`~evojax_lime.strategies.ga.GA`, not a new loop.

  state = strategy.init(key, length=L)
  params = strategy.own_params(rates)                                   # the rates it reads, its own type
  state, candidates = strategy.ask(state, num_genes=K, params=params)   # (P, L) bool
  state = strategy.tell(state, candidates, fitness, probability)         # (P,) each, from the evaluation

The first ``ask`` returns the initial population; the engine replaces its candidate 0 by the full image (every
real gene kept), whose verdict gives the reference probability and the top-1 target in the same evaluation.

A strategy that descends a gradient (:class:`~evojax_lime.strategies.extremal.Extremal`) also has
``soft_masks(state) -> (P, L)`` masks in [0, 1] and ``descend(state, probability, gradient) -> state``: before
each ``ask`` after the first, the engine evaluates those masks forward and backward through the classifier
(:mod:`evojax_lime.evaluation.gradient`) and hands it the result. One with ``num_evaluations(generations_run)``
counts its own cost in forwards (its backward passes).

What the engine does around the search (the answer rule, the stop on a settled answer, the order its curves
rank the superpixels in, restarts) each strategy declares in its :class:`Features`; the engine reads them, never
the strategy's name. Every strategy's explanation is scored by the same insertion and deletion curves, in the
program (the config's ``faithfulness``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol

import jax
from flax import struct

from evojax_lime.config import ELimeConfig, GAParams


@dataclasses.dataclass(frozen=True, kw_only=True)
class Features:
  """What the engine does around a strategy's search; ``answer``, ``patience`` or ``restarts`` set for a
  strategy without that feature are refused.

  Every strategy's evaluations also fill the per-size archive (the best mask of every size), from which the
  fronts are read and the answer rules choose.

  Attributes:
    answer_rule: its one answer is chosen by the config's ``answer`` rule (``knee``, ``sufficient``,
      ``fittest``); without it, the answer is the strategy's own :meth:`Strategy.best`.
    patience: the search may stop once that answer has settled (the config's ``patience``).
    ranks_by_importance: the curves (and the pruning pass) rank the superpixels by :meth:`Strategy.importance`
      alone, what the strategy explains with (LIME's ridge weights, NSGA-II's frequency across its front
      weighted by p); without it, the answer's superpixels first, then by the per-size archive, then by
      importance (:func:`~evojax_lime.evaluation.faithfulness.answer_ranking`).
    restarts: independent runs of an image combine into a consensus (``restarts``).
  """

  answer_rule: bool = False
  patience: bool = False
  ranks_by_importance: bool = False
  restarts: bool = False

  @property
  def options(self) -> frozenset[str]:
    """The config fields these features read, which a search refuses for another strategy when set away from
    the default (:func:`~evojax_lime.engine.search.strategy_for`)."""
    return frozenset(name for name, on in (("answer", self.answer_rule), ("patience", self.patience)) if on)


@struct.dataclass
class NoParams:
  """The traced rates of a strategy that reads none."""


class Strategy(Protocol):
  """A search over ``(P, L)`` bool genomes (see the module docstring).

  Attributes:
    name: how the strategy is named (``Search(strategy=name)``).
    options: the :class:`~evojax_lime.config.ELimeConfig` fields it reads besides the shared ones and those
      of its features; a search refuses a config that sets any other search option away from its default.
    features: what the engine does around its search (:class:`Features`).
    population_size: P, candidates per ``ask``.
  """

  name: ClassVar[str]
  options: ClassVar[frozenset[str]]
  features: ClassVar[Features]
  population_size: int

  @classmethod
  def from_config(cls, config: ELimeConfig) -> "Strategy": ...

  def init(self, key: jax.Array, *, length: int) -> Any:
    """The state before the initial population (numpy leaves, ``key`` aside)."""

  def own_params(self, rates: GAParams) -> Any:
    """The strategy's own params (a pytree of traced values) taken from a row's rates; :class:`NoParams` for a
    strategy that reads none."""

  def ask(self, state: Any, *, num_genes: jax.Array, params: Any) -> tuple[Any, jax.Array]:
    """``(state, (P, L) bool candidates)``, ``params`` from :meth:`own_params`; padding genes are False."""

  def tell(self, state: Any, candidates: jax.Array, fitness: jax.Array, probability: jax.Array) -> Any:
    """The state after the candidates were evaluated."""

  def best(self, state: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``((L,) genome, () fitness, () probability)``: the answer so far."""

  def scores(self, state: Any) -> jax.Array:
    """``(P,)`` the current population's fitness (its mean is recorded per generation)."""

  def importance(self, state: Any) -> jax.Array:
    """``(L,)`` float32 in [0, 1], how strongly the current population keeps each gene."""
