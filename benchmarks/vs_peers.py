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
* ``sanity``: not here; ``benchmarks/sanity.py`` scores every method's ranking against its rankings under
  randomised copies of the model (the same copies for every method), on the same photos.

A photo's value is the median over seeds of the time and the mean over seeds of p@k and the AUCs; the tables show
the median over photos, with and without the photos the engine's defaults were tuned on (chelsea, coffee).

  python -m benchmarks.vs_peers                        # Lite0, 8 photos, 5 seeds, 4 methods, 1000 evaluations
  python -m benchmarks.vs_peers --photos chelsea --seeds 2 --evaluations 200 --out /tmp/vp_real
  python -m benchmarks.vs_peers --model tiny --segmentation grid --photos chelsea coffee --seeds 2 \\
      --evaluations 40 --out /tmp/vp                                                   # smoke test
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
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
from evojax_lime.engine.search import Search
from evojax_lime.engine.seeds import independent_seeds
from evojax_lime.evaluation.fill import make_fill
from evojax_lime.strategies import extremal

os.environ.setdefault("TQDM_DISABLE", "1")  # reference lime's per-sample progress bar

METHODS = ("elime", "kernelshap", "extremal", "lime", "captum_lime", "captum_kernelshap")
ENGINE_STRATEGIES = ("kernelshap", "extremal")  # the engine's other strategies, on E-LIME's evaluation
ENGINE_METHODS = ("elime", *ENGINE_STRATEGIES)
EXTREMAL_AREAS = 4  # the extremal strategy's rows: areas of about 1/5, 2/5, 3/5 and 4/5 of the superpixels
BATCH = 100  # images per classifier call for lime and captum (captum's docs recommend batching perturbations)
STABILITY_K = 5  # the top-k sets whose agreement across seeds is the stability
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
  """One method's explanation for one seed: per-superpixel scores, ranking (most important first), wall time."""

  scores: np.ndarray
  ranking: np.ndarray
  seconds: float
  evaluations: int
  extra: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Classifiers:
  """The JAX model (E-LIME, scoring) and the peers' numpy classifier."""

  model: Any
  peer: Classify


def tiny_model() -> Any:
  """``benchmarks.throughput``'s tiny CNN as a ``models.Model`` (identity normalisation), so that
  ``models.randomised`` can re-initialise its last layers."""
  import models
  from benchmarks.throughput import TinyCNN
  module = TinyCNN()
  variables = module.init(jax.random.PRNGKey(0), jnp.zeros((1, _common.TINY_SIZE, _common.TINY_SIZE, 3)))
  return models.Model("tiny", module, variables, _common.TINY_SIZE, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0),
                      tuple(str(c) for c in range(10)))


def torch_peers(model: str) -> bool:
  """Whether lime and captum call the torch twin (EfficientNet-Lite0) rather than the JAX classifier."""
  return model == "efficientnet_lite0"


def load_model(name: str) -> Any:
  return tiny_model() if name == "tiny" else _common.flax_model(name)


def load_classifiers(args: argparse.Namespace) -> Classifiers:
  model = load_model(args.model)
  if torch_peers(args.model):
    return Classifiers(model, torch_classifier(torch_lite0_net(model.input_size, args.torch_threads)))
  return Classifiers(model, model_classifier(model))


def model_classifier(model: Any) -> Classify:
  """``model`` as a numpy function through its shared compiled forward (copies with other weights, such as
  randomised heads, compile nothing new)."""
  return lambda images: np.asarray(model.predict(np.asarray(images, np.float32)), np.float64)


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

def engine_config(method: str, config: el.ELimeConfig, evaluations: int) -> el.ELimeConfig:
  return config if method == "elime" else strategy_config(method, config, evaluations)


