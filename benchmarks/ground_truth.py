"""Right answers on ground truth: planted classifiers with known evidence, and objects pasted into other photos.

Two parts, each judging every explainer on the same cases at equal classifier forwards:

* ``planted``: the cases of :mod:`benchmarks._ground_truth_cases` (additive evidence with negative regions, a
  conjunction, a disjunction, saturation, 84 regions with neutral distractors; irregular SLIC regions given as
  ``segments=``, ``fill="black"``), seeds 0..S-1. Scored: precision and recall of the answer's regions
  against the planted evidence (saturation: precision only; see the case module for each case's right answer).
* ``pasted``: an object photo (``--objects``) resized and pasted into a texture or other photo
  (``--backgrounds``) at a position and size that vary by composite; kept only where pretrained
  EfficientNet-Lite0's top-1 on the composite is its top-1 on the object alone, so the class is the object's.
  The target is that class, the ground truth the pasted box: a superpixel (the engine's quickshift, cut once on
  the host) is in the object when at least half its pixels are. Scored: precision, recall and F1 of the kept
  superpixels, and the pointing game (the single most important superpixel lies in the object).

Explainers, each at the forwards E-LIME's search spent (``--config``: one of
:data:`benchmarks.time_to_quality.CONFIGS`, by default ``ELimeConfig()``; with ``patience`` each search stops
when its knee answer has settled):

* E-LIME's answer rules, all read from the archive of one ``answer="fittest"`` search (so at equal forwards by
  construction): ``fittest`` (the paper's), ``sufficient`` (the smallest mask more probable than the photo),
  ``knee`` (the smallest mask within :data:`evojax_lime.engine.loop.KNEE_TOLERANCE` of the most probable one,
  :func:`evojax_lime.engine.loop.knee`). Pointing game: the most probable single superpixel it evaluated.
* E-LIME's ranking (``elime_ranking``, pasted part): ``Explanation.ranking`` of the same search scored as the
  peers' weights are, top-k at the best k: what the search learned, apart from the size its answer picks.
* reference ``lime`` 0.2.0.1 and captum's ``KernelShap``, through :mod:`benchmarks.vs_peers` (the torch Lite0
  from ``efficientnet-lite-pytorch`` for the pasted photos, fed channels-last; the planted classifier as a numpy
  function for the planted cases), top-k of their weights for k in ``--ks``; each composite scores a peer at its
  best k (its highest F1), and the planted cases at k = the size of the right answer (an oracle k no user has).
  Pointing game: the top-weighted superpixel.
* Quantus (``--quantus``, pasted part): ``PointingGame``, ``AttributionLocalisation`` and ``TopKIntersection``
  (k = the object's pixel count / 4) on each explainer's per-pixel map, as a cross-check of the pointing game.

  python -m benchmarks.ground_truth                              # planted 3 seeds; 6 composites x 1 seed
  python -m benchmarks.ground_truth --parts planted --seeds 2 --out /tmp/gt      # planted only
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional

import jax.numpy as jnp
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common
from benchmarks import _ground_truth_cases as planted_cases
from benchmarks import vs_peers
from benchmarks.time_to_quality import CONFIGS
from evojax_lime.engine.loop import knee, sufficient
from evojax_lime.evaluation.fitness import fitness_penalty

os.environ.setdefault("TQDM_DISABLE", "1")

RULES = ("fittest", "sufficient", "knee")
# The knee at other tolerances, read from the same archive (pasted part): how much the rule's one constant matters.
KNEE_TOLERANCES = (0.02, 0.10)
PRUNED = "knee_pruned"  # the knee with the pruning pass (``ELimeConfig(prune=True)``), a search of its own
# E-LIME's ranking (``Explanation.ranking``: the answer's superpixels first, then by importance) read as the peers'
# weights are: top-k at the best k. It costs no forward; it separates what the search learned from the answer's size.
RANKED = "elime_ranking"
PEERS = ("lime", "captum_kernelshap")
ENGINE = vs_peers.ENGINE_STRATEGIES  # the engine's KernelSHAP and extremal masks, ranked by their importance
METHODS = RULES + tuple(f"knee_{t:.2f}" for t in KNEE_TOLERANCES) + (PRUNED, RANKED) + ENGINE + PEERS
OBJECTS = ("chelsea", "coffee", "stereo_motorcycle")
BACKGROUNDS = ("grass", "brick", "gravel")
SIZE = 224
# (object side in px, top-left corner) of composite i, cycled: several positions and sizes.
PLACEMENTS = ((112, (8, 8)), (128, (88, 72)), (96, (120, 16)), (144, (40, 80)))


def rule_answers(exp: el.Explanation, tolerances: tuple[float, ...] = (), *,
                 fittest: bool = False) -> dict[str, np.ndarray]:
  """``rule -> (K,) bool answer`` for one ``answer="fittest"`` run: the engine's rules on its archive, and the
  knee at each of ``tolerances`` (``"knee_0.02"``). With ``fittest``, a run under another rule: its fittest mask
  read from the archive (of the masks of best fitness, the first of the most probable at its size)."""
  k = exp.num_segments
  archive = np.nan_to_num(exp.size_probabilities, nan=-np.inf)[None].astype(np.float32)
  genomes = exp.size_genomes[None]
  found, mask, _ = sufficient(archive, genomes, np.float32([exp.original_probability]), np.int32([k]))
  _, knee_mask, _ = knee(archive, genomes, np.int32([k]))
  if fittest:
    fitness = archive[0] - fitness_penalty(np.arange(k + 1), exp.config.parsimony, k)
    exp = dataclasses.replace(exp, genome=exp.size_genomes[int(np.argmax(fitness))])
  out = {"fittest": exp.genome, "sufficient": np.asarray(mask[0] if bool(found[0]) else exp.genome, bool),
         "knee": np.asarray(knee_mask[0], bool)}
  for tolerance in tolerances:
    out[f"knee_{tolerance:.2f}"] = np.asarray(knee(archive, genomes, np.int32([k]), tolerance=tolerance)[1][0], bool)
  return out


def best_single(exp: el.Explanation) -> int:
  """E-LIME's most important superpixel: the most probable one it evaluated alone."""
  return int(np.flatnonzero(exp.size_genomes[1])[0])


