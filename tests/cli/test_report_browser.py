"""``index.html`` in a real browser (Debian's ``chromium``, headless, driven by playwright), opened from disk as a
person would: every picture loads, a header click sorts the table both ways, a photo's name opens its detail view
and Escape closes it, and the page logs no error or warning, raises nothing and asks for nothing outside its folder.

The folder holds two photos written by the command line's own pipeline (a tiny planted classifier instead of a
network, so the records, the pictures and the best masks by size are the real ones), hand-made records that fix
the order of a column, a photo with a hostile name and a hostile record, and a photo that failed.
"""
import os
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import evojax_lime as el
from evojax_lime.cli import html_report, report
from evojax_lime.cli.outputs import OutputFolder
from evojax_lime.cli.pipeline import BatchExplainer, Photo, PhotoInput

pytestmark = pytest.mark.slow  # one compile of a small search (seconds to tens of seconds on 2 cores)

CHROMIUM = "/usr/bin/chromium"
SIDE = 32  # the planted classifier's input: 64 grid superpixels, so masks of 3, 5 and 10 all exist
HOSTILE = 'x<b>"&\'.png'
SCRIPT = "<script>alert(1)</script>"
# Each explained photo in table order, with the kinds of picture its detail view shows and its number of charts
# (the pipeline's records have insertion and deletion curves; the Pareto one draws its front's curve).
PHOTOS = {"bright.png": ("overlay", "sizes", 3), "dim.png": ("overlay", "sizes", 3),
          "hand-low.png": ("overlay", "sizes", 2), "hand-high.png": ("overlay", "sizes", 2),
          "pareto.png": ("overlay", "strip", "front", 2), HOSTILE: ("overlay", 2)}


def _classifier(x):
  """Probabilities from the image's brightness."""
  m = x.mean(axis=(1, 2, 3))
  return jax.nn.softmax(jnp.stack([4 * m, 4 * (1 - m), jnp.full_like(m, 2.0)], axis=-1))


class _Model:
  name, input_size, class_names = "planted", SIDE, ("bright", "dark", "flat")

  def classifier(self):
    return _classifier

  def predict(self, images):
    return np.asarray(jax.jit(_classifier)(jnp.asarray(images)))


def _prepared(stem, value, seed):
  rng = np.random.default_rng(seed)
  image = np.clip(value + 0.2 * rng.standard_normal((SIDE, SIDE, 3)), 0, 1).astype(np.float32)
  photo = Photo(Path(f"{stem}.png"), f"{stem}.png", stem, f"{stem}.png", "0" * 64)
  display = np.asarray(Image.fromarray((image * 255).astype(np.uint8)).resize((160, 160), Image.NEAREST))
  return PhotoInput(photo, (SIDE, SIDE), display, image, el.segment(image, "grid"), 0.0, 0.0)


