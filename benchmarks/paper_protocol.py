"""The E-LIME paper's protocol in one command: photos x seeds, original vs explanation probability, time.

All photos x seeds run as ONE compiled program (:func:`evojax_lime.studies`; the photos share one size). Written
under ``--out``: the tidy table (CSV and JSON, one row per run), a markdown table per photo (mean and std of
the original and the explanation probability, superpixels kept, stability across seeds, time per explanation)
and a bar chart of original vs explanation probability per photo. Then ``--sequential N`` of the same runs are
redone one ``explain`` call at a time (as a user without studies would) to compare the time per explanation and
check that they give the same explanations.

  python -m benchmarks.paper_protocol --population 16 --generations 5          # CPU: reduced budget
  python -m benchmarks.paper_protocol --model resnet50 --population 64 --generations 40   # GPU (random weights)
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


def model_entry(name: str, weights: str, dtype: str) -> tuple[_common.ModelEntry, str]:
  """The classifier and which weights it has: ``auto`` is the bundled checkpoint where one exists, else the
  architecture's seeded random initialisation (enough to time the protocol, not to read its probabilities)."""
  if name == "tiny" or "=" in name:
    return _common.load_model(name, dtype=dtype), "random" if name == "tiny" else name.partition("=")[2]
  if weights == "auto":
    try:
      return _common.load_model(name, dtype=dtype), "pretrained"
    except ValueError as err:
      if "no bundled weights" not in str(err):
        raise
      weights = "random"
  return _common.load_model(f"{name}={weights}", dtype=dtype), weights


