"""The answer rules: the fittest genome, the smallest archived mask more probable than the full image, and the
knee of the per-size curve (the default; tests/engine/test_ground_truth.py)."""
import functools

import chex
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.engine.loop import sufficient
from tests.engine.archives import NEG, apply_rule
from tests.engine.planted import planted_problem


class SufficientTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_smallest_qualifying_size(self):
    # Row 0: sizes 2 and 3 beat 0.5, so size 2. Row 1: only the empty mask and the full image (K = 3) beat
    # 0.5, and neither qualifies. Row 2: the original is not evaluated yet (NaN).
    probability = [[0.9, 0.1, 0.6, 0.7, 0.2],
                   [0.9, 0.1, 0.2, 0.8, NEG],
                   [0.9, 0.9, 0.9, 0.9, 0.9]]
    genome, found, mask, p = apply_rule(self.variant(sufficient), probability, jnp.asarray([0.5, 0.5, jnp.nan]),
                                        jnp.asarray([4, 3, 4]))
    np.testing.assert_array_equal(found, [True, False, False])
    np.testing.assert_array_equal(mask[0], genome[0, 2])
    np.testing.assert_allclose(p[0], 0.6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_ties_with_the_original_do_not_qualify(self):
    probability = [[NEG, 0.5, 0.5, 0.7, 0.9]]
    genome, found, mask, p = apply_rule(self.variant(sufficient), probability, jnp.asarray([0.5]),
                                        jnp.asarray([4]), genome=jnp.eye(5, 4, dtype=bool)[None])
    assert bool(found[0]) and float(p[0]) == pytest.approx(0.7)
    np.testing.assert_array_equal(mask[0], genome[0, 3])


PLANTED = (1, 6, 10, 12)


@functools.lru_cache(maxsize=None)
def _four_planted():
  """Logit 8 * (planted fraction - 0.5 * other fraction), one classifier object for the module: a program run
  with it is not compiled again."""
  return planted_problem(PLANTED, other_weight=0.5)


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_answer_is_the_smallest_mask_above_the_image(seed):
  # The image scores 4, j of the 4 planted superpixels alone 2j, so the smallest masks above the image keep 3 of
  # them; the fittest (no parsimony) keeps all 4.
  image, labels, clf = _four_planted()
  base = dict(population_size=16, generations=4, parsimony=0.0, fill="black")
  exp = el.explain(image, clf, segments=labels, config=el.ELimeConfig(**base, answer="sufficient"), seed=seed)
  assert len(exp.selected) == 3 and set(exp.selected) <= set(PLANTED)
  assert exp.explanation_probability > exp.original_probability
  smaller = exp.size_probabilities[1:3]
  assert np.all(np.isnan(smaller) | (smaller <= exp.original_probability))
  np.testing.assert_array_equal(exp.genome, exp.best_of_size(3, at_most=False))
  assert exp.best_fitness == pytest.approx(exp.explanation_probability)  # parsimony 0
  # The curves score this answer: its superpixels are revealed first.
  assert set(exp.faithfulness.ranking[:3]) == set(exp.selected)

  fittest = el.explain(image, clf, segments=labels, config=el.ELimeConfig(**base, answer="fittest"), seed=seed)
  assert tuple(fittest.selected) == PLANTED
  assert fittest.best_fitness == pytest.approx(fittest.fitness_history[-1])


def test_falls_back_to_the_fittest_when_nothing_beats_the_image():
  # The logit grows with every planted superpixel shown and ignores the one other: no mask smaller than the
  # image is more probable than it (the planted set alone ties with it).
  image, labels, clf = planted_problem(tuple(range(15)), other_weight=0.0)
  base = dict(population_size=16, generations=2, parsimony=0.0, fill="black")
  exp = el.explain(image, clf, segments=labels, config=el.ELimeConfig(**base, answer="sufficient"), seed=0)
  fittest = el.explain(image, clf, segments=labels, config=el.ELimeConfig(**base, answer="fittest"), seed=0)
  np.testing.assert_array_equal(exp.genome, fittest.genome)
  assert exp.explanation_probability == fittest.explanation_probability


def test_restarts_take_the_consensus_of_the_answers():
  image, labels, clf = _four_planted()
  config = el.ELimeConfig(population_size=16, generations=3, parsimony=0.0, fill="black", answer="sufficient")
  exp = el.explain(image, clf, segments=labels, config=config, seed=0, restarts=3)
  votes = np.stack([r.genome for r in exp.runs]).sum(0)
  np.testing.assert_array_equal(exp.genome, 2 * votes >= 3)
  assert all(len(r.selected) == 3 for r in exp.runs)


def test_the_option_is_checked_and_the_paper_keeps_the_fittest():
  assert el.ELimeConfig.paper().answer == "fittest" and el.ELimeConfig().answer == "knee"
  with pytest.raises(ValueError, match="answer must be one of sufficient, fittest"):
    el.ELimeConfig(answer="smallest")
  image, labels, clf = planted_problem((1, 2))
  with pytest.raises(ValueError, match="nsga2 strategy does not use answer"):
    el.explain_front(image, clf, segments=labels, config=el.ELimeConfig(answer="fittest", population_size=8,
                                                                          generations=1, fill="black"))
