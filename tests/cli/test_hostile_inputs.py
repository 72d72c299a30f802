"""Hostile inputs, one item at a time and in-process (cheap): nothing the person owns is overwritten, nothing wrong
is returned silently, no single bad file stops a run. The whole run over all of them is in test_hostile_run."""
import hashlib
import json
import os
import signal
import time
import types
import warnings

import numpy as np
import pytest
from PIL import Image

from evojax_lime.cli import images, notes, outputs, report, resume, summary
from evojax_lime.cli.errors import CliError, print_error, shown
from evojax_lime.cli.outputs import MANIFEST, PHOTO_SUFFIXES, OutputFolder, read_manifest
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
  hostile.list_as_written(tmp_path, "dog_overlay.png")
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


def _entry(name, data):
  return json.dumps({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}) + "\n"


def test_a_listed_file_is_the_tools_only_while_unchanged(tmp_path):
  # Issue 31 item 4: after `rm out/*` (the hidden list stays), the person's own index.html, summary.csv or
  # cat_overlay.png placed there were replaced without a note; an edited list did the same.
  folder = tmp_path / "out"
  with OutputFolder(str(folder)) as out:
    assert out.stem(tmp_path / "cat.png") == ("cat", None)
    out.write({f"cat{s}": lambda p: p.write_bytes(b"tool's " + p.name.encode()) for s in PHOTO_SUFFIXES[:4]})
    names = out.run_files()
    out.write({name: lambda p: p.write_text("tool's summary") for name in names.values()})
  for path in folder.iterdir():  # rm out/*
    if path.name != MANIFEST:
      path.unlink()
  mine = {"index.html": b"my page", "summary.csv": b"my table", "cat_overlay.png": b"my picture",
          "notes.txt": b"mine", "dog_overlay.png": b"also mine"}
  for name, data in mine.items():
    (folder / name).write_bytes(data)
  (folder / "cat_fitness.png").write_bytes(b"tool's cat_fitness.png")  # as the tool wrote it: still its own
  with open(folder / MANIFEST, "a", encoding="ascii") as f:  # edited: claims the person's files, bytes unknown
    f.write(_entry("notes.txt", b"not what it holds") + _entry("dog_overlay.png", b"also ours"))
  with OutputFolder(str(folder)) as out:
    assert out.run_files() == {"csv": "summary-2.csv", "json": "summary-2.json", "html": "index-2.html"}
    changed = f"{folder / 'cat_overlay.png'} was changed or replaced since evojax-lime wrote it"
    assert out.stem(tmp_path / "cat.png") == ("cat-2", changed)
    assert out.stem(tmp_path / "dog.png")[0] == "dog-2"
    assert [out.is_own_output(folder / n) for n in ("cat_fitness.png", "cat_overlay.png", "notes.txt")] == [
        True, False, False]
    for name in ("index.html", "notes.txt", "cat_overlay.png"):  # and at the last moment, if a name was taken
      with pytest.raises(CliError, match=f"{name} was changed or replaced since evojax-lime wrote it; not"):
        out.write({name: lambda p: p.write_text("replaced")})
    out.write({"cat_fitness.png": lambda p: p.write_bytes(b"new")})  # its own, unchanged: replaced
  assert {n: (folder / n).read_bytes() for n in mine} == mine
  assert (folder / "cat_fitness.png").read_bytes() == b"new"
  assert read_manifest(folder / MANIFEST)["cat_fitness.png"] == (3, hashlib.sha256(b"new").hexdigest())


DAMAGED = {"brackets": "[" * 100_000, "names only": '"cat.png"', "parent": _entry("..", b""),
           "path": _entry("a/b.png", b""), "nul": _entry("a\x00.png", b""), "itself": _entry(MANIFEST, b""),
           "cut short": _entry("cat.png", b"")[:40], "two on a line": _entry("a.png", b"")[:-1] * 2,
           "extra field": _entry("a.png", b"")[:-2] + ', "x": 1}', "short digest": '{"name": "a", "size": 1, '
           '"sha256": "abc"}', "negative size": _entry("a.png", b"").replace('"size": 0', '"size": -1'),
           "raw bytes": _entry("a.png", b"").replace("a.png", "\u732b.png"), "long": _entry("L" * 3000, b""),
           "blank line": "\n"}


@pytest.mark.parametrize("damage", list(DAMAGED))
def test_a_damaged_list_is_one_error_and_nothing_is_written(tmp_path, damage):
  # Issue 31 item 10: 100,000 "[" on one line ended the run with "unexpected RecursionError".
  good = _entry("cat.png", b"x")
  (tmp_path / MANIFEST).write_text(good + DAMAGED[damage] + "\n" + good, encoding="utf-8")
  with pytest.raises(CliError, match=f"{MANIFEST}: line 2 is not an entry of the list of the files evojax-lime "
                                     f"wrote there \\(edited or damaged\\); nothing was written: move it away"):
    with OutputFolder(str(tmp_path)):
      pass
  assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]


