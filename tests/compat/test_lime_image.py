"""``evojax_lime.compat.lime_image`` against reference ``lime`` 0.2.0.1: lime's torch tutorial, one import changed."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from lime import lime_image as reference
from skimage.segmentation import mark_boundaries
from torchvision import transforms

from evojax_lime.compat import lime_image
from evojax_lime.segmentation.superpixels import grid_segments

ATOL = 1e-5  # float32 JAX fit against float64 scikit-learn
# One torch thread: on a small shared CPU, torch's thread pool and XLA's (waiting in the host callback) contend.
torch.set_num_threads(1)


def _tiny_cnn():
  torch.manual_seed(0)
  return torch.nn.Sequential(
      torch.nn.Conv2d(3, 6, 3, stride=2), torch.nn.ReLU(), torch.nn.Conv2d(6, 8, 3, stride=2), torch.nn.ReLU(),
      torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 10)).eval()


MODEL = _tiny_cnn()
# lime's torch tutorial: ToTensor (uint8 HWC -> float CHW / 255) then ImageNet normalisation.
preprocess_transform = transforms.Compose([transforms.ToTensor(),
                                           transforms.Normalize(mean=[0.485, 0.456, 0.406],
                                                                std=[0.229, 0.224, 0.225])])
CALLS = []


def batch_predict(images):
  if isinstance(images, np.ndarray):  # not the one trace that finds out whether this is a JAX function
    CALLS.append((images.shape, images.dtype))
  MODEL.eval()
  batch = torch.stack(tuple(preprocess_transform(i) for i in images), dim=0)
  with torch.no_grad():
    logits = MODEL(batch)
  probs = F.softmax(logits, dim=1)
  return probs.detach().cpu().numpy()


def _photo(size=40):
  from skimage import data
  from PIL import Image
  return np.array(Image.fromarray(data.chelsea()).resize((size, size)))


def _tutorial(module):
  """lime's image tutorial, as written there (only ``module`` differs)."""
  img = _photo()
  np.random.seed(0)  # the tutorial's explainer draws from numpy's global state
  explainer = module.LimeImageExplainer()
  explanation = explainer.explain_instance(img, batch_predict, top_labels=5, hide_color=0, num_samples=1000)
  temp, mask = explanation.get_image_and_mask(explanation.top_labels[0], positive_only=True, num_features=5,
                                              hide_rest=False)
  img_boundry1 = mark_boundaries(temp / 255.0, mask)
  temp, mask = explanation.get_image_and_mask(explanation.top_labels[0], positive_only=False, num_features=10,
                                              hide_rest=False)
  img_boundry2 = mark_boundaries(temp / 255.0, mask)
  return explanation, img_boundry1, img_boundry2


def _assert_same_explanation(ours, ref):
  np.testing.assert_array_equal(ours.segments, ref.segments)
  assert ours.segments.dtype == ref.segments.dtype
  assert sorted(ours.local_exp) == sorted(ref.local_exp) and sorted(ours.intercept) == sorted(ref.intercept)
  for label, exp in ref.local_exp.items():
    assert [f for f, _ in ours.local_exp[label]] == [f for f, _ in exp]
    np.testing.assert_allclose([w for _, w in ours.local_exp[label]], [w for _, w in exp], atol=ATOL)
    np.testing.assert_allclose(ours.intercept[label], ref.intercept[label], atol=ATOL)
    assert isinstance(ours.intercept[label], float)
  np.testing.assert_allclose(ours.score, ref.score, atol=ATOL)
  assert ours.local_pred.shape == ref.local_pred.shape == (1,)
  np.testing.assert_allclose(ours.local_pred, ref.local_pred, atol=ATOL)


