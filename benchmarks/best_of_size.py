"""The most probable mask of at most k superpixels, by enumeration: the ceiling of any search on these superpixels.

The time-to-quality benchmark asks when E-LIME first holds a mask of at most k superpixels as probable as
reference lime's top-k, lime having run on its own quickshift. Where E-LIME never does, either the search missed
a mask that exists or none exists on the engine's superpixels. For each photo (``--photos``) and each k of
``--ks`` whose masks of 1..k superpixels number at most ``--limit``, this script evaluates every one of them
(the engine's superpixels, fill and classifier, as E-LIME's own masks are scored) and keeps the most probable;
beside it, lime's top-k probability from a time-to-quality record (``--lime-recorded``) and whether that is
reachable at all. Sizes over the limit are reported as not enumerated.

  python -m benchmarks.best_of_size --photos coffee --ks 3 \\
      --lime-recorded benchmarks/results/time_to_quality_quiet_cpu.json
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import time
from typing import Optional

import jax
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report
from benchmarks.time_to_quality import on_segments, photo_args, probabilities, recorded_lime

BATCH = 256  # masks per call of the evaluation program: one compiled shape for every photo


def masks_up_to(num_segments: int, k: int) -> np.ndarray:
  """``(M, K)`` bool: every mask of 1..k of ``num_segments`` superpixels, smaller sizes first."""
  combos = [c for size in range(1, k + 1) for c in itertools.combinations(range(num_segments), size)]
  out = np.zeros((len(combos), num_segments), bool)
  for row, combo in enumerate(combos):
    out[row, list(combo)] = True
  return out


def count_up_to(num_segments: int, k: int) -> int:
  return sum(math.comb(num_segments, size) for size in range(1, k + 1))


def best_mask(subject, masks: np.ndarray, classifier, config: el.ELimeConfig) -> tuple[float, np.ndarray]:
  """The highest p(target) over ``masks`` and the first mask that reaches it, in batches of :data:`BATCH`."""
  padded = np.concatenate([masks, np.zeros((-len(masks) % BATCH, masks.shape[1]), bool)])
  ps = np.concatenate([probabilities(subject, padded[i:i + BATCH], classifier, config)
                       for i in range(0, len(padded), BATCH)])[:len(masks)]
  row = int(np.argmax(ps))
  return float(ps[row]), masks[row]


def config_of(args: argparse.Namespace) -> el.ELimeConfig:
  """The engine's default config, with ``--segmentation`` where given: the superpixels and fill enumerated."""
  return el.ELimeConfig(**({"segmentation": args.segmentation} if args.segmentation else {}))


def run(args: argparse.Namespace, on_photo=lambda rows: None) -> list[dict]:
  model = _common.load_model(args.model)
  config = config_of(args)
  lime = recorded_lime(args.lime_recorded) if args.lime_recorded else {}
  rows = []
  for photo, pixels in _common.load_photos(args.photos, model.input_size, args.images):
    image = pixels.astype(np.float32) / 255.0
    labels = el.segment(image, config.segmentation, dict(config.segmentation_params))
    num_segments = int(labels.max()) + 1
    if num_segments < 2:
      _common.progress(f"{photo}: {num_segments} superpixel with {config.segmentation}; skipped")
      continue
    record = lime.get(photo)
    target = record["target"] if record else int(np.argmax(model.classifier(image[None])[0]))
    subject = on_segments(image, labels, config.fill, target)
    for k in args.ks:
      count = count_up_to(num_segments, k)
      lime_p: Optional[float] = next((t["p"] for t in record["topk"] if t["k"] == k), None) if record else None
      row = {"photo": photo, "K": num_segments, "k": k, "target": target, "masks": count, "best_p": None,
             "best_kept": None, "best_mask": None, "lime_p": lime_p, "reachable": None, "seconds": None}
      if count <= args.limit:
        t0 = time.perf_counter()
        p, mask = best_mask(subject, masks_up_to(num_segments, k), model.classifier, config)
        row.update(best_p=p, best_kept=int(mask.sum()), best_mask=np.flatnonzero(mask).tolist(),
                   reachable=None if lime_p is None else bool(p >= lime_p), seconds=time.perf_counter() - t0)
      rows.append(row)
      _common.progress(f"{photo} k={k}: {count} masks, best p {_fmt(row['best_p'])} "
                       f"(kept {row['best_kept']}), lime's top-{k} {_fmt(lime_p)}")
    on_photo(rows)
  return rows


def _fmt(value: Optional[float]) -> str:
  return "-" if value is None else f"{value:.4f}"


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL,
                 help="efficientnet_lite0 (pretrained), NAME=CHECKPOINT, or tiny (random CNN, for smoke tests)")
  photo_args(p)
  p.add_argument("--ks", type=int, nargs="+", default=[3], help="mask sizes (every mask of at most k superpixels)")
  p.add_argument("--segmentation", default=None, choices=el.config.SEGMENTATIONS,
                 help="the engine's superpixels (default: ELimeConfig's)")
  p.add_argument("--limit", type=int, default=20_000, help="enumerate a size only if it has at most this many masks")
  p.add_argument("--lime-recorded", default=None, metavar="JSON",
                 help="a time_to_quality result: lime's top-k probability per photo, and its target")
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default best_of_size_<backend>)")
  return p


def main(argv=None):
  args = parser().parse_args(argv)
  if not args.ks or min(args.ks) < 1 or args.limit < 1:
    raise SystemExit("--ks sizes must be >= 1 and --limit >= 1")
  start = time.perf_counter()
  name = args.name or f"best_of_size_{jax.default_backend()}"
  config = config_of(args)
  columns = ["photo", "K", "k", "masks", "best_p", "best_kept", "best_mask", "lime_p", "reachable", "seconds"]

  def save(rows: list[dict]) -> str:
    md = (_report.markdown_table(rows, columns)
          + f"\nModel {args.model}; the engine's superpixels and fill ({config.segmentation}, "
          f"{config.fill}), every mask of 1..k superpixels evaluated (masks: how many; sizes with more "
          f"than {args.limit} are not enumerated); best_p: the most probable of them (best_mask: its superpixels); "
          f"lime_p: reference lime's top-k on its own superpixels"
          f"{f' as recorded in {args.lime_recorded}' if args.lime_recorded else ''}; reachable: whether any mask of "
          f"at most k on the engine's superpixels is as probable. Total {time.perf_counter() - start:.0f} s.\n")
    _report.write(args.out, name, {"args": vars(args), "config": dataclasses.asdict(config), "rows": rows},
                  md, "The most probable mask of at most k superpixels, by enumeration")
    return md

  print(save(run(args, on_photo=save)))


if __name__ == "__main__":
  main()
