"""Model-randomisation sanity (Adebayo et al., NeurIPS 2018) of every explainer, on the same randomised models.

An explanation of a prediction must change when the layers that make the prediction are destroyed. For each
photo of ``benchmarks/vs_peers.py`` (same superpixels, fill, target and budget), each method explains the photo
with the trained model at seeds 0..S-1 (``--seeds``) and again with each randomised copy of the model under a
seed independent of the first run's, and the score is Spearman's rank correlation of the two rankings (the
ranking p@k and the curves use: ``scores.ranking_correlation``; lower is better, 0 is no dependence left).

* The randomised copies are drawn once, from explicit seeds: head h at depth d is
  ``models.randomised.randomised(model, layers=d, seed=--head-seed + h)``, the last d parameterised top-level
  layers re-initialised (1: the classification head; ``all``: every layer). Each layer's weights come from a
  generator of its own, so head h's copies form a cascade over the depths (``--depths``, default 1 3 6 all).
  EVERY method is given the same copies: the engine's methods rerun them through their compiled search
  (``Search.rerun``, under ``engine.seeds.independent_seeds`` of the run's seed), and reference lime and captum
  call them as numpy functions (the JAX model's shared compiled forward; their trained runs here call it too,
  so trained and randomised differ only in the weights) with seed ``--peer-rerun-offset + seed``.
* Methods: E-LIME (``elime``, ranking ``exp.ranking``), the engine's ``kernelshap`` and ``extremal`` (ranking:
  importance, descending), reference ``lime`` and captum's ``KernelShap`` (ranking: weights, descending), at the
  budgets of ``vs_peers`` (``--evaluations``). captum's ``Lime`` is left out: its Lasso zeroes nearly every
  coefficient at this budget, so its ranking is mostly superpixel order.
* Reported per method and depth: the median over photos of each photo's median over heads x seeds (the
  deeper depths at the first ``--cascade-seeds`` seeds only, to save time), the
  spread (pooled standard deviation and 10th-90th percentiles of every head x seed x photo value), and beside
  it each method's ``seed_agreement``: the rank correlation of its own trained rankings between two seeds
  (the ceiling a method's sanity is read against: a method that disagrees with itself scores low everywhere).

  python -m benchmarks.sanity --out benchmarks/results                  # Lite0, 8 photos, 3 heads x 3 seeds
  python -m benchmarks.sanity --model tiny --segmentation grid --photos chelsea --seeds 2 --heads 2 \\
      --depths 1 all --evaluations 40 --out /tmp/sanity                             # smoke test
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import time
from typing import Any

import jax
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report, vs_peers
from benchmarks.time_to_quality import TUNED_ON, _median, photo_args
from evojax_lime.scores import ranking_correlation

METHODS = ("elime", "kernelshap", "extremal", "lime", "captum_kernelshap")


def depth_of(depth: str, model: Any) -> int:
  from models.randomised import layer_order  # pylint: disable=import-outside-toplevel
  return len(layer_order(model)) if depth == "all" else int(depth)


def heads(model: Any, *, depths: list[str], count: int, seed: int) -> dict[str, list[Any]]:
  """The randomised copies every method is given: ``count`` per depth, head h drawn from ``seed + h``."""
  from models.randomised import randomised  # pylint: disable=import-outside-toplevel
  return {d: [randomised(model, layers=depth_of(d, model), seed=seed + h) for h in range(count)] for d in depths}


def method_runs(method: str, subject: vs_peers.Subject, model: Any, copies: list[Any], *, seed: int,
                args: argparse.Namespace, config: el.ELimeConfig) -> tuple[vs_peers.Answer, list[vs_peers.Answer]]:
  """``method``'s trained answer at ``seed`` and its answer under each copy, from an independent seed."""
  if method in vs_peers.ENGINE_METHODS:
    return vs_peers.run_engine(method, subject, model.classifier(), seed=seed, config=config,
                               evaluations=args.evaluations, reruns=tuple(c.classifier() for c in copies))
  run = vs_peers.PEERS[method]
  trained = run(subject, vs_peers.model_classifier(model), seed=seed, evaluations=args.evaluations)
  again = [run(subject, vs_peers.model_classifier(c), seed=args.peer_rerun_offset + seed,
               evaluations=args.evaluations) for c in copies]
  return trained, again


