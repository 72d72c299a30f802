"""`--objective pareto` (the front, its plot and strip), `--restarts` (the consensus and its stability) and the
optional scores (`--sanity`, `--robustness`)."""
import json

from PIL import Image

import pytest

from tests.cli.conftest import FAST, cli, error_lines

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
  result = cli("explain", photos["cat"], "--restarts", "2", "--sanity", "1,3", "--robustness", "--segmentation",
               "grid", *FAST, "--out", out, cwd=tmp_path)
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


@pytest.mark.parametrize("args, expect", [
    (("--objective", "pareto", "--sanity", "1"), "--objective pareto: --sanity scores one answer; a front has none"),
    (("--sanity", "99"), "--sanity: layers must be an integer in [1, 19] for efficientnet_lite0, got 99"),
    (("--sanity", "3,1"), "argument --sanity: layer counts must increase, got '3,1' (see evojax-lime explain --help)"),
])
def test_scores_that_cannot_be_computed_are_refused(tmp_path, photos, args, expect):
  result = cli("explain", photos["cat"], *args, *FAST, "--out", tmp_path / "out", cwd=tmp_path)
  assert result.returncode == 2
  assert error_lines(result)[-1].endswith(expect)
  assert not (tmp_path / "out" / "a_rotated.json").exists()
