"""Superpixel throughput: JAX SLIC (``evojax_lime.segmentation.slic_jax``) and JAX quickshift (``evojax_lime.segmentation.quickshift_jax``,
LIME's settings), jitted and vmapped over a batch, against scikit-image's SLIC and quickshift, which run image by
image on one host core.

JAX times are the best of ``--repeats`` warm calls blocked with ``block_until_ready``; compilation
(``lower().compile()``) is reported apart. Host methods are timed on ``min(batch, --host-images)`` images,
since their throughput does not depend on the batch. Writes ``segmentation_<backend>.json`` and ``.md``.

  python -m benchmarks.segmentation_speed                                   # batches 1 16 256 at 224 x 224
  python -m benchmarks.segmentation_speed --batch-sizes 1 16 --repeats 5 --host-methods slic
  python -m benchmarks.segmentation_speed --jax-modes quickshift --host-methods quickshift   # quickshift only
  python -m benchmarks.segmentation_speed --batch-sizes 1 --size 64 --out /tmp/seg   # smoke test
"""
from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import time
from typing import Callable

import jax
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _report
from evojax_lime.segmentation import quickshift_jax, slic_jax
from evojax_lime.segmentation.superpixels import LIME_QUICKSHIFT

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")
# JAX SLIC settings: the default (3x3 seed cells, seeds moved off edges) and the mode closest to skimage;
# "quickshift" is JAX quickshift with LIME's settings.
JAX_MODES = {"default": {}, "skimage_like": {"search_radius": 2, "move_to_low_gradient": False}, "quickshift": {}}
HOST_METHODS = ("slic", "quickshift")
LARGE_BATCH = 64  # from this batch on, --large-repeats applies


def photos(size: int, count: int) -> np.ndarray:
  """``(count, size, size, 3)`` float32 in [0, 1]: the skimage photos resized (not cropped), cycled."""
  from PIL import Image
  from skimage import data
  images = [np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB").resize((size, size), Image.BILINEAR),
                       np.float32) / 255.0 for name in PHOTOS]
  return np.stack([images[i % len(images)] for i in range(count)])


def host_segmenter(method: str, n_segments: int, compactness: float) -> Callable[[np.ndarray], np.ndarray]:
  """One image -> labels with scikit-image, as ``evojax_lime.segmentation.superpixels`` calls it."""
  from skimage import segmentation
  if method == "slic":
    return lambda image: segmentation.slic(image, n_segments=n_segments, compactness=compactness, start_label=0)
  # LIME's quickshift settings (its SegmentationAlgorithm defaults).
  return lambda image: segmentation.quickshift(image.astype(np.float64), **LIME_QUICKSHIFT)


def time_calls(call: Callable[[], object], repeats: int) -> list[float]:
  """Wall seconds of ``repeats`` calls after one warm-up."""
  call()
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    call()
    times.append(time.perf_counter() - t0)
  return times


def jax_segmenter(mode: str, args: argparse.Namespace) -> tuple[str, Callable]:
  """The row name and the batched JAX segmentation of ``mode``."""
  if mode == "quickshift":
    return "jax_quickshift", functools.partial(quickshift_jax.quickshift_batch, **LIME_QUICKSHIFT)
  return f"jax_slic[{mode}]", functools.partial(slic_jax.slic_batch, n_segments=args.n_segments,
                                                compactness=args.compactness, **JAX_MODES[mode])


def jax_row(mode: str, images: np.ndarray, args: argparse.Namespace, repeats: int) -> dict:
  """Throughput of the jitted batched segmentation on ``images`` (placed on the default device first)."""
  name, batched = jax_segmenter(mode, args)
  fn = jax.jit(batched)
  x = jax.device_put(images)
  t0 = time.perf_counter()
  compiled = fn.lower(x).compile()
  compile_s = time.perf_counter() - t0
  counts = []
  times = time_calls(lambda: counts.append(jax.block_until_ready(compiled(x))[1]), repeats)
  return _row(name, len(images), times, len(images), compile_s=compile_s,
              mean_segments=float(np.mean(np.asarray(counts[-1]))))


def host_row(method: str, images: np.ndarray, batch: int, args: argparse.Namespace) -> dict:
  segment = host_segmenter(method, args.n_segments, args.compactness)
  times = time_calls(lambda: [segment(image) for image in images], args.host_repeats)
  return _row(f"skimage_{method}", batch, times, len(images),
              mean_segments=float(np.mean([segment(image).max() + 1 for image in images[:4]])))


