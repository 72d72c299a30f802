"""Stable explanations: how much do explanations from different seeds agree, single runs vs restarts' consensus?

For every photo and seed s (0..S-1), three explanations of the classifier's top-1 class:

* ``single``: one run, population P, G generations (P x (G + 1) evaluations);
* ``consensus``: ``explain(restarts=R)`` at the same total budget, R runs of population P / R, G generations;
* ``consensus_full`` (``--full``): R runs of population P each, R times the budget.

Reported per photo and mode: the mean pairwise Jaccard of the selected sets across the S seeds (the goal for the
consensus: >= 0.8), the within-consensus stability (the R runs' agreement), explanation probability, superpixels
kept, and run time per explanation. Every mode runs all photos x seeds as one program (``explain_batch``).

``--perturbations`` measures instead the default answer's stability where the deterministic greedy start cannot
make it 1 by construction: for every photo and seed, three rows of one search (``ELimeConfig(prune=True)``, read
before its pruning pass, the default ``knee`` answer, and after it): the photo; the photo with 1/255 noise (each
channel of each pixel moved by -1, 0 or +1 of 255, drawn from ``numpy.random.default_rng(seed)``, cut anew);
the photo cut at another scale (:data:`evojax_lime.robustness.CUTS`' quickshift with kernel 6). Answers are
compared by the pixel Jaccard of their masks (:func:`evojax_lime.robustness.pixel_jaccard`), so that answers
over different superpixels can be matched: across seeds (mean pairwise), and each perturbed answer with the
photo's own under the same seed.

  python -m benchmarks.stability --population 32 --generations 7 --seeds 4 --restarts 4 --full
  python -m benchmarks.stability --perturbations --photos chelsea coffee --seeds 2
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
from evojax_lime.robustness import CUTS, pixel_jaccard


def run_mode(images, labels, seeds, model, config, restarts):
  """All photos x seeds in one program -> (explanations, seconds of the whole call, compile included)."""
  t0 = time.perf_counter()
  exps = el.explain_batch([im for im in images for _ in seeds], model.classifier,
                          segments=[lab for lab in labels for _ in seeds], config=config,
                          seeds=[s for _ in images for s in seeds], restarts=restarts)
  return exps, time.perf_counter() - t0


def noisy(pixels: np.ndarray, seed: int) -> np.ndarray:
  """``pixels`` (uint8) with every channel moved by -1, 0 or +1 (of 255), clipped: noise no answer should see."""
  step = np.random.default_rng(seed).integers(-1, 2, size=pixels.shape)
  return np.clip(pixels.astype(np.int16) + step, 0, 255).astype(np.uint8)


def perturbations(args: argparse.Namespace, config: el.ELimeConfig, model, photos) -> tuple[list, list]:
  """The default answer (``knee``) and the pruned one, across seeds, 1/255 noise and another segmentation scale,
  compared by pixel Jaccard; all photos x seeds x variants are rows of one search."""
  method, params = CUTS["quickshift_kernel6"]
  seeds = list(range(args.seeds))
  images, segments = [], []
  for _, px in photos:
    for s in seeds:
      for pixels in (px, noisy(px, s), px):
        images.append(pixels.astype(np.float32) / 255.0)
      cut = (config.segmentation, dict(config.segmentation_params))
      segments += [el.segment(images[-3], *cut), el.segment(images[-2], *cut), el.segment(images[-1], method, params)]
  rows_seeds = [s for _ in photos for s in seeds for _ in range(3)]
  t0 = time.perf_counter()
  search = el.Search(images, model.classifier, segments=segments, seeds=rows_seeds,
                     config=dataclasses.replace(config, prune=True, faithfulness=False))
  answers = {"knee": search.advance(config.generations + 1).explanations()}
  answers["knee_pruned"] = search.advance().explanations()
  seconds = time.perf_counter() - t0
  masks = {rule: [np.asarray(e.genome, bool)[np.asarray(e.labels)] for e in exps] for rule, exps in answers.items()}
  rows, runs = [], []
  for i, (photo, _) in enumerate(photos):
    for rule, exps in answers.items():
      at = lambda s, v: i * len(seeds) * 3 + s * 3 + v  # row of seed s, variant v (0 photo, 1 noise, 2 scale)
      own = [masks[rule][at(s, 0)] for s in seeds]
      pairs = [(a, b) for a in range(len(seeds)) for b in range(a + 1, len(seeds))]
      rows.append({"photo": photo, "rule": rule, "target": model.class_name(exps[at(0, 0)].target), "seeds": len(seeds),
                   "across_seeds": float(np.mean([pixel_jaccard(own[a], own[b]) for a, b in pairs])),
                   "noise_1_255": float(np.mean([pixel_jaccard(own[s], masks[rule][at(s, 1)]) for s in seeds])),
                   "kernel6_cut": float(np.mean([pixel_jaccard(own[s], masks[rule][at(s, 2)]) for s in seeds])),
                   "kept": float(np.mean([len(exps[at(s, 0)].selected) for s in seeds])),
                   "K": exps[at(0, 0)].num_segments, "K_kernel6": exps[at(0, 2)].num_segments,
                   "forwards": exps[at(0, 0)].num_evaluations})
      runs += [{"photo": photo, "rule": rule, "seed": s, "variant": v, "selected": exps[at(s, j)].selected.tolist(),
                "explanation_probability": exps[at(s, j)].explanation_probability}
               for s in seeds for j, v in enumerate(("photo", "noise", "kernel6"))]
  _common.progress(f"perturbations: {len(images)} rows in {seconds:.0f} s (compile included)")
  return rows, runs


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL, help="efficientnet_lite0 (pretrained) or tiny")
  p.add_argument("--photos", nargs="*", default=["chelsea", "coffee", "astronaut", "rocket"])
  p.add_argument("--seeds", type=int, default=4, help="seeds 0..S-1 per photo")
  p.add_argument("--restarts", type=int, default=4, help="R runs per consensus explanation")
  p.add_argument("--full", action="store_true", help="also run the consensus at R times the budget")
  p.add_argument("--quick", action="store_true", help="a tiny configuration (smoke test)")
  p.add_argument("--perturbations", action="store_true",
                 help="the default answer across seeds, 1/255 noise and another segmentation scale (pixel Jaccard)")
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
  if args.perturbations:
    rows, runs = perturbations(args, config, model, photos)
    columns = ["photo", "rule", "target", "seeds", "across_seeds", "noise_1_255", "kernel6_cut", "kept", "K",
               "K_kernel6", "forwards"]
    md = _report.markdown_table(rows, columns) + (
        f"\n{_common.describe(config)}; one search, every row read before its pruning pass (knee, the default "
        f"answer) and after it (knee_pruned). Pixel Jaccard of the answers' masks: across_seeds, mean pairwise over "
        f"seeds 0..{args.seeds - 1}; noise_1_255 and kernel6_cut, each perturbed answer against the photo's own "
        f"under the same seed (mean over seeds). Total {time.perf_counter() - start:.0f} s.\n")
    _report.write(args.out, args.name or f"stability_perturbations_{jax.default_backend()}",
                  {"args": vars(args), "config": dataclasses.asdict(config), "summary": rows, "runs": runs}, md,
                  "Stable answers: across seeds, 1/255 noise and another segmentation scale")
    print(md)
    return
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
