"""The default command's photo: skimage's chelsea, read from the file scikit-image ships (cli/images.py)."""
import numpy as np
import skimage
from PIL import Image
from skimage import data

from evojax_lime.cli import images


def test_the_shipped_file_gives_skimages_chelsea(tmp_path):
  expected = data.chelsea()
  got = images.chelsea()
  assert got.dtype == np.uint8 and got.shape == (300, 451, 3)
  np.testing.assert_array_equal(got, expected)
  path = images.bundled_photo(tmp_path)
  assert path == tmp_path / "chelsea.jpg"
  with Image.open(path) as jpeg:
    assert jpeg.format == "JPEG" and jpeg.size == (451, 300)


def test_without_the_shipped_file_skimage_data_reads_it(tmp_path, monkeypatch):
  monkeypatch.setattr(skimage, "__file__", str(tmp_path / "skimage" / "__init__.py"))  # no data/chelsea.png there
  np.testing.assert_array_equal(images.chelsea(), data.chelsea())
