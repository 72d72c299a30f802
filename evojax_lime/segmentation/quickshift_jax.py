"""Quickshift superpixels in pure JAX: jit-able, vmappable, static shapes, memory linear in the image.

Follows ``skimage.segmentation.quickshift`` (CIELAB times ``ratio`` plus pixel coordinates, a Gaussian
density over the square window of radius ``ceil(3 * kernel_size)``, skimage's tie-breaking noise on the
density, each pixel linked to the nearest pixel of higher density in its window unless that is farther than
``max_dist``, roots found by pointer jumping) so that LIME's superpixels can be cut inside the compiled
program. The window is walked one row of offsets at a time (a ``fori_loop`` over rows, the row's columns
unrolled), so memory stays a few ``(H, W)`` planes whatever the window. Differences from skimage:

* arithmetic is float32 (skimage: float64). The density is kept as two planes, the Gaussian sum and the
  noise, and two densities are compared by ``(sum_q - sum_p) + (noise_q - noise_p)``: where skimage's ties
  are exact (flat colour) the float32 sums are exactly equal too and the noise decides, as in float64;
  elsewhere float32 rounding of the sums (~1e-5 on ~50) can flip a comparison the 1e-5 noise decided (on the
  five 224 px photos of ``benchmarks.segmentation_agreement`` it changed no label);
* every label is one 4-connected region: skimage links pixels up to ``ceil(3 * kernel_size)`` apart, so its
  labels can hold stray pieces (1 to 84 pixels on those photos); each label keeps its largest piece and every
  other piece joins its largest adjacent region (K unchanged);
* K is at most a static ``max_segments``; beyond it the smallest regions join their largest adjacent
  neighbour until K equals it (see :func:`default_max_segments`).

Labels are numbered by their root pixel's raster index, which is skimage's numbering
(``np.unique(roots, return_inverse=True)``).
"""
from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from evojax_lime.segmentation.colour import rgb_to_lab
from evojax_lime.segmentation.regions import connected_components, neighbours, pointer_jump

# Options that fix shapes, loop bounds or constants; pass them as ``static_argnames`` when jitting.
STATIC_ARGNAMES = ("kernel_size", "max_segments", "random_seed")
# skimage's tie-breaking noise on the density (``rng.normal(scale=1e-5, size=(H, W))``).
_NOISE_SCALE = 1e-5


def window_radius(kernel_size: float) -> int:
  """Half-width of the square window skimage searches: ``ceil(3 * kernel_size)`` pixels."""
  return int(math.ceil(3 * kernel_size))


def default_max_segments(height: int, width: int, *, kernel_size: float = 4) -> int:
  """Default static bound on K: two regions per window area ``(2 r + 1)^2``, ``r = ceil(3 * kernel_size)``.

  A region is a basin of a density smoothed over ``kernel_size`` pixels, so regions much smaller than a window
  are rare: at LIME's ``kernel_size=4`` the bound is 161 on 224 x 224 photos, where skimage's K was 30-37 on
  the photos we measured, and 7 at 48 x 40 (K = 3). Never below 2.
  """
  _check(height, width, kernel_size)
  return max(2, math.ceil(2 * height * width / (2 * window_radius(kernel_size) + 1) ** 2))


def segment_bound(height: int, width: int, *, kernel_size: float = 4, max_segments: int | None = None) -> int:
  """The static bound on K that ``quickshift`` uses: ``max_segments``, checked, or the default bound.

  Raises:
    ValueError: ``max_segments`` is not an integer >= 2, or ``kernel_size < 1``.
  """
  if max_segments is None:
    return default_max_segments(height, width, kernel_size=kernel_size)
  if isinstance(max_segments, bool) or not isinstance(max_segments, (int, np.integer)) or max_segments < 2:
    raise ValueError(f"max_segments must be an integer >= 2, got {max_segments!r}")
  _check(height, width, kernel_size)
  return int(max_segments)


def _check(height: int, width: int, kernel_size: float) -> None:
  if height < 1 or width < 1:
    raise ValueError(f"image must have at least one pixel, got {height}x{width}")
  if not (isinstance(kernel_size, (int, float)) and kernel_size >= 1):
    raise ValueError(f"kernel_size must be a number >= 1, got {kernel_size!r}")