def engine_answer(method: str, exp: el.Explanation) -> Answer:
  """E-LIME: ranked as its program ranks its curves (``exp.ranking``), scored by importance; the other strategies:
  ranked and scored by their importance (the Shapley values, the mean mask)."""
  extra = {"compile_s": exp.compile_time}
  if method == "elime":
    best = np.fmax.accumulate(np.nan_to_num(exp.size_probabilities, nan=-np.inf))  # at most k kept
    extra |= {"kept": len(exp.selected), "explanation_probability": exp.explanation_probability,
             "archive_p": [float(b) if np.isfinite(b) else None for b in best]}
  ranking = exp.ranking if method == "elime" else descending(exp.importance)
  return Answer(np.asarray(exp.importance), ranking, exp.evolve_time, exp.num_evaluations + exp.scoring_evaluations,
                extra=extra)


def run_engine(method: str, subject: Subject, classifier: Any, *, seed: int, config: el.ELimeConfig,
               evaluations: int, reruns: tuple = ()) -> tuple[Answer, list[Answer]]:
  """One run of E-LIME (``"elime"``) or the engine's ``kernelshap`` or ``extremal`` strategy, and its reruns on
  each classifier of ``reruns`` through the same compiled program, under keys independent of ``seed``'s
  (:func:`evojax_lime.engine.seeds.independent_seeds`). Time and evaluations: the run's, its answer's curve
  step included."""
  search = Search([subject.image], classifier, strategy="ga" if method == "elime" else method,
                  targets=[subject.target], segments=[subject.labels],
                  config=engine_config(method, config, evaluations), seeds=[seed]).advance()
  exp, = search.explanations()
  keys = independent_seeds([seed])
  return engine_answer(method, exp), [engine_answer(method, search.rerun(c, seeds=keys)[0]) for c in reruns]


def strategy_config(method: str, config: el.ELimeConfig, evaluations: int) -> el.ELimeConfig:
  """The budget of an engine strategy at ``evaluations``: KernelSHAP's samples as E-LIME's populations; for the
  extremal strategy :data:`EXTREMAL_AREAS` rows and as many generations as fit, a generation after the first
  costing a binary population and a forward and backward per row (``Extremal.num_evaluations``)."""
  if method == "kernelshap":
    return config
  cost = 2 + extremal.BACKWARD_COST
  generations = max(1, int((evaluations / EXTREMAL_AREAS - 1) // cost))
  return dataclasses.replace(config, population_size=EXTREMAL_AREAS, generations=generations)


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
            evaluations: int) -> Answer:
  """``method``'s answer for ``seed``."""
  if method in ENGINE_METHODS:
    return run_engine(method, subject, classifiers.model.classifier(), seed=seed, config=config,
                      evaluations=evaluations)[0]
  return PEERS[method](subject, classifiers.peer, seed=seed, evaluations=evaluations)


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
            warmed: set) -> dict[str, float]:
  """Untimed calls that compile the engine methods' programs (each one's compile time, where this call compiled
  it) and warm the peer classifier on the batch shapes lime and captum use, so their times are their own."""
  compile_s = {}
  shape = subject.image.shape
  for method in [m for m in args.methods if m in ENGINE_METHODS]:
    key = (method, shape, el.genome_length(subject.num_segments, config.genome_length))
    if key not in warmed:
      answer, _ = run_engine(method, subject, classifiers.model.classifier(), seed=args.seeds, config=config,
                             evaluations=args.evaluations)
      compile_s[method] = answer.extra["compile_s"]
      warmed.add(key)
  if set(args.methods) & set(PEERS) and ("peer", shape) not in warmed:
    warm_classifier(classifiers.peer, subject.image, args.evaluations, BATCH)
    warmed.add(("peer", shape))
  return compile_s


