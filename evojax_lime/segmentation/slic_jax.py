"""SLIC superpixels in pure JAX: jit-able, vmappable, static shapes throughout.

Follows ``skimage.segmentation.slic`` (min-max rescale, CIELAB, seeds from ``regular_grid``, distance
``|lab|^2 / compactness^2 + |yx|^2 / step^2``, a centre reaching two strides, colourless first assignment,
a fixed number of k-means iterations, small fragments merged into an earlier neighbour) so that
segmentation can run inside the same compiled program as the evolution. Differences:

* each pixel only compares itself with the centres of the seed cells around its own, 3x3 by default, so an
  iteration costs ``9 * H * W`` distances (skimage scans a window of about 4x4 strides around each centre;
  ``search_radius=2`` with ``move_to_low_gradient=False`` follows it closely);
* seeds can move to the lowest colour gradient of their 3x3 pixel window (the SLIC paper; skimage does not);
* the connectivity step never splits a large region (skimage cuts regions above ``max_size_factor``).

Outputs are ``labels`` ``(H, W)`` int32 in ``0..K-1`` in raster order of first pixel, every label one
4-connected region (with ``enforce_connectivity``), and ``K`` as a traced int32 scalar bounded by the
static ``max_segments``.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from evojax_lime.segmentation.colour import rgb_to_lab
from evojax_lime.segmentation.regions import connected_components, neighbours, pointer_jump

# Options that fix shapes or loop counts; pass them as ``static_argnames`` when jitting ``slic``.
STATIC_ARGNAMES = ("n_segments", "max_num_iter", "enforce_connectivity", "move_to_low_gradient", "search_radius")

# skimage's connectivity walk checks right, left, down, up and keeps the last hit: the rank of each
# ``neighbours`` direction (up, down, left, right) in that order.
_SCAN_RANK = np.array([3, 2, 1, 0])
# Pixel offsets a seed may move by; (0, 0) first so that argmin ties keep a seed where it is.
_OFFSETS_3X3 = np.array([(0, 0)] + [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])


@dataclasses.dataclass(frozen=True)
class _Grid:
  """Static seed grid: seeds at ``start + i * stride`` along each axis, ``step`` scales distances."""
  start_y: int
  start_x: int
  stride_y: int
  stride_x: int
  rows: int
  cols: int
  step: float

  @property
  def size(self) -> int:
    return self.rows * self.cols


def _regular_grid(height: int, width: int, n_segments: int) -> _Grid:
  """Seed grid of ``skimage.util.regular_grid((1, H, W), n_segments)``, the call skimage's slic makes.

  skimage treats a 2-D image as one z-slice, so the z axis (length 1) is always "discarded" and the
  remaining axes share the step ``sqrt(H * W / n_segments)`` unless one of them is shorter than it.
  """
  shape = np.array([1, height, width])
  order = np.argsort(shape, kind="stable")
  dims = shape[order]
  if dims.prod() <= n_segments:
    steps = np.ones(3)
  else:
    steps = np.full(3, (dims.prod() / n_segments) ** (1.0 / 3))
    if (dims < steps).any():
      for dim in range(3):
        steps[dim] = dims[dim]
        steps[dim + 1:] = (dims[dim + 1:].prod() / n_segments) ** (1.0 / (2 - dim)) if dim < 2 else 1.0
        if (dims >= steps).all():
          break
  starts, strides = np.empty(3, int), np.empty(3, int)
  starts[order] = (steps // 2).astype(int)
  strides[order] = np.round(steps).astype(int)
  if dims.prod() <= n_segments:  # skimage's slice(None): every pixel is a seed
    starts[:], strides[:] = 0, 1
  (_, start_y, start_x), (_, stride_y, stride_x) = starts, strides
  return _Grid(
      start_y=int(start_y), start_x=int(start_x), stride_y=int(stride_y), stride_x=int(stride_x),
      rows=len(range(start_y, height, stride_y)), cols=len(range(start_x, width, stride_x)),
      step=float(max(1, stride_y, stride_x)))


def _check(height: int, width: int, n_segments: int, max_num_iter: int = 1) -> None:
  if height < 1 or width < 1:
    raise ValueError(f"image must have at least one pixel, got {height}x{width}")
  if not 1 <= n_segments <= height * width:
    raise ValueError(f"n_segments must be in 1..{height * width} (the number of pixels), got {n_segments}")
  if max_num_iter < 1:
    raise ValueError(f"max_num_iter must be >= 1, got {max_num_iter}")


def _min_size(grid: _Grid, height: int, width: int, min_size_factor: Any) -> jax.Array:
  """skimage's ``int(min_size_factor * H * W / n_seeds)``; traced so the factor needs no recompile."""
  return jnp.floor(min_size_factor * (height * width / grid.size)).astype(jnp.int32)


