"""What the registry needs to know about one architecture."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import flax.linen as nn
import numpy as np

# torch state_dict (numpy arrays, torch key names) -> Flax variables {"params": ..., "batch_stats": ...}.
Converter = Callable[[Mapping[str, np.ndarray]], dict]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class WeightsNotInstalledError(FileNotFoundError, ValueError):
  """The package that ships a model's pretrained checkpoint is not installed (message says what to install).

  A ``FileNotFoundError`` for ``ModelSpec.pretrained``'s contract and a ``ValueError`` like every other error a
  user's choice of arguments can cause.
  """


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One named architecture.

  Attributes:
    name: registry name, e.g. ``"resnet50"``.
    build: ``dtype -> flax module``; the module maps normalised NHWC images ``(N, H, W, 3)`` to logits
      ``(N, num_classes)`` in float32, computing in ``dtype``. Called as ``module.apply(variables, x)``
      (inference mode: BatchNorm uses running statistics).
    convert: torch ``state_dict`` -> Flax variables for ``build``'s module.
    input_size: side of the square input the weights were trained at.
    mean, std: per-channel normalisation applied to ``[0, 1]`` RGB before the module.
    pretrained: returns the path of a bundled checkpoint, or raises ``FileNotFoundError`` (preferably
      :class:`WeightsNotInstalledError`) saying which package provides it; ``None`` when no bundled weights exist.
    num_classes: size of the output layer.
  """

  name: str
  build: Callable[[Any], nn.Module]
  convert: Converter
  input_size: int = 224
  mean: tuple[float, float, float] = IMAGENET_MEAN
  std: tuple[float, float, float] = IMAGENET_STD
  pretrained: Optional[Callable[[], Path]] = None
  num_classes: int = 1000

