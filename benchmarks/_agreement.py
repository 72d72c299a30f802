"""How alike two superpixel label maps are, and the photos the JAX segmentations are compared on."""
from __future__ import annotations

import io

import numpy as np
from scipy import ndimage

AGREEMENT_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "bundled")


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
  """Hubert-Arabie ARI of two label maps from their contingency table (as sklearn's, without sklearn)."""
  _, a = np.unique(a.ravel(), return_inverse=True)
  _, b = np.unique(b.ravel(), return_inverse=True)
  table = np.zeros((a.max() + 1, b.max() + 1), np.int64)
  np.add.at(table, (a, b), 1)
  pairs = lambda n: (n * (n - 1) // 2).sum()
  both, rows, cols, total = pairs(table), pairs(table.sum(1)), pairs(table.sum(0)), pairs(np.array([a.size]))
  expected = rows * cols / total
  return float((both - expected) / ((rows + cols) / 2 - expected))


def boundary_recall(reference: np.ndarray, labels: np.ndarray, tolerance: int = 2) -> float:
  """Fraction of ``reference`` boundary pixels within ``tolerance`` pixels (Chebyshev) of a ``labels`` one."""
  from skimage.segmentation import find_boundaries
  ours_near = ndimage.binary_dilation(find_boundaries(labels, mode="inner"), np.ones((2 * tolerance + 1,) * 2, bool))
  return float(ours_near[find_boundaries(reference, mode="inner")].mean())


def pieces(labels: np.ndarray) -> int:
  """Number of 4-connected pieces over all labels (equal to K when every label is one region)."""
  cross = ndimage.generate_binary_structure(2, 1)
  return sum(ndimage.label(labels == v, structure=cross)[1] for v in np.unique(labels))


def agreement_photo(name: str, size: int = 224) -> np.ndarray:
  """``(size, size, 3)`` float32 in [0, 1] as the command line feeds the classifier (whole photo, Lanczos).

  ``"bundled"`` is the command line's bundled photo (``chelsea`` through its JPEG); the rest are
  ``skimage.data`` photos.
  """
  from PIL import Image
  from skimage import data

  from evojax_lime.cli.images import model_input
  if name == "bundled":
    buf = io.BytesIO()
    Image.fromarray(data.chelsea()).save(buf, format="JPEG", quality=95)  # as cli.images.bundled_photo
    buf.seek(0)
    rgb = np.asarray(Image.open(buf).convert("RGB"))
  else:
    rgb = np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB"))
  return model_input(rgb, size)
