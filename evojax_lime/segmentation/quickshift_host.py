"""The superpixels of :func:`~evojax_lime.segmentation.quickshift_jax.quickshift`, cut on the host.

scikit-image's quickshift (float64) gives the roots; the steps that make ``quickshift_jax`` differ from it, one
4-connected region per label and the static bound on K, are the same as there, in numpy, and so is the
numbering. On a CPU this costs a fraction of a second per photo where compiling the JAX quickshift into the
search program costs several seconds; the two agree wherever float32 and float64 densities order pixels alike
(``benchmarks/results/quickshift_agreement_cpu.md``).
"""
from __future__ import annotations

import numpy as np

from evojax_lime.segmentation.quickshift_jax import segment_bound

_NONE = np.iinfo(np.int32).min  # what a segment max of no values is in JAX


def _neighbours(x: np.ndarray) -> np.ndarray:
  """``(H, W)`` -> ``(4, H, W)`` up, down, left and right neighbour values, -1 off the image."""
  pad = np.pad(x, 1, constant_values=-1)
  return np.stack([pad[:-2, 1:-1], pad[2:, 1:-1], pad[1:-1, :-2], pad[1:-1, 2:]])


def _pointer_jump(parent: np.ndarray) -> np.ndarray:
  while True:
    jumped = parent[parent]
    if np.array_equal(jumped, parent):
      return parent
    parent = jumped


def _components(labels: np.ndarray) -> np.ndarray:
  """``(H, W)`` -> ``(H * W,)`` the smallest flat index of each pixel's 4-connected piece of equal label."""
  from skimage.measure import label  # deferred: the host path alone needs it
  piece = label(labels, background=-1, connectivity=1).ravel()
  first = np.full(piece.max() + 1, labels.size, np.int64)
  np.minimum.at(first, piece, np.arange(labels.size))
  return first[piece].astype(np.int32)


def _largest_neighbour(comp: np.ndarray, size: np.ndarray) -> np.ndarray:
  """For each component id, its adjacent component of most pixels (ties: highest id), -1 or ``_NONE`` if none."""
  n = comp.size
  nb = _neighbours(comp)
  valid = (nb >= 0) & (nb != comp[None])
  nb_size = np.where(valid, size[np.maximum(nb, 0)], -1)
  own = np.broadcast_to(comp[None], nb.shape).ravel()
  top = np.full(n, _NONE, np.int64)
  np.maximum.at(top, own, nb_size.ravel())
  cand = np.where(valid & (nb_size == top[comp][None]), nb, -1)
  best = np.full(n, _NONE, np.int64)
  np.maximum.at(best, own, cand.ravel())
  return best


def _merge_round(comp: np.ndarray, merging: np.ndarray) -> np.ndarray:
  """Every component with ``merging[id]`` joins its largest neighbour (as ``quickshift_jax._merge_round``)."""
  n = comp.size
  ids = np.arange(n)
  size = np.bincount(comp.ravel(), minlength=n)
  target = _largest_neighbour(comp, size)
  ptr = np.where(merging & (target >= 0), target, ids)
  above = (size > size[ptr]) | ((size == size[ptr]) & (ids > ptr))
  ptr = np.where((ptr[ptr] == ids) & above, ids, ptr)
  return _pointer_jump(ptr)[comp]


def _merge_fragments(root: np.ndarray, height: int, width: int) -> np.ndarray:
  """Each root keeps its largest 4-connected piece; the other pieces join adjacent regions. ``(H, W)`` ids."""
  n = height * width
  flat = _components(root.reshape(height, width))
  size = np.bincount(flat, minlength=n)
  top = np.full(n, _NONE, np.int64)
  np.maximum.at(top, root, size[flat])
  main = np.full(n, n, np.int64)
  np.minimum.at(main, root, np.where(size[flat] == top[root], flat, n))
  is_main = np.zeros(n, bool)
  is_main[main[root]] = True  # fixed: pieces that grow never become main
  comp = flat.reshape(height, width)
  while (~is_main[comp]).any():
    comp = _merge_round(comp, ~is_main)
  return comp


def _cap(comp: np.ndarray, bound: int) -> np.ndarray:
  n = comp.size
  ids = np.arange(n)
  while np.unique(comp).size > bound:
    size = np.bincount(comp.ravel(), minlength=n)
    rank = np.zeros(n, np.int64)
    rank[np.lexsort((ids, size))] = ids
    comp = _merge_round(comp, rank < n - bound)
  return comp


def one_region_per_label(labels: np.ndarray, *, max_segments: int | None = None) -> np.ndarray:
  """``quickshift_jax``'s last steps on a label map numbered by root order (scikit-image's quickshift's).

  Args:
    labels: ``(H, W)`` integer labels in ``0..H*W-1``.
    max_segments: at most this many labels (the smallest regions join their largest neighbour); ``None``: no
      bound.

  Returns:
    ``(H, W)`` int32 labels ``0..K-1``, each one 4-connected region, in the order of the input labels.
  """
  labels = np.asarray(labels)
  h, w = labels.shape
  root = labels.astype(np.int64).ravel()
  comp = _merge_fragments(root, h, w)
  if max_segments is not None:
    comp = _cap(comp, max_segments)
  key = root[comp.ravel()]
  present = np.zeros(h * w, bool)
  present[key] = True
  return (np.cumsum(present) - 1)[key].reshape(h, w).astype(np.int32)


def quickshift(image: np.ndarray, *, kernel_size: float = 4, max_dist: float = 200.0, ratio: float = 0.2,
               max_segments: int | None = None, random_seed: int = 42) -> np.ndarray:
  """``quickshift_jax.quickshift``'s superpixels of an ``(H, W, 3)`` RGB image in [0, 1], on the host.

  Options as there. Returns ``(H, W)`` int32 labels ``0..K-1``, each one 4-connected region, K at most the
  same static bound.
  """
  from skimage.segmentation import quickshift as skimage_quickshift
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"image must be (H, W, 3) RGB, got shape {image.shape}")
  h, w = image.shape[:2]
  bound = segment_bound(h, w, kernel_size=kernel_size, max_segments=max_segments)
  roots = skimage_quickshift(image.astype(np.float64), kernel_size=kernel_size, max_dist=max_dist, ratio=ratio,
                             rng=random_seed)
  return one_region_per_label(roots, max_segments=bound)