def _row(method: str, batch: int, times: list[float], images: int, **extra) -> dict:
  best = min(times)
  return {"method": method, "batch": batch, "images_per_s": images / best, "ms_per_image": 1e3 * best / images,
          "median_images_per_s": images / statistics.median(times), "repeats": len(times), "images_timed": images,
          **extra}


def run(args: argparse.Namespace) -> list[dict]:
  rows = []
  all_images = photos(args.size, max(args.batch_sizes))
  host_cache: dict[tuple[str, int], dict] = {}
  for batch in args.batch_sizes:
    repeats = args.large_repeats if batch >= LARGE_BATCH else args.repeats
    for mode in args.jax_modes:
      rows.append(jax_row(mode, all_images[:batch], args, repeats))
      print(rows[-1], flush=True)
    for method in args.host_methods:
      timed = min(batch, args.host_images)
      if (method, timed) not in host_cache:  # host throughput does not depend on the batch
        host_cache[method, timed] = host_row(method, all_images[:timed], batch, args)
      rows.append({**host_cache[method, timed], "batch": batch})
      print(rows[-1], flush=True)
  return rows


def tables(rows: list[dict], batch_sizes: list[int], load: tuple[float, float]) -> str:
  methods = list(dict.fromkeys(r["method"] for r in rows))
  pivot = [{"method": m, **{f"batch {r['batch']}": r["images_per_s"] for r in rows if r["method"] == m}}
           for m in methods]
  columns = ["method", "batch", "images_per_s", "ms_per_image", "median_images_per_s", "compile_s", "repeats",
             "images_timed", "mean_segments"]
  return ("Images per second (best of repeats, higher is better):\n\n"
          + _report.markdown_table(pivot, ["method"] + [f"batch {b}" for b in batch_sizes])
          + "\nAll rows (compile_s: `jit(...).lower().compile()`, not included in the throughput; host methods run "
            "image by image on `images_timed` images):\n\n" + _report.markdown_table(rows, columns)
          + f"\nDevices: {', '.join(str(d) for d in jax.devices())}. XLA may use every core, scikit-image uses one. "
            f"1-minute load average {load[0]:.1f} before, {load[1]:.1f} after, on {os.cpu_count()} cores.\n")


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 256])
  parser.add_argument("--size", type=int, default=224, help="square image side")
  parser.add_argument("--repeats", type=int, default=5, help="timed calls per JAX batch below %d" % LARGE_BATCH)
  parser.add_argument("--large-repeats", type=int, default=2, help="timed calls per JAX batch of %d+" % LARGE_BATCH)
  parser.add_argument("--n-segments", type=int, default=100)
  parser.add_argument("--compactness", type=float, default=10.0)
  parser.add_argument("--jax-modes", nargs="+", default=list(JAX_MODES), choices=list(JAX_MODES))
  parser.add_argument("--host-methods", nargs="*", default=list(HOST_METHODS), choices=list(HOST_METHODS),
                      help="scikit-image baselines (none: pass the flag alone)")
  parser.add_argument("--host-images", type=int, default=16, help="images a host method is timed on, at most")
  parser.add_argument("--host-repeats", type=int, default=2)
  parser.add_argument("--out", default="benchmarks/results")
  parser.add_argument("--name", default=None, help="output file stem (default: segmentation_<backend>)")
  args = parser.parse_args(argv)

  print(f"devices: {jax.devices()}", flush=True)
  load_before = os.getloadavg()[0]
  rows = run(args)
  # Shared machines: the load average says how much of the CPU the timings actually had.
  load = (load_before, os.getloadavg()[0])
  settings = {k: v for k, v in vars(args).items() if k not in ("out", "name")}
  payload = {"processor": platform.processor(), "load_average_1m": {"before": load[0], "after": load[1]},
             "settings": settings, "results": rows}
  name = args.name or f"segmentation_{jax.default_backend()}"
  title = f"Superpixel throughput, {args.size} x {args.size}, SLIC n_segments={args.n_segments}"
  path = _report.write(args.out, name, payload, tables(rows, args.batch_sizes, load), title)
  print(f"wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
  main()
