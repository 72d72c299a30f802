r"""Forward throughput of the Flax model ports against the same torch models, on this machine's CPU.

Per model and batch size: images per second of ``Model.logits`` (jit-compiled, timed after warm-up) and of the
torch reference (``efficientnet_lite_pytorch`` for EfficientNet-Lite, torchvision otherwise) under
``torch.no_grad()`` (denormals flushed, as XLA does), both with random weights and all CPU threads. Each figure is the best of ``--repeats``
timed calls; on a shared machine the spread between runs is large, so the load average is recorded too.

  python -m benchmarks.forward_throughput
  python -m benchmarks.forward_throughput --models efficientnet_lite0 resnet50 --batch-sizes 1 16 --repeats 3
  python -m benchmarks.forward_throughput --models efficientnet_lite0 --depthwise taps grouped

The transformers and ConvNeXts, on this CPU (as recorded) and on an accelerator (float32 and bfloat16, no torch
columns: torch would run on the host CPU; about two minutes):

  NEW="vit_b_16 vit_b_32 vit_l_16 convnext_tiny convnext_small convnext_base"
  python -m benchmarks.forward_throughput --models $NEW --batch-sizes 1 4 --repeats 2 --name forward_cpu_vit_convnext
  python -m benchmarks.forward_throughput --models $NEW --batch-sizes 1 64 --dtypes float32 bfloat16 --no-torch \
      --name forward_gpu_vit_convnext
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

import models
from benchmarks import _report

DEFAULT_MODELS = ("efficientnet_lite0", "mobilenet_v2", "resnet50")


def _best_seconds(fn: Callable[[], object], *, warmup: int, repeats: int) -> float:
  for _ in range(warmup):
    fn()
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - t0)
  return best


def _jax_row(name: str, batch: int, depthwise: str, dtype: str, args: argparse.Namespace) -> Optional[dict]:
  model = models.create(name, dtype=jnp.dtype(dtype))
  if depthwise != "auto":
    if not hasattr(model.module, "depthwise_impl"):
      return None  # No depthwise convolutions: one row is enough.
    model = dataclasses.replace(model, module=model.module.clone(depthwise_impl=depthwise))
  images = jnp.asarray(np.random.default_rng(0).uniform(size=(batch, model.input_size, model.input_size, 3)),
                       jnp.float32)
  t0 = time.perf_counter()
  jax.block_until_ready(model.logits(images))
  compile_s = time.perf_counter() - t0
  seconds = _best_seconds(lambda: jax.block_until_ready(model.logits(images)), warmup=args.warmup,
                          repeats=args.repeats)
  framework = " ".join(["jax", *([dtype] if dtype != "float32" else []),
                         *([f"({depthwise} depthwise)"] if depthwise != "auto" else [])])
  return {"model": name, "batch": batch, "framework": framework, "dtype": dtype, "images_per_s": batch / seconds,
          "seconds_per_batch": seconds, "first_call_s": compile_s, "input_size": model.input_size}


def _torch_model(name: str):
  if name.startswith("efficientnet_lite"):
    from efficientnet_lite_pytorch import EfficientNet  # pylint: disable=import-outside-toplevel
    return EfficientNet.from_name(name.replace("_", "-"))
  import torchvision  # pylint: disable=import-outside-toplevel
  return getattr(torchvision.models, name)(weights=None)


def _torch_row(name: str, batch: int, size: int, args: argparse.Namespace) -> dict:
  import torch  # pylint: disable=import-outside-toplevel
  torch.manual_seed(0)
  # XLA's CPU backend flushes denormals; random-weight activations can drift there, so level the field.
  torch.set_flush_denormal(True)
  model = _torch_model(name).eval()
  images = torch.rand(batch, 3, size, size)
  with torch.no_grad():
    seconds = _best_seconds(lambda: model(images), warmup=args.warmup, repeats=args.repeats)
  return {"model": name, "batch": batch, "framework": "torch", "images_per_s": batch / seconds,
          "seconds_per_batch": seconds, "input_size": size}


def _summary(rows: list[dict]) -> list[dict]:
  """One line per (model, batch): images/s of every framework column and JAX's speed-up over torch."""
  table: dict[tuple, dict] = {}
  for r in rows:
    line = table.setdefault((r["model"], r["batch"]), {"model": r["model"], "batch": r["batch"]})
    line[f"{r['framework']} img/s"] = r["images_per_s"]
  for line in table.values():
    if "jax img/s" in line and "torch img/s" in line:
      line["jax / torch"] = line["jax img/s"] / line["torch img/s"]
  return list(table.values())


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="registry names (random weights)")
  p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
  p.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (best is kept)")
  p.add_argument("--warmup", type=int, default=1, help="untimed calls after the first (compiling) one")
  p.add_argument("--depthwise", nargs="+", default=["auto"], choices=["auto", "taps", "grouped"],
                 help="depthwise convolution implementations to time (models without one run once)")
  p.add_argument("--dtypes", nargs="+", default=["float32"], choices=["float32", "bfloat16"],
                 help="JAX computation dtypes to time (logits are float32 either way; torch runs float32)")
  p.add_argument("--no-torch", action="store_true", help="time JAX only")
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=f"forward_{jax.default_backend()}", help="result file stem")
  args = p.parse_args(argv)
  unknown = sorted(set(args.models) - set(models.available()))
  if unknown:
    p.error(f"unknown models {unknown}; available: {', '.join(models.available())}")

  torch_threads = None
  if not args.no_torch:
    import torch  # pylint: disable=import-outside-toplevel
    torch_threads = torch.get_num_threads()
  load_before = os.getloadavg()
  rows = []
  for name in args.models:
    for batch in args.batch_sizes:
      for dtype in args.dtypes:
        for depthwise in args.depthwise:
          row = _jax_row(name, batch, depthwise, dtype, args)
          if row is not None:
            rows.append(row)
            print(row, flush=True)
      if not args.no_torch:
        rows.append(_torch_row(name, batch, rows[-1]["input_size"], args))
        print(rows[-1], flush=True)
  summary = _summary(rows)
  columns = ["model", "batch", *dict.fromkeys(k for line in summary for k in line if k not in ("model", "batch"))]
  payload = {"args": vars(args), "torch_threads": torch_threads, "load_average_before": load_before,
             "load_average_after": os.getloadavg(), "rows": rows, "summary": summary}
  table = _report.markdown_table(summary, columns)
  table += (f"\nImages/s, best of {args.repeats} after warm-up, random weights, JAX in {' / '.join(args.dtypes)} "
            f"(torch float32), input at each model's input_size. torch threads: {torch_threads}. Load average "
            f"before/after: {load_before[0]:.1f}/{payload['load_average_after'][0]:.1f} (shared machine).\n")
  print(_report.write(args.out, args.name, payload, table, "Forward throughput: Flax ports vs torch"))


if __name__ == "__main__":
  main()
