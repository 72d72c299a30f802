"""One Pareto E-LIME run vs a sweep of single-objective runs over the parsimony penalty, at equal evaluations.

For every (photo, seed): five single-objective runs (parsimony 0, 0.1, 0.3, 0.5, 0.75 by default, each
``population x (generations + 1)`` evaluations) and one NSGA-II run whose budget is the five runs together. Each
single run gives a point (kept, p). Reported: the share of those points the front matches or dominates (some front
genome with at most that many kept reaches that p, within 1e-4), the hypervolume of the front and of the sweep's
points (reference: all K kept, p = 0; sizes divided by K), and the same share for the front after only one
single run's budget (read from the front's per-generation history: the Pareto run at equal evaluations per run).
A plot shows the first photo's front with its sweep points.

  python -m benchmarks.pareto_vs_parsimony --name pareto_vs_parsimony_init075_cpu   # Lite0, 3 photos, 2 seeds
  python -m benchmarks.pareto_vs_parsimony --pareto-init-prob 0.5                     # the front started as the sweep
  python -m benchmarks.pareto_vs_parsimony --model tiny --segmentation grid --photos chelsea --seeds 1 \\
      --population 4 --generations 1 --pareto-population 8 --out /tmp/x          # smoke test
"""
from __future__ import annotations

import argparse
import dataclasses
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
from evojax_lime import explain_front
from evojax_lime.front import covers, hypervolume, non_dominated_sizes
from evojax_lime.front_render import plot_front

PARSIMONIES = (0.0, 0.1, 0.3, 0.5, 0.75)


def pareto_config(base: el.ELimeConfig, *, runs: int, population: int,
                  init_prob: Optional[float] = None) -> el.ELimeConfig:
  """``base`` with population ``population`` and as many generations as ``runs`` single runs of ``base`` cost
  (and its own initial gene probability if given)."""
  total = runs * base.num_evaluations
  if total % population or total // population < 1:
    raise ValueError(f"--pareto-population {population} must divide the sweep's {total} evaluations")
  return dataclasses.replace(base, population_size=population, generations=total // population - 1,
                             num_elite=min(base.num_elite, population - 1),
                             init_prob=base.init_prob if init_prob is None else init_prob)


