"""Pareto E-LIME: the ask/tell protocol, the front archive, and a planted problem whose front is known exactly."""
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.strategies import NSGA2
from evojax_lime import explain_front
from evojax_lime.front import covers, hypervolume, non_dominated_sizes
from tests.engine.planted import planted_problem

PLANTED = (0, 5, 6, 9, 15)
K = 16


def planted_front() -> np.ndarray:
  """Exact best p for each size k of :func:`planted_problem`: keep min(k, 5) planted superpixels, then others.

  Class 0's logit is 8 * (planted fraction shown - other fraction shown) (all superpixels the same area), the
  two other logits are 0.
  """
  k = np.arange(K + 1)
  inside, outside = np.minimum(k, len(PLANTED)), np.maximum(k - len(PLANTED), 0)
  score = 8.0 * (inside / len(PLANTED) - outside / (K - len(PLANTED)))
  return np.exp(score) / (np.exp(score) + 2.0)


@pytest.fixture(scope="module")
def fronts():
  image, labels, clf = planted_problem(PLANTED)
  config = el.ELimeConfig(population_size=32, generations=30, fill="black", parsimony=0.5)
  return [explain_front(image, clf, segments=labels, config=config, seed=s) for s in range(3)]


def test_planted_front_is_recovered_exactly(fronts):
  want = planted_front()
  for front in fronts:
    assert front.target == 0 and front.num_evaluations == 32 * 31
    # The non-dominated front is sizes 0..5, each with its exact best probability and a planted subset.
    np.testing.assert_array_equal(front.non_dominated(), np.arange(len(PLANTED) + 1))
    np.testing.assert_allclose(front.probabilities[:len(PLANTED) + 1], want[:len(PLANTED) + 1], rtol=1e-5)
    for k in range(len(PLANTED) + 1):
      assert set(np.flatnonzero(front.genomes[k])) <= set(PLANTED) and front.genomes[k].sum() == k
    # No size beats what is possible, and every genome found has the size it is filed under.
    found = front.sizes
    assert (front.probabilities[found] <= want[found] + 1e-6).all()
    np.testing.assert_array_equal(front.genomes[found].sum(1), found)
    # The parsimony optimum (the planted set) lies on the front.
    assert covers(front.probabilities, len(PLANTED), want[len(PLANTED)])


def test_point_is_an_explanation(fronts):
  front = fronts[0]
  exp = front.point(3)
  assert isinstance(exp, el.Explanation)
  assert exp.explanation_probability == pytest.approx(planted_front()[3], rel=1e-5)
  assert len(exp.selected) == 3 and exp.mask().shape == front.labels.shape
  np.testing.assert_array_equal(exp.masked_image()[~exp.mask()], 0.0)  # black fill
  assert len(exp.fitness_history) == 31 and (np.diff(exp.fitness_history[~np.isnan(exp.fitness_history)]) >= 0).all()
  assert front.best_at_most(K) == len(PLANTED)
  with pytest.raises(ValueError, match="size must be an integer"):
    front.point(K + 1)
  missing = [k for k in range(K + 1) if k not in front.sizes]
  if missing:
    with pytest.raises(ValueError, match="no genome with exactly"):
      front.point(missing[0])
  summary = front.summary()
  assert [p["kept"] for p in summary["front"]] == list(range(len(PLANTED) + 1))
  assert summary["front"][-1]["selected"] == list(PLANTED)
  assert 0 < summary["hypervolume"] <= 1


def test_hypervolume_and_coverage_by_hand():
  # Points (k/K, p) = (0, .2), (.5, .6) and a dominated (.75, .5): area .5 * .2 + .5 * .6.
  assert hypervolume([0, 2, 3], [0.2, 0.6, 0.5], 4) == pytest.approx(0.4)
  assert hypervolume([4], [0.9], 4) == 0.0
  probs = np.array([0.1, np.nan, 0.5, 0.4])
  np.testing.assert_array_equal(non_dominated_sizes(probs), [0, 2])
  assert covers(probs, 2, 0.5) and covers(probs, 3, 0.45) and not covers(probs, 1, 0.2)


class AskTellTest(chex.TestCase):

  @chex.variants(with_jit=True)  # the operators inside are also tested unjitted (test_non_dominated, test_operators)
  def test_ask_then_tell(self):
    pop, length, k = 8, 16, 12
    params = el.ELimeConfig(init_prob=0.3).ga_params()
    strategy = NSGA2(population_size=pop)
    ask = self.variant(functools.partial(strategy.ask, num_genes=k, params=params))
    tell = self.variant(strategy.tell)
    state = jax.tree_util.tree_map(jnp.asarray, strategy.init(jax.random.PRNGKey(0), length=length))
    state, first = ask(state)
    chex.assert_shape(first, (pop, length))
    assert not np.asarray(first)[:, k:].any()
    np.testing.assert_array_equal(first, el.operators.bernoulli_init(
        jax.random.split(jax.random.PRNGKey(0), 5)[1], pop, length, num_genes=k, p=0.3))
    prob = jnp.linspace(0.1, 0.8, pop)
    state = tell(state, first, prob, prob)
    assert int(state.generation) == 1
    # Generation 0 replaces every placeholder parent.
    np.testing.assert_array_equal(np.sort(np.asarray(state.probability)), np.sort(np.asarray(prob)))
    state, kids = ask(state)
    assert not np.asarray(kids)[:, k:].any()
    # A NaN child counts as the worst and never enters the archive.
    nan_prob = jnp.full((pop,), jnp.nan).at[0].set(0.99)
    state = tell(state, kids, nan_prob, nan_prob)
    assert float(np.max(state.probability)) == pytest.approx(0.99)
    assert not np.isnan(np.asarray(state.probability)).any()  # a NaN child counts as the worst


def test_vmaps_over_images():
  pop, length = 6, 16
  params = el.ELimeConfig().ga_params()

  strategy = NSGA2(population_size=pop)

  def run(key, num_genes):
    def gen(s, _):
      s, g = strategy.ask(s, num_genes=num_genes, params=params)
      return strategy.tell(s, g, g[:, 0].astype(jnp.float32), g[:, 0].astype(jnp.float32)), None
    return jax.lax.scan(gen, jax.tree_util.tree_map(jnp.asarray, strategy.init(key, length=length)), None,
                        length=3)[0]

  keys = jax.random.split(jax.random.PRNGKey(1), 2)
  batched = jax.jit(jax.vmap(run))(keys, jnp.array([10, 16]))
  for i, k in enumerate((10, 16)):
    single = jax.jit(run)(keys[i], k)
    np.testing.assert_array_equal(batched.probability[i], single.probability)
    np.testing.assert_array_equal(batched.population[i], single.population)


def test_plot_and_strip(fronts, tmp_path):
  from evojax_lime.front_render import front_strip, plot_front, strip_sizes
  front = fronts[0]
  sizes = strip_sizes(front, 3)
  assert sizes == [0, 2, 5]
  plot_front(front, tmp_path / "front.png", title="planted", points=[(5, 0.9, "parsimony 0.5")])
  front_strip(front, sizes, tmp_path / "strip.png")
  for name in ("front.png", "strip.png"):
    assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  with pytest.raises(ValueError, match="at least one size"):
    front_strip(front, [], tmp_path / "none.png")
