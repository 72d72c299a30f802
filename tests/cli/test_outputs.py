"""Successful runs of the console script: the README's default command, explicit photos and targets, many images."""
import json
import re

import numpy as np
import pytest
from PIL import Image

from evojax_lime import render
from evojax_lime.cli.outputs import MANIFEST

from tests.cli.conftest import FAST, cli, cli_many, error_lines

# _sizes.png: the best masks of at most 3, 5 and 10 superpixels (every photo here has more than 10).
OUTPUTS = ("_overlay.png", "_explanation.png", "_fitness.png", "_sizes.png", ".json")
# With the list of the files the tool wrote, by which a later run tells them from the person's.
RUN_FILES = ("summary.csv", "summary.json", "index.html", MANIFEST)


def _outputs(folder, stem):
  return [folder / f"{stem}{suffix}" for suffix in OUTPUTS]


def _record(folder, stem):
  return json.loads((folder / f"{stem}.json").read_text())


def test_default_command_explains_the_bundled_photo(tmp_path):
  out = tmp_path / "out"
  result = cli("explain", *FAST, "--out", out, cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  assert error_lines(result) == []
  assert sorted(p.name for p in out.iterdir()) == sorted([p.name for p in _outputs(out, "chelsea")] + [*RUN_FILES])
  rec = _record(out, "chelsea")
  assert rec["image"]["source"].startswith("skimage.data.chelsea")
  assert (rec["image"]["height"], rec["image"]["width"]) == (300, 451)
  assert rec["model"] == {"name": "efficientnet_lite0", "weights": "pretrained"}
  assert rec["predicted"]["name"] in ("Egyptian cat", "tabby", "tiger cat")  # a pretrained net sees a cat
  assert rec["target"] == rec["predicted"] == rec["top5"][0]
  assert 0 < rec["original_probability"] <= 1 and 0 < rec["explanation_probability"] <= 1
  k = rec["num_superpixels"]
  assert k >= 2 and len(rec["importance"]) == k
  assert all(0 <= s["id"] < k and 0 <= s["importance"] <= 1 for s in rec["kept"])
  assert len(rec["fitness_history"]["best"]) == len(rec["fitness_history"]["mean"]) == 3
  assert rec["config"]["population_size"] == 8 and rec["config"]["generations"] == 2
  assert rec["seed"] == 0
  assert set(rec["timings"]) == {"segmentation", "compile", "evolve", "wall", "write"}
  assert rec["device"] and {"evojax-lime", "jax", "flax", "numpy", "scikit-image"} <= set(rec["versions"])
  # The overlay is at the photo's resolution, the explanation at the model's.
  assert Image.open(out / "chelsea_overlay.png").size == (451, 300)
  assert Image.open(out / "chelsea_explanation.png").size == (224, 224)
  assert Image.open(out / "chelsea_fitness.png").format == "PNG"
  assert sorted(rec["best_of_size"]) == ["10", "3", "5"] and rec["files"]["sizes"] == "chelsea_sizes.png"
  assert Image.open(out / "chelsea_sizes.png").size[0] > 3 * Image.open(out / "chelsea_sizes.png").size[1] / 2
  summary = result.stdout.splitlines()[0]
  assert summary.startswith("chelsea.jpg: ") and f"of {k} superpixels" in summary


def test_folder_with_a_bad_photo_target_by_name_and_one_compile(tmp_path, photos):
  out = tmp_path / "out"
  result = cli("explain", photos["folder"], *FAST, "--target", "Tiger_Cat", "--seed", "3", "--out", out, cwd=tmp_path)
  assert result.returncode == 1  # one photo failed
  (line,) = error_lines(result)
  assert line.startswith("evojax-lime: error: ") and "e_truncated.jpg" in line and "truncated" in line
  stems = ("a_rotated", "b_gray16", "c_rgba", "d_palette")
  assert sorted(p.name for p in out.iterdir()) == sorted([p.name for s in stems for p in _outputs(out, s)] +
                                                         [*RUN_FILES])
  records = [_record(out, s) for s in stems]
  assert all(r["target"]["id"] == 282 and r["target"]["name"] == "tiger cat" for r in records)
  assert all(r["seed"] == 3 for r in records)
  # Photos are resized before explaining, so all go into one batch: one compiled program (the automatic batch,
  # 256 // population 8, holds all five photos; the truncated one is dropped and a copy tops the batch up).
  assert [r["batch"] for r in records] == [{"index": 0, "photos": 4, "size": 5}] * 4
  assert records[0]["timings"]["compile"] > 0
  assert len({r["timings"]["compile"] for r in records}) == 1
  # EXIF orientation 6: a 451 x 300 photo stored sideways is shown 300 wide and 451 high.
  assert Image.open(out / "a_rotated_overlay.png").size == (300, 451)
  assert Image.open(out / "b_gray16_overlay.png").size == (451, 300)
  # The summary table lists every photo, the failed one with its error.
  table = result.stdout[result.stdout.index("image "):]
  assert all(f"{s}." in table for s in stems) and re.search(r"e_truncated\.jpg +failed: ", table)
  assert f"{photos['folder'] / 'a_rotated.jpg'}: tiger cat (282)" in result.stdout  # the photo as named


def test_explicit_photo_and_target_by_id(tmp_path, photos, chelsea):
  out = tmp_path / "out"
  # The paper's random start: the overlay's contrast below was measured on its answer.
  result = cli("explain", photos["cat"], *FAST, "--target", "281", "--segmentation", "slic", "--fill", "mean",
               "--seeding", "random", "--out", out, "--cache-dir", tmp_path / "cache", cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  assert any((tmp_path / "cache").iterdir())  # compiled programs kept for the next process
  rec = _record(out, "a_rotated")
  assert rec["target"]["id"] == 281 and rec["target"]["name"] == "tabby"
  assert rec["config"]["segmentation"] == "slic" and rec["config"]["fill"] == "mean"
  assert rec["image"]["source"] == str(photos["cat"])
  # Turned upright: each overlay pixel is the photo's, turned 90 degrees clockwise, either kept or dimmed.
  overlay = np.asarray(Image.open(out / "a_rotated_overlay.png").convert("L"), float)
  gray = np.asarray(Image.fromarray(chelsea).convert("L"), float)

  def explained(k):
    turned = np.rot90(gray, k)
    return ((np.abs(overlay - turned) < 16) | (np.abs(overlay - render.HIDDEN_BRIGHTNESS * turned) < 16)).mean()

  assert explained(-1) > 0.75 and explained(-1) > explained(1) + 0.2  # drawn lines and JPEG noise aside


@pytest.fixture(scope="module")
def listings(tmp_path_factory):
  """``evojax-lime models`` and ``evojax-lime explain --help``, both in one process (``cli_many``)."""
  cwd = tmp_path_factory.mktemp("listings")
  models, help_ = cli_many([(cwd, ("models",)), (cwd, ("explain", "--help"))])
  return {"models": models, "help": help_}


def test_models_lists_bundled_weights(listings):
  result = listings["models"]
  assert result.returncode == 0 and error_lines(result) == []
  lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
  assert "bundled" in lines["efficientnet_lite0"] and "(default)" in lines["efficientnet_lite0"]
  assert "--weights FILE" in lines["resnet50"]


def test_help_is_complete(listings):
  result = listings["help"]
  assert result.returncode == 0
  for option in ("--model", "--weights", "--target", "--population", "--generations", "--segmentation", "--fill",
                 "--parsimony", "--crossover", "--mutation-rate", "--patience", "--chunk-size", "--seed", "--dtype",
                 "--out", "--quiet", "--batch-size", "--resume", "--full-resolution"):
    assert option in result.stdout
  assert "(default: efficientnet_lite0)" in result.stdout and "(default: 64)" in result.stdout


def test_explains_with_a_torchvision_vit_checkpoint(tmp_path, photos):
  """``--model vit_b_16 --weights FILE``: a full-size torchvision checkpoint (random weights), read without torch."""
  torch = pytest.importorskip("torch", reason="torch writes the checkpoint")
  torchvision = pytest.importorskip("torchvision", reason="torchvision builds the checkpoint's model")
  from tests.torch_reference import randomise_norms_and_embeddings

  torch.manual_seed(0)
  vit = torchvision.models.vit_b_16()
  randomise_norms_and_embeddings(vit)  # torchvision zeroes the head: every class would be equally likely
  weights = tmp_path / "vit_b_16.pth"
  torch.save(vit.state_dict(), weights)
  del vit
  out = tmp_path / "out"
  # The checkpoint is under test, not the search: a random start on a grid and no scores keep ViT-B/16's forwards
  # (each about 17 GFLOPs) to the population's 8.
  result = cli("explain", photos["cat"], "--model", "vit_b_16", "--weights", weights, "--population", "4",
               "--generations", "1", "--chunk-size", "4", "--seeding", "random", "--segmentation", "grid",
               "--no-faithfulness", "--quiet", "--out", out, cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  assert error_lines(result) == []
  rec = _record(out, "a_rotated")
  assert rec["model"] == {"name": "vit_b_16", "weights": str(weights)}
  assert rec["target"] == rec["predicted"] == rec["top5"][0] and 0 <= rec["predicted"]["id"] < 1000
  assert 0 < rec["original_probability"] < 1 and len(rec["fitness_history"]["best"]) == 2
  assert Image.open(out / "a_rotated_explanation.png").size == (224, 224)