def photo_rows(subject: vs_peers.Subject, method: str, trained: list[vs_peers.Answer],
               randomised: dict[str, list[list[vs_peers.Answer]]]) -> list[dict]:
  """One row per depth: every head x seed correlation, their median, and the method's seed agreement."""
  agreement = [ranking_correlation(a.ranking, b.ranking) for a, b in itertools.combinations(trained, 2)]
  rows = []
  for depth, per_seed in randomised.items():  # per_seed: the copies' answers at the first len(per_seed) seeds
    values = [[ranking_correlation(t.ranking, r.ranking) for r in copies] for t, copies in zip(trained, per_seed)]
    flat = [v for seed_values in values for v in seed_values]
    rows.append({"photo": subject.name, "tuned_on": subject.tuned_on, "method": method, "depth": depth,
                 "K": subject.num_segments, "median": float(np.median(flat)), "mean": float(np.mean(flat)),
                 "sd": float(np.std(flat)), "values": values,  # [seed][head]
                 "seed_agreement": float(np.mean(agreement)) if agreement else None})
  return rows


def summarise(rows: list[dict], *, untuned: bool = False) -> list[dict]:
  """Per method and depth: median over photos of each photo's median, pooled spread, seed agreement."""
  out = []
  for method, depth in dict.fromkeys((r["method"], r["depth"]) for r in rows):
    group = [r for r in rows if r["method"] == method and r["depth"] == depth and not (untuned and r["tuned_on"])]
    if not group:
      continue
    pooled = np.asarray([v for r in group for seed_values in r["values"] for v in seed_values])
    out.append({"method": method, "depth": depth, "photos": len(group), "values": int(pooled.size),
                "median": _median(r["median"] for r in group), "mean": float(pooled.mean()),
                "sd": float(pooled.std()), "q10": float(np.quantile(pooled, 0.1)),
                "q90": float(np.quantile(pooled, 0.9)),
                "seed_agreement": _median(r["seed_agreement"] for r in group)})
  return out


def run(args: argparse.Namespace, on_photo=lambda result: None) -> dict:
  """Every photo x method; ``on_photo(result)`` after each method of each photo saves partial results."""
  model = vs_peers.load_model(args.model)
  config = vs_peers.elime_config(args)
  copies = heads(model, depths=args.depths, count=args.heads, seed=args.head_seed)
  classifiers = vs_peers.Classifiers(model, vs_peers.model_classifier(model))
  result = {"depth_layers": {d: depth_of(d, model) for d in args.depths}, "rows": [], "skipped": []}
  for name, pixels in _common.load_photos(args.photos, model.input_size, args.images):
    subject = vs_peers.subject_of(name, name in TUNED_ON, pixels, config, classifiers)
    if subject.num_segments < 2:
      result["skipped"].append({"photo": name, "K": subject.num_segments})
      continue
    for method in args.methods:
      trained, randomised = [], {d: [] for d in args.depths}
      for seed in range(args.seeds):
        depths = args.depths if seed < args.cascade_seeds else args.depths[:1]  # the cascade at the first seeds
        answer, again = method_runs(method, subject, model, [c for d in depths for c in copies[d]], seed=seed,
                                    args=args, config=config)
        trained.append(answer)
        for i, depth in enumerate(depths):
          randomised[depth].append(again[i * args.heads:(i + 1) * args.heads])
      rows = photo_rows(subject, method, trained, randomised)
      result["rows"] += rows
      _common.progress(f"{name} {method}: " + " ".join(f"depth {r['depth']} {r['median']:+.3f}" for r in rows)
                       + f" seed agreement {rows[0]['seed_agreement']}")
      on_photo(result)  # after every method: a long run keeps what it has
  return result


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL, help="efficientnet_lite0 (pretrained) or tiny (smoke)")
  photo_args(p)
  p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
  p.add_argument("--evaluations", type=int, default=300, help="classifier evaluations per explanation")
  p.add_argument("--seeds", type=int, default=3, help="each method's seeds 0..S-1 per photo")
  p.add_argument("--heads", type=int, default=3, help="randomised copies per depth")
  p.add_argument("--head-seed", type=int, default=0, help="head h is drawn from seed head_seed + h")
  p.add_argument("--depths", nargs="+", default=["1", "3", "6", "all"],
                 help="layers re-initialised from the output (strictly increasing; 'all': every layer)")
  p.add_argument("--cascade-seeds", type=int, default=None,
                 help="seeds at which the depths after the first are run too (default: every seed)")
  p.add_argument("--peer-rerun-offset", type=int, default=10_000,
                 help="lime's and captum's seed under a randomised copy: offset + the trained run's seed")
  p.add_argument("--segmentation", default=None, choices=el.config.SEGMENTATIONS)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default sanity_<backend>)")
  return p