@functools.lru_cache(maxsize=16)
def tie_noise(height: int, width: int, random_seed: int = 42) -> np.ndarray:
  """skimage's tie-breaking noise for an ``(H, W)`` image: ``default_rng(seed).normal(0, 1e-5, (H, W))``."""
  return np.random.default_rng(random_seed).normal(scale=_NOISE_SCALE, size=(height, width)).astype(np.float32)


def _features(image: jax.Array, ratio: Any) -> jax.Array:
  """``(H, W, 3)`` RGB in [0, 1] -> ``(3, H, W)`` Lab times ``ratio`` (channel-first: contiguous planes)."""
  if not jnp.issubdtype(image.dtype, jnp.floating):
    # skimage's img_as_float: integers are scaled by their type's maximum.
    image = image.astype(jnp.float32) / float(jnp.iinfo(image.dtype).max)
  return jnp.moveaxis(rgb_to_lab(image.astype(jnp.float32)), -1, 0) * ratio


def _rows_of_offsets(radius: int, height: int, width: int, init: Any, row_fn) -> Any:
  """Folds ``row_fn(dy, slab_at, carry)`` over offset rows ``dy = -radius..radius`` in order.

  ``slab_at(padded)`` gives the ``(..., H, W + 2 radius)`` rows ``dy`` below of an array padded by
  ``radius`` on both spatial axes; its columns ``dx + radius`` onwards are the window offset ``(dy, dx)``.
  """
  def body(i, carry):
    def slab_at(padded):
      start = (0,) * (padded.ndim - 2) + (i, 0)
      return lax.dynamic_slice(padded, start, padded.shape[:-2] + (height, width + 2 * radius))
    return row_fn(i - radius, slab_at, carry)
  return lax.fori_loop(0, 2 * radius + 1, body, init)


def _pad(x: jax.Array, radius: int, value: float) -> jax.Array:
  return jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(radius, radius)] * 2, constant_values=value)


def _sq_dist(feat: jax.Array, slab: jax.Array, j: int, width: int, spatial: jax.Array) -> jax.Array:
  """Squared feature + pixel distance to the window offset in column ``j`` of ``slab``."""
  nb = slab[:, :, j:j + width]
  d = spatial
  for c in range(feat.shape[0]):  # spelled out: XLA on CPU fuses it into one loop
    t = feat[c] - nb[c]
    d = d + t * t
  return d


def _density(feat: jax.Array, radius: int, kernel_size: float) -> jax.Array:
  """``(H, W)`` sum over the window of ``exp(-d^2 / (2 kernel_size^2))``, as skimage (window clipped at borders).

  Off-image pixels are padded with +inf features, so their distance is inf and their term exp(-inf) = 0.
  """
  _, h, w = feat.shape
  padded = _pad(feat, radius, jnp.inf)
  scale = -0.5 / (kernel_size * kernel_size)

  def row(dy, slab_at, dens):
    slab = slab_at(padded)
    for j in range(2 * radius + 1):
      dx = j - radius
      dens = dens + jnp.exp(_sq_dist(feat, slab, j, w, (dy * dy + dx * dx).astype(feat.dtype)) * scale)
    return dens

  return _rows_of_offsets(radius, h, w, jnp.zeros((h, w), feat.dtype), row)


def _parents(feat: jax.Array, dens: jax.Array, noise: jax.Array, radius: int, max_dist: Any) -> jax.Array:
  """``(H * W,)`` int32 flat index of each pixel's nearest higher-density pixel in the window, or itself.

  Offsets are visited in skimage's order (rows, then columns) and only a strictly smaller distance replaces
  the best so far, so distance ties go to the same pixel as in skimage.
  """
  _, h, w = feat.shape
  feat_pad, dens_pad, noise_pad = _pad(feat, radius, jnp.inf), _pad(dens, radius, -jnp.inf), _pad(noise, radius, 0.0)

  def row(dy, slab_at, carry):
    best, offset = carry
    feat_slab, dens_slab, noise_slab = slab_at(feat_pad), slab_at(dens_pad), slab_at(noise_pad)
    for j in range(2 * radius + 1):
      dx = j - radius
      # The density difference first, the noise difference after: float64's comparison where sums tie.
      higher = (dens_slab[:, j:j + w] - dens) + (noise_slab[:, j:j + w] - noise) > 0
      d = _sq_dist(feat, feat_slab, j, w, (dy * dy + dx * dx).astype(feat.dtype))
      closer = higher & (d < best)
      best = jnp.where(closer, d, best)
      offset = jnp.where(closer, dy * w + dx, offset)
    return best, offset

  init = (jnp.full((h, w), jnp.inf, feat.dtype), jnp.zeros((h, w), jnp.int32))
  best, offset = _rows_of_offsets(radius, h, w, init, row)
  # skimage compares sqrt(best) > max_dist; squares are monotone on these non-negative numbers.
  offset = jnp.where(best > jnp.square(jnp.asarray(max_dist, feat.dtype)), 0, offset)
  return jnp.arange(h * w, dtype=jnp.int32) + offset.ravel()


