"""SLIC superpixels in pure JAX: jit-able, vmappable, static shapes throughout.

Follows ``skimage.segmentation.slic`` (min-max rescale, CIELAB, grid seeds from ``regular_grid``, distance
``|lab|^2 / compactness^2 + |yx|^2 / step^2``, colourless first assignment, a fixed number of k-means
iterations) so that segmentation can run inside the same compiled program as the evolution. Differences:

* each pixel only compares itself with the centres of the 3x3 grid cells around it (skimage scans a
  ``4 * step`` window around every centre), so one iteration costs ``9 * H * W`` distances;
* seeds can move to the lowest colour gradient of their 3x3 pixel window (the SLIC paper; skimage does not);
* the connectivity step never splits a large region (skimage cuts regions above ``max_size_factor``) and
  merges each small fragment into its largest 4-adjacent region (skimage picks the last one its scan met).

Outputs are ``labels`` ``(H, W)`` int32 in ``0..K-1`` in raster order of first appearance, every label one
4-connected region (with ``enforce_connectivity``), and ``K`` as a traced int32 scalar bounded by the static
``max_segments``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# Options that fix shapes or loop counts; pass them as ``static_argnames`` when jitting ``slic``.
STATIC_ARGNAMES = ("n_segments", "max_num_iter", "enforce_connectivity", "move_to_low_gradient")

# sRGB -> XYZ and the D65 2-degree white point, exactly as skimage.color (its "lab_ref_white").
_XYZ_FROM_RGB = np.array([
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])
# Centre offsets scanned by the pixel -> centre assignment and by the seed move; (0, 0) first so that
# argmin ties keep a seed where it is.
_OFFSETS_3X3 = np.array([(0, 0)] + [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])


def rgb_to_lab(images: jax.Array) -> jax.Array:
  """sRGB in [0, 1] -> CIELAB (D65, 2-degree observer), matching ``skimage.color.rgb2lab``.

  Args:
    images: ``(..., 3)`` sRGB; integer input is cast to float32 as is (scale it to [0, 1] first).

  Returns:
    ``(..., 3)`` L*a*b*, L in [0, 100]; float32 unless the input is float64.
  """
  rgb = jnp.asarray(images)
  if not jnp.issubdtype(rgb.dtype, jnp.floating):
    rgb = rgb.astype(jnp.float32)
  linear = jnp.where(rgb > 0.04045, ((jnp.maximum(rgb, 0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)
  # An explicit multiply-add rather than a matmul: GPUs run float32 matmuls in TF32 (~1e-3 error).
  to_white_xyz = jnp.asarray(_XYZ_FROM_RGB / _D65_WHITE[:, None], rgb.dtype)
  xyz = jnp.sum(linear[..., None, :] * to_white_xyz, axis=-1)
  f = jnp.where(xyz > 0.008856, jnp.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
  fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
  return jnp.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


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

  Without connectivity K is at most the number of seeds; with it every region but a lone one has at least
  ``min_size`` pixels (fragments are merged until none is left), and k-means regions may split in two.

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


def _neighbours(x: jax.Array, fill: Any) -> jax.Array:
  """``(H, W)`` -> ``(4, H, W)`` values of the up, down, left and right neighbour, ``fill`` off the image."""
  p = jnp.pad(x, 1, constant_values=fill)
  return jnp.stack([p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])


def _lab_features(image: jax.Array, grid: _Grid, compactness: Any) -> jax.Array:
  """``(H, W, 3)`` RGB -> ``(H, W, 5)`` features (y, x, L, a, b) whose squared distance is SLIC's."""
  image = image.astype(jnp.promote_types(image.dtype, jnp.float32))
  # skimage rescales the whole image (all channels together) to [0, 1] before the Lab conversion.
  lo, hi = jnp.min(image), jnp.max(image)
  image = (image - lo) / jnp.where(hi > lo, hi - lo, 1.0)
  lab = rgb_to_lab(image) / compactness
  h, w = image.shape[:2]
  ys, xs = jnp.meshgrid(jnp.arange(h, dtype=lab.dtype), jnp.arange(w, dtype=lab.dtype), indexing="ij")
  return jnp.concatenate([jnp.stack([ys, xs], axis=-1) / grid.step, lab], axis=-1)


