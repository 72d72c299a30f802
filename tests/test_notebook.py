"""An Explanation in a notebook: ``_repr_png_`` / ``_repr_html_`` show the overlay with its numbers; ``plot()``."""
import base64
import html.parser
import io

import matplotlib
import numpy as np
import pytest
from PIL import Image

import evojax_lime as el
from evojax_lime import render
from evojax_lime.cli import pipeline as cli_pipeline
from tests.engine.planted import planted_problem

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def explanation():
  image, labels, clf = planted_problem((0, 5, 6, 9, 15))
  return el.explain(image, clf, segments=labels, config=el.ELimeConfig(population_size=8, generations=3), seed=0)


def _decode(png: bytes) -> np.ndarray:
  assert png.startswith(b"\x89PNG\r\n\x1a\n")
  return np.asarray(Image.open(io.BytesIO(png)))


def test_repr_png_is_the_overlay(explanation):
  pixels = _decode(explanation._repr_png_())
  photo = np.rint(explanation.image * 255).astype(np.uint8)
  assert pixels.shape == explanation.image.shape and pixels.dtype == np.uint8
  np.testing.assert_array_equal(pixels, render.overlay(photo, explanation))
  # kept superpixels keep their pixels (away from the drawn boundaries), hidden ones are dimmed
  hidden = ~explanation.mask()
  assert pixels[hidden].mean() < 0.5 * photo[hidden].mean() + 1


class _Parser(html.parser.HTMLParser):
  def __init__(self):
    super().__init__()
    self.images, self.cells, self._cell = [], [], None

  def handle_starttag(self, tag, attrs):
    if tag == "img":
      self.images.append(dict(attrs))
    if tag in ("th", "td"):
      self._cell = ""

  def handle_data(self, data):
    if self._cell is not None:
      self._cell += data

  def handle_endtag(self, tag):
    if tag in ("th", "td"):
      self.cells.append(self._cell)
      self._cell = None


def test_repr_html_shows_overlay_and_numbers(explanation):
  parser = _Parser()
  parser.feed(explanation._repr_html_())
  assert len(parser.images) == 1
  src = parser.images[0]["src"]
  assert src.startswith("data:image/png;base64,")  # inline: no file or network needed
  pixels = _decode(base64.b64decode(src.split(",", 1)[1]))
  np.testing.assert_array_equal(pixels, _decode(explanation._repr_png_()))
  table = dict(zip(parser.cells[::2], parser.cells[1::2]))
  e = explanation
  assert table["class"] == str(e.target)
  assert table["p(class)"] == f"{e.original_probability:.3f} -> {e.explanation_probability:.3f}"
  assert table["kept / K"] == f"{len(e.selected)} / 16" + ("" if e.compact else " (no compact explanation found)")
  assert table["margin"] == f"{e.explanation_probability - e.original_probability:+.3f}"
  assert table["evaluations"] == str(e.num_evaluations) == "32"
  assert table["generations"] == "3"


def test_plot_draws_overlay_and_fitness_curve(explanation):
  fig = explanation.plot()
  left, right = fig.axes
  np.testing.assert_array_equal(left.images[0].get_array(), _decode(explanation._repr_png_()))
  assert f"{explanation.explanation_probability:.3f}" in left.get_title()
  best, mean = right.get_lines()
  np.testing.assert_allclose(best.get_ydata(), explanation.fitness_history)
  np.testing.assert_allclose(mean.get_ydata(), explanation.mean_fitness_history)
  buffer = io.BytesIO()
  fig.savefig(buffer, format="png")
  assert _decode(buffer.getvalue()).ndim == 3
  import matplotlib.pyplot as plt
  plt.close(fig)


def test_cli_draws_with_the_notebooks_renderer(explanation, tmp_path):
  assert cli_pipeline.render is render
  render.save_png(render.masked_input(explanation), tmp_path / "m.png")
  np.testing.assert_array_equal(_decode((tmp_path / "m.png").read_bytes()), render.masked_input(explanation))
