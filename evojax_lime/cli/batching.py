"""How many photos go into one ``explain_batch`` call, and how a folder is split into such calls.

The rule (documented in ``--help`` and the README): a batch of B photos evaluates B x population masked images
per generation. B is chosen so that this stays near :data:`ROWS_PER_GENERATION` for the backend (enough rows to
keep an accelerator busy, no more than a CPU gains from), at most :data:`MAX_BATCH`, and at most the photos left.
Every call of a run uses the same B, so one compiled program serves the whole folder.
"""
from __future__ import annotations

import math

# Masked images evaluated per generation by one batch. A CPU's convolutions stop gaining from a larger batch
# long before an accelerator's do; past these, a larger batch only delays the first written files.
ROWS_PER_GENERATION = {"cpu": 256}
ACCELERATOR_ROWS = 4096
MAX_BATCH = 64


def auto_batch_size(population: int, *, backend: str) -> int:
  """Photos per ``explain_batch`` call for this population on ``backend`` (``jax.default_backend()``)."""
  rows = ROWS_PER_GENERATION.get(backend, ACCELERATOR_ROWS)
  return max(1, min(MAX_BATCH, rows // population))


def plan(num_photos: int, batch_size: int) -> list[int]:
  """Sizes of the batches that explain ``num_photos``: as few as ``batch_size`` allows, as even as possible.

  The sizes differ by at most one, so (with :func:`padding`) every call shares one program: 65 photos in
  batches of at most 16 become 5 x 13, not 4 x 16 + 1.
  """
  if num_photos <= 0:
    return []
  count = math.ceil(num_photos / batch_size)
  size = math.ceil(num_photos / count)
  full = num_photos - count * (size - 1)  # batches of `size`; the rest hold one photo less
  return [size] * full + [size - 1] * (count - full)


def padding(photos: int, size: int) -> int:
  """Copies to add to a batch of ``photos`` so that it reuses the program compiled for ``size``.

  A batch that is short by at most an eighth of ``size`` (or by one photo) is topped up with copies of its
  photos, whose results are dropped: cheaper than compiling a program for a new batch size. A batch short by
  more (several of its photos could not be read) runs at its own size.
  """
  short = size - photos
  return short if 0 < short <= max(1, size // 8) else 0
