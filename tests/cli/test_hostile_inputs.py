"""Hostile inputs, one item at a time and in-process (cheap): nothing the person owns is overwritten, nothing wrong
is returned silently, no single bad file stops a run. The whole run over all of them is in test_hostile_run."""
import json
import os
import signal
import types
import warnings

import numpy as np
import pytest
from PIL import Image

from evojax_lime.cli import images, notes, report, resume, summary
from evojax_lime.cli.errors import CliError, print_error, shown
from evojax_lime.cli.outputs import MANIFEST, PHOTO_SUFFIXES, OutputFolder
from tests.cli import hostile


@pytest.fixture
def no_hang():
  """Fails a test that blocks (on a FIFO) instead of hanging the suite."""
  def expire(*_):
    raise TimeoutError("blocked")

  old = signal.signal(signal.SIGALRM, expire)
  signal.alarm(10)
  yield
  signal.alarm(0)
  signal.signal(signal.SIGALRM, old)


def _picture(path):
  hostile.picture(0).save(path)
  return path


def test_outputs_never_replace_a_file_the_run_did_not_write(tmp_path):
  # Item 1: --out is the photos' folder, which holds the person's own cat_overlay.png.
  cat, mine = _picture(tmp_path / "cat.png"), _picture(tmp_path / "cat_overlay.png")
  linked = tmp_path / "dog_overlay.png"
  os.link(cat, linked)  # an input under an output's name: never written over either
  (tmp_path / MANIFEST).write_text('"dog_overlay.png"\n')
  with OutputFolder(str(tmp_path)) as out:
    out.protect([cat, mine, tmp_path / "dog.png"])
    assert out.stem(cat) == ("cat-2", f"{mine} is a photo of this run")
    # dog_overlay.png is listed as this tool's, but it is an input: still never written over.
    assert out.stem(tmp_path / "dog.png") == ("dog-2", f"{linked} is a photo of this run")
    assert out.stem(tmp_path / "new.png") == ("new", None)
    (tmp_path / "new.json").write_text("the person's, made after the name was chosen")
    with pytest.raises(CliError, match="new.json exists and was not written by evojax-lime; not replacing it"):
      out.write({"new.json": lambda p: p.write_text("{}")})
    out.write({"cat-2.json": lambda p: p.write_text("{}")})
  assert (tmp_path / "new.json").read_text().startswith("the person's")
  assert mine.read_bytes() == _picture(tmp_path / "again.png").read_bytes()
  # A later run (--resume) takes its own files back, and only those; they are not photos to explain.
  with OutputFolder(str(tmp_path)) as out:
    assert out.stem(cat)[0] == "cat-2"
    assert out.is_own_output(tmp_path / "cat-2.json") and not out.is_own_output(mine)
    out.write({"cat-2.json": lambda p: p.write_text('{"again": 1}')})
  assert json.loads((tmp_path / "cat-2.json").read_text()) == {"again": 1}


def test_photo_and_run_outputs_never_share_a_path(tmp_path):
  # Item 2: summary.png's record would be the run's summary.json; a.png and a.jpg share a stem.
  (tmp_path / "index.html").write_text("the person's")
  with OutputFolder(str(tmp_path / "out")) as out:
    assert out.run_files() == {"csv": "summary.csv", "json": "summary.json", "html": "index.html"}
    stems = [out.stem(tmp_path / n)[0] for n in ("summary.png", "a.png", "a.jpg", "A.gif", "a-2.png")]
  assert stems == ["summary-2", "a", "a-2", "A-3", "a-2-2"]  # casefolded: one name on a case-insensitive disk
  with OutputFolder(str(tmp_path)) as out:  # the person's index.html moves the run's files aside, together
    assert out.run_files() == {"csv": "summary-2.csv", "json": "summary-2.json", "html": "index-2.html"}
    assert out.stem(tmp_path / "summary-2.png")[0] == "summary-2-2"


