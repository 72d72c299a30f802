"""E-LIME against reference lime and captum's Lime and KernelShap, side by side, at equal classifier evaluations.

Every method explains the same photo (``--photos``, 224 px for EfficientNet-Lite0), the same class (the JAX
classifier's top-1 on the full image), on the same superpixels (``--segmentation``, default the engine's
quickshift with LIME's own parameters, cut once per photo on the host with ``evojax_lime.segment``) and with the
same fill (the engine's ``mean``: each superpixel's mean colour, which is lime's ``hide_color=None``; captum gets
that fill image as its ``baselines``), spending N = ``--evaluations`` classifier evaluations per explanation:

* ``elime``: ``evojax_lime.explain`` with ``ELimeConfig()`` at population x (generations + 1) = N
  (``_common.equal_budget``). Ranking: the one its own program scores it by (``exp.faithfulness.ranking``: the kept
  superpixels first, each group by how many of its best masks of each size keep them, then by importance);
  per-superpixel scores: the importance. Its time includes that last step of the search (up to P - 1 more
  forwards, counted in ``scoring_evaluations``); every method is scored apart below, the same way. Timed after
  one untimed warm-up per image shape and genome length; the warm-up's compile time is reported apart
  (``compile_s``).
* ``kernelshap`` and ``extremal``: the engine's other strategies (``explain_batch(strategy=...)``) on E-LIME's
  superpixels, fill and compiled evaluation: KernelSHAP with E-LIME's population and generations; the extremal
  masks with 4 areas and as many generations as N forward-equivalents allow, a backward pass counted as
  ``strategies.extremal.BACKWARD_COST`` forwards. Ranking and scores: their importance (Shapley values; the mean
  mask), descending. Timed like E-LIME (after an untimed warm-up), their answer's curve step included.
* ``lime``: reference ``lime`` 0.2.0.1, ``LimeImageExplainer(kernel_width=0.25).explain_instance(num_samples=N,
  batch_size=100, segmentation_fn=<our labels>, hide_color=None, random_seed=seed)``. Ranking: its weights for the
  target, descending (positive first).
* ``captum_lime`` and ``captum_kernelshap``: ``captum.attr.Lime`` (captum's defaults: Lasso(alpha=0.01), an
  exponential cosine kernel of width 1) and ``captum.attr.KernelShap``, ``attribute(feature_mask=<our labels
  (1, 1, H, W)>, baselines=<the fill image>, n_samples=N, perturbations_per_eval=100,
  return_input_shape=False)``, after ``torch.manual_seed(seed)`` (captum draws from torch's global generator).
  Ranking: the per-superpixel coefficients, descending (captum's Lasso may zero many of them: equal scores keep
  superpixel order, and ``nonzero_scores`` counts the superpixels a method scored at all).

The torch-side methods (lime, captum) call the peer classifier: for ``--model efficientnet_lite0`` the same
pretrained EfficientNet-Lite0 in torch (``efficientnet-lite-pytorch``, TF Lite preprocessing, eval mode,
softmax, ``--torch-threads`` threads), as ``time_to_quality`` uses; for any other model (``tiny`` for smoke runs)
the JAX classifier as a numpy function. Their wall time covers the whole call, classifier forwards included.
Every answer is then scored the same way by the engine's own evaluation (``evojax_lime.metrics``, the JAX
classifier, the same fill):

* ``p@k``: p(target) with only the ranking's top k superpixels shown (``--ks``, default 3 5 10);
* ``deletion_auc`` / ``insertion_auc`` along the ranking, one superpixel per step (``--steps 0``, the default) or
  ``--steps`` even steps;
* ``stability``: mean pairwise Jaccard index of the top-5 sets over the seeds 0..S-1 (``--seeds``);
* ``sanity`` (seed 0 only, to save time): Spearman's rank correlation of the per-superpixel scores with the same
  method's scores, same seed, under a copy of the model whose last ``--sanity-layers`` parameterised top-level
  layers are re-initialised (LeCun-normal kernels, zero biases, identity BatchNorm; lower is better). JAX side:
  ``models.randomised.randomised(model, layers=n, seed=0)`` through ``explain(..., randomised=...)``. Torch
  Lite0: the same layers of the torch twin, mapped one to one onto the JAX port's order (stem = ``_conv_stem`` +
  ``_bn0``, block i = ``_blocks[i]``, head = ``_conv_head`` + ``_bn1``, classifier = ``_fc``; n = 1 is the
  classifier head), re-initialised the same way from ``torch.Generator().manual_seed(0)``. None where either
  score vector is constant (the correlation is undefined).

A photo's value is the median over seeds of the time and the mean over seeds of p@k and the AUCs; the tables show
the median over photos, with and without the photos the engine's defaults were tuned on (chelsea, coffee).

  python -m benchmarks.vs_peers                        # Lite0, 8 photos, 5 seeds, 4 methods, 1000 evaluations
  python -m benchmarks.vs_peers --photos chelsea --seeds 2 --evaluations 200 --out /tmp/vp_real
  python -m benchmarks.vs_peers --model tiny --segmentation grid --photos chelsea coffee --seeds 2 \\
      --evaluations 40 --out /tmp/vp                                                   # smoke test
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import importlib
import math
import os
import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report
from benchmarks.time_to_quality import (TUNED_ON, _median, photo_args, probabilities, stability, torch_classifier,
                                        torch_lite0_net, warm_classifier)
from benchmarks.vs_lime import HIDE_COLOR, reference_lime
from evojax_lime import scores
from evojax_lime.evaluation.fill import make_fill
from evojax_lime.strategies import extremal

os.environ.setdefault("TQDM_DISABLE", "1")  # reference lime's per-sample progress bar

METHODS = ("elime", "kernelshap", "extremal", "lime", "captum_lime", "captum_kernelshap")
ENGINE_STRATEGIES = ("kernelshap", "extremal")  # the engine's other strategies, on E-LIME's evaluation
EXTREMAL_AREAS = 4  # the extremal strategy's rows: areas of about 1/5, 2/5, 3/5 and 4/5 of the superpixels
BATCH = 100  # images per classifier call for lime and captum (captum's docs recommend batching perturbations)
STABILITY_K = 5  # the top-k sets whose agreement across seeds is the stability
SANITY_SEED = 0
Classify = Callable[[np.ndarray], np.ndarray]


# --- what every method sees ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Subject:
  """One photo as every method sees it (and what ``metrics.as_problem`` reads): image, superpixels, fill, target."""

  name: str
  tuned_on: bool
  image: np.ndarray
  labels: np.ndarray
  fill_kind: str
  fill: np.ndarray
  target: int
  original_probability: float

  @property
  def num_segments(self) -> int:
    return int(self.labels.max()) + 1


@dataclasses.dataclass(frozen=True)
class Answer:
  """One method's explanation for one seed: per-superpixel scores (what sanity correlates), ranking, wall time."""

  scores: np.ndarray
  ranking: np.ndarray
  seconds: float
  evaluations: int
  sanity: Optional[float] = None
  extra: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Classifiers:
  """The JAX model (E-LIME, scoring) and the peers' numpy classifier, each with its randomised twin."""

  model: Any
  randomised: Any
  peer: Classify
  peer_randomised: Classify


