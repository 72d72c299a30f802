"""The HTML report without a browser: what a photo's detail view reads from its record (validated, whatever the
record holds), the score columns and their legend, the detail sections, the inline charts and the picture of the
best masks by size. The same page in a real browser is tested in test_report_browser."""
import dataclasses
import html.parser
import json
import math
import os
import re

import numpy as np
import pytest
from PIL import Image

from evojax_lime.cli import detail, html_report, report
from evojax_lime.cli.svg_chart import MAX_DRAWN, Series, line_chart, value_range
from evojax_lime.config import ELimeConfig
from evojax_lime.explanation import Explanation
from evojax_lime.render import save_sizes, size_panels
from evojax_lime.scores import LEGEND, legend_line

SCRIPT = "<script>alert(1)</script>"
K = 12


def good_record(**changes):
  """A record as the tool writes it, with the fields the report reads."""
  record = {
      "target": {"id": 281, "name": "tabby"}, "original_probability": 0.6, "explanation_probability": 0.8,
      "num_superpixels": K, "kept": [{"id": 1, "importance": 0.9}, {"id": 4, "importance": 0.5}],
      "timings": {"wall": 1.5, "compile": 1.0, "evolve": 0.4, "write": 0.1},
      "top5": [{"id": 281, "name": "tabby", "probability": 0.6}, {"id": 282, "name": "tiger cat", "probability": 0.2}],
      "fitness_history": {"best": [0.1, 0.5, 0.7], "mean": [0.0, 0.3, None]},
      "scores": {"insertion_auc": 0.7, "deletion_auc": 0.2, "size_auc": 0.65, "stability": None},
      "size_probabilities": [None, 0.3, 0.5, 0.8] + [None] * (K - 3),
      "best_of_size": {"3": {"selected": [1, 4], "probability": 0.8}, "5": {"selected": [1, 4], "probability": 0.8},
                       "10": {"selected": [1, 4], "probability": 0.8}},
      "faithfulness": {"ranking": list(range(K)), "shown": [0, 4, 8, 12], "insertion": [0.1, 0.5, 0.6, 0.6],
                       "deletion": [0.6, 0.3, None, 0.1]},
      "files": {"overlay": "cat_overlay.png", "sizes": "cat_sizes.png", "fitness": "cat_fitness.png",
                "record": "cat.json"},
  }
  record.update(changes)
  return record


class Page(html.parser.HTMLParser):
  """Every tag with its attributes, the text by enclosing section, and whether the markup is balanced."""

  VOID = {"img", "meta", "br", "hr", "input", "link", "col", "circle", "rect", "line", "polyline", "path"}

  def __init__(self, text):
    super().__init__()
    self.tags, self.open, self.text, self.unbalanced = [], [], [], []
    self.feed(text)
    self.close()

  def handle_starttag(self, tag, attrs):
    self.tags.append((tag, dict(attrs)))
    if tag not in self.VOID:
      self.open.append(tag)

  def handle_startendtag(self, tag, attrs):
    self.tags.append((tag, dict(attrs)))

  def handle_endtag(self, tag):
    if not self.open or self.open[-1] != tag:
      self.unbalanced.append(tag)
    else:
      self.open.pop()

  def handle_data(self, data):
    self.text.append(data)

  def attrs(self, tag):
    return [a for t, a in self.tags if t == tag]


def check_page(text):
  """The page parses balanced, runs one script of its own and links nothing outside its folder."""
  page = Page(text)
  assert page.unbalanced == [] and page.open == []
  assert len(page.attrs("script")) == 1 and text.count("<script>") == 1  # escaped everywhere else
  for attrs in page.tags:
    for key in ("src", "href"):
      link = attrs[1].get(key)
      if link is not None:
        # Data URIs, fragments of this page, or one percent-encoded file name of the folder: no scheme, no path.
        assert link.startswith(("data:image/jpeg;base64,", "#")) or (
            "/" not in link and ":" not in link and link == link.strip()), link
  return page


# from_record


