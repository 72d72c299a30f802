"""Masked batch and fills against plain numpy."""
import chex
import numpy as np

from evojax_lime.evaluation.fill import make_fill
from evojax_lime.evaluation.masking import masked_batch
from evojax_lime.segmentation.superpixels import genome_length, grid_segments, relabel, segment


class MaskingTest(chex.TestCase):

  def setUp(self):
    rng = np.random.default_rng(0)
    self.image = rng.uniform(size=(20, 30, 3)).astype(np.float32)
    self.labels = grid_segments(20, 30, 6)
    self.k = int(self.labels.max()) + 1

  @chex.variants(with_jit=True, without_jit=True)
  def test_masked_batch_matches_numpy(self):
    genomes = np.random.default_rng(1).uniform(size=(5, 16)) < 0.5
    fill = np.full_like(self.image, 0.25)
    out = np.asarray(self.variant(masked_batch)(genomes, self.image, self.labels, fill))
    chex.assert_shape(out, (5, 20, 30, 3))
    for n in range(5):
      for k in range(self.k):
        region = self.labels == k
        want = self.image[region] if genomes[n, k] else fill[region]
        np.testing.assert_array_equal(out[n][region], want)

  @chex.variants(with_jit=True, without_jit=True)
  def test_fills(self):
    fn = lambda kind: self.variant(lambda i, l: make_fill(i, l, kind=kind, length=16, blur_sigma=2.0))
    black = np.asarray(fn("black")(self.image, self.labels))
    assert (black == 0).all()
    mean = np.asarray(fn("mean")(self.image, self.labels))
    for k in range(self.k):
      region = self.labels == k
      np.testing.assert_allclose(mean[region], np.broadcast_to(self.image[region].mean(0), mean[region].shape),
                                 rtol=1e-5)
    image_mean = np.asarray(fn("image_mean")(self.image, self.labels))
    np.testing.assert_allclose(image_mean, np.broadcast_to(self.image.mean((0, 1)), self.image.shape), rtol=1e-5)
    blur = np.asarray(fn("blur")(self.image, self.labels))
    chex.assert_shape(blur, self.image.shape)
    assert blur.std() < self.image.std() / 2  # noise is smoothed away
    np.testing.assert_allclose(blur.mean((0, 1)), self.image.mean((0, 1)), atol=0.03)


def test_relabel_and_genome_length():
  labels = relabel(np.array([[5, 5, 9], [2, 9, 9]]))
  np.testing.assert_array_equal(labels, [[1, 1, 2], [0, 2, 2]])
  assert labels.dtype == np.int32
  assert genome_length(3) == 16 and genome_length(17) == 32 and genome_length(64) == 64
  assert genome_length(10, 40) == 40


def test_host_segmentations_are_contiguous():
  image = np.random.default_rng(0).uniform(size=(40, 48, 3)).astype(np.float32)
  for method in ("quickshift", "slic", "felzenszwalb", "grid"):
    labels = segment(image, method)
    assert labels.shape == (40, 48) and labels.dtype == np.int32
    assert set(np.unique(labels)) == set(range(labels.max() + 1)), method
