"""Each bad input raises a ValueError that says what was wrong."""
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.engine import preparation, search as search_module
from evojax_lime.engine.checks import as_image
from evojax_lime.engine.seeds import prng_key

# The least search that reaches every check: with a random start and no curves this program compiles in about
# three quarters of the default start's CPU time, and what is under test here is refused before or after the
# search, whatever it ran.
CFG = el.ELimeConfig(population_size=4, generations=1, segmentation="grid", fill="black", seeding="random",
                     faithfulness=False)
IMG = np.random.default_rng(0).uniform(size=(16, 16, 3)).astype(np.float32)


def probs(x):
  return jax.nn.softmax(jnp.stack([x.mean((1, 2, 3)), 1 - x.mean((1, 2, 3)), jnp.zeros(x.shape[0])], -1), -1)


@pytest.mark.parametrize("image, match", [
    (np.zeros((16, 16, 5)), r"\(H, W, 3\)"),
    (np.zeros((4, 16, 16, 3)), r"\(H, W, 3\)"),
    (np.full((16, 16, 3), np.nan), "NaN"),
    (np.full((16, 16, 3), 2.0), r"\[0, 1\]"),
    (np.array([["a"]]), "numeric"),
    (np.zeros((1, 16, 3)), "at least 2 x 2"),
])
def test_bad_images(image, match):
  with pytest.raises(ValueError, match=match):
    el.explain(image, probs, config=CFG)


def test_grayscale_and_rgba_are_converted():
  gray = (IMG[..., 0] * 255).astype(np.uint8)
  rgba = np.concatenate([IMG, np.ones((16, 16, 1), np.float32)], -1)
  assert el.explain(gray, probs, config=CFG).image.shape == (16, 16, 3)
  np.testing.assert_array_equal(el.explain(rgba, probs, config=CFG).image, IMG)


def test_fewer_than_two_superpixels():
  with pytest.raises(ValueError, match="fewer than 2 superpixels"):
    el.explain(IMG, probs, segments=np.zeros((16, 16), int), config=CFG)


def test_segments_of_wrong_shape():
  with pytest.raises(ValueError, match="does not match"):
    el.explain(IMG, probs, segments=np.zeros((8, 8), int), config=CFG)


@pytest.mark.parametrize("target", [3, -1, 1.5, "cat"])
def test_target_out_of_range(target):
  with pytest.raises(ValueError, match="target"):
    el.explain(IMG, probs, target=target, config=CFG)


@pytest.mark.parametrize("clf, match", [
    (lambda x: x.mean((1, 2, 3)), r"\(N, C\)"),
    (lambda x: jnp.ones((x.shape[0], 3, 2)), r"\(N, C\)"),
])
def test_classifier_output_of_the_wrong_shape(clf, match):
  with pytest.raises(ValueError, match=match):
    el.explain(IMG, clf, config=CFG)


def _bad_outputs(case, x):
  """Row ``case`` of the bad outputs below, for images ``x``. ``case`` is an argument of the compiled search (the
  classifier's weight), so every case runs one program: loaded from the tests' compilation cache after the first."""
  mean = x.mean((1, 2, 3))
  bad = (x.sum(-1) == 0).any((1, 2))  # black pixels: something is hidden
  return jnp.stack([
      jnp.full((x.shape[0], 3), jnp.nan),
      jnp.full((x.shape[0], 3), 5.0),
      # Logits that happen to lie in [0, 1] are not probabilities unless each row sums to 1.
      jnp.stack([mean, 1 - mean, jnp.full(x.shape[:1], 0.5)], -1),
      probs(x) * 2 - 0.5,
      # Fine on the full image, NaN as soon as anything is hidden.
      jnp.where(bad[:, None], jnp.nan, probs(x)),
  ])[case]


def _bad(case):
  return jax.tree_util.Partial(_bad_outputs, jnp.int32(case))


@pytest.mark.parametrize("case, match", [
    (0, "NaN"),
    (1, "logits=True"),
    (2, r"not probabilities .*sum to 1\.5"),
    (3, "not probabilities"),
])
def test_bad_classifier_output(case, match):
  with pytest.raises(ValueError, match=match):
    el.explain(IMG, _bad(case), config=CFG)


def test_nan_on_masked_images():
  with pytest.raises(ValueError, match="masked image"):
    el.explain(IMG, _bad(4), config=CFG)


@pytest.mark.parametrize("kwargs, match", [
    ({"population_size": 1}, "population_size"),
    ({"generations": -1}, "generations"),
    ({"crossover_rate": 1.5}, "crossover_rate"),
    ({"mutation_rate": -0.1}, "mutation_rate"),
    ({"num_elite": 4, "population_size": 4}, "num_elite"),
    ({"crossover": "three_point"}, "crossover"),
    ({"fill": "pink"}, "fill"),
    ({"segmentation": "watershed"}, "segmentation"),
    ({"parsimony": float("nan")}, "parsimony"),
    ({"tournament_size": 0}, "tournament_size"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"dtype": "float16"}, "dtype"),
])
def test_nonsensical_config(kwargs, match):
  with pytest.raises(ValueError, match=match):
    el.ELimeConfig(**kwargs)


def test_bad_seed_and_baseline_and_params():
  with pytest.raises(ValueError, match="seed"):
    el.explain(IMG, probs, config=CFG, seed="x")
  with pytest.raises(ValueError, match="baseline"):
    el.explain(IMG, probs, config=CFG, baseline=np.zeros((4, 4, 3)))
  with pytest.raises(ValueError, match="segmentation_params"):
    el.explain(IMG, probs, config=el.ELimeConfig(segmentation="grid", segmentation_params={"bogus": 1}))
  with pytest.raises(ValueError, match="genome_length"):
    el.explain(IMG, probs, config=el.ELimeConfig(segmentation="grid", genome_length=4))


