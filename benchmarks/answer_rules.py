"""The answer rules side by side, population by population: how often the answer raises p(top-1), how stable
it is across seeds, and how many superpixels it keeps.

For each photo, S seeds run as the rows of one search (``ELimeConfig(answer="fittest")``, the default start),
driven one population at a time. After each population, each seed's answer under each rule is read from the
same run: ``fittest``, the genome of best fitness; ``sufficient``, the smallest archived mask more probable than
the full image (the rule :func:`evojax_lime.engine.loop.sufficient` applies in the program, here applied to the
run's archive on the host; the fittest where none). Reported per population: the share of runs whose answer
is more probable than the full image (``raised``), the mean pairwise Jaccard index of the answers across
seeds (median and worst photo) and the mean number of superpixels kept.

The default photos are not those of ``benchmarks/time_to_quality.py``, so a rule and a budget chosen here are
measured there on photos they were not chosen on.

  python -m benchmarks.answer_rules                                    # 5 photos x 5 seeds, 16 generations
  python -m benchmarks.answer_rules --model tiny --segmentation grid --photos camera --seeds 2 --population 8 \\
      --generations 2 --out /tmp/rules                                # smoke test
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report
from evojax_lime import metrics
from evojax_lime.engine.loop import sufficient

DEFAULT_PHOTOS = ("camera", "coins", "clock", "colorwheel", "moon")
RULES = ("fittest", "sufficient")


def rule_answers(exp: el.Explanation) -> dict[str, tuple[np.ndarray, float]]:
  """``rule -> ((K,) bool answer, its probability)`` for one run (``exp`` from an ``answer="fittest"`` search)."""
  k = exp.num_segments
  archive = np.nan_to_num(exp.size_probabilities, nan=-np.inf)[None].astype(np.float32)
  found, mask, p = sufficient(archive, exp.size_genomes[None], np.float32([exp.original_probability]),
                              np.int32([k]))
  fittest = (exp.genome, exp.explanation_probability)
  return {"fittest": fittest,
          "sufficient": (np.asarray(mask[0], bool), float(p[0])) if bool(found[0]) else fittest}


def _stability(masks: np.ndarray):
  """Mean pairwise Jaccard of ``(S, K)`` answers, None for one seed."""
  return float(metrics.stability(masks)) if len(masks) > 1 else None


def stops(masks: np.ndarray, patience: int) -> np.ndarray:
  """``(T, S, K)`` answers after each population -> ``(S,)`` the population after which ``patience`` would
  stop each seed: the first whose answer has not changed for ``patience`` populations (the engine's rule,
  :func:`evojax_lime.engine.loop.finished`), else the last."""
  changed = np.concatenate([np.ones((1, masks.shape[1]), bool), (masks[1:] != masks[:-1]).any(-1)])
  stall = np.zeros(changed.shape, int)
  for t in range(1, len(changed)):
    stall[t] = np.where(changed[t], 0, stall[t - 1] + 1)
  hit = stall >= patience
  return np.where(hit.any(0), hit.argmax(0), len(masks) - 1)


def with_patience(masks: np.ndarray, raised: np.ndarray, patience: int) -> dict:
  """The answers a search with ``patience`` returns, read off the whole run (stopping early changes nothing
  before the stop): populations evaluated, raised, stability and size."""
  at = stops(masks, patience)
  seeds = np.arange(masks.shape[1])
  return {"populations": (at + 1).tolist(), "raised": raised[at, seeds].tolist(),
          "kept": masks[at, seeds].sum(-1).tolist(), "stability": _stability(masks[at, seeds])}


def run(args: argparse.Namespace, config: el.ELimeConfig) -> dict:
  model = _common.load_model(args.model)
  seeds = list(range(args.seeds))
  photos = []
  for name, pixels in _common.load_photos(args.photos, model.input_size, args.images):
    image = pixels.astype(np.float32) / 255.0
    labels = el.segment(image, config.segmentation, dict(config.segmentation_params))
    search = el.Search([image] * len(seeds), model.classifier, segments=[labels] * len(seeds), config=config,
                       seeds=seeds)
    t0 = time.perf_counter()
    populations, masks, raised = [], {rule: [] for rule in RULES}, {rule: [] for rule in RULES}
    while not search.done:
      search.advance(1)
      exps = search.explanations()
      answers = [rule_answers(e) for e in exps]
      for rule in RULES:
        masks[rule].append(np.stack([a[rule][0] for a in answers]))
        raised[rule].append(np.array([a[rule][1] > e.original_probability for a, e in zip(answers, exps)]))
      populations.append({rule: {"kept": masks[rule][-1].sum(-1).tolist(), "raised": raised[rule][-1].tolist(),
                                 "stability": _stability(masks[rule][-1])} for rule in RULES})
    photos.append({"photo": name, "K": exps[0].num_segments, "target": exps[0].target,
                   "target_name": model.class_name(exps[0].target),
                   "original_probability": exps[0].original_probability, "populations": populations,
                   "patience": [{"rule": rule, "patience": n, **with_patience(np.stack(masks[rule]),
                                                                             np.stack(raised[rule]), n)}
                                for rule in RULES for n in args.patience],
                   "seconds": time.perf_counter() - t0})
    _common.progress(f"{name}: K={exps[0].num_segments}, {len(populations)} populations, "
                     f"{photos[-1]['seconds']:.0f}s")
  return {"photos": photos}


def _over_photos(at: list[dict]) -> dict:
  """Per-photo ``raised``/``kept`` (one per seed) and ``stability`` -> the shares, median and worst, means."""
  stabilities = [a["stability"] for a in at if a["stability"] is not None]
  return {"raised": float(np.mean([r for a in at for r in a["raised"]])),
          "stability_median": float(np.median(stabilities)) if stabilities else None,
          "stability_min": float(np.min(stabilities)) if stabilities else None,
          "kept_mean": float(np.mean([k for a in at for k in a["kept"]]))}


def summarise(result: dict) -> list[dict]:
  """One row per population and rule, over photos and seeds."""
  return [{"populations": t + 1, "rule": rule,
           **_over_photos([p["populations"][t][rule] for p in result["photos"] if t < len(p["populations"])])}
          for t in range(max(len(p["populations"]) for p in result["photos"])) for rule in RULES]


def summarise_patience(result: dict) -> list[dict]:
  """One row per rule and patience, over photos and seeds."""
  out = []
  for i, row in enumerate(result["photos"][0]["patience"]):
    at = [p["patience"][i] for p in result["photos"]]
    out.append({"rule": row["rule"], "patience": row["patience"],
                "populations_mean": float(np.mean([n for a in at for n in a["populations"]])), **_over_photos(at)})
  return out


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL,
                 help="efficientnet_lite0 (pretrained), NAME=CHECKPOINT, or tiny (random CNN, for smoke tests)")
  p.add_argument("--photos", nargs="*", default=list(DEFAULT_PHOTOS),
                 help=f"from {', '.join(_common.PHOTOS + _common.EXTRA_PHOTOS)}")
  p.add_argument("--images", default=None, help="also explain every image file in this folder")
  p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 per photo")
  p.add_argument("--patience", type=int, nargs="*", default=[1, 2, 3, 4, 5],
                 help="patience values whose stops are read off the runs")
  _common.config_args(p)
  p.set_defaults(generations=16)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default answer_rules_<backend>)")
  return p


def main(argv=None):
  args = parser().parse_args(argv)
  if args.seeds < 1:
    raise SystemExit("--seeds must be >= 1")
  if any(n < 1 for n in args.patience):
    raise SystemExit("--patience values must be >= 1")
  start = time.perf_counter()
  # Both rules are read off the fittest run, run whole by config_from (patience's stops are read off it); the
  # curves score one answer, so they are not evaluated.
  config = dataclasses.replace(_common.config_from(args), answer="fittest", faithfulness=False)
  result = run(args, config)
  summary, patience = summarise(result), summarise_patience(result)
  import jax  # pylint: disable=import-outside-toplevel
  name = args.name or f"answer_rules_{jax.default_backend()}"
  md = (_report.markdown_table(summary, ["populations", "rule", "raised", "stability_median", "stability_min",
                                         "kept_mean"])
        + f"\nModel {args.model}; {len(result['photos'])} photos x {args.seeds} seeds; {_common.describe(config)}, "
        f"seeding {config.seeding}. raised: share of runs whose answer is more probable than the full image; "
        f"stability: mean pairwise Jaccard of the answers across seeds (median and worst photo); kept_mean: "
        f"superpixels kept, mean over runs. Total {time.perf_counter() - start:.0f} s.\n\n"
        "## With patience\n\nEach seed stops after the first population whose answer has not changed for "
        "`patience` populations (at most all of them); read off the same runs. populations_mean: populations "
        "evaluated, mean over runs.\n\n"
        + _report.markdown_table(patience, ["rule", "patience", "populations_mean", "raised", "stability_median",
                                            "stability_min", "kept_mean"])
        + "\n## Photos\n\n"
        + _report.markdown_table([{k: v for k, v in p.items() if k != "populations"} for p in result["photos"]],
                                 ["photo", "K", "target_name", "original_probability", "seconds"]))
  path = _report.write(args.out, name, {"args": vars(args), "summary": summary, "patience": patience, **result}, md,
                       "Answer rules per population: raised, stability, size")
  print(md)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()