def bar_chart(summary: list[dict], path, title: str) -> None:
  """Mean original vs explanation probability per photo, one standard deviation as error bars."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  photos = [s["image"] for s in summary]
  x = np.arange(len(photos))
  fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(photos)), 4.0))
  for offset, key, label, colour in ((-0.2, "p_original", "full image", "#8c8c8c"),
                                     (0.2, "p_explanation", "E-LIME explanation", "#4c72b0")):
    ax.bar(x + offset, [s[key] for s in summary], 0.4, yerr=[s[key + "_std"] for s in summary], capsize=4,
           label=label, color=colour)
  ax.set_xticks(x, [f"{s['image']}\n{s['target_name']}" for s in summary])
  ax.set_ylim(0, 1.15)
  ax.set_ylabel("p(top-1 class), mean ± std over seeds")
  ax.set_title(title, fontsize=9)
  ax.legend(loc="upper center", ncol=2, fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def sequential(photos, seeds, count: int, model, config, table) -> dict:
  """The first ``count`` runs (seed-major over photos) one ``explain`` call at a time, against the study's rows."""
  picks = [(i, s) for s in range(len(seeds)) for i in range(len(photos))][:count]
  rows = {(r["image"], r["seed"]): r for r in table.rows}
  walls, compiles, same, diffs = [], [], 0, []
  for i, s in picks:
    name, pixels = photos[i]
    exp = el.explain(pixels, model.classifier, config=config, seed=seeds[s])
    walls.append(exp.wall_time)
    compiles.append(exp.compile_time)
    row = rows[(name, seeds[s])]
    same += row["selected"] == " ".join(map(str, exp.selected))
    diffs.append(abs(row["explanation_probability"] - exp.explanation_probability))
  per = (sum(walls) - sum(compiles)) / len(walls)
  return {"runs": len(picks), "wall_s": float(sum(walls)), "compile_s": float(sum(compiles)),
          "per_explanation_s": float(per), "same_selected": same, "max_abs_p_difference": float(max(diffs))}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL,
                 help="a models architecture (e.g. efficientnet_lite0, resnet50), NAME=CHECKPOINT, or tiny")
  p.add_argument("--weights", default="auto", choices=("auto", "pretrained", "random"),
                 help="auto: the bundled checkpoint where the architecture has one, else random weights")
  p.add_argument("--photos", nargs="*", default=["chelsea", "coffee", "astronaut", "rocket"],
                 help=f"from {', '.join(_common.PHOTOS)}")
  p.add_argument("--seeds", type=int, default=30, help="seeds 0..N-1 per photo (the paper: 30)")
  p.add_argument("--sequential", type=int, default=4,
                 help="also redo this many of the runs one explain() at a time (0: none)")
  p.add_argument("--dtype", default="float32", choices=el.config.DTYPES,
                 help="the model's computation dtype and the masked images' (bfloat16: faster on accelerators)")
  _common.config_args(p)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default paper_protocol_<backend>_<model>)")
  args = p.parse_args(argv)
  if args.seeds < 1 or args.sequential < 0:
    raise SystemExit("--seeds must be >= 1 and --sequential >= 0")
  start = time.perf_counter()
  config = dataclasses.replace(_common.config_from(args), dtype=args.dtype)
  model, weights = model_entry(args.model, args.weights, args.dtype)
  photos = _common.load_photos(args.photos, model.input_size)
  seeds = list(range(args.seeds))
  _common.progress(f"{model.name} ({weights}): {len(photos)} photos x {len(seeds)} seeds in one program")
  t0 = time.perf_counter()
  table = el.study([px for _, px in photos], model.classifier, seeds=seeds, config=config,
                   names=[n for n, _ in photos])
  study_s = time.perf_counter() - t0
  search = table.meta["searches"][0]
  _common.progress(f"study: {study_s:.1f} s for {len(table)} explanations (compile {search['compile_seconds']:.1f} s)")
  seq = sequential(photos, seeds, args.sequential, model, config, table) if args.sequential else None
  if seq:
    _common.progress(f"one at a time: {seq['per_explanation_s']:.2f} s per explanation (compile excluded)")
  summary = table.summary()
  for s in summary:
    s["target_name"] = model.class_name(s["target"])
  # Per explanation with compile excluded on both sides (superpixels included on both sides).
  study_per = (study_s - search["compile_seconds"]) / len(table)
  timing = {"study_s": study_s, "study_compile_s": search["compile_seconds"], "study_per_explanation_s": study_per,
            "sequential": seq, "speedup": seq["per_explanation_s"] / study_per if seq else None,
            "sequential_projected_s": seq["per_explanation_s"] * len(table) + seq["compile_s"] if seq else None}
  name = args.name or f"paper_protocol_{jax.default_backend()}_{model.name}"
  columns = ["image", "target_name", "runs", "p_original", "p_original_std", "p_explanation", "p_explanation_std",
             "raised", "kept", "kept_std", "K", "stability", "seconds"]
  md = _report.markdown_table(summary, columns) + (
      f"\n{model.name} ({weights} weights); {_common.describe(config)} ({config.num_evaluations} evaluations per "
      f"run). {len(photos)} photos x {len(seeds)} seeds = {len(table)} explanations as one program "
      f"(evojax_lime.studies): {study_s:.1f} s in all ({search['compile_seconds']:.1f} s of it compiling), "
      f"{study_per:.3f} s per explanation with compile excluded. seconds = the whole time (superpixels and compile "
      f"included) divided per explanation. stability = mean pairwise Jaccard of the selected sets across seeds.\n")
  if seq:
    md += (f"\nThe first {seq['runs']} runs redone one explain() at a time: {seq['per_explanation_s']:.3f} s per "
           f"explanation (compile excluded; {seq['compile_s']:.1f} s of compile), {timing['speedup']:.1f}x the "
           f"study's; all {len(table)} runs that way would take about {timing['sequential_projected_s']:.0f} s "
           f"against the study's {study_s:.0f} s. {seq['same_selected']}/{seq['runs']} chose the same "
           f"superpixels as the study's rows (largest probability difference {seq['max_abs_p_difference']:.2g}).\n")
  md += f"\nTotal {time.perf_counter() - start:.0f} s.\n"
  out = _report.write(args.out, name, {"args": vars(args), "weights": weights, "config": dataclasses.asdict(config),
                                 "timing": timing, "summary": summary, "rows": list(table.rows),
                                 "searches": table.meta["searches"]}, md,
                "E-LIME paper protocol: original vs explanation probability, one program")
  table.to_csv(out.with_suffix(".csv"))
  bar_chart(summary, out.with_suffix(".png"), f"{model.name} ({weights}): {len(seeds)} seeds per photo, "
                                              f"{config.num_evaluations} evaluations per run")
  print(md)


if __name__ == "__main__":
  main()
