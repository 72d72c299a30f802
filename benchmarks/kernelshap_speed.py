"""KernelSHAP in the engine (``Search(strategy="kernelshap")``) against captum's ``KernelShap`` at equal evaluations.

Both explain the same photo, the same class (the JAX classifier's top-1), on the same superpixels (the engine's
quickshift, cut once on the host) with the same fill (the engine's ``mean``, captum's ``baselines``), spending
N = ``--evaluations`` classifier evaluations:

* ``engine``: ``Search([image], classifier, strategy="kernelshap", segments=[labels], targets=[target])`` with
  population ``--population`` x (generations + 1) = N and no curve step (so exactly N forwards). Its program
  is compiled by one untimed warm-up per photo; ``seconds`` is the whole call after that (building the search,
  running it, reading the explanation), ``evolve_s`` the compiled run alone.
* ``captum``: ``benchmarks.vs_peers.run_captum("kernelshap", ...)``: ``captum.attr.KernelShap.attribute(
  feature_mask=<our labels>, baselines=<the fill image>, n_samples=N, perturbations_per_eval=100)``, calling for
  ``--model efficientnet_lite0`` the pretrained EfficientNet-Lite0 in torch (``--torch-threads``), otherwise the
  JAX classifier as a numpy function, warmed up first.

``speedup`` is captum's seconds over the engine's, per photo and seed, the two measured back to back.
``agreement`` is Spearman's rank correlation of the two methods' Shapley values (independent samples, so it is
statistical; the exact check on shared coalitions is ``tests/strategies/test_kernelshap.py``).

  python -m benchmarks.kernelshap_speed --photos chelsea coffee --seeds 2 --evaluations 300
  python -m benchmarks.kernelshap_speed --model tiny --photos chelsea --seeds 1 --evaluations 100 --out /tmp/ks
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import jax.numpy as jnp
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report
from benchmarks.time_to_quality import TUNED_ON, torch_classifier, torch_lite0_net, warm_classifier
from benchmarks.vs_peers import BATCH, Subject, run_captum, tiny_model, torch_peers
from evojax_lime import scores
from evojax_lime.evaluation.fill import make_fill


def engine_config(args: argparse.Namespace) -> el.ELimeConfig:
  if args.evaluations % args.population:
    raise SystemExit(f"--evaluations ({args.evaluations}) must be a multiple of --population ({args.population})")
  return el.ELimeConfig(population_size=args.population, generations=args.evaluations // args.population - 1,
                        faithfulness=False)


def subject_of(name: str, pixels: np.ndarray, config: el.ELimeConfig, model) -> Subject:
  image = pixels.astype(np.float32) / 255.0
  labels = el.segment(image, config.segmentation, dict(config.segmentation_params))
  fill = make_fill(jnp.asarray(image), jnp.asarray(labels), kind=config.fill, length=int(labels.max()) + 1,
                   blur_sigma=config.blur_sigma)
  probs = model.predict(image[None])[0]
  target = int(np.argmax(probs))
  return Subject(name, name in TUNED_ON, image, labels, config.fill, np.asarray(fill, np.float32), target,
                 float(probs[target]))


def run_engine(subject: Subject, classifier, config: el.ELimeConfig, seed: int) -> tuple[np.ndarray, float, float]:
  t0 = time.perf_counter()
  search = el.Search([subject.image], classifier, strategy="kernelshap", segments=[subject.labels],
                     targets=[subject.target], config=config, seeds=seed).advance()
  exp = search.explanations()[0]
  return np.asarray(exp.importance, np.float64), time.perf_counter() - t0, search.evolve_time


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL, choices=(_common.DEFAULT_MODEL, "tiny"))
  p.add_argument("--photos", nargs="+", default=["chelsea", "coffee"])
  p.add_argument("--seeds", type=int, default=2)
  p.add_argument("--evaluations", type=int, default=300)
  p.add_argument("--population", type=int, default=100)
  p.add_argument("--torch-threads", type=int, default=2)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default kernelshap_speed_cpu[_tiny])")
  args = p.parse_args(argv)
  config = engine_config(args)
  model = tiny_model() if args.model == "tiny" else _common.flax_model(args.model)
  classifier = model.classifier()
  peer = (torch_classifier(torch_lite0_net(model.input_size, args.torch_threads)) if torch_peers(args.model)
          else _common.numpy_classifier(classifier))
  rows, start = [], time.perf_counter()
  for name, pixels in _common.load_photos(args.photos, model.input_size):
    subject = subject_of(name, pixels, config, model)
    t0 = time.perf_counter()
    run_engine(subject, classifier, config, seed=0)  # compiles the program: not timed
    compile_s = time.perf_counter() - t0
    warm_classifier(peer, subject.image, args.evaluations, BATCH)
    for seed in range(args.seeds):
      values, seconds, evolve_s = run_engine(subject, classifier, config, seed)
      captum = run_captum("kernelshap", subject, peer, seed=seed, evaluations=args.evaluations)
      rows.append({"photo": name, "seed": seed, "superpixels": subject.num_segments, "engine_s": seconds,
                   "engine_evolve_s": evolve_s, "captum_s": captum.seconds, "speedup": captum.seconds / seconds,
                   "agreement": scores.rank_correlation(values, captum.scores), "engine_compile_s": compile_s})
      _common.progress(f"{name} seed {seed}: engine {seconds:.2f} s, captum {captum.seconds:.2f} s")
  speedups = [r["speedup"] for r in rows]
  summary = {"median_speedup": float(np.median(speedups)), "worst_speedup": float(np.min(speedups)),
             "goal": ">= 10x", "met": bool(np.min(speedups) >= 10)}
  name = args.name or f"kernelshap_speed_cpu{'' if args.model == _common.DEFAULT_MODEL else '_' + args.model}"
  table = (f"{args.model}, {args.evaluations} evaluations (engine: population {config.population_size} x "
           f"{config.generations + 1}, no curves; captum: batches of {BATCH}, "
           f"{'torch Lite0' if torch_peers(args.model) else 'the JAX classifier as numpy'}), compile excluded, "
           f"measured back to back. Median speedup {summary['median_speedup']:.1f}x, worst "
           f"{summary['worst_speedup']:.1f}x (goal >= 10x: {'met' if summary['met'] else 'not met'}).\n\n"
           + _report.markdown_table(rows, list(rows[0])))
  path = _report.write(args.out, name, {"args": vars(args), "config": dataclasses.asdict(config), "rows": rows,
                                        "summary": summary, "seconds": time.perf_counter() - start}, table,
                       "KernelSHAP in the engine vs captum's KernelShap at equal evaluations")
  print(table)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()