def tiny_model() -> Any:
  """``benchmarks.throughput``'s tiny CNN as a ``models.Model`` (identity normalisation), so that
  ``models.randomised`` can re-initialise its last layers."""
  import models
  from benchmarks.throughput import TinyCNN
  module = TinyCNN()
  variables = module.init(jax.random.PRNGKey(0), jnp.zeros((1, _common.TINY_SIZE, _common.TINY_SIZE, 3)))
  return models.Model("tiny", module, variables, _common.TINY_SIZE, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0),
                      tuple(str(c) for c in range(10)))


def torch_layer_order(net) -> list[list]:
  """The torch EfficientNet-Lite's top-level layers in the JAX port's order (``models.randomised.layer_order``:
  stem, block_0..block_15, head, classifier), each as the torch modules that hold its parameters."""
  return [[net._conv_stem, net._bn0], *[[block] for block in net._blocks], [net._conv_head, net._bn1], [net._fc]]


def _reinitialise(module, generator) -> None:
  """LeCun-normal weights and zero biases for convolutions and linear layers, identity BatchNorm (what
  ``models.registry.initial_values`` gives the JAX port)."""
  import torch  # pylint: disable=import-outside-toplevel
  if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
    fan_in = math.prod(module.weight.shape[1:])  # (out, in / groups, kh, kw) or (out, in)
    module.weight.copy_(torch.randn(module.weight.shape, generator=generator) / math.sqrt(fan_in))
    if module.bias is not None:
      module.bias.zero_()
  elif isinstance(module, torch.nn.modules.batchnorm._BatchNorm):  # pylint: disable=protected-access
    module.reset_parameters()  # scale 1, shift 0, running mean 0 and variance 1


