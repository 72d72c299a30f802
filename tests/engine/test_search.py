"""A search driven in segments, saved and resumed gives the uninterrupted result; seeds; errors mid-run."""
import dataclasses
import functools
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from tests.engine.planted import planted_problem
from tests.engine.same import assert_identical

BASE = el.ELimeConfig(population_size=16, generations=8, parsimony=0.05, fill="black")


@pytest.fixture(scope="module")
def problem():
  return planted_problem((0, 3, 5), side=24, n_segments=12)


def test_segments_save_and_resume_equal_one_run(problem, tmp_path):
  image, labels, clf = problem
  whole = el.explain_batch([image, image], clf, segments=[labels] * 2, config=BASE, seeds=[1, 2])
  search = el.Search([image, image], clf, segments=[labels] * 2, config=BASE, seeds=[1, 2])
  search.advance(1).advance(3)
  assert search.steps == 4 and not search.done
  search.save(tmp_path / "state.msgpack")
  resumed = el.Search([image, image], clf, segments=[labels] * 2, config=BASE, seeds=[1, 2])
  resumed.restore(tmp_path / "state.msgpack")
  assert resumed.compile_time == 0.0 and resumed.steps == 4
  for a, b in zip(whole, resumed.advance().explanations()):
    assert_identical(a, b)
  assert resumed.done


