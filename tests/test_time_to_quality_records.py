"""Reading lime's recorded runs and summarising the runs of benchmarks/time_to_quality.py (no search run)."""
import json

import pytest

from benchmarks import time_to_quality

LIME = {"photo": "chelsea", "segmentation": "auto", "fill": "mean", "K": 40, "lime_K": 41, "target": 285,
        "target_name": "Egyptian cat", "lime_time_s": 135.0, "lime_classifier": "torch", "lime_samples": 1000,
        "lime_classifier_p": 0.38, "jax_p": 0.38, "topk": [{"k": 3, "kept": 3, "p": 0.1}]}


def test_recorded_lime_reads_a_record_of_recorded_runs(tmp_path):
  # A run that reused lime's runs writes them back naming the file they came from; reading that record again
  # must still find lime's own superpixels.
  path = tmp_path / "record.json"
  path.write_text(json.dumps({"lime": [{**LIME, "lime_superpixels": "own (recorded in earlier.json)"}]}))
  record = time_to_quality.recorded_lime(str(path))["chelsea"]
  assert record["lime_superpixels"] == "own" and record["lime_K"] == 41 and record["topk"][0]["p"] == 0.1
  path.write_text(json.dumps({"lime": [{**LIME, "lime_superpixels": "engine"}]}))
  assert time_to_quality.recorded_lime(str(path))["chelsea"]["lime_superpixels"] == "engine"
  path.write_text(json.dumps({"runs": []}))
  with pytest.raises(SystemExit, match="not a time_to_quality result"):
    time_to_quality.recorded_lime(str(path))


def test_summary_counts_the_populations_each_config_ran():
  def run(config, generations_run, p):
    return {"config": config, "generations_run": generations_run, "num_evaluations": 64 * (generations_run + 1),
            "kept": 4, "explanation_probability": p, "raised": True, "answer_as_probable_as_lime": None}

  def photo(config, forwards):
    return {"config": config, "k": 3, "photo": "chelsea", "tuned_on": True, "speedup": 2.0, "forwards": forwards,
            "stability_k": 1.0, "stability_default": 1.0, "lime_time_s": 10.0, "elime_time_s": 5.0}

  result = {"runs": [run("fixed", 10, 0.9), run("fixed", 10, 0.7), run("patience2", 3, 0.8), run("patience2", 6, 0.6)],
            "photos": [photo("fixed", 128), photo("patience2", None)]}
  fixed, patience = time_to_quality.summarise(result)
  assert (fixed["config"], fixed["populations_mean"], fixed["evaluations_mean"]) == ("fixed", 11, 704)
  assert (patience["populations_mean"], patience["evaluations_mean"]) == (5.5, 352)
  assert fixed["answer_p_median"] == pytest.approx(0.8) and patience["answer_p_median"] == pytest.approx(0.7)
  assert fixed["forwards_median"] == 128 and patience["forwards_median"] is None  # never reached


def test_the_candidates_differ_from_the_default_only_in_patience():
  configs = time_to_quality.CONFIGS
  assert [configs[name]().patience for name in ("fixed", "patience2", "patience3")] == [None, 2, 3]
  for name in ("fixed", "patience2", "patience3"):
    assert configs[name]().num_evaluations == configs["default"]().num_evaluations
