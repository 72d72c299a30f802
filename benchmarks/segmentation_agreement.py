"""JAX quickshift against scikit-image's with LIME's settings, photo by photo: adjusted Rand index, boundary
recall, K, pieces that are not 4-connected, and seconds per image on this machine.

Photos are resized to 224 x 224 as the command line feeds the classifier (``evojax_lime.cli.images``); the
reference is ``skimage.segmentation.quickshift(photo.astype(float64), kernel_size=4, max_dist=200, ratio=0.2)``.
``ari_connected`` compares with skimage's labels after the same one-region-per-label step
(``quickshift_jax.one_region_per_label``): what is left there is float32 arithmetic. ``same_as_auto`` and
``auto_s``: the default ``segmentation="auto"`` on a CPU, which cuts on the host (skimage's quickshift, then the
same steps in numpy, ``quickshift_host``): pixels with the very label the JAX quickshift gives. Times are the best of
``--repeats`` warm calls, one image at a time (JAX jitted, compile excluded).

  python -m benchmarks.segmentation_agreement
  python -m benchmarks.segmentation_agreement --photos chelsea --size 64 --repeats 1 --out /tmp/agree  # smoke
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _report
from benchmarks._agreement import AGREEMENT_PHOTOS, adjusted_rand_index, agreement_photo, boundary_recall, pieces
from evojax_lime.segmentation import quickshift_host, quickshift_jax
from evojax_lime.segmentation.superpixels import LIME_QUICKSHIFT


def _best(call, repeats: int) -> tuple[float, object]:
  out, best = call(), float("inf")  # the first call warms up (compiles)
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = call()
    best = min(best, time.perf_counter() - t0)
  return best, out


def run(args: argparse.Namespace) -> list[dict]:
  from skimage import segmentation
  fn = jax.jit(quickshift_jax.quickshift, static_argnames=quickshift_jax.STATIC_ARGNAMES)
  connect = jax.jit(quickshift_jax.one_region_per_label)
  rows = []
  for name in args.photos:
    photo = agreement_photo(name, args.size)
    sk_s, ref = _best(lambda: segmentation.quickshift(photo.astype(np.float64), **LIME_QUICKSHIFT), args.repeats)
    jax_s, (labels, k) = _best(lambda: jax.block_until_ready(fn(photo, **LIME_QUICKSHIFT)), args.repeats)
    labels = np.asarray(labels)
    ref_connected = np.asarray(connect(ref)[0])
    auto_s, auto = _best(lambda: quickshift_host.quickshift(photo, **LIME_QUICKSHIFT), args.repeats)
    rows.append({"photo": name, "ari": adjusted_rand_index(ref, labels), "boundary_recall": boundary_recall(ref, labels),
                 "K_skimage": int(ref.max()) + 1, "K_jax": int(k), "pieces_skimage": pieces(ref),
                 "pieces_jax": pieces(labels), "same_label": float((labels == ref).mean()),
                 "ari_connected": adjusted_rand_index(ref_connected, labels),
                 "same_as_auto": float((auto == labels).mean()), "skimage_s": sk_s, "jax_s": jax_s,
                 "auto_s": auto_s, "speedup": sk_s / jax_s})
    print(rows[-1], flush=True)
  return rows


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--photos", nargs="+", default=list(AGREEMENT_PHOTOS), choices=AGREEMENT_PHOTOS)
  parser.add_argument("--size", type=int, default=224)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--out", default="benchmarks/results")
  parser.add_argument("--name", default=None, help="output file stem (default: quickshift_agreement_<backend>)")
  args = parser.parse_args(argv)
  load_before = os.getloadavg()[0]
  rows = run(args)
  load = (load_before, os.getloadavg()[0])  # shared machines: how much of the CPU the timings had
  columns = list(rows[0])
  table = (_report.markdown_table(rows, columns)
           + f"\nK_*: superpixels; pieces_*: 4-connected pieces over all labels (K when every label is one region); "
             f"same_label: pixels with the very same label number; ari_connected: against skimage's labels after "
             f"the same one-region-per-label step. Times: best of {args.repeats} warm calls, one image, "
             f"{', '.join(str(d) for d in jax.devices())}; 1-minute load average {load[0]:.1f} before, "
             f"{load[1]:.1f} after, on {os.cpu_count()} cores.\n")
  name = args.name or f"quickshift_agreement_{jax.default_backend()}"
  title = f"JAX quickshift against scikit-image's, LIME's settings, {args.size} x {args.size}"
  path = _report.write(args.out, name, {"settings": vars(args), "load_average_1m": load, "results": rows}, table, title)
  print(table)
  print(f"wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
  main()