def test_a_good_record_fills_the_detail():
  d = report.from_record("cat.png", good_record()).detail
  assert list(d["scores"]) == ["insertion_auc", "deletion_auc", "size_auc", "stability"]  # LEGEND order
  assert d["scores"]["stability"] is None and d["scores"]["size_auc"] == 0.65
  assert d["size_probabilities"][:4] == [None, 0.3, 0.5, 0.8] and len(d["size_probabilities"]) == K + 1
  assert d["best_of_size"] == [(3, 2, 0.8), (5, 2, 0.8), (10, 2, 0.8)]
  assert d["fitness"] == {"best": [0.1, 0.5, 0.7], "mean": [0.0, 0.3, None]}
  assert d["faithfulness"] == {"shown": [0, 4, 8, 12], "insertion": [0.1, 0.5, 0.6, 0.6],
                               "deletion": [0.6, 0.3, None, 0.1], "num_superpixels": K}
  assert d["top5"] == [(281, "tabby", 0.6), (282, "tiger cat", 0.2)]
  assert d["files"] == {"overlay": "cat_overlay.png", "sizes": "cat_sizes.png", "fitness": "cat_fitness.png"}


def test_an_old_record_has_an_empty_detail():
  old = {k: v for k, v in good_record().items() if k not in ("scores", "size_probabilities", "best_of_size",
                                                                "faithfulness", "top5", "fitness_history", "files")}
  assert report.from_record("cat.png", old).detail == {}
  assert report.from_record("cat.png", {}).detail == {}


def test_a_pareto_record_draws_its_front_curve():
  front = {"best_probability_by_size": [None, 0.4, 0.9]}
  d = report.from_record("cat.png", good_record(size_probabilities=None, front=front)).detail
  assert d["size_probabilities"] == [None, 0.4, 0.9]


HUGE = list(range(detail.MAX_POINTS + 1))
JUNK = [None, True, 3, 10 ** 400, float("nan"), float("inf"), -1, "0.5", SCRIPT, [], {}, [SCRIPT], {SCRIPT: SCRIPT},
        [[1]], HUGE]
FIELDS = ("scores", "size_probabilities", "best_of_size", "faithfulness", "top5", "fitness_history", "files",
          "target", "timings", "original_probability", "stability", "num_superpixels", "kept", "front")


@pytest.mark.parametrize("field", FIELDS)
def test_any_junk_in_any_field_is_left_out_never_raised(field):
  for junk in JUNK:
    outcome = report.from_record(SCRIPT, good_record(**{field: junk}))
    check_page(html_report.page([outcome], title=SCRIPT, subtitle=SCRIPT))


def test_junk_inside_the_fields_is_left_out():
  record = good_record(
      scores={"insertion_auc": float("nan"), "deletion_auc": 10 ** 400, "size_auc": "0.5", SCRIPT: 0.5,
              "stability": True},
      size_probabilities=[SCRIPT, float("inf"), 0.5, [0.1]],
      best_of_size={"3": {"selected": [1], "probability": float("nan")}, "x": {"selected": [], "probability": 0.1},
                    "5": {"selected": "1", "probability": 0.2}, "-1": {"selected": [], "probability": 0.2},
                    "4": {"selected": [1, 2, 3, 4, 5], "probability": 0.3},
                    "10": {"selected": [2], "probability": 0.4}},
      faithfulness={"ranking": list(range(4)), "shown": [0, 2, 5], "insertion": [0, 1, 1], "deletion": [1, 0, 0]},
      top5=[{"id": -1, "name": "x", "probability": 0.1}, {"id": 1, "name": 5, "probability": 0.1},
            {"id": 2, "name": SCRIPT * 400, "probability": 0.1}, "junk", {"id": True, "name": "t", "probability": 1}],
      fitness_history={"best": HUGE, "mean": [float("nan"), 1]},
      files={"overlay": "../cat_overlay.png", "sizes": "javascript:alert(1)//_sizes.png", "strip": "/x_strip.png",
             "front": "a\x00_front.png", "fitness": "cat_fitness.jpg", SCRIPT: "x_overlay.png"},
  )
  d = report.from_record("cat.png", record).detail
  assert d["scores"] == {"insertion_auc": None, "deletion_auc": None, "size_auc": None, "stability": None}
  assert d["size_probabilities"] == [None, None, 0.5, None]
  assert d["best_of_size"] == [(10, 1, 0.4)]  # more selected than k, non-numeric keys, NaN: left out
  assert "faithfulness" not in d  # shows 5 of 4 superpixels
  assert d["top5"] == [(2, (SCRIPT * 400)[:detail.MAX_TEXT], 0.1)]
  assert d["fitness"] == {"mean": [None, 1.0]}
  assert "files" not in d
  assert report.from_record("cat.png", record).timings == {"wall": 1.5, "compile": 1.0, "evolve": 0.4, "write": 0.1}


