"""Checks at the boundary: every bad input becomes one clear ValueError.

Every entry point (``explain``, ``explain_batch``, ``explain_front``, ``Search``, ``study``, ``explain_lime``, the
lime drop-in) reaches these through :func:`evojax_lime.engine.preparation.prepare` and :class:`Search`, so each
rule and its message live here once.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# A row of probabilities sums to 1 within this (bfloat16 outputs round each class to 8 bits).
SUM_TOLERANCE = 0.02
# Probabilities may stray this far outside [0, 1] by rounding.
RANGE_TOLERANCE = 1e-3
# Element counts past this cannot be indexed by the program's int32 positions.
_INT32_LIMIT = 2 ** 31 - 1
# A search whose state and step working set would take more than this share of the device's memory is refused.
MEMORY_SHARE = 0.25


def as_image(image: Any, *, name: str = "image") -> np.ndarray:
  """Any RGB-like image -> ``(H, W, 3)`` float32 in [0, 1].

  Accepts numpy/JAX arrays and PIL images. Unsigned integers are scaled by their dtype's range, whatever the
  values: uint8 by 255, uint16 by 65,535, uint32 by 2**32 - 1, uint64 by 2**64 - 1. bool is 0 or 1; real floats
  must already lie in [0, 1]. Signed integers and complex numbers are refused: their range says nothing about
  the scale. Grayscale ``(H, W)`` / ``(H, W, 1)`` is repeated to RGB and an alpha channel ``(H, W, 4)`` dropped.
  """
  arr = np.asarray(image)
  if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
    raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
  if np.issubdtype(arr.dtype, np.complexfloating):
    raise ValueError(f"{name} must be real, got complex dtype {arr.dtype}")
  if np.issubdtype(arr.dtype, np.signedinteger):
    raise ValueError(f"{name} has signed integer dtype {arr.dtype}, whose scale is unknown: pass uint8 (0..255), "
                     f"uint16 (0..65535) or float in [0, 1]")
  if arr.ndim == 3 and arr.shape[-1] == 1:
    arr = arr[..., 0]
  if arr.ndim == 2:
    arr = np.repeat(arr[..., None], 3, axis=-1)
  if arr.ndim == 3 and arr.shape[-1] == 4:
    arr = arr[..., :3]
  if arr.ndim != 3 or arr.shape[-1] != 3:
    raise ValueError(f"{name} must be (H, W, 3) RGB (or grayscale / RGBA), got shape {arr.shape}")
  if arr.shape[0] < 2 or arr.shape[1] < 2:
    raise ValueError(f"{name} must be at least 2 x 2 pixels, got {arr.shape[0]} x {arr.shape[1]}")
  if arr.dtype == bool:
    return arr.astype(np.float32)
  if np.issubdtype(arr.dtype, np.unsignedinteger):
    return (arr / float(np.iinfo(arr.dtype).max)).astype(np.float32)
  arr = arr.astype(np.float32)
  if not np.isfinite(arr).all():
    raise ValueError(f"{name} has NaN or infinite pixels")
  if arr.min() < 0.0 or arr.max() > 1.0:
    raise ValueError(f"float {name} values must lie in [0, 1], got [{arr.min():.4g}, {arr.max():.4g}]")
  return arr


def class_index(target: Any) -> int:
  """A class index: an integer >= 0 (its upper bound is the classifier's, see :func:`check_targets`)."""
  if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
    raise ValueError(f"target must be an integer class index, got {target!r}")
  if int(target) < 0:
    raise ValueError(f"target must be a class index >= 0, got {int(target)}")
  return int(target)


def check_targets(targets: Any, num_classes: int) -> None:
  """Every given target (``None``: the top-1) lies below the classifier's class count."""
  for target in targets:
    if target is not None and not 0 <= target < num_classes:
      raise ValueError(f"target {target} is out of range: the classifier has {num_classes} classes "
                       f"(0..{num_classes - 1})")


def check_superpixel_count(k: int) -> None:
  """At least two superpixels: with fewer there is nothing to select between."""
  if k < 2:
    raise ValueError("the image has fewer than 2 superpixels; there is nothing to select between")


def check_segments(labels: np.ndarray, shape: tuple[int, int]) -> None:
  """Label map must match the image and hold at least two superpixels."""
  if labels.shape != shape:
    raise ValueError(f"segments shape {labels.shape} does not match the image's {shape}")
  check_superpixel_count(int(labels.max()) + 1)


def check_verdict(row: Any, *, logits: bool) -> None:
  """The classifier's raw output on the full image, as ``(sum, min, max)`` of its row, means what ``logits`` says.

  Without ``logits`` the row must be probabilities: non-negative, summing to 1 (within :data:`SUM_TOLERANCE`),
  so logits that happen to lie in [0, 1] are refused. With ``logits`` a row that is already probabilities is
  refused: a softmax over it would flatten every probability towards 1 / C.

  Raises:
    ValueError: the row is not what ``logits`` says, or not finite.
  """
  total, low, high = (float(x) for x in np.asarray(row, np.float64))
  if not np.isfinite([total, low, high]).all():
    raise ValueError("classifier returned NaN or infinite values for the unmasked image")
  sums_to_one = abs(total - 1.0) <= SUM_TOLERANCE
  if not logits and (low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE or not sums_to_one):
    raise ValueError(f"classifier outputs are not probabilities (on the full image they lie in [{low:.4g}, "
                     f"{high:.4g}] and sum to {total:.4g}); pass logits=True if it returns logits")
  if logits and low >= 0 and high <= 1 and sums_to_one:
    raise ValueError(f"logits=True, but the classifier returns probabilities (on the full image in [{low:.4g}, "
                     f"{high:.4g}], summing to {total:.4g}); a softmax over them would be wrong: pass logits=False")


def check_sizes(*, rows: int, population: int, length: int, generations: int, memory_bytes: int) -> None:
  """Refuses, from the shapes alone, a search too large to hold, before anything of that size is allocated.

  The estimate is a lower bound on what a search holds: per row, the population and its candidates (a byte per
  gene each), the float32 draws of crossover and mutation (4 bytes per gene each), the per-size archive
  (``(L + 1) x L`` genes) and its history (``(G + 1) x (L + 1)`` float32), and the fitness histories.

  Args:
    rows: images x restarts.
    population: individuals per row (P).
    length: genome length (L).
    generations: G.
    memory_bytes: the device's memory.

  Raises:
    ValueError: the shapes cannot be indexed or held, in one line with the numbers.
  """
  genes = rows * population * length
  if rows * population > _INT32_LIMIT or genes > _INT32_LIMIT:
    raise ValueError(f"a search of {rows} rows x population {population} x genome length {length} has more "
                     f"genes than the program can index (2**31 - 1): use fewer images, restarts or a smaller "
                     f"population")
  need = 10 * genes + rows * ((length + 1) * length + 4 * (generations + 1) * (length + 3) + 12 * population)
  if need > MEMORY_SHARE * memory_bytes:
    raise ValueError(f"a search of {rows} rows x population {population} x genome length {length} x "
                     f"{generations} generations needs at least {need / 2**30:.1f} GiB, more than a quarter of "
                     f"the device's {memory_bytes / 2**30:.1f} GiB: use fewer images, restarts, generations or a "
                     f"smaller population")