def _largest_neighbour(comp: jax.Array, size: jax.Array) -> jax.Array:
  """``(N,)`` int32: for each component id, its adjacent component of most pixels (ties: highest id), or -1.

  Args:
    comp: ``(H, W)`` int32 component id per pixel (ids are flat pixel indices).
    size: ``(N,)`` int32 pixels per component id.
  """
  n = comp.size
  nb = neighbours(comp, -1)
  valid = (nb >= 0) & (nb != comp[None])
  nb_size = jnp.where(valid, size[jnp.maximum(nb, 0)], -1)
  own = jnp.broadcast_to(comp[None], nb.shape).ravel()
  top = jax.ops.segment_max(nb_size.ravel(), own, num_segments=n)
  cand = jnp.where(valid & (nb_size == top[comp][None]), nb, -1)
  return jax.ops.segment_max(cand.ravel(), own, num_segments=n)


def _key_above(size: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
  """Component ``a`` comes after ``b`` in (size, id) order."""
  return (size[a] > size[b]) | ((size[a] == size[b]) & (a > b))


def _merge_round(comp: jax.Array, merging: jax.Array) -> jax.Array:
  """One round: every component with ``merging[id]`` joins its largest neighbour; new ``(H, W)`` ids.

  Pointers to a larger neighbour form a forest, except that two merging components may each be the other's
  largest neighbour: the larger of such a pair stays (and, if still merging, moves on in the next round).
  """
  n = comp.size
  ids = jnp.arange(n, dtype=jnp.int32)
  size = jax.ops.segment_sum(jnp.ones(n, jnp.int32), comp.ravel(), num_segments=n)
  target = _largest_neighbour(comp, size)
  ptr = jnp.where(merging & (target >= 0), target, ids)
  ptr = jnp.where((ptr[ptr] == ids) & _key_above(size, ids, ptr), ids, ptr)
  return pointer_jump(ptr)[comp]


def _merge_fragments(root: jax.Array, height: int, width: int) -> tuple[jax.Array, jax.Array]:
  """Keeps each root's largest 4-connected piece; the other pieces join adjacent regions.

  Args:
    root: ``(H * W,)`` int32 quickshift root per pixel.

  Returns:
    ``(H, W)`` int32 component ids (each one 4-connected region) and ``(N,)`` int32 root per component id.
  """
  n = height * width
  comp = connected_components(root.reshape(height, width))
  flat = comp.ravel()
  size = jax.ops.segment_sum(jnp.ones(n, jnp.int32), flat, num_segments=n)
  top = jax.ops.segment_max(size[flat], root, num_segments=n)
  main = jax.ops.segment_min(jnp.where(size[flat] == top[root], flat, n), root, num_segments=n)
  is_main = jnp.zeros(n, bool).at[main[root]].set(True)  # fixed: pieces that grow never become main

  def has_fragment(c):
    return jnp.any(~is_main[c])

  comp = lax.while_loop(has_fragment, lambda c: _merge_round(c, ~is_main), comp)
  return comp, root  # a component id is one of its pixels, so root[id] is its label's root


def _cap(comp: jax.Array, bound: int) -> jax.Array:
  """Merges the smallest regions into their largest neighbours until at most ``bound`` remain."""
  n = comp.size
  ids = jnp.arange(n, dtype=jnp.int32)

  def count(c):
    return jnp.sum(jnp.zeros(n, bool).at[c.ravel()].set(True))

  def body(c):
    size = jax.ops.segment_sum(jnp.ones(n, jnp.int32), c.ravel(), num_segments=n)
    order = jnp.lexsort((ids, size))  # ids of no component (size 0) first, then regions smallest first
    rank = jnp.zeros(n, jnp.int32).at[order].set(ids)
    return _merge_round(c, rank < n - bound)

  return lax.while_loop(lambda c: count(c) > bound, body, comp)


def _relabel_by_root(comp: jax.Array, root: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Labels ``0..K-1`` in order of each region's quickshift root index (skimage's numbering), and K."""
  n = comp.size
  key = root[comp.ravel()]
  present = jnp.zeros(n, bool).at[key].set(True)
  rank = jnp.cumsum(present, dtype=jnp.int32) - 1
  return rank[key].reshape(comp.shape), jnp.sum(present, dtype=jnp.int32)


def quickshift(image: jax.Array, *, kernel_size: float = 4, max_dist: float = 200.0, ratio: float = 0.2,
               max_segments: int | None = None, random_seed: int = 42) -> tuple[jax.Array, jax.Array]:
  """Quickshift superpixels of one RGB image, traceable under ``jax.jit`` and ``jax.vmap``.

  Defaults are LIME's (``kernel_size=4, max_dist=200, ratio=0.2``). Jit with
  ``jax.jit(quickshift, static_argnames=STATIC_ARGNAMES)``; ``max_dist`` and ``ratio`` may be traced.

  Args:
    image: ``(H, W, 3)`` RGB, floats in [0, 1] (integers are scaled by their type's maximum).
    kernel_size: Gaussian width of the density in (scaled Lab, pixel) units; fixes the window
      radius ``ceil(3 * kernel_size)``.
    max_dist: a pixel whose nearest higher-density pixel is farther than this is a root.
    ratio: weight of colour against position (the Lab image is multiplied by it).
    max_segments: static bound on K; ``None`` takes :func:`default_max_segments` of the image size. Beyond it the
      smallest regions join their largest adjacent region.
    random_seed: seed of skimage's tie-breaking noise (skimage's ``rng``, 42 by default).

  Returns:
    ``labels`` ``(H, W)`` int32 in ``0..K-1``, each label one 4-connected region, and ``K`` as an int32
    scalar, at most ``max_segments``.

  Raises:
    ValueError: the image is not ``(H, W, 3)``, ``kernel_size < 1`` or ``max_segments < 2``.
  """
  image = jnp.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise ValueError(f"image must be (H, W, 3) RGB, got shape {image.shape}")
  h, w = image.shape[:2]
  bound = segment_bound(h, w, kernel_size=kernel_size, max_segments=max_segments)
  radius = window_radius(kernel_size)
  feat = _features(image, ratio)
  dens = _density(feat, radius, kernel_size)
  noise = jnp.asarray(tie_noise(h, w, random_seed))
  root = pointer_jump(_parents(feat, dens, noise, radius, max_dist))
  comp, root = _merge_fragments(root, h, w)
  return _relabel_by_root(_cap(comp, bound), root)


def one_region_per_label(labels: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Makes every label one 4-connected region the way ``quickshift`` does, for any ``(H, W)`` label map.

  Each label keeps its largest 4-connected piece; every other piece joins its largest adjacent region.
  Applied to skimage's quickshift labels it shows how much of a difference is this step alone.

  Args:
    labels: ``(H, W)`` integer labels in ``0..H*W-1``.

  Returns:
    ``(H, W)`` int32 labels ``0..K-1`` in the order of the input label values, and K.
  """
  h, w = labels.shape
  comp, root = _merge_fragments(jnp.asarray(labels, jnp.int32).ravel(), h, w)
  return _relabel_by_root(comp, root)


def quickshift_batch(images: jax.Array, **options: Any) -> tuple[jax.Array, jax.Array]:
  """``quickshift`` over a batch of same-size images.

  Args:
    images: ``(B, H, W, 3)`` RGB.
    **options: keyword options of ``quickshift``; jit with ``static_argnames=STATIC_ARGNAMES``.

  Returns:
    ``(B, H, W)`` int32 labels and ``(B,)`` int32 segment counts.
  """
  return jax.vmap(lambda image: quickshift(image, **options))(images)
