"""Search programs kept across processes: a later process compiles the stored program instead of tracing."""
import dataclasses
import functools
import hashlib
import json
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

MAGIC = b"evojax-lime program 2\n"
CONFIG = el.ELimeConfig(population_size=16, generations=3, fill="black", faithfulness=False, chunk_size=16)
TRACES = []  # batch shapes the stored classifier was traced at
ONE = (1, 24, 24, 3)  # the one-image trace that names the classifier's computation in the key
OFFSET = 0.0  # a module-level value that ``offset_scores`` reads


def linear_scores(weights, images):
  """A tiny classifier of module level: mean colour -> softmax over 3 classes (records its traces)."""
  TRACES.append(images.shape)
  return jax.nn.softmax(images.mean(axis=(1, 2)) @ weights["w"] + weights["b"], axis=-1)


def offset_scores(weights, scale, images):
  """Like :func:`linear_scores`, with a number among its leaves (so its weights are closed over) and reading
  the module-level ``OFFSET``."""
  TRACES.append(images.shape)
  logits = images.mean(axis=(1, 2)) @ weights["w"] * scale + weights["b"] + jnp.asarray([OFFSET, 0.0, 0.0])
  return jax.nn.softmax(logits, axis=-1)


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
  assert TRACES == [ONE]  # only the one image that names it: neither the program nor a memory profile
  _same(first, again)
  # The weights are arguments: other weights of the same layout run the same stored program, to their own result.
  other = el.explain(image, _classifier(scale=-1.0), segments=labels, config=config, seed=3)
  assert TRACES == [ONE, ONE] and other.original_probability != again.original_probability
  assert other.original_probability == pytest.approx(_truth(_classifier(scale=-1.0), image, other.target), rel=1e-6)
  if chunk_size is not None:  # the stored program's result equals a run without the store, bit for bit
    jax.config.update("jax_compilation_cache_dir", None)
    _new_process()
    _same(el.explain(image, _classifier(), segments=labels, config=config, seed=3), first)
    assert TRACES and TRACES != [ONE]  # traced: nothing is stored without a cache folder


def _truth(classifier, image, target):
  return float(np.asarray(classifier(jnp.asarray(image)[None]))[0, target])


def _set_offset(value):
  global OFFSET
  OFFSET = value


@pytest.mark.slow  # five programs: over a minute on 2 cores; the digests' test below covers the keys fast
def test_a_stored_program_is_never_run_for_another_computation(store, problem):
  image, labels = problem
  w, other_w = _classifier().args[0], _classifier(-2.0).args[0]
  runs = [  # (OFFSET, classifier, whether it computes what an earlier run stored)
      (0.0, jax.tree_util.Partial(offset_scores, w, 3.0), False),  # a number among the leaves: w is a constant
      (0.0, jax.tree_util.Partial(functools.partial(offset_scores, w, 3.0)), True),  # the same computation
      (0.0, jax.tree_util.Partial(functools.partial(offset_scores, other_w, 3.0)), False),  # other bound weights
      (0.0, jax.tree_util.Partial(offset_scores, other_w, 3.0), True),
      (5.0, jax.tree_util.Partial(offset_scores, w, 3.0), False),  # another module-level value read by f
  ]
  probabilities = []
  try:
    for offset, classifier, stored in runs:
      _set_offset(offset)
      _new_process()
      exp = el.explain(image, classifier, segments=labels, config=CONFIG, seed=5)
      assert (TRACES == [ONE]) == stored, (offset, classifier)  # [ONE]: the stored program ran
      assert exp.original_probability == pytest.approx(_truth(classifier, image, exp.target), rel=1e-6)
      probabilities.append(exp.original_probability)
  finally:
    _set_offset(0.0)
  assert len(list(store.glob("*.bin"))) == 3 and len(set(probabilities)) == 3


def test_digests_follow_the_computation_not_the_objects():
  digest = lambda c: program_store.classifier_digest(c, height=8, width=8, dtype="float32")
  assert digest(_classifier()) == digest(_classifier(scale=2.0))  # values of arguments are not part of it
  bigger = jax.tree_util.Partial(linear_scores, {"w": jnp.zeros((3, 4)), "b": jnp.zeros(4), "c": jnp.zeros(1)})
  assert digest(bigger) != digest(_classifier())
  closed = lambda c, s: jax.tree_util.Partial(offset_scores, _classifier(c).args[0], s)
  assert digest(closed(1.0, 3.0)) == digest(closed(1.0, 3.0))
  assert len({digest(closed(1.0, 3.0)), digest(closed(1.0, 3.0000002)), digest(closed(2.0, 3.0))}) == 3
  # The same function as a lambda, a local function or a functools.partial computes the same thing.
  local = jax.tree_util.Partial(_local_scores_of(), _classifier().args[0])
  assert digest(local) == digest(_classifier()) == digest(jax.tree_util.Partial(lambda w, x: linear_scores(w, x),
                                                                               _classifier().args[0]))
  assert digest(jax.tree_util.Partial(lambda w, x: x[..., :1], _classifier().args[0])) is None  # one class
  assert digest(jax.tree_util.Partial(lambda w, x: undefined_name, _classifier().args[0])) is None  # noqa: F821


