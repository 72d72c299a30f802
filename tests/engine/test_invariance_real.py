"""Chunk size, genome padding and batching leave results bit-identical on real networks (random weights).

XLA may sum in another order when a program's shapes change; these checks run the real ResNet-18 and
EfficientNet-Lite0 ports, where that would show, at a small image size.
"""
import dataclasses

import numpy as np
import pytest
from PIL import Image
from skimage import data

import evojax_lime as el
import models

BASE = el.ELimeConfig(population_size=8, generations=3, segmentation="grid", segmentation_params={"n_segments": 16})


def _same(a, b):
  np.testing.assert_array_equal(a.genome, b.genome)
  np.testing.assert_array_equal(a.fitness_history, b.fitness_history)
  np.testing.assert_array_equal(a.mean_fitness_history, b.mean_fitness_history)
  assert a.explanation_probability == b.explanation_probability
  assert a.original_probability == b.original_probability


@pytest.fixture(scope="module")
def photo():
  return np.asarray(Image.fromarray(data.chelsea()).resize((32, 32))).astype(np.float32) / 255


@pytest.mark.parametrize("name", ["resnet18", "efficientnet_lite0"])
def test_chunks_padding_and_batches_are_bit_identical(photo, name):
  clf = models.create(name).classifier()
  ref = el.explain(photo, clf, config=BASE, seed=1)
  for chunk in (1, 3):
    _same(ref, el.explain(photo, clf, config=dataclasses.replace(BASE, chunk_size=chunk), seed=1))
  _same(ref, el.explain(photo, clf, config=dataclasses.replace(BASE, genome_length=64), seed=1))
  flipped = np.ascontiguousarray(photo[::-1])
  batch = el.explain_batch([photo, flipped], clf, config=BASE, seeds=[1, 2])
  _same(ref, batch[0])
  _same(el.explain(flipped, clf, config=BASE, seed=2), batch[1])