def front_after(front, evaluations: int) -> np.ndarray:
  """The front's best probability per size after its first ``evaluations`` evaluations (NaN: none yet)."""
  generation = max(0, min(len(front.history), -(-evaluations // front.config.population_size)) - 1)
  return front.history[generation]


def run(args: argparse.Namespace, on_rows=lambda rows, plots: None) -> list[dict]:
  model = _common.load_model(args.model)
  base = _common.config_from(args)
  pareto = pareto_config(base, runs=len(args.parsimonies), population=args.pareto_population,
                         init_prob=args.pareto_init_prob)
  rows, plots = [], []
  for photo, pixels in _common.load_photos(args.photos, model.input_size, args.images):
    image = pixels.astype(np.float32) / 255.0
    labels = el.segment(image, base.segmentation, dict(base.segmentation_params))
    for seed in range(args.seeds):
      singles = [el.explain(image, model.classifier, segments=labels, seed=seed,
                            config=dataclasses.replace(base, parsimony=float(lam))) for lam in args.parsimonies]
      front = explain_front(image, model.classifier, segments=labels, config=pareto, seed=seed)
      k = front.num_segments
      points = [(len(e.selected), e.explanation_probability) for e in singles]
      one_run = front_after(front, base.num_evaluations)
      hv_one = hypervolume(non_dominated_sizes(one_run), one_run[non_dominated_sizes(one_run)], k)
      row = {"photo": photo, "seed": seed, "target": model.class_name(front.target), "K": k,
             "p_original": front.original_probability,
             "sweep_points": [{"parsimony": float(lam), "kept": kept, "probability": p}
                              for lam, (kept, p) in zip(args.parsimonies, points)],
             "covered": sum(covers(front.probabilities, kept, p) for kept, p in points),
             "covered_one_run": sum(covers(one_run, kept, p) for kept, p in points), "points": len(points),
             "hv_front": front.hypervolume(), "hv_front_one_run": hv_one,
             "hv_sweep": hypervolume([kept for kept, _ in points], [p for _, p in points], k),
             "front": front.summary()["front"], "front_size": len(front.non_dominated()),
             "sweep_evaluations": sum(e.num_evaluations for e in singles), "pareto_evaluations": front.num_evaluations,
             "sweep_time_s": sum(e.evolve_time for e in singles), "pareto_time_s": front.evolve_time,
             "pareto_compile_s": front.compile_time}
      rows.append(row)
      _common.progress(f"{photo} seed {seed}: covered {row['covered']}/{len(points)} (one run's budget "
                       f"{row['covered_one_run']}), hv front {row['hv_front']:.3f} sweep {row['hv_sweep']:.3f}, "
                       f"t sweep {row['sweep_time_s']:.1f}s pareto {row['pareto_time_s']:.1f}s")
      if not plots:
        plots.append((front, [(kept, p, f"parsimony {lam:g}") for lam, (kept, p) in zip(args.parsimonies, points)],
                      f"{photo} ({model.class_name(front.target)}), seed {seed}"))
      on_rows(rows, plots)
  return rows


def summarise(rows: list[dict]) -> list[dict]:
  """Per photo and over all, coverage shares and mean hypervolumes."""
  out = []
  for photo in [*dict.fromkeys(r["photo"] for r in rows), "all"]:
    group = [r for r in rows if photo in ("all", r["photo"])]
    total = sum(r["points"] for r in group)
    mean = lambda f: float(np.mean([r[f] for r in group]))
    out.append({"photo": photo, "runs": len(group), "K": group[0]["K"] if photo != "all" else "",
                "covered": sum(r["covered"] for r in group) / total,
                "covered_one_run": sum(r["covered_one_run"] for r in group) / total,
                "hv_front": mean("hv_front"), "hv_front_one_run": mean("hv_front_one_run"),
                "hv_sweep": mean("hv_sweep"), "front_size": mean("front_size"),
                "sweep_time_s": mean("sweep_time_s"), "pareto_time_s": mean("pareto_time_s")})
  return out


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL,
                 help="efficientnet_lite0 (pretrained), NAME=CHECKPOINT, or tiny (random CNN, for smoke tests)")
  p.add_argument("--photos", nargs="*", default=["chelsea", "coffee", "astronaut"],
                 help=f"from {', '.join(_common.PHOTOS)}")
  p.add_argument("--images", default=None, help="also explain every image file in this folder")
  p.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1")
  p.add_argument("--parsimonies", type=float, nargs="+", default=list(PARSIMONIES),
                 help="the single-objective sweep")
  p.add_argument("--pareto-population", type=int, default=64,
                 help="NSGA-II population; its generations make its budget the whole sweep's")
  p.add_argument("--pareto-init-prob", type=float, default=0.75,
                 help="NSGA-II's initial gene probability (0.75 reached more of the sweep's large, high-p points "
                      "than the sweep's own 0.5)")
  _common.config_args(p)
  p.set_defaults(population=32, generations=15)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default pareto_vs_parsimony_<backend>)")
  return p


def main(argv=None):
  args = parser().parse_args(argv)
  start = time.perf_counter()
  name = args.name or f"pareto_vs_parsimony_{jax.default_backend()}"
  base = _common.config_from(args)
  try:
    pareto = pareto_config(base, runs=len(args.parsimonies), population=args.pareto_population,
                           init_prob=args.pareto_init_prob)
  except ValueError as e:
    raise SystemExit(f"pareto_vs_parsimony: error: {e}")

  def save(rows: list[dict], plots: list) -> str:
    columns = ["photo", "runs", "K", "covered", "covered_one_run", "hv_front", "hv_front_one_run", "hv_sweep",
               "front_size", "sweep_time_s", "pareto_time_s"]
    table = summarise(rows)
    md = _report.markdown_table(table, columns) + (
        f"\nModel {args.model}; fill {args.fill}; segmentation {args.segmentation}; {args.seeds} seed(s). Sweep: "
        f"parsimony {', '.join(f'{v:g}' for v in args.parsimonies)}, each "
        f"{_common.describe(base).replace(f'parsimony {base.parsimony:g}, ', '')} "
        f"({base.num_evaluations} evaluations). Pareto: NSGA-II, population {pareto.population_size}, generations "
        f"{pareto.generations}, init {pareto.init_prob:g} ({pareto.num_evaluations} evaluations = the whole sweep's). covered: share of sweep "
        f"points the front matches or dominates; covered_one_run: the same for the front after "
        f"{base.num_evaluations} evaluations (one sweep run's budget). hv: hypervolume, reference (K, 0), sizes / K; "
        f"hv_sweep over the sweep's points. Times exclude compilation. Total {time.perf_counter() - start:.0f} s.\n")
    path = _report.write(args.out, name, {"args": vars(args), "summary": table, "runs": rows}, md,
                         "Pareto E-LIME vs a parsimony sweep at equal total evaluations")
    for front, points, title in plots:
      plot_front(front, path.with_suffix(".png"), title=title, points=points)
    return md

  print(save(run(args, on_rows=save), []))


if __name__ == "__main__":
  main()