def test_a_hostile_record_makes_a_valid_escaped_page(tmp_path):
  name = f'x"><img src=x onerror=alert(1)>{SCRIPT}.png'
  record = good_record(target={"id": 3, "name": SCRIPT}, top5=[{"id": 3, "name": SCRIPT, "probability": 0.5}],
                       stability=10 ** 400, timings={"wall": 10 ** 400, "compile": float("nan"), "evolve": "1"},
                       original_probability=10 ** 400,
                       files={"overlay": 'q"><script>_overlay.png', "sizes": "a#b?c%d:e_sizes.png"})
  outcomes = [report.from_record(name, record), report.Outcome(name=SCRIPT, error=SCRIPT)]
  text = html_report.page(outcomes, title=SCRIPT, subtitle=SCRIPT)
  page = check_page(text)
  assert SCRIPT not in text and name not in text and html_report._esc(name) in text
  srcs = [a["src"] for a in page.attrs("img") if not a["src"].startswith("data:")]
  assert srcs == ["q%22%3E%3Cscript%3E_overlay.png", "a%23b%3Fc%25d%3Ae_sizes.png"]
  assert "".join(page.text).count(SCRIPT) >= 4  # shown as text: title, subtitle, class, top-5, error


def test_control_characters_in_names_never_reach_the_page_raw(tmp_path):
  # ESC and BEL from a file name (and an error naming it) are shown as their escapes, as on the terminal.
  name = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07\u202e.png"
  record = good_record(files={"overlay": f"{name[:-4]}_overlay.png"})
  outcomes = [report.from_record(name, record), report.Outcome(name=name, error=f"{name}: not an image")]
  text = html_report.page(outcomes, title=name, subtitle=name)
  check_page(text)
  assert not any(c in text for c in "\x1b\x07\u202e")
  assert "\\x1b[31mRED\\x1b[0m\\x1b]0;pwned\\x07\\u202e.png" in text
  assert "%1B%5B31mRED%1B%5B0m%1B%5D0%3Bpwned%07%E2%80%AE_overlay.png" in text  # the file, linked by its name


# The page: score columns, legend, detail sections


def _headers(page):
  return [(a.get("class", ""), a.get("title")) for a in page.attrs("th")]


def test_score_columns_follow_the_legend_and_only_the_scores_present():
  scored = report.from_record("a.png", good_record(scores={"size_auc": 0.5, "deletion_auc": None,
                                                           "insertion_auc": 0.25}))
  unscored = report.from_record("b.png", good_record(scores={"deletion_auc": None}))
  failed = report.Outcome(name="c.png", error="c.png: cannot be read")
  text = html_report.page([scored, unscored, failed], title="t", subtitle="s")
  page = check_page(text)
  table = text[text.index('<table id="photos">'):text.index("</table>")]
  labels = [h for h in Page(table).attrs("th")]
  score_headers = [a["title"] for a in labels if a.get("class") == "s"]
  assert score_headers == [legend_line("insertion_auc"), legend_line("size_auc")]  # deletion: no value anywhere
  assert '<colgroup class="scores" span="2">' in table
  rows = table.split("<tr")[2:]
  assert all(row.count("<td") == len(labels) for row in rows)  # the failed row has every cell too
  assert 'data-v="0.25"' in rows[0] and 'data-v="0.5"' in rows[0]
  legend = text[text.index('<ul class="legend">'):]
  assert legend.index(html.escape(legend_line("insertion_auc"))) < legend.index(html.escape(legend_line("size_auc")))
  assert legend_line("stability") not in legend  # no photo has a stability
  assert [a["href"] for a in page.attrs("a") if a["href"].startswith("#photo-")][:2] == ["#photo-0", "#photo-1"]
  assert [a["id"] for a in page.attrs("section")] == ["photo-0", "photo-1"]  # the failed photo has none
  assert 'href="#photo-2"' not in text


