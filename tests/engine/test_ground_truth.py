"""The answer is right on planted classifiers whose evidence is known (the cases of benchmarks/ground_truth.py):
the default rule (the knee) in the program, and the same rule applied to the run's archive on the host."""
import chex
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from benchmarks import _ground_truth_cases as planted_cases
from evojax_lime.engine.loop import KNEE_TOLERANCE, knee
from tests.engine.archives import NEG, apply_rule


class KneeTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_smallest_size_within_the_tolerance_of_the_best(self):
    # Row 0: the best is 0.9 at size 4; size 3 (0.88) is within the tolerance, size 2 (0.8) is not.
    # Row 1: only the image (size K = 3) reaches the best: it is the answer. Row 2: nothing evaluated yet.
    probability = [[0.99, 0.5, 0.8, 0.88, 0.9],
                   [0.99, 0.1, 0.2, 0.8, NEG],
                   [NEG, NEG, NEG, NEG, NEG]]
    genome, found, mask, p = apply_rule(self.variant(knee), probability, jnp.asarray([4, 3, 4]))
    np.testing.assert_array_equal(found, [True, True, False])
    np.testing.assert_array_equal(mask[0], genome[0, 3])
    np.testing.assert_array_equal(mask[1], genome[1, 3])
    np.testing.assert_allclose(p[:2], [0.88, 0.8])

  @chex.variants(with_jit=True, without_jit=True)
  def test_the_empty_mask_and_padding_never_count(self):
    # The empty mask (size 0) is the most probable, and padded sizes beyond K hold junk: neither is the best.
    probability = [[0.99, 0.3, 0.6, 0.99, 0.99]]
    genome, found, mask, p = apply_rule(self.variant(knee), probability, jnp.asarray([2]),
                                        genome=jnp.eye(5, 4, dtype=bool)[None])
    assert bool(found[0]) and float(p[0]) == pytest.approx(0.6)
    np.testing.assert_array_equal(mask[0], genome[0, 2])


def test_tolerance_is_below_one_planted_piece_of_evidence():
  assert 0 < KNEE_TOLERANCE < 0.15


@pytest.fixture(scope="module")
def planted_answers():
  config = el.ELimeConfig(fill="black")  # the default answer rule
  return {c.name: (c, el.explain(c.image, planted_cases.planted_classifier(c), target=0, segments=c.labels, seed=0,
                                 config=config)) for c in planted_cases.cases()}


def knee_of(exp):
  """The knee rule applied to the run's archive, as the program applies it with ``answer="knee"``."""
  archive = np.nan_to_num(exp.size_probabilities, nan=-np.inf)[None].astype(np.float32)
  found, mask, p = knee(archive, exp.size_genomes[None], np.int32([exp.num_segments]))
  assert bool(found[0])
  return np.flatnonzero(mask[0]), float(p[0])


@pytest.mark.parametrize("name", ["additive", "conjunction", "many"])
def test_the_answer_is_exactly_the_planted_evidence(planted_answers, name):
  case, exp = planted_answers[name]
  assert exp.config.answer == "knee"
  assert tuple(exp.selected) == case.truth
  assert not set(exp.selected) & set(case.negative)
  assert exp.explanation_probability == pytest.approx(0.95, abs=1e-5)
  selected, p = knee_of(exp)
  assert tuple(selected) == case.truth and p == pytest.approx(0.95, abs=1e-5)


def test_a_disjunction_is_answered_by_one_whole_set(planted_answers):
  # Either set alone is a complete reason: the answer is one of them, not both, not a part of one.
  case, exp = planted_answers["disjunction"]
  assert tuple(exp.selected) in (case.truth, case.alternative)
  assert tuple(knee_of(exp)[0]) in (case.truth, case.alternative)


def test_saturation_keeps_only_evidence_and_stops_where_p_saturates(planted_answers):
  # 3 of the 5 positives already give p 0.99 (within the tolerance of the 5's 0.9999); which 3 is not fixed.
  case, exp = planted_answers["saturation"]
  assert set(exp.selected) <= set(case.truth) and len(exp.selected) == 3
  assert exp.explanation_probability > 0.98
  selected, p = knee_of(exp)
  assert set(selected) <= set(case.truth) and len(selected) == 3 and p > 0.98


def test_cases_are_what_the_benchmark_says():
  cases = {c.name: c for c in planted_cases.cases()}
  assert cases["additive"].num_segments == 21 and cases["many"].num_segments >= 80
  for case in cases.values():
    chex.assert_shape((case.labels, case.image), ((planted_cases.SIDE,) * 2, (planted_cases.SIDE,) * 2 + (3,)))
    assert len(np.unique(case.labels)) == case.num_segments
    assert not set(case.truth) & set(case.negative + case.alternative)
  assert planted_cases.case_scores(cases["disjunction"], np.asarray(cases["disjunction"].alternative))["f1"] == 1.0
  assert planted_cases.case_scores(cases["additive"], np.asarray(cases["additive"].truth[:3]))["recall"] == pytest.approx(0.6)


def test_margin_and_compactness_are_reported(planted_answers):
  import dataclasses
  case, exp = planted_answers["additive"]
  assert exp.margin == pytest.approx(exp.explanation_probability - exp.original_probability) and exp.margin > 0.4
  assert exp.compact and exp.summary()["compact"] is True and exp.summary()["margin"] == exp.margin
  most = dataclasses.replace(exp, genome=np.arange(case.num_segments) < case.num_segments // 2 + 1)
  assert not most.compact and not most.summary()["compact"]
  from evojax_lime import render
  assert dict(render.numbers(most))["kept / K"].endswith("(no compact explanation found)")
