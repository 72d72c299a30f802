"""E-LIME vs our JAX LIME vs the reference ``lime`` package, at equal numbers of classifier evaluations.

All three see the same image, superpixels, fill (``black`` = lime's ``hide_color=0``, ``mean`` = its
``hide_color=None``) and classifier (reference lime calls it as a numpy function in batches of ``--batch-size``).
E-LIME's population x (generations + 1) equals the LIME sample count. Each LIME keeps its top-k positive
superpixels with k = the number E-LIME kept. Reported per method: wall time (compile excluded, shown apart),
explanation probability, insertion/deletion AUC of its ranking, sparsity (kept / K).

Time to LIME's quality: the same E-LIME run replayed generation by generation gives, after each generation, the
best probability among its population's genomes with at most k superpixels kept (k = what E-LIME kept, the
size lime's top-k mask gets). The first generation whose best reaches reference lime's probability, times
E-LIME's measured time per generation, is the wall time E-LIME needs for lime's quality; lime's own time is
beside it, both measured in the same process.

  python -m benchmarks.vs_lime                                  # pretrained Lite0, chelsea + coffee, 1000 / 5000
  python -m benchmarks.vs_lime --budgets 500 1000 --name vs_lime_cpu
  python -m benchmarks.vs_lime --model tiny --photos chelsea --budgets 40 --out /tmp/x   # smoke test
"""
from __future__ import annotations

import argparse
import os
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
from evojax_lime.baselines.lime import explain_lime

os.environ.setdefault("TQDM_DISABLE", "1")  # reference lime's per-sample progress bar
HIDE_COLOR = {"black": 0, "mean": None}  # our fill -> lime's hide_color
METHODS = ("e-lime", "jax-lime", "lime")


def reference_lime(image: np.ndarray, labels: np.ndarray, classify, *, target: int, fill: str, num_samples: int,
                   batch_size: int, seed: int) -> tuple[np.ndarray, float, object]:
  """``LimeImageExplainer.explain_instance`` on our superpixels -> ((K,) weights, seconds, its explanation)."""
  from lime import lime_image
  explainer = lime_image.LimeImageExplainer(kernel_width=0.25, random_state=seed)
  t0 = time.perf_counter()
  exp = explainer.explain_instance(image, classify, labels=(target,), top_labels=None, hide_color=HIDE_COLOR[fill],
                                   num_features=100000, num_samples=num_samples, batch_size=batch_size,
                                   segmentation_fn=lambda _: labels, random_seed=seed)
  seconds = time.perf_counter() - t0
  weights = np.zeros(int(labels.max()) + 1)
  for feature, weight in exp.local_exp[target]:
    weights[feature] = weight
  return weights, seconds, exp


def lime_genome(exp, target: int, labels: np.ndarray, k: int) -> np.ndarray:
  """Reference lime's own top-k: ``get_image_and_mask(positive_only=True, num_features=k)``."""
  _, mask = exp.get_image_and_mask(target, positive_only=True, num_features=k, hide_rest=False)
  genome = np.zeros(int(labels.max()) + 1, bool)
  genome[np.unique(labels[mask.astype(bool)])] = True
  return genome


def time_to_quality(exp: el.Explanation, *, k: int, probability: float) -> dict:
  """When E-LIME's run ``exp`` first held a genome with at most ``k`` kept and p >= ``probability``.

  Read off the run's own per-size archive (``exp.size_history``), no replay. Returns generations (1 = the
  initial population only; None if never) and seconds, from ``exp``'s measured evolve time per generation.
  """
  best = np.nan_to_num(exp.size_history[:, :k + 1], nan=-np.inf).max(axis=1)
  reached = np.flatnonzero(best >= probability)
  per_generation = exp.evolve_time / (exp.generations_run + 1)
  generations: Optional[int] = int(reached[0]) + 1 if reached.size else None
  return {"generations_to_lime": generations, "seconds_per_generation": per_generation,
          "time_to_lime_s": None if generations is None else generations * per_generation,
          "best_within_k": [float(b) if np.isfinite(b) else None for b in best]}


