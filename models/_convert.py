"""Building blocks for torch state_dict -> Flax variable converters.

A converter walks the torch keys through a :class:`StateDict`, which records every key it hands out and every
key it was asked for but did not have. :meth:`StateDict.finish` then rejects a checkpoint that does not fit
the model, listing missing and unexpected keys; :func:`check_shapes` lists mis-shaped ones against the module.
"""
from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from models._checkpoint_errors import CheckpointError

# Bookkeeping buffers that carry no weights.
_IGNORED_SUFFIXES = ("num_batches_tracked",)


class CheckpointMismatchError(CheckpointError):
  """A checkpoint's keys or shapes do not fit the chosen architecture."""


def _listing(title: str, keys: list[str], limit: int = 8) -> str:
  shown = ", ".join(keys[:limit]) + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")
  return f"{title}: {shown}"


class StateDict:
  """A torch state_dict (numpy values) that remembers which keys a converter used."""

  def __init__(self, state_dict: Mapping[str, Any]):
    self._sd = {k: np.asarray(v) for k, v in state_dict.items()}
    self._used: set[str] = set()
    self._missing: list[str] = []

  def __contains__(self, key: str) -> bool:
    return key in self._sd

  def take(self, key: str) -> np.ndarray:
    """The array at ``key``; a missing key is recorded and a zero-size placeholder returned."""
    if key not in self._sd:
      self._missing.append(key)
      return np.zeros((0,), np.float32)
    self._used.add(key)
    return self._sd[key].astype(np.float32)

  def conv(self, prefix: str, *, bias: bool = False) -> dict:
    """torch Conv2d ``(O, I/groups, kh, kw)`` -> Flax Conv ``{"kernel": (kh, kw, I/groups, O)}``."""
    w = self.take(f"{prefix}.weight")
    out = {"kernel": w.transpose(2, 3, 1, 0) if w.ndim == 4 else w}
    if bias:
      out["bias"] = self.take(f"{prefix}.bias")
    return out

  def dense(self, prefix: str, *, bias: bool = True) -> dict:
    """torch Linear ``(O, I)`` -> Flax Dense ``{"kernel": (I, O), "bias": (O,)}``."""
    w = self.take(f"{prefix}.weight")
    out = {"kernel": w.T if w.ndim == 2 else w}
    if bias:
      out["bias"] = self.take(f"{prefix}.bias")
    return out

  def batch_norm(self, prefix: str) -> tuple[dict, dict]:
    """torch BatchNorm2d -> (Flax params ``{"scale", "bias"}``, batch_stats ``{"mean", "var"}``)."""
    params = {"scale": self.take(f"{prefix}.weight"), "bias": self.take(f"{prefix}.bias")}
    stats = {"mean": self.take(f"{prefix}.running_mean"), "var": self.take(f"{prefix}.running_var")}
    return params, stats

  def finish(self, model_name: str) -> None:
    """Raises :class:`CheckpointMismatchError` unless every key was used and none was missing."""
    unexpected = sorted(k for k in self._sd if k not in self._used and not k.endswith(_IGNORED_SUFFIXES))
    if self._missing or unexpected:
      parts = []
      if self._missing:
        parts.append(_listing("missing keys", self._missing))
      if unexpected:
        parts.append(_listing("unexpected keys", unexpected))
      raise CheckpointMismatchError(f"checkpoint does not fit {model_name}: " + "; ".join(parts))


def check_shapes(variables: dict, module: Any, input_shape: tuple[int, ...], model_name: str) -> dict:
  """Checks converted ``variables`` against ``module``'s own variable shapes; returns them as jnp arrays.

  Raises:
    CheckpointMismatchError: listing every variable whose shape differs, or that one side lacks.
  """
  expected = jax.eval_shape(module.init, jax.random.PRNGKey(0), jnp.zeros(input_shape, jnp.float32))
  want = traverse_util.flatten_dict(jax.tree_util.tree_map(lambda a: tuple(a.shape), expected), sep="/")
  got = traverse_util.flatten_dict(variables, sep="/")
  problems = [f"{k} {tuple(np.shape(got[k]))} != {want[k]}" for k in want if k in got and tuple(np.shape(got[k])) != want[k]]
  missing = [k for k in want if k not in got]
  extra = [k for k in got if k not in want]
  if problems or missing or extra:
    parts = [_listing(t, v) for t, v in (("mis-shaped", problems), ("not converted", missing), ("unknown", extra)) if v]
    raise CheckpointMismatchError(f"checkpoint does not fit {model_name}: " + "; ".join(parts))
  return jax.tree_util.tree_map(jnp.asarray, variables)
