"""Finding photos on disk and reading them with Pillow into RGB arrays the classifier can take."""
from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from evojax_lime.cli.errors import CliError

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


def collect(arguments: Sequence[str]) -> Inputs:
  """Expands files and folders (non-recursively, images by extension) into the files to explain."""
  paths: list[Path] = []
  errors: list[tuple[str, str]] = []
  for arg in arguments:
    path = Path(arg)
    if path.is_dir():
      found = sorted(p for p in path.iterdir()
                     if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and not p.name.startswith("."))
      if not found:
        errors.append((arg, f"folder holds no images (looked for {', '.join(IMAGE_EXTENSIONS)})"))
      paths.extend(found)
    elif path.is_file():
      paths.append(path)
    else:
      errors.append((arg, "not a regular file" if path.exists() else "no such file or folder"))
  return Inputs(tuple(paths), tuple(errors))


def _to_rgb(img: Image.Image) -> np.ndarray:
  """Any Pillow mode -> ``(H, W, 3)`` uint8 RGB, with transparency composited onto white."""
  if img.mode in _SIXTEEN_BIT or img.mode in ("I", "F"):
    arr = np.asarray(img, np.float64)
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
    CliError: the file is empty, not an image, truncated or otherwise undecodable.
  """
  try:
    if os.path.getsize(path) == 0:
      raise CliError(f"{path}: empty file")
    with Image.open(path) as img:
      img.load()  # decode now: a truncated file fails here rather than half-way through a run
      return _to_rgb(ImageOps.exif_transpose(img))
  except UnidentifiedImageError:
    raise CliError(f"{path}: not an image (Pillow cannot identify it)") from None
  except Image.DecompressionBombError as err:
    raise CliError(f"{path}: {err}") from None
  except CliError:
    raise
  except (OSError, SyntaxError, ValueError) as err:  # Pillow's decoders report corruption in all three ways
    detail = "truncated" if "truncated" in str(err) else f"corrupt ({err})"
    raise CliError(f"{path}: image file is {detail}") from None


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
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def bundled_photo(folder: Path) -> Path:
  """Writes skimage's ``chelsea`` (a cat) into ``folder`` as a JPEG, so it takes the same path as any photo."""
  from skimage import data

  path = folder / "chelsea.jpg"
  Image.fromarray(data.chelsea()).save(path, quality=95)
  return path