def scored(selected: np.ndarray, truth: np.ndarray) -> dict:
  """Precision, recall and F1 of ``selected`` ids against ``truth`` ids."""
  precision, recall = planted_cases.precision_recall(selected, tuple(int(t) for t in truth))
  f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
  return {"precision": precision, "recall": recall, "f1": f1, "kept": int(len(selected))}


def at_best_k(ranking: np.ndarray, truth: np.ndarray, ks) -> dict:
  """The top-k of ``ranking`` scored at each k of ``ks``, reported at the k of the highest F1 (the smallest on a
  tie): an oracle choice no user of the ranking has, given alike to every ranked explainer."""
  by_k = {k: scored(np.sort(ranking[:k]), truth) for k in ks}
  best_k = max(ks, key=lambda k: (by_k[k]["f1"], -k))
  return {**by_k[best_k], "best_k": best_k, "by_k": by_k, "pointing": bool(ranking[0] in truth)}


def peer_answer(method: str, subject: vs_peers.Subject, classify: Callable, *, seed: int,
                evaluations: int) -> vs_peers.Answer:
  classifiers = vs_peers.Classifiers(None, classify)
  return vs_peers.explain(method, subject, classifiers, seed=seed, config=el.ELimeConfig(), evaluations=evaluations)


# --- planted ---------------------------------------------------------------------------------------------------

def run_planted(args: argparse.Namespace) -> dict:
  seeds = list(range(args.seeds))
  config = dataclasses.replace(CONFIGS[args.config](), fill="black", answer="knee", prune=True,
                               **planted_overrides(args))
  results, elime_s = [], 0.0
  for case in planted_cases.cases():  # one classifier a case: each returns probabilities that sum to 1
    classifier = planted_cases.planted_classifier(case)
    t0 = time.perf_counter()
    # One search: the rules read from its archive before the pruning pass, the pruned knee after it.
    search = el.Search([case.image] * len(seeds), classifier, targets=[0] * len(seeds),
                       segments=[case.labels] * len(seeds), seeds=seeds, config=config)
    exps = search.advance(config.generations + 1).explanations()
    pruned = search.advance().explanations()
    elime_s += time.perf_counter() - t0
    results += _planted_rows(args, case, classifier, seeds, exps, pruned)
  return {"rows": results, "elime_seconds": elime_s}


def planted_overrides(args: argparse.Namespace) -> dict:
  """The planted search's options other than the default's: ``--seeding``, ``--population``, ``--generations``."""
  return {field: value for field, value in (("seeding", args.seeding), ("population_size", args.population),
                                            ("generations", args.generations)) if value is not None}