def test_logits_flag_refuses_probabilities():
  # A softmax over probabilities flattens them towards 1 / C: p 0.125 reported for 0.327.
  with pytest.raises(ValueError, match="logits=True, but the classifier returns probabilities"):
    el.explain(IMG, probs, config=CFG, logits=True)


def test_integer_images_scale_by_their_dtype_not_their_values():
  low = np.full((4, 4, 3), 255, np.uint16)
  high = low.copy()
  high[0, 0, 0] = 256  # one pixel used to switch the whole image from / 255 to / 65535
  np.testing.assert_allclose(as_image(low), 255 / 65535)
  np.testing.assert_allclose(as_image(high)[1:], 255 / 65535)
  np.testing.assert_array_equal(as_image(np.full((4, 4, 3), 255, np.uint8)), 1.0)
  np.testing.assert_allclose(as_image(np.full((4, 4, 3), 2 ** 31, np.uint32)), 2 ** 31 / (2 ** 32 - 1))
  for dtype in (np.int8, np.int16, np.int32, np.int64):
    with pytest.raises(ValueError, match="signed integer"):
      as_image(np.zeros((4, 4, 3), dtype))
  with pytest.raises(ValueError, match="complex"):
    el.explain(IMG.astype(np.complex64), probs, config=CFG)


def test_integer_seeds_keep_all_64_bits():
  keys = [tuple(np.asarray(prng_key(s)).tolist()) for s in (0, 2 ** 32, 2 ** 40, 2 ** 64 - 1)]
  assert keys == [(0, 0), (1, 0), (2 ** 8, 0), (2 ** 32 - 1, 2 ** 32 - 1)]
  assert tuple(np.asarray(prng_key(7)).tolist()) == tuple(np.asarray(jax.random.PRNGKey(7)).tolist())
  for seed in (-1, 2 ** 64):
    with pytest.raises(ValueError, match=r"\[0, 2\*\*64\)"):
      prng_key(seed)
  rows = search_module.row_keys([0, 2 ** 32, 2 ** 40], 1)
  assert len({tuple(r) for r in rows.tolist()}) == 3


@pytest.mark.parametrize("kwargs, restarts, match", [
    ({"population_size": 10 ** 9}, 1, "index"),
    ({"population_size": 2 ** 31}, 1, "index"),
    ({"population_size": 10 ** 8}, 1, "GiB"),
    ({}, 10 ** 8, "index"),
    ({"generations": 10 ** 8}, 1, "GiB"),
])
def test_impossible_sizes_are_refused_from_the_shapes(monkeypatch, kwargs, restarts, match):
  monkeypatch.setattr(search_module, "total_memory_bytes", lambda device: 16 * 2 ** 30)  # any machine: 16 GiB
  built = []
  monkeypatch.setattr(search_module, "start", lambda *a, **k: built.append(1))
  config = el.ELimeConfig(segmentation="grid", fill="black", **{"population_size": 4, **kwargs})
  with pytest.raises(ValueError, match=match):
    el.Search([IMG], probs, config=config, restarts=restarts)
  assert not built


def test_negative_target_says_so():
  with pytest.raises(ValueError, match="class index >= 0, got -1") as info:
    el.explain(IMG, probs, target=-1, config=CFG)
  assert "2147483647" not in str(info.value)


def test_numpy_classifier_named_host_classifier():
  with pytest.raises(ValueError, match="host_classifier"):
    el.explain(IMG, lambda x: np.asarray(x).mean((1, 2)), config=CFG)


def test_plain_function_randomised_refused_before_the_search():
  reports = []
  with pytest.raises(ValueError, match="randomised"):
    el.explain(IMG, jax.tree_util.Partial(lambda w, x: probs(x * w), jnp.float32(1.0)), config=CFG,
               randomised=probs, progress=lambda *a: reports.append(a))
  assert not reports


def test_host_classifier_errors_stay_with_their_own_search():
  bright = np.full((16, 16, 3), 0.95, np.float32)

  def fn(images):  # refuses bright images: the full bright image, never a masked one (black fill)
    if (images.mean((1, 2, 3)) > 0.9).any():
      raise RuntimeError("too bright")
    return np.asarray(probs(jnp.asarray(images)))

  clf = el.host_classifier(fn, num_classes=3, name="lamp")
  assert not any("fault" in name for name in vars(clf))
  outcomes = {}

  def run(name, image):
    try:
      outcomes[name] = el.explain(image, clf, config=CFG).original_probability
    except ValueError as err:
      outcomes[name] = str(err)

  threads = [threading.Thread(target=run, args=a) for a in (("bright", bright), ("plain", IMG), ("again", IMG))]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert outcomes["bright"] == "lamp raised RuntimeError: too bright"
  assert isinstance(outcomes["plain"], float) and outcomes["plain"] == outcomes["again"]


def test_study_converts_each_image_once(monkeypatch):
  calls = []
  convert = preparation.as_image
  monkeypatch.setattr(preparation, "as_image", lambda image, **kw: calls.append(kw) or convert(image, **kw))
  table = el.study([(IMG * 255).astype(np.uint8)], probs, seeds=[0, 1], config=CFG)
  assert len(table) == 2 and len(calls) == 1
