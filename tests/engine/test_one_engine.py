"""Every explainer runs through the one Search: one compile each, fronts batched, the program cache weak."""
import gc
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from tests.engine.planted import planted_problem
from tests.compiles import counted_compiles

SMALL = el.ELimeConfig(population_size=12, generations=4, fill="black", segmentation="grid")


@pytest.fixture(scope="module")
def problem():
  return planted_problem((1, 2, 7), side=24, n_segments=12)


def _count_compiles(fn):
  """Number of executables (compiled, or loaded from the tests' cache) ``fn()`` asks XLA for."""
  with counted_compiles() as events:
    fn()
  return len(events)


def _fresh(clf):
  return lambda images: clf(images)  # a new function object: nothing cached for it yet


@pytest.mark.parametrize("call", ["explain", "restarts", "front", "fronts"])
def test_each_explainer_compiles_exactly_once(problem, call):
  image, labels, clf = problem
  el.explain(image, clf, segments=labels, config=SMALL, restarts=4)  # warms the host-side helpers (keys)
  fresh = _fresh(clf)
  run = {"explain": lambda: el.explain(image, fresh, segments=labels, config=SMALL),
         "restarts": lambda: el.explain(image, fresh, segments=labels, config=SMALL, restarts=4),
         "front": lambda: el.explain_front(image, fresh, segments=labels, config=SMALL),
         "fronts": lambda: el.Search([image, image[::-1]], fresh, strategy="nsga2", segments=[labels, labels[::-1]],
                                     config=SMALL, seeds=[0, 1]).advance().fronts()}[call]
  assert _count_compiles(run) == 1


def test_batch_of_fronts_equals_fronts_one_at_a_time_and_reports_progress(problem):
  image, labels, clf = problem
  other = image[:, ::-1]
  reports = []
  fronts = el.Search([image, other], clf, strategy="nsga2", segments=[labels, labels[:, ::-1]], config=SMALL,
                     seeds=[3, 4]).advance(progress=lambda g, b: reports.append(g)).fronts()
  singles = [el.explain_front(image, clf, segments=labels, config=SMALL, seed=3),
             el.explain_front(other, clf, segments=labels[:, ::-1], config=SMALL, seed=4)]
  for batched, single in zip(fronts, singles):
    np.testing.assert_array_equal(batched.probabilities, single.probabilities)
    np.testing.assert_array_equal(batched.genomes, single.genomes)
  assert reports and reports[-1] == SMALL.generations


def test_options_a_strategy_ignores_are_refused(problem):
  image, labels, clf = problem
  import dataclasses
  for field, value in (("patience", 5), ("num_elite", 0), ("tournament_size", 5), ("parsimony", 0.1)):
    with pytest.raises(ValueError, match=f"nsga2 strategy does not use {field}"):
      el.explain_front(image, clf, segments=labels, config=dataclasses.replace(SMALL, **{field: value}))
  with pytest.raises(ValueError, match="restarts are for the ga strategy"):
    el.Search([image], clf, strategy="nsga2", segments=[labels], config=SMALL, restarts=2)


def test_the_archive_holds_the_best_mask_of_every_size(problem):
  image, labels, clf = problem
  exp = el.explain(image, clf, segments=labels, config=el.ELimeConfig(population_size=32, generations=20,
                                                                       fill="black", parsimony=0.05))
  k = exp.num_segments
  assert exp.size_probabilities.shape == (k + 1,) and exp.size_genomes.shape == (k + 1, k)
  for size in np.flatnonzero(~np.isnan(exp.size_probabilities)):
    genome = exp.size_genomes[size]
    assert genome.sum() == size
    p = float(el.metrics.explanation_probability(np.pad(genome, (0, 16 - k)), el.metrics.as_problem(exp),
                                                 classifier=clf))
    assert p == pytest.approx(exp.size_probabilities[size], abs=1e-6)
  # The planted set (3 superpixels) is the most probable mask of at most 3.
  assert tuple(np.flatnonzero(exp.best_of_size(3))) == (1, 2, 7)
  assert exp.size_probabilities[k] == pytest.approx(exp.original_probability, abs=1e-6)


def test_dropping_the_model_frees_its_programs_and_weights(problem):
  image, labels, _ = problem
  weights = jnp.ones((3,)) * 8.0

  def make():
    w = jnp.asarray(np.arange(3, dtype=np.float32))
    clf = jax.tree_util.Partial(lambda w, x: jax.nn.softmax(x.mean((1, 2)) * w, -1), w)
    return clf, weakref.ref(w)

  clf, weights_ref = make()
  el.explain(image, clf, segments=labels, config=SMALL)
  assert el.engine.cache.cache_size() > 0
  clf_ref = weakref.ref(clf)
  del clf
  gc.collect()
  assert clf_ref() is None and weights_ref() is None
  del weights


def test_clear_caches_empties_the_cache(problem):
  image, labels, clf = problem
  el.explain(image, clf, segments=labels, config=SMALL)
  assert el.engine.cache.cache_size() > 0
  el.clear_caches()
  assert el.engine.cache.cache_size() == 0
  again = el.explain(image, clf, segments=labels, config=SMALL)
  assert again.compile_time > 0


def test_a_given_chunk_size_is_an_upper_bound_with_no_padding(problem):
  image, labels, clf = problem
  import dataclasses
  seen = []

  def counting(images):
    seen.append(images.shape[0])
    return clf(images)

  # The search's own forwards (tests/evaluation/test_faithfulness.py counts those of the curves after it).
  config = dataclasses.replace(SMALL, population_size=64, generations=2, chunk_size=48, faithfulness=False)
  search = el.Search([image], counting, segments=[labels], config=config)
  assert search.chunk_size == 32
  counted = []
  host = el.host_classifier(lambda x: (counted.append(len(x)), np.asarray(clf(jnp.asarray(x))))[1], num_classes=3)
  exp = el.explain(image, host, segments=labels, config=config)
  assert sum(counted) == exp.num_evaluations == 64 * 3
