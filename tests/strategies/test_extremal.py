"""Gradient-optimised masks: the blend and its gradient, a planted differentiable classifier whose optimum at
each area is known, the count of backward passes, saving, and option refusal."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.evaluation.fitness import Evaluator, Problem
from evojax_lime.evaluation.gradient import blended_batch, probability_and_gradient
from evojax_lime.evaluation.masking import masked_batch
from evojax_lime.segmentation.superpixels import grid_segments
from evojax_lime.strategies.extremal import BACKWARD_COST, Extremal, area_loss, area_sizes
from tests.engine.same import assert_identical

PLANTED = (1, 4, 6)
GENERATIONS = 12
CONFIG = el.ELimeConfig(generations=GENERATIONS, fill="black")  # the population is the strategy's


@pytest.fixture(scope="module")
def planted():
  """``(image, labels, classifier)``: 9 superpixels; p(class 0) rises with the shown share of each planted one
  and falls with every other's, linearly in the mask (fill black), so for an area of 3 the planted three are
  the optimum and for 6 they are in it."""
  labels = grid_segments(15, 15, 9)
  k = int(labels.max()) + 1
  colours = np.random.default_rng(0).uniform(0.3, 1.0, size=(k, 3)).astype(np.float32)
  image = colours[labels]
  inside = np.isin(labels, PLANTED)
  w = jnp.asarray(np.where(inside, 1.0 / inside.sum(), -1.0 / (~inside).sum()).astype(np.float32))
  total = jnp.asarray(image.sum(-1))

  def classifier(images):
    shown = images.sum(-1) / total  # the share of each pixel shown
    score = 6.0 * (shown * w).sum((1, 2))
    return jax.nn.softmax(jnp.stack([score, jnp.zeros_like(score)], -1), -1)
  return image, labels, classifier


def _search(planted, **kwargs):
  image, labels, classifier = planted
  strategy = Extremal(population_size=2, ramp=GENERATIONS)
  return el.Search([image], classifier, strategy=strategy, segments=[labels], config=CONFIG, targets=[0], **kwargs)


def test_finds_the_planted_set_at_its_area_and_counts_backwards(planted):
  search = _search(planted, seeds=0).advance()
  exp = search.explanations()[0]
  state = jax.device_get(search.state.strategy)
  np.testing.assert_array_equal(state.sizes[0], [3, 6])  # K = 9, two rows: areas 3 and 6
  np.testing.assert_array_equal(np.flatnonzero(exp.best_of_size(3)), PLANTED)
  assert set(PLANTED) <= set(np.flatnonzero(exp.best_of_size(6)))
  mask = 1 / (1 + np.exp(-state.logits[0, 0, :9]))
  assert mask[list(PLANTED)].min() > 0.9 and np.delete(mask, PLANTED).max() < 0.1  # near binary at its area
  assert exp.faithfulness is not None and exp.importance.shape == (9,)
  assert 0 <= exp.importance.min() and exp.importance.max() <= 1
  # Each generation after the first: 2 binary forwards and 2 forwards with their backward.
  assert exp.num_evaluations == round(2 * (GENERATIONS + 1) + 2 * GENERATIONS * (1 + BACKWARD_COST))


def test_saved_and_resumed_equals_one_run(planted, tmp_path):
  whole = _search(planted, seeds=3).advance().explanations()[0]  # the program of the test above, cached
  _search(planted, seeds=3).advance(5).save(tmp_path / "state")
  resumed = _search(planted, seeds=3).restore(tmp_path / "state").advance().explanations()[0]
  assert_identical(whole, resumed)


def test_blend_and_its_gradient(planted):
  image, labels, classifier = planted
  k = int(labels.max()) + 1
  binary = np.random.default_rng(1).random((5, 16)) < 0.5
  fill = np.zeros_like(image)
  np.testing.assert_array_equal(blended_batch(jnp.asarray(binary, jnp.float32), image, labels, fill),
                                masked_batch(jnp.asarray(binary), image, labels, fill))
  problems = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], Problem(
      image=image, labels=jnp.asarray(labels, jnp.int32), fill=fill, target=jnp.int32(0), num_genes=jnp.int32(k)))
  problems = jax.tree_util.tree_map(lambda x: jnp.concatenate([x, x]), problems)  # two rows, same image
  masks = jnp.asarray(np.random.default_rng(2).random((2, 3, 16)), jnp.float32)
  live = jnp.asarray([[True, True, False], [True, False, True]])

  def direct(m):
    return classifier(blended_batch(m[None], image, labels, fill))[0, 0]

  ref_p, ref_grad = jax.jit(jax.vmap(jax.vmap(jax.value_and_grad(direct))))(masks)
  on = np.asarray(live)
  # One chunk, a ragged last chunk (jitted), one row a chunk (not jitted).
  for chunk, run in ((6, jax.jit(probability_and_gradient, static_argnums=2)),
                     (4, jax.jit(probability_and_gradient, static_argnums=2)), (1, probability_and_gradient)):
    evaluator = Evaluator(classifier=classifier, logits=False, chunk_size=chunk)
    p, grad = run(masks, problems, evaluator, live)
    chex.assert_shape((p, grad), ((2, 3), (2, 3, 16)))
    np.testing.assert_allclose(np.asarray(p)[on], np.asarray(ref_p)[on], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(grad)[on], np.asarray(ref_grad)[on], rtol=1e-5, atol=1e-7)
    assert not np.asarray(p)[~on].any() and not np.asarray(grad)[~on].any()  # rows not live cost nothing
    assert not np.asarray(grad[..., k:]).any()  # padding genes show nowhere
    assert np.abs(np.asarray(grad)[on, :k]).min() > 0  # and every real one matters


def test_area_sizes_and_loss():
  np.testing.assert_array_equal(area_sizes(jnp.int32(9), 2), [3, 6])
  np.testing.assert_array_equal(area_sizes(jnp.int32(3), 5), [1, 1, 2, 2, 2])
  real = jnp.arange(6) < 4
  assert float(area_loss(jnp.asarray([0.0, 1.0, 0.0, 1.0, 0.7, 0.7]), 2, real)) == 0.0  # padding ignored
  np.testing.assert_allclose(area_loss(jnp.full((6,), 0.5), 2, real), 0.25)


def test_refuses_options_and_bad_settings(planted):
  image, labels, classifier = planted
  for option in ({"patience": 2}, {"seeding": "random"}, {"crossover": "one_point"}):
    with pytest.raises(ValueError, match="extremal strategy does not use"):
      el.Search([image], classifier, strategy="extremal", segments=[labels],
                config=el.ELimeConfig(fill="black", **option))
  for bad in ({"learning_rate": 0}, {"area_weight": (1.0,)}, {"area_weight": (1.0, -2.0)}, {"ramp": 0}):
    with pytest.raises(ValueError, match=next(iter(bad))):
      Extremal(**bad)
  assert Extremal.from_config(el.ELimeConfig(population_size=5, generations=7)) == Extremal(population_size=5,
                                                                                            ramp=7)
