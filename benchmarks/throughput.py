"""Throughput of the compiled E-LIME generation step against the raw forward of the same model.

For each population size, dtype and chunk size: evaluated images per second of a whole compiled run
(generations under ``lax.scan``, compile excluded), the raw forward's images per second at the same batch,
their ratio (how close the GA runs to the forward ceiling), memory and compile time.

  python -m benchmarks.throughput --model tiny --populations 32 256 4096
  python -m benchmarks.throughput --model resnet50 --size 224 --populations 1024 65536 --chunk-sizes 1024
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import evojax_lime as el
from benchmarks import _report
from evojax_lime.evaluation.classifier import lower_classifier
from evojax_lime.segmentation.superpixels import grid_segments


class TinyCNN(nn.Module):
  """A few-layer CNN: the small model of the engine's tests."""

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(16, (3, 3), strides=2)(x))
    x = nn.relu(nn.Conv(32, (3, 3), strides=2)(x))
    return nn.Dense(10)(x.mean((1, 2)))


def make_classifier(name: str, size: int, dtype: str) -> Callable:
  """A probabilities classifier: ``tiny`` (random TinyCNN) or any registry model with random weights."""
  if name == "tiny":
    module = TinyCNN()
    variables = module.init(jax.random.PRNGKey(0), jnp.zeros((1, size, size, 3)))
    return lambda x: jax.nn.softmax(module.apply(variables, x.astype(jnp.float32)))
  import models
  return models.create(name, dtype=jnp.dtype(dtype)).classifier()


def _timed(fn, *args, repeats: int) -> float:
  """Best wall time of ``repeats`` calls (after one warm-up), blocking on the result."""
  jax.block_until_ready(fn(*args))
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - t0)
  return best


def raw_forward(classifier: Callable, batch: int, size: int, dtype: str, repeats: int) -> float:
  """Images per second of the jitted classifier alone on a ``(batch, size, size, 3)`` input."""
  x = jax.random.uniform(jax.random.PRNGKey(1), (batch, size, size, 3)).astype(jnp.dtype(dtype))
  return batch / _timed(jax.jit(classifier), x, repeats=repeats)


def peak_memory() -> int | None:
  stats = jax.devices()[0].memory_stats() or {}
  return stats.get("peak_bytes_in_use")


def engine_run(classifier: Callable, *, population: int, chunk: int, generations: int, size: int, dtype: str,
               shard: bool, repeats: int) -> dict:
  """Images per second of a whole compiled E-LIME run (random image, 64-cell grid superpixels)."""
  labels = grid_segments(size, size, 64)
  image = np.asarray(jax.random.uniform(jax.random.PRNGKey(2), (size, size, 3)))
  config = el.ELimeConfig(population_size=population, generations=generations, chunk_size=chunk, dtype=dtype,
                          shard=shard, patience=None, faithfulness=False)  # forwards == the GA's evaluations
  search = el.Search([image], classifier, segments=[labels], config=config, targets=[0])
  best = float("inf")
  for _ in range(repeats + 1):  # the first run warms up
    best = min(best, search.restart().advance().evolve_time)
  memory = search.memory_analysis()
  return {"engine_images_per_s": population * (generations + 1) / best, "run_s": best,
          "compile_s": search.compile_time, "chunk": search.chunk_size,
          "temp_bytes": getattr(memory, "temp_size_in_bytes", None), "peak_bytes": peak_memory()}


def compile_ratio(classifier: Callable, *, population: int, generations: int, size: int, dtype: str) -> dict:
  """Seconds to compile a whole search program against the classifier's own forward at the chunk size."""
  labels = grid_segments(size, size, 64)
  image = np.asarray(jax.random.uniform(jax.random.PRNGKey(2), (size, size, 3)))
  config = el.ELimeConfig(population_size=population, generations=generations, dtype=dtype)
  search = el.Search([image], classifier, segments=[labels], config=config, targets=[0])
  spec = jax.ShapeDtypeStruct((search.chunk_size, size, size, 3), jnp.dtype(dtype))
  t0 = time.perf_counter()
  lower_classifier(classifier, spec)
  forward = time.perf_counter() - t0
  return {"chunk": search.chunk_size, "program_compile_s": search.compile_time, "forward_compile_s": forward,
          "compile_ratio": search.compile_time / forward}


