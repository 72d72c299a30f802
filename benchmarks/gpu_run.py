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
  float32_gap: where the program's forward could lose to the classifier alone. One chunk of images through the
     classifier with its weights as constants, as arguments, behind the masking, inside the engine's chunked
     evaluation, and the whole search (GA evaluations only); images/s, compile seconds and the convolutions XLA
     chose (from the optimised HLO, kept in float32_gap_hlo.tar.gz).
"""
from __future__ import annotations

import argparse
import collections
import io
import json
import re
import tarfile
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
OUT_DIR = "benchmarks/results"


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


def conv_summary(hlo: str) -> dict:
  """What an optimised HLO module runs: cuDNN convolutions by target, fused activation and math type, and the
  layout copies and transposes around them."""
  convs = [line for line in hlo.splitlines() if 'custom_call_target="__cudnn$conv' in line]
  count = lambda pattern, lines: dict(collections.Counter(m.group(1) for line in lines
                                                          for m in [re.search(pattern, line)] if m))
  return {"convolutions": len(convs), "targets": count(r'custom_call_target="([^"]+)"', convs),
          "activation": count(r'"activation_mode":"(\w+)"', convs), "math": count(r'"math_type":"(\w+)"', convs),
          "result_layouts": count(r"= \(\w+\[[\d,]+\](\{[\d,]+\})", convs),
          "transposes": sum(" transpose(" in line for line in hlo.splitlines()),
          "copies": sum(" copy(" in line for line in hlo.splitlines()),
          "fusions": sum(" fusion(" in line for line in hlo.splitlines())}


def section_float32_gap(res: dict) -> None:
  import evojax_lime as el
  from evojax_lime.evaluation.classifier import split_classifier
  from evojax_lime.evaluation.fitness import Evaluator, Problem, evaluate_rows
  from evojax_lime.evaluation.masking import masked_batch
  from evojax_lime.segmentation.superpixels import grid_segments
  model, size, runs = SETUP
  population, chunk, generations = runs[0]
  labels = grid_segments(size, size, 64)
  image = jax.random.uniform(jax.random.PRNGKey(2), (size, size, 3))
  fill = jnp.zeros_like(image)
  genomes = jax.random.bernoulli(jax.random.PRNGKey(3), 0.5, (chunk, 64))
  problem = Problem(image=image[None], labels=jnp.asarray(labels)[None], fill=fill[None],
                    target=jnp.zeros((1,), jnp.int32), num_genes=jnp.full((1,), 64, jnp.int32))
  rows, texts = [], {}
  res["float32_gap"] = rows
  for dtype in ("float32", "bfloat16"):
    dt = jnp.dtype(dtype)
    clf = throughput.make_classifier(model, size, dtype)
    weights, rebuild = split_classifier(clf)
    x = jax.random.uniform(jax.random.PRNGKey(1), (chunk, size, size, 3)).astype(dt)
    evaluator = lambda w: Evaluator(classifier=rebuild(w), logits=False, chunk_size=chunk, dtype=dt)
    variants = {
        "forward_constants": (jax.jit(clf), (x,)),
        "forward_arguments": (jax.jit(lambda w, x: rebuild(w)(x)), (weights, x)),
        "masked": (jax.jit(lambda w, g: rebuild(w)(masked_batch(g, image.astype(dt), labels, fill.astype(dt)))),
                   (weights, genomes)),
        "evaluate_rows": (jax.jit(lambda w, g: evaluate_rows(g[None], problem, jnp.zeros((1,)), evaluator(w))),
                          (weights, genomes)),
    }
    for name, (fn, args) in variants.items():
      t0 = time.perf_counter()
      compiled = fn.lower(*args).compile()
      compile_s = time.perf_counter() - t0
      _gap_row(res, rows, texts, compiled.as_text() or "", dtype=dtype, variant=name, chunk=chunk,
               compile_s=compile_s, images_per_s=chunk / throughput._timed(compiled, *args, repeats=5))
    config = el.ELimeConfig(population_size=population, generations=generations, chunk_size=chunk, dtype=dtype,
                            patience=None, faithfulness=False)  # forwards == the GA's evaluations
    search = el.Search([np.asarray(image)], clf, segments=[labels], config=config, targets=[0])
    best = min(search.restart().advance().evolve_time for _ in range(3))
    _gap_row(res, rows, texts, search._run.as_text() or "", dtype=dtype, variant="search",
             chunk=search.chunk_size, compile_s=search.compile_time,
             images_per_s=population * (generations + 1) / best)


def _gap_row(res: dict, rows: list, texts: dict, hlo: str, **row) -> None:
  texts[f"{row['dtype']}_{row['variant']}.txt"] = hlo
  rows.append({**row, **conv_summary(hlo)})
  _save(res, texts)
  print({k: rows[-1][k] for k in ("dtype", "variant", "images_per_s", "compile_s", "targets")}, flush=True)


def _save(res: dict, texts: dict) -> None:
  """Writes what the float32 section measured so far (a time-out keeps it)."""
  (Path(OUT_DIR) / "gpu_run.json").write_text(json.dumps(res, indent=2, default=str))
  buffer = io.BytesIO()
  with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
    for name, text in texts.items():
      data = text.encode()
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  (Path(OUT_DIR) / "float32_gap_hlo.tar.gz").write_bytes(buffer.getvalue())


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--budget-s", type=float, default=420.0, help="skip sections once this much time has passed")
  p.add_argument("--sections", nargs="+", default=["throughput", "explain_vs_lime", "cache", "segmentation",
                                                  "compile", "progress", "invariance"])
  p.add_argument("--quick", action="store_true", help="tiny model and sizes: a dry run of the script on a CPU")
  args = p.parse_args(argv)
  global SETUP, OUT_DIR
  SETUP = QUICK if args.quick else FULL
  OUT_DIR = args.out
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
