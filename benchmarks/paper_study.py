"""The E-LIME paper's study: photos x models x seeds, original vs explanation probability, beside JAX LIME.

For every (model, photo, seed) E-LIME explains the model's top-1 class; reported per (model, photo): original
probability, explanation probability (mean, std), the share of seeds whose explanation raised the probability,
superpixels kept, stability across seeds (mean pairwise Jaccard), time per explanation, and JAX LIME's
explanation probability when it keeps the same number k of superpixels (its top-k positive weights). A box plot
shows the spread. ``--sweep`` instead varies engine options one at a time around the given config and reports,
per setting, the share of runs that raised the probability and the mean kept fraction (rates and fill do not
recompile; population, generations and crossover do).

  python -m benchmarks.paper_study                                      # Lite0, 3 photos x 3 seeds
  python -m benchmarks.paper_study --photos all --seeds 30 --checkpoint resnet50=r50.pth   # the full design
  python -m benchmarks.paper_study --sweep parsimony=0,0.05,0.2 population=32,128 mutation_rate=0.02
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report
from evojax_lime import metrics
from evojax_lime.baselines.lime import explain_lime

# ELimeConfig fields a sweep may vary, with how to parse one value ("default" restores ELimeConfig's).
SWEEPABLE = {"population_size": int, "generations": int, "crossover": str, "crossover_rate": float,
             "mutation_rate": float, "fill": str, "parsimony": float, "tournament_size": int, "num_elite": int,
             "init_prob": float, "segmentation": str}
ALIASES = {"population": "population_size", "mutation": "mutation_rate"}


def explain_runs(images: Sequence[np.ndarray], labels: Sequence[np.ndarray], seeds: Sequence[int],
                 model: _common.ModelEntry, config: el.ELimeConfig, batch: int) -> list[el.Explanation]:
  """One E-LIME explanation per (image, labels, seed), ``batch`` runs at a time evolved in one compiled program
  (a batch of B runs feeds the classifier B x population images per generation). Each explanation's
  ``evolve_time`` is its batch's divided by B; ``compile_time`` is its batch's."""
  exps = []
  for i in range(0, len(images), batch):
    sl = slice(i, i + batch)
    done = el.explain_batch(images[sl], model.classifier, segments=labels[sl], config=config, seeds=list(seeds[sl]))
    exps += [dataclasses.replace(e, evolve_time=e.evolve_time / len(done)) for e in done]
  return exps


def study_rows(model: _common.ModelEntry, photos, config: el.ELimeConfig, seeds: Sequence[int],
               lime_samples: int, batch: int) -> list[dict]:
  """One row per (photo, seed)."""
  rows = []
  for photo, pixels in photos:
    image = pixels.astype(np.float32) / 255.0
    labels = el.segment(image, config.segmentation, dict(config.segmentation_params))
    t0 = time.perf_counter()
    exps = explain_runs([image] * len(seeds), [labels] * len(seeds), seeds, model, config, batch)
    batch_time = time.perf_counter() - t0
    for seed, exp in zip(seeds, exps):
      row = {"model": model.name, "photo": photo, "seed": seed, "target": model.class_name(exp.target),
             "original_probability": exp.original_probability,
             "explanation_probability": exp.explanation_probability,
             "raised": exp.explanation_probability > exp.original_probability, "kept": len(exp.selected),
             "num_segments": exp.num_segments, "kept_fraction": len(exp.selected) / exp.num_segments,
             "selected": exp.selected.tolist(), "evaluations": exp.num_evaluations,
             "time_s": exp.evolve_time, "compile_s": exp.compile_time,
             "batch_wall_s": batch_time}
      if lime_samples:
        lime = explain_lime(image, model.classifier, target=exp.target, segments=labels, num_samples=lime_samples,
                            config=_common.lime_config(config), seed=seed)
        genome = lime.genome(row["kept"])
        problem = metrics.as_problem(lime)
        chunk = metrics.chunk_size_for(model.classifier, config, image_shape=image.shape, rows=1)
        prob = metrics.probability_program(model.classifier, logits=False, chunk_size=chunk, dtype=config.dtype)
        row.update({"lime_probability": float(prob(jnp.asarray(genome)[None], problem)[0]),
                    "lime_kept": int(genome.sum()), "lime_time_s": lime.timings["wall"] - lime.timings["compile"]})
      rows.append(row)
    _common.progress(f"{model.name} {photo}: p0={exps[0].original_probability:.3f} "
                     f"p={np.mean([r['explanation_probability'] for r in rows[-len(seeds):]]):.3f} "
                     f"raised {np.mean([r['raised'] for r in rows[-len(seeds):]]):.0%} "
                     f"kept {np.mean([r['kept'] for r in rows[-len(seeds):]]):.1f}/{exps[0].num_segments} "
                     f"({batch_time:.0f} s)")
  return rows


def summarise(rows: list[dict]) -> list[dict]:
  """Per (model, photo) and per model overall."""
  out = []
  for model in dict.fromkeys(r["model"] for r in rows):
    groups = [(p, [r for r in rows if r["model"] == model and r["photo"] == p])
              for p in dict.fromkeys(r["photo"] for r in rows if r["model"] == model)]
    groups.append(("all", [r for r in rows if r["model"] == model]))
    for photo, group in groups:
      col = lambda f: np.asarray([r[f] for r in group], np.float64)
      s = {"model": model, "photo": photo, "target": group[0]["target"] if photo != "all" else "",
           "runs": len(group), "p_original": col("original_probability").mean(),
           "p_explanation": col("explanation_probability").mean(),
           "p_explanation_std": col("explanation_probability").std(),
           "raised": col("raised").mean(), "kept": col("kept").mean(), "kept_std": col("kept").std(),
           "K": col("num_segments").mean(), "kept_fraction": col("kept_fraction").mean(),
           "time_s": col("time_s").mean()}
      if photo != "all" and len(group) > 1:
        selections = np.zeros((len(group), group[0]["num_segments"]), bool)
        for i, r in enumerate(group):
          selections[i, r["selected"]] = True
        s["stability"] = float(metrics.stability(selections))
      if "lime_probability" in group[0]:
        s.update({"lime_p": col("lime_probability").mean(), "lime_p_std": col("lime_probability").std(),
                  "lime_raised": float((col("lime_probability") > col("original_probability")).mean())})
      out.append(s)
  return out


def box_plot(rows: list[dict], path) -> None:
  """Explanation probabilities per photo (E-LIME and JAX LIME boxes), original probability as a dash."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  model_names = list(dict.fromkeys(r["model"] for r in rows))
  fig, axes = plt.subplots(1, len(model_names), figsize=(max(6, 2.2 * len({r['photo'] for r in rows})) *
                                                          len(model_names), 4.5), squeeze=False)
  for ax, name in zip(axes[0], model_names):
    mrows = [r for r in rows if r["model"] == name]
    photos = list(dict.fromkeys(r["photo"] for r in mrows))
    elime = [[r["explanation_probability"] for r in mrows if r["photo"] == p] for p in photos]
    x = np.arange(len(photos))
    has_lime = "lime_probability" in mrows[0]
    width = 0.35 if has_lime else 0.6
    style = {"patch_artist": True, "medianprops": {"color": "black"}}
    b1 = ax.boxplot(elime, positions=x - (width / 2 if has_lime else 0), widths=width * 0.9, **style)
    for patch in b1["boxes"]:
      patch.set_facecolor("#4c72b0")
    handles, names = [b1["boxes"][0]], ["E-LIME"]
    if has_lime:
      lime = [[r["lime_probability"] for r in mrows if r["photo"] == p] for p in photos]
      b2 = ax.boxplot(lime, positions=x + width / 2, widths=width * 0.9, **style)
      for patch in b2["boxes"]:
        patch.set_facecolor("#dd8452")
      handles.append(b2["boxes"][0])
      names.append("JAX LIME (same k)")
    original = [next(r["original_probability"] for r in mrows if r["photo"] == p) for p in photos]
    handles.append(ax.scatter(x, original, marker="_", s=900, color="black", zorder=3))
    names.append("full image")
    ax.set_xticks(x, photos, rotation=20)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("p(top-1 class)")
    ax.set_title(f"{name}: {len(mrows) // max(1, len(photos))} seeds per photo")
    ax.legend(handles, names, loc="lower left", fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def parse_sweep(specs: Sequence[str]) -> list[tuple[str, list[Any]]]:
  """``["parsimony=0,0.1", ...]`` -> ``[("parsimony", [0.0, 0.1]), ...]``; ``default`` is ELimeConfig's value."""
  factors = []
  defaults = el.ELimeConfig()
  for spec in specs:
    name, sep, values = spec.partition("=")
    name = ALIASES.get(name.replace("-", "_"), name.replace("-", "_"))
    if not sep or name not in SWEEPABLE or not values:
      raise SystemExit(f"--sweep {spec!r}: expected FACTOR=V1,V2,... with FACTOR one of "
                       f"{', '.join(sorted(SWEEPABLE) + sorted(ALIASES))}")
    parse = lambda v: getattr(defaults, name) if v == "default" else SWEEPABLE[name](v)
    factors.append((name, [parse(v) for v in values.split(",")]))
  return factors


def sweep(model: _common.ModelEntry, photos, base: el.ELimeConfig, seeds: Sequence[int],
          factors: list[tuple[str, list[Any]]], batch: int, on_row=lambda rows: None) -> list[dict]:
  """The base config, then each factor's values one at a time; every setting runs all photos x seeds at once.

  ``on_row(rows)`` is called after each setting (to save partial results of a long sweep).
  """
  settings = [("base", None, base)]
  for name, values in factors:
    for value in values:
      if getattr(base, name) != value:
        settings.append((name, value, dataclasses.replace(base, **{name: value})))
  images, labels = [], []
  for _, pixels in photos:
    image = pixels.astype(np.float32) / 255.0
    images += [image] * len(seeds)
    labels += [el.segment(image, base.segmentation, dict(base.segmentation_params))] * len(seeds)
  seed_list = [s for _ in photos for s in seeds]
  rows = []
  for name, value, config in settings:
    t0 = time.perf_counter()
    exps = explain_runs(images, labels, seed_list, model, config, batch)
    wall = time.perf_counter() - t0
    compile_s = float(sum(exps[i].compile_time for i in range(0, len(exps), batch)))  # one per batch
    p0 = np.asarray([e.original_probability for e in exps])
    p = np.asarray([e.explanation_probability for e in exps])
    kept = np.asarray([len(e.selected) / e.num_segments for e in exps])
    per_photo = {ph: float((p > p0)[i * len(seeds):(i + 1) * len(seeds)].mean()) for i, (ph, _) in enumerate(photos)}
    row = {"model": model.name, "factor": name, "value": "" if value is None else value,
           "runs": len(exps), "raised": float((p > p0).mean()), "kept_fraction": float(kept.mean()),
           "kept": float(np.mean([len(e.selected) for e in exps])), "p_gain": float((p - p0).mean()),
           "p_explanation": float(p.mean()), "evaluations": config.num_evaluations,
           "run_s": float(sum(e.evolve_time for e in exps)), "compile_s": compile_s, "raised_per_photo": per_photo}
    rows.append(row)
    on_row(rows)
    _common.progress(f"{name}={value}: raised {row['raised']:.0%} kept {row['kept_fraction']:.3f} "
                     f"gain {row['p_gain']:+.3f} ({wall:.0f} s, compile {row['compile_s']:.0f} s)")
  return rows


def sweep_table(rows: list[dict], config: el.ELimeConfig, num_photos: int, num_seeds: int, seconds: float) -> str:
  columns = ["model", "factor", "value", "runs", "raised", "kept_fraction", "kept", "p_gain", "p_explanation",
             "evaluations", "run_s", "compile_s"]
  ok = [r for r in rows if r["raised"] >= 0.9]
  best = min(ok, key=lambda r: r["kept_fraction"]) if ok else None
  return _report.markdown_table(rows, columns) + (
      f"\nOne factor at a time around: {_common.describe(config)}. {num_photos} photo(s) x {num_seeds} seed(s) "
      f"per setting. "
      f"raised = share of runs whose explanation raised p(top-1); p_gain = mean(p_explanation - p_original). "
      f"Sparsest setting with raised >= 0.9: "
      f"{'none' if best is None else str(best['factor']) + '=' + str(best['value'])}. Total {seconds:.0f} s.\n")


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL,
                 help="efficientnet_lite0 (pretrained; always studied), or tiny (random CNN, for smoke tests)")
  p.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH",
                 help="also study models.create(NAME, PATH), e.g. resnet50=resnet50.pth (repeatable)")
  p.add_argument("--photos", nargs="*", default=["chelsea", "coffee", "astronaut"],
                 help=f"from {', '.join(_common.PHOTOS)}, or 'all'")
  p.add_argument("--images", default=None, help="also explain every image file in this folder")
  p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per photo (the paper's design: 30)")
  p.add_argument("--batch-runs", type=int, default=10,
                 help="runs evolved together in one program (bounds memory: runs x population images per call)")
  p.add_argument("--lime-samples", type=int, default=1000, help="JAX LIME samples per run (0: no LIME)")
  p.add_argument("--sweep", nargs="+", default=None, metavar="FACTOR=V1,V2",
                 help="sweep engine options one at a time, e.g. parsimony=0,0.05,0.2 population=32,128 "
                      "mutation_rate=default,0.05 fill=mean,blur ('default' = ELimeConfig's value)")
  _common.config_args(p)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default paper_study[_sweep]_<backend>)")
  return p


