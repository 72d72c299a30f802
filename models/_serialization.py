"""Flax-native weight files: convert a torch checkpoint once, then load the ``.msgpack`` without torch code."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import jax
from flax import serialization

from models import _msgpack
from models._checkpoint_errors import CheckpointError, CorruptCheckpointError
from models._model import Model

_FORMAT = "evojax-lime-variables/1"


def save_variables(path: Union[str, os.PathLike], variables: Union[Model, Mapping[str, Any]], *,
                   name: Optional[str] = None) -> Path:
  """Writes Flax variables as msgpack, tagged with the model name so a mismatch is caught on load.

  Args:
    path: destination file, conventionally ``*.msgpack``.
    variables: a :class:`Model` (its name is recorded) or a ``{"params": ..., "batch_stats": ...}`` tree.
    name: registry name to record when ``variables`` is a plain tree.

  Returns:
    ``path`` as a ``Path``.
  """
  if isinstance(variables, Model):
    name, variables = name or variables.name, variables.variables
  if not isinstance(variables, Mapping) or "params" not in variables:
    raise ValueError(f"expected a Model or a Flax variables dict with 'params', got {type(variables).__name__}")
  tree = {"format": _FORMAT, "model": name or "", "variables": serialization.to_state_dict(jax.device_get(variables))}
  path = Path(path)
  path.write_bytes(serialization.msgpack_serialize(tree))
  return path


def read_variables(path: Union[str, os.PathLike]) -> tuple[Optional[str], dict]:
  """``(recorded model name or None, variables)`` of a file from :func:`save_variables` or ``flax.serialization``.

  Raises:
    CorruptCheckpointError: (a ``ValueError``) missing, unreadable or damaged file, or one that holds no Flax
      variables.
  """
  path = Path(path)
  if not path.is_file():
    raise CorruptCheckpointError(f"{path} is not a file" + ("" if path.exists() else " (it does not exist)"))
  try:
    tree = _msgpack.restore(path.read_bytes())
  except CheckpointError as err:
    raise CorruptCheckpointError(f"{path}: not a readable msgpack variables file: {err}") from None
  except OSError as err:
    raise CorruptCheckpointError(f"{path}: cannot read: {err}") from None
  name = None  # Plain flax.serialization.to_bytes(variables) output records none.
  if isinstance(tree, dict) and tree.get("format") == _FORMAT:
    name, tree = tree.get("model") or None, tree.get("variables")
    if name is not None and not isinstance(name, str):
      raise CorruptCheckpointError(f"{path}: the recorded model name is a {type(name).__name__}")
  if not isinstance(tree, dict) or not isinstance(tree.get("params"), dict):
    raise CorruptCheckpointError(f"{path} holds no Flax variables (a dict with 'params')")
  try:
    return name, jax.tree_util.tree_map(_msgpack.numeric, tree)
  except CheckpointError as err:
    raise CorruptCheckpointError(f"{path}: {err}") from None


def load_variables(path: Union[str, os.PathLike]) -> dict:
  """Reads Flax variables ``{"params": ..., "batch_stats": ...}`` (numpy arrays) written by :func:`save_variables`.

  Raises:
    ValueError: missing, unreadable or damaged file, or one that holds no Flax variables.
  """
  return read_variables(path)[1]
