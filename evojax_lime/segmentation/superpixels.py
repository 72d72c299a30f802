"""Image -> superpixel labels ``(H, W)`` int32 in 0..K-1, and the static genome length they are padded to."""
from __future__ import annotations

import functools
import math
from typing import Any, Mapping

import numpy as np

# LIME's quickshift settings (lime.wrappers.scikit_image.SegmentationAlgorithm defaults in LimeImageExplainer).
LIME_QUICKSHIFT = {"kernel_size": 4, "max_dist": 200, "ratio": 0.2}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "quickshift": LIME_QUICKSHIFT,
    "slic": {"n_segments": 100, "compactness": 10.0, "start_label": 0},
    "felzenszwalb": {"scale": 100.0, "sigma": 0.8, "min_size": 50},
    "grid": {"n_segments": 64},
    "slic_jax": {"n_segments": 100, "compactness": 10.0},
    "quickshift_jax": LIME_QUICKSHIFT,
    "auto": LIME_QUICKSHIFT,
}
# Segmentations written in JAX, which can run inside the compiled program.
IN_PROGRAM = ("slic_jax", "quickshift_jax")


def runs_in_program(method: str) -> bool:
  """Whether ``method`` cuts the superpixels inside the compiled program.

  ``"auto"`` is ``quickshift_jax``'s superpixels: inside the program on an accelerator, where they cost next to
  nothing; on a CPU default backend on the host (:mod:`evojax_lime.segmentation.quickshift_host`), where the
  JAX quickshift costs several seconds of compile and the host cut a fraction of a second per photo."""
  if method == "auto":
    import jax  # deferred: the choice is the backend's
    return jax.default_backend() != "cpu"
  return method in IN_PROGRAM


MIN_GENOME_LENGTH = 16


def relabel(labels: np.ndarray) -> np.ndarray:
  """Any integer label map -> ``(H, W)`` int32 labels 0..K-1 in order of first value."""
  labels = np.asarray(labels)
  if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f"segments must be an (H, W) integer label map, got shape {labels.shape} dtype {labels.dtype}")
  _, inverse = np.unique(labels, return_inverse=True)
  return inverse.reshape(labels.shape).astype(np.int32)


def grid_segments(height: int, width: int, n_segments: int) -> np.ndarray:
  """A regular grid of about ``n_segments`` near-square cells, ``(H, W)`` int32."""
  rows = max(1, round(math.sqrt(n_segments * height / width)))
  cols = max(1, round(n_segments / rows))
  r = np.minimum(np.arange(height) * rows // height, rows - 1)
  c = np.minimum(np.arange(width) * cols // width, cols - 1)
  return (r[:, None] * cols + c[None, :]).astype(np.int32)


def segment(image: np.ndarray, method: str = "quickshift", params: Mapping[str, Any] | None = None) -> np.ndarray:
  """Superpixels of an ``(H, W, 3)`` float image in [0, 1].

  Args:
    image: ``(H, W, 3)`` float32 RGB in [0, 1].
    method: ``"quickshift"``, ``"slic"``, ``"felzenszwalb"``, ``"grid"``, ``"slic_jax"``, ``"quickshift_jax"`` or
      ``"auto"`` (``quickshift_jax``'s superpixels, cut with scikit-image's quickshift and numpy).
    params: keyword arguments overriding the method's defaults.

  Returns:
    ``(H, W)`` int32 labels 0..K-1.
  """
  if method not in _DEFAULTS:
    raise ValueError(f"segmentation must be one of {', '.join(_DEFAULTS)}; got {method!r}")
  kwargs = {**_DEFAULTS[method], **dict(params or {})}
  from skimage import segmentation as sk  # deferred: only host segmentation needs it

  try:
    if method == "grid":
      labels = grid_segments(image.shape[0], image.shape[1], **kwargs)
    elif method == "auto":
      from evojax_lime.segmentation import quickshift_host
      labels = quickshift_host.quickshift(image, **kwargs)
    elif method in IN_PROGRAM:
      labels = np.asarray(in_program_labels(image, method, params or {}, jit=True)[0])
    elif method == "quickshift":
      labels = sk.quickshift(image.astype(np.float64), **kwargs)
    elif method == "slic":
      labels = sk.slic(image.astype(np.float64), channel_axis=-1, **kwargs)
    else:
      labels = sk.felzenszwalb(image.astype(np.float64), channel_axis=-1, **kwargs)
  except TypeError as e:  # an unknown keyword from the caller
    raise ValueError(f"bad segmentation_params for {method}: {e}") from None
  return relabel(labels)


def _jax_module(method: str):
  if method == "slic_jax":
    from evojax_lime.segmentation import slic_jax
    return slic_jax, slic_jax.slic
  if method in ("quickshift_jax", "auto"):
    from evojax_lime.segmentation import quickshift_jax
    return quickshift_jax, quickshift_jax.quickshift
  raise ValueError(f"segmentation {method!r} cannot run inside the program; use one of {', '.join(IN_PROGRAM)}")


def in_program_params(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
  """The options of a JAX segmentation: its defaults overridden by ``params``."""
  _jax_module(method)
  return {**_DEFAULTS[method], **dict(params)}


def in_program_labels(image, method: str, params: Mapping[str, Any], *, jit: bool = False):
  """JAX segmentation of one ``(H, W, 3)`` image -> ``((H, W) int32 labels, K)``, traceable.

  Args:
    image: ``(H, W, 3)`` float RGB in [0, 1].
    method: ``"slic_jax"`` (:mod:`evojax_lime.segmentation.slic_jax`) or ``"quickshift_jax"`` (:mod:`evojax_lime.segmentation.quickshift_jax`).
    params: keyword options overriding the method's defaults.
    jit: run the cached jitted function (host use) rather than tracing into the caller's program.
  """
  opts = in_program_params(method, params)
  fn = _jitted(method) if jit else _jax_module(method)[1]
  try:
    return fn(image, **opts)
  except TypeError as e:
    raise ValueError(f"bad segmentation_params for {method}: {e}") from None


@functools.lru_cache(maxsize=None)
def _jitted(method: str):
  import jax
  module, fn = _jax_module(method)
  return jax.jit(fn, static_argnames=module.STATIC_ARGNAMES)


def in_program_max_segments(method: str, height: int, width: int, params: Mapping[str, Any]) -> int:
  """Static bound on K of a JAX segmentation of an ``(H, W)`` image: the genome length it needs."""
  module, _ = _jax_module(method)
  opts = in_program_params(method, params)
  try:
    if method == "slic_jax":
      return module.max_segments(height, width, n_segments=opts["n_segments"],
                                 enforce_connectivity=opts.get("enforce_connectivity", True),
                                 min_size_factor=opts.get("min_size_factor", 0.5))
    return module.segment_bound(height, width, kernel_size=opts["kernel_size"], max_segments=opts.get("max_segments"))
  except TypeError as e:
    raise ValueError(f"bad segmentation_params for {method}: {e}") from None


def genome_length(num_segments: int, fixed: int | None = None) -> int:
  """Static genome length for K superpixels: ``fixed`` if given, else the next power of two (>= 16)."""
  if fixed is not None:
    if fixed < num_segments:
      raise ValueError(f"genome_length {fixed} is smaller than the number of superpixels {num_segments}")
    return fixed
  return max(MIN_GENOME_LENGTH, 1 << (num_segments - 1).bit_length())
