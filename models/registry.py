"""Named architectures and :func:`create`, which pairs one with weights from wherever they come.

Each family module exports ``SPECS: dict[str, ModelSpec]``; adding a family means importing it and listing it
in ``_FAMILIES``.
"""
from __future__ import annotations

import functools
import importlib.resources
import os
from pathlib import Path
from typing import Any, Mapping, Union

import jax
import jax.numpy as jnp
import numpy as np

from models import convnext, densenet, efficientnet_lite, mobilenet, resnet, torchvision_weights, vit
from models._convert import CheckpointMismatchError, check_shapes
from models._model import Model
from models._serialization import read_variables
from models._spec import ModelSpec
from models.torch_reader import load_torch_checkpoint

_FAMILIES = (efficientnet_lite, resnet, densenet, mobilenet, vit, convnext)

Weights = Union[None, str, os.PathLike, Mapping[str, Any]]


@functools.cache
def _specs() -> dict[str, ModelSpec]:
  specs: dict[str, ModelSpec] = {}
  for family in _FAMILIES:
    clashes = specs.keys() & family.SPECS.keys()
    if clashes:
      raise RuntimeError(f"{family.__name__} redefines models {sorted(clashes)}")
    specs.update(family.SPECS)
  return specs


def available() -> list[str]:
  """Sorted names :func:`create` accepts."""
  return sorted(_specs())


def spec(name: str) -> ModelSpec:
  """The :class:`ModelSpec` registered as ``name`` (input size, normalisation, bundled weights).

  Raises:
    ValueError: for an unknown name, listing the available ones.
  """
  try:
    return _specs()[name]
  except KeyError:
    raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}") from None


@functools.cache
def _imagenet_classes() -> tuple[str, ...]:
  text = importlib.resources.files("models").joinpath("data/imagenet_classes.txt").read_text(encoding="utf-8")
  return tuple(text.splitlines())


def imagenet_classes() -> list[str]:
  """The 1000 ImageNet-1k class names in output index order (e.g. index 281 is ``"tabby"``)."""
  return list(_imagenet_classes())


def _checkpoint_path(spec: ModelSpec, weights: Union[str, os.PathLike]) -> Path:
  if weights == "pretrained":
    if spec.pretrained is None:
      bundled = [n for n in available() if _specs()[n].pretrained is not None]
      raise ValueError(f"{spec.name} has no bundled weights; models that do: {', '.join(bundled)}")
    return Path(spec.pretrained())
  if weights == "torchvision":
    return torchvision_weights.checkpoint(spec.name)
  path = Path(weights)
  if not path.is_file():
    raise ValueError(f"weights must be None, 'pretrained', 'torchvision', variables or a checkpoint file; "
                     f"{str(weights)!r} {'is not a file' if path.exists() else 'does not exist'}")
  return path


class _KnownShapes:
  """Stands in for a module in :func:`check_shapes`: ``init`` returns its variables' shapes, traced once."""

  def __init__(self, module: Any, input_shape: tuple[int, ...]):
    self.abstract = jax.eval_shape(module.init, jax.random.PRNGKey(0),
                                   jax.ShapeDtypeStruct(input_shape, jnp.float32))

  def init(self, *_) -> Any:
    return jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), self.abstract)


def _torch_variables(spec: ModelSpec, path: Path, known: _KnownShapes, input_shape: tuple[int, ...]) -> dict:
  """Converts a torch checkpoint whose keys and shapes were checked before any tensor data was read.

  The check converts zero-memory placeholders of the saved shapes; its allocations are bounded by the
  model's own size first, so a checkpoint declaring huge tensors is refused without allocating them.
  """
  size = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(known.abstract))

  def check(layout: Mapping[str, np.ndarray]) -> None:
    declared = sum(a.size for a in layout.values())
    # Each key may also be a scalar bookkeeping buffer (num_batches_tracked) that is no variable.
    if declared > size + len(layout):
      raise CheckpointMismatchError(f"checkpoint does not fit {spec.name}: its tensors hold {declared} "
                                    f"elements, the model {size}")
    check_shapes(dict(spec.convert(layout)), known, input_shape, spec.name)

  return check_shapes(dict(spec.convert(load_torch_checkpoint(path, check=check))), known, input_shape,
                      spec.name)


