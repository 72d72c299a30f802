"""Same seed -> same result; chunk size and genome padding change nothing."""
import chex
import jax
import numpy as np
import pytest

import evojax_lime as el
from tests.engine.planted import planted_problem
from tests.engine.same import assert_identical

BASE = el.ELimeConfig(population_size=24, generations=6, parsimony=0.05, fill="black")


@pytest.fixture(scope="module")
def problem():
  return planted_problem((1, 2, 7), side=24, n_segments=12)


def test_same_seed_is_bit_identical(problem):
  image, labels, clf = problem
  assert_identical(el.explain(image, clf, segments=labels, config=BASE, seed=3),
        el.explain(image, clf, segments=labels, config=BASE, seed=3))


def test_seed_as_key_equals_int_seed(problem):
  image, labels, clf = problem
  assert_identical(el.explain(image, clf, segments=labels, config=BASE, seed=3),
        el.explain(image, clf, segments=labels, config=BASE, seed=jax.random.PRNGKey(3)))


def test_different_seeds_differ(problem):
  image, labels, clf = problem
  a = el.explain(image, clf, segments=labels, config=BASE, seed=1)
  b = el.explain(image, clf, segments=labels, config=BASE, seed=2)
  assert not np.array_equal(a.mean_fitness_history, b.mean_fitness_history)


@pytest.mark.parametrize("chunk", [1, 5, 7, 24, 100])
def test_chunk_size_does_not_change_result(problem, chunk):
  image, labels, clf = problem
  import dataclasses
  # Without the curves: with them a CPU program evaluates one row a call whatever the chunk.
  base = dataclasses.replace(BASE, faithfulness=False)
  ref = el.explain(image, clf, segments=labels, config=base, seed=0)
  assert_identical(ref, el.explain(image, clf, segments=labels, config=dataclasses.replace(base, chunk_size=chunk), seed=0))


@pytest.mark.parametrize("length", [12, 16, 100])
def test_padding_does_not_change_result(problem, length):
  image, labels, clf = problem
  import dataclasses
  ref = el.explain(image, clf, segments=labels, config=BASE, seed=0)
  assert_identical(ref, el.explain(image, clf, segments=labels, config=dataclasses.replace(BASE, genome_length=length), seed=0))


def test_rates_do_not_recompile(problem):
  image, labels, clf = problem
  import dataclasses
  el.explain(image, clf, segments=labels, config=BASE, seed=0)
  again = el.explain(image, clf, segments=labels, config=dataclasses.replace(BASE, mutation_rate=0.2, parsimony=0.3),
                     seed=0)
  assert again.compile_time == 0.0


def test_early_stop_runs_fewer_generations(problem):
  image, labels, clf = problem
  import dataclasses
  cfg = dataclasses.replace(BASE, generations=200, patience=3, answer="sufficient")
  exp = el.explain(image, clf, segments=labels, config=cfg, seed=0)
  assert exp.generations_run < 200
  chex.assert_shape(exp.fitness_history, (exp.generations_run + 1,))
  assert exp.num_evaluations == BASE.population_size * (exp.generations_run + 1)
  # It stopped because the answer (the smallest size more probable than the image) did not change in the last
  # `patience` generations, and had changed the generation before.
  def answer_at(t):
    beats = np.flatnonzero(exp.size_history[t, 1:exp.num_segments] > exp.original_probability) + 1
    return (beats[0], exp.size_history[t, beats[0]]) if beats.size else (None, exp.fitness_history[t])
  assert all(answer_at(-1 - i) == answer_at(-1) for i in range(cfg.patience + 1))
  if exp.generations_run > cfg.patience:
    assert answer_at(-2 - cfg.patience) != answer_at(-1)
  assert answer_at(-1) == (int(exp.genome.sum()), exp.explanation_probability)
  assert np.isfinite(exp.fitness_history).all()