def _seed_positions(lab: jax.Array, grid: _Grid, move_to_low_gradient: bool) -> tuple[jax.Array, jax.Array]:
  """``(rows, cols)`` int32 seed rows and columns, optionally moved to the 3x3 gradient minimum."""
  h, w = lab.shape[:2]
  ys = jnp.asarray(np.arange(grid.rows) * grid.stride_y + grid.start_y)[:, None]
  xs = jnp.asarray(np.arange(grid.cols) * grid.stride_x + grid.start_x)[None, :]
  ys, xs = jnp.broadcast_to(ys, (grid.rows, grid.cols)), jnp.broadcast_to(xs, (grid.rows, grid.cols))
  if not move_to_low_gradient:
    return ys, xs
  # Seeding on an edge would start a cluster that straddles two objects.
  p = jnp.pad(lab, ((1, 1), (1, 1), (0, 0)), mode="edge")
  grad = (jnp.sum((p[2:, 1:-1] - p[:-2, 1:-1]) ** 2, -1) + jnp.sum((p[1:-1, 2:] - p[1:-1, :-2]) ** 2, -1))
  cand_y = jnp.clip(ys[None] + _OFFSETS_3X3[:, 0, None, None], 0, h - 1)
  cand_x = jnp.clip(xs[None] + _OFFSETS_3X3[:, 1, None, None], 0, w - 1)
  best = jnp.argmin(grad[cand_y, cand_x], axis=0)[None]
  return jnp.take_along_axis(cand_y, best, 0)[0], jnp.take_along_axis(cand_x, best, 0)[0]