def check(args: argparse.Namespace) -> None:
  args.cascade_seeds = args.seeds if args.cascade_seeds is None else args.cascade_seeds
  if args.seeds < 1 or args.heads < 1 or args.evaluations < 8 or not 1 <= args.cascade_seeds <= args.seeds:
    raise SystemExit("--seeds and --heads must be >= 1, --evaluations >= 8, --cascade-seeds in [1, --seeds]")
  if any(d != "all" and not d.isdigit() for d in args.depths):
    raise SystemExit(f"--depths takes layer counts or 'all', got {' '.join(args.depths)}")
  model = vs_peers.load_model(args.model)
  layers = [depth_of(d, model) for d in args.depths]
  if any(b <= a for a, b in zip(layers, layers[1:])) or not 1 <= layers[0] or layers[-1] > depth_of("all", model):
    raise SystemExit(f"--depths must be strictly increasing layer counts in [1, {depth_of('all', model)}]")


def report(args: argparse.Namespace, result: dict, seconds: float) -> str:
  columns = ["method", "depth", "photos", "values", "median", "mean", "sd", "q10", "q90", "seed_agreement"]
  config = vs_peers.elime_config(args)
  layers = ", ".join(f"{d}: {n} layers" for d, n in result["depth_layers"].items())
  return (_report.markdown_table(summarise(result["rows"]), columns)
          + f"\nSpearman rank correlation of each method's ranking under the trained model (seed s) with its "
          f"ranking under a randomised copy (an independent seed); lower is better. median: over photos of each "
          f"photo's median over {args.heads} heads x {args.seeds} seeds at depth {args.depths[0]}, x "
          f"{args.cascade_seeds} seed(s) at the deeper depths; mean, sd, q10, q90: over every value "
          f"pooled; seed_agreement: the method's own trained rankings at two seeds, correlated (median over "
          f"photos). Depths ({layers}); heads drawn from seeds {args.head_seed}..{args.head_seed + args.heads - 1}"
          f", the same copies for every method. Model {args.model}, {args.evaluations} evaluations per "
          f"explanation; segmentation {config.segmentation}, fill {config.fill}; E-LIME: "
          f"{_common.describe(config)}; lime and captum call the JAX model (trained and randomised). "
          f"Total {seconds:.0f} s.\n"
          + f"\n## Without the tuned-on photos ({', '.join(TUNED_ON)})\n\n"
          + _report.markdown_table(summarise(result["rows"], untuned=True), columns)
          + "\n## Per photo\n\n"
          + _report.markdown_table(result["rows"], ["photo", "method", "depth", "K", "median", "mean", "sd",
                                                    "seed_agreement"]))


def main(argv=None):
  args = parser().parse_args(argv)
  check(args)
  start = time.perf_counter()
  name = args.name or f"sanity_{jax.default_backend()}"

  def save(result: dict) -> str:
    md = report(args, result, time.perf_counter() - start)
    payload = {"args": vars(args), "config": dataclasses.asdict(vs_peers.elime_config(args)),
               "summary": summarise(result["rows"]), "summary_untuned": summarise(result["rows"], untuned=True),
               **result}
    _report.write(args.out, name, payload, md, "Sanity of every explainer under the same randomised models")
    return md

  print(save(run(args, on_photo=save)))


if __name__ == "__main__":
  main()