def _record(p_before, *, files, name="tabby"):
  """A record as the tool writes it, with its own p before (the column the test sorts by)."""
  return {"target": {"id": 281, "name": name}, "original_probability": p_before, "explanation_probability": 0.5,
          "num_superpixels": 20, "kept": [{"id": 1, "importance": 1.0}], "timings": {"wall": 1.0},
          "top5": [{"id": 281, "name": name, "probability": p_before}],
          "fitness_history": {"best": [0.1, 0.4, None, 0.5], "mean": [0.0, 0.2, 0.3, 0.3]},
          "scores": {"size_auc": p_before / 2, "insertion_auc": None},
          "size_probabilities": [None, 0.2, None, 0.5] + [None] * 17, "files": files}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  """The report's folder: real pipeline outputs, hand-made ones, a hostile one and a failed photo."""
  root = tmp_path_factory.mktemp("report")
  config = el.ELimeConfig(population_size=8, generations=2, segmentation="grid", fill="black", chunk_size=8)
  explainer = BatchExplainer(model=_Model(), weights="pretrained", config=config, target=None, seed=0, options={})
  outcomes = []
  with OutputFolder(str(root / "out")) as out:
    for prep, exp, run in explainer.explain([_prepared("bright", 0.7, 1), _prepared("dim", 0.3, 2)], size=2,
                                            index=0):
      outcomes.append(explainer.write(out, prep, exp, run))
  out = root / "out"
  assert all((out / f"{stem}_sizes.png").is_file() for stem in ("bright", "dim"))
  for stem, color in (("hand", (200, 80, 40)), ("hostile", (40, 80, 200))):
    Image.new("RGB", (120, 80), color).save(out / f"{stem}_overlay.png")
    shutil.copy(out / "dim_sizes.png", out / f"{stem}_sizes.png")
  hand = {"overlay": "hand_overlay.png", "sizes": "hand_sizes.png"}
  thumbnail = html_report.thumbnail_of_file(out / "hand_overlay.png")
  outcomes += [report.from_record("hand-low.png", _record(0.05, files=hand), thumbnail=thumbnail, resumed=True),
               report.from_record("hand-high.png", _record(0.95, files=hand), thumbnail=thumbnail, resumed=True)]
  # A record read back from disk naming pictures outside the folder, a script and a missing file: left out.
  hostile = _record(0.5, name=SCRIPT, files={"overlay": "hostile_overlay.png", "sizes": "missing_sizes.png",
                                             "strip": "javascript:alert(1)//_strip.png",
                                             "front": "../../etc/passwd_front.png"})
  # A front's record: its strip and plot instead of the best masks by size, its curve from the front.
  for kind in ("strip", "front"):
    Image.new("RGB", (200, 90), (90, 160, 90)).save(out / f"pareto_{kind}.png")
  pareto = {**_record(0.3, files={**hand, "sizes": None, "strip": "pareto_strip.png", "front": "pareto_front.png"}),
            "size_probabilities": None, "front": {"best_probability_by_size": [None, 0.1, 0.6, 0.7]}}
  outcomes.append(report.from_record("pareto.png", pareto, thumbnail=thumbnail, resumed=True))
  outcomes.append(report.from_record(HOSTILE, hostile, thumbnail=html_report.thumbnail_of_file(
      out / "hostile_overlay.png"), resumed=True))
  outcomes.append(report.Outcome(name="broken.png", error=f"broken.png: cannot be read {SCRIPT}"))
  html_report.save(outcomes, out / "index.html", title=f"report {SCRIPT}", subtitle=SCRIPT,
                   pictures=html_report.pictures_in(out))
  return out


@pytest.fixture(scope="module")
def browser():
  """Chromium under playwright; a missing browser or driver fails (CI installs both, see .ci/run)."""
  try:
    from playwright.sync_api import sync_playwright
  except ImportError as err:
    pytest.fail(f"playwright is not installed ({err}): python3 -m pip install -e '.[test]'")
  if not os.access(CHROMIUM, os.X_OK):
    pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the report's browser test needs it)")
  with sync_playwright() as playwright:
    try:
      chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    except Exception as err:
      pytest.fail(f"{CHROMIUM} does not start headless: {err}")
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser, folder):
  """The report opened from disk, with every console message, page error, dialog and request recorded; after the
  test, nothing may have been logged or asked for outside the folder."""
  context = browser.new_context(viewport={"width": 1280, "height": 800})
  tab = context.new_page()
  events = []
  inside = ("data:", folder.as_uri() + "/")

  def request(r):
    if not r.url.startswith(inside):
      events.append(f"request outside the folder: {r.url}")

  tab.on("console", lambda m: events.append(f"console {m.type}: {m.text}"))
  tab.on("pageerror", lambda e: events.append(f"page error: {e}"))
  tab.on("dialog", lambda d: (events.append(f"dialog: {d.message}"), d.dismiss()))
  tab.on("requestfailed", lambda r: events.append(f"request failed: {r.url}"))
  tab.on("request", request)
  tab.goto((folder / "index.html").as_uri())
  yield tab
  tab.wait_for_timeout(100)  # a late message still counts
  context.close()
  assert [e for e in events if not e.startswith(("console log", "console info", "console debug"))] == []


