"""Image classifiers in Flax with real weights, loaded from torch checkpoints without torch.

Typical use::

  import models
  model = models.create("efficientnet_lite0", "pretrained")
  probs = model.predict(images)             # images: (N, H, W, 3) floats in [0, 1]
  classify = model.classifier()             # pure JAX: images -> (N, 1000) probabilities
  models.save_variables("lite0.msgpack", model)   # later: models.create("efficientnet_lite0", "lite0.msgpack")
"""
from models._checkpoint_errors import CheckpointError, CheckpointLimitError, CorruptCheckpointError
from models._convert import CheckpointMismatchError
from models._model import Model
from models._serialization import load_variables, save_variables
from models._spec import ModelSpec, WeightsNotInstalledError
from models.registry import available, create, imagenet_classes, spec
from models.torch_reader import UnsafeCheckpointError, load_torch_checkpoint

__all__ = [
    "CheckpointError",
    "CheckpointLimitError",
    "CheckpointMismatchError",
    "CorruptCheckpointError",
    "Model",
    "ModelSpec",
    "UnsafeCheckpointError",
    "WeightsNotInstalledError",
    "available",
    "create",
    "imagenet_classes",
    "load_torch_checkpoint",
    "load_variables",
    "save_variables",
    "spec",
]