def explain_wall(classifier: Callable, *, size: int, population: int, generations: int, per_image_s: float) -> dict:
  """``explain()`` wall time (warm, grid superpixels) against evaluations x per-image forward time."""
  image = np.asarray(jax.random.uniform(jax.random.PRNGKey(3), (size, size, 3)))
  config = el.ELimeConfig(population_size=population, generations=generations, segmentation="grid", patience=None)
  el.explain(image, classifier, config=config)
  t0 = time.perf_counter()
  exp = el.explain(image, classifier, config=config)
  wall = time.perf_counter() - t0
  ideal = exp.num_evaluations * per_image_s
  return {"explain_wall_s": wall, "evaluations": exp.num_evaluations, "forward_bound_s": ideal,
          "wall_over_forward": wall / ideal}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default="tiny", help="tiny, or a models registry name (random weights)")
  p.add_argument("--size", type=int, default=64, help="image side in pixels")
  p.add_argument("--populations", type=int, nargs="+", default=[32, 256, 4096])
  p.add_argument("--chunk-sizes", type=int, nargs="+", default=[0], help="0 = the whole population per batch")
  p.add_argument("--dtypes", nargs="+", default=["float32"], choices=["float32", "bfloat16"])
  p.add_argument("--generations", type=int, default=4)
  p.add_argument("--repeats", type=int, default=2)
  p.add_argument("--shard", action="store_true", help="also run with the population sharded over all devices")
  p.add_argument("--explain-check", action="store_true", help="also time explain() against the forward bound")
  p.add_argument("--compile-check", action="store_true",
                 help="also compare a whole program's compile time with the classifier's forward at the chunk size")
  p.add_argument("--check-population", type=int, default=64)
  p.add_argument("--check-generations", type=int, default=15)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default=None, help="result file name (default throughput_<backend>_<model>)")
  args = p.parse_args(argv)

  rows = []
  for dtype in args.dtypes:
    classifier = make_classifier(args.model, args.size, dtype)
    for population in args.populations:
      for chunk in sorted({population if c <= 0 else min(c, population) for c in args.chunk_sizes}):
        forward = raw_forward(classifier, chunk, args.size, dtype, args.repeats)
        for shard in ([False, True] if args.shard else [False]):
          row = {"model": args.model, "size": args.size, "dtype": dtype, "population": population, "chunk": chunk,
                 "devices": jax.device_count() if shard else 1, "forward_images_per_s": forward}
          row.update(engine_run(classifier, population=population, chunk=chunk, generations=args.generations,
                                size=args.size, dtype=dtype, shard=shard, repeats=args.repeats))
          row["ratio_to_forward"] = row["engine_images_per_s"] / forward
          rows.append(row)
          print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
  payload = {"args": vars(args), "rows": rows}
  if args.explain_check:
    per_image = 1.0 / raw_forward(make_classifier(args.model, args.size, "float32"), args.check_population,
                                  args.size, "float32", args.repeats)
    payload["explain_check"] = explain_wall(make_classifier(args.model, args.size, "float32"), size=args.size,
                                            population=args.check_population, generations=args.check_generations,
                                            per_image_s=per_image)
    print(payload["explain_check"])
  if args.compile_check:
    payload["compile_check"] = compile_ratio(make_classifier(args.model, args.size, "float32"),
                                             population=args.check_population, generations=args.check_generations,
                                             size=args.size, dtype="float32")
    print(payload["compile_check"])
  columns = ["model", "size", "dtype", "population", "chunk", "devices", "forward_images_per_s",
             "engine_images_per_s", "ratio_to_forward", "compile_s", "temp_bytes", "peak_bytes"]
  table = _report.markdown_table(rows, columns)
  for check in ("explain_check", "compile_check"):
    if check in payload:
      table += "\n" + _report.markdown_table([payload[check]], list(payload[check]))
  name = args.name or f"throughput_{jax.default_backend()}_{args.model}"
  print(_report.write(args.out, name, payload, table, f"E-LIME step throughput vs raw forward ({args.model})"))


if __name__ == "__main__":
  main()
