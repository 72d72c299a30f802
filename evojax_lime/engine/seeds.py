"""Seeds and keys: every random choice of a run flows from the key made here."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _is_typed_key(x: Any) -> bool:
  return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _is_raw_key(x: Any) -> bool:
  return isinstance(x, (jax.Array, np.ndarray)) and x.shape == (2,) and x.dtype == np.uint32


def prng_key(seed: Any) -> jax.Array:
  """An integer seed in ``[0, 2**64)`` or an existing PRNG key (typed, or raw ``uint32 (2,)``) -> PRNG key.

  An integer seed is kept whole: its high and low 32 bits are the key's two words, as ``jax.random.PRNGKey``
  makes them with 64-bit integers enabled (below 2**32 it is ``jax.random.PRNGKey(seed)`` either way), so no two
  seeds share a key. Negative seeds are refused: as 64-bit words they would collide with large ones.
  """
  if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
    seed = int(seed)
    if not 0 <= seed < 2 ** 64:
      raise ValueError(f"an integer seed must lie in [0, 2**64), got {seed}")
    if seed < 2 ** 32:
      return jax.random.PRNGKey(seed)
    return jnp.asarray(np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32))
  if (_is_typed_key(seed) and seed.shape == ()) or _is_raw_key(seed):
    return jnp.asarray(seed)
  raise ValueError(f"seed must be an integer in [0, 2**64) or a jax.random key, got {seed!r}")


def per_image_seeds(seeds: Any, n: int) -> list:
  """``seeds`` for ``n`` images -> one seed (int or key) per image.

  Accepted: one integer or one key for every image; a sequence of ``n`` seeds; an integer array of shape
  ``(n,)`` (one seed each); keys from ``jax.random.split(key, n)`` (raw ``(n, 2)`` or typed ``(n,)``). A raw key
  ``uint32 (2,)`` is one key for every image, except for two images, where it could equally be two seeds and is
  refused.
  """
  if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
    return [seeds] * n
  if _is_typed_key(seeds):
    if seeds.shape == ():
      return [seeds] * n
    if seeds.shape == (n,):
      return list(seeds)
    raise ValueError(f"seeds must hold one key per image ({n}), got keys of shape {seeds.shape}")
  if isinstance(seeds, (jax.Array, np.ndarray)):
    if _is_raw_key(seeds):
      if n == 2:
        raise ValueError("seeds of shape (2,) uint32 are ambiguous for two images (one raw key, or two seeds): "
                         "pass a list of integers or jax.random.split(key, 2)")
      return [seeds] * n
    if not np.issubdtype(seeds.dtype, np.integer):
      raise ValueError(f"seeds must be integers or jax.random keys, got an array of dtype {seeds.dtype}")
    if seeds.shape == (n, 2) and seeds.dtype == np.uint32:
      return list(seeds)
    if seeds.shape != (n,):
      raise ValueError(f"seeds must have one entry per image ({n}), got an array of shape {seeds.shape}")
    return [int(s) for s in np.asarray(seeds)]
  if seeds is None or isinstance(seeds, (str, bytes, bool)):
    raise ValueError(f"seeds must be an integer, a key, or one of them per image; got {seeds!r}")
  values = list(seeds)
  if len(values) != n:
    raise ValueError(f"seeds must have one entry per image ({n}), got {len(values)}")
  return values


def recorded(seed: Any) -> Any:
  """A seed as a JSON-ready value: the integer, or the key's data as a list."""
  if isinstance(seed, (int, np.integer)):
    return int(seed)
  data = jax.random.key_data(seed) if _is_typed_key(seed) else seed
  return np.asarray(data).tolist()


# The stream a seed's independent keys are folded from (fold_in is used nowhere else).
_INDEPENDENT_STREAM = 0x5A11


def independent_seeds(seeds: list) -> list:
  """A key per seed (int or key) for a second run that must share no random draw with the first, such as the
  rerun under a randomised classifier that a sanity score compares with: ``fold_in(prng_key(seed), stream)``,
  raw ``uint32 (2,)``. Deterministic, so the score is a function of the seed too."""
  out = []
  for seed in seeds:
    key = jax.random.fold_in(prng_key(seed), _INDEPENDENT_STREAM)
    out.append(np.asarray(jax.random.key_data(key) if _is_typed_key(key) else key, np.uint32))
  return out
