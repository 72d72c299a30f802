"""The engine recovers a planted explanation exactly."""
import numpy as np
import pytest

import evojax_lime as el
from tests.engine.planted import planted_problem

PLANTED = (0, 5, 6, 9, 15)


@pytest.mark.parametrize("crossover", ["uniform", "one_point", "two_point"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_planted_set(crossover, seed):
  image, labels, clf = planted_problem(PLANTED)
  config = el.ELimeConfig(population_size=32, generations=30, crossover=crossover, parsimony=0.0, fill="black",
                          answer="fittest")
  exp = el.explain(image, clf, segments=labels, config=config, seed=seed)
  assert exp.target == 0
  assert tuple(exp.selected) == PLANTED
  assert exp.explanation_probability > exp.original_probability
  # Importance ranks the planted superpixels first.
  assert set(np.argsort(-exp.importance)[:len(PLANTED)]) == set(PLANTED)
  # Best-so-far fitness never decreases.
  assert (np.diff(exp.fitness_history) >= 0).all()
