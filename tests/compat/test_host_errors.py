"""A host ``classifier_fn`` (or ``host_classifier``) that misbehaves in a later batch: one plain ``ValueError``
saying what came back, never XLA's ``CpuCallback error`` with a traceback in it."""
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.compat import lime_image

SIZE = 32
LABELS = np.arange(SIZE * SIZE).reshape(SIZE, SIZE) // 128  # 8 horizontal bands
FAST = el.ELimeConfig(population_size=8, generations=2)


class _Failing:
  """A numpy classifier (it reads pixel values, so it cannot be traced) that turns bad after ``good_calls``
  (:meth:`after`). One object serves every case: the engine's program around it is compiled once, and a wrapper
  that failed in one run must serve the next."""

  def after(self, good_calls, fault):
    self.good_calls, self.fault, self.calls = good_calls, fault, []
    return self

  def __call__(self, images):
    images = np.asarray(images)
    self.calls.append(len(images))
    scores = np.tile(np.array([[0.3, 0.7]], np.float32), (len(images), 1)) * (1 + 0 * images[:, :1, 0, 0])
    if len(self.calls) <= self.good_calls:
      return scores
    if self.fault == "rows":
      return scores[:-1]
    if self.fault == "nan":
      scores[0] = np.nan
      return scores
    raise RuntimeError("device lost\nwhile classifying")


_FAILING = _Failing()


@pytest.mark.parametrize("fault, expect", [
    ("rows", "returned shape ("), ("nan", "NaN or infinite"), ("raises", "raised RuntimeError: device lost")])
@pytest.mark.parametrize("method", ["lime", "elime"])
def test_later_batch_gone_wrong_is_one_value_error(method, fault, expect):
  image = np.random.default_rng(0).random((SIZE, SIZE, 3)).astype(np.float32)
  # lime: the probe call, then batches of 16; elime: the probe, the full image, then populations of 8.
  fn = _FAILING.after(2, fault)
  options = dict(num_samples=64) if method == "lime" else dict(config=FAST)
  with pytest.raises(ValueError) as caught:
    lime_image.LimeImageExplainer(random_state=0).explain_instance(
        image, fn, top_labels=1, batch_size=16, segmentation_fn=lambda _: LABELS, method=method,
        jax_classifier=False, **options)
  message = str(caught.value)
  assert type(caught.value) is ValueError and expect in message
  assert "classifier" in message  # NaN is the engine's own check; the others name classifier_fn
  assert "\n" not in message and "Traceback" not in message and "CpuCallback" not in message


def test_host_classifier_error_reaches_the_caller():
  classifier = el.host_classifier(lambda x: np.zeros((len(x) - 1, 3), np.float32), num_classes=3)
  image = np.random.default_rng(1).random((SIZE, SIZE, 3)).astype(np.float32)
  with pytest.raises(ValueError, match=r"host classifier returned shape \(7, 3\) for 8 images, expected \(8, 3\)"):
    el.explain(image, classifier, segments=LABELS, config=FAST)
  # Reported once: a later run with the same wrapper starts clean (and fails on its own calls again).
  with pytest.raises(ValueError, match="host classifier returned shape"):
    el.explain(image, classifier, segments=LABELS, config=FAST)
