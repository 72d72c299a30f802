"""Finding photos on disk and reading them with Pillow into RGB arrays the classifier can take."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from evojax_lime import files
from evojax_lime.cli.errors import CliError, shown

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm")
BUNDLED_ORIGIN = "skimage.data.chelsea (bundled photo)"
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
_WITH_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


@dataclasses.dataclass(frozen=True)
class Inputs:
  """What the IMAGE arguments named.

  Attributes:
    paths: image files to explain, in command-line order (a folder's files sorted by name).
    errors: ``(argument, reason)`` for each argument that yielded nothing (missing path, folder without images).
  """

  paths: tuple[Path, ...]
  errors: tuple[tuple[str, str], ...]


def _not_a_photo(path: Path) -> Optional[str]:
  """Why ``path`` (followed if a link) cannot be read as a photo, or ``None`` when it is a regular file."""
  try:
    mode = path.stat().st_mode
  except FileNotFoundError:
    return "no such file or folder" if not path.is_symlink() else "a symbolic link to nothing"
  except OSError as err:
    return f"cannot be examined: {err.strerror or err}"
  return None if stat.S_ISREG(mode) else f"{files.kind(mode)}, not a regular file"


def collect(arguments: Sequence[str]) -> Inputs:
  """Expands files and folders (non-recursively, images by extension) into the files to explain.

  An entry of a folder named like an image that is no regular file (a folder, a FIFO, a device) is reported,
  not skipped: its name says it is a photo.
  """
  paths: list[Path] = []
  errors: list[tuple[str, str]] = []
  for arg in arguments:
    path = Path(arg)
    if path.is_dir():
      try:
        named = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
      except OSError as err:
        errors.append((arg, f"cannot list the folder: {err.strerror or err}"))
        continue
      if not named:
        errors.append((arg, f"folder holds no images (looked for {', '.join(IMAGE_EXTENSIONS)})"))
      for p in named:
        reason = _not_a_photo(p)
        if reason is None:
          paths.append(p)
        else:
          errors.append((str(p), reason))
    else:
      reason = _not_a_photo(path)
      if reason is None:
        paths.append(path)
      else:
        errors.append((arg, reason))
  return Inputs(tuple(paths), tuple(errors))


class _NotFinite(Exception):
  """Pixels that are no numbers: a refusal of the photo, not a sign that its file is corrupt."""


def _to_rgb(img: Image.Image) -> np.ndarray:
  """Any Pillow mode -> ``(H, W, 3)`` uint8 RGB, with transparency composited onto white."""
  if img.mode in _SIXTEEN_BIT or img.mode in ("I", "F"):
    arr = np.asarray(img, np.float64)
    if not np.isfinite(arr).all():  # NaN would become black (0) and be explained as if it were a photo
      bad = int(np.size(arr) - np.isfinite(arr).sum())
      raise _NotFinite(f"{bad} of its {arr.size} pixels are not finite numbers (NaN or infinity)")
    if img.mode in _SIXTEEN_BIT or arr.max() > 255:
      top = 65535.0
    elif img.mode == "F" and arr.max() <= 1.0:
      top = 1.0
    else:
      top = 255.0
    gray = np.clip(np.rint(arr / top * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)
  if img.mode in _WITH_ALPHA or (img.mode == "P" and "transparency" in img.info):
    rgba = img.convert("RGBA")
    # Pixels under full transparency hold arbitrary colours; white is what a viewer would show.
    return np.asarray(Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB"))
  return np.asarray(img.convert("RGB"))


def load_photo(path: Path) -> np.ndarray:
  """Reads a photo as ``(H, W, 3)`` uint8 RGB, upright (EXIF orientation applied).

  Raises:
    CliError: the file is not a regular file (a FIFO is refused, never waited on), empty, not an image, truncated
      or otherwise undecodable, or its pixels are not all finite numbers (a float TIFF holding NaN).
  """
  name = shown(path)
  try:
    with files.open_regular(path) as f:
      if os.fstat(f.fileno()).st_size == 0:
        raise CliError(f"{name}: empty file")
      with Image.open(f) as img:
        img.load()  # decode now: a truncated file fails here rather than half-way through a run
        pixels = _to_rgb(ImageOps.exif_transpose(img))
  except files.UnusableFile as err:
    raise CliError(f"{name}: {err}") from None
  except UnidentifiedImageError:
    raise CliError(f"{name}: not an image (Pillow cannot identify it)") from None
  except Image.DecompressionBombError as err:
    raise CliError(f"{name}: {err}") from None
  except _NotFinite as err:
    raise CliError(f"{name}: cannot be explained: {err}") from None
  except CliError:
    raise
  except (OSError, SyntaxError, ValueError) as err:  # Pillow's decoders report corruption in all three ways
    detail = "truncated" if "truncated" in str(err) else f"corrupt ({err})"
    raise CliError(f"{name}: image file is {detail}") from None
  return pixels



def model_input(photo: np.ndarray, size: int) -> np.ndarray:
  """``(H, W, 3)`` uint8 -> ``(size, size, 3)`` float32 in [0, 1], the whole photo squeezed into the square.

  Squeezing rather than cropping keeps every pixel, so each superpixel maps back onto the full photo.
  """
  img = Image.fromarray(photo).resize((size, size), Image.Resampling.LANCZOS)
  return np.asarray(img, np.float32) / 255.0


def bounded(photo: np.ndarray, longest_side: int | None) -> np.ndarray:
  """``(H, W, 3)`` uint8 shrunk (never enlarged) so that its longest side is at most ``longest_side``.

  ``None`` returns the photo itself. Resized once here, so drawing and encoding an overlay cost the same for a
  phone photo as for a thumbnail.
  """
  height, width = photo.shape[:2]
  if longest_side is None or max(height, width) <= longest_side:
    return photo
  scale = longest_side / max(height, width)
  size = (max(1, round(width * scale)), max(1, round(height * scale)))
  return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))


def file_sha256(path: Path) -> str:
  """Hex SHA-256 of a file's bytes, read in blocks (a photo's identity for ``--resume``)."""
  digest = hashlib.sha256()
  with files.open_regular(path) as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def bundled_photo(folder: Path) -> Path:
  """Writes skimage's ``chelsea`` (a cat) into ``folder`` as a JPEG, so it takes the same path as any photo."""
  path = folder / "chelsea.jpg"
  Image.fromarray(chelsea()).save(path, quality=95)
  return path


def chelsea() -> np.ndarray:
  """skimage's ``chelsea``, ``(300, 451, 3)`` uint8: read straight from the PNG scikit-image ships, since
  ``skimage.data``'s fetcher spends about half a second of the default command on its imports and registry; through
  ``skimage.data`` where that file is absent."""
  import skimage  # pylint: disable=import-outside-toplevel

  shipped = Path(skimage.__file__).parent / "data" / "chelsea.png"
  if shipped.is_file():
    with Image.open(shipped) as image:
      return np.asarray(image.convert("RGB"))
  from skimage import data  # pylint: disable=import-outside-toplevel
  return data.chelsea()