def test_stability_is_its_own_column_with_its_legend():
  outcome = report.from_record("a.png", good_record(stability=0.75, scores={"stability": 0.75}))
  text = html_report.page([outcome], title="t", subtitle="s")
  line = html.escape(legend_line("stability"))
  assert f'title="{line}"' in text and line in text.split("</table>")[1]
  assert text.count(">stability<") == 1  # not again among the score columns
  assert "<dt>stability: 0.750</dt>" in text


def test_a_detail_shows_pictures_curves_classes_and_scores(tmp_path):
  for name in ("cat_overlay.png", "cat_sizes.png"):
    Image.new("RGB", (8, 8)).save(tmp_path / name)
  os.symlink(tmp_path / "cat_overlay.png", tmp_path / "dog_overlay.png")
  cat = report.from_record("cat.png", good_record())
  dog = report.from_record("dog.png", good_record(files={"overlay": "dog_overlay.png", "sizes": "dog_sizes.png"}))
  text = html_report.page([cat, dog], title="t", subtitle="s", pictures=html_report.pictures_in(tmp_path))
  cat_view, dog_view = text.split('<section class="detail"')[1:]
  assert 'src="cat_overlay.png"' in cat_view and 'src="cat_sizes.png"' in cat_view
  assert "<img" not in dog_view  # a link and a missing file: left out, not shown broken
  assert "at most 3: 2 kept, p 0.800" in dog_view  # without its picture, the best masks as text
  assert cat_view.count("<svg") == 3  # p by size, fitness, insertion and deletion
  assert "insertion (AUC 0.700)" in cat_view and "deletion (AUC 0.200)" in cat_view
  assert "<b>tabby (281)</b>" in cat_view and "tiger cat (282)" in cat_view
  for name in ("insertion_auc", "deletion_auc", "size_auc"):
    label, meaning, better = LEGEND[name]
    assert f"<dd>{meaning} ({better} is better)</dd>" in cat_view.replace("&#x27;", "'")
  assert 'href="#row-0"' in cat_view and 'href="#photo-1"' in cat_view  # back to its row; on to the next
  assert 'href="#photo-0"' in dog_view
  own = html_report.pictures_in(tmp_path, own=lambda path: path.name == "cat_sizes.png")
  assert not own("cat_overlay.png") and own("cat_sizes.png")


def test_a_photo_without_a_detail_record_still_has_its_view():
  outcome = report.Outcome(name="a.png", class_name="tabby", class_id=281, original=0.5, explanation=0.6, kept=2,
                           superpixels=10)
  text = html_report.page([outcome], title="t", subtitle="s")
  check_page(text)
  assert 'id="photo-0"' in text and "The record holds nothing more than the table shows." in text


# Charts


def _points(svg):
  page = Page(svg)
  return ([a["points"] for a in page.attrs("polyline")], page.attrs("circle"))


def test_chart_breaks_lines_at_gaps_and_marks_lone_points():
  svg = line_chart([Series("a", "#f00", [(0, 0.0), (1, 1.0), (2, None), (3, 0.5), (4, None), (5, 0.2), (6, 0.3)])],
                   title="t <b>", x_label="x", y_label="y", x_range=(0, 6), y_range=(0, 1))
  lines, dots = _points(svg)
  assert len(lines) == 2 and len(lines[0].split()) == 2 and len(dots) == 1  # (3, 0.5) alone
  assert "t <b>" not in svg and "t &lt;b&gt;" in svg