def randomised_torch(net, *, layers: int, seed: int):
  """A copy of ``net`` whose last ``layers`` top-level layers (:func:`torch_layer_order`) are re-initialised."""
  import torch  # pylint: disable=import-outside-toplevel
  order = torch_layer_order(net)
  if not 1 <= layers <= len(order):
    raise SystemExit(f"--sanity-layers must be in [1, {len(order)}] for the torch EfficientNet-Lite0")
  twin = copy.deepcopy(net)
  generator = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for group in torch_layer_order(twin)[-layers:]:
      for module in group:
        for sub in module.modules():
          _reinitialise(sub, generator)
  return twin.eval()


def torch_peers(model: str) -> bool:
  """Whether lime and captum call the torch twin (EfficientNet-Lite0) rather than the JAX classifier."""
  return model == "efficientnet_lite0"


def load_classifiers(args: argparse.Namespace) -> Classifiers:
  from models.randomised import randomised
  model = tiny_model() if args.model == "tiny" else _common.flax_model(args.model)
  twin = randomised(model, layers=args.sanity_layers, seed=SANITY_SEED)
  if torch_peers(args.model):
    net = torch_lite0_net(model.input_size, args.torch_threads)
    return Classifiers(model, twin, torch_classifier(net),
                       torch_classifier(randomised_torch(net, layers=args.sanity_layers, seed=SANITY_SEED)))
  return Classifiers(model, twin, _common.numpy_classifier(model.classifier()),
                     _common.numpy_classifier(twin.classifier()))


def subject_of(name: str, tuned_on: bool, pixels: np.ndarray, config: el.ELimeConfig,
               classifiers: Classifiers) -> Subject:
  """The photo's superpixels (cut once, on the host), the engine's fill image and the JAX classifier's top-1."""
  image = pixels.astype(np.float32) / 255.0
  labels = el.segment(image, config.segmentation, dict(config.segmentation_params))
  fill = make_fill(jnp.asarray(image), jnp.asarray(labels), kind=config.fill, length=int(labels.max()) + 1,
                   blur_sigma=config.blur_sigma)
  probs = classifiers.model.predict(image[None])[0]
  target = int(np.argmax(probs))
  return Subject(name, tuned_on, image, labels, config.fill, np.asarray(fill, np.float32), target,
                 float(probs[target]))


def descending(values: np.ndarray) -> np.ndarray:
  return np.argsort(-np.asarray(values, np.float64), kind="stable")


# --- the methods -----------------------------------------------------------------------------------------------

def run_elime(subject: Subject, classifiers: Classifiers, *, seed: int, config: el.ELimeConfig,
              sanity: bool) -> Answer:
  """One E-LIME run; with ``sanity`` the engine reruns it on the randomised twin and scores the agreement."""
  twin = classifiers.randomised.classifier() if sanity else None
  exp = el.explain(subject.image, classifiers.model.classifier(), segments=subject.labels, config=config, seed=seed,
                   target=subject.target, randomised=twin)
  best = np.fmax.accumulate(np.nan_to_num(exp.size_probabilities, nan=-np.inf))  # at most k kept
  return Answer(np.asarray(exp.importance), exp.ranking, exp.evolve_time,
                exp.num_evaluations + exp.scoring_evaluations,
                sanity=_finite(exp.sanity),
                extra={"kept": len(exp.selected), "explanation_probability": exp.explanation_probability,
                       "archive_p": [float(b) if np.isfinite(b) else None for b in best]})


