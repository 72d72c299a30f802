"""The sanity benchmark's randomised copies and its summary (benchmarks/sanity.py)."""
import jax
import numpy as np

from benchmarks import sanity, vs_peers
from models.randomised import layer_order


def _leaves(model, layer):
  return jax.tree_util.tree_leaves(model.variables["params"][layer])


def test_heads_are_drawn_once_per_seed_and_cascade_over_the_depths():
  model = vs_peers.tiny_model()
  order = layer_order(model)
  copies = sanity.heads(model, depths=["1", "all"], count=2, seed=7)
  assert [len(c) for c in copies.values()] == [2, 2]
  last, first = order[-1], order[0]
  for h in range(2):
    # Head h at every depth shares the last layer's new weights (a cascade), and only 'all' replaces the first.
    for a, b in zip(_leaves(copies["1"][h], last), _leaves(copies["all"][h], last)):
      np.testing.assert_array_equal(a, b)
    for a, b in zip(_leaves(copies["1"][h], first), _leaves(model, first)):
      np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(_leaves(copies["all"][h], first), _leaves(model, first)))
  assert any(not np.array_equal(a, b) for a, b in zip(_leaves(copies["1"][0], last), _leaves(copies["1"][1], last)))
  again = sanity.heads(model, depths=["1"], count=1, seed=7)["1"][0]
  for a, b in zip(_leaves(again, last), _leaves(copies["1"][0], last)):
    np.testing.assert_array_equal(a, b)  # drawn from the explicit seed: the same copy every time


def test_summary_pools_every_head_and_seed():
  rows = [{"photo": p, "tuned_on": p == "b", "method": "m", "depth": "1", "median": med, "values": values,
           "seed_agreement": 0.5} for p, med, values in (("a", 0.1, [[0.0, 0.2], [0.1, 0.3]]),
                                                         ("b", 0.5, [[0.4, 0.6], [0.5, 0.5]]))]
  row, = sanity.summarise(rows)
  assert row["photos"] == 2 and row["values"] == 8
  assert row["median"] == 0.3 and np.isclose(row["mean"], 0.325)
  untuned, = sanity.summarise(rows, untuned=True)
  assert untuned["photos"] == 1 and untuned["median"] == 0.1
