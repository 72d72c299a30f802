"""Restarts: R runs in one program, their consensus, its stability, and equality with separate runs."""
import dataclasses

import jax
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.engine.loop import consensus_genomes
from evojax_lime.engine.seeds import prng_key


def consensus_genome(genomes):
  genomes = np.asarray(genomes, bool)
  return np.asarray(consensus_genomes(genomes, genomes.shape[0]))[0]


def restart_keys(seed, restarts):
  return jax.random.split(prng_key(seed), restarts)
from tests.engine.planted import planted_problem
from tests.engine.same import assert_identical as same_run

PLANTED = (0, 5, 6, 9, 15)
SMALL = el.ELimeConfig(population_size=12, generations=6, parsimony=0.05, fill="black", patience=None)


@pytest.fixture(scope="module")
def problem():
  return planted_problem(PLANTED)


def _same(a, b):
  same_run(a, b)
  assert a.best_fitness == b.best_fitness


def test_consensus_genome_majority_and_ties():
  genomes = np.array([[1, 1, 0, 0, 1],
                      [1, 0, 1, 0, 1],
                      [1, 1, 0, 0, 0],
                      [0, 0, 1, 0, 1]], bool)
  # Kept by 3, 2, 2, 0, 3 of 4 runs: exactly half (a tie) is kept.
  np.testing.assert_array_equal(consensus_genome(genomes), [1, 1, 1, 0, 1])
  np.testing.assert_array_equal(consensus_genome(genomes[:3]), [1, 1, 0, 0, 1])  # 2 of 3 needed
  np.testing.assert_array_equal(consensus_genome(genomes[:1]), genomes[0])


def test_planted_set_is_the_consensus_with_stability_one(problem):
  image, labels, clf = problem
  config = el.ELimeConfig(population_size=32, generations=30, parsimony=0.0, fill="black", answer="fittest",
                          patience=None)
  exp = el.explain(image, clf, segments=labels, config=config, seed=0, restarts=3)
  assert [tuple(r.selected) for r in exp.runs] == [PLANTED] * 3
  assert tuple(exp.selected) == PLANTED and exp.stability == 1.0
  assert exp.explanation_probability == pytest.approx(exp.runs[0].explanation_probability, abs=1e-6)
  assert exp.best_fitness == pytest.approx(exp.explanation_probability, abs=1e-6)  # parsimony 0
  assert exp.num_evaluations == 3 * config.num_evaluations + 1
  summary = exp.summary()
  assert summary["stability"] == 1.0 and [r["selected"] for r in summary["runs"]] == [list(PLANTED)] * 3
  assert summary["runs"][1]["seed"] == np.asarray(restart_keys(0, 3)[1]).tolist()


def test_consensus_is_evaluated_in_the_program(problem):
  image, labels, clf = problem
  exp = el.explain(image, clf, segments=labels, config=SMALL, seed=4, restarts=3)
  # The probability the engine gives that genome, and fitness p - parsimony * kept / K.
  p = float(el.metrics.explanation_probability(np.pad(exp.genome, (0, 16 - exp.num_segments)),
                                               el.metrics.as_problem(exp), classifier=clf))
  assert exp.explanation_probability == pytest.approx(p, abs=1e-6)
  assert exp.best_fitness == pytest.approx(p - SMALL.parsimony * exp.genome.sum() / exp.num_segments, abs=1e-6)
  genomes = np.stack([r.genome for r in exp.runs])
  expected = np.mean([float(el.metrics.jaccard(genomes[a], genomes[b])) for a, b in ((0, 1), (0, 2), (1, 2))])
  assert exp.stability == pytest.approx(expected, abs=1e-6)


def test_one_restart_is_the_plain_run(problem):
  image, labels, clf = problem
  plain = el.explain(image, clf, segments=labels, config=SMALL, seed=4)
  one = el.explain(image, clf, segments=labels, config=SMALL, seed=4, restarts=1)
  _same(plain, one)
  assert one.stability is None and one.runs == () and "stability" not in one.summary()


def test_runs_equal_separate_explains_with_the_derived_keys(problem):
  image, labels, clf = problem
  exp = el.explain(image, clf, segments=labels, config=SMALL, seed=7, restarts=3)
  keys = restart_keys(7, 3)
  np.testing.assert_array_equal(keys, jax.random.split(jax.random.PRNGKey(7), 3))
  for run, key in zip(exp.runs, keys):
    _same(run, el.explain(image, clf, segments=labels, config=SMALL, seed=key))
  assert exp.num_evaluations == 3 * SMALL.num_evaluations + 1
  np.testing.assert_array_equal(exp.genome, consensus_genome([r.genome for r in exp.runs]))


def test_batch_restarts_equal_explain_restarts(problem):
  image, labels, clf = problem
  both = el.explain_batch([image, image], clf, segments=[labels] * 2, config=SMALL, seeds=[1, 2], restarts=2,
                          params=[SMALL.ga_params(), dataclasses.replace(SMALL, parsimony=0.3).ga_params()])
  for exp, seed, config in zip(both, [1, 2], [SMALL, dataclasses.replace(SMALL, parsimony=0.3)]):
    alone = el.explain(image, clf, segments=labels, config=config, seed=seed, restarts=2)
    _same(exp, alone)
    assert exp.stability == alone.stability
    for a, b in zip(exp.runs, alone.runs):
      _same(a, b)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_restarts(problem, bad):
  image, labels, clf = problem
  with pytest.raises(ValueError, match="restarts must be an integer >= 1"):
    el.explain(image, clf, segments=labels, config=SMALL, restarts=bad)
