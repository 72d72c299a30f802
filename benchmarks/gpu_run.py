"""One prepared accelerator measurement: everything the README quotes for GPUs, in one short run.

  python -m benchmarks.gpu_run --out DIR [--budget-s 420]

Sections (each guarded, results written after every section so a time-out loses nothing measured):
  1. ResNet-50 (random weights, 224 px): raw forward images/s vs the compiled E-LIME step, float32 and bfloat16,
     population 1,024 (chunk 1,024) and 65,536 (chunk 2,048).
  2. A 1,000-evaluation explanation of ResNet-50 (warm): wall time, and reference ``lime`` with torchvision's
     ResNet-50 on the same GPU (1,000 and 5,000 samples) when torch and lime are importable.
  3. JAX SLIC and JAX quickshift (LIME's settings): images/s at batch 1 / 16 / 256 against scikit-image SLIC and
     quickshift on the host.
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
                                       dtype=dtype, shard=False, repeats=2))
      row["ratio_to_forward"] = row["engine_images_per_s"] / forward
      rows.append(row)
      print(row, flush=True)
  res["throughput"] = rows


def section_explain_vs_lime(res: dict) -> None:
  import evojax_lime as el
  from skimage import data
  from PIL import Image
  model, size, _ = SETUP
  photo = np.asarray(Image.fromarray(data.chelsea()).resize((size, size)), np.float32) / 255.0
  clf = throughput.make_classifier(model, size, "float32")
  out = {}
  for name, cfg in {"p100_g9": el.ELimeConfig(population_size=100, generations=9, segmentation="quickshift"),
                    "p200_g4": el.ELimeConfig(population_size=200, generations=4, segmentation="quickshift")}.items():
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
  for samples in (1000, 5000):
    for batch in (10, 100):
      t0 = time.perf_counter()
      explainer.explain_instance(photo.astype(np.float64), predict, top_labels=1, hide_color=0, num_samples=samples,
                                 batch_size=batch, random_seed=0, progress_bar=False)
      lime_rows.append({"samples": samples, "batch_size": batch, "wall_s": time.perf_counter() - t0})
      print(lime_rows[-1], flush=True)
  res["lime_reference"] = lime_rows


def section_slic(res: dict) -> None:
  from evojax_lime import quickshift_jax, slic_jax
  from evojax_lime.superpixels import LIME_QUICKSHIFT
  from skimage import data, segmentation
  from PIL import Image
  photo = np.asarray(Image.fromarray(data.chelsea()).resize((224, 224)), np.float32) / 255.0
  rows = []
  jax_methods = {"slic_jax": lambda x: slic_jax.slic_batch(x, n_segments=100, compactness=10.0),
                 "quickshift_jax": lambda x: quickshift_jax.quickshift_batch(x, **LIME_QUICKSHIFT)}
  for method, batched in jax_methods.items():
    for batch in ((1, 2) if SETUP is QUICK else (1, 16, 256)):
      images = jnp.asarray(np.broadcast_to(photo, (batch, 224, 224, 3)).copy())
      fn = jax.jit(batched)
      t0 = time.perf_counter()
      jax.block_until_ready(fn(images))
      compile_s = time.perf_counter() - t0
      best = throughput._timed(fn, images, repeats=3)
      rows.append({"method": method, "batch": batch, "images_per_s": batch / best, "compile_s": compile_s})
      print(rows[-1], flush=True)
  for name, fn in (("skimage_slic", lambda: segmentation.slic(photo, n_segments=100, compactness=10.0, start_label=0)),
                   ("skimage_quickshift", lambda: segmentation.quickshift(photo.astype(np.float64),
                                                                          **LIME_QUICKSHIFT))):
    fn()
    t0 = time.perf_counter()
    for _ in range(3):
      fn()
    rows.append({"method": name, "batch": 1, "images_per_s": 3 / (time.perf_counter() - t0)})
    print(rows[-1], flush=True)
  res["segmentation"] = rows


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--budget-s", type=float, default=420.0, help="skip sections once this much time has passed")
  p.add_argument("--sections", nargs="+", default=["throughput", "explain_vs_lime", "slic"])
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
