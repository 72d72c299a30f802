"""Choosing the classifier: model name, weights and the class to explain, checked before any work starts."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Optional, Sequence

from evojax_lime.cli.errors import CliError, usage_error


def bundled_weights(name: str) -> Optional[str]:
  """Why ``name`` has no usable pretrained weights, or ``None`` if it has them (installed).

  Returns a short reason rather than a bool because "not bundled" and "package not installed" need different
  advice.
  """
  import models

  spec = models.spec(name)
  if spec.pretrained is None:
    return "no bundled weights"
  try:
    spec.pretrained()
  except (FileNotFoundError, models.WeightsNotInstalledError) as err:
    return str(err)
  return None


def load_model(name: str, weights: str, *, dtype: str) -> Any:
  """``models.create`` with every failure turned into a one-line :class:`CliError`.

  Unknown models, and weights that are missing or not bundled, are usage errors (status 2); a weights file
  that is hostile, does not fit or cannot be read is a runtime failure (status 1).
  """
  import jax.numpy as jnp
  import models

  if name not in models.available():
    close = difflib.get_close_matches(name, models.available(), n=3)
    hint = f"did you mean {' or '.join(close)}?" if close else f"available: {', '.join(models.available())}"
    raise usage_error(f"unknown model {name!r}; {hint}")
  if weights == "pretrained":
    reason = bundled_weights(name)
    if reason == "no bundled weights":
      have = [n for n in models.available() if bundled_weights(n) is None]
      raise usage_error(f"{name} has no bundled weights; pass --weights FILE, or use one of: {', '.join(have)}")
    if reason is not None:
      raise CliError(reason)
  elif weights == "torchvision":
    try:
      models.torchvision_weights.checkpoint(name)
    except ValueError as err:  # missing or corrupt: the message says what to fetch and where
      raise CliError(str(err)) from None
  elif not Path(weights).is_file():
    raise usage_error(f"--weights: {weights}: {'not a file' if Path(weights).exists() else 'no such file'}")
  try:
    return models.create(name, weights, dtype=jnp.dtype(dtype))
  except models.UnsafeCheckpointError as err:
    raise CliError(f"refusing to load {weights}: {err}") from None
  except models.CheckpointMismatchError as err:
    raise CliError(f"weights {weights} do not fit {name}: {err}") from None
  except (ValueError, OSError) as err:
    raise CliError(f"cannot load weights {weights} for {name}: {err}") from None


def _normal(name: str) -> str:
  return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


def resolve_target(target: Optional[str], class_names: Sequence[str]) -> Optional[int]:
  """``--target`` as a class index: a number in range, or a class name (case, ``_`` and ``-`` ignored).

  Raises:
    CliError: (usage) an index out of range, or a name no class has (with the closest names).
  """
  if target is None:
    return None
  n = len(class_names)
  if target.strip().lstrip("-").isdigit():
    index = int(target)
    if not 0 <= index < n:
      raise usage_error(f"--target {index} is out of range: {n} classes, 0..{n - 1}")
    return index
  by_name: dict[str, list[int]] = {}
  for i, c in enumerate(class_names):
    by_name.setdefault(_normal(c), []).append(i)
  ids = by_name.get(_normal(target), [])
  if len(ids) == 1:
    return ids[0]
  if ids:
    raise usage_error(f"--target {target!r} names several classes ({', '.join(map(str, ids))}); pass the index")
  close = difflib.get_close_matches(_normal(target), list(by_name), n=3)
  hint = f"; closest: {', '.join(close)}" if close else ""
  raise usage_error(f"--target {target!r} is no class of this model{hint}")


def randomised_models(model: Any, *, layers: list[int], seed: int) -> list[Any]:
  """``model`` with its last ``n`` layers re-initialised, for each ``n`` in ``layers`` (``--sanity``, a cascade
  when there are several); too many layers is a usage error."""
  from models.randomised import cascade

  try:
    return cascade(model, depths=layers, seed=seed)
  except ValueError as err:
    raise usage_error(f"--sanity: {err}") from None