def test_lime_tutorial_runs_unchanged_and_matches_reference():
  CALLS.clear()
  ours, ours1, ours2 = _tutorial(lime_image)
  # classifier_fn saw the caller's uint8 images: the full image once (for the class count), then lime's
  # 1000 samples in batches of 10
  assert {dtype for _, dtype in CALLS} == {np.dtype(np.uint8)}
  assert [shape for shape, _ in CALLS] == [(1, 40, 40, 3)] + [(10, 40, 40, 3)] * 100
  ref, ref1, ref2 = _tutorial(reference)
  assert ours.top_labels == ref.top_labels and len(ours.top_labels) == 5
  assert all(isinstance(label, np.integer) for label in ours.top_labels)
  _assert_same_explanation(ours, ref)
  np.testing.assert_allclose(ours1, ref1)
  np.testing.assert_allclose(ours2, ref2)
  for label in ref.top_labels:
    for kwargs in ({}, {"positive_only": False, "num_features": 10}, {"negative_only": True, "positive_only": False},
                   {"hide_rest": True, "num_features": 3}, {"min_weight": 0.01}):
      (ti, mi), (tr, mr) = ours.get_image_and_mask(label, **kwargs), ref.get_image_and_mask(label, **kwargs)
      np.testing.assert_array_equal(mi, mr)
      assert ti.dtype == tr.dtype and mi.dtype == mr.dtype
      np.testing.assert_array_equal(ti, tr)


def _jax_classifier():
  w = jax.random.normal(jax.random.PRNGKey(3), (24 * 24 * 3, 4)) * 0.5
  return lambda images: jax.nn.softmax(images.reshape(images.shape[0], -1) @ w)


@pytest.mark.parametrize("feature_selection,num_features", [("auto", 100000), ("auto", 3), ("none", 5),
                                                            ("highest_weights", 6)])
def test_float_image_jax_classifier_matches_reference(feature_selection, num_features):
  rng = np.random.RandomState(2)
  image = rng.uniform(0, 1, (24, 24, 3)).astype(np.float32)
  labels = grid_segments(24, 24, 16)
  clf = _jax_classifier()
  kwargs = dict(labels=(0, 2), top_labels=None, hide_color=None, num_samples=300, num_features=num_features,
                segmentation_fn=lambda _: labels)
  ours = lime_image.LimeImageExplainer(random_state=7, feature_selection=feature_selection).explain_instance(
      image, clf, **kwargs)
  jit_clf = jax.jit(clf)
  ref = reference.LimeImageExplainer(random_state=7, feature_selection=feature_selection).explain_instance(
      image, lambda x: np.asarray(jit_clf(jnp.asarray(x))), **kwargs)
  assert not hasattr(ours, "top_labels") and not hasattr(ref, "top_labels")
  _assert_same_explanation(ours, ref)


def test_custom_kernel_distance_and_regressor_match_reference():
  from sklearn.linear_model import Ridge
  image = (np.random.RandomState(3).uniform(0, 255, (24, 24, 3))).astype(np.float32)  # float 0..255
  labels = grid_segments(24, 24, 9) + 1  # ids 1..9: lime never hides id 9 (its columns are 0..8)
  w = np.random.RandomState(4).normal(size=(24 * 24 * 3, 3)) * 0.002
  seen = []

  def clf(x):
    seen.append(x.dtype)
    z = x.reshape(len(x), -1).astype(np.float64) @ w
    return np.exp(z) / np.exp(z).sum(1, keepdims=True)

  def kernel(d, kernel_width):
    return np.exp(-d / kernel_width)

  kwargs = dict(top_labels=2, hide_color=(10, 20, 30), num_samples=200, distance_metric="euclidean",
                segmentation_fn=lambda _: labels, batch_size=25)
  ours = lime_image.LimeImageExplainer(kernel=kernel, kernel_width=3.0, random_state=1).explain_instance(
      image, clf, model_regressor=Ridge(alpha=0.5), **kwargs)
  assert set(seen) == {np.dtype(np.float32)}
  ref = reference.LimeImageExplainer(kernel=kernel, kernel_width=3.0, random_state=1).explain_instance(
      image, clf, model_regressor=Ridge(alpha=0.5), **kwargs)
  _assert_same_explanation(ours, ref)


