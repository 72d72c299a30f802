"""``weights="torchvision"``: the checkpoint torchvision itself downloads, found in torch's cache, hash checked.

No download happens here: a missing file is a one-line ``ValueError`` naming the URL to fetch and the folder to
put it in. The files are the ``IMAGENET1K_V1`` weights of ``torchvision.models`` (the variants whose layers and
key names the ports follow; torchvision 0.29's ``IMAGENET1K_V2`` ResNet / MobileNet files share the architecture
but were trained with another recipe and another evaluation resize).
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Optional

_URL = "https://download.pytorch.org/models/"
# Architecture -> file name, as in torchvision/models/*.py (``Weights.IMAGENET1K_V1.url``).
FILES: dict[str, str] = {
    "resnet18": "resnet18-f37072fd.pth",
    "resnet34": "resnet34-b627a593.pth",
    "resnet50": "resnet50-0676ba61.pth",
    "resnet101": "resnet101-63fe2227.pth",
    "resnet152": "resnet152-394f9c45.pth",
    "densenet121": "densenet121-a639ec97.pth",
    "densenet161": "densenet161-8d451a50.pth",
    "densenet169": "densenet169-b2777c0a.pth",
    "densenet201": "densenet201-c1103571.pth",
    "mobilenet_v2": "mobilenet_v2-b0353104.pth",
    "mobilenet_v3_small": "mobilenet_v3_small-047dcff4.pth",
    "mobilenet_v3_large": "mobilenet_v3_large-8738ca79.pth",
    "vit_b_16": "vit_b_16-c867db91.pth",
    "vit_b_32": "vit_b_32-d86f8d99.pth",
    "vit_l_16": "vit_l_16-852ce7e3.pth",
    "convnext_tiny": "convnext_tiny-983f1562.pth",
    "convnext_small": "convnext_small-0c510722.pth",
    "convnext_base": "convnext_base-6075fbad.pth",
}
_HASH = re.compile(r"-([a-f0-9]*)\.")  # torch.hub.HASH_REGEX: the sha256 prefix a file name carries
_READ = 1 << 20


def checkpoints_dir() -> Path:
  """``torch.hub.get_dir() / "checkpoints"`` without importing torch.

  ``$TORCH_HOME/hub/checkpoints``; ``TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch``.
  """
  home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch"))
  return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
  return next((text for test, text in _KINDS if test(mode)), "not a regular file")


def _unusable(path: Path) -> Optional[str]:
  """What is at ``path`` when it is something other than a regular file (``"missing"`` when nothing is), in
  words; ``None`` for a regular file, or a link to one."""
  try:
    mode = os.lstat(path).st_mode
  except FileNotFoundError:
    return "missing"
  except OSError as err:
    return f"cannot be examined ({err.strerror or err})"
  link = ""
  if stat.S_ISLNK(mode):
    target = os.readlink(path)
    try:
      mode = os.stat(path).st_mode
    except FileNotFoundError:
      return f"a symbolic link to {target}, which does not exist"
    except OSError as err:
      return f"a symbolic link to {target}, which cannot be examined ({err.strerror or err})"
    link = f"a symbolic link to {target}, which is "
  return None if stat.S_ISREG(mode) else link + _kind(mode)


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
  """Hex sha256 of a file (cached per path, size and modification time: a checked file is read once)."""
  digest = hashlib.sha256()
  # Non-blocking open, then the kind checked on what was opened: a pipe swapped in after the check never blocks.
  fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
  if not stat.S_ISREG(os.fstat(fd).st_mode):
    os.close(fd)
    raise ValueError(f"{path} is no longer a regular file")
  os.set_blocking(fd, True)
  with os.fdopen(fd, "rb") as f:
    for block in iter(lambda: f.read(_READ), b""):
      digest.update(block)
  return digest.hexdigest()


def checkpoint(name: str) -> Path:
  """The cached torchvision checkpoint of architecture ``name``, after torch.hub's ``check_hash``.

  Raises:
    ValueError: (one line) ``name`` has no torchvision weights; the file is missing (says which URL to fetch and
      where to put it); or its contents do not match the sha256 prefix in its name.
  """
  if name not in FILES:
    raise ValueError(f"{name} has no torchvision weights; models that do: {', '.join(sorted(FILES))}")
  file_name = FILES[name]
  path = checkpoints_dir() / file_name
  found = _unusable(path)
  if found == "missing":
    raise ValueError(f"{name}: torchvision weights not found: fetch {_URL}{file_name} and save it as {path} "
                     f"(torchvision's own download puts it there; TORCH_HOME moves the folder)")
  if found is not None:
    raise ValueError(f"{name}: torchvision weights {path} is {found}, not the weights file; remove it, then fetch "
                     f"{_URL}{file_name} and save it there")
  stat = path.stat()
  prefix = _HASH.search(file_name).group(1)
  digest = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
  if not digest.startswith(prefix):
    raise ValueError(f"{path} is corrupt or not {file_name}: its sha256 starts with {digest[:len(prefix)]}, "
                     f"not {prefix}; delete it and fetch {_URL}{file_name} again")
  return path
