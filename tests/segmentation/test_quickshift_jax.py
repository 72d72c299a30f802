"""JAX quickshift against skimage's with LIME's settings, and the guarantees the engine relies on: labels
0..K-1, one 4-connected region per label, K bounded statically, jit and vmap."""
from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage import segmentation

from benchmarks._agreement import AGREEMENT_PHOTOS, adjusted_rand_index, agreement_photo, boundary_recall
from evojax_lime.segmentation import quickshift_host, quickshift_jax
from benchmarks._agreement import pieces
from evojax_lime.segmentation.superpixels import LIME_QUICKSHIFT, in_program_labels, segment
from tests.segmentation.test_slic_jax import assert_valid

# Measured at 224 x 224 (skimage 0.26, jax 0.10.2 CPU): ARI 0.9935-0.9988, boundary recall 0.975-1.0, K equal
# to skimage's on every photo. Nearly all of the difference is the pieces of skimage's labels that are not
# 4-connected (30-212 pixels a photo), which join neighbours here.
MIN_ARI = 0.98
MIN_BOUNDARY_RECALL = 0.95
COUNT_TOLERANCE = 0.05

SMALL = 48  # side of the photos of the shape tests, which share one compiled function
SMALL_BOUND = 40


def _quickshift(image, **params):
  """The jitted quickshift that host segmentation uses (one compile cache for the whole file)."""
  return in_program_labels(image, "quickshift_jax", params, jit=True)


@functools.lru_cache(maxsize=None)
def reference(name: str) -> np.ndarray:
  return segmentation.quickshift(agreement_photo(name).astype(np.float64), **LIME_QUICKSHIFT)


@pytest.mark.parametrize("name", AGREEMENT_PHOTOS)
def test_agrees_with_skimage(name):
  ref = reference(name)
  labels, k = _quickshift(agreement_photo(name))
  labels, k = np.asarray(labels), int(k)
  assert_valid(labels, k)
  assert abs(k - (ref.max() + 1)) <= COUNT_TOLERANCE * (ref.max() + 1)
  assert adjusted_rand_index(ref, labels) >= MIN_ARI
  assert boundary_recall(ref, labels) >= MIN_BOUNDARY_RECALL
  # skimage's numbering (by root pixel), so most pixels carry the very same label.
  assert (labels == ref).mean() > 0.99


@pytest.mark.parametrize("name", AGREEMENT_PHOTOS)
def test_the_host_cut_is_the_programs(name):
  # segmentation="auto" on a CPU: scikit-image's quickshift, then the same one-region step and bound in numpy.
  photo = agreement_photo(name)
  np.testing.assert_array_equal(segment(photo, "auto"), np.asarray(_quickshift(photo)[0]))


def test_the_host_steps_are_the_programs_on_pieces_and_caps():
  image = _pieces_image()
  want = np.asarray(_quickshift(image, **PIECES)[0])
  np.testing.assert_array_equal(quickshift_host.quickshift(image, **PIECES), want)
  coffee = agreement_photo("coffee", SMALL)
  for bound in (SMALL_BOUND, 4):
    want = np.asarray(_quickshift(coffee, max_segments=bound, max_dist=4.0)[0])
    np.testing.assert_array_equal(quickshift_host.quickshift(coffee, max_segments=bound, max_dist=4.0), want)
  # Any label map with stray pieces: the numpy step and the JAX one give the same labels.
  rng = np.random.default_rng(1)
  labels = rng.integers(0, 6, size=(20, 23))
  want = np.asarray(jax.jit(quickshift_jax.one_region_per_label)(labels)[0])
  np.testing.assert_array_equal(quickshift_host.one_region_per_label(labels), want)


def test_tie_noise_is_skimages():
  # A flat image: every density tie is broken by the noise alone, so the roots are the noise's.
  image = np.full((30, 34, 3), 0.4)
  image[:, 17:] = 0.7
  ref = segmentation.quickshift(image, kernel_size=2, max_dist=3, ratio=1.0)
  labels, k = _quickshift(image.astype(np.float32), kernel_size=2, max_dist=3, ratio=1.0, max_segments=1000)
  assert int(k) == ref.max() + 1 > 2
  # Roots of skimage's trees that are not 4-connected to their tree are the only difference allowed.
  assert adjusted_rand_index(ref, np.asarray(labels)) > 0.95


