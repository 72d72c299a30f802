"""Which segmentation serves E-LIME best: explanation quality and time per segmentation method.

For each photo, seed and method (scikit-image quickshift with LIME's settings, JAX quickshift with the same
settings and JAX SLIC inside the compiled program, scikit-image SLIC): explanation probability, insertion / deletion AUC of E-LIME's ranking, kept and
total superpixels, segmentation time and wall time per explanation (compile excluded).

  python -m benchmarks.segmentation_quality --photos chelsea coffee astronaut --seeds 2
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

import evojax_lime as el
from benchmarks import _common, _report

METHODS = ("quickshift", "quickshift_jax", "slic", "slic_jax")


def run(args: argparse.Namespace) -> list[dict]:
  model = _common.load_model(args.model)
  photos = _common.load_photos(args.photos, model.input_size)
  base = _common.config_from(args)
  rows = []
  for method in args.methods:
    config = dataclasses.replace(base, segmentation=method)
    el.explain(photos[0][1], model.classifier, config=config)  # compile once per method
    for name, photo in photos:
      for seed in range(args.seeds):
        t0 = time.perf_counter()
        exp = el.explain(photo, model.classifier, config=config, seed=seed)
        wall = time.perf_counter() - t0
        scores = _common.score(exp, exp.genome, exp.ranking, model.classifier, config=config,
                               steps=args.steps)
        rows.append({"method": method, "photo": name, "seed": seed, "p_original": exp.original_probability,
                     "p_explanation": exp.explanation_probability, "insertion_auc": scores["insertion_auc"],
                     "deletion_auc": scores["deletion_auc"], "kept": len(exp.selected), "K": exp.num_segments,
                     "segmentation_s": exp.segmentation_time, "wall_s": wall, "compile_s": exp.compile_time})
        _common.progress(f"{method} {name} seed {seed}: p {exp.explanation_probability:.3f} "
                         f"ins {scores['insertion_auc']:.3f} kept {len(exp.selected)}/{exp.num_segments} {wall:.1f}s")
  return rows


def summarise(rows: list[dict]) -> list[dict]:
  out = []
  for method in dict.fromkeys(r["method"] for r in rows):
    rs = [r for r in rows if r["method"] == method]
    mean = lambda key: float(np.mean([r[key] for r in rs]))
    out.append({"method": method, "runs": len(rs), "p_explanation": mean("p_explanation"),
                "raised": float(np.mean([r["p_explanation"] > r["p_original"] for r in rs])),
                "insertion_auc": mean("insertion_auc"), "deletion_auc": mean("deletion_auc"), "kept": mean("kept"),
                "K": mean("K"), "segmentation_s": mean("segmentation_s"), "wall_s": mean("wall_s")})
  return out


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL, help="efficientnet_lite0 (pretrained) or tiny")
  p.add_argument("--photos", nargs="+", default=["chelsea", "coffee", "astronaut"])
  p.add_argument("--seeds", type=int, default=2)
  p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
  p.add_argument("--steps", type=int, default=20, help="points on the insertion / deletion curves")
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default segmentation_quality_<backend>)")
  _common.config_args(p)
  args = p.parse_args(argv)
  t0 = time.perf_counter()
  rows = run(args)
  summary = summarise(rows)
  table = _report.markdown_table(summary, list(summary[0]))
  table += (f"\nE-LIME config: {_common.describe(_common.config_from(args))}; {len(args.photos)} photo(s) x "
            f"{args.seeds} seed(s); wall_s is one explanation including segmentation, compile excluded; "
            f"total {time.perf_counter() - t0:.0f} s.\n")
  import jax
  name = args.name or f"segmentation_quality_{jax.default_backend()}"
  print(_report.write(args.out, name, {"args": vars(args), "rows": rows, "summary": summary}, table,
                      "Segmentation methods: explanation quality and time"))
  print(table)


if __name__ == "__main__":
  main()