def _planted_rows(args: argparse.Namespace, case, classifier, seeds: list, exps: list, pruned: list) -> list[dict]:
  """One case's rows: every rule's answer and the peers' top-k, scored against the planted evidence."""
  numpy_classifier, results = _common.numpy_classifier(classifier), []
  for seed, exp, after in zip(seeds, exps, pruned):
    entry = {"case": case.name, "seed": seed, "num_segments": case.num_segments, "forwards": exp.num_evaluations,
             "pruned_forwards": after.num_evaluations, "original_probability": exp.original_probability}
    for rule, genome in rule_answers(exp, fittest=True).items():
      entry[rule] = planted_cases.case_scores(case, np.flatnonzero(genome))
    entry[PRUNED] = planted_cases.case_scores(case, np.flatnonzero(after.genome))
    subject = vs_peers.Subject(case.name, False, case.image, case.labels, "black", np.zeros_like(case.image), 0,
                               exp.original_probability)
    k = len(case.truth)
    for method in PEERS if args.peers else ():
      answer = peer_answer(method, subject, numpy_classifier, seed=seed, evaluations=after.num_evaluations)
      entry[method] = planted_cases.case_scores(case, np.sort(answer.ranking[:k]))
    results.append(entry)
    _common.progress(f"planted {case.name} seed {seed}: " + ", ".join(
        f"{m} {entry[m]['precision']:.2f}/{entry[m]['recall'] if entry[m]['recall'] is None else round(entry[m]['recall'], 2)}"
        for m in RULES + (PRUNED,) + (PEERS if args.peers else ())))
  return results


# --- pasted objects --------------------------------------------------------------------------------------------

def _photo(name: str) -> np.ndarray:
  from skimage import color, data
  image = getattr(data, name)()
  image = image[0] if name == "stereo_motorcycle" else image  # (left, right, disparity)
  return (color.gray2rgb(image) if image.ndim == 2 else image)[..., :3]


def composites(model: _common.ModelEntry, objects, backgrounds) -> list[dict]:
  """Objects pasted into backgrounds, kept where the composite's top-1 is the object's own top-1."""
  out, i = [], 0
  for obj in objects:
    pixels = _common.square(_photo(obj), SIZE)
    own = int(np.argmax(np.asarray(model.classifier(jnp.asarray(pixels[None], jnp.float32) / 255.0))[0]))
    for background in backgrounds:
      side, (top, left) = PLACEMENTS[i % len(PLACEMENTS)]
      i += 1
      image = _common.square(_photo(background), SIZE).copy()
      image[top:top + side, left:left + side] = _common.square(pixels, side)
      probs = np.asarray(model.classifier(jnp.asarray(image[None], jnp.float32) / 255.0))[0]
      box = np.zeros((SIZE, SIZE), bool)
      box[top:top + side, left:left + side] = True
      entry = {"name": f"{obj}_on_{background}", "object": obj, "background": background, "side": side,
               "corner": [top, left], "image": image, "box": box, "target": own,
               "class": model.class_name(own), "top1": int(np.argmax(probs))}
      if entry["top1"] != own:
        _common.progress(f"skipped {entry['name']}: composite's top-1 {model.class_name(entry['top1'])}, "
                         f"object's {entry['class']}")
        continue
      out.append(entry)
  return out


def channels_last_torch(net) -> Callable[[np.ndarray], np.ndarray]:
  """The torch Lite0 fed a channels-last view of the NHWC batch (its faster layout on this CPU); the
  probabilities are :func:`benchmarks.time_to_quality.torch_classifier`'s."""
  import torch  # pylint: disable=import-outside-toplevel
  net = net.to(memory_format=torch.channels_last)

  def classify(images: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.asarray(images, np.float32)).permute(0, 3, 1, 2)
    with torch.no_grad():
      return torch.softmax(net((x * 255.0 - 127.0) / 128.0), dim=-1).numpy().astype(np.float64)

  return classify


