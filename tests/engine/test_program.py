"""What a search compiles and what its classifier receives: bounded chunks, and exactly one forward per evaluation
or curve point."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from tests.engine.planted import planted_problem
from tests.compiles import counted_compiles

# The search's own forwards: tests/evaluation/test_faithfulness.py counts those of the curves after it.
BASE = el.ELimeConfig(population_size=16, generations=3, parsimony=0.05, fill="black", faithfulness=False)


def _recording(clf):
  """``clf`` that records the batch shape of every trace and, through a host callback, every call."""
  traced, calls = [], []

  def record(n):
    calls.append(int(n))

  def classifier(images):
    traced.append(images.shape)
    jax.debug.callback(record, images.shape[0])
    return clf(images)

  return classifier, traced, calls


@pytest.fixture(scope="module")
def problem():
  return planted_problem((1, 4), side=24, n_segments=12)


def test_classifier_traced_once_and_fed_only_chunks(problem):
  image, labels, clf = problem
  classifier, traced, calls = _recording(clf)
  cfg = dataclasses.replace(BASE, population_size=64, chunk_size=16)
  exps = el.explain_batch([image] * 3, classifier, segments=[labels] * 3, config=cfg, seeds=[0, 1, 2])
  # A given chunk size needs no memory profile: the classifier is traced once, in the program.
  assert traced == [(16, 24, 24, 3)]
  # Every chunk is 16 rows whatever the number of images: memory is bounded by one chunk.
  assert set(calls) == {16}
  assert sum(calls) == sum(e.num_evaluations for e in exps) == 3 * 64 * 4


def test_forwards_equal_evaluations_with_automatic_chunks(problem):
  image, labels, clf = problem
  classifier, _, calls = _recording(clf)
  exp = el.explain(image, classifier, segments=labels, config=dataclasses.replace(BASE, population_size=48))
  assert sum(calls) == exp.num_evaluations == 48 * 4


def test_with_curves_a_cpu_program_evaluates_one_row_a_call_and_traces_no_memory_profile(problem):
  image, labels, clf = problem
  classifier, traced, calls = _recording(clf)
  search = el.Search([image], classifier, segments=[labels], config=dataclasses.replace(BASE, faithfulness=True))
  assert search.chunk_size == 1 and traced == [(1, 24, 24, 3)]  # the profile would trace batches of 1 and 2
  exp = search.advance().explanations()[0]
  assert sum(calls) == len(calls) == exp.num_evaluations + exp.scoring_evaluations


def test_uneven_chunks_pad_only_the_last_chunk(problem):
  image, labels, clf = problem
  classifier, _, calls = _recording(clf)
  exp = el.explain(image, classifier, segments=labels, config=dataclasses.replace(BASE, population_size=64,
                                                                                  chunk_size=48))
  assert exp.num_evaluations == 256
  assert sum(calls) == 4 * 64  # a given chunk size is an upper bound: 64 rows a step in two chunks of 32


@pytest.mark.parametrize("chunk", [3, 16])
def test_forwards_are_the_evaluations_and_curve_points_of_every_chunk_size(problem, chunk):
  image, labels, clf = problem
  classifier, traced, calls = _recording(clf)
  cfg = dataclasses.replace(BASE, population_size=16, chunk_size=chunk, faithfulness=True)
  exp = el.explain(image, classifier, segments=labels, config=cfg)
  assert exp.scoring_evaluations == 2 * 8 - 1  # 8 curve steps for 16 candidates
  assert sum(calls) == exp.num_evaluations + exp.scoring_evaluations
  # One trace: the curves' count of rows varies with K, so on a CPU the chunk that divides every step's live rows
  # is one row (a given chunk size is an upper bound).
  assert [s[0] for s in traced] == [1]


def test_forwards_of_a_batch_with_restarts_and_patience(problem):
  image, labels, clf = problem
  classifier, _, calls = _recording(clf)
  cfg = dataclasses.replace(BASE, population_size=12, generations=4, chunk_size=8, patience=1, faithfulness=True)
  exps = el.explain_batch([image, image[::-1]], classifier, segments=[labels, labels[::-1]], config=cfg,
                          seeds=[0, 1], restarts=2)
  # Each run's populations, each image's consensus row and its curves.
  assert sum(calls) == sum(e.num_evaluations + e.scoring_evaluations for e in exps)
  assert all(r.generations_run < 4 for e in exps for r in e.runs)  # stopped early


@pytest.mark.parametrize("faithfulness", [False, True])
def test_forwards_of_a_front_and_of_lime_sampling(problem, faithfulness):
  image, labels, clf = problem
  chunk = 7  # 12 candidates a population: 7 + 5; 50 samples: 7 * 7 + 1
  classifier, _, calls = _recording(clf)
  cfg = el.ELimeConfig(population_size=12, generations=2, fill="black", chunk_size=chunk, faithfulness=faithfulness)
  front = el.explain_front(image, classifier, segments=labels, config=cfg)
  assert front.num_evaluations == 12 * 3
  assert sum(calls) == front.num_evaluations + front.scoring_evaluations
  assert front.scoring_evaluations == (2 * 6 - 1 if faithfulness else 0)  # K = 12: 6 curve steps for 12 rows
  calls.clear()
  lime = el.explain_lime(image, classifier, segments=labels, num_samples=50,
                         config=el.ELimeConfig(fill="black", chunk_size=chunk, faithfulness=faithfulness))
  assert lime.num_evaluations == 50
  assert sum(calls) == lime.num_evaluations + lime.scoring_evaluations
  assert lime.scoring_evaluations == (2 * 12 - 1 if faithfulness else 0)  # K = 12: exact curves for 50 rows


@pytest.mark.parametrize("faithfulness", [pytest.param(False, marks=pytest.mark.slow), True])
def test_forwards_of_kernelshap_and_of_the_extremal_masks(problem, faithfulness):
  image, labels, clf = problem
  classifier, traced, calls = _recording(clf)
  cfg = dataclasses.replace(BASE, population_size=12, generations=2, chunk_size=5, faithfulness=faithfulness)
  [exp] = el.explain_batch([image], classifier, segments=[labels], config=cfg, strategy="kernelshap")
  assert sum(calls) == exp.num_evaluations + exp.scoring_evaluations
  assert exp.scoring_evaluations == (2 * 6 - 1 if faithfulness else 0)  # K = 12: 6 curve steps for 12 rows
  # Without curves every step's live rows are a multiple of P = 12: chunks of 4, the largest divisor under 5.
  assert [s[0] for s in traced] == [1 if faithfulness else 4]
  calls.clear()
  traced.clear()
  [exp] = el.explain_batch([image], classifier, segments=[labels], config=cfg, strategy="extremal")
  # The binary masks of every population, a forward (with its backward) per mask of each later one, the curves.
  assert sum(calls) == 12 * 3 + 12 * 2 + exp.scoring_evaluations
  assert exp.scoring_evaluations == (2 * 6 - 1 if faithfulness else 0)
  # The backward too: with curves the whole program evaluates one row a call, without them chunks of 4.
  assert sorted({s[0] for s in traced}) == [1 if faithfulness else 4]


def test_the_issue_case_population_64_chunk_48(problem):
  """64 candidates a population, 3 generations, chunks of at most 48: 256 evaluations and 23 curve points
  (K = 12), and not one padded row."""
  image, labels, clf = problem
  classifier, _, calls = _recording(clf)
  cfg = dataclasses.replace(BASE, population_size=64, chunk_size=48, faithfulness=True)
  exp = el.explain(image, classifier, segments=labels, config=cfg)
  assert (exp.num_evaluations, exp.scoring_evaluations) == (256, 23)
  assert sum(calls) == 256 + 23


def test_only_the_search_program_is_compiled(problem):
  image, labels, clf = problem
  el.explain(image, clf, segments=labels, config=BASE)  # warms the host-side helpers (PRNGKey)
  fresh = lambda x: clf(x) * 1.0  # a new classifier: a new program
  with counted_compiles() as events:
    exp = el.explain(image, fresh, segments=labels, config=BASE)
  assert len(events) == 1  # no predict program, no memory probe, no fill program
  assert exp.compile_time >= events[0][1]


def test_a_blur_sigma_that_no_fill_uses_reuses_the_program(problem):
  image, labels, clf = problem
  fresh = lambda x: clf(x) * 1.0  # a classifier of its own, so only this test's programs count
  first = el.explain(image, fresh, segments=labels, config=BASE)
  with counted_compiles() as events:
    again = el.explain(image, fresh, segments=labels, config=dataclasses.replace(BASE, blur_sigma=3.0))
  assert events == [] and again.compile_time == 0.0
  np.testing.assert_array_equal(again.genome, first.genome)


def test_target_resolved_in_program_matches_the_full_image(problem):
  image, labels, clf = problem
  exp = el.explain(image, clf, segments=labels, config=BASE)
  full = np.asarray(clf(jnp.asarray(image)[None]))[0]
  assert exp.target == int(np.argmax(full))
  assert exp.original_probability == pytest.approx(float(full.max()), abs=1e-6)
  other = el.explain(image, clf, segments=labels, config=BASE, target=2)
  assert other.target == 2 and other.original_probability == pytest.approx(float(full[2]), abs=1e-6)
