"""Chunk size, genome padding and batching on real networks (random-weight ResNet-18 and EfficientNet-Lite0).

Padding never changes what the classifier receives, so it is bit-identical. Chunk size and batching change
the classifier's batch shape; XLA's convolutions may then sum in another order, which moves probabilities by
a few ulps. Measured here: at most 1.5e-7 relative on probabilities, 7.5e-9 on fitness, the same genomes.
The tests hold that bound with a margin.
"""
import dataclasses

import numpy as np
import pytest
from PIL import Image
from skimage import data

import evojax_lime as el
import models
from tests.engine.same import assert_identical

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it

BASE = el.ELimeConfig(population_size=8, generations=3, segmentation="grid", segmentation_params={"n_segments": 16})
REL = 1e-6  # probabilities, relative
ABS = 1e-6  # fitness histories


def _close(a, b):
  np.testing.assert_array_equal(a.genome, b.genome)
  np.testing.assert_allclose(a.fitness_history, b.fitness_history, rtol=0, atol=ABS)
  np.testing.assert_allclose(a.mean_fitness_history, b.mean_fitness_history, rtol=0, atol=ABS)
  assert a.explanation_probability == pytest.approx(b.explanation_probability, rel=REL)
  assert a.original_probability == pytest.approx(b.original_probability, rel=REL)


@pytest.fixture(scope="module")
def photos():
  photo = np.asarray(Image.fromarray(data.chelsea()).resize((32, 32))).astype(np.float32) / 255
  return photo, np.ascontiguousarray(photo[::-1])


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_lite0"])
def test_padding_is_bit_identical_chunks_and_batches_within_ulps(photos, name):
  photo, flipped = photos
  clf = models.create(name).classifier()
  # Three programs, each a compile of the whole network: every change under test appears in one of them.
  ref = el.explain(photo, clf, config=BASE, seed=1)
  # Chunks of 3 that straddle the two images of a batch: another batch shape for the classifier, so within ulps.
  _close(ref, el.explain_batch([photo, flipped], clf, config=dataclasses.replace(BASE, chunk_size=3),
                               seeds=[1, 2])[0])
  # Padded genomes in a batch whose chunk holds exactly one image's population: the classifier sees what it saw
  # alone, so bit-identical.
  assert_identical(ref, el.explain_batch([photo, flipped], clf,
                                         config=dataclasses.replace(BASE, genome_length=64, chunk_size=8),
                                         seeds=[1, 2])[0])