def pixel_map(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
  return np.asarray(scores, np.float32)[labels]


def quantus_scores(maps: np.ndarray, box: np.ndarray, image: np.ndarray, target: int) -> dict:
  """Quantus's localisation metrics of ``(M, H, W)`` maps against the pasted box."""
  import quantus  # pylint: disable=import-outside-toplevel
  x = np.repeat(image.transpose(2, 0, 1)[None], len(maps), 0).astype(np.float32)
  a = maps[:, None].astype(np.float32)
  s = np.repeat(box[None, None], len(maps), 0).astype(np.float32)
  y = np.full(len(maps), target)
  k = max(1, int(box.sum()) // 4)
  metrics = {"pointing_game": quantus.PointingGame(disable_warnings=True),
             "attribution_localisation": quantus.AttributionLocalisation(disable_warnings=True),
             "top_k_intersection": quantus.TopKIntersection(k=k, disable_warnings=True)}
  return {name: [float(v) for v in metric(model=None, x_batch=x, y_batch=y, a_batch=a, s_batch=s)]
          for name, metric in metrics.items()}


def run_pasted(args: argparse.Namespace, on_composite: Callable[[dict], None] = lambda result: None) -> dict:
  """Every composite under seed 0, then every composite under seed 1, ...: a partial run covers every composite."""
  model = _common.flax_model("efficientnet_lite0")
  entry = _common.ModelEntry(model.name, model.classifier(), model.input_size, tuple(model.class_names))
  from benchmarks.time_to_quality import torch_lite0_net
  peer = channels_last_torch(torch_lite0_net(SIZE, args.torch_threads)) if args.peers else None
  classifiers = vs_peers.Classifiers(model, peer)
  # The curves are not scored here; the search itself runs under the knee (which patience watches).
  config = dataclasses.replace(CONFIGS[args.config](), answer="fittest", faithfulness=False)
  results, work = [], []
  for comp in composites(entry, args.objects, args.backgrounds)[:args.composites]:
    image = comp["image"].astype(np.float32) / 255.0
    labels = el.segment(image, config.segmentation, dict(config.segmentation_params))
    share = np.bincount(labels.ravel(), weights=comp["box"].ravel()) / np.bincount(labels.ravel())
    truth = np.flatnonzero(share >= 0.5)
    row = {k: v for k, v in comp.items() if k not in ("image", "box")}
    row.update(num_segments=int(labels.max()) + 1, truth=truth.tolist(), seeds=[])
    results.append(row)
    work.append((comp, image, labels, truth, row))
  for seed in range(args.seeds):
    for comp, image, labels, truth, row in work:
      per = _pasted_seed(args, comp, image, labels, truth, seed, entry=entry, classifiers=classifiers, config=config)
      row["seeds"].append(per)
      _common.progress(f"{comp['name']} seed {seed} ({comp['class']}, {len(truth)} of {row['num_segments']} in the "
                       "object): " + ", ".join(f"{m} F1 {per[m]['f1']:.2f}" for m in METHODS if m in per))
      on_composite({"rows": results})  # recorded as it goes: a composite costs minutes on a busy CPU
  return {"rows": results}


def _pasted_seed(args: argparse.Namespace, comp: dict, image: np.ndarray, labels: np.ndarray, truth: np.ndarray,
                 seed: int, *, entry: _common.ModelEntry, classifiers: vs_peers.Classifiers,
                 config: el.ELimeConfig) -> dict:
  """One composite under one seed: every explainer's answer, scored against the pasted box."""
  # One search: read before its pruning pass (the rules on the archive), then after it.
  search = el.Search([image], entry.classifier, targets=[comp["target"]], segments=[labels], seeds=[seed],
                     config=dataclasses.replace(config, answer="knee", prune=True))
  exp, = search.advance(config.generations + 1).explanations()
  pruned, = search.advance().explanations()
  # The others get the most any E-LIME answer spent: the pruned one's (the search's and the pass's forwards).
  evaluations = pruned.num_evaluations
  per = {"seed": seed, "forwards": exp.num_evaluations, "pruned_forwards": pruned.num_evaluations,
         "original_probability": exp.original_probability}
  maps = []
  for rule, genome in rule_answers(exp, KNEE_TOLERANCES, fittest=True).items():
    per[rule] = {**scored(np.flatnonzero(genome), truth),
                 "pointing": bool(best_single(exp) in truth),
                 "probability": float(np.nan_to_num(exp.size_probabilities[int(genome.sum())]))}
    if rule in RULES:
      maps.append(pixel_map(genome + 0.5 * exp.size_genomes[1], labels))
  per[PRUNED] = {**scored(np.flatnonzero(pruned.genome), truth), "pointing": bool(best_single(pruned) in truth),
                 "probability": pruned.explanation_probability}
  per[RANKED] = at_best_k(exp.ranking, truth, args.ks)
  maps.append(pixel_map(exp.importance, labels))
  subject = vs_peers.Subject(comp["name"], False, image, labels, config.fill,
                             np.asarray(exp.fill, np.float32), comp["target"], exp.original_probability)
  for method in ENGINE + PEERS if args.peers else ():
    t0 = time.perf_counter()
    answer = vs_peers.explain(method, subject, classifiers, seed=seed, evaluations=evaluations,
                              config=config)
    per[method] = {**at_best_k(answer.ranking, truth, args.ks), "forwards": answer.evaluations,
                   "seconds": time.perf_counter() - t0}
    if method in PEERS:
      maps.append(pixel_map(answer.scores, labels))
  if args.quantus:
    names = list(RULES) + [RANKED] + [m for m in PEERS if args.peers]
    q = quantus_scores(np.stack(maps), comp["box"], image, comp["target"])
    per["quantus"] = {name: {metric: values[i] for metric, values in q.items()} for i, name in enumerate(names)}
  return per


# --- summary and report ----------------------------------------------------------------------------------------

def _mean(values) -> Optional[float]:
  values = [v for v in values if v is not None]
  return float(np.mean(values)) if values else None


def summarise(result: dict) -> dict:
  out = {}
  if "planted" in result:
    rows = result["planted"]["rows"]
    methods = [m for m in METHODS if m in rows[0]]
    out["planted"] = {case: {m: {s: _mean(r[m][s] for r in rows if r["case"] == case)
                                 for s in ("precision", "recall", "kept")} for m in methods}
                      for case in dict.fromkeys(r["case"] for r in rows)}
    out["planted_forwards"] = {case: _mean(r["forwards"] for r in rows if r["case"] == case)
                               for case in out["planted"]}
  if "pasted" in result:
    # A method may be missing from some seeds of a run recorded in parts (the peers cost the most).
    rows = [row for row in result["pasted"]["rows"] if row["seeds"]]
    methods = [m for m in METHODS if any(m in seed for row in rows for seed in row["seeds"])]
    per = {row["name"]: {m: {s: _mean(seed[m][s] for seed in row["seeds"] if m in seed)
                             for s in ("precision", "recall", "f1", "pointing", "kept")} for m in methods}
           for row in rows}
    out["pasted"] = per
    out["pasted_forwards_mean"] = _mean(seed["forwards"] for row in rows for seed in row["seeds"])
    out["pasted_median_f1"] = {m: float(np.median(f1)) if (f1 := [per[n][m]["f1"] for n in per
                                                                  if per[n][m]["f1"] is not None]) else None
                               for m in methods}
  return out


def _f(v) -> str:
  return "-" if v is None else f"{v:.2f}"


def report(args: argparse.Namespace, result: dict, summary: dict) -> str:
  lines = [f"# Right answers on ground truth ({result['machine']})", "",
           f"{result['date']}, commit {result['commit']}. Command: `{result['command']}`.", ""]
  if "planted" in summary:
    lines += ["## Planted classifiers", "",
              f"Seeds 0..{args.planted_seeds - 1}, config {args.config} with `fill=\"black\""
              + "".join(f", {k}={v!r}" for k, v in planted_overrides(args).items())
              + "` (forwards: the search's mean a run, before the pruning pass); every rule read from the same "
              "search. Peers: top-k at k = the right answer's size (an oracle k), at the same forwards. Mean over "
              "seeds: precision / recall (kept).", "",
              "| case | forwards | " + " | ".join(next(iter(summary["planted"].values()))) + " |",
              "|---|---|" + "---|" * len(next(iter(summary["planted"].values())))]
    for case, methods in summary["planted"].items():
      lines.append(f"| {case} | {summary['planted_forwards'][case]:.0f} | "
                   + " | ".join(f"{_f(v['precision'])} / {_f(v['recall'])} ({v['kept']:.1f})"
                                for v in methods.values()) + " |")
    lines.append("")
  if summary.get("pasted"):
    methods = list(next(iter(summary["pasted"].values())))
    lines += ["## Objects pasted into other photos", "",
              f"Pretrained EfficientNet-Lite0, config {args.config} (E-LIME's search: "
              f"{_f(summary['pasted_forwards_mean'])} forwards a run on average, before the pruning pass), "
              f"{args.seeds} seed(s), {len(summary['pasted'])} composites (objects "
              f"{', '.join(args.objects)}; backgrounds {', '.join(args.backgrounds)}). Peers at their best k of "
              f"{args.ks}. Per composite: F1 (precision / recall, kept), pointing-game hit rate.", "",
              "| composite | truth / K | " + " | ".join(methods) + " |", "|---|---|" + "---|" * len(methods)]
    for row in result["pasted"]["rows"]:
      if row["name"] not in summary["pasted"]:
        continue
      per = summary["pasted"][row["name"]]
      lines.append(f"| {row['name']} ({row['class']}, {row['side']} px) | {len(row['truth'])} / {row['num_segments']} | "
                   + " | ".join("-" if v["f1"] is None else f"{_f(v['f1'])} ({_f(v['precision'])} / "
                                f"{_f(v['recall'])}, {v['kept']:.1f}), pt {_f(v['pointing'])}"
                                for v in per.values()) + " |")
    lines.append("| median F1 | | " + " | ".join(_f(summary["pasted_median_f1"][m]) for m in methods) + " |")
    lines.append("")
    quantus = [(row["name"], s["quantus"]) for row in result["pasted"]["rows"] for s in row["seeds"] if "quantus" in s]
    if quantus:
      lines += ["Quantus cross-check (seed 0): pointing game / attribution localisation / top-k intersection.", "",
                "| composite | " + " | ".join(quantus[0][1]) + " |", "|---|" + "---|" * len(quantus[0][1])]
      for name, q in quantus:
        lines.append(f"| {name} | " + " | ".join(" / ".join(_f(v) for v in m.values()) for m in q.values()) + " |")
      lines.append("")
  return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--parts", nargs="+", default=["planted", "pasted"], choices=["planted", "pasted"])
  p.add_argument("--seeds", type=int, default=1)
  p.add_argument("--planted-seeds", type=int, default=3)
  p.add_argument("--objects", nargs="+", default=list(OBJECTS))
  p.add_argument("--backgrounds", nargs="+", default=list(BACKGROUNDS))
  p.add_argument("--composites", type=int, default=None, help="at most this many composites (default: all kept)")
  p.add_argument("--ks", nargs="+", type=int, default=[3, 5, 10])
  p.add_argument("--no-peers", dest="peers", action="store_false",
                 help="E-LIME's answers only: neither the engine's other strategies nor lime and captum")
  p.add_argument("--config", default="default", choices=list(CONFIGS),
                 help="E-LIME's search: a config of benchmarks.time_to_quality (default: ELimeConfig())")
  p.add_argument("--seeding", default=None, choices=el.config.SEEDINGS,
                 help="the planted search's seeding (default: the default config's)")
  p.add_argument("--population", type=int, default=None, help="the planted search's population size")
  p.add_argument("--generations", type=int, default=None, help="the planted search's generations")
  p.add_argument("--quantus", action="store_true")
  p.add_argument("--torch-threads", type=int, default=2)
  p.add_argument("--machine", default="this project's 2-core AMD EPYC CPU, contended")
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default="ground_truth_cpu")
  return p


def main(argv=None) -> None:
  import sys
  args = parser().parse_args(argv)
  out = Path(args.out)
  files = [out / f"{args.name}.json", out / f"{args.name}.md"]
  result = {"machine": args.machine, "date": datetime.date.today().isoformat(),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                     check=False).stdout.strip() or "unknown",
            "command": "python -m benchmarks.ground_truth " + " ".join(sys.argv[1:] if argv is None else argv),
            "platform": platform.platform(), "settings": vars(args)}
  t0 = time.perf_counter()
  if "planted" in args.parts:
    result["planted"] = run_planted(argparse.Namespace(**{**vars(args), "seeds": args.planted_seeds}))

  def save(pasted: Optional[dict] = None) -> None:
    if pasted is not None:
      result["pasted"] = pasted
    result["seconds"] = time.perf_counter() - t0
    result["summary"] = summarise(result)
    out.mkdir(parents=True, exist_ok=True)
    files[0].write_text(json.dumps(result, indent=1, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
    files[1].write_text(report(args, result, result["summary"]))

  if "pasted" in args.parts:
    save(run_pasted(args, save))
  else:
    save()
  print(files[1].read_text())


if __name__ == "__main__":
  main()
