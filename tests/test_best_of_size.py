"""benchmarks/best_of_size.py: the enumeration of every small mask, on a planted classifier with a known optimum."""
import math

import numpy as np
import pytest

import evojax_lime as el
from benchmarks import _ground_truth_cases as planted
from benchmarks import best_of_size
from benchmarks.time_to_quality import on_segments


@pytest.mark.parametrize("num_segments,k", [(1, 1), (5, 2), (6, 6), (9, 3)])
def test_masks_up_to_lists_every_mask_of_1_to_k_once(num_segments, k):
  masks = best_of_size.masks_up_to(num_segments, k)
  assert masks.shape == (best_of_size.count_up_to(num_segments, k), num_segments)
  assert len({row.tobytes() for row in masks}) == len(masks)  # no mask twice
  sizes = masks.sum(1)
  assert sizes.min() == 1 and sizes.max() == k and np.all(np.diff(sizes) >= 0)  # smaller sizes first
  assert [int((sizes == s).sum()) for s in range(1, k + 1)] == [math.comb(num_segments, s) for s in range(1, k + 1)]


def test_best_mask_is_the_planted_optimum_and_a_smaller_size_cannot_reach_it():
  case = next(c for c in planted.cases() if c.name == "conjunction")  # p 0.95 only with all 4 planted regions
  subject = on_segments(case.image, case.labels, "black", 0)
  classifier, config = planted.planted_classifier(case), el.ELimeConfig(fill="black")
  p, mask = best_of_size.best_mask(subject, best_of_size.masks_up_to(case.num_segments, 4), classifier, config)
  assert p == pytest.approx(0.95, abs=1e-5) and tuple(np.flatnonzero(mask)) == tuple(sorted(case.truth))
  p3, _ = best_of_size.best_mask(subject, best_of_size.masks_up_to(case.num_segments, 3), classifier, config)
  assert p3 == pytest.approx(0.05, abs=1e-5)  # any 3 of the 4 say nothing: lime-quality 0.95 is unreachable at 3