def test_long_names_are_shortened_and_stay_unique(tmp_path):
  # Item 11: "<240 characters>_explanation.png" is longer than a file name may be.
  names = [hostile.LONG, "L" * 239 + "M.png", "é" * 200 + ".png"]
  with OutputFolder(str(tmp_path)) as out:
    stems = [out.stem(tmp_path / n)[0] for n in names]
    assert len(set(stems)) == 3
    for stem in stems:
      out.write({stem + s: lambda p: p.write_bytes(b"x") for s in PHOTO_SUFFIXES})
  assert all(len(os.fsencode(p.name)) <= 255 for p in tmp_path.iterdir())
  assert stems[0].startswith("L" * 150) and stems[2].startswith("é" * 80)


def test_names_are_drawn_as_text_not_mathtext(tmp_path):
  # Item 5: "x$^$.png" in a title was parsed as mathtext and ended the run.
  from evojax_lime.cli.pipeline import Photo, _written
  from evojax_lime.front_render import plot_front
  from evojax_lime.render import save_fitness_plot

  curve = types.SimpleNamespace(fitness_history=[0.1, 0.2], mean_fitness_history=[0.0, 0.1])
  save_fitness_plot(curve, tmp_path / "fitness.png", title="Fitness: x$^$.png, $\\frac{a}{")
  probs = np.array([0.1, 0.5, 0.9])
  front = types.SimpleNamespace(sizes=np.arange(3), probabilities=probs, non_dominated=lambda: np.arange(3),
                                hypervolume=lambda: 0.5, original_probability=0.8, num_segments=2)
  plot_front(front, tmp_path / "front.png", title="x$^$.png", points=[(1, 0.4, "run $_$")])
  assert Image.open(tmp_path / "fitness.png").format == Image.open(tmp_path / "front.png").format == "PNG"
  # Whatever else fails while a photo's files are written is that photo's error, not the end of the run.
  failed = types.SimpleNamespace(result=lambda: (_ for _ in ()).throw(ValueError("no\nway")))
  photo = Photo(tmp_path / "x$^$.png", "x$^$.png", "x$^$", "x", "0")
  outcome = _written(failed, photo)
  assert outcome.error.endswith("x$^$.png: cannot write its files: ValueError: no way")


@pytest.mark.parametrize("name", list(hostile.RECORDS))
def test_resume_treats_a_record_that_does_not_validate_as_absent(tmp_path, no_hang, name):
  # Items 6 and 9: valid JSON with values no record holds, a FIFO, 32 MB of trailing spaces.
  options = hostile.run_options()
  good = hostile.record_text("ab", options)
  path = tmp_path / "r.json"
  path.write_text(good)
  assert resume.done_record(path, sha256="ab", run_options=options) is not None
  path.unlink()
  edit = hostile.RECORDS[name]
  if edit is None:
    os.mkfifo(path)
  else:
    path.write_text(edit(good))
  assert resume.done_record(path, sha256="ab", run_options=options) is None


@pytest.mark.parametrize("text", ["[" * 100000 + "]" * 100000, '{"a": "cut', b"\xff\xfe{}"])
def test_unreadable_records_are_absent(tmp_path, text):
  path = tmp_path / "r.json"
  path.write_bytes(text if isinstance(text, bytes) else text.encode())
  assert resume.read_record(path) is None


def test_a_record_with_an_infinite_probability_does_not_validate():
  rec = json.loads(hostile.record_text("ab", {}))
  assert resume.valid(rec)
  for key, value in (("explanation_probability", 1e999), ("original_probability", 1.5), ("num_superpixels", True)):
    assert not resume.valid({**rec, key: value})


def test_photos_that_are_not_files_are_one_error_each(tmp_path, no_hang):
  # Item 9: a FIFO, a folder, a device, a dangling link named like photos: reported, never read.
  paths = hostile.build(tmp_path / "p", {})
  found = images.collect([str(tmp_path / "p")])
  errors = dict(found.errors)
  expect = {"fifo.png": "named pipe (FIFO)", "folder.png": "a folder", "zero.png": "a character device",
            "dangling.png": "symbolic link to nothing"}
  for name, words in expect.items():
    assert words in errors.pop(str(paths[name])) and paths[name] not in found.paths
  assert not errors and paths["nan.tif"] in found.paths
  with pytest.raises(CliError, match="fifo.png: is a named pipe \\(FIFO\\), not a regular file"):
    images.load_photo(paths["fifo.png"])  # as if it became one after the folder was listed
  with pytest.raises(OSError, match="named pipe"):
    images.file_sha256(paths["fifo.png"])