def main(argv=None):
  args = parser().parse_args(argv)
  start = time.perf_counter()
  config = _common.config_from(args)
  names = list(_common.PHOTOS) if args.photos == ["all"] else args.photos
  seeds = list(range(args.seeds))
  if args.seeds < 1:
    raise SystemExit("--seeds must be >= 1")
  entries = [_common.load_model(args.model)] + [_common.load_model(spec) for spec in args.checkpoint]
  backend = jax.default_backend()
  info = {"args": vars(args), "config": dataclasses.asdict(config)}

  if args.sweep:
    factors = parse_sweep(args.sweep)
    name = args.name or f"paper_study_sweep_{backend}"
    done: list[dict] = []

    def save(rows):
      md = sweep_table(done + rows, config, len(names), len(seeds), time.perf_counter() - start)
      _report.write(args.out, name, {**info, "sweep": done + rows}, md, "E-LIME engine options sweep")
      return md

    for model in entries:
      done += sweep(model, _common.load_photos(names, model.input_size, args.images), config, seeds, factors,
                    args.batch_runs, on_row=save)
    print(save([]))
    return

  name = args.name or f"paper_study_{backend}"

  def save(rows: list[dict]) -> str:
    table = summarise(rows)
    columns = ["model", "photo", "target", "runs", "p_original", "p_explanation", "p_explanation_std", "raised",
               "kept", "kept_std", "K", "stability", "time_s"]
    if args.lime_samples:
      columns += ["lime_p", "lime_p_std", "lime_raised"]
    md = _report.markdown_table(table, columns) + (
        f"\nE-LIME config: {_common.describe(config)} ({config.num_evaluations} evaluations per run). raised = share "
        f"of runs whose explanation raised p(top-1); stability = mean pairwise Jaccard of the selected sets across "
        f"seeds; time_s = run time per explanation (up to {args.batch_runs} runs batched in one program), compile "
        f"excluded. lime_* = JAX LIME ({args.lime_samples} samples, same seed) keeping the same k superpixels. "
        f"Total {time.perf_counter() - start:.0f} s.\n")
    path = _report.write(args.out, name, {**info, "summary": table, "runs": rows}, md,
                         "E-LIME paper study: original vs explanation probability")
    box_plot(rows, path.with_suffix(".png"))
    return md

  rows: list[dict] = []
  for model in entries:
    for photo in _common.load_photos(names, model.input_size, args.images):
      rows += study_rows(model, [photo], config, seeds, args.lime_samples, args.batch_runs)
      md = save(rows)  # after every photo, so a long run that is stopped keeps what it finished
  print(md)


if __name__ == "__main__":
  main()
