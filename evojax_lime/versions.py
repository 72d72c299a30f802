"""Installed versions of the packages a result depends on, recorded beside every result."""
from __future__ import annotations

from importlib import metadata
from typing import Iterable, Optional

__version__ = "0.1.0"
PACKAGES = ("evojax-lime", "jax", "jaxlib", "flax", "numpy", "scikit-image", "pillow")


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, Optional[str]]:
  """``{name: version}``, ``None`` for a package that is not installed."""
  found = {}
  for name in names:
    try:
      found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
      found[name] = None
  return found
