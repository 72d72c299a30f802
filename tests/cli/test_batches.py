"""Many photos from the command line: batches of mixed sizes, a bad photo among them, the summary and the HTML
report, bounded overlays, and ``--resume``.

Three launches share one compilation cache, so only the first compiles: the run itself, a resumed run with one
new photo and one changed record, and a resumed run at full resolution.
"""
import csv
import html.parser
import json
import shutil
import urllib.parse

import pytest
from PIL import Image
from skimage import data

from evojax_lime.scores import LEGEND
from tests.cli.conftest import FAST, cli, error_lines
from tests.cli.hostile import list_as_written

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it

HOSTILE = 'x<b>"&.png'  # a legal file name that is also markup: the report must escape it
GOOD = ("a_cat.jpg", "b_astro.png", "c_big.jpg", HOSTILE)


@pytest.fixture(scope="module")
def run(tmp_path_factory, chelsea):
  """A folder of photos of four sizes (one 3000 x 2000, larger than an overlay is drawn) and a truncated one, explained
  in batches of two."""
  root = tmp_path_factory.mktemp("batches")
  folder = root / "photos"
  folder.mkdir()
  Image.fromarray(chelsea).save(folder / "a_cat.jpg", quality=92)
  Image.fromarray(data.astronaut()).resize((640, 480)).save(folder / "b_astro.png")
  Image.fromarray(data.coffee()).resize((3000, 2000)).save(folder / "c_big.jpg", quality=80)
  good = (folder / "a_cat.jpg").read_bytes()
  (folder / "d_truncated.jpg").write_bytes(good[:len(good) // 2])
  Image.fromarray(data.rocket()).resize((300, 200)).save(folder / HOSTILE)
  out = root / "out"
  result = cli("explain", folder, *FAST, "--batch-size", "2", "--out", out, "--cache-dir", root / "cache", cwd=root)
  return root, folder, out, result


def _record(out, stem):
  return json.loads((out / f"{stem}.json").read_text())


def _stem(name):
  return name.rsplit(".", 1)[0]


def test_batches_of_mixed_sizes_and_a_bad_photo(run):
  root, folder, out, result = run
  assert result.returncode == 1  # the truncated photo
  (line,) = error_lines(result)
  assert "d_truncated.jpg" in line and "truncated" in line
  records = {name: _record(out, _stem(name)) for name in GOOD}
  sizes = {name: (r["image"]["height"], r["image"]["width"]) for name, r in records.items()}
  assert sizes == {"a_cat.jpg": (300, 451), "b_astro.png": (480, 640), "c_big.jpg": (2000, 3000), HOSTILE: (200, 300)}
  # 5 photos in batches of at most 2: [a, b], [c, truncated], [hostile]; short batches are topped up with a copy,
  # so one program (compiled in the first batch) serves all three calls.
  assert [records[n]["batch"] for n in GOOD] == [{"index": 0, "photos": 2, "size": 2}] * 2 + \
      [{"index": 1, "photos": 1, "size": 2}, {"index": 2, "photos": 1, "size": 2}]
  compiles = [records[n]["timings"]["compile"] for n in GOOD]
  assert compiles[0] == compiles[1] > 0 and compiles[2:] == [0.0, 0.0]
  assert all(len(r["kept"]) >= 1 and r["num_superpixels"] >= 2 for r in records.values())
  # Overlays: the 3000 x 2000 photo is drawn with its longest side at 1024; smaller photos are not enlarged.
  assert Image.open(out / "c_big_overlay.png").size == (1024, 683)
  assert Image.open(out / "a_cat_overlay.png").size == (451, 300)
  assert records["c_big.jpg"]["options"]["overlay_longest_side"] == 1024
  assert len(records["a_cat.jpg"]["image"]["sha256"]) == 64
  assert not list(out.glob(".evojax-lime-*"))  # no staging folder left behind


def test_summary_csv_and_json(run):
  _, folder, out, result = run
  names = [str(folder / n) for n in ("a_cat.jpg", "b_astro.png", "c_big.jpg", "d_truncated.jpg", HOSTILE)]
  with open(out / "summary.csv", newline="") as f:
    rows = list(csv.DictReader(f))
  assert [r["name"] for r in rows] == names
  assert list(rows[0]) == ["name", "class", "class_id", "p_before", "p_after", "kept", "superpixels",
                           "insertion_auc", "deletion_auc", "size_auc", "sanity", "robustness", "stability",
                           "seconds", "resumed", "error"]
  assert rows[0]["stability"] == ""  # one run per photo: no stability to report
  cat = _record(out, "a_cat")
  for name in ("insertion_auc", "deletion_auc", "size_auc"):  # computed by default; sanity, robustness on request
    assert float(rows[0][name]) == pytest.approx(cat["scores"][name]) and 0 <= cat["scores"][name] <= 1
  assert rows[0]["sanity"] == rows[0]["robustness"] == "" and cat["scores"]["sanity"] is None
  assert rows[0]["class"] == cat["target"]["name"] and int(rows[0]["class_id"]) == cat["target"]["id"]
  assert float(rows[0]["p_before"]) == pytest.approx(cat["original_probability"])
  assert float(rows[0]["p_after"]) == pytest.approx(cat["explanation_probability"])
  assert int(rows[0]["kept"]) == len(cat["kept"]) and int(rows[0]["superpixels"]) == cat["num_superpixels"]
  assert float(rows[0]["seconds"]) == pytest.approx(cat["timings"]["wall"])
  assert rows[3]["error"].endswith("truncated") and rows[3]["p_before"] == "" and rows[0]["error"] == ""
  summary = json.loads((out / "summary.json").read_text())["photos"]
  assert [r["name"] for r in summary] == names
  assert summary[3]["p_after"] is None and "truncated" in summary[3]["error"]
  assert summary[0]["p_after"] == pytest.approx(cat["explanation_probability"]) and summary[0]["error"] is None


class _Report(html.parser.HTMLParser):
  """Collects the photo table's cells (text and data-v) and images, the page's scripts, every link, and the
  detail sections."""

  def __init__(self):
    super().__init__()
    self.rows, self.headers, self.scripts, self.links, self.sections = [], [], 0, [], []
    self._cell, self._in_table = None, False

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if tag == "table" and attrs.get("id") == "photos":
      self._in_table = True
    elif tag == "section":
      self.sections.append(attrs)
    elif tag == "script":
      self.scripts += 1
    for key in ("src", "href"):
      if key in attrs and not attrs[key].startswith("data:"):
        self.links.append(attrs[key])
    if not self._in_table:
      return
    if tag == "tr":
      self.rows.append([])
    elif tag in ("td", "th"):
      self._cell = {"text": "", "v": attrs.get("data-v"), "img": None, "tag": tag, "href": None}
    elif tag == "img":
      self._cell["img"] = attrs["src"]
    elif tag == "a":
      self._cell["href"] = attrs["href"]

  def handle_data(self, text):
    if self._cell is not None:
      self._cell["text"] += text

  def handle_endtag(self, tag):
    if tag == "table":
      self._in_table = False
    elif tag in ("td", "th") and self._cell is not None:
      (self.headers if self._cell["tag"] == "th" else self.rows[-1]).append(self._cell)
      self._cell = None


def test_html_report(run):
  _, folder, out, _ = run
  page = _Report()
  page.feed((out / "index.html").read_text())
  records = {name: _record(out, _stem(name)) for name in GOOD}
  scores = [n for n in LEGEND if n != "stability" and any(r["scores"].get(n) is not None for r in records.values())]
  assert "size_auc" in scores
  headers = [h["text"] for h in page.headers]
  assert headers == ["overlay", "photo", "class", "p before", "p after", "kept / K", "stability"] + \
      [LEGEND[n][0] for n in scores] + ["seconds", "compile s", "evolve s", "write s", "note"]
  col = {h: i for i, h in enumerate(headers)}
  rows = [r for r in page.rows if r]  # the header row holds th cells only
  assert [r[1]["text"] for r in rows] == [str(folder / n) for n in ("a_cat.jpg", "b_astro.png", "c_big.jpg",
                                                                    "d_truncated.jpg", HOSTILE)]
  assert page.scripts == 1  # the hostile name did not become markup
  # Nothing from outside: links are this page's fragments or the photos' own files in the folder.
  assert page.links and all(link.startswith("#") or (out / urllib.parse.unquote(link)).is_file()
                            for link in page.links), page.links
  for row, name in zip(rows[:3] + rows[4:], ("a_cat", "b_astro", "c_big", _stem(HOSTILE))):
    rec = _record(out, name)
    assert row[0]["img"].startswith("data:image/jpeg;base64,")
    assert row[2]["text"] == f"{rec['target']['name']} ({rec['target']['id']})"
    assert float(row[col["p before"]]["v"]) == pytest.approx(rec["original_probability"])
    assert row[col["p after"]]["text"] == f"{rec['explanation_probability']:.3f}"
    assert row[col["kept / K"]]["text"] == f"{len(rec['kept'])} / {rec['num_superpixels']}"
    assert row[col["stability"]]["text"] == "-"  # no stability in these records
    for score in scores:
      value = rec["scores"].get(score)
      assert row[col[LEGEND[score][0]]]["text"] == ("-" if value is None else f"{value:.3f}")
    assert float(row[col["compile s"]]["v"]) == pytest.approx(rec["timings"]["compile"])
    assert float(row[col["write s"]]["v"]) == pytest.approx(rec["timings"]["write"]) and rec["timings"]["write"] > 0
    # The name opens the photo's detail view, which shows its overlay and its best masks by size.
    assert row[1]["href"].startswith("#photo-")
    assert {"id": row[1]["href"][1:], "class": "detail"} in [{k: s.get(k) for k in ("id", "class")}
                                                             for s in page.sections]
    assert {rec["files"]["overlay"], rec["files"]["sizes"]} <= {urllib.parse.unquote(link) for link in page.links}
  assert rows[3][0]["img"] is None and "truncated" in rows[3][-1]["text"] and rows[3][1]["href"] is None
  assert len(page.sections) == 4


def test_resume_skips_done_photos_and_redoes_changed_ones(run, tmp_path):
  root, folder, first, _ = run
  out = tmp_path / "out"
  shutil.copytree(first, out)
  # An earlier run of b_astro with another seed: its record does not match this run's options.
  record = json.loads((out / "b_astro.json").read_text())
  record["options"]["seed"] = 99
  (out / "b_astro.json").write_text(json.dumps(record))
  list_as_written(out, "b_astro.json")  # as that earlier run listed it: the tool's own, to be replaced
  extra = tmp_path / "more"
  extra.mkdir()
  Image.fromarray(data.coffee()).resize((200, 150)).save(extra / "new.jpg")
  before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
  cache = root / "cache"

  result = cli("explain", folder, extra / "new.jpg", *FAST, "--batch-size", "2", "--out", out, "--resume",
               "--cache-dir", cache, cwd=tmp_path)
  assert result.returncode == 1  # the truncated photo still fails
  lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if ": " in line}
  for name in ("a_cat.jpg", "c_big.jpg", HOSTILE):
    assert "already explained" in lines[str(folder / name)]
  after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
  for stem in ("a_cat", "c_big", _stem(HOSTILE)):
    assert all(after[f"{stem}{s}"] == before[f"{stem}{s}"] for s in ("_overlay.png", ".json"))
  assert after["b_astro.json"] != before["b_astro.json"] and _record(out, "b_astro")["options"]["seed"] == 0
  new = _record(out, "new")
  # To do: b_astro, the truncated photo, new -> batches [b_astro, truncated] and [new], each topped up to 2.
  assert new["image"]["source"] == str(extra / "new.jpg") and new["batch"] == {"index": 1, "photos": 1, "size": 2}
  assert new["timings"]["compile"] == 0.0  # the program came from the cache of the first run
  resumed = json.loads((out / "summary.json").read_text())["photos"]
  assert {r["name"]: r["resumed"] for r in resumed} == {
          str(folder / "a_cat.jpg"): True, str(folder / "b_astro.png"): False, str(folder / "c_big.jpg"): True,
          str(folder / "d_truncated.jpg"): False, str(folder / HOSTILE): True, str(extra / "new.jpg"): False}

  # Full resolution is another option: the big photo is explained again, its overlay at the photo's own size.
  result = cli("explain", folder / "c_big.jpg", extra / "new.jpg", *FAST, "--out", out, "--resume",
               "--full-resolution", "--cache-dir", cache, cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  assert "already explained" not in result.stdout
  assert Image.open(out / "c_big_overlay.png").size == (3000, 2000)
  assert _record(out, "c_big")["options"]["overlay_longest_side"] is None
  assert (out / "a_cat.json").stat().st_mtime_ns == before["a_cat.json"]
