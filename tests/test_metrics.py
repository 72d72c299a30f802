"""Metrics on a classifier whose probability is the fraction of visible planted pixels: every value is exact."""
import functools

import chex
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from evojax_lime import metrics, scores
from evojax_lime.evaluation.fitness import Problem
from evojax_lime.segmentation.superpixels import grid_segments

K = 16
PLANTED = (0, 5, 10)  # 3 of 16 equal superpixels (4 x 4 pixels each)
OTHERS = tuple(i for i in range(K) if i not in PLANTED)
PLANTED_FIRST = jnp.asarray(PLANTED + OTHERS, jnp.int32)


def _fraction_problem():
  labels = grid_segments(16, 16, K)
  image = np.full((16, 16, 3), 0.8, np.float32)
  planted = jnp.asarray(np.isin(labels, PLANTED), jnp.float32)
  total = float(planted.sum())

  def classifier(images):
    # p(class 0) = visible planted pixels / planted pixels (the fill is black).
    visible = (images.sum(-1) > 0).astype(jnp.float32)
    p = (visible * planted).sum((1, 2)) / total
    return jnp.stack([p, 1.0 - p], axis=-1)

  problem = Problem(image=jnp.asarray(image), labels=jnp.asarray(labels), fill=jnp.zeros_like(jnp.asarray(image)),
                    target=jnp.int32(0), num_genes=jnp.int32(K))
  return problem, classifier


class MetricsTest(chex.TestCase):

  def setUp(self):
    super().setUp()
    self.problem, self.classifier = _fraction_problem()

  @chex.variants(with_jit=True, without_jit=True)
  def test_explanation_probability(self):
    genomes = jnp.zeros((3, K), bool).at[0, [0, 5]].set(True).at[1, OTHERS].set(True).at[2, PLANTED].set(True)
    fn = self.variant(functools.partial(metrics.explanation_probability, classifier=self.classifier, chunk_size=2))
    np.testing.assert_allclose(fn(genomes, self.problem), [2 / 3, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(fn(genomes[0], self.problem), 2 / 3, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters(None, 1, 5)
  def test_one_superpixel_per_step(self, chunk_size):
    fn = self.variant(functools.partial(metrics.curves, classifier=self.classifier, chunk_size=chunk_size))
    c = fn(PLANTED_FIRST, self.problem)
    ins = np.array([0, 1 / 3, 2 / 3] + [1.0] * 14)
    np.testing.assert_allclose(c.insertion_fractions, np.arange(K + 1) / K)
    np.testing.assert_allclose(c.insertion, ins, atol=1e-6)
    np.testing.assert_allclose(c.deletion_fractions, 1 - np.arange(K + 1) / K)
    np.testing.assert_allclose(c.deletion, 1 - ins, atol=1e-6)
    # Trapezoids: (0 + 1/3 + 1/3 + 2/3 + 2/3 + 1) / 2 / 16 plus 13 full-height steps of 1/16.
    np.testing.assert_allclose(c.insertion_auc, 14.5 / 16, atol=1e-6)
    np.testing.assert_allclose(c.deletion_auc, 1.5 / 16, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_several_superpixels_per_step(self):
    fn = self.variant(functools.partial(metrics.curves, classifier=self.classifier, steps=4))
    c = fn(PLANTED_FIRST, self.problem)
    np.testing.assert_allclose(c.insertion_fractions, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(c.insertion, [0, 1, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(c.deletion, [1, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(c.insertion_auc, 0.875, atol=1e-6)
    np.testing.assert_allclose(c.deletion_auc, 0.125, atol=1e-6)
    # The worst ranking reveals the planted superpixels last: the areas swap.
    worst = fn(PLANTED_FIRST[::-1], self.problem)
    np.testing.assert_allclose(worst.insertion, [0, 0, 0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(worst.insertion_auc, 0.125, atol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_ranking_genomes_pad_and_uneven_steps(self):
    fn = self.variant(functools.partial(metrics.ranking_genomes, mode="insertion", steps=3, length=8))
    genomes, fractions = fn(jnp.asarray([4, 0, 2, 1, 3]))
    # floor(t * 5 / 3) superpixels shown after step t: 0, 1, 3, 5.
    expected = np.zeros((4, 8), bool)
    expected[1, [4]] = True
    expected[2, [4, 0, 2]] = True
    expected[3, :5] = True
    np.testing.assert_array_equal(genomes, expected)
    np.testing.assert_allclose(fractions, [0, 0.2, 0.6, 1.0])

  @chex.variants(with_jit=True, without_jit=True)
  def test_rank(self):
    fn = self.variant(metrics.rank)
    np.testing.assert_array_equal(fn(jnp.asarray([0.1, 0.5, 0.5, -1.0])), [1, 2, 0, 3])
    first = jnp.asarray([False, False, True, True])
    np.testing.assert_array_equal(self.variant(lambda s, f: metrics.rank(s, first=f))(jnp.asarray([0.1, 0.5, 0.2, 0.3]),
                                                                                      first), [3, 2, 1, 0])

  @chex.variants(with_jit=True, without_jit=True)
  def test_sparsity(self):
    genomes = jnp.asarray([[True, False, True, False], [False] * 4])
    np.testing.assert_allclose(self.variant(metrics.sparsity)(genomes), [0.5, 0.0])
    # Padded genomes: the fraction is of the K real superpixels.
    np.testing.assert_allclose(self.variant(metrics.sparsity)(genomes, 2), [1.0, 0.0])

  @chex.variants(with_jit=True, without_jit=True)
  def test_jaccard(self):
    sel = jnp.asarray([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0]], bool)
    # Jaccard: (0,1) = 1/3, (0,2) = 1, (1,2) = 1/3.
    np.testing.assert_allclose(self.variant(scores.mean_pairwise_jaccard)(sel), 5 / 9, atol=1e-6)
    np.testing.assert_allclose(self.variant(scores.mean_pairwise_jaccard)(sel[:1]), 1.0)
    np.testing.assert_allclose(self.variant(metrics.jaccard)(sel[0], sel[1]), 1 / 3, atol=1e-6)
    shifted = sel[jnp.asarray([1, 2, 0])]
    np.testing.assert_allclose(self.variant(metrics.jaccard)(sel, shifted), [1 / 3, 1 / 3, 1.0], atol=1e-6)


def test_stability_is_a_float():
  sel = jnp.asarray([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0]], bool)
  assert isinstance(metrics.stability(sel), float)
  assert metrics.stability(sel) == pytest.approx(5 / 9, abs=1e-6)
  assert metrics.stability(jnp.zeros((2, 4), bool)) == 1.0


@pytest.mark.parametrize("steps", [0, K + 1, 2.0, True])
def test_bad_steps(steps):
  with pytest.raises(ValueError, match="steps must be an integer"):
    metrics.ranking_genomes(PLANTED_FIRST, steps=steps)


def test_bad_mode_and_length():
  with pytest.raises(ValueError, match="mode must be one of"):
    metrics.ranking_genomes(PLANTED_FIRST, mode="erase")
  with pytest.raises(ValueError, match="length 8 is shorter"):
    metrics.ranking_genomes(PLANTED_FIRST, length=8)


def test_stability_needs_two_runs():
  with pytest.raises(ValueError, match="R >= 2"):
    metrics.stability(jnp.ones((1, 4), bool))
