"""The deletion curve against Quantus's ``PixelFlipping`` (Bach et al., 2015), the same definition on a small case.

With superpixels of equal size and an attribution constant on each, Quantus flips the image's values (every
channel) to black in descending attribution order, ``features_in_step`` at a time; every third step of one
superpixel's pixel count (3 channels), a whole superpixel more is black: exactly this engine's deletion curve
with the black fill, one superpixel per step. The classifier is a linear model on the pixels,
the same weights in torch (for Quantus) and JAX (for the engine).
"""
import jax
import jax.numpy as jnp
import numpy as np
import quantus  # the test extra installs it: a missing reference is a failure, not a skip
import torch

from evojax_lime import metrics
from evojax_lime.evaluation.fitness import Problem

SIDE, BLOCK, CLASSES = 16, 4, 3  # a 4 x 4 grid of 4 x 4-pixel superpixels


def _case():
  rng = np.random.default_rng(0)
  image = rng.uniform(0.2, 1.0, (SIDE, SIDE, 3)).astype(np.float32)
  rows, cols = np.indices((SIDE, SIDE)) // BLOCK
  labels = (rows * (SIDE // BLOCK) + cols).astype(np.int32)
  weights = rng.normal(0.0, 0.05, (CLASSES, 3 * SIDE * SIDE)).astype(np.float32)  # over (C, H, W), torch's order
  return image, labels, weights


def _torch_model(weights):
  linear = torch.nn.Linear(weights.shape[1], weights.shape[0], bias=False)
  with torch.no_grad():
    linear.weight.copy_(torch.from_numpy(weights))
  return torch.nn.Sequential(torch.nn.Flatten(), linear).eval()


def _jax_classifier(weights):
  w = jnp.asarray(weights)

  def classify(images):  # (N, H, W, 3) -> the same flattening as torch's (N, 3, H, W)
    return jax.nn.softmax(jnp.transpose(images, (0, 3, 1, 2)).reshape(images.shape[0], -1) @ w.T, axis=-1)
  return classify


def test_deletion_curve_equals_quantus_pixel_flipping():
  image, labels, weights = _case()
  k = int(labels.max()) + 1
  scores = np.random.default_rng(1).permutation(k).astype(np.float32)  # distinct: one order, no ties
  ranking = metrics.rank(scores)
  classifier = _jax_classifier(weights)
  target = int(np.argmax(np.asarray(classifier(jnp.asarray(image[None])))[0]))
  problem = Problem(image=jnp.asarray(image), labels=jnp.asarray(labels), fill=jnp.zeros_like(jnp.asarray(image)),
                    target=jnp.int32(target), num_genes=jnp.int32(k))
  ours = metrics.curves(ranking, problem, classifier=classifier)

  attribution = scores[labels][None, None].astype(np.float32)  # (1, 1, H, W): Quantus counts features per pixel
  metric = quantus.PixelFlipping(features_in_step=BLOCK * BLOCK, perturb_baseline=0.0, normalise=False,
                                 abs=False, disable_warnings=True)
  theirs = metric(model=_torch_model(weights), x_batch=image.transpose(2, 0, 1)[None].copy(),
                  y_batch=np.array([target]), a_batch=attribution, channel_first=True, softmax=True, device="cpu")
  theirs = np.asarray(theirs[0])
  assert theirs.shape == (3 * k,)  # 3 channels x K superpixels, one superpixel's pixel count per step
  # perturb_baseline=0.0, as the engine's black fill: Quantus's "black" is the image's own minimum. Quantus
  # records p after each step; the engine's curve starts at the full image (its step 0).
  np.testing.assert_allclose(ours.deletion[1:], theirs[2::3], atol=1e-5)
