"""One prepared accelerator measurement: everything the README quotes for GPUs, in one short run.

  python -m benchmarks.gpu_run --out DIR [--budget-s 420]

Sections (each guarded, results written after every section so a time-out loses nothing measured):
  throughput: ResNet-50 (random weights, 224 px): raw forward images/s vs the compiled E-LIME run, float32 and
     bfloat16, population 1,024 (chunk 1,024) and 65,536 (chunk 2,048).
  explain_vs_lime: a 1,000-evaluation explanation of ResNet-50 with the default segmentation (warm), and
     reference ``lime`` with torchvision's ResNet-50 on the same GPU when torch and lime are importable.
  cache: a cold process and a second process with the persistent compilation cache: seconds from process
     start until the search starts evolving.
  compile: a whole program's compile time against the classifier's forward at the chunk size (ResNet-50, Lite0).
  segmentation: JAX SLIC and JAX quickshift at batch 1 / 16 / 256 against scikit-image on the host.
  invariance: ResNet-50 explanations with chunks of 256 and 1,024: how far XLA's summation order moves them.
  progress: a 100-generation run with and without progress reports.
"""
from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import _report, throughput


# (model, image size, [(population, chunk, generations)]); --quick is a dry run that fits a CPU.
FULL = ("resnet50", 224, [(1024, 1024, 3), (65536, 2048, 1)])
REPEATS = 1  # timed runs after the warm-up: the device time of the whole script is bounded
QUICK = ("tiny", 64, [(64, 64, 2), (256, 64, 1)])
SETUP = FULL


def section_throughput(res: dict) -> None:
  model, size, runs = SETUP
  rows = []
  for dtype in ("float32", "bfloat16"):
    clf = throughput.make_classifier(model, size, dtype)
    for population, chunk, gens in runs:
      forward = throughput.raw_forward(clf, chunk, size, dtype, repeats=3)
      row = {"model": model, "dtype": dtype, "population": population, "chunk": chunk,
             "forward_images_per_s": forward}
      row.update(throughput.engine_run(clf, population=population, chunk=chunk, generations=gens, size=size,
                                       dtype=dtype, shard=False, repeats=REPEATS))
      row["ratio_to_forward"] = row["engine_images_per_s"] / forward
      rows.append(row)
      print(row, flush=True)
  res["throughput"] = rows


def section_explain_vs_lime(res: dict) -> None:
  import evojax_lime as el
  model, size, _ = SETUP
  photo = _photo(size)
  clf = throughput.make_classifier(model, size, "float32")
  out = {}
  configs = {"p100_g9": el.ELimeConfig(population_size=100, generations=9, patience=None),
             "p200_g4": el.ELimeConfig(population_size=200, generations=4, patience=None)}
  for name, cfg in list(configs.items())[:1 if SETUP is QUICK else None]:
    el.explain(photo, clf, config=cfg)  # compile
    walls = []
    for seed in range(3):
      e = el.explain(photo, clf, config=cfg, seed=seed)
      walls.append({"wall_s": e.wall_time, "evolve_s": e.evolve_time, "segmentation_s": e.segmentation_time})
    out[name] = {"evaluations": e.num_evaluations, "runs": walls,
                 "best_wall_s": min(w["wall_s"] for w in walls), "best_evolve_s": min(w["evolve_s"] for w in walls)}
    print(name, out[name], flush=True)
  res["elime_1000"] = out
  try:
    import torch
    import torchvision
    from lime import lime_image
  except ImportError as e:
    res["lime_reference"] = f"skipped: {e}"
    return
  if not torch.cuda.is_available():
    res["lime_reference"] = "skipped: torch sees no GPU"
    return
  net = torchvision.models.resnet50().eval().cuda()
  mean = torch.tensor([0.485, 0.456, 0.406], device="cuda").view(1, 3, 1, 1)
  std = torch.tensor([0.229, 0.224, 0.225], device="cuda").view(1, 3, 1, 1)

  def predict(batch):
    with torch.no_grad():
      x = torch.from_numpy(np.asarray(batch, np.float32)).cuda().permute(0, 3, 1, 2)
      return torch.softmax(net((x - mean) / std), -1).cpu().numpy()

  lime_rows = []
  explainer = lime_image.LimeImageExplainer(random_state=0)
  predict(photo[None])
  for samples in (1000,):
    for batch in (10, 100):
      t0 = time.perf_counter()
      explainer.explain_instance(photo.astype(np.float64), predict, top_labels=1, hide_color=0, num_samples=samples,
                                 batch_size=batch, random_seed=0)
      lime_rows.append({"samples": samples, "batch_size": batch, "wall_s": time.perf_counter() - t0})
      print(lime_rows[-1], flush=True)
  res["lime_reference"] = lime_rows


def _photo(size: int) -> np.ndarray:
  from skimage import data
  from PIL import Image
  return np.asarray(Image.fromarray(data.chelsea()).resize((size, size)), np.float32) / 255.0