def test_a_list_that_is_no_file_is_one_error(tmp_path, no_hang):
  (tmp_path / "real").write_text(_entry("cat.png", b"x"))
  (tmp_path / "link" ).mkdir()
  (tmp_path / "link" / MANIFEST).symlink_to(tmp_path / "real")
  (tmp_path / "fifo").mkdir()
  os.mkfifo(tmp_path / "fifo" / MANIFEST)
  for case, why in (("link", "symbolic link"), ("fifo", "named pipe")):
    with pytest.raises(CliError, match=f"the list of the files evojax-lime wrote there, cannot be read .*{why}"):
      with OutputFolder(str(tmp_path / case)):
        pass
  assert read_manifest(tmp_path / "real") == {"cat.png": (1, hashlib.sha256(b"x").hexdigest())}
  (tmp_path / "real").write_text(_entry("cat.png", b"x") + _entry("cat.png", b"yy") + _entry(hostile.ESCAPES, b""))
  assert read_manifest(tmp_path / "real") == {"cat.png": (2, hashlib.sha256(b"yy").hexdigest()),  # the last
                                              hostile.ESCAPES: (0, hashlib.sha256(b"").hexdigest())}
  (tmp_path / "real").write_text("")
  assert read_manifest(tmp_path / "real") == {} and read_manifest(tmp_path / "missing") == {}


def test_a_killed_runs_staging_folder_is_removed_by_a_later_run(tmp_path, capsys):
  # Issue 31 item 12: after kill -9 the .evojax-lime-XXXXXXXX staging folder stayed.
  staging, lock = outputs._staging_folder(tmp_path)
  (staging / "cat_overlay.png").write_bytes(b"half written")
  lookalikes = {".evojax-lime-abcdefgh": "notes.txt", ".evojax-lime-ijklmnop": "sub_overlay.png/",
                ".evojax-lime-photos": "cat_overlay.png", ".evojax-lime-qrstuvwx": "link_overlay.png@"}
  for name, inside in lookalikes.items():  # the person's, named like staging folders: never removed
    (tmp_path / name).mkdir(mode=0o700)
    path = tmp_path / name / inside.rstrip("/@")
    path.mkdir() if inside.endswith("/") else path.symlink_to(tmp_path) if inside.endswith("@") else path.touch()
  (tmp_path / ".evojax-lime-rstuvwxy").mkdir(mode=0o755)  # not mkdtemp's permissions
  fresh, fresh_lock = outputs._staging_folder(tmp_path)
  os.close(fresh_lock)  # released, but just made: maybe another run's, not yet locked
  old = time.time() - 2 * outputs.STAGING_GRACE_SECONDS
  for path in [staging, *(p for p in tmp_path.iterdir() if p.name.startswith(".evojax-lime-") and p != fresh)]:
    os.utime(path, (old, old))
  with OutputFolder(str(tmp_path)):  # its run still holds it: left alone
    pass
  assert staging.is_dir()
  os.close(lock)  # what the kernel does when that run is killed
  with OutputFolder(str(tmp_path)):
    pass
  assert not staging.exists() and fresh.is_dir()
  assert all((tmp_path / name).is_dir() for name in [*lookalikes, ".evojax-lime-rstuvwxy"])
  assert capsys.readouterr().err == (f"evojax-lime: note: removed 1 staging folder (.evojax-lime-*) left in {tmp_path} "
                                     f"by a run that was killed\n")


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


def test_resume_redoes_a_photo_whose_files_are_not_as_written(tmp_path, capsys):
  # Issue 31 item 12: --resume trusted a record whose overlay PNG was deleted (no picture, no thumbnail).
  from evojax_lime.cli.explain_command import _resumed
  from evojax_lime.cli.pipeline import Photo

  options = hostile.run_options()
  photo = Photo(tmp_path / "cat.png", "cat.png", "cat", "cat.png", "ab")
  record = json.loads(hostile.record_text("ab", options))
  names = {"overlay": "cat_overlay.png", "fitness": "cat_fitness.png", "record": "cat.json"}
  writers = {"cat_overlay.png": lambda p: hostile.picture(0).save(p, format="PNG"),
             "cat_fitness.png": lambda p: p.write_bytes(b"curve"),
             "cat.json": lambda p: p.write_text(json.dumps({**record, "files": names}))}

  def resumed(**files):
    folder = tmp_path / f"out{len(list(tmp_path.iterdir()))}"  # a folder of its own for each case
    with OutputFolder(str(folder)) as out:
      out.write({name: writers[name] for name in files.get("write", writers)})
      for name in files.get("delete", ()):
        (folder / name).unlink()
      for name in files.get("change", ()):
        (folder / name).write_bytes(b"the person's")
      if files.get("rewrite"):
        (folder / "cat.json").write_text(json.dumps({**record, "files": names}, indent=1))
      outcomes, todo = _resumed([photo], out, options)
    return outcomes[0] if not todo else None

  done = resumed()
  assert done.resumed and done.thumbnail.startswith(b"\xff\xd8")  # with the overlay's thumbnail
  assert resumed(delete=["cat_overlay.png"]) is None
  assert resumed(change=["cat_fitness.png"]) is None
  assert resumed(rewrite=True) is None  # the record still valid, but no longer as the tool wrote it
  names.pop("overlay")
  assert resumed() is None  # a record that lists no overlay
  names.update(overlay="../out0/cat_overlay.png")
  assert resumed() is None
  names.update(overlay="cat_overlay.png")
  assert resumed() is not None


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