def _rewritten(good: bytes, **meta_changes) -> bytes:
  """``good`` with its JSON header changed and its digest made right again: only the checks of what it says
  stand between it and the run."""
  start = len(MAGIC) + 32
  length = int.from_bytes(good[start:start + 4], "little")
  meta = json.loads(good[start + 4:start + 4 + length])
  meta.update(meta_changes)
  text = json.dumps(meta).encode()
  body = len(text).to_bytes(4, "little") + text + good[start + 4 + length:]
  return MAGIC + hashlib.sha256(body).digest() + body


def test_a_damaged_or_edited_file_is_a_miss_and_is_replaced(store, problem, monkeypatch):
  image, labels = problem
  loads = []
  load = program_store.load
  monkeypatch.setattr(program_store, "load", lambda *a, **k: loads.append((a, k)) or load(*a, **k))
  _new_process()
  first = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=1)
  (path,) = store.glob("*.bin")
  good = path.read_bytes()
  (arguments, options), = loads
  assert load(*arguments, **options) is not None
  middle = len(good) // 2
  flipped = good[:middle] + bytes(b ^ 0xFF for b in good[middle:middle + 64]) + good[middle + 64:]
  for damage in (b"", b"not a program", good[: len(good) // 2], MAGIC + b"\xff" * 40,
                 _rewritten(good, num_classes=5), _rewritten(good, chunk_size="16"), _rewritten(good, chunk_size=99999),
                 _rewritten(good, key="0" * 64), flipped):
    path.write_bytes(damage)
    assert load(*arguments, **options) is None, damage[:40]
  # 64 bytes flipped in the middle: the run traces again, gives the right answer and writes the file again.
  _new_process()
  _same(first, el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=1))
  assert TRACES != [ONE] and path.read_bytes() != flipped
  _new_process()
  _same(first, el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=1))
  assert TRACES == [ONE]  # the file written again, whole


def test_a_program_copied_under_another_key_is_refused(store, problem):
  image, labels = problem
  mean = dataclasses.replace(CONFIG, fill="mean")
  _new_process()
  el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=1)
  (black,) = store.glob("*.bin")
  _new_process()
  expected = el.explain(image, _classifier(), segments=labels, config=mean, seed=1)
  (mean_path,) = [p for p in store.glob("*.bin") if p != black]
  mean_path.write_bytes(black.read_bytes())  # the black-fill program under the mean-fill key
  _new_process()
  got = el.explain(image, _classifier(), segments=labels, config=mean, seed=1)
  assert TRACES != [ONE]
  _same(expected, got)


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
  assert TRACES != [ONE] and exp.num_evaluations == 16 * 4


def test_an_unwritable_folder_only_means_tracing_again(store, problem):
  image, labels = problem
  store.parent.mkdir(parents=True, exist_ok=True)
  store.write_text("a file where the folder would be")
  _new_process()
  first = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=2)
  _new_process()
  again = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=2)
  assert TRACES != [ONE]
  _same(first, again)


def _local_scores_of():
  def scores(weights, images):
    return linear_scores(weights, images)
  return scores


def test_a_models_classifier_has_the_same_digest_in_every_process():
  code = ("import models; from evojax_lime.engine.program_store import classifier_digest; "
          "print(classifier_digest(models.create('resnet18').classifier(), height=32, width=32, dtype='float32'))")
  env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
  names = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=env).stdout.strip() for _ in range(2)]
  assert names[0] == names[1] and names[0] not in ("", "None")
  assert "num_classes=1000" in names[0]


def test_a_named_pipe_under_the_key_is_a_miss(store, problem):
  image, labels = problem
  _new_process()
  first = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=4)
  (path,) = store.glob("*.bin")
  path.unlink()
  os.mkfifo(path)  # reading it would block for ever
  _new_process()
  again = el.explain(image, _classifier(), segments=labels, config=CONFIG, seed=4)
  assert TRACES != [ONE]
  _same(first, again)