def max_segments(height: int, width: int, *, n_segments: int = 100, enforce_connectivity: bool = True,
                 min_size_factor: float = 0.5) -> int:
  """Static upper bound on the ``K`` returned by ``slic`` for an ``(H, W)`` image.

  Without connectivity K is at most the number of seeds; with it k-means regions may split, but every
  region of a multi-region result has at least ``min_size`` pixels.

  Args:
    height: image rows.
    width: image columns.
    n_segments: as for ``slic``.
    enforce_connectivity: as for ``slic``.
    min_size_factor: as for ``slic`` (a Python number here).

  Returns:
    an int >= K for every image of that size.
  """
  _check(height, width, n_segments)
  grid = _regular_grid(height, width, n_segments)
  if not enforce_connectivity:
    return grid.size
  min_size = int(min_size_factor * (height * width / grid.size))
  return height * width // max(min_size, 1)


def _features(image: jax.Array, compactness: Any) -> jax.Array:
  """``(H, W, 3)`` RGB -> ``(5, H, W)`` features (y, x, L, a, b), colour divided by ``compactness``.

  Channel-first so that the k-means distances run over contiguous ``(H, W)`` planes: with the 5 channels
  minor, XLA on CPU was several times slower.
  """
  image = image.astype(jnp.promote_types(image.dtype, jnp.float32))
  # skimage rescales the whole image (all channels together) to [0, 1] before the Lab conversion.
  lo, hi = jnp.min(image), jnp.max(image)
  image = (image - lo) / jnp.where(hi > lo, hi - lo, 1.0)
  lab = jnp.moveaxis(rgb_to_lab(image), -1, 0) / compactness
  h, w = image.shape[:2]
  ys, xs = jnp.meshgrid(jnp.arange(h, dtype=lab.dtype), jnp.arange(w, dtype=lab.dtype), indexing="ij")
  return jnp.concatenate([ys[None], xs[None], lab], axis=0)


def _seeds(lab: jax.Array, grid: _Grid, move_to_low_gradient: bool) -> jax.Array:
  """``(S, 2)`` seed (row, column) positions, optionally moved to the 3x3 gradient minimum.

  Args:
    lab: ``(3, H, W)`` colour features.
    grid: the seed grid, S = ``grid.size`` seeds in raster order.
    move_to_low_gradient: see ``slic``.
  """
  h, w = lab.shape[1:]
  ys, xs = np.meshgrid(np.arange(grid.rows) * grid.stride_y + grid.start_y,
                       np.arange(grid.cols) * grid.stride_x + grid.start_x, indexing="ij")
  ys, xs = jnp.asarray(ys.ravel()), jnp.asarray(xs.ravel())
  if move_to_low_gradient:
    # Seeding on an edge would start a cluster that straddles two objects.
    p = jnp.pad(lab, ((0, 0), (1, 1), (1, 1)), mode="edge")
    grad = jnp.sum((p[:, 2:, 1:-1] - p[:, :-2, 1:-1]) ** 2 + (p[:, 1:-1, 2:] - p[:, 1:-1, :-2]) ** 2, axis=0)
    cand_y = jnp.clip(ys[None] + _OFFSETS_3X3[:, :1], 0, h - 1)  # (9, S)
    cand_x = jnp.clip(xs[None] + _OFFSETS_3X3[:, 1:], 0, w - 1)
    best = jnp.argmin(grad[cand_y, cand_x], axis=0)[None]
    ys, xs = jnp.take_along_axis(cand_y, best, 0)[0], jnp.take_along_axis(cand_x, best, 0)[0]
  return jnp.stack([ys, xs], axis=-1)