def strategy_config(method: str, config: el.ELimeConfig, evaluations: int) -> el.ELimeConfig:
  """The budget of an engine strategy at ``evaluations``: KernelSHAP's samples as E-LIME's populations; for the
  extremal strategy :data:`EXTREMAL_AREAS` rows and as many generations as fit, a generation after the first
  costing a binary population and a forward and backward per row (``Extremal.num_evaluations``)."""
  if method == "kernelshap":
    return config
  cost = 2 + extremal.BACKWARD_COST
  generations = max(1, int((evaluations / EXTREMAL_AREAS - 1) // cost))
  return dataclasses.replace(config, population_size=EXTREMAL_AREAS, generations=generations)


def run_strategy(method: str, subject: Subject, classifiers: Classifiers, *, seed: int, config: el.ELimeConfig,
                 evaluations: int, sanity: bool) -> Answer:
  """The engine's ``kernelshap`` or ``extremal`` strategy; ranking and scores: its importance (the Shapley values,
  the mean mask), descending. Time and evaluations as E-LIME's, its answer's curve step included."""
  twin = classifiers.randomised.classifier() if sanity else None
  exp, = el.explain_batch([subject.image], classifiers.model.classifier(), targets=[subject.target],
                          segments=[subject.labels], config=strategy_config(method, config, evaluations),
                          strategy=method, seeds=seed, randomised=twin)
  return Answer(np.asarray(exp.importance), descending(exp.importance), exp.evolve_time,
                exp.num_evaluations + exp.scoring_evaluations, sanity=_finite(exp.sanity))


def run_lime(subject: Subject, classify: Classify, *, seed: int, evaluations: int) -> Answer:
  weights, seconds, _ = reference_lime(subject.image, subject.labels, classify, target=subject.target,
                                       fill=subject.fill_kind, num_samples=evaluations, batch_size=BATCH, seed=seed)
  return Answer(weights, descending(weights), seconds, evaluations)


def _nchw(image: np.ndarray):
  import torch  # pylint: disable=import-outside-toplevel
  return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def run_captum(kind: str, subject: Subject, classify: Classify, *, seed: int, evaluations: int) -> Answer:
  """captum's ``Lime`` or ``KernelShap`` on our superpixels, through the same numpy classifier lime calls."""
  import torch  # pylint: disable=import-outside-toplevel
  from captum import attr  # pylint: disable=import-outside-toplevel
  for module in ("sklearn.linear_model", "sklearn.svm"):  # captum imports them on its first fit: not its time
    importlib.import_module(module)

  def forward(x):
    return torch.from_numpy(classify(x.permute(0, 2, 3, 1).numpy()))

  explainer = attr.Lime(forward) if kind == "lime" else attr.KernelShap(forward)
  mask = torch.from_numpy(subject.labels.astype(np.int64))[None, None]  # (1, 1, H, W): broadcast over channels
  torch.manual_seed(seed)
  t0 = time.perf_counter()
  coefficients = explainer.attribute(_nchw(subject.image), baselines=_nchw(subject.fill), target=subject.target,
                                     feature_mask=mask, n_samples=evaluations, perturbations_per_eval=BATCH,
                                     return_input_shape=False)
  seconds = time.perf_counter() - t0
  values = coefficients.detach().double().numpy().reshape(-1)
  return Answer(values, descending(values), seconds, evaluations)


PEERS: dict[str, Callable[..., Answer]] = {
    "lime": run_lime,
    "captum_lime": functools.partial(run_captum, "lime"),
    "captum_kernelshap": functools.partial(run_captum, "kernelshap"),
}


def explain(method: str, subject: Subject, classifiers: Classifiers, *, seed: int, config: el.ELimeConfig,
            evaluations: int, sanity: bool) -> Answer:
  """``method``'s answer for ``seed``; with ``sanity`` also its rank correlation with the randomised twin's."""
  if method == "elime":
    return run_elime(subject, classifiers, seed=seed, config=config, sanity=sanity)
  if method in ENGINE_STRATEGIES:
    return run_strategy(method, subject, classifiers, seed=seed, config=config, evaluations=evaluations,
                        sanity=sanity)
  run = PEERS[method]
  answer = run(subject, classifiers.peer, seed=seed, evaluations=evaluations)
  if not sanity:
    return answer
  twin = run(subject, classifiers.peer_randomised, seed=seed, evaluations=evaluations)
  return dataclasses.replace(answer, sanity=_finite(scores.rank_correlation(answer.scores, twin.scores)))


# --- scoring ---------------------------------------------------------------------------------------------------

def top(ranking: np.ndarray, k: int, num_segments: int) -> np.ndarray:
  genome = np.zeros(num_segments, bool)
  genome[ranking[:k]] = True
  return genome


def quality(subject: Subject, answer: Answer, classifiers: Classifiers, *, config: el.ELimeConfig,
            ks: list[int], steps: int) -> dict:
  """p(target) of the ranking's top-k superpixels and its deletion/insertion AUC, by the engine's evaluation."""
  classifier = classifiers.model.classifier()
  k_all = subject.num_segments
  ps = probabilities(subject, np.stack([top(answer.ranking, k, k_all) for k in ks]), classifier, config)
  curves = _common.score(subject, top(answer.ranking, ks[0], k_all), answer.ranking, classifier, config=config,
                         steps=steps or k_all)
  return {**{f"p_at_{k}": float(p) for k, p in zip(ks, ps)},
          "deletion_auc": curves["deletion_auc"], "insertion_auc": curves["insertion_auc"]}


def warm_up(subject: Subject, classifiers: Classifiers, args: argparse.Namespace, config: el.ELimeConfig,
            warmed: set) -> Optional[float]:
  """Untimed calls that compile E-LIME's program (its compile time, or None when already compiled) and warm the
  peer classifier on the batch shapes lime and captum use, so their times are their own."""
  compile_s = None
  shape = subject.image.shape
  key = ("elime", config, shape, el.genome_length(subject.num_segments, config.genome_length))
  if "elime" in args.methods and key not in warmed:
    compile_s = el.explain(subject.image, classifiers.model.classifier(), segments=subject.labels, config=config,
                           seed=args.seeds, target=subject.target).compile_time
    warmed.add(key)
  for method in set(args.methods) & set(ENGINE_STRATEGIES):  # their programs compiled, untimed
    strategy_key = (method, shape, el.genome_length(subject.num_segments, config.genome_length))
    if strategy_key not in warmed:
      run_strategy(method, subject, classifiers, seed=args.seeds, config=config, evaluations=args.evaluations,
                   sanity=False)
      warmed.add(strategy_key)
  if set(args.methods) & set(PEERS) and ("peer", shape) not in warmed:
    warm_classifier(classifiers.peer, subject.image, args.evaluations, BATCH)
    warmed.add(("peer", shape))
  return compile_s


def photo_rows(subject: Subject, method: str, answers: list[Answer], qualities: list[dict], *, ks: list[int],
               compile_s: Optional[float]) -> tuple[list[dict], dict]:
  """Each seed's row, and the photo's row for ``method`` (median time, mean quality over seeds)."""
  k_all = subject.num_segments
  head = {"photo": subject.name, "tuned_on": subject.tuned_on, "method": method, "K": k_all,
          "target": subject.target}
  runs = [{**head, "seed": seed, "time_s": a.seconds, "evaluations": a.evaluations, **q, "sanity": a.sanity,
           "nonzero_scores": int(np.count_nonzero(a.scores)),
           "top5": np.flatnonzero(top(a.ranking, STABILITY_K, k_all)).tolist(), "ranking": a.ranking.tolist(),
           "scores": np.asarray(a.scores, np.float64).tolist(), **a.extra}
          for seed, (a, q) in enumerate(zip(answers, qualities))]
  mean = lambda field: float(np.mean([q[field] for q in qualities]))
  photo = {**head, "seeds": len(answers), "time_s": float(np.median([a.seconds for a in answers])),
           "compile_s": compile_s if method == "elime" else None,
           **{f"p_at_{k}": mean(f"p_at_{k}") for k in ks}, "deletion_auc": mean("deletion_auc"),
           "insertion_auc": mean("insertion_auc"),
           "nonzero_scores": float(np.mean([np.count_nonzero(a.scores) for a in answers])),
           "stability": stability([top(a.ranking, STABILITY_K, k_all) for a in answers]),
           "sanity": answers[0].sanity}
  return runs, photo


# --- the study -------------------------------------------------------------------------------------------------

def elime_config(args: argparse.Namespace) -> el.ELimeConfig:
  base = el.ELimeConfig(segmentation=args.segmentation or el.ELimeConfig().segmentation)
  return _common.equal_budget(base, args.evaluations)


def run(args: argparse.Namespace, on_photo=lambda result: None) -> dict:
  """Every photo x method x seed; ``on_photo(result)`` after each photo saves partial results."""
  classifiers = load_classifiers(args)
  config = elime_config(args)
  result = {"photos": [], "per_photo": [], "runs": [], "skipped": []}
  warmed: set = set()
  for index, (name, pixels) in enumerate(_common.load_photos(args.photos, classifiers.model.input_size, args.images)):
    tuned = index < len(args.photos) and name in TUNED_ON  # files from --images come after the named photos
    subject = subject_of(name, tuned, pixels, config, classifiers)
    if subject.num_segments < 2:  # e.g. quickshift on a 32 px image: nothing to rank
      _common.progress(f"{name}: {subject.num_segments} superpixel with {config.segmentation}; skipped")
      result["skipped"].append({"photo": name, "segmentation": config.segmentation, "K": subject.num_segments})
      continue
    ks = [k for k in args.ks if k <= subject.num_segments] or [subject.num_segments]
    compile_s = warm_up(subject, classifiers, args, config, warmed)
    peer_p = classifiers.peer(subject.image[None])[0]
    result["photos"].append({"photo": name, "tuned_on": tuned, "K": subject.num_segments, "target": subject.target,
                             "target_name": classifiers.model.class_names[subject.target],
                             "jax_p": subject.original_probability, "peer_p": float(peer_p[subject.target]),
                             "peer_top1": int(np.argmax(peer_p)), "elime_compile_s": compile_s})
    _common.progress(f"{name}: target {result['photos'][-1]['target_name']}, K={subject.num_segments}")
    for method in args.methods:
      answers = [explain(method, subject, classifiers, seed=seed, config=config, evaluations=args.evaluations,
                         sanity=seed == SANITY_SEED) for seed in range(args.seeds)]
      qualities = [quality(subject, a, classifiers, config=config, ks=ks, steps=args.steps) for a in answers]
      runs, photo = photo_rows(subject, method, answers, qualities, ks=ks, compile_s=compile_s)
      result["runs"] += runs
      result["per_photo"].append(photo)
      _common.progress(f"{name} {method}: {photo['time_s']:.2f}s " + " ".join(
          f"p@{k} {photo[f'p_at_{k}']:.3f}" for k in ks) + f" del {photo['deletion_auc']:.3f} ins "
          f"{photo['insertion_auc']:.3f} stability {_fmt(photo['stability'])} sanity {_fmt(photo['sanity'])}")
    on_photo(result)
  return result


def _finite(value: Optional[float]) -> Optional[float]:
  """``value``, or None where it is undefined (a rank correlation with constant scores is NaN)."""
  return None if value is None or not np.isfinite(value) else float(value)


def _fmt(value: Optional[float]) -> str:
  value = _finite(value)
  return "-" if value is None else f"{value:.3f}"


def summarise(per_photo: list[dict], ks: list[int], *, untuned: bool = False) -> list[dict]:
  """One row per method: the median over photos (without the tuned-on photos with ``untuned``)."""
  out = []
  for method in dict.fromkeys(r["method"] for r in per_photo):
    rows = [r for r in per_photo if r["method"] == method and not (untuned and r["tuned_on"])]
    if rows:
      fields = ["time_s", "compile_s", *[f"p_at_{k}" for k in ks], "deletion_auc", "insertion_auc", "stability",
                "sanity", "nonzero_scores"]
      out.append({"method": method, "photos": len(rows), **{f: _median(r.get(f) for r in rows) for f in fields}})
  return out


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL,
                 help="efficientnet_lite0 (pretrained; peers on its torch twin), NAME=CHECKPOINT, or tiny (random "
                      "CNN, for smoke tests); other than Lite0 the peers call the JAX classifier")
  photo_args(p)
  p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
  p.add_argument("--evaluations", type=int, default=1000, help="classifier evaluations per explanation, every method")
  p.add_argument("--seeds", type=int, default=5, help="seeds 0..S-1 per photo and method")
  p.add_argument("--ks", type=int, nargs="+", default=[3, 5, 10], help="top-k sizes scored (p@k)")
  p.add_argument("--steps", type=int, default=0,
                 help="deletion/insertion steps (0: one superpixel per step; otherwise at most K)")
  p.add_argument("--sanity-layers", type=int, default=1,
                 help="last parameterised top-level layers re-initialised for the sanity score (1: the head)")
  p.add_argument("--segmentation", default=None, choices=el.config.SEGMENTATIONS,
                 help="superpixels for every method (default: ELimeConfig's, the engine's quickshift)")
  p.add_argument("--torch-threads", type=int, default=2, help="torch threads for the torch Lite0")
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default vs_peers_<backend>)")
  return p


