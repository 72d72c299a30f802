"""Hostile files for the command line, built in one place so the unit tests and the whole-run test share them.

Names that are markup or terminal controls, files named like photos that are no files, a float TIFF holding NaN,
the person's own files where outputs would go, and records "of an earlier run" whose JSON is valid but whose
values are not.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from evojax_lime.cli import resume
from evojax_lime.cli.outputs import MANIFEST

ESCAPES = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07.png"  # recolours the terminal and retitles its window if printed raw
LONG = "L" * 240 + ".png"  # legal, but "<stem>_explanation.png" would be 256 bytes
# A photo's label is its path as typed: a formula only when named on its own, from its folder.
FORMULA = '=HYPERLINK("http:x","click").png'
# JPEG whose EXIF block is cut short: Pillow warns "Corrupt EXIF data" from TiffImagePlugin.py (a note here).
CORRUPT_EXIF = (b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x02\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00"
                b"\x87\x69\x00\x04\x00\x00\x00\x01\x00\x00\xff\xf0")
RECORD_LIMIT_PLUS = resume.RECORD_LIMIT + 1

# Photos that must be explained, by file name. cat_overlay.png is the person's own picture, where cat.png's overlay
# would go; summary.png's record would be the run's summary.json; a.png and a.jpg share a stem; 猫 has no glyph
# in matplotlib's default font; os.fsdecode(b"\xff") is a byte of a name that is not UTF-8.
GOOD = ("cat.png", "cat_overlay.png", "summary.png", "a.png", "a.jpg", "x$^$.png", ESCAPES, "new\nline.png", LONG,
        "猫.png", "exif.jpg", os.fsdecode(b"b\xff.png"))
# Good photos whose earlier record (<stem>.json, listed as this tool's) is hostile: each must be explained again.
RECORDS = {
    "r_digits.png": lambda rec: rec.replace('"original_probability": 0.5', '"original_probability": ' + "1" * 400),
    "r_nan.png": lambda rec: rec.replace('"stability": 0.5', '"stability": NaN'),
    "r_huge_int.png": lambda rec: rec.replace('"wall": 1.5', '"wall": ' + str(10 ** 400)),
    "r_padded.png": lambda rec: rec + " " * RECORD_LIMIT_PLUS,  # valid JSON, read whole until now
    "r_fifo.png": None,  # a FIFO in place of the record: reading it would block forever
}
# Named like photos, but none can be explained: one error line each.
BAD = ("fifo.png", "folder.png", "zero.png", "dangling.png", "nan.tif")


def picture(seed: int) -> Image.Image:
  """A small photo of its own for each seed (distinct bytes, so distinct SHA-256)."""
  base = [data.chelsea(), data.coffee(), data.astronaut()][seed % 3]
  small = Image.fromarray(base).resize((160, 120))
  pixels = np.asarray(small).copy()
  pixels[0, 0] = seed % 256  # one pixel apart: another file
  return Image.fromarray(pixels)


def record_text(sha256: str, options: dict) -> str:
  """A record as the tool writes it, with round values the hostile edits replace."""
  rec = {"image": {"source": "earlier", "height": 120, "width": 160, "sha256": sha256}, "options": options,
         "target": {"id": 281, "name": "tabby"}, "original_probability": 0.5, "explanation_probability": 0.75,
         "num_superpixels": 40, "kept": [{"id": 3, "importance": 0.9}], "timings": {"wall": 1.5},
         "stability": 0.5, "files": {"record": "x.json"}}
  return json.dumps(rec, indent=2)


def run_options(*argv: str) -> dict:
  """What ``--resume`` compares for ``evojax-lime explain *argv`` (computed as the command does)."""
  from evojax_lime.cli.args import build_parser, config_from_args, score_options
  from evojax_lime.cli.pipeline import OVERLAY_LONGEST_SIDE

  args = build_parser().parse_args(["explain", *argv])
  return resume.options(model=args.model, weights=args.weights, config=config_from_args(args), seed=args.seed,
                        target=None, overlay_side=OVERLAY_LONGEST_SIDE, objective=args.objective,
                        restarts=args.restarts, scores=score_options(args))


def list_as_written(folder: Path, *names: str) -> None:
  """Adds ``names`` to the folder's list of the files the tool wrote, with their present size and digest, as the
  tool lists what it writes (a stand-in for an earlier run that wrote them as they are)."""
  lines = []
  for name in names:
    data = (folder / name).read_bytes()
    lines.append(json.dumps({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}) + "\n")
  with open(folder / MANIFEST, "a", encoding="ascii") as f:
    f.write("".join(lines))


def build(folder: Path, options: dict) -> dict[str, Path]:
  """Fills ``folder`` (also the output folder of the run under test) with every hostile case.

  Returns:
    Every photo path by file name, good and bad, plus ``"index.html"``: the person's own page.
  """
  folder.mkdir(parents=True, exist_ok=True)
  paths = {}
  for seed, name in enumerate(GOOD + tuple(RECORDS)):
    path = paths[name] = folder / name
    picture(seed).save(path, **({"exif": CORRUPT_EXIF} if name == "exif.jpg" else {}))
  owned = []
  for name, edit in RECORDS.items():
    record = folder / (Path(name).stem + ".json")
    if edit is None:
      os.mkfifo(record)  # not listed: a list entry is of a regular file's bytes
    else:
      owned.append(record.name)
      sha = hashlib.sha256(paths[name].read_bytes()).hexdigest()
      record.write_text(edit(record_text(sha, options)))
  # As an earlier run would have listed them: these records are the tool's own, to be read and replaced.
  list_as_written(folder, *owned)

  os.mkfifo(folder / "fifo.png")
  (folder / "folder.png").mkdir()
  (folder / "zero.png").symlink_to("/dev/zero")
  (folder / "dangling.png").symlink_to(folder / "gone.png")
  nan = np.full((60, 80), 0.5, np.float32)
  nan[10:20, 10:20] = np.nan
  Image.fromarray(nan, mode="F").save(folder / "nan.tif")
  for name in BAD:
    paths[name] = folder / name
  (folder / "index.html").write_text("<p>the person's own page</p>\n")
  paths["index.html"] = folder / "index.html"
  return paths
