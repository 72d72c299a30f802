"""Photos per minute through ``evojax-lime explain FOLDER``: the batched pipeline against the one-by-one CLI.

Builds a folder of JPEG photos of mixed sizes (skimage.data photos resized, some at phone-camera resolution),
then times whole ``explain`` processes on it, cold (import, model load, compile and writing included), as a
person running the command would see them:

- ``batched``: this tree's CLI (``explain_batch`` batches, worker threads, bounded overlays);
- ``one_by_one``: the CLI of another source tree, by default ``main`` exported with ``git archive`` (one
  ``explain`` per photo, overlays at full resolution).

Usage:
  python -m benchmarks.cli_throughput --out benchmarks/results            # 64 photos, pop 16, 4 generations
  python -m benchmarks.cli_throughput --baseline-ref none                 # the batched path alone

Writes ``cli_throughput_<backend>.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from benchmarks import _report
from benchmarks._common import progress

ROOT = Path(__file__).resolve().parents[1]
PHONE = "4032x3024"
# A cycle of sizes: small web photos to 2048 px, then one phone photo in every eight.
SIZES = ("640x480", "1024x768", "1600x1200", "800x600", "1280x960", "480x640", "2048x1536", PHONE)
SOURCES = ("chelsea", "coffee", "astronaut", "rocket", "hubble_deep_field")


def make_photos(folder: Path, count: int, sizes: Sequence[str]) -> list[tuple[str, int, int]]:
  """Writes ``count`` JPEGs into ``folder``: skimage photos cycled over ``sizes``, each one mirrored or shifted
  so that no two files are the same. Returns ``(name, width, height)`` per photo."""
  from skimage import data

  sources = [getattr(data, name)() for name in SOURCES]
  made = []
  for i in range(count):
    width, height = map(int, sizes[i % len(sizes)].split("x"))
    src = sources[i % len(sources)]
    src = src[:, ::-1] if (i // len(sources)) % 2 else src
    shift = (i * 7) % max(1, src.shape[1] // 8)
    img = Image.fromarray(np.ascontiguousarray(src[:, shift:])).convert("RGB").resize((width, height),
                                                                                     Image.Resampling.BICUBIC)
    name = f"photo_{i:03d}_{width}x{height}.jpg"
    img.save(folder / name, quality=90)
    made.append((name, width, height))
  return made


def export_tree(ref: str, dest: Path) -> Path:
  """``git archive ref`` of this repository unpacked into ``dest`` (leaves the repository itself untouched)."""
  archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
  with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
    tar.extractall(dest, filter="data")
  return dest


def run_cli(source: Path, folder: Path, out: Path, args: Sequence[str]) -> dict:
  """One cold ``explain`` process with ``source`` first on the path; its wall time and what it wrote."""
  env = {**os.environ, "PYTHONPATH": str(source)}
  command = [sys.executable, "-m", "evojax_lime.cli", "explain", str(folder), "--quiet", "--out", str(out), *args]
  load = os.getloadavg()[0]  # a shared machine: other work on it slows either path, so record how much there was
  start = time.perf_counter()
  result = subprocess.run(command, cwd=source, env=env, capture_output=True, text=True)
  wall = time.perf_counter() - start
  if result.returncode != 0:
    raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
  records = [json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if not p.name.startswith("summary")]
  timings = lambda key: sum(float(r["timings"].get(key, 0.0)) for r in records)
  overlays = [Image.open(p).size for p in sorted(out.glob("*_overlay.png"))]
  writes = [float(r["timings"]["write"]) for r in records if "write" in r["timings"]]  # not recorded one by one
  return {"wall_s": wall, "load_before": load, "load_after": os.getloadavg()[0], "photos": len(records), "photos_per_minute": 60.0 * len(records) / wall,
          "write_s_mean": float(np.mean(writes)) if writes else None,
          "write_s_max": max(writes) if writes else None,
          # The batched CLI records each photo's share of its batch; the one-by-one CLI the photo's own run.
          "compile_s": max(float(r["timings"]["compile"]) for r in records) if records else 0.0,
          "sum_photo_wall_s": timings("wall"),
          "largest_overlay": max(overlays, key=lambda s: s[0] * s[1]) if overlays else None,
          "output_mb": sum(p.stat().st_size for p in out.iterdir() if p.is_file()) / 1e6}


def main(argv: Optional[Sequence[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  parser.add_argument("--photos", type=int, default=64, help="photos in the folder")
  parser.add_argument("--sizes", nargs="+", default=list(SIZES), metavar="WxH", help="sizes, cycled over photos")
  parser.add_argument("--model", default="efficientnet_lite0")
  parser.add_argument("--population", type=int, default=16)
  parser.add_argument("--generations", type=int, default=4)
  parser.add_argument("--segmentation", default="slic")
  parser.add_argument("--batch-size", type=int, default=None, help="the batched CLI's --batch-size (default: auto)")
  parser.add_argument("--baseline-ref", default="main",
                      help="git ref whose CLI is the one-by-one baseline ('none': skip the baseline)")
  parser.add_argument("--baseline-src", default=None, help="a source tree to use as the baseline instead of a ref")
  parser.add_argument("--out", default="benchmarks/results")
  args = parser.parse_args(argv)

  import jax

  common = ["--model", args.model, "--population", str(args.population), "--generations", str(args.generations),
            "--segmentation", args.segmentation]
  with tempfile.TemporaryDirectory(prefix="cli-throughput-") as tmp:
    tmp = Path(tmp)
    folder = tmp / "photos"
    folder.mkdir()
    photos = make_photos(folder, args.photos, args.sizes)
    megapixels = sum(w * h for _, w, h in photos) / 1e6
    progress(f"{len(photos)} photos, {megapixels:.0f} megapixels in all")
    rows = []
    baseline = None
    if args.baseline_src:
      baseline = Path(args.baseline_src).resolve()
    elif args.baseline_ref != "none":
      baseline = export_tree(args.baseline_ref, tmp / "baseline")
    if baseline is not None:
      progress(f"one by one ({baseline}) ...")
      rows.append({"path": "one_by_one", "source": args.baseline_src or args.baseline_ref,
                   **run_cli(baseline, folder, tmp / "out_one", common)})
    batch = [] if args.batch_size is None else ["--batch-size", str(args.batch_size)]
    progress("batched ...")
    rows.append({"path": "batched", "source": "this tree", "batch_size": args.batch_size or "auto",
                 **run_cli(ROOT, folder, tmp / "out_batched", common + batch)})
  for row in rows:
    progress(f"{row['path']}: {row['photos']} photos in {row['wall_s']:.1f} s = {row['photos_per_minute']:.1f} "
             f"photos/min")
  speedup = rows[-1]["photos_per_minute"] / rows[0]["photos_per_minute"] if len(rows) == 2 else None
  settings = {"photos": len(photos), "sizes": args.sizes, "megapixels": megapixels,
              "phone_photos": sum(f"{w}x{h}" == PHONE for _, w, h in photos), "model": args.model,
              "population": args.population, "generations": args.generations, "segmentation": args.segmentation}
  payload = {"settings": settings, "rows": rows, "speedup": speedup}
  table = _report.markdown_table(rows, ["path", "source", "photos", "load_before", "load_after", "wall_s", "photos_per_minute", "compile_s",
                                        "sum_photo_wall_s", "write_s_mean", "write_s_max", "largest_overlay",
                                        "output_mb"])
  note = (f"{len(photos)} JPEG photos ({', '.join(args.sizes)} cycled; {settings['phone_photos']} at {PHONE}), "
          f"{args.model}, population {args.population}, {args.generations} generations, {args.segmentation}; "
          f"whole cold processes (import, load, compile, write).\n\n")
  if speedup is not None:
    note += f"Batched / one-by-one photos per minute: **{speedup:.2f}x**.\n\n"
  path = _report.write(args.out, f"cli_throughput_{jax.default_backend()}", payload, note + table,
                       "Photos per minute through evojax-lime explain FOLDER")
  progress(f"wrote {path}")


if __name__ == "__main__":
  main()
