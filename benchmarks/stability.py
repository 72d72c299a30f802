"""Stable explanations: how much do explanations from different seeds agree, single runs vs restarts' consensus?

For every photo and seed s (0..S-1), three explanations of the classifier's top-1 class:

* ``single``: one run, population P, G generations (P x (G + 1) evaluations);
* ``consensus``: ``explain(restarts=R)`` at the same total budget, R runs of population P / R, G generations;
* ``consensus_full`` (``--full``): R runs of population P each, R times the budget.

Reported per photo and mode: the mean pairwise Jaccard of the selected sets across the S seeds (the goal for the
consensus: >= 0.8), the within-consensus stability (the R runs' agreement), explanation probability, superpixels
kept, and run time per explanation. Every mode runs all photos x seeds as one program (``explain_batch``).

  python -m benchmarks.stability --population 32 --generations 7 --seeds 4 --restarts 4 --full
  python -m benchmarks.stability --model tiny --segmentation grid --photos chelsea --quick   # smoke test
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report
from evojax_lime import metrics


def run_mode(images, labels, seeds, model, config, restarts):
  """All photos x seeds in one program -> (explanations, seconds of the whole call, compile included)."""
  t0 = time.perf_counter()
  exps = el.explain_batch([im for im in images for _ in seeds], model.classifier,
                          segments=[lab for lab in labels for _ in seeds], config=config,
                          seeds=[s for _ in images for s in seeds], restarts=restarts)
  return exps, time.perf_counter() - t0


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL, help="efficientnet_lite0 (pretrained) or tiny")
  p.add_argument("--photos", nargs="*", default=["chelsea", "coffee", "astronaut", "rocket"])
  p.add_argument("--seeds", type=int, default=4, help="seeds 0..S-1 per photo")
  p.add_argument("--restarts", type=int, default=4, help="R runs per consensus explanation")
  p.add_argument("--full", action="store_true", help="also run the consensus at R times the budget")
  p.add_argument("--quick", action="store_true", help="a tiny configuration (smoke test)")
  _common.config_args(p)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default stability_<backend>)")
  args = p.parse_args(argv)
  if args.quick:
    args.seeds, args.restarts, args.population, args.generations = 2, 2, 8, 2
  if args.seeds < 2 or args.restarts < 2:
    raise SystemExit("--seeds and --restarts must be >= 2")
  if args.population % args.restarts or args.population // args.restarts < 4:
    raise SystemExit("--population must be a multiple of --restarts with population / restarts >= 4")
  start = time.perf_counter()
  config = _common.config_from(args)
  split = dataclasses.replace(config, population_size=config.population_size // args.restarts,
                              num_elite=min(config.num_elite, config.population_size // args.restarts - 1))
  model = _common.load_model(args.model)
  photos = _common.load_photos(args.photos, model.input_size)
  images = [px.astype(np.float32) / 255.0 for _, px in photos]
  labels = [el.segment(im, config.segmentation, dict(config.segmentation_params)) for im in images]
  seeds = list(range(args.seeds))
  modes = [("single", config, 1), ("consensus", split, args.restarts)]
  if args.full:
    modes.append(("consensus_full", config, args.restarts))
  rows, runs = [], []
  for mode, cfg, restarts in modes:
    exps, seconds = run_mode(images, labels, seeds, model, cfg, restarts)
    per_row = seconds / len(exps)
    for i, (photo, _) in enumerate(photos):
      group = exps[i * len(seeds):(i + 1) * len(seeds)]
      selections = np.stack([e.genome for e in group])
      row = {"mode": mode, "photo": photo, "target": model.class_name(group[0].target), "seeds": len(seeds),
             "restarts": restarts, "evaluations": restarts * cfg.num_evaluations,
             "jaccard_across_seeds": float(metrics.stability(selections)),
             "within_stability": float(np.mean([e.stability for e in group])) if restarts > 1 else "",
             "p_original": group[0].original_probability,
             "p_explanation": float(np.mean([e.explanation_probability for e in group])),
             "kept": float(np.mean([len(e.selected) for e in group])), "K": group[0].num_segments,
             "seconds": per_row}
      rows.append(row)
      runs += [{"mode": mode, "photo": photo, "seed": s, "selected": e.selected.tolist(),
                "explanation_probability": e.explanation_probability, "stability": e.stability}
               for s, e in zip(seeds, group)]
    jac = [r["jaccard_across_seeds"] for r in rows if r["mode"] == mode]
    rows.append({"mode": mode, "photo": "mean", "seeds": len(seeds), "restarts": restarts,
                 "evaluations": restarts * cfg.num_evaluations, "jaccard_across_seeds": float(np.mean(jac)),
                 "p_explanation": float(np.mean([r["p_explanation"] for r in rows[-len(photos):]])),
                 "kept": float(np.mean([r["kept"] for r in rows[-len(photos):]])), "seconds": per_row,
                 "batch_seconds": seconds})
    _common.progress(f"{mode}: Jaccard across seeds {np.mean(jac):.3f} ({seconds:.0f} s for {len(exps)} "
                     f"explanations, compile included)")
  columns = ["mode", "photo", "target", "seeds", "restarts", "evaluations", "jaccard_across_seeds",
             "within_stability", "p_original", "p_explanation", "kept", "K", "seconds"]
  md = _report.markdown_table(rows, columns) + (
      f"\nsingle: one run, {_common.describe(config)} ({config.num_evaluations} evaluations). consensus: "
      f"explain(restarts={args.restarts}) at the same total budget, {args.restarts} runs of population "
      f"{split.population_size} (superpixels kept in at least half of the runs, re-evaluated)"
      + (f"; consensus_full: {args.restarts} runs of population {config.population_size}" if args.full else "")
      + f". jaccard_across_seeds = mean pairwise Jaccard of the selected sets of seeds 0..{len(seeds) - 1}; "
      f"within_stability = mean agreement of each consensus' own runs. seconds = the mode's whole call "
      f"(all photos x seeds in one program, compile included) per explanation. Total "
      f"{time.perf_counter() - start:.0f} s.\n")
  name = args.name or f"stability_{jax.default_backend()}"
  _report.write(args.out, name, {"args": vars(args), "config": dataclasses.asdict(config), "summary": rows,
                                 "runs": runs}, md, "Stable explanations: agreement across seeds")
  print(md)


if __name__ == "__main__":
  main()