def _pieces_image() -> np.ndarray:
  """Stripes one pixel wide across a two-colour image: quickshift links across them into disconnected labels."""
  image = np.zeros((24, 24, 3), np.float32)
  image[:, 12:] = 1.0
  image[::3, :] = 0.5
  return image


PIECES = {"kernel_size": 1, "max_dist": 20.0, "ratio": 0.5, "max_segments": 500}


def test_every_label_is_one_region():
  image = _pieces_image()
  ref = segmentation.quickshift(image.astype(np.float64), kernel_size=1, max_dist=20, ratio=0.5)
  assert pieces(ref) > ref.max() + 1  # skimage's labels here are not all 4-connected
  labels, k = _quickshift(image, **PIECES)
  assert int(k) == ref.max() + 1  # each label keeps its largest piece; the others join neighbours
  assert_valid(labels, int(k))


def test_cap_merges_smallest_regions():
  image = agreement_photo("coffee", SMALL)
  labels, k = _quickshift(image, max_segments=SMALL_BOUND, max_dist=4.0)  # a short reach: many regions
  assert 10 < int(k) < SMALL_BOUND
  capped, kc = _quickshift(image, max_segments=4, max_dist=4.0)
  assert int(kc) == 4
  assert_valid(capped, 4)
  labels, capped = np.asarray(labels), np.asarray(capped)
  # Merging only joins whole regions: every uncapped region lies inside one capped region.
  assert all(len(np.unique(capped[labels == v])) == 1 for v in range(int(k)))
  # The largest region survives the merging.
  biggest = np.bincount(labels.ravel()).argmax()
  assert (capped[labels == biggest] == capped[labels == biggest][0]).all()


def test_default_bound():
  assert quickshift_jax.default_max_segments(224, 224) == 161  # two per 25 x 25 window
  assert quickshift_jax.default_max_segments(5, 5) == 2
  with pytest.raises(ValueError, match="max_segments"):
    quickshift_jax.quickshift(jnp.zeros((8, 8, 3)), max_segments=1)
  with pytest.raises(ValueError, match="kernel_size"):
    quickshift_jax.quickshift(jnp.zeros((8, 8, 3)), kernel_size=0.5)
  with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
    quickshift_jax.quickshift(jnp.zeros((8, 8)))


@pytest.mark.parametrize("shape", [(5, 7), (26, 9)])
def test_images_smaller_than_the_window(shape):
  image = np.random.default_rng(0).uniform(size=(*shape, 3))
  ref = segmentation.quickshift(image, kernel_size=4, max_dist=200, ratio=0.2)
  labels, k = _quickshift(image.astype(np.float32))
  assert_valid(labels, int(k))
  assert int(k) == ref.max() + 1


class TestVariants(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_jit_and_eager_agree(self):
    image = _pieces_image()
    fn = self.variant(functools.partial(quickshift_jax.quickshift, **PIECES))
    labels, k = fn(image)
    want, want_k = _quickshift(image, **PIECES)
    np.testing.assert_array_equal(labels, want)
    assert int(k) == int(want_k)


def test_vmapped_batch_equals_single_images():
  images = np.stack([agreement_photo(n, SMALL) for n in ("chelsea", "coffee", "rocket")])
  fn = jax.jit(functools.partial(quickshift_jax.quickshift_batch, max_segments=SMALL_BOUND))
  labels, ks = fn(images)
  assert labels.shape == (3, SMALL, SMALL) and ks.shape == (3,)
  for image, got, k in zip(images, np.asarray(labels), np.asarray(ks)):
    want, want_k = _quickshift(image, max_segments=SMALL_BOUND)
    np.testing.assert_array_equal(got, want)
    assert k == int(want_k)


def test_host_dispatch_and_integer_input():
  image = agreement_photo("chelsea", SMALL)
  labels = segment(image, "quickshift_jax", {"max_segments": SMALL_BOUND})
  np.testing.assert_array_equal(labels, np.asarray(_quickshift(image, max_segments=SMALL_BOUND)[0]))
  as_uint8 = (image * 255).round().astype(np.uint8)
  want = _quickshift((as_uint8 / np.float32(255)).astype(np.float32), max_segments=SMALL_BOUND)[0]
  np.testing.assert_array_equal(np.asarray(_quickshift(as_uint8, max_segments=SMALL_BOUND)[0]), np.asarray(want))
  with pytest.raises(ValueError, match="segmentation_params"):
    segment(image, "quickshift_jax", {"bogus": 1})
