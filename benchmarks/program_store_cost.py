"""What naming a stored program's computation costs, against the warm start it serves.

For each model a fresh process times :func:`evojax_lime.engine.program_store.classifier_digest` (the one-image
trace of the classifier, its text and the digest of its constants: paid by every process that looks a program
up) and sha256 over the weights' bytes (what a classifier that closes over its weights adds to that digest);
then :func:`benchmarks.startup.warm_start` gives the warm start (a second process on the same cache, from
calling ``explain`` to evolving) that the lookup is part of.

  python -m benchmarks.program_store_cost                                   # Lite0 and ResNet-50
  python -m benchmarks.program_store_cost --models tiny --no-warm --out /tmp/x    # smoke test
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

if __package__ in (None, ""):  # run as a file: make the repo importable
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax

from benchmarks import _report
from benchmarks.startup import MODELS, warm_start

# One fresh process: the digest's cost, the first time (as a warm start pays it) and again (cached).
_DIGEST = """
import hashlib, json, sys, time
import jax, numpy as np
from benchmarks import _common
from evojax_lime.engine import program_store
model = _common.load_model(sys.argv[1])
side = model.input_size
t0 = time.perf_counter()
named = program_store.classifier_digest(model.classifier, height=side, width=side, dtype="float32")
first = time.perf_counter() - t0
t0 = time.perf_counter()
program_store.classifier_digest(model.classifier, height=side, width=side, dtype="float32")
again = time.perf_counter() - t0
leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(model.classifier) if hasattr(x, "dtype")]
t0 = time.perf_counter()
digest = hashlib.sha256()
for leaf in leaves:
  digest.update(memoryview(np.ascontiguousarray(leaf).reshape(-1).view(np.uint8)))
weights_s = time.perf_counter() - t0
print(json.dumps({"named": named is not None, "digest_first_s": first, "digest_again_s": again,
                  "weights_mb": sum(x.nbytes for x in leaves) / 1e6, "weights_sha256_s": weights_s}))
"""


def digest_cost(spec: str) -> dict:
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
  out = subprocess.run([sys.executable, "-c", _DIGEST, spec], cwd=root, env=env, capture_output=True, text=True,
                       check=True)
  return {"model": spec, **json.loads(out.stdout.strip().splitlines()[-1])}


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--models", nargs="+", default=["efficientnet_lite0", "resnet50"], choices=list(MODELS))
  p.add_argument("--warm", nargs="*", default=["efficientnet_lite0"], choices=list(MODELS),
                 help="models whose warm start is measured too")
  p.add_argument("--no-warm", action="store_true")
  p.add_argument("--generations", type=int, default=1)
  p.add_argument("--note", default="", help="said beside the machine (e.g. that it was contended)")
  p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  p.add_argument("--name", default=None)
  args = p.parse_args(argv)
  digests = [digest_cost(MODELS[m]) for m in args.models]
  for row in digests:
    print(json.dumps(row), flush=True)
  warms = [] if args.no_warm else [warm_start(MODELS[m], generations=args.generations, options={}, progress=False)
                                   for m in args.warm]
  for row in warms:
    print(json.dumps(row), flush=True)
  table = _report.markdown_table(digests, ["model", "named", "digest_first_s", "digest_again_s", "weights_mb",
                                           "weights_sha256_s"])
  if warms:
    table += "\n" + _report.markdown_table(warms, ["model", "cold_to_evolving_s", "warm_to_evolving_s",
                                                   "warm_compile_s", "warm_segmentation_s"])
  if args.note:
    table = f"{args.note}\n\n{table}"
  name = args.name or f"program_store_cost_{jax.default_backend()}"
  path = _report.write(args.out, name, {"args": vars(args), "digest": digests, "warm_start": warms}, table,
                       "The stored programs' key: its cost against the warm start")
  print(table)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()
