"""study(): images x seeds x settings in one program per image size, as a tidy table that round-trips."""
import dataclasses
import json

import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.studies import COLUMNS, StudyTable
from tests.engine.planted import planted_problem

BASE = el.ELimeConfig(population_size=12, generations=5, parsimony=0.05, fill="black")
SETTINGS = [{"parsimony": 0.05}, {"parsimony": 0.3, "mutation_rate": 0.1, "init_prob": 0.3}]


@pytest.fixture(scope="module")
def problems():
  image, labels, clf32 = planted_problem((0, 5, 6, 9, 15))
  # A second image of another size (one search per size); the classifier picks its weights by the image size.
  small, small_labels, clf24 = planted_problem((0, 3, 5), side=24, n_segments=12)
  return [image, small], [labels, small_labels], lambda x: clf32(x) if x.shape[1] == 32 else clf24(x)


@pytest.fixture(scope="module")
def table(problems):
  images, labels, clf = problems
  return el.study(images, clf, seeds=[0, 3], settings=SETTINGS, config=BASE, segments=labels, names=["a", "b"])


def test_rows_equal_separate_explains(problems, table):
  images, labels, clf = problems
  assert len(table) == 2 * 2 * 2
  assert [(r["image"], r["seed"], r["setting"]) for r in table.rows] == [
      (name, seed, j) for name in "ab" for seed in (0, 3) for j in (0, 1)]
  assert [s["rows"] for s in table.meta["searches"]] == [4, 4]  # one search per image size
  for row in table.rows:
    image = 0 if row["image"] == "a" else 1
    config = dataclasses.replace(BASE, **SETTINGS[row["setting"]])
    exp = el.explain(images[image], clf, segments=labels[image], config=config, seed=row["seed"])
    assert row["explanation_probability"] == exp.explanation_probability
    assert row["original_probability"] == exp.original_probability
    assert row["selected"] == " ".join(map(str, exp.selected))
    assert (row["kept"], row["K"], row["target"], row["evaluations"]) == (
        len(exp.selected), exp.num_segments, exp.target, exp.num_evaluations)
    assert row["parsimony"] == pytest.approx(config.parsimony) and row["seconds"] > 0
  assert table.rows[1]["mutation_rate"] == pytest.approx(0.1) and table.rows[0]["mutation_rate"] is None


def test_summary(table):
  summary = table.summary()
  assert [(s["image"], s["setting"], s["runs"]) for s in summary] == [("a", 0, 2), ("a", 1, 2), ("b", 0, 2),
                                                                      ("b", 1, 2)]
  group = [r for r in table.rows if r["image"] == "b" and r["setting"] == 1]
  p = [r["explanation_probability"] for r in group]
  assert summary[3]["p_explanation"] == pytest.approx(np.mean(p))
  assert summary[3]["p_explanation_std"] == pytest.approx(np.std(p))
  assert summary[3]["p_original_std"] == 0.0  # the same image: one original probability
  margins = [r["explanation_probability"] - r["original_probability"] for r in group]
  assert summary[3]["margin"] == pytest.approx(np.mean(margins))
  assert summary[3]["compact"] == np.mean([2 * r["kept"] <= r["K"] for r in group])
  assert 0.0 <= summary[0]["stability"] <= 1.0
  json.dumps(summary)


def test_csv_and_json_round_trip(table, tmp_path):
  table.to_csv(tmp_path / "t.csv")
  table.to_json(tmp_path / "t.json")
  assert StudyTable.from_csv(tmp_path / "t.csv").rows == table.rows
  back = StudyTable.from_json(tmp_path / "t.json")
  assert back.rows == table.rows and back.meta["searches"] == table.meta["searches"]
  assert (tmp_path / "t.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
  (tmp_path / "bad.csv").write_text("image,seed\na,0\n")
  with pytest.raises(ValueError, match="is not a study table CSV"):
    StudyTable.from_csv(tmp_path / "bad.csv")
  (tmp_path / "bad.json").write_text("{not json")
  with pytest.raises(ValueError, match="is not JSON"):
    StudyTable.from_json(tmp_path / "bad.json")


@pytest.mark.parametrize("settings, message", [
    ([{"parsimony": 0.1, "population_size": 8}], r"settings\[0\]: unknown field\(s\) population_size"),
    ([{}, {"parsimony": -1.0}], r"settings\[1\]: parsimony must be a finite number >= 0"),
    ([{"init_prob": 2.0}], r"settings\[0\]: init_prob must be a probability"),
    ([{"mutation_rate": float("nan")}], r"settings\[0\]: mutation_rate must be a probability"),
    ([0.5], r"settings\[0\] must be a dict"),
    ({"parsimony": 0.1}, "not a single one"),
    ([], "at least one setting"),
    ([el.GAParams(*(np.zeros(2, np.float32),) * 4)], r"settings\[0\]: a GAParams setting must hold scalars"),
    ([el.GAParams(*(np.float32(0.1),) * 4, mutation_flips=np.float32(2.0))],
     r"settings\[0\]: a GAParams setting mutates at a rate \(mutation_flips=0\) or at 1 / K"),
])
def test_bad_settings(problems, settings, message):
  images, labels, clf = problems
  with pytest.raises(ValueError, match=message):
    el.study(images, clf, seeds=[0], settings=settings, config=BASE, segments=labels)


def test_bad_seeds_and_names(problems):
  images, labels, clf = problems
  for seeds in (3, [], "ab", [0.5]):
    with pytest.raises(ValueError, match="seed"):
      el.study(images, clf, seeds=seeds, config=BASE, segments=labels)
  with pytest.raises(ValueError, match="names must be 2 distinct names"):
    el.study(images, clf, seeds=[0], config=BASE, segments=labels, names=["x", "x"])


def test_gaparams_setting_equals_its_dict(problems):
  images, labels, clf = problems
  config = dataclasses.replace(BASE, parsimony=0.2, mutation_rate=0.05)
  a = el.study(images[:1], clf, seeds=[1], settings=[config.ga_params()], config=BASE, segments=labels[:1])
  b = el.study(images[:1], clf, seeds=[1], settings=[{"parsimony": 0.2, "mutation_rate": 0.05}], config=BASE,
               segments=labels[:1])
  assert [dict(r, seconds=0, evolve_seconds=0) for r in a.rows] == [dict(r, seconds=0, evolve_seconds=0)
                                                                    for r in b.rows]