def test_non_finite_pixels_are_refused(tmp_path):
  # Item 12: a float TIFF with NaN was explained as if the NaN were black.
  pixels = np.full((30, 40), 0.5, np.float32)
  pixels[0, :3] = [np.nan, np.inf, -np.inf]
  Image.fromarray(pixels, mode="F").save(tmp_path / "nan.tif")
  with pytest.raises(CliError) as err:
    images.load_photo(tmp_path / "nan.tif")
  assert str(err.value) == (f"{tmp_path / 'nan.tif'}: cannot be explained: 3 of its 1200 pixels are not finite "
                            f"numbers (NaN or infinity)")


def test_warnings_become_one_line_notes_about_their_photo(tmp_path, capsys, monkeypatch):
  # Item 12: Pillow's decompression-bomb and corrupt-EXIF warnings came with a library file and line.
  hostile.picture(1).save(tmp_path / "exif.jpg", exif=hostile.CORRUPT_EXIF)
  _picture(tmp_path / "big.png")
  monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)  # 160 x 120 exceeds it, but not twice over
  with notes.warnings_as_notes():
    for name in ("exif.jpg", "big.png", "big.png"):
      with notes.about(str(tmp_path / name)):
        images.load_photo(tmp_path / name)
    warnings.warn("about no photo\nat all")
  lines = capsys.readouterr().err.splitlines()
  assert lines and all(line.startswith("evojax-lime: note: ") and ".py:" not in line for line in lines)
  assert any("exif.jpg: Corrupt EXIF data" in line for line in lines)
  assert [line for line in lines if "big.png" in line and "decompression bomb" in line]  # once, not twice
  assert len([line for line in lines if "big.png" in line]) == 1
  assert lines[-1] == "evojax-lime: note: about no photo at all"


def test_names_are_printed_escaped(capsys):
  # Item 10: a name recoloured the terminal, a newline in one split its result line.
  assert shown(hostile.ESCAPES) == "\\x1b[31mRED\\x1b[0m\\x1b]0;pwned\\x07.png"
  assert shown("new\nline.png") == "new\\nline.png" and shown(os.fsdecode(b"b\xff.png")) == "b\\xff.png"
  assert shown("猫 é.png") == "猫 é.png" and shown("a\u202egnp.exe") == "a\\u202egnp.exe"
  done = report.Outcome(name="new\nline.png", class_name="tabby\x1b[2J", class_id=281, original=0.5,
                        explanation=0.7, kept=3, superpixels=40, seconds=1.0)
  failed = report.Outcome(name=hostile.ESCAPES, error=f"{shown(hostile.ESCAPES)}: not an image")
  print(report.line(done))
  print(report.table([done, failed]))
  print_error(f"{hostile.ESCAPES}: raw\nin a message")
  captured = capsys.readouterr()
  for text in (captured.out, captured.err):
    assert all(line.isprintable() for line in text.splitlines())
  assert captured.out.splitlines()[0].startswith("new\\nline.png: tabby\\x1b[2J (281)")
  assert len(captured.err.splitlines()) == 1


def test_csv_cells_are_never_formulas(tmp_path):
  # Item 14: =HYPERLINK(...).png became a formula in a spreadsheet.
  names = [hostile.FORMULA, "+1.png", "-2.png", "@SUM(A1).png", "\t=1.png", "\r=1.png", "plain=.png"]
  outcomes = [report.Outcome(name=n, class_name="=cmd|' /C calc'!A0", original=0.5, explanation=0.5)
              for n in names] + [report.Outcome(name="bad.png", error="-not a formula either")]
  summary.save_csv(outcomes, tmp_path / "s.csv")
  import csv

  with open(tmp_path / "s.csv", newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  assert [r["name"] for r in rows] == ["'" + n for n in names[:-1]] + ["plain=.png", "bad.png"]
  assert all(r["class"] in ("'=cmd|' /C calc'!A0", "") for r in rows) and rows[-1]["error"] == "'-not a formula either"
  assert rows[0]["p_before"] == "0.5"  # numbers stay numbers