def run(args: argparse.Namespace, on_rows=lambda rows: None) -> list[dict]:
  """All photos x budgets x seeds; ``on_rows(rows)`` after each (photo, budget) saves partial results."""
  model = _common.load_model(args.model)
  base = _common.config_from(args)
  classify = _common.numpy_classifier(model.classifier)
  rows = []
  for photo, pixels in _common.load_photos(args.photos, model.input_size, args.images):
    image = pixels.astype(np.float32) / 255.0
    labels = el.segment(image, base.segmentation, dict(base.segmentation_params))
    for budget in args.budgets:
      config = _common.equal_budget(base, budget)
      for seed in range(args.seeds):
        first = len(rows)
        exp = el.explain(image, model.classifier, segments=labels, config=config, seed=seed)
        k = len(exp.selected)
        common = {"photo": photo, "budget": budget, "seed": seed, "target": model.class_name(exp.target),
                  "original_probability": exp.original_probability, "num_segments": exp.num_segments}
        row = {**common, "method": "e-lime", "evaluations": exp.num_evaluations, "time_s": exp.evolve_time,
               "compile_s": exp.compile_time, "generations": exp.generations_run + 1,
               "setting": f"P={config.population_size} G={config.generations}"}
        row.update(_common.score(exp, exp.genome, exp.ranking, model.classifier, config=base,
                                 steps=args.steps))
        rows.append(row)

        ours = explain_lime(image, model.classifier, target=exp.target, segments=labels, num_samples=budget,
                            config=_common.lime_config(base), seed=seed)
        row = {**common, "method": "jax-lime", "evaluations": ours.num_evaluations,
               "time_s": ours.timings["wall"] - ours.timings["compile"], "compile_s": ours.timings["compile"],
               "setting": f"S={budget} k={k}"}
        row.update(_common.score(ours, ours.genome(k), ours.ranking, model.classifier, config=base, steps=args.steps))
        rows.append(row)

        if args.fill in HIDE_COLOR and not args.skip_reference:
          # Warm the numpy classifier's jit for lime's batch shapes so its time is classifier + lime, no compile.
          for n in {min(args.batch_size, budget), budget % args.batch_size} - {0}:
            classify(np.zeros((n, *image.shape), np.float32))
          weights, seconds, ref = reference_lime(image, labels, classify, target=exp.target, fill=args.fill,
                                                 num_samples=budget, batch_size=args.batch_size, seed=seed)
          row = {**common, "method": "lime", "evaluations": budget, "time_s": seconds, "compile_s": 0.0,
                 "setting": f"S={budget} k={k} batch={args.batch_size}"}
          row.update(_common.score(ours, lime_genome(ref, exp.target, labels, k), np.argsort(-weights, kind="stable"),
                                   model.classifier, config=base, steps=args.steps))
          rows.append(row)
          rows[first].update(time_to_quality(exp, k=k, probability=row["explanation_probability"]),
                             lime_probability=row["explanation_probability"], lime_time_s=seconds)
        for r in rows[first:]:
          _common.progress(f"{photo} {budget} seed {seed} {r['method']}: p={r['explanation_probability']:.3f} "
                           f"k={r['kept']} ins={r['insertion_auc']:.3f} del={r['deletion_auc']:.3f} "
                           f"t={r['time_s']:.1f}s")
      on_rows(rows)
  return rows


def summarise(rows: list[dict]) -> list[dict]:
  """Mean over seeds per (photo, budget, method)."""
  keys = sorted({(r["photo"], r["budget"], r["method"]) for r in rows},
                key=lambda t: (t[0], t[1], METHODS.index(t[2])))
  out = []
  for photo, budget, method in keys:
    group = [r for r in rows if (r["photo"], r["budget"], r["method"]) == (photo, budget, method)]
    mean = lambda f: float(np.mean([r[f] for r in group]))
    out.append({"photo": photo, "target": group[0]["target"], "evaluations": budget, "method": method,
                "setting": group[0]["setting"] if len(group) == 1 else group[0]["setting"].split(" k=")[0],
                "seeds": len(group), "time_s": mean("time_s"), "compile_s": mean("compile_s"),
                "p_original": mean("original_probability"), "p_explanation": mean("explanation_probability"),
                "kept": mean("kept"), "K": group[0]["num_segments"], "sparsity": mean("sparsity"),
                "insertion_auc": mean("insertion_auc"), "deletion_auc": mean("deletion_auc")})
  return out


