"""The photos bar: counts photos per batch and moves with the engine's generation reports (terminals only)."""
import io

from evojax_lime.cli.progress import PhotosBar, photos_bar


class _Terminal(io.StringIO):
  def isatty(self):
    return True


def test_photos_bar_counts_photos_and_takes_generation_reports():
  assert photos_bar(4, batches=2, generations=10, quiet=False, stream=io.StringIO()) is None
  assert photos_bar(4, batches=2, generations=10, quiet=True, stream=_Terminal()) is None
  term = _Terminal()
  bar = PhotosBar(4, batches=2, generations=10, stream=term, width=8)
  bar.batch(0, 2)
  assert "[........] 0/4 photos  batch 1/2: 2 photos evolving" in term.getvalue()
  bar.generation(5, 0.7)  # half of a batch of 2 photos: one photo's worth of the bar
  assert "[##......] 0/4 photos" in term.getvalue()
  bar.generation(3, 0.6)  # a late report never moves the bar back
  assert "[#.......]" not in term.getvalue()
  bar.photos_done(2)
  bar.batch(1, 2)
  assert "[####....] 2/4 photos  batch 2/2" in term.getvalue()
  bar.close()
  assert term.getvalue().endswith("\r\x1b[2K")