def test_restore_refuses_damaged_or_foreign_states(problem, tmp_path):
  image, labels, clf = problem
  search = el.Search([image], clf, segments=[labels], config=BASE).advance(2)
  path = tmp_path / "state.msgpack"
  search.save(path)
  data = path.read_bytes()
  (tmp_path / "cut").write_bytes(data[: len(data) // 2])
  (tmp_path / "other").write_bytes(b"not a state")
  for name in ("cut", "other"):
    with pytest.raises(ValueError, match="state"):
      el.Search([image], clf, segments=[labels], config=BASE).restore(tmp_path / name)
  bigger = dataclasses.replace(BASE, population_size=32)
  with pytest.raises(ValueError, match="another search"):
    el.Search([image], clf, segments=[labels], config=bigger).restore(path)


@pytest.mark.parametrize("patience", [None, 3])
def test_progress_changes_nothing(problem, patience):
  image, labels, clf = problem
  cfg = dataclasses.replace(BASE, generations=60, patience=patience)
  reports = []
  with_bar = el.explain(image, clf, segments=labels, config=cfg, progress=lambda g, b: reports.append((g, b)))
  assert_identical(with_bar, el.explain(image, clf, segments=labels, config=cfg))
  gens = [g for g, _ in reports]
  assert gens[0] == 0 and gens == sorted(gens) and len(reports) <= 22
  assert gens[-1] == with_bar.generations_run and reports[-1][1] == with_bar.fitness_history[-1]


def test_concurrent_runs_with_progress_each_get_their_own_reports(problem):
  image, labels, clf = problem
  reports = {0: [], 1: []}
  results = {}

  def run(i):
    results[i] = el.explain(image, clf, segments=labels, config=BASE, seed=i,
                            progress=lambda g, b: reports[i].append((threading.get_ident(), g, b)))

  threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  for i in (0, 1):
    assert {tid for tid, _, _ in reports[i]} == {threads[i].ident}
    assert reports[i][-1][2] == results[i].fitness_history[-1]


def test_batch_seeds_as_keys_integers_and_arrays(problem):
  image, labels, clf = problem
  keys = jax.random.split(jax.random.PRNGKey(7), 3)
  by_key = el.explain_batch([image] * 3, clf, segments=[labels] * 3, config=BASE, seeds=keys)
  for key, got in zip(keys, by_key):
    assert_identical(el.explain(image, clf, segments=labels, config=BASE, seed=key), got)
  typed = el.explain_batch([image] * 3, clf, segments=[labels] * 3, config=BASE,
                           seeds=jax.random.split(jax.random.key(7), 3))
  for a, b in zip(by_key, typed):
    assert_identical(a, b)
  ints = el.explain_batch([image] * 3, clf, segments=[labels] * 3, config=BASE, seeds=np.array([4, 5, 6], np.uint32))
  for seed, got in zip((4, 5, 6), ints):
    assert_identical(el.explain(image, clf, segments=labels, config=BASE, seed=seed), got)
  with pytest.raises(ValueError, match="ambiguous"):
    el.explain_batch([image] * 2, clf, segments=[labels] * 2, config=BASE, seeds=np.array([1, 2], np.uint32))
  with pytest.raises(ValueError, match="one entry per image"):
    el.explain_batch([image] * 3, clf, segments=[labels] * 3, config=BASE, seeds=np.arange(4))


def test_nan_in_the_middle_of_a_run_raises(problem):
  image, labels, clf = problem

  def sometimes_nan(images):
    # NaN only for sparse masks, which the initial population hardly holds but later generations reach.
    few = (images.sum((1, 2, 3)) < 0.3 * image.sum())[:, None]
    return jnp.where(few, jnp.nan, clf(images))

  with pytest.raises(ValueError, match="NaN or infinite values for a masked image"):
    el.explain(image, sometimes_nan, segments=labels, config=dataclasses.replace(BASE, generations=30))


def test_host_classifier_in_a_batch_equals_jax(problem):
  image, labels, clf = problem
  calls = []

  def host_fn(x):
    calls.append(x.shape[0])
    return np.asarray(clf(jnp.asarray(x)))

  # The search's own forwards only, every generation.
  cfg = dataclasses.replace(BASE, chunk_size=8, faithfulness=False, patience=None)
  host = el.explain_batch([image, image], el.host_classifier(host_fn, num_classes=3), segments=[labels] * 2,
                          config=cfg, seeds=[1, 2])
  for a, b in zip(el.explain_batch([image, image], clf, segments=[labels] * 2, config=cfg, seeds=[1, 2]), host):
    assert_identical(a, b)
  assert set(calls) == {8} and sum(calls) == 2 * cfg.num_evaluations


def test_per_image_rates_in_one_program(problem):
  image, labels, clf = problem
  rates = [dataclasses.replace(BASE, parsimony=p).ga_params() for p in (0.0, 0.3)]
  both = el.explain_batch([image, image], clf, segments=[labels] * 2, config=BASE, seeds=[1, 1], params=rates)
  for p, got in zip((0.0, 0.3), both):
    assert_identical(el.explain(image, clf, segments=labels, config=dataclasses.replace(BASE, parsimony=p), seed=1), got)


def test_backend_building_blocks_equal_explain(problem):
  image, labels, clf = problem
  # What evolve returns: the fittest genome after every generation.
  cfg = dataclasses.replace(BASE, chunk_size=BASE.population_size, answer="fittest", patience=None)
  exp = el.explain(image, clf, segments=labels, config=cfg, seed=5, target=0)
  prob = el.Problem(image=jnp.asarray(image), labels=jnp.asarray(labels), fill=jnp.asarray(exp.fill),
                    target=jnp.int32(0), num_genes=jnp.int32(exp.num_segments))
  evaluate_fn = functools.partial(el.evaluate, classifier=clf, chunk_size=cfg.population_size)
  length = el.genome_length(exp.num_segments)
  result = jax.jit(functools.partial(el.evolve, config=cfg, length=length, evaluate_fn=evaluate_fn))(
      jax.random.PRNGKey(5), prob, cfg.ga_params())
  np.testing.assert_array_equal(np.asarray(result.state.best_genome)[:exp.num_segments], exp.genome)
  np.testing.assert_array_equal(np.asarray(result.best_history), exp.fitness_history)
  # The same steps driven by hand (ask/tell for one image), eagerly.
  state = el.init_state(jax.random.PRNGKey(5), prob, cfg.ga_params(), config=cfg, length=length,
                        evaluate_fn=evaluate_fn)
  for _ in range(cfg.generations):
    state = el.generation_step(state, prob, cfg.ga_params(), config=cfg, evaluate_fn=evaluate_fn)
  assert float(state.best_fitness) == exp.best_fitness