def _candidate_cells(length: int, start: int, stride: int, cells: int) -> np.ndarray:
  """``(3, length)`` static index of the seed cell before, at and after each pixel's nearest seed."""
  nearest = np.clip((2 * (np.arange(length) - start) + stride) // (2 * stride), 0, cells - 1)
  return np.clip(nearest[None] + np.arange(-1, 2)[:, None], 0, cells - 1).astype(np.int32)


def _assign(features: jax.Array, centres: jax.Array, grid: _Grid) -> jax.Array:
  """Nearest centre among the 3x3 cells around each pixel: ``(H, W, 5)``, ``(S, 5)`` -> ``(H, W)`` int32."""
  h, w = features.shape[:2]
  rows = _candidate_cells(h, grid.start_y, grid.stride_y, grid.rows)
  cols = _candidate_cells(w, grid.start_x, grid.stride_x, grid.cols)
  # Two gathers by row then column keep the index arrays at (3, H) and (3, W) instead of (9, H, W).
  by_row = centres.reshape(grid.rows, grid.cols, -1)[rows]  # (3, H, cols, 5)
  cand = by_row[:, :, cols]  # (3, H, 3, W, 5)
  dist = jnp.sum((cand - features[None, :, None]) ** 2, axis=-1)  # (3, H, 3, W)
  best = jnp.argmin(jnp.moveaxis(dist, 2, 1).reshape(9, h, w), axis=0)
  row = jnp.take_along_axis(jnp.asarray(rows)[:, :, None], (best // 3)[None], 0)[0]  # rows[best // 3, y]
  col = jnp.take_along_axis(jnp.asarray(cols)[:, None, :], (best % 3)[None], 0)[0]  # cols[best % 3, x]
  return (row * grid.cols + col).astype(jnp.int32)


def _update(features: jax.Array, labels: jax.Array, centres: jax.Array) -> jax.Array:
  """Cluster means ``(S, 5)``; a cluster left empty keeps its previous centre."""
  flat = features.reshape(-1, features.shape[-1])
  sums = jax.ops.segment_sum(flat, labels.ravel(), num_segments=centres.shape[0])
  counts = jax.ops.segment_sum(jnp.ones_like(flat[:, 0]), labels.ravel(), num_segments=centres.shape[0])
  return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1)[:, None], centres)


def _kmeans(features: jax.Array, centres: jax.Array, grid: _Grid, max_num_iter: int) -> jax.Array:
  """``max_num_iter`` assignments with an update between each, as skimage: ``(H, W)`` int32 cluster ids."""
  centres = lax.fori_loop(
      0, max_num_iter - 1, lambda _, c: _update(features, _assign(features, c, grid), c), centres)
  return _assign(features, centres, grid)


def _pointer_jump(parent: jax.Array) -> jax.Array:
  """Follows ``parent`` (``(N,)`` int32, acyclic apart from roots) to the roots."""
  def body(state):
    p, _ = state
    q = p[p]
    return q, jnp.any(q != p)
  return lax.while_loop(lambda s: s[1], body, (parent, jnp.array(True)))[0]


def _connected_components(clusters: jax.Array) -> jax.Array:
  """4-connected components of equal cluster id: ``(H, W)`` -> ``(H, W)`` int32 smallest flat index in each.

  Min-label propagation between same-cluster neighbours; the extra jumps ``comp[comp]`` (a smaller
  member of the same component) shortcut long regions, so it takes far fewer rounds than their diameter.
  """
  h, w = clusters.shape
  same = _neighbours(clusters, -1) == clusters[None]
  big = jnp.iinfo(jnp.int32).max

  def body(state):
    comp, _ = state
    new = jnp.min(jnp.where(same, _neighbours(comp, big), comp[None]), axis=0)
    new = new.ravel()[new.ravel()]
    new = new[new].reshape(h, w)
    return new, jnp.any(new != comp)

  start = jnp.arange(h * w, dtype=jnp.int32).reshape(h, w)
  return lax.while_loop(lambda s: s[1], body, (start, jnp.array(True)))[0]


def _largest_neighbour(comp: jax.Array, size: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per component root, the 4-adjacent component with the largest (size, id), or size -1 if none.

  Args:
    comp: ``(H, W)`` int32 component root (a flat pixel index) per pixel.
    size: ``(H * W,)`` int32 pixel count per root.

  Returns:
    ``(H * W,)`` sizes and ``(H * W,)`` ids of that neighbour, indexed by root.
  """
  n = comp.size
  nb = _neighbours(comp, -1)
  nb_size = jnp.where((nb >= 0) & (nb != comp[None]), size[jnp.maximum(nb, 0)], -1)
  px_size = jnp.max(nb_size, axis=0)
  px_id = jnp.max(jnp.where(nb_size == px_size[None], nb, -1), axis=0)
  best_size = jax.ops.segment_max(px_size.ravel(), comp.ravel(), num_segments=n)
  best_id = jax.ops.segment_max(
      jnp.where(px_size == best_size[comp], px_id, -1).ravel(), comp.ravel(), num_segments=n)
  return best_size, best_id


def _merge_small(comp: jax.Array, min_size: jax.Array) -> jax.Array:
  """Merges components under ``min_size`` pixels into their largest neighbour until none is left.

  A small component only merges into a neighbour with a larger (size, id), so merge chains are acyclic,
  and the smallest small component always has one, so every round removes at least one component.
  Merged regions stay 4-connected because each merge joins adjacent components.

  Args:
    comp: ``(H, W)`` int32 roots from ``_connected_components``.
    min_size: int32 scalar.

  Returns:
    ``(H, W)`` int32 roots of the merged regions.
  """
  n = comp.size
  ids = jnp.arange(n, dtype=jnp.int32)

  def body(state):
    comp, _ = state
    size = jax.ops.segment_sum(jnp.ones(n, jnp.int32), comp.ravel(), num_segments=n)
    nb_size, nb_id = _largest_neighbour(comp, size)
    merge = (size > 0) & (size < min_size) & ((nb_size > size) | ((nb_size == size) & (nb_id > ids)))
    parent = _pointer_jump(jnp.where(merge, nb_id, ids))
    return parent[comp], jnp.any(merge)

  return lax.while_loop(lambda s: s[1], body, (comp, jnp.array(True)))[0]


def _relabel(regions: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Region ids in ``0..N-1`` -> contiguous labels ``0..K-1`` in raster order of first pixel, and K."""
  n = regions.size
  flat = jnp.arange(n, dtype=jnp.int32)
  first = jax.ops.segment_min(flat, regions.ravel(), num_segments=n)[regions.ravel()]
  is_first = first == flat
  rank = jnp.cumsum(is_first, dtype=jnp.int32) - 1
  return rank[first].reshape(regions.shape), jnp.sum(is_first, dtype=jnp.int32)


def slic(image: jax.Array, *, n_segments: int = 100, compactness: float = 10.0, max_num_iter: int = 10,
         enforce_connectivity: bool = True, min_size_factor: float = 0.5,
         move_to_low_gradient: bool = True) -> tuple[jax.Array, jax.Array]:
  """SLIC superpixels of one RGB image, traceable under ``jax.jit`` and ``jax.vmap``.

  Jit with ``jax.jit(slic, static_argnames=STATIC_ARGNAMES)``; ``compactness`` and ``min_size_factor`` may
  be traced.

  Args:
    image: ``(H, W, 3)`` RGB, any range (rescaled to [0, 1] by its min and max, as skimage does).
    n_segments: approximate number of superpixels; fixes the static seed grid.
    compactness: colour vs. space balance; higher gives squarer superpixels (skimage's meaning).
    max_num_iter: number of pixel assignments (k-means iterations).
    enforce_connectivity: make every label one 4-connected region, merging fragments under
      ``min_size_factor * H * W / n_seeds`` pixels into their largest neighbour.
    min_size_factor: see ``enforce_connectivity``.
    move_to_low_gradient: move each seed to the lowest Lab gradient in its 3x3 pixel window first.

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
  grid = _regular_grid(h, w, n_segments)
  features = _lab_features(image, grid, compactness)
  seed_y, seed_x = _seed_positions(features[..., 2:], grid, move_to_low_gradient)
  # Colour 0 as in skimage: the first assignment is then purely spatial (the grid cells).
  centres = jnp.zeros((grid.size, features.shape[-1]), features.dtype)
  centres = centres.at[:, 0].set(seed_y.ravel() / grid.step).at[:, 1].set(seed_x.ravel() / grid.step)
  clusters = _kmeans(features, centres, grid, max_num_iter)
  if enforce_connectivity:
    regions = _merge_small(_connected_components(clusters), _min_size(grid, h, w, min_size_factor))
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
