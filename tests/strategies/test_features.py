"""Each strategy declares its features and its own params; the engine decides by them, never by a name."""
import dataclasses
from typing import ClassVar

import jax
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.engine.search import schedule_for
from evojax_lime.strategies import GA, NSGA2, STRATEGIES, LimeSampling
from evojax_lime.strategies.base import Features, NoParams
from tests.engine.planted import planted_problem

ALL = [*STRATEGIES.values(), LimeSampling]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_every_strategy_declares_features_and_its_own_params(cls):
  assert isinstance(cls.features, Features)
  strategy = cls(population_size=8)
  params = strategy.own_params(el.ELimeConfig().ga_params())
  assert jax.tree_util.tree_structure(params) is not None
  # Only the genetic algorithms read the rates; the others get params of their own type, with no leaves.
  breeds = isinstance(params, el.GAParams)
  assert breeds == (cls.name in ("ga", "nsga2"))
  if not breeds:
    assert isinstance(params, NoParams) and jax.tree_util.tree_leaves(params) == []


def test_the_schedule_follows_the_features():
  config = el.ELimeConfig(patience=3, answer="sufficient")
  rules = {name: schedule_for(cls(population_size=8), config, 1) for name, cls in STRATEGIES.items()}
  assert (rules["ga"].answer, rules["ga"].patience, rules["ga"].faithfulness) == ("sufficient", 3, True)
  assert (rules["nsga2"].answer, rules["nsga2"].patience, rules["nsga2"].faithfulness) == ("fittest", None, True)
  assert (rules["kernelshap"].answer, rules["kernelshap"].patience) == ("sufficient", None)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_every_strategy_honours_faithfulness(cls):
  strategy = cls(population_size=8)
  for on in (True, False):
    assert schedule_for(strategy, el.ELimeConfig(faithfulness=on), 1).faithfulness is on


@dataclasses.dataclass(frozen=True)
class Renamed(GA):
  """The GA under another name: what the engine does around it must not change."""

  name: ClassVar[str] = "renamed"


def test_a_strategy_is_judged_by_its_features_not_its_name():
  image, labels, clf = planted_problem((1, 2), side=16, n_segments=9)
  config = el.ELimeConfig(population_size=8, generations=2, fill="black")
  runs = [el.Search([image], clf, strategy=s, segments=[labels], config=config, restarts=2).advance().explanations()[0]
          for s in (GA.from_config(config), Renamed.from_config(config))]
  ga, renamed = runs
  assert renamed.stability is not None and renamed.faithfulness is not None  # consensus and curves
  np.testing.assert_array_equal(ga.genome, renamed.genome)
  assert ga.explanation_probability == renamed.explanation_probability


def test_nsga2_importance_is_how_often_its_front_keeps_each_gene_weighted_by_p():
  strategy = NSGA2(population_size=4)
  state = strategy.init(jax.random.PRNGKey(0), length=3).replace(
      population=np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]], bool),
      probability=np.array([0.5, 0.2, 0.9, -np.inf], np.float32), rank=np.array([0, 0, 1, 0], np.int32))
  expected = (0.5 * np.array([1, 0, 1]) + 0.2 * np.array([1, 1, 0])) / 0.7  # rank 1 and p = -inf count for nothing
  for importance in (strategy.importance, jax.jit(strategy.importance)):
    np.testing.assert_allclose(importance(state), expected, rtol=1e-6)


def test_a_strategy_that_ranks_by_importance_has_its_curves_in_that_order():
  image, labels, clf = planted_problem((1, 2), side=16, n_segments=9)
  config = el.ELimeConfig(population_size=8, generations=1, fill="black")
  exp = el.Search([image], clf, strategy="nsga2", segments=[labels], config=config).advance().explanations()[0]
  np.testing.assert_array_equal(exp.faithfulness.ranking, np.argsort(-exp.importance, kind="stable"))
  assert exp.scores()["insertion_auc"] is not None