def test_chart_clips_thins_and_survives_flat_or_empty_ranges():
  many = [(i, math.sin(i)) for i in range(5 * MAX_DRAWN + 3)]
  svg = line_chart([Series("a", "#f00", many), Series("b", "#00f", [(0, 5.0), (1, -5.0)], dashed=True)],
                   title="t", x_label="x", y_label="y", x_range=(0, 0), y_range=(1, 1))
  (thin, clipped), _ = _points(svg)
  assert MAX_DRAWN // 2 < len(thin.split()) <= MAX_DRAWN + 1
  assert "nan" not in svg.lower() and "inf" not in svg.lower()
  assert value_range([None, 2.0, 2.0]) == (1.5, 2.5) and value_range([None]) is None
  assert value_range([1e308, -1e308]) is None  # no chart rather than NaN coordinates
  extreme = report.from_record("a.png", good_record(fitness_history={"best": [1e308, -1e308], "mean": [0, 1]},
                                                    original_probability=1e308))
  text = html_report.page([extreme], title="t", subtitle="s")
  assert not re.search(r"\b(nan|inf)\b", text.split("<script>")[0].lower())


# The picture of the best masks by size


def _explanation():
  labels = np.repeat(np.arange(K), 4).reshape(6, 8).astype(np.int32)
  probabilities = np.full(K + 1, np.nan)
  probabilities[[1, 2, 4]] = [0.3, 0.6, 0.5]
  genomes = np.zeros((K + 1, K), bool)
  genomes[1, 0], genomes[2, [0, 1]], genomes[4, :4] = True, True, True
  return Explanation(image=np.ones((6, 8, 3), np.float32), labels=labels, fill=np.zeros((6, 8, 3), np.float32),
                     genome=genomes[2].copy(), importance=np.zeros(K, np.float32), target=1, original_probability=0.7,
                     explanation_probability=0.6, best_fitness=0.5, fitness_history=np.zeros(2),
                     mean_fitness_history=np.zeros(2), generations_run=1, num_evaluations=8, segmentation_time=0.0,
                     compile_time=0.0, evolve_time=0.0, wall_time=0.0, config=ELimeConfig(), seed=0,
                     size_probabilities=probabilities, size_genomes=genomes)


def test_sizes_picture_shows_the_best_mask_of_at_most_k(tmp_path):
  exp = _explanation()
  best = {"5": {"selected": [0, 1], "probability": 0.6}, "3": {"selected": [0, 1], "probability": 0.6}}
  panels = size_panels(exp, best)
  assert [caption for _, caption in panels] == ["k=2 (of at most 3)  p=0.60", "k=2 (of at most 5)  p=0.60"]
  image = panels[0][0]
  assert image.shape == (6, 8, 3) and image[0, :8].min() == 1 and image[1:].max() == 0  # superpixels 0, 1 only
  save_sizes(exp, best, tmp_path / "x_sizes.png")
  assert Image.open(tmp_path / "x_sizes.png").format == "PNG"


def test_records_best_of_size_draws_as_the_report_reads_it(tmp_path):
  from evojax_lime.cli import record

  exp = _explanation()
  best = record.best_of_sizes(exp)
  assert best == {"3": {"selected": [0, 1], "probability": 0.6}, "5": {"selected": [0, 1], "probability": 0.6},
                  "10": {"selected": [0, 1], "probability": 0.6}}
  assert detail.from_record(json.loads(json.dumps({"best_of_size": best})))["best_of_size"] == [
      (3, 2, 0.6), (5, 2, 0.6), (10, 2, 0.6)]
  no_curve = dataclasses.replace(exp, size_probabilities=None)
  assert record.best_of_sizes(no_curve) == {}  # a front's point: no picture, its strip instead