def _variables(spec: ModelSpec, weights: Union[str, os.PathLike, Mapping[str, Any]], module: Any,
               input_shape: tuple[int, ...]) -> dict:
  """Checked Flax variables (jnp arrays) from a variables tree, ``"pretrained"``, a ``.msgpack`` or a torch
  checkpoint."""
  if not isinstance(weights, (Mapping, str, os.PathLike)):
    raise ValueError(f"weights must be None, 'pretrained', variables or a path, got {type(weights).__name__}")
  path = None if isinstance(weights, Mapping) else _checkpoint_path(spec, weights)
  known = _KnownShapes(module, input_shape)
  if path is None:
    return check_shapes(dict(weights), known, input_shape, spec.name)
  if path.suffix != ".msgpack":
    return _torch_variables(spec, path, known, input_shape)
  saved_for, variables = read_variables(path)
  if saved_for is not None and saved_for != spec.name:
    raise CheckpointMismatchError(f"{path} holds variables for {saved_for!r}, not {spec.name}")
  return check_shapes(dict(variables), known, input_shape, spec.name)


def _random_variables(module: Any, input_shape: tuple[int, ...], seed: int) -> dict:
  """Seeded variables: LeCun-normal kernels, zero biases, identity BatchNorm.

  Drawn with numpy from the variable shapes instead of running ``module.init``, whose compiled program (every
  initialiser plus a forward pass) takes far longer to build than the draw itself.
  """
  abstract = jax.eval_shape(module.init, jax.random.PRNGKey(0), jax.ShapeDtypeStruct(input_shape, jnp.float32))
  return initial_values(abstract, np.random.default_rng(seed))


def initial_values(tree: Any, rng: np.random.Generator) -> Any:
  """Fresh values for every leaf of a variables tree (arrays or shapes): LeCun-normal kernels drawn from ``rng``,
  zero biases and means, unit BatchNorm scales and variances."""
  def draw(path, leaf) -> jax.Array:
    name = path[-1].key
    if name == "kernel":
      fan_in = int(np.prod(leaf.shape[:-1]))
      return jnp.asarray(rng.standard_normal(leaf.shape, np.float32) / np.sqrt(fan_in, dtype=np.float32))
    return jnp.full(leaf.shape, 1.0 if name in ("scale", "var") else 0.0, leaf.dtype)

  return jax.tree_util.tree_map_with_path(draw, tree)


def create(name: str, weights: Weights = None, *, dtype: Any = jnp.float32, seed: int = 0) -> Model:
  """Builds a registered classifier.

  Args:
    name: one of :func:`available`, e.g. ``"efficientnet_lite0"``.
    weights: ``None`` for a random initialisation (deterministic in ``seed``, see :func:`_random_variables`); ``"pretrained"`` for the
      checkpoint bundled with a package; ``"torchvision"`` for torchvision's ImageNet checkpoint of this
      architecture in torch's cache (see :mod:`models.torchvision_weights`; never downloaded); a path to a torch
      checkpoint (``.pth``, ``.pt``, ``.bin``; read without torch and converted) or to a ``.msgpack`` from :func:`models.save_variables`; or a Flax variables dict.
    dtype: computation dtype (``jnp.float32`` or ``jnp.bfloat16``); weights stay float32, outputs are float32.
    seed: PRNG seed of the random initialisation.

  Returns:
    A :class:`Model`.

  Raises:
    ValueError: unknown ``name`` (the message lists the available ones), ``"pretrained"`` for a model without
      bundled weights, a missing or corrupt torchvision checkpoint (says what to fetch and where), or an
      unreadable weights file.
    UnsafeCheckpointError: a torch checkpoint whose pickle would run code, or (``CheckpointLimitError``) one
      built to exhaust memory or time.
    CheckpointMismatchError: weights that do not fit the architecture (lists the offending keys); for a torch
      checkpoint, found before any tensor data is read.
    WeightsNotInstalledError: ``"pretrained"`` when the package shipping the weights is not installed.
  """
  model_spec = spec(name)
  module = model_spec.build(dtype)
  shape = (1, model_spec.input_size, model_spec.input_size, 3)
  if weights is None:
    variables = _random_variables(module, shape, seed)
  else:
    variables = _variables(model_spec, weights, module, shape)
  n = model_spec.num_classes
  classes = _imagenet_classes() if n == 1000 else tuple(f"class {i}" for i in range(n))
  return Model(name=model_spec.name, module=module, variables=variables, input_size=model_spec.input_size,
               mean=model_spec.mean, std=model_spec.std, class_names=classes, dtype=dtype)
