"""Search programs kept across processes: a later process compiles the stored program instead of tracing."""
import dataclasses
import functools
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.engine import program_store
from tests.engine.planted import planted_problem

CONFIG = el.ELimeConfig(population_size=16, generations=3, fill="black", faithfulness=False, chunk_size=16)
TRACES = []  # batch shapes the stored classifier was traced at


def linear_scores(weights, images):
  """A tiny classifier of module level: mean colour -> softmax over 3 classes (records its traces)."""
  TRACES.append(images.shape)
  return jax.nn.softmax(images.mean(axis=(1, 2)) @ weights["w"] + weights["b"], axis=-1)


def _classifier(scale=1.0):
  weights = {"w": jnp.asarray([[4.0, -2.0, 0.5], [-1.0, 3.0, 0.0], [0.5, 0.5, -3.0]]) * scale, "b": jnp.zeros(3)}
  return jax.tree_util.Partial(linear_scores, weights)


@pytest.fixture
def store(tmp_path):
  """A compilation cache folder of the test's own; each 'process' starts with empty in-process caches."""
  before = jax.config.jax_compilation_cache_dir
  jax.config.update("jax_compilation_cache_dir", str(tmp_path))
  el.clear_caches()
  yield tmp_path / "evojax-lime-programs"
  jax.config.update("jax_compilation_cache_dir", before)
  el.clear_caches()


def _new_process():
  """What a new process has: none of the in-process caches."""
  el.clear_caches()
  TRACES.clear()


@pytest.fixture(scope="module")
def problem():
  image, labels, _ = planted_problem((1, 4), side=24, n_segments=12)
  return image, labels


def _same(a, b):
  np.testing.assert_array_equal(a.genome, b.genome)
  np.testing.assert_array_equal(a.fitness_history, b.fitness_history)
  assert a.explanation_probability == b.explanation_probability
  assert a.original_probability == b.original_probability


@pytest.mark.parametrize("chunk_size", [16, None])
def test_a_later_process_runs_the_stored_program_without_tracing(store, problem, chunk_size):
  image, labels = problem
  config = dataclasses.replace(CONFIG, chunk_size=chunk_size)
  _new_process()
  first = el.explain(image, _classifier(), segments=labels, config=config, seed=3)
  assert TRACES and len(list(store.glob("*.bin"))) == 1
  _new_process()
  again = el.explain(image, _classifier(), segments=labels, config=config, seed=3)
  assert TRACES == []  # neither the program nor a memory profile traced the classifier
  _same(first, again)
  # The weights are arguments: other weights of the same layout run the same stored program, to their own result.
  other = el.explain(image, _classifier(scale=-1.0), segments=labels, config=config, seed=3)
  assert TRACES == [] and other.original_probability != again.original_probability
  if chunk_size is not None:  # the stored program's result equals a run without the store, bit for bit
    jax.config.update("jax_compilation_cache_dir", None)
    _new_process()
    _same(el.explain(image, _classifier(), segments=labels, config=config, seed=3), first)
    assert TRACES  # traced: nothing is stored without a cache folder


def test_a_damaged_file_is_a_miss_and_is_replaced(store, problem):
  image, labels = problem
  _new_process()
  first = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=1)
  (path,) = store.glob("*.bin")
  good = path.read_bytes()
  magic = b"evojax-lime program 1\n"
  length = int.from_bytes(good[len(magic):len(magic) + 4], "little")
  meta = b'{"chunk_size": "16", "num_classes": 3}'  # the chunk size as a string, the program itself intact
  big = b'{"chunk_size": 99999, "num_classes": 3}'  # more rows a chunk than a step has
  huge = magic + len(big).to_bytes(4, "little") + big + good[len(magic) + 4 + length:]
  for damage in (b"", b"not a program", huge, magic + b"\xff\xff\xff\xff", magic + (5).to_bytes(4, "little") + b"{oops",
                 magic + len(meta).to_bytes(4, "little") + meta + good[len(magic) + 4 + length:],
                 good[: len(good) // 2]):
    path.write_bytes(damage)
    _new_process()
    again = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=1)
    assert TRACES, damage[:40]  # traced again
    _same(first, again)
  _new_process()
  el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=1)
  assert TRACES == []  # the file was written again, whole


def test_a_stored_program_of_other_shapes_is_a_miss(store, problem):
  image, labels = problem
  _new_process()
  el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=1)
  (path,) = store.glob("*.bin")
  _new_process()
  el.explain(image, _classifier(), segments=labels, config=dataclasses.replace(CONFIG, population_size=32), seed=1)
  other = [p for p in store.glob("*.bin") if p != path]
  assert len(other) == 1
  path.write_bytes(other[0].read_bytes())  # the 32-individual program under the 16-individual key
  _new_process()
  exp = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=1)
  assert TRACES and exp.num_evaluations == 16 * 4


def test_an_unwritable_folder_only_means_tracing_again(store, problem):
  image, labels = problem
  store.parent.mkdir(parents=True, exist_ok=True)
  store.write_text("a file where the folder would be")
  _new_process()
  first = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=2)
  _new_process()
  again = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=2)
  assert TRACES
  _same(first, again)


def _local_scores_of():
  def scores(weights, images):
    return linear_scores(weights, images)
  return scores


class _Opaque:
  pass


@pytest.mark.parametrize("classifier", [
    lambda x: linear_scores(_classifier().args[0], x),  # a plain function: no weights to name
    jax.tree_util.Partial(lambda w, x: linear_scores(w, x), _classifier().args[0]),
    jax.tree_util.Partial(_local_scores_of(), _classifier().args[0]),  # a function defined in a function
    jax.tree_util.Partial(functools.partial(linear_scores, _Opaque())),  # an address in its options
])
def test_classifiers_without_a_lasting_name_are_not_stored(classifier):
  assert program_store.classifier_name(classifier) is None


def test_names_follow_options_and_weight_layout():
  name = program_store.classifier_name
  assert name(_classifier()) == name(_classifier(scale=2.0))  # values are arguments, not part of the name
  bigger = jax.tree_util.Partial(linear_scores, {"w": jnp.zeros((3, 4)), "b": jnp.zeros(4), "c": jnp.zeros(1)})
  assert name(bigger) != name(_classifier())
  assert name(jax.tree_util.Partial(functools.partial(linear_scores), _classifier().args[0])) is not None


def test_a_models_classifier_has_the_same_name_in_every_process():
  code = ("import models; from evojax_lime.engine.program_store import classifier_name; "
          "print(classifier_name(models.create('resnet18').classifier()))")
  env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
  names = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=env).stdout.strip() for _ in range(2)]
  assert names[0] == names[1] and names[0] not in ("", "None")
  assert "ResNet" in names[0]


def test_a_named_pipe_under_the_key_is_a_miss(store, problem):
  image, labels = problem
  _new_process()
  first = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=4)
  (path,) = store.glob("*.bin")
  path.unlink()
  os.mkfifo(path)  # reading it would block for ever
  _new_process()
  again = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=4)
  assert TRACES
  _same(first, again)