def section_segmentation(res: dict) -> None:
  from evojax_lime.segmentation.superpixels import in_program_labels
  from skimage import segmentation
  side = 64 if SETUP is QUICK else 224
  photo = _photo(side)
  rows = []
  for method in ("slic_jax", "quickshift_jax"):
    for batch in ((1, 2) if SETUP is QUICK else (1, 16, 256)):
      images = jnp.asarray(np.broadcast_to(photo, (batch, side, side, 3)).copy())
      fn = jax.jit(jax.vmap(lambda x: in_program_labels(x, method, {})))
      t0 = time.perf_counter()
      jax.block_until_ready(fn(images))
      compile_s = time.perf_counter() - t0
      best = throughput._timed(fn, images, repeats=3)
      rows.append({"method": method, "batch": batch, "images_per_s": batch / best, "compile_s": compile_s})
      print(rows[-1], flush=True)
  for name, fn in (("skimage_slic", lambda: segmentation.slic(photo, n_segments=100, compactness=10.0, start_label=0)),
                   ("skimage_quickshift", lambda: segmentation.quickshift(photo.astype(np.float64), kernel_size=4,
                                                                          max_dist=200, ratio=0.2))):
    fn()
    t0 = time.perf_counter()
    for _ in range(3):
      fn()
    rows.append({"method": name, "batch": 1, "images_per_s": 3 / (time.perf_counter() - t0)})
    print(rows[-1], flush=True)
  res["segmentation"] = rows


def section_compile(res: dict) -> None:
  model, size, _ = SETUP
  rows = []
  for name in ((model,) if SETUP is QUICK else ("resnet50",)):
    row = {"model": name}
    row.update(throughput.compile_ratio(throughput.make_classifier(name, size, "float32"), population=1024,
                                        generations=3, size=size, dtype="float32"))
    rows.append(row)
    print(row, flush=True)
  res["compile"] = rows


_CACHE_CHILD = """
import sys, time, json
started = float(sys.argv[2])
import numpy as np, evojax_lime as el
from benchmarks import throughput
el.enable_compilation_cache(sys.argv[1])
clf = throughput.make_classifier(sys.argv[3], int(sys.argv[4]), "float32")
image = np.asarray(np.random.default_rng(0).random((int(sys.argv[4]),) * 2 + (3,)), np.float32)
search = el.Search([image], clf, config=el.ELimeConfig(population_size=100, generations=9, patience=None))
evolving = time.time() - started
search.advance()
print(json.dumps({"start_to_evolving_s": evolving, "compile_s": search.compile_time, "evolve_s": search.evolve_time,
                  "total_s": time.time() - started}))
"""


def section_cache(res: dict) -> None:
  import subprocess
  import sys
  import tempfile
  model, size, _ = SETUP
  rows = []
  with tempfile.TemporaryDirectory() as cache:
    for run in ("cold", "second_process"):
      proc = subprocess.run([sys.executable, "-c", _CACHE_CHILD, cache, repr(time.time()), model, str(size)],
                            capture_output=True, text=True, timeout=600)
      row = {"run": run, **(json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else
                            {"error": proc.stderr[-2000:]})}
      rows.append(row)
      print(row, flush=True)
  res["cache"] = rows


def section_invariance(res: dict) -> None:
  import dataclasses
  import evojax_lime as el
  model, size, _ = SETUP
  clf = throughput.make_classifier(model, size, "float32")
  photo = _photo(size)
  base = el.ELimeConfig(population_size=64 if SETUP is QUICK else 1024, generations=3, patience=None)
  out = {}
  runs = {c: el.explain(photo, clf, config=dataclasses.replace(base, chunk_size=c), seed=0)
          for c in ((16, 64) if SETUP is QUICK else (256, 1024))}
  a, b = runs.values()
  out["max_abs_fitness_history"] = float(np.abs(a.fitness_history - b.fitness_history).max())
  out["rel_explanation_probability"] = abs(a.explanation_probability - b.explanation_probability) / max(
      a.explanation_probability, 1e-30)
  out["rel_original_probability"] = abs(a.original_probability - b.original_probability) / a.original_probability
  out["same_genome"] = bool(np.array_equal(a.genome, b.genome))
  print(out, flush=True)
  res["invariance"] = out


def section_progress(res: dict) -> None:
  import evojax_lime as el
  model, size, _ = SETUP
  clf = throughput.make_classifier(model, size, "float32")
  photo = _photo(size)
  cfg = el.ELimeConfig(population_size=64, generations=4 if SETUP is QUICK else 100, patience=None)
  el.explain(photo, clf, config=cfg)
  rows = {}
  for name, progress in (("plain", None), ("progress", lambda g, b: None)):
    rows[name] = min(el.explain(photo, clf, config=cfg, seed=s, progress=progress).evolve_time for s in range(3))
  rows["overhead"] = rows["progress"] / rows["plain"] - 1
  print(rows, flush=True)
  res["progress"] = rows


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--budget-s", type=float, default=420.0, help="skip sections once this much time has passed")
  p.add_argument("--sections", nargs="+", default=["throughput", "explain_vs_lime", "cache", "segmentation",
                                                  "compile", "progress", "invariance"])
  p.add_argument("--quick", action="store_true", help="tiny model and sizes: a dry run of the script on a CPU")
  args = p.parse_args(argv)
  global SETUP
  SETUP = QUICK if args.quick else FULL
  start = time.perf_counter()
  res: dict = {"machine": _report.machine()}
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  for name in args.sections:
    if time.perf_counter() - start > args.budget_s:
      res[name] = "skipped: time budget spent"
      continue
    t0 = time.perf_counter()
    try:
      globals()[f"section_{name}"](res)
    except Exception:  # keep what the other sections measured
      res[name + "_error"] = traceback.format_exc()[-3000:]
      print(res[name + "_error"], flush=True)
    res.setdefault("section_seconds", {})[name] = time.perf_counter() - t0
    (out / "gpu_run.json").write_text(json.dumps(res, indent=2, default=str))
  print("done in", time.perf_counter() - start, "s")


if __name__ == "__main__":
  main()
