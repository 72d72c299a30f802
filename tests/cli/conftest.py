"""Runs this checkout's command line (``python -m evojax_lime.cli``), and builds photos (good and bad) to feed it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
from PIL import Image
from skimage import data

# Always this checkout's code: an installed ``evojax-lime`` script may belong to another copy of the project.
COMMAND = [sys.executable, "-m", "evojax_lime.cli"]
ROOT = Path(__file__).resolve().parents[2]
# Small runs: every launch pays the JAX import and a compile of the GA with EfficientNet-Lite0 in it; a fixed
# chunk size skips the automatic one's extra compile.
FAST = ("--population", "8", "--generations", "2", "--chunk-size", "8", "--quiet")
EXIF_ORIENTATION = 0x0112


def _checkout_env(extra: Optional[dict] = None) -> dict:
  """This process's environment with this checkout first on ``PYTHONPATH``, and ``extra`` added."""
  path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
  return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def cli(*args: str, cwd: Path, timeout: float = 300, env: Optional[dict] = None) -> subprocess.CompletedProcess:
  """``evojax-lime *args`` in ``cwd``, importing the package from this checkout, with ``env`` added to the
  environment; stdout and stderr as text."""
  return subprocess.run([*COMMAND, *map(str, args)], cwd=cwd, env=_checkout_env(env), capture_output=True, text=True,
                        timeout=timeout)


def cli_many(launches: list[tuple[Path, tuple]], timeout: float = 600) -> list[subprocess.CompletedProcess]:
  """``evojax-lime *args`` in ``cwd`` for every ``(cwd, args)``, all in one process (``tests.cli.launches``):
  for command lines that are refused before any work, whose cost would otherwise be the JAX import of each."""
  payload = json.dumps([{"args": list(map(str, args)), "cwd": str(cwd)} for cwd, args in launches])
  done = subprocess.run([sys.executable, "-m", "tests.cli.launches"], cwd=ROOT, env=_checkout_env(), input=payload,
                        capture_output=True, text=True, timeout=timeout, check=True)
  return [subprocess.CompletedProcess([*COMMAND, *map(str, args)], r["returncode"], r["stdout"], r["stderr"])
          for (_, args), r in zip(launches, json.loads(done.stdout))]


@pytest.fixture(scope="session", autouse=True)
def _cache_home(tmp_path_factory):
  """The command line caches compiled programs under ``$XDG_CACHE_HOME`` by default: the tests' launches share
  one of their own, never the user's."""
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg_cache")))
    yield


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
  """stderr's lines, after checking that no traceback leaked into it."""
  assert "Traceback" not in result.stderr, result.stderr
  return result.stderr.splitlines()


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
  return data.chelsea()


@pytest.fixture(scope="session")
def photos(tmp_path_factory, chelsea) -> dict[str, Path]:
  """A folder of photos in awkward formats, plus a bad file, and the other bad files outside it."""
  folder = tmp_path_factory.mktemp("photos")
  cat = Image.fromarray(chelsea)
  exif = Image.Exif()
  exif[EXIF_ORIENTATION] = 6  # stored sideways: must be shown rotated 90 degrees clockwise
  cat.save(folder / "a_rotated.jpg", quality=92, exif=exif)
  gray16 = (np.asarray(cat.convert("L"), np.uint16) * 257).astype(np.uint16)
  Image.fromarray(gray16).save(folder / "b_gray16.png")
  rgba = cat.convert("RGBA")
  rgba.putalpha(200)
  rgba.save(folder / "c_rgba.png")
  cat.convert("P").save(folder / "d_palette.gif")
  good = (folder / "a_rotated.jpg").read_bytes()
  (folder / "e_truncated.jpg").write_bytes(good[:len(good) // 2])
  (folder / "notes.txt").write_text("not an image, and not named like one: the folder scan skips it")

  bad = tmp_path_factory.mktemp("bad")
  (bad / "empty.png").write_bytes(b"")
  (bad / "text.jpg").write_text("this is plain text with an image's name\n")
  (bad / "no_images").mkdir()
  return {"folder": folder, "cat": folder / "a_rotated.jpg", "empty": bad / "empty.png", "text": bad / "text.jpg",
          "empty_dir": bad / "no_images", "missing": bad / "missing.jpg"}
