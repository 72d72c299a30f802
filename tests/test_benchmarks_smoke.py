"""Each benchmark script behind a current figure runs end to end in a tiny configuration (random 32 x 32 CNN),
so they do not rot; every other script (history: vs_lime, paper_study's sweep, pareto_vs_parsimony,
paper_protocol and stability, whose recorded results no longer change; and the scripts too long for a tiny run)
has its ``--help`` checked, which imports it and builds its options.

The scripts run as subprocesses, concurrently, exactly as a user would start them.
"""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model", "tiny", "--segmentation", "grid", "--photos", "chelsea"]
# History scripts (their records describe earlier engines) and the long ones: their --help in one process.
HELP_ONLY = ("vs_lime", "paper_study", "throughput", "segmentation_quality", "gpu_run", "reader_adversarial",
             "cli_throughput", "pareto_vs_parsimony", "paper_protocol", "stability", "vs_peers", "kernelshap_speed", "backward_cost", "ground_truth", "sanity")


# Scripts run at most this many at a time: each is a JAX process of about a gigabyte that compiles on the CPU.
CONCURRENT = 4


def _start(args, out=None):
  """A script to launch later (see :func:`_run_all`)."""
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
  tail = [] if out is None else ["--out", str(out)]
  return lambda: subprocess.Popen([sys.executable, "-m", *args, *tail], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(proc):
  out, _ = proc.communicate(timeout=600)
  assert proc.returncode == 0, out
  return out


def _run_all(launches: dict) -> dict:
  """Every script's output, running :data:`CONCURRENT` of them at a time, in order."""
  names, running, logs = list(launches), {}, {}
  while names or running:
    while names and len(running) < CONCURRENT:
      name = names.pop(0)
      running[name] = launches[name]()
    first = next(iter(running))
    logs[first] = _wait(running.pop(first))
  return logs


@pytest.fixture(scope="module")
def results(tmp_path_factory):
  out = tmp_path_factory.mktemp("bench")
  procs = {
      "segmentation_speed": _start(["benchmarks.segmentation_speed", "--batch-sizes", "1", "--size", "32",
                                    "--n-segments", "8", "--repeats", "1", "--host-repeats", "1"], out),
      "segmentation_agreement": _start(["benchmarks.segmentation_agreement", "--photos", "bundled", "--size", "64",
                                        "--repeats", "1"], out),
      "forward_throughput": _start(["benchmarks.forward_throughput", "--models", "mobilenet_v3_small",
                                    "--batch-sizes", "1", "--repeats", "1", "--warmup", "1", "--no-torch"], out),
      # The cache section's two cold processes are the persistent-cache test's job (tests/engine/test_scale.py).
      "gpu_run": _start(["benchmarks.gpu_run", "--quick", "--sections", "throughput", "explain_vs_lime",
                         "segmentation", "compile", "progress", "invariance", "float32_gap"], out),
      # The one-by-one baseline is another cold CLI process; the tiny run checks the batched path's plumbing.
      "cli_throughput": _start(["benchmarks.cli_throughput", "--photos", "2", "--sizes", "64x48", "96x72",
                                "--population", "4", "--generations", "1", "--segmentation", "grid",
                                "--baseline-ref", "none"], out),
      # lime on the engine's superpixels: its own quickshift finds too few at 32 px for k = 40.
      "time_to_quality": _start(["benchmarks.time_to_quality", *TINY, "--seeds", "2", "--population", "6",
                                 "--generations", "2", "--lime-samples", "20", "--batch-size", "10", "--ks", "3", "40",
                                 "--lime-superpixels", "engine"], out),
      "answer_rules": _start(["benchmarks.answer_rules", *TINY, "--photos", "chelsea", "coffee", "--seeds", "2",
                              "--population", "6", "--generations", "2"], out),
      # k = 2 has more masks than the limit: reported as not enumerated.
      "best_of_size": _start(["benchmarks.best_of_size", *TINY, "--ks", "1", "2", "--limit", "100"], out),
      # Every script's --help in one process (each would otherwise pay the imports alone).
      "help": _start(["tests.help_of", *[f"benchmarks.{name}" for name in HELP_ONLY]]),
  }
  logs = _run_all(procs)
  return out, logs



def test_time_to_quality(results):
  out, _ = results
  payload = json.loads((out / "time_to_quality_cpu.json").read_text())
  assert {"machine", "args", "settings", "summary", "lime", "runs", "photos", "warmups"} <= set(payload)
  assert payload["args"]["lime_classifier"] == "jax"  # the tiny model has no torch twin
  runs = payload["runs"]
  assert [(r["photo"], r["config"], r["seed"]) for r in runs] == [("chelsea", c, s) for c in ("paper", "default")
                                                                  for s in (0, 1)]
  (lime,) = payload["lime"]
  assert lime["tuned_on"] and [t["k"] for t in lime["topk"]] == [3, 40] and lime["lime_time_s"] > 0
  assert lime["lime_superpixels"] == "engine" and lime["lime_K"] == lime["K"]
  for r in runs:
    assert r["num_evaluations"] == 18 and r["raised"] == (r["explanation_probability"] > r["original_probability"])
    assert r["answer_as_probable_as_lime"] == (r["explanation_probability"] >= r["lime_p_at_answer_size"])
    assert r["target"] == lime["target"] and [t["k"] for t in r["to_lime"]] == [3, 40]
    for t in r["to_lime"]:
      assert t["lime_p"] == next(x["p"] for x in lime["topk"] if x["k"] == t["k"])
      if t["populations"] is not None:
        assert 1 <= t["populations"] <= r["generations_run"] + 1 and t["forwards"] == 6 * t["populations"]
        assert t["speedup"] == pytest.approx(r["lime_time_s"] / t["time_s"])
  assert [(r["config"], r["k"]) for r in payload["summary"]] == [(c, k) for c in ("paper", "default") for k in (3, 40)]
  for row in payload["summary"]:
    assert row["photos"] == 1 and 0 <= row["raised"] <= 1 and row["worst_speedup"] <= row["median_speedup"]
    assert row["forwards_median"] is None or row["forwards_median"] % 6 == 0
    assert 0 <= row["stability_default_median"] <= 1 and 0 <= row["as_lime_at_answer_size"] <= 1


def test_best_of_size(results):
  out, _ = results
  rows = json.loads((out / "best_of_size_cpu.json").read_text())["rows"]
  assert [(r["photo"], r["k"]) for r in rows] == [("chelsea", 1), ("chelsea", 2)]
  one, two = rows
  assert one["masks"] == one["K"] and one["best_kept"] == 1 and 0 < one["best_p"] <= 1
  assert two["masks"] == one["K"] + one["K"] * (one["K"] - 1) // 2 > 100 and two["best_p"] is None
  assert one["lime_p"] is None and one["reachable"] is None  # no lime record given


def test_answer_rules(results):
  out, _ = results
  payload = json.loads((out / "answer_rules_cpu.json").read_text())
  assert [p["photo"] for p in payload["photos"]] == ["chelsea", "coffee"]
  for photo in payload["photos"]:
    assert len(photo["populations"]) == 3
    for population in photo["populations"]:
      fittest, sufficient = population["fittest"], population["sufficient"]
      assert len(fittest["kept"]) == len(sufficient["raised"]) == 2 and 0 <= sufficient["stability"] <= 1
      # The sufficient answer is the fittest only where no mask beat the image, so it raises at least as often.
      assert sum(sufficient["raised"]) >= sum(fittest["raised"])
  assert [(r["populations"], r["rule"]) for r in payload["summary"]] == [(t, rule) for t in (1, 2, 3)
                                                                         for rule in ("fittest", "sufficient")]
  assert [(r["rule"], r["patience"]) for r in payload["patience"]] == [(rule, n) for rule in ("fittest", "sufficient")
                                                                       for n in (1, 2, 3, 4, 5)]
  for row in payload["patience"]:
    assert 2 <= row["populations_mean"] <= 3 and 0 <= row["raised"] <= 1  # patience 1 stops after 2 at the soonest
  assert "| 3 | sufficient |" in (out / "answer_rules_cpu.md").read_text()
  assert "| paper | 3 |" in (out / "time_to_quality_cpu.md").read_text()






def test_segmentation_speed_and_forward(results):
  out, _ = results
  methods = {r["method"] for r in json.loads((out / "segmentation_cpu.json").read_text())["results"]}
  assert any(m.startswith("jax_slic") for m in methods) and {"skimage_slic", "jax_quickshift"} <= methods
  rows = json.loads((out / "quickshift_agreement_cpu.json").read_text())["results"]
  assert [r["photo"] for r in rows] == ["bundled"] and rows[0]["K_jax"] > 1 and rows[0]["ari"] > 0.9
  assert rows[0]["same_as_auto"] > 0.9  # the default cut on a CPU (the host one) against the JAX one
  assert (out / "forward_cpu.md").read_text().count("mobilenet_v3_small") >= 1


def test_gpu_run_dry_run(results):
  out, _ = results
  payload = json.loads((out / "gpu_run.json").read_text())
  assert not [k for k in payload if k.endswith("_error")], payload
  assert len(payload["throughput"]) == 4 and payload["elime_1000"]["p100_g9"]["evaluations"] == 1000
  assert {r["method"] for r in payload["segmentation"]} == {"slic_jax", "quickshift_jax", "skimage_slic",
                                                              "skimage_quickshift"}
  gap = payload["float32_gap"]
  assert [(r["dtype"], r["variant"]) for r in gap] == [
      (d, v) for d in ("float32", "bfloat16")
      for v in ("forward_constants", "forward_arguments", "masked", "evaluate_rows", "search")]
  assert all(r["images_per_s"] > 0 for r in gap)
  with tarfile.open(out / "float32_gap_hlo.tar.gz") as tar:
    assert len(tar.getnames()) == len(gap)


def test_cli_throughput(results):
  out, _ = results
  payload = json.loads((out / "cli_throughput_cpu.json").read_text())
  (row,) = payload["rows"]
  assert row["path"] == "batched" and row["photos"] == 2 and row["photos_per_minute"] > 0
  assert payload["settings"]["photos"] == 2 and tuple(row["largest_overlay"]) == (96, 72)
  assert "| batched |" in (out / "cli_throughput_cpu.md").read_text()




@pytest.mark.parametrize("script", HELP_ONLY)
def test_help(results, script):
  _, logs = results
  helps = dict(part.split("\n", 1) for part in logs["help"].split("=== ")[1:])
  assert helps[f"benchmarks.{script}"].startswith("usage:")


def test_default_photos_load():
  """Every script's default photo list names photos ``load_photos`` knows (a typo would fail only in a long run)."""
  from benchmarks import _common, answer_rules, time_to_quality
  known = set(_common.PHOTOS + _common.EXTRA_PHOTOS)
  for module in (answer_rules, time_to_quality):
    defaults = module.parser().parse_args([]).photos
    assert defaults and set(defaults) <= known, module.__name__
  assert len(_common.load_photos(["colorwheel", "moon"], 32)) == 2
