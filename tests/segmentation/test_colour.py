"""The in-program segmentations' CIELAB conversion against scikit-image's."""
import jax.numpy as jnp
import numpy as np
from skimage import color

from evojax_lime.segmentation.colour import rgb_to_lab


def test_rgb_to_lab_matches_skimage():
  rng = np.random.default_rng(0)
  rgb = np.concatenate([rng.uniform(size=(4000, 3)), rng.uniform(0, 0.05, (500, 3)),  # dark: linear branch
                        np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.04045] * 3])])
  got = np.asarray(rgb_to_lab(jnp.asarray(rgb, jnp.float32)))
  np.testing.assert_allclose(got, color.rgb2lab(rgb), atol=1e-3)  # measured max error 7e-5
  assert rgb_to_lab(jnp.zeros((2, 5, 3))).shape == (2, 5, 3)
