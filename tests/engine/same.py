"""One assertion for "the same explanation, bit for bit", shared by the engine's tests."""
import numpy as np


def assert_identical(a, b) -> None:
  """Every array and probability of two :class:`Explanation` objects is equal, bit for bit."""
  np.testing.assert_array_equal(a.genome, b.genome)
  np.testing.assert_array_equal(a.fitness_history, b.fitness_history)
  np.testing.assert_array_equal(a.mean_fitness_history, b.mean_fitness_history)
  np.testing.assert_array_equal(a.importance, b.importance)
  assert a.explanation_probability == b.explanation_probability
  assert a.original_probability == b.original_probability
