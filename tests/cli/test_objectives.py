"""`--objective pareto` (the front, its plot and strip), `--restarts` (the consensus and its stability) and the
optional scores (`--sanity`, `--robustness`)."""
import json

from PIL import Image

import pytest

from tests.cli.conftest import FAST, cli, cli_many, error_lines

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it


def test_pareto_objective_writes_the_front(tmp_path, photos):
  out = tmp_path / "out"
  result = cli("explain", photos["cat"], "--objective", "pareto", "--segmentation", "grid", *FAST, "--out", out,
               cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  assert error_lines(result) == []
  record = json.loads((out / "a_rotated.json").read_text())
  front = record["front"]["front"]
  sizes = [p["kept"] for p in front]
  probs = [p["probability"] for p in front]
  assert sizes == sorted(sizes) and probs == sorted(probs) and len(front) >= 1  # non-dominated: both increase
  assert all(len(p["selected"]) == p["kept"] for p in front)
  # The overlay shows one point of the front: the explanation the record reports.
  assert [p for p in front if p["kept"] == len(record["kept"])][0]["probability"] == record["explanation_probability"]
  assert record["options"]["objective"] == "pareto"
  for name in ("a_rotated_front.png", "a_rotated_strip.png", "a_rotated_overlay.png"):
    assert Image.open(out / name).size[0] > 0


def test_restarts_and_every_score_in_one_run(tmp_path, photos):
  out = tmp_path / "out"
  # Each restart, sanity depth and robustness variant is a search: a random start spares each the greedy start's
  # forwards, which the scores do not depend on.
  result = cli("explain", photos["cat"], "--restarts", "2", "--sanity", "1,3", "--robustness", "--segmentation",
               "grid", "--seeding", "random", *FAST, "--out", out, cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  record = json.loads((out / "a_rotated.json").read_text())
  assert 0.0 <= record["stability"] <= 1.0 and len(record["runs"]) == 2
  assert record["options"]["restarts"] == 2
  assert record["options"]["scores"] == {"sanity_layers": [1, 3], "robustness": True}
  scores = record["scores"]
  assert -1.0 <= scores["sanity"] <= 1.0 and 0.0 <= scores["robustness"] <= 1.0
  assert len(record["sanity_cascade"]) == 2 and record["sanity_cascade"][0] == scores["sanity"]
  assert set(record["robustness_by_variant"]) == {"quickshift_kernel6", "slic50", "fill"}
  assert scores["stability"] == record["stability"] and 0 <= scores["deletion_auc"] <= 1
  summary = json.loads((out / "summary.json").read_text())["photos"][0]
  assert summary["stability"] == record["stability"] and summary["sanity"] == scores["sanity"]
  assert summary["robustness"] == scores["robustness"]


REFUSED = {
    "pareto_sanity": (("--objective", "pareto", "--sanity", "1"),
                      "--objective pareto: --sanity scores one answer; a front has none"),
    "layers_out_of_range": (("--sanity", "99"),
                            "--sanity: layers must be an integer in [1, 19] for efficientnet_lite0, got 99"),
    "layers_decrease": (("--sanity", "3,1"),
                        "argument --sanity: layer counts must increase, got '3,1' (see evojax-lime explain --help)"),
}


@pytest.fixture(scope="module")
def refused(tmp_path_factory, photos):
  """Every refusal of :data:`REFUSED` in one process (``cli_many``: one JAX import), each in a folder of its own."""
  folders = {name: tmp_path_factory.mktemp(name) for name in REFUSED}
  results = cli_many([(folders[name], ("explain", photos["cat"], *args, *FAST, "--out", folders[name] / "out"))
                      for name, (args, _) in REFUSED.items()])
  return {name: (result, folders[name]) for name, result in zip(REFUSED, results)}


@pytest.mark.parametrize("name", REFUSED)
def test_scores_that_cannot_be_computed_are_refused(refused, name):
  result, folder = refused[name]
  assert result.returncode == 2
  assert error_lines(result)[-1].endswith(REFUSED[name][1])
  assert not (folder / "out" / "a_rotated.json").exists()