def test_elime_method_ranks_by_evolved_importance():
  from evojax_lime import ELimeConfig
  image, labels, clf = _planted()
  config = ELimeConfig(population_size=16, generations=6, fill="black")
  exp = lime_image.LimeImageExplainer(random_state=0).explain_instance(
      image, clf, top_labels=2, hide_color=0, segmentation_fn=lambda _: labels, method="elime", config=config)
  assert exp.method == "elime" and len(exp.top_labels) == 2
  for label in exp.top_labels:
    evolved = exp.explanations[label]
    weights = dict(exp.local_exp[label])
    assert sorted(weights) == list(range(16))
    assert [f for f, _ in exp.local_exp[label]] == sorted(weights, key=lambda f: -abs(weights[f]))
    kept = {f for f, v in weights.items() if v > 0}
    assert kept == set(evolved.selected.tolist())
    _, mask = exp.get_image_and_mask(label, num_features=16)  # the most probable mask of any size
    np.testing.assert_array_equal(mask.astype(bool), evolved.best_of_size(16)[labels])
    _, signed = exp.get_image_and_mask(label, positive_only=False, num_features=16)  # the answer, by weight
    np.testing.assert_array_equal(signed == 1, evolved.mask())
    assert exp.intercept[label] == 0.0
  assert exp.score == exp.local_pred[0] == exp.explanations[exp.top_labels[-1]].explanation_probability


def test_elime_mask_of_k_features_is_the_best_mask_of_that_size():
  from evojax_lime import ELimeConfig
  image, labels, clf = _planted()
  config = ELimeConfig(population_size=16, generations=3, fill="black", seeding="occlusion")
  exp = lime_image.LimeImageExplainer(random_state=0).explain_instance(
      image, clf, labels=(0,), top_labels=None, hide_color=0, segmentation_fn=lambda _: labels + 7,
      method="elime", config=config)  # lime's ids need not start at 0
  evolved = exp.explanations[0]
  for k in range(1, 16):
    _, mask = exp.get_image_and_mask(0, num_features=k)
    kept = np.unique(labels[mask.astype(bool)])
    assert 1 <= len(kept) <= k
    np.testing.assert_array_equal(kept, np.flatnonzero(evolved.best_of_size(k)))
    p = evolved.size_probabilities
    assert p[len(kept)] == np.nanmax(p[:k + 1])  # no mask of at most k evaluated was more probable
  assert exp.get_image_and_mask(0, num_features=0)[1].sum() == 0
  with pytest.raises(ValueError, match="min_weight"):
    exp.get_image_and_mask(0, num_features=3, min_weight=0.1)


def test_elime_with_a_host_classifier_uses_batch_size():
  from evojax_lime import ELimeConfig
  image, labels, clf = _planted()
  jit_clf = jax.jit(clf)
  shapes = []

  def numpy_clf(x):
    shapes.append(x.shape)
    assert x.dtype == np.uint8
    return np.asarray(jit_clf(jnp.asarray(x)))

  exp = lime_image.LimeImageExplainer(random_state=0).explain_instance(
      image, numpy_clf, top_labels=1, hide_color=0, segmentation_fn=lambda _: labels, method="elime", batch_size=4,
      config=ELimeConfig(population_size=8, generations=2, fill="black"), jax_classifier=False)
  (label,) = exp.top_labels
  assert set(shapes[1:]) == {(1, 32, 32, 3), (4, 32, 32, 3)}  # the full image, then populations in fours
  assert exp.explanations[label].num_evaluations == 24


def _planted():
  from tests.engine.planted import planted_problem
  image, labels, clf = planted_problem((0, 5, 6, 9, 15))
  return (np.asarray(image) * 255).round().astype(np.uint8), labels, lambda x: clf(x.astype(jnp.float32) / 255.0)


