"""One run over a folder of every hostile case at once (tests/cli/hostile.py), written into that same folder, then
the same run resumed: every good photo explained and reported, every bad one one error line, nothing the person
owns touched, nothing outside the folder changed, the summary and the HTML report written."""
import csv
import hashlib
import json
import os

import pytest

from evojax_lime.cli.errors import shown
from evojax_lime.cli.outputs import MANIFEST, short_stem
from tests.cli import hostile
from tests.cli.conftest import FAST, cli, error_lines

# Eighteen photos: the search is the least the command runs (a random start, a grid, no scores), as what is
# under test is the handling of the files around it; the default search is the other command-line tests' job.
LEAN = (*FAST, "--seeding", "random", "--segmentation", "grid", "--no-faithfulness")
RUN_FILES = ("summary-2.csv", "summary-2.json", "index-2.html")  # the person's own index.html moves them aside


def _snapshot(root):
  """Path -> SHA-256 (or the kind) of everything under ``root``, links and FIFOs not followed."""
  found = {}
  for folder, dirs, names in os.walk(root):
    for name in dirs + names:
      path = os.path.join(folder, name)
      if os.path.islink(path) or not os.path.isfile(path):
        found[path] = "link" if os.path.islink(path) else "other"
      else:
        with open(path, "rb") as f:
          found[path] = hashlib.sha256(f.read()).hexdigest()
  return found


def _lines_about(lines, name):
  return [line for line in lines if shown(name) in line]


@pytest.mark.slow
def test_every_hostile_case_in_one_run(tmp_path):
  options = hostile.run_options(*LEAN)
  folder = tmp_path / "p"
  paths = hostile.build(folder, options)
  (tmp_path / "elsewhere.txt").write_text("outside the output folder")
  hostile.picture(99).save(tmp_path / hostile.FORMULA)
  paths[hostile.FORMULA] = tmp_path / hostile.FORMULA
  inputs = {name: paths[name] for name in hostile.GOOD + tuple(hostile.RECORDS) + ("index.html", "nan.tif",
                                                                                     hostile.FORMULA)}
  before_inputs = {name: hashlib.sha256(p.read_bytes()).hexdigest() for name, p in inputs.items()}
  outside = {p: h for p, h in _snapshot(tmp_path).items() if not p.startswith(str(folder) + os.sep)}

  result = cli("explain", "p", hostile.FORMULA, *LEAN, "--out", "p", cwd=tmp_path, timeout=600)
  errors = [line for line in error_lines(result) if line.startswith("evojax-lime: error: ")]
  notes = [line for line in error_lines(result) if line.startswith("evojax-lime: note: ")]
  assert len(errors) + len(notes) == len(result.stderr.splitlines()), result.stderr
  assert result.returncode == 1  # photos failed (the convention: 1 when any did), the others are all written
  for text in (result.stdout, result.stderr):
    assert all(line.isprintable() for line in text.splitlines()) and "\x1b" not in text

  good = [f"p/{name}" for name in hostile.GOOD + tuple(hostile.RECORDS)] + [hostile.FORMULA]
  for name in good:  # one result line each, under its escaped name
    (line,) = [l for l in result.stdout.splitlines() if l.startswith(shown(name) + ": ")]
    assert "superpixels" in line and "already explained" not in line, line
  for name in hostile.BAD:
    assert len(_lines_about(errors, f"p/{name}")) == 1, (name, errors)
  assert len(errors) == len(hostile.BAD)
  # Library warnings are notes naming their photo, never a file and line of the library.
  assert _lines_about([n for n in notes if "Corrupt EXIF" in n], "p/exif.jpg")
  assert any("猫.png" in n and "missing from font" in n for n in notes)
  assert not any(".py:" in n for n in notes)

  # Nothing the person owns changed; nothing outside the output folder did either.
  assert {n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in inputs.items()} == before_inputs
  assert {p: h for p, h in _snapshot(tmp_path).items() if not p.startswith(str(folder) + os.sep)} == outside
  assert "evojax-lime: note: p/cat.png: its files are named cat-2_*: p/cat_overlay.png is a photo of this run" in notes
  assert (folder / "cat-2_overlay.png").exists() and (folder / "cat_overlay_overlay.png").exists()
  # Every photo has its own files: summary.png, a.png and a.jpg, the long name cut short.
  stems = {json.loads((folder / f).read_text())["image"]["source"]: f[:-5] for f in os.listdir(folder)
           if f.endswith(".json") and not f.startswith("summary-2.json") and (folder / f).is_file()}
  assert sorted(stems) == sorted(good)
  assert stems["p/summary.png"] == "summary-3" and {stems["p/a.png"], stems["p/a.jpg"]} == {"a", "a-2"}
  assert stems[f"p/{hostile.LONG}"] == short_stem(hostile.LONG[:-4])
  assert stems["p/r_fifo.png"] == "r_fifo-2"  # the FIFO is left where it is, never opened
  for name in hostile.RECORDS:  # a record that did not validate was explained again and replaced
    record = json.loads((folder / f"{stems['p/' + name]}.json").read_text())
    assert record["options"] == options and 0 <= record["original_probability"] <= 1

  # The run's files: one row per photo; a name that is a formula stays text.
  assert all((folder / f).is_file() for f in RUN_FILES)
  with open(folder / "summary-2.csv", newline="", encoding="utf-8") as f:
    rows = {r["name"]: r for r in csv.DictReader(f)}
  assert "'" + hostile.FORMULA in rows and hostile.FORMULA not in rows
  assert len(json.loads((folder / "summary-2.json").read_text())["photos"]) == len(good) + len(hostile.BAD)
  assert "<p>the person's own page</p>" in (folder / "index.html").read_text()

  # The same run resumed: nothing explained again, nothing written over but the run's own summary (and the list
  # of the files written, which only grows by the summary's new entries).
  outputs = {p: h for p, h in _snapshot(folder).items() if not p.endswith(RUN_FILES + (MANIFEST,))}
  listed = (folder / MANIFEST).read_bytes()
  again = cli("explain", "p", hostile.FORMULA, *LEAN, "--out", "p", "--resume", cwd=tmp_path, timeout=600)
  assert again.returncode == 1 and "Traceback" not in again.stderr
  for name in good:
    (line,) = [l for l in again.stdout.splitlines() if l.startswith(shown(name) + ": ")]
    assert "already explained" in line, line
  assert len([l for l in again.stderr.splitlines() if l.startswith("evojax-lime: error: ")]) == len(hostile.BAD)
  assert {p: h for p, h in _snapshot(folder).items() if not p.endswith(RUN_FILES + (MANIFEST,))} == outputs
  grown = (folder / MANIFEST).read_bytes()
  added = [json.loads(line)["name"] for line in grown[len(listed):].decode().splitlines()]
  assert grown.startswith(listed) and sorted(added) == sorted(RUN_FILES)
