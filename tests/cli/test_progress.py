"""The progress hook: reports arrive from the compiled loop without changing the result; the bar draws them."""
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.cli.progress import ProgressBar, progress_bar


@pytest.fixture(scope="module")
def problem():
  rng = np.random.default_rng(0)
  image = rng.random((24, 24, 3)).astype(np.float32)
  weights = jnp.asarray(rng.normal(size=(24 * 24 * 3, 4)).astype(np.float32))
  return image, lambda x: jax.nn.softmax(x.reshape(x.shape[0], -1) @ weights)


@pytest.mark.parametrize("patience", [None, 3])
def test_progress_reports_generations_and_changes_nothing(problem, patience):
  image, classifier = problem
  config = el.ELimeConfig(population_size=8, generations=90, segmentation="grid", patience=patience, fill="black")
  reports = []
  with_bar = el.explain(image, classifier, config=config, progress=lambda g, b: reports.append((g, b)))
  plain = el.explain(image, classifier, config=config)
  np.testing.assert_array_equal(with_bar.genome, plain.genome)
  np.testing.assert_array_equal(with_bar.fitness_history, plain.fitness_history)
  gens = [g for g, _ in reports]
  assert gens[0] == 0 and gens == sorted(gens)
  assert len(reports) <= 30  # about 20 reports whatever the number of generations, not one per generation
  if patience is None:
    assert gens[-1] == 90 and reports[-1][1] == pytest.approx(plain.best_fitness)
  else:
    assert gens[-1] <= plain.generations_run


class _Terminal(io.StringIO):
  def isatty(self):
    return True


def test_bar_draws_on_terminals_only_and_never_backwards():
  assert progress_bar("x", 10, quiet=False, stream=io.StringIO()) is None  # a pipe or file: no bar
  assert progress_bar("x", 10, quiet=True, stream=_Terminal()) is None
  term = _Terminal()
  bar = ProgressBar("cat.jpg", 10, stream=term)
  assert "compiling" in term.getvalue()
  bar(10, 0.9)
  bar(4, 0.5)  # a late report
  assert "[############################] 10/10" in term.getvalue() and "4/10" not in term.getvalue()
  bar.close()
  assert term.getvalue().endswith("\r\x1b[2K")


def test_photos_bar_counts_photos_and_takes_generation_reports():
  from evojax_lime.cli.progress import PhotosBar, photos_bar

  assert photos_bar(4, batches=2, generations=10, quiet=False, stream=io.StringIO()) is None
  term = _Terminal()
  bar = PhotosBar(4, batches=2, generations=10, stream=term, width=8)
  bar.batch(0, 2)
  assert "[........] 0/4 photos  batch 1/2: 2 photos evolving" in term.getvalue()
  bar.generation(5, 0.7)  # half of a batch of 2 photos: one photo's worth of the bar
  assert "[##......] 0/4 photos" in term.getvalue()
  bar.photos_done(2)
  bar.batch(1, 2)
  assert "[####....] 2/4 photos  batch 2/2" in term.getvalue()
  bar.close()
  assert term.getvalue().endswith("\r\x1b[2K")