def _candidate_cells(length: int, start: int, stride: int, cells: int, radius: int) -> np.ndarray:
  """``(2 * radius + 1, length)`` int32 seed cells within ``radius`` of each pixel's nearest, along one axis.

  Cells past the border are clipped to it; the repeats cost a little work but change no result.
  """
  nearest = np.clip((2 * (np.arange(length) - start) + stride) // (2 * stride), 0, cells - 1)
  return np.clip(nearest[None] + np.arange(-radius, radius + 1)[:, None], 0, cells - 1).astype(np.int32)


def _assign(features: jax.Array, centres: jax.Array, labels: jax.Array, grid: _Grid,
            rows: np.ndarray, cols: np.ndarray) -> jax.Array:
  """Nearest centre among the seed cells ``rows x cols`` around each pixel.

  As in skimage a centre only reaches pixels within two strides of it, and a pixel no centre reaches
  keeps its label.

  Args:
    features: ``(5, H, W)`` (y, x, colour / compactness).
    centres: ``(S, 5)`` in the same units, seeds in raster order of the ``grid``.
    labels: ``(H, W)`` int32 previous assignment.
    grid: the seed grid.
    rows: ``(M, H)`` candidate seed rows per pixel row, from ``_candidate_cells``.
    cols: ``(M, W)`` candidate seed columns per pixel column.

  Returns:
    ``(H, W)`` int32 centre index per pixel.
  """
  # The candidates are separable, so two 1-D takes (seed rows, then seed columns) build the (M, H, M, W)
  # candidate set; a single gather with an (M * M, H, W) index was 1.5x (3x3) to 5x (5x5) slower on CPU.
  by_cell = centres.T.reshape(-1, grid.rows, grid.cols)
  cand = jnp.take(jnp.take(by_cell, jnp.asarray(rows), axis=1), jnp.asarray(cols), axis=3)  # (5, M, H, M, W)
  dy, dx, dl, da, db = features[:, None, :, None, :] - cand
  # Spelled out per channel: a reduction over the channel axis kept XLA on CPU from fusing the gather
  # into one loop (about 10x slower).
  dist = (dy * dy + dx * dx) / grid.step ** 2 + dl * dl + da * da + db * db
  # skimage's window, rows int(max(cy - 2 sy, 0)) <= y < int(min(cy + 2 sy + 1, H)), is for integer y
  # the same as -2 sy - 1 < y - cy <= 2 sy; likewise for columns.
  reach = ((dy > -2 * grid.stride_y - 1) & (dy <= 2 * grid.stride_y)
           & (dx > -2 * grid.stride_x - 1) & (dx <= 2 * grid.stride_x))
  dist = jnp.where(reach, dist, jnp.inf)
  # Argmin over columns, then rows: the first minimum in (row, column) order, i.e. the lowest seed index,
  # which is skimage's tie-break.
  best_col, col_min = jnp.argmin(dist, axis=2), jnp.min(dist, axis=2)  # (M, H, W)
  best_row = jnp.argmin(col_min, axis=0)
  best_col = jnp.take_along_axis(best_col, best_row[None], axis=0)[0]
  row = jnp.take_along_axis(jnp.asarray(rows)[:, :, None], best_row[None], axis=0)[0]
  col = jnp.take_along_axis(jnp.asarray(cols)[:, None, :], best_col[None], axis=0)[0]
  return jnp.where(jnp.min(col_min, axis=0) < jnp.inf, row * grid.cols + col, labels)


def _update(features: jax.Array, labels: jax.Array, centres: jax.Array) -> jax.Array:
  """Cluster means ``(S, 5)`` of ``(5, H, W)`` features; a cluster left empty keeps its previous centre."""
  flat = features.reshape(features.shape[0], -1).T
  flat = jnp.concatenate([flat, jnp.ones_like(flat[:, :1])], axis=1)  # (H * W, 6): features and a count
  sums = jax.ops.segment_sum(flat, labels.ravel(), num_segments=centres.shape[0])
  counts = sums[:, -1:]
  return jnp.where(counts > 0, sums[:, :-1] / jnp.maximum(counts, 1), centres)


def _kmeans(features: jax.Array, centres: jax.Array, grid: _Grid, max_num_iter: int,
            search_radius: int) -> jax.Array:
  """``max_num_iter`` assignments with an update between each, as skimage: ``(H, W)`` int32 cluster ids."""
  h, w = features.shape[1:]
  rows = _candidate_cells(h, grid.start_y, grid.stride_y, grid.rows, search_radius)
  cols = _candidate_cells(w, grid.start_x, grid.stride_x, grid.cols, search_radius)
  own_cell = jnp.asarray(rows[search_radius][:, None] * grid.cols + cols[search_radius][None, :])

  def step(_, state):
    centres, labels = state
    labels = _assign(features, centres, labels, grid, rows, cols)
    return _update(features, labels, centres), labels

  centres, labels = lax.fori_loop(0, max_num_iter - 1, step, (centres, own_cell))
  return _assign(features, centres, labels, grid, rows, cols)


def _merge_into_earlier(comp: jax.Array, min_size: jax.Array) -> jax.Array:
  """Merges each component under ``min_size`` pixels into a neighbour that starts earlier, as skimage.

  skimage numbers components in raster order and gives a small one the label of the last earlier
  neighbour its breadth-first walk met; the raster-last pixel of the component that touches an earlier one
  stands in for the end of that walk. Pointers only go to earlier components, so they form a forest, and
  every component but the one at pixel (0, 0) has an earlier neighbour (left of or above its first pixel).

  Args:
    comp: ``(H, W)`` int32 components from ``connected_components`` (root = first pixel).
    min_size: int32 scalar.

  Returns:
    ``(H, W)`` int32 region roots.
  """
  h, w = comp.shape
  ids = jnp.arange(h * w, dtype=jnp.int32)
  size = jax.ops.segment_sum(jnp.ones(h * w, jnp.int32), comp.ravel(), num_segments=h * w)
  earlier = neighbours(comp, h * w) < comp[None]
  key = jnp.max(jnp.where(earlier, ids.reshape(1, h, w) * 4 + _SCAN_RANK[:, None, None], -1), axis=0)
  best = jax.ops.segment_max(key.ravel(), comp.ravel(), num_segments=h * w)
  direction = 3 - best % 4  # back from scan rank to the neighbours axis
  neighbour = best // 4 + jnp.asarray([-w, w, -1, 1])[direction]
  target = comp.ravel()[jnp.clip(neighbour, 0, h * w - 1)]
  merge = (size < min_size) & (best >= 0)
  return pointer_jump(jnp.where(merge, target, ids))[comp]


def _absorb_first(regions: jax.Array, min_size: jax.Array) -> jax.Array:
  """Joins the region at pixel (0, 0), the only one that can still be small, to its largest neighbour.

  Args:
    regions: ``(H, W)`` int32 region roots from ``_merge_into_earlier``.
    min_size: int32 scalar.

  Returns:
    ``(H, W)`` int32 region roots, all of at least ``min_size`` pixels unless the image is one region.
  """
  n = regions.size
  size = jax.ops.segment_sum(jnp.ones(n, jnp.int32), regions.ravel(), num_segments=n)
  first = regions[0, 0]
  nb = neighbours(regions, -1)
  border = (regions[None] == first) & (nb >= 0) & (nb != first)
  nb_size = jnp.where(border, size[jnp.maximum(nb, 0)], -1)
  target = nb.ravel()[jnp.argmax(nb_size.ravel())]
  join = (size[first] < min_size) & (jnp.max(nb_size) >= 0)
  return jnp.where(join & (regions == first), target, regions)


def _relabel(regions: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Region ids in ``0..N-1`` -> contiguous labels ``0..K-1`` in raster order of first pixel, and K."""
  n = regions.size
  flat = jnp.arange(n, dtype=jnp.int32)
  first = jax.ops.segment_min(flat, regions.ravel(), num_segments=n)[regions.ravel()]
  is_first = first == flat
  rank = jnp.cumsum(is_first, dtype=jnp.int32) - 1
  return rank[first].reshape(regions.shape), jnp.sum(is_first, dtype=jnp.int32)


def slic(image: jax.Array, *, n_segments: int = 100, compactness: float = 10.0, max_num_iter: int = 10,
         enforce_connectivity: bool = True, min_size_factor: float = 0.5, move_to_low_gradient: bool = True,
         search_radius: int = 1) -> tuple[jax.Array, jax.Array]:
  """SLIC superpixels of one RGB image, traceable under ``jax.jit`` and ``jax.vmap``.

  Jit with ``jax.jit(slic, static_argnames=STATIC_ARGNAMES)``; ``compactness`` and ``min_size_factor`` may
  be traced.

  Args:
    image: ``(H, W, 3)`` RGB, any range (rescaled to [0, 1] by its min and max, as skimage does).
    n_segments: approximate number of superpixels; fixes the static seed grid.
    compactness: colour vs. space balance; higher gives squarer superpixels (skimage's meaning).
    max_num_iter: number of pixel assignments (k-means iterations).
    enforce_connectivity: make every label one 4-connected region; components under
      ``min_size_factor * H * W / n_seeds`` pixels join an adjacent one, as in skimage.
    min_size_factor: see ``enforce_connectivity``.
    move_to_low_gradient: move each seed to the lowest Lab gradient in its 3x3 pixel window first.
    search_radius: seed cells searched either side of a pixel's own: 1 compares it with 9 centres, 2 with
      25 (2-3x slower on CPU, closer to skimage, whose centres reach two strides).

  Returns:
    ``labels`` ``(H, W)`` int32 in ``0..K-1`` (raster order of first pixel) and ``K`` as an int32 scalar,
    at most ``max_segments(H, W, ...)``.

  Raises:
    ValueError: if the image is not ``(H, W, 3)``, ``n_segments`` is not in ``1..H*W`` or
      ``max_num_iter < 1``.
  """
  image = jnp.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"image must be (H, W, 3) RGB, got shape {image.shape}")
  h, w = image.shape[:2]
  _check(h, w, n_segments, max_num_iter)
  if search_radius < 1:
    raise ValueError(f"search_radius must be >= 1, got {search_radius}")
  grid = _regular_grid(h, w, n_segments)
  features = _features(image, compactness)
  seeds = _seeds(features[2:], grid, move_to_low_gradient).astype(features.dtype)
  # Colour 0 as in skimage: the first assignment is then purely spatial (the grid cells).
  centres = jnp.concatenate([seeds, jnp.zeros((grid.size, 3), features.dtype)], axis=-1)
  clusters = _kmeans(features, centres, grid, max_num_iter, search_radius)
  if enforce_connectivity:
    min_size = _min_size(grid, h, w, min_size_factor)
    regions = _absorb_first(_merge_into_earlier(connected_components(clusters), min_size), min_size)
  else:
    regions = clusters
  return _relabel(regions)


def slic_batch(images: jax.Array, **options: Any) -> tuple[jax.Array, jax.Array]:
  """``slic`` over a batch of same-size images.

  Args:
    images: ``(B, H, W, 3)`` RGB.
    **options: keyword options of ``slic``; jit with ``static_argnames=STATIC_ARGNAMES``.

  Returns:
    ``(B, H, W)`` int32 labels and ``(B,)`` int32 segment counts.
  """
  return jax.vmap(lambda image: slic(image, **options))(images)
