"""`--objective pareto` (the front, its plot and strip) and `--restarts` (the consensus and its stability)."""
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


def test_restarts_write_the_consensus_and_its_stability(tmp_path, photos):
  out = tmp_path / "out"
  result = cli("explain", photos["cat"], "--restarts", "2", "--segmentation", "grid", *FAST, "--out", out,
               cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  record = json.loads((out / "a_rotated.json").read_text())
  assert 0.0 <= record["stability"] <= 1.0 and len(record["runs"]) == 2
  assert record["options"]["restarts"] == 2
  assert json.loads((out / "summary.json").read_text())["photos"][0]["stability"] == record["stability"]
