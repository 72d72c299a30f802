"""E-LIME vs our JAX LIME vs the reference ``lime`` package, at equal numbers of classifier evaluations.

All three see the same image, superpixels, fill (``black`` = lime's ``hide_color=0``, ``mean`` = its
``hide_color=None``) and classifier (reference lime calls it as a numpy function in batches of ``--batch-size``).
E-LIME's population x (generations + 1) equals the LIME sample count. Each LIME keeps its top-k positive
superpixels with k = the number E-LIME kept. Reported per method: wall time (compile excluded, shown apart),
explanation probability, insertion/deletion AUC of its ranking, sparsity (kept / K).

  python -m benchmarks.vs_lime                                  # pretrained Lite0, chelsea + coffee, 1000 / 5000
  python -m benchmarks.vs_lime --budgets 500 1000 --name vs_lime_cpu
  python -m benchmarks.vs_lime --model tiny --photos chelsea --budgets 40 --out /tmp/x   # smoke test
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

import evojax_lime as el
from benchmarks import _common, _report
from evojax_lime.lime import explain_lime

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
               "compile_s": exp.compile_time,
               "setting": f"P={config.population_size} G={config.generations}"}
        row.update(_common.score(exp, exp.genome, _common.elime_ranking(exp), model.classifier, config=base,
                                 steps=args.steps))
        rows.append(row)

        ours = explain_lime(image, model.classifier, target=exp.target, segments=labels, num_samples=budget,
                            config=base, seed=seed)
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
    _report.write(args.out, name, {"args": vars(args), "summary": table, "runs": rows}, md,
                  "E-LIME vs JAX LIME vs reference lime at equal classifier evaluations")
    return md

  print(save(run(args, on_rows=save)))


if __name__ == "__main__":
  main()
