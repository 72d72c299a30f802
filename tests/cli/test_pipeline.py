"""The batch pipeline in-process: how photos are split into batches, and one bad photo isolated from its batch."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import evojax_lime as el
from evojax_lime.cli import batching
from evojax_lime.cli.errors import CliError
from evojax_lime.cli.pipeline import BatchExplainer, Photo, PhotoInput, photo_input


@pytest.mark.parametrize("n, b, sizes", [(0, 4, []), (1, 4, [1]), (4, 4, [4]), (5, 2, [2, 2, 1]),
                                         (65, 16, [13] * 5), (66, 16, [14] + [13] * 4), (7, 1, [1] * 7)])
def test_plan_is_even_and_covers_every_photo(n, b, sizes):
  plan = batching.plan(n, b)
  assert plan == sizes and sum(plan) == n and all(s <= b for s in plan)
  assert not plan or max(plan) - min(plan) <= 1


def test_padding_tops_up_only_a_little():
  assert [batching.padding(p, 16) for p in (16, 15, 14, 13, 3)] == [0, 1, 2, 0, 0]
  assert [batching.padding(p, 2) for p in (2, 1)] == [0, 1]


def test_auto_batch_size_keeps_rows_per_generation_near_the_target():
  assert batching.auto_batch_size(64, backend="cpu") == 4
  assert batching.auto_batch_size(16, backend="cpu") == 16
  assert batching.auto_batch_size(1000, backend="cpu") == 1
  assert batching.auto_batch_size(64, backend="gpu") == 64 and batching.auto_batch_size(2, backend="tpu") == 64


SIZE = 16


def _classifier(x):
  """Probabilities from the image's brightness; NaN for a photo whose corner is white (a classifier that breaks
  on one photo)."""
  m = x.mean(axis=(1, 2, 3))
  probs = jax.nn.softmax(jnp.stack([4 * m, 4 * (1 - m), jnp.full_like(m, 2.0)], axis=-1))
  return jnp.where((x[:, 0, 0, 0] > 0.99)[:, None], jnp.nan, probs)


class _Model:
  name, input_size, class_names = "planted", SIZE, ("bright", "dark", "flat")

  def classifier(self):
    return _classifier

  def predict(self, images):
    return np.asarray(jax.jit(_classifier)(jnp.asarray(images)))


def _prepared(name, value, tmp_path):
  rng = np.random.default_rng(len(name))
  image = np.clip(value + 0.05 * rng.standard_normal((SIZE, SIZE, 3)), 0, 1).astype(np.float32)
  image[0, 0] = value
  photo = Photo(tmp_path / name, name, name.split(".")[0], name, "0" * 64)
  return PhotoInput(photo, (SIZE, SIZE), (image * 255).astype(np.uint8), image, el.segment(image, "grid"), 0.0, 0.0)


def test_a_photo_the_classifier_breaks_on_is_isolated_from_its_batch(tmp_path):
  config = el.ELimeConfig(population_size=6, generations=2, segmentation="grid", fill="black", chunk_size=6)
  explainer = BatchExplainer(model=_Model(), weights="pretrained", config=config, target=None, seed=0, options={})
  batch = [_prepared("dim.png", 0.3, tmp_path), _prepared("white.png", 1.0, tmp_path),
           _prepared("dark.png", 0.1, tmp_path)]
  results = explainer.explain(batch, size=3, index=0)
  assert [r[0].photo.label for r in results] == ["dim.png", "white.png", "dark.png"]
  (_, good, run), (_, bad, none), (_, other, _) = results
  assert isinstance(bad, CliError) and "white.png" in str(bad) and none is None
  assert isinstance(good, el.Explanation) and isinstance(other, el.Explanation)
  assert run.target.name == "dark" and run.batch == {"index": 0, "photos": 3, "size": 3}
  # Explained alone after the batch failed: the same result as in a batch of its own.
  alone = el.explain_batch([batch[0].image], _classifier, segments=[batch[0].labels], config=good.config, seeds=0)[0]
  np.testing.assert_array_equal(good.genome, alone.genome)


def test_only_errors_a_photo_can_cause_are_retried_photo_by_photo(tmp_path, monkeypatch):
  config = el.ELimeConfig(population_size=6, generations=2, segmentation="grid", fill="black", chunk_size=6)
  explainer = BatchExplainer(model=_Model(), weights="pretrained", config=config, target=None, seed=0, options={})
  batch = [_prepared("dim.png", 0.3, tmp_path), _prepared("dark.png", 0.1, tmp_path)]
  evolve, sizes = explainer._evolve, []

  def out_of_memory_in_batches(inputs, targets, progress):
    sizes.append(len(inputs))
    if len(inputs) > 1:
      raise MemoryError()
    return evolve(inputs, targets, progress)

  monkeypatch.setattr(explainer, "_evolve", out_of_memory_in_batches)
  results = explainer.explain(batch, size=2, index=0)
  assert sizes == [2, 1, 1] and all(isinstance(exp, el.Explanation) for _, exp, _ in results)

  def bug(inputs, targets, progress):
    raise KeyError("a fault of the tool, not of a photo")

  monkeypatch.setattr(explainer, "_evolve", bug)  # raised, never reported as each photo's failure
  with pytest.raises(KeyError, match="a fault of the tool"):
    explainer.explain(batch, size=2, index=0)


def test_a_photo_with_one_superpixel_fails_before_its_batch(tmp_path):
  Image.new("RGB", (120, 80), (90, 120, 200)).save(tmp_path / "blank.png")
  photo = Photo(tmp_path / "blank.png", "blank.png", "blank", "blank.png", "0" * 64)
  config = el.ELimeConfig(segmentation="felzenszwalb")
  with pytest.raises(CliError, match="blank.png: the image has fewer than 2 superpixels"):
    photo_input(photo, input_size=32, config=config, overlay_side=1024)
  ok = photo_input(photo, input_size=32, config=el.ELimeConfig(segmentation="grid"), overlay_side=50)
  assert ok.size == (80, 120) and ok.display.shape == (33, 50, 3) and ok.image.shape == (32, 32, 3)


# What a resumed photo's report reads from its record, as the tool writes it.
VALID = {"target": {"id": 281, "name": "tabby"}, "original_probability": 0.5, "explanation_probability": 0.75,
         "num_superpixels": 40, "kept": [{"id": 3, "importance": 0.9}], "timings": {"wall": 1.5},
         "files": {"record": "cat.json"}}


def test_resume_recognises_only_its_own_records(tmp_path):
  from evojax_lime.cli import resume

  config = el.ELimeConfig(population_size=8)
  options = resume.options(model="m", weights="pretrained", config=config, seed=0, target=None, overlay_side=1024)
  assert options == resume.options(model="m", weights="pretrained", config=config, seed=0, target=None,
                                   overlay_side=1024)
  assert options != resume.options(model="m", weights="pretrained", config=config, seed=0, target=None,
                                   overlay_side=None)
  weights = tmp_path / "w.msgpack"
  weights.write_bytes(b"abc")
  by_file = resume.options(model="m", weights=str(weights), config=config, seed=0, target=3, overlay_side=1024)
  assert by_file["weights"] == {"file": "w.msgpack", "sha256": images_sha(weights)}
  record = tmp_path / "cat.json"
  record.write_text(json.dumps({"image": {"sha256": "ab"}, "options": options, **VALID}))
  assert resume.done_record(record, sha256="ab", run_options=options) is not None
  assert resume.done_record(record, sha256="cd", run_options=options) is None
  assert resume.done_record(record, sha256="ab", run_options=by_file) is None
  for junk in ("[1, 2]", "{not json", '{"image": 3, "options": {}}'):
    record.write_text(junk)
    assert resume.done_record(record, sha256="ab", run_options=options) is None
  assert resume.done_record(tmp_path / "missing.json", sha256="ab", run_options=options) is None
  root = tmp_path / "runs"
  assert resume.latest_run(root) is None
  for name in ("20260101-120000", "20260102-090000", "20260102-090000-2", "20260102-090000-10", "notes"):
    (root / name).mkdir(parents=True)
  assert resume.latest_run(root).name == "20260102-090000-10"


def images_sha(path):
  import hashlib

  return hashlib.sha256(path.read_bytes()).hexdigest()
