"""Cascading randomisation of a Flax port's last layers, for the sanity score."""
import jax
import numpy as np
import pytest

import models
from models.randomised import cascade, layer_order, randomised


@pytest.fixture(scope="module")
def model():
  return models.create("resnet18", seed=3)


def test_layers_are_in_the_order_the_forward_calls_them(model):
  order = layer_order(model)
  assert order[0] == "stem" and order[-1] == "fc" and set(order) == set(model.variables["params"])
  assert order.index("layer1_0") < order.index("layer4_1") < order.index("fc")


def test_only_the_last_layers_change_and_shapes_stay(model):
  order = layer_order(model)
  head = randomised(model, layers=2, seed=0)
  shapes = lambda m: jax.tree_util.tree_map(lambda x: (x.shape, x.dtype), m.variables)
  assert shapes(head) == shapes(model)
  for name in order:
    same = jax.tree_util.tree_all(jax.tree_util.tree_map(
        lambda a, b: bool(np.array_equal(a, b)), model.variables["params"][name], head.variables["params"][name]))
    assert same == (name not in order[-2:]), name
  again = randomised(model, layers=2, seed=0)
  assert jax.tree_util.tree_all(jax.tree_util.tree_map(lambda a, b: bool(np.array_equal(a, b)),
                                                       head.variables, again.variables))
  other = randomised(model, layers=2, seed=1)
  assert not np.array_equal(other.variables["params"]["fc"]["kernel"], head.variables["params"]["fc"]["kernel"])
  assert model.variables["params"]["fc"] is not head.variables["params"]["fc"]  # the original is left alone


@pytest.mark.parametrize("layers", [0, -1, 1.5, True, 10 ** 6])
def test_bad_layer_counts_are_refused(model, layers):
  with pytest.raises(ValueError, match="layers must be an integer in"):
    randomised(model, layers=layers)


def test_a_cascade_keeps_the_shallower_copies_new_weights(model):
  order = layer_order(model)
  one, three = cascade(model, depths=[1, 3], seed=4)
  equal = lambda a, b: jax.tree_util.tree_all(jax.tree_util.tree_map(lambda x, y: bool(np.array_equal(x, y)), a, b))
  assert equal(one.variables["params"][order[-1]], three.variables["params"][order[-1]])
  assert not equal(one.variables["params"][order[-2]], three.variables["params"][order[-2]])
  assert equal(three.variables["params"][order[-4]], model.variables["params"][order[-4]])
  for depths in ([], [2, 2], [3, 1]):
    with pytest.raises(ValueError, match="strictly increasing"):
      cascade(model, depths=depths)