def photo_rows(subject: Subject, method: str, answers: list[Answer], qualities: list[dict], *, ks: list[int],
               compile_s: dict[str, float]) -> tuple[list[dict], dict]:
  """Each seed's row, and the photo's row for ``method`` (median time, mean quality over seeds)."""
  k_all = subject.num_segments
  head = {"photo": subject.name, "tuned_on": subject.tuned_on, "method": method, "K": k_all,
          "target": subject.target}
  runs = [{**head, "seed": seed, "time_s": a.seconds, "evaluations": a.evaluations, **q,
           "nonzero_scores": int(np.count_nonzero(a.scores)),
           "top5": np.flatnonzero(top(a.ranking, STABILITY_K, k_all)).tolist(), "ranking": a.ranking.tolist(),
           "scores": np.asarray(a.scores, np.float64).tolist(), **a.extra}
          for seed, (a, q) in enumerate(zip(answers, qualities))]
  mean = lambda field: float(np.mean([q[field] for q in qualities]))
  photo = {**head, "seeds": len(answers), "time_s": float(np.median([a.seconds for a in answers])),
           "compile_s": compile_s.get(method),
           **{f"p_at_{k}": mean(f"p_at_{k}") for k in ks}, "deletion_auc": mean("deletion_auc"),
           "insertion_auc": mean("insertion_auc"),
           "nonzero_scores": float(np.mean([np.count_nonzero(a.scores) for a in answers])),
           "stability": stability([top(a.ranking, STABILITY_K, k_all) for a in answers])}
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
                             "peer_top1": int(np.argmax(peer_p)),
                             **{f"{m}_compile_s": compile_s.get(m) for m in args.methods if m in ENGINE_METHODS}})
    _common.progress(f"{name}: target {result['photos'][-1]['target_name']}, K={subject.num_segments}")
    for method in args.methods:
      answers = [explain(method, subject, classifiers, seed=seed, config=config, evaluations=args.evaluations)
                 for seed in range(args.seeds)]
      qualities = [quality(subject, a, classifiers, config=config, ks=ks, steps=args.steps) for a in answers]
      runs, photo = photo_rows(subject, method, answers, qualities, ks=ks, compile_s=compile_s)
      result["runs"] += runs
      result["per_photo"].append(photo)
      _common.progress(f"{name} {method}: {photo['time_s']:.2f}s " + " ".join(
          f"p@{k} {photo[f'p_at_{k}']:.3f}" for k in ks) + f" del {photo['deletion_auc']:.3f} ins "
          f"{photo['insertion_auc']:.3f} stability {_fmt(photo['stability'])}")
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
                "nonzero_scores"]
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
  p.add_argument("--segmentation", default=None, choices=el.config.SEGMENTATIONS,
                 help="superpixels for every method (default: ELimeConfig's, the engine's quickshift)")
  p.add_argument("--torch-threads", type=int, default=2, help="torch threads for the torch Lite0")
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default vs_peers_<backend>)")
  return p


def report(args: argparse.Namespace, result: dict, seconds: float) -> str:
  ks = list(args.ks)
  columns = ["method", "photos", "time_s", "compile_s", *[f"p_at_{k}" for k in ks], "deletion_auc", "insertion_auc",
             "stability", "nonzero_scores"]
  config = elime_config(args)
  peer = "the torch EfficientNet-Lite0" if torch_peers(args.model) else "the JAX classifier (numpy)"
  steps = "one superpixel per step" if not args.steps else f"{args.steps} steps"
  legend = "".join(f"- {scores.legend_line(name)}\n" for name in ("deletion_auc", "insertion_auc"))
  return (_report.markdown_table(summarise(result["per_photo"], ks), columns)
          + f"\nMedians over photos (a photo's time: median over seeds; p@k and AUCs: mean over seeds). Model "
          f"{args.model}; {args.evaluations} classifier evaluations per explanation; {args.seeds} seed(s); "
          f"segmentation {config.segmentation}, fill {config.fill} for every method; E-LIME: {_common.describe(config)}"
          f", seeding {config.seeding}, compile excluded (compile_s: the warm-up's); lime and captum: batches of "
          f"{BATCH}, classifier {peer}"
          f"{f' ({args.torch_threads} torch threads)' if torch_peers(args.model) else ''}. p@k: "
          f"p(target) with only the top k superpixels shown, JAX classifier; AUCs: {steps}; stability: mean "
          f"pairwise Jaccard of the top-{STABILITY_K} sets across seeds (higher is better); sanity: "
          f"benchmarks/sanity.py; nonzero_scores: superpixels with a non-zero score "
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