def report(args: argparse.Namespace, result: dict, seconds: float) -> str:
  ks = list(args.ks)
  columns = ["method", "photos", "time_s", "compile_s", *[f"p_at_{k}" for k in ks], "deletion_auc", "insertion_auc",
             "stability", "sanity", "nonzero_scores"]
  config = elime_config(args)
  peer = "the torch EfficientNet-Lite0" if torch_peers(args.model) else "the JAX classifier (numpy)"
  steps = "one superpixel per step" if not args.steps else f"{args.steps} steps"
  legend = "".join(f"- {scores.legend_line(name)}\n" for name in ("deletion_auc", "insertion_auc", "sanity"))
  return (_report.markdown_table(summarise(result["per_photo"], ks), columns)
          + f"\nMedians over photos (a photo's time: median over seeds; p@k and AUCs: mean over seeds). Model "
          f"{args.model}; {args.evaluations} classifier evaluations per explanation; {args.seeds} seed(s); "
          f"segmentation {config.segmentation}, fill {config.fill} for every method; E-LIME: {_common.describe(config)}"
          f", seeding {config.seeding}, compile excluded (compile_s: the warm-up's); lime and captum: batches of "
          f"{BATCH}, classifier {peer}"
          f"{f' ({args.torch_threads} torch threads)' if torch_peers(args.model) else ''}. p@k: "
          f"p(target) with only the top k superpixels shown, JAX classifier; AUCs: {steps}; stability: mean "
          f"pairwise Jaccard of the top-{STABILITY_K} sets across seeds (higher is better); sanity: seed "
          f"{SANITY_SEED} only, last {args.sanity_layers} layer(s) re-initialised, None where a method's scores were "
          f"constant (e.g. a Lasso that zeroed every coefficient); nonzero_scores: superpixels with a non-zero score "
          f"(ties in a ranking keep superpixel order). Times cover the whole stack, classifier forwards included, so "
          f"they also compare the JAX and torch forwards (forward_cpu.md). Total {seconds:.0f} s.\n\n"
          + legend
          + f"\n## Without the tuned-on photos ({', '.join(TUNED_ON)})\n\n"
          + _report.markdown_table(summarise(result["per_photo"], ks, untuned=True), columns)
          + "\n## Photos\n\n"
          + (_report.markdown_table(result["photos"], list(result["photos"][0])) if result["photos"] else "")
          + "\n## Per photo and method\n\n"
          + _report.markdown_table(result["per_photo"], ["photo", "tuned_on", "method", "K", "seeds", *columns[2:]]))


def main(argv=None):
  args = parser().parse_args(argv)
  if args.seeds < 1 or args.evaluations < 8 or min(args.ks) < 1 or args.steps < 0:
    raise SystemExit("--seeds must be >= 1, --evaluations >= 8, --ks sizes >= 1 and --steps >= 0")
  if elime_config(args).fill not in HIDE_COLOR:
    raise SystemExit("the fill must be one reference lime can hide with (black or mean)")
  start = time.perf_counter()
  name = args.name or f"vs_peers_{jax.default_backend()}"

  def save(result: dict) -> str:
    md = report(args, result, time.perf_counter() - start)
    payload = {"args": vars(args), "config": dataclasses.asdict(elime_config(args)), "tuned_on": list(TUNED_ON),
               "summary": summarise(result["per_photo"], args.ks),
               "summary_untuned": summarise(result["per_photo"], args.ks, untuned=True), **result}
    _report.write(args.out, name, payload, md,
                  "E-LIME vs reference lime, captum Lime and KernelShap at equal classifier evaluations")
    return md

  print(save(run(args, on_photo=save)))


if __name__ == "__main__":
  main()