def _loaded(tab, selector):
  """``(src, naturalWidth)`` of every image matched, once each has finished loading (or failing)."""
  tab.wait_for_function(f"[...document.querySelectorAll({selector!r})].every(i => i.complete)")
  return tab.eval_on_selector_all(selector, "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth])")


def _column(tab, header):
  """The data-v sort keys of the column whose header reads ``header``, top to bottom."""
  return tab.evaluate("""header => {
    const col = [...document.querySelectorAll("#photos thead th")].findIndex(th => th.textContent === header);
    return [...document.querySelector("#photos").tBodies[0].rows].map(r => r.cells[col].dataset.v);
  }""", header)


def test_thumbnails_load_and_nothing_hostile_runs(page):
  thumbnails = _loaded(page, "#photos img")
  assert len(thumbnails) == len(PHOTOS) and all(width > 0 for _, width in thumbnails)  # none for the failed one
  assert page.title() == f"report {SCRIPT}"
  names = page.eval_on_selector_all("#photos tbody tr td:nth-child(2)", "cells => cells.map(c => c.textContent)")
  assert names == [*PHOTOS, "broken.png"]
  assert page.locator("section.detail").count() == len(PHOTOS)
  assert not page.locator("section.detail").first.is_visible()


def test_clicking_a_header_sorts_both_ways(page):
  for header in ("p before", "size AUC"):
    page.click(f"#photos th:text-is('{header}')")
    up = _column(page, header)
    numbers = [float(v) for v in up if v != ""]
    assert numbers == sorted(numbers) and len(numbers) == len(PHOTOS) and up[-1] == ""  # unknown values last
    page.click(f"#photos th:text-is('{header}')")
    down = _column(page, header)
    assert [float(v) for v in down if v != ""] == sorted(numbers, reverse=True) and down[-1] == ""
    assert page.get_attribute(f"#photos th:text-is('{header}')", "aria-sort") == "descending"
    if header == "p before":  # the rows moved, not only the one column
      assert _column(page, "photo")[:1] == ["hand-high.png"]


def test_every_detail_opens_with_its_pictures_and_closes(page):
  links = page.eval_on_selector_all("#photos a", "links => links.map(a => a.getAttribute('href'))")
  assert len(links) == len(PHOTOS)  # the failed photo has no detail view
  for href in links:
    row = page.locator(f"#photos a[href='{href}']")
    name = row.inner_text()
    row.click()
    view = page.locator(f"section{href}")
    view.wait_for(state="visible", timeout=5000)
    assert page.evaluate("location.hash") == href
    assert view.locator("h2").inner_text() == name  # the hostile name is shown as written, never as markup
    pictures = _loaded(page, f"section{href} img")
    assert pictures and all(width > 0 for _, width in pictures), pictures
    *kinds, charts = PHOTOS[name]
    assert [src.rsplit("_", 1)[-1] for src, _ in pictures] == [f"{kind}.png" for kind in kinds]
    assert view.locator("svg").count() == charts
    if name == HOSTILE:  # the record's outside, scripted and missing pictures are left out; its class is text
      assert [src for src, _ in pictures] == ["hostile_overlay.png"] and SCRIPT in view.inner_text()
    page.keyboard.press("Escape")
    view.wait_for(state="hidden", timeout=5000)
    assert page.evaluate("location.hash") == href.replace("photo", "row")
  page.click(f"#photos a[href='{links[0]}']")
  page.click(f"section{links[0]} >> text=next photo")
  page.locator(f"section{links[1]}").wait_for(state="visible", timeout=5000)
  assert not page.locator(f"section{links[0]}").is_visible()
  page.click(f"section{links[1]} >> text=all photos")
  page.locator(f"section{links[1]}").wait_for(state="hidden", timeout=5000)
  assert page.evaluate("location.hash") == links[1].replace("photo", "row")