@pytest.mark.parametrize("call,match", [
    (dict(method="shap"), "method must be one of"),
    (dict(num_samples=1), "num_samples must be an integer >= 2"),
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
    (dict(image=np.full((24, 24, 3), np.inf)), "image and hide_color must be finite"),
    (dict(image=np.full((24, 24, 3), "a")), "image must be a numeric array"),
    (dict(image=np.zeros((8, 8, 2))), "image must be"),
    (dict(hide_color=(1, 2)), "hide_color must be a value or an RGB triple"),
    (dict(image=np.zeros((24, 24, 3), np.uint8), hide_color=300), "hide_color must be a value"),
    (dict(segmentation_fn=lambda im: np.zeros(im.shape[:2], int)), "fewer than 2 superpixels"),
    (dict(segmentation_fn=lambda im: np.zeros((3, 3), int)), "segmentation_fn returned shape"),
    (dict(labels=(12,), top_labels=None), "labels must be class indices"),
    (dict(config={"population_size": 8}, method="elime"), "config must be an ELimeConfig"),
])
def test_bad_inputs(call, match):
  args = dict(image=np.random.RandomState(0).uniform(0, 1, (24, 24, 3)), classifier_fn=_jax_classifier(),
              segmentation_fn=lambda im: grid_segments(im.shape[0], im.shape[1], 4), num_samples=20)
  args.update(call)
  with pytest.raises(ValueError, match=match):
    lime_image.LimeImageExplainer(random_state=0).explain_instance(**args)


def test_bad_constructor_and_label():
  with pytest.raises(ValueError, match="feature_selection must be one of"):
    lime_image.LimeImageExplainer(feature_selection="lasso_path")
  with pytest.raises(ValueError, match="random_state must be"):
    lime_image.LimeImageExplainer(random_state="x")
  exp = lime_image.ImageExplanation(np.zeros((4, 4, 3)), np.zeros((4, 4), int))
  with pytest.raises(KeyError):
    exp.get_image_and_mask(3)


def test_any_value_range_reaches_the_classifier_unchanged():
  image = np.random.RandomState(5).uniform(-1, 1, (16, 16, 3)).astype(np.float32)  # Keras-style -1..1
  labels = grid_segments(16, 16, 4)
  w = np.random.RandomState(6).normal(size=(16 * 16 * 3, 3)).astype(np.float32) * 0.01
  seen = []

  def clf(x):
    seen.append(x)
    z = x.reshape(len(x), -1) @ w
    return np.exp(z) / np.exp(z).sum(1, keepdims=True)

  kwargs = dict(top_labels=1, hide_color=3.0, num_samples=40, segmentation_fn=lambda _: labels, batch_size=40)
  ours = lime_image.LimeImageExplainer(random_state=2).explain_instance(image, clf, **kwargs)
  ours_seen, seen[:] = seen[-1], []
  ref = reference.LimeImageExplainer(random_state=2).explain_instance(image, clf, **kwargs)
  # the same 40 images lime builds (hidden superpixels = 3.0, outside the image's own range)
  np.testing.assert_allclose(ours_seen, seen[-1], atol=1e-6)
  assert ours_seen.dtype == np.float32 and (ours_seen == 3.0).any()
  _assert_same_explanation(ours, ref)


def test_num_features_is_the_size_the_sizes_search_spends_on():
  from evojax_lime import ELimeConfig
  from evojax_lime.compat.lime_image import _sized
  sizes = ELimeConfig(seeding="sizes")
  assert _sized(sizes, 4).sizes == (4,) and _sized(sizes, 100000) is sizes
  assert _sized(ELimeConfig(), 4) == ELimeConfig()  # another seeding reads no sizes
  with pytest.raises(ValueError, match="both name the sizes"):
    _sized(ELimeConfig(seeding="sizes", sizes=(2, 6)), 4)
  image, labels, clf = _planted()
  config = ELimeConfig(population_size=8, generations=3, fill="black", seeding="sizes", faithfulness=False)
  exp = lime_image.LimeImageExplainer(random_state=0).explain_instance(
      image, clf, top_labels=1, hide_color=0, segmentation_fn=lambda _: labels, num_features=2, method="elime",
      config=config)
  evolved = exp.explanations[exp.top_labels[0]]
  assert evolved.config.sizes == (2,)
