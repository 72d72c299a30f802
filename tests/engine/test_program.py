"""What a search compiles and what its classifier receives: one trace, bounded chunks, no wasted forwards."""
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


def test_uneven_chunks_pad_only_the_last_chunk(problem):
  image, labels, clf = problem
  classifier, _, calls = _recording(clf)
  exp = el.explain(image, classifier, segments=labels, config=dataclasses.replace(BASE, population_size=64,
                                                                                  chunk_size=48))
  assert exp.num_evaluations == 256
  assert sum(calls) == 4 * 64  # a given chunk size is an upper bound: 64 rows a step in two chunks of 32


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
