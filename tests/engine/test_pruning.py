"""The pruning pass over a finished search's answer (engine/pruning.py): its flips, its choice, and the pass in the
program on a planted classifier whose neutral regions must be pruned, its forwards counted."""
import chex
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.engine import pruning
from benchmarks import _ground_truth_cases as planted_cases
from tests.engine.planted import planted_problem

TOL = pruning.PRUNE_TOLERANCE


class FlipTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_one_flip_per_real_gene_in_ranking_order(self):
    answer = jnp.asarray([True, False, True, False, False, False])
    ranking = jnp.asarray([2, 0, 3, 1, 4, 5], jnp.int32)  # kept first; genes 4 and 5 are padding (K = 4)
    candidates, live = self.variant(pruning.flip_candidates, static_argnames="population_size")(
        answer, ranking, jnp.int32(4), population_size=8)
    chex.assert_shape((candidates, live), ((8, 6), (8,)))
    np.testing.assert_array_equal(live, [1, 1, 1, 1, 0, 0, 0, 0])
    flipped = np.asarray(candidates[:4] ^ answer[None])
    np.testing.assert_array_equal(flipped.argmax(-1), [2, 0, 3, 1])
    assert (flipped.sum(-1) == 1).all()

  @chex.variants(with_jit=True, without_jit=True)
  def test_more_genes_than_candidates_tries_the_first_ranked(self):
    answer = jnp.arange(10) < 2
    candidates, live = self.variant(pruning.flip_candidates, static_argnames="population_size")(
        answer, jnp.arange(10, dtype=jnp.int32), jnp.int32(10), population_size=4)
    assert bool(live.all())
    np.testing.assert_array_equal(np.asarray(candidates ^ answer[None]).argmax(-1), [0, 1, 2, 3])


class CombinedTest(chex.TestCase):

  def _flips(self, answer):
    answer = jnp.asarray(answer)
    return answer, answer[None] ^ jnp.eye(answer.shape[0], dtype=bool)

  @chex.variants(with_jit=True, without_jit=True)
  def test_drops_what_costs_nothing_and_adds_what_raises_p(self):
    answer, candidates = self._flips([True, True, True, False, False])
    # Removing gene 0 costs 0.3 (kept), gene 1 nothing (dropped), gene 2 less than the tolerance (dropped);
    # adding gene 3 raises p by 0.1 (added), gene 4 by less than the tolerance (left out).
    p = jnp.asarray([0.5, 0.8, 0.8 - TOL / 2, 0.9, 0.8 + TOL / 2])
    mask, single, single_p, needs = self.variant(pruning.combined)(answer, jnp.float32(0.8), candidates, p,
                                                                   jnp.ones(5, bool))
    np.testing.assert_array_equal(mask, [True, False, False, True, False])
    np.testing.assert_array_equal(single, [True, False, True, False, False])  # the cheapest removal
    assert float(single_p) == pytest.approx(0.8) and bool(needs)

  @chex.variants(with_jit=True, without_jit=True)
  def test_nothing_qualifies_and_flips_not_evaluated_never_count(self):
    answer, candidates = self._flips([True, True, False])
    p = jnp.asarray([0.1, 0.2, 0.99])
    live = jnp.asarray([True, True, False])  # gene 2's addition was not evaluated
    mask, single, single_p, needs = self.variant(pruning.combined)(answer, jnp.float32(0.8), candidates, p, live)
    np.testing.assert_array_equal(mask, answer)
    np.testing.assert_array_equal(single, answer)
    assert float(single_p) == pytest.approx(0.8) and not bool(needs)

  @chex.variants(with_jit=True, without_jit=True)
  def test_the_combined_mask_only_where_its_measured_p_holds(self):
    single, mask = jnp.asarray([True, False, True]), jnp.asarray([True, False, False])
    settle = self.variant(pruning.settled)
    kept, p = settle(single, jnp.float32(0.8), mask, jnp.float32(0.8 - TOL / 2), jnp.float32(0.8), jnp.bool_(True))
    np.testing.assert_array_equal(kept, mask)
    assert float(p) == pytest.approx(0.8 - TOL / 2)
    kept, p = settle(single, jnp.float32(0.8), mask, jnp.float32(0.6), jnp.float32(0.8), jnp.bool_(True))
    np.testing.assert_array_equal(kept, single)
    assert float(p) == pytest.approx(0.8)


@pytest.fixture(scope="module")
def additive_case():
  # benchmarks/ground_truth.py's additive case: 5 of 21 regions add 0.18 each to p, 3 take 0.15 away, 13 are
  # neutral (they move p not at all).
  case = next(c for c in planted_cases.cases() if c.name == "additive")
  classifier = planted_cases.planted_classifier(case)
  # A random start evaluated once: its fittest mask keeps neutral and negative regions and misses evidence.
  config = dict(fill="black", generations=0, seeding="random", init_prob=0.9, answer="fittest", parsimony=0.0,
                faithfulness=False)
  exps = {prune: el.explain(case.image, classifier, target=0, segments=case.labels, seed=0,
                            config=el.ELimeConfig(**config, prune=prune)) for prune in (False, True)}
  return case, exps


def test_the_pass_prunes_every_neutral_region(additive_case):
  case, exps = additive_case
  plain, pruned = exps[False], exps[True]
  assert set(plain.selected) - set(case.truth) - set(case.negative)  # neutral regions
  # One pass drops every neutral and negative region and adds the missing evidence.
  assert tuple(pruned.selected) == case.truth
  assert pruned.explanation_probability == pytest.approx(0.95, abs=1e-5)
  # The search's forwards, then one flip per region (21) and the combined mask (1).
  assert plain.num_evaluations == 64
  assert pruned.num_evaluations == 64 + case.num_segments + 1
  # The pass evaluates through the same program: its masks are in the per-size archive.
  assert pruned.size_probabilities[len(case.truth)] == pytest.approx(0.95, abs=1e-5)


def test_each_restart_is_pruned_before_the_consensus_and_the_curves():
  case = next(c for c in planted_cases.cases() if c.name == "additive")
  config = el.ELimeConfig(fill="black", generations=0, seeding="random", init_prob=0.9, answer="fittest",
                          parsimony=0.0, prune=True)
  exp = el.explain(case.image, planted_cases.planted_classifier(case), target=0, segments=case.labels, seed=0,
                   restarts=2, config=config)
  assert [tuple(r.selected) for r in exp.runs] == [case.truth] * 2 and tuple(exp.selected) == case.truth
  assert exp.num_evaluations == 2 * (64 + case.num_segments + 1) + 1  # two pruned runs and their consensus
  assert exp.faithfulness is not None and set(exp.faithfulness.ranking[:len(case.truth)]) == set(case.truth)


def test_prune_is_refused_by_strategies_that_do_not_read_it():
  image, labels, classifier = planted_problem((1,))
  with pytest.raises(ValueError, match="prune"):
    el.explain_batch([image], classifier, targets=[0], segments=[labels], strategy="kernelshap",
                     config=el.ELimeConfig(fill="black", prune=True))
  with pytest.raises(ValueError, match="prune must be True or False"):
    el.ELimeConfig(prune=1)
