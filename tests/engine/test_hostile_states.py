"""Saved states, per-image options and bounds a hostile caller tries: refused before use, never misapplied."""
import dataclasses
import os
import struct

import numpy as np
import pytest
from flax import serialization

import evojax_lime as el
from evojax_lime.engine import saved_state
from evojax_lime.metrics import stability
from evojax_lime.scores import mean_pairwise_jaccard
from tests.engine.planted import planted_problem

BASE = el.ELimeConfig(population_size=8, generations=3, parsimony=0.05, fill="black")


@pytest.fixture(scope="module")
def problem():
  return planted_problem((0, 3, 5), side=24, n_segments=12)


@pytest.fixture
def saved(problem, tmp_path):
  image, labels, clf = problem
  path = tmp_path / "state"
  el.Search([image], clf, segments=[labels], config=BASE, seeds=[1]).advance(2).save(path)
  return path


def _search(problem, **kw):
  image, labels, clf = problem
  options = dict(segments=[labels], config=BASE, seeds=[1])
  options.update(kw)
  return el.Search([options.pop("image", image)], clf, **options)


@pytest.mark.parametrize("change, differs", [
    (dict(seeds=[2]), "seeds"),
    (dict(config=dataclasses.replace(BASE, parsimony=0.3)), "config"),
    (dict(image="flipped"), "images"),
])
def test_state_of_another_search_is_refused(problem, saved, change, differs):
  if change.get("image") == "flipped":
    change["image"] = problem[0][::-1].copy()
  with pytest.raises(ValueError, match=f"another search .*{differs}"):
    _search(problem, **change).restore(saved)


def _patched(path, edit):
  """The file at ``path`` with its state's values changed by ``edit(dict)``, identity kept."""
  data = path.read_bytes()
  start = len(saved_state.FORMAT) + 8 + struct.unpack("<Q", data[len(saved_state.FORMAT):len(saved_state.FORMAT) + 8])[0]
  state = serialization.msgpack_restore(data[start:])
  edit(state)
  path.write_bytes(data[:start] + serialization.msgpack_serialize(state))
  return path


@pytest.mark.parametrize("edit, what", [
    (lambda s: s.update(steps=np.int32(-5)), "steps"),
    (lambda s: s["strategy"].update(generation=np.full_like(s["strategy"]["generation"], -100)), "generation"),
    (lambda s: s["problem"].update(target=np.full_like(s["problem"]["target"], 999)), "target"),
    (lambda s: s.update(steps={"a": 1}), "another search|damaged"),
    (lambda s: s["strategy"].pop("chain"), "structure differs: saved by another version"),  # an earlier layout
])
def test_patched_values_are_refused(problem, saved, edit, what):
  with pytest.raises(ValueError, match=what):
    _search(problem).restore(_patched(saved, edit))


def test_files_that_are_not_states_are_refused_without_reading(problem, tmp_path):
  big = tmp_path / "big"
  with open(big, "wb") as f:
    f.truncate(1 << 30)  # sparse: costs no disk, and is never read
  fifo = tmp_path / "fifo"
  os.mkfifo(fifo)
  for path, message in ((big, "too large"), ("/dev/zero", "not a regular file"), (fifo, "not a regular file"),
                        (tmp_path, "not a regular file|cannot read")):
    with pytest.raises(ValueError, match=message):
      _search(problem).restore(path)


def test_per_image_options_apply_to_their_own_image_in_any_order(problem):
  image, labels, clf = problem
  config = dataclasses.replace(BASE, segmentation="grid")  # the image without a map: cut into a grid
  cut = el.explain(image, clf, config=config).num_segments
  two = np.zeros_like(labels)
  two[:, 12:] = 1
  for order in ((None, two), (two, None)):
    exps = el.explain_batch([image, image], clf, segments=list(order), config=config, seeds=[0, 0])
    assert [e.num_segments for e in exps] == [2 if s is two else cut for s in order]
    rows = el.study([image, image], clf, seeds=[0], segments=list(order), config=config)
    assert rows.column("K") == [2 if s is two else cut for s in order]
  ones = np.ones_like(image)
  for order in ((None, ones), (ones, None)):
    exps = el.explain_batch([image, image], clf, segments=[labels] * 2, baselines=list(order), config=BASE,
                            seeds=[0, 0])
    for e, b in zip(exps, order):
      assert np.array_equal(e.fill, ones) == (b is ones)


def test_huge_restarts_refused_before_any_work_and_agreement_without_r_by_r(problem):
  image, labels, clf = problem
  with pytest.raises(ValueError, match="restarts"):
    el.explain(image, clf, segments=labels, config=el.ELimeConfig(population_size=4096, generations=1),
               restarts=200000)
  rng = np.random.default_rng(0)
  sel = rng.random((700, 12)) < 0.4  # more runs than one block of the agreement
  inter, union = (sel[:, None] & sel[None]).sum(-1), (sel[:, None] | sel[None]).sum(-1)  # R x R, in float64
  pairs = np.where(union > 0, inter / np.maximum(union, 1), 1.0)[np.triu_indices(len(sel), 1)]
  assert float(mean_pairwise_jaccard(sel)) == pytest.approx(pairs.mean(), rel=1e-5)
  assert stability(list(sel)) == pytest.approx(pairs.mean(), rel=1e-5)


@pytest.mark.parametrize("seed", [2 ** 64, 1.5, "0", None])
def test_bad_seeds_are_value_errors(problem, seed):
  image, labels, clf = problem
  with pytest.raises(ValueError):
    el.explain(image, clf, segments=labels, config=BASE, seed=seed)


def test_state_of_another_classifier_is_refused(problem, saved):
  image, labels, _ = problem
  _, _, other = planted_problem((1, 2), side=24, n_segments=12)  # same image and layout, other weights
  with pytest.raises(ValueError, match="another classifier .*weights differ"):
    el.Search([image], other, segments=[labels], config=BASE, seeds=[1]).restore(saved)


def test_state_of_a_partial_with_other_weights_is_refused(problem, tmp_path):
  import jax
  import jax.numpy as jnp
  image, labels, clf = problem
  scaled = lambda w, x: clf(x * w)
  path = tmp_path / "state"
  el.Search([image], jax.tree_util.Partial(scaled, jnp.float32(1.0)), segments=[labels], config=BASE,
            seeds=[1]).advance(1).save(path)
  same = el.Search([image], jax.tree_util.Partial(scaled, jnp.float32(1.0)), segments=[labels], config=BASE, seeds=[1])
  assert same.restore(path).steps == 1
  with pytest.raises(ValueError, match="another classifier .*weights differ"):
    el.Search([image], jax.tree_util.Partial(scaled, jnp.float32(0.5)), segments=[labels], config=BASE,
              seeds=[1]).restore(path)