def quality_table(rows: list[dict]) -> list[dict]:
  """One row per E-LIME run that has a reference lime beside it: time to lime's probability vs lime's time."""
  out = []
  for r in rows:
    if r["method"] != "e-lime" or "lime_time_s" not in r:
      continue
    t = r["time_to_lime_s"]
    out.append({"photo": r["photo"], "evaluations": r["budget"], "seed": r["seed"], "k": r["kept"], "K": r["num_segments"],
                "lime_p": r["lime_probability"], "lime_time_s": r["lime_time_s"],
                "elime_p": r["explanation_probability"], "elime_time_s": r["time_s"],
                "generations_to_lime": "not reached" if t is None else f"{r['generations_to_lime']}/{r['generations']}",
                "time_to_lime_s": float("nan") if t is None else t,
                "speedup": float("nan") if not t else r["lime_time_s"] / t})
  return out


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL,
                 help="efficientnet_lite0 (pretrained), NAME=CHECKPOINT, or tiny (random CNN, for smoke tests)")
  p.add_argument("--photos", nargs="*", default=["chelsea", "coffee"], help=f"from {', '.join(_common.PHOTOS)}")
  p.add_argument("--images", default=None, help="also explain every image file in this folder")
  p.add_argument("--budgets", type=int, nargs="+", default=[1000, 5000], help="classifier evaluations per method")
  p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 for every method")
  p.add_argument("--batch-size", type=int, default=100, help="reference lime's classifier batch size")
  p.add_argument("--steps", type=int, default=20, help="insertion/deletion steps (at most K)")
  p.add_argument("--skip-reference", action="store_true", help="do not run the reference lime package")
  _common.config_args(p)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default vs_lime_<backend>)")
  return p


def main(argv=None):
  args = parser().parse_args(argv)
  if args.fill not in HIDE_COLOR and not args.skip_reference:
    raise SystemExit(f"--fill {args.fill}: reference lime only hides with black (0) or the superpixel mean")
  start = time.perf_counter()
  name = args.name or f"vs_lime_{jax.default_backend()}"

  def save(rows: list[dict]) -> str:
    columns = ["photo", "target", "evaluations", "method", "setting", "time_s", "compile_s", "p_original",
               "p_explanation", "kept", "K", "sparsity", "insertion_auc", "deletion_auc"]
    table = summarise(rows)
    md = _report.markdown_table(table, columns) + (
        f"\nModel {args.model}; fill {args.fill}; segmentation {args.segmentation}; {args.seeds} seed(s), means "
        f"shown; time_s excludes compilation (compile_s); k = superpixels E-LIME kept, the LIMEs keep their top-k "
        f"positive weights; AUCs over {args.steps} steps; total {time.perf_counter() - start:.0f} s.\n")
    quality = quality_table(rows)
    if quality:
      md += ("\n## Time to LIME's quality\n\nThe wall time E-LIME needs to hold a mask of at most k superpixels "
             "whose probability reaches reference lime's top-k probability (lime_p), vs lime's own time for its "
             "samples; generations_to_lime counts populations evaluated (the initial one included) out of the run's, "
             "converted to seconds with the run's measured time per generation; speedup = lime_time_s / "
             "time_to_lime_s.\n\n" + _report.markdown_table(quality, list(quality[0])))
    _report.write(args.out, name, {"args": vars(args), "summary": table, "time_to_quality": quality, "runs": rows}, md,
                  "E-LIME vs JAX LIME vs reference lime at equal classifier evaluations")
    return md

  print(save(run(args, on_rows=save)))


if __name__ == "__main__":
  main()
