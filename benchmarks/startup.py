"""What a call costs before any work: the program's compile against the classifier's own, and a warm start.

Compile ratio: for each model, the classifier's forward alone is lowered and compiled at the chunk the search
uses (on a CPU with the curves, one row), then a :class:`evojax_lime.Search` of one 224 x 224 photo is built
(which traces and compiles the whole program); both wall times are reported with their ratio (goal: at most
1.5x), and the CPU seconds of each beside them. Each variant of the config is a fresh classifier object, so
nothing is reused: ``default`` (the default config: ``segmentation="auto"``, on a CPU cut on the host),
``segments`` (scikit-image's quickshift cut on the host and given; on a CPU the same program as ``default``, so
not run unless asked for) and ``in_program`` (``quickshift_jax`` cut inside the program).

Warm start (the first model only): two fresh processes with the same persistent compilation cache each run
``explain`` once (with and without a progress callback); the second's time from calling ``explain`` to evolving
(``wall_time - evolve_time``: preparation, tracing, the cache lookup and loading) is the warm start (goal: at
most 2 s). Process start-up and imports are reported apart.

The default command: ``evojax-lime explain`` on the bundled photo, run twice in fresh processes with one fresh
cache folder (cold, then warm), each measured from outside from process start to exit (its outputs written),
beside the interpreter's own start; inside, the imports, the model build, and (from the photo's JSON record)
the segmentation, compile, evolving and writing (goals: cold at most 15 s, warm at most 5 s, imports at most
1 s).

  python -m benchmarks.startup                  # Lite0 and ResNet-50 (random weights): about 4 minutes, quiet
  python -m benchmarks.startup --models tiny --size 32 --no-command --out /tmp/x   # smoke test
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report

MODELS = {"efficientnet_lite0": "efficientnet_lite0", "resnet50": "resnet50=random", "tiny": "tiny"}

# One process of the warm-start measurement: imports, enables the cache, explains once, prints its timings.
_WARM = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np, evojax_lime as el
from benchmarks import _common
imported = time.perf_counter() - t0
el.enable_compilation_cache(sys.argv[1])
model = _common.load_model(sys.argv[2])
photo = _common.load_photos(["astronaut"], model.input_size)[0][1].astype(np.float32) / 255
config = el.ELimeConfig(generations=int(sys.argv[4]), **json.loads(sys.argv[5]))
seen = []
exp = el.explain(photo, model.classifier, config=config, seed=0,
                 progress=(lambda g, f: seen.append(g)) if sys.argv[3] == "progress" else None)
print(json.dumps({"imports_s": imported, "to_evolving_s": exp.wall_time - exp.evolve_time,
                  "compile_s": exp.compile_time, "segmentation_s": exp.segmentation_time,
                  "evolve_s": exp.evolve_time, "reports": len(seen)}))
"""


# One default command, with its imports and model build timed from inside (the command itself is unchanged).
_COMMAND = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from evojax_lime import cli
from evojax_lime.cli import explain_command
imported, imported_cpu = time.perf_counter() - t0, time.process_time() - c0
built, load = [], explain_command.load_model
def timed(*args, **kwargs):
  t = time.perf_counter()
  model = load(*args, **kwargs)
  built.append(time.perf_counter() - t)
  return model
explain_command.load_model = timed
code = cli.main(sys.argv[1:])
print(json.dumps({"imports_s": imported, "imports_cpu_s": imported_cpu, "model_s": sum(built), "exit": code}))
"""


def default_command(runs: tuple[str, ...] = ("cold", "warm")) -> list[dict]:
  """``evojax-lime explain`` with its defaults, one process per run on one fresh cache folder."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
  t0 = time.perf_counter()
  subprocess.run([sys.executable, "-c", "pass"], check=True)
  interpreter = time.perf_counter() - t0
  rows = []
  with tempfile.TemporaryDirectory(prefix="evojax-lime-command-") as work:
    cache = os.path.join(work, "cache")
    for name in runs:
      out = os.path.join(work, name)
      t0, c0 = time.perf_counter(), _children_cpu()
      done = subprocess.run([sys.executable, "-c", _COMMAND, "explain", "--cache-dir", cache, "--out", out],
                            cwd=root, env=env, capture_output=True, text=True)
      process, process_cpu = time.perf_counter() - t0, _children_cpu() - c0
      if done.returncode != 0:
        raise RuntimeError(f"the {name} command failed: {done.stderr.strip()[-500:]}")
      *printed, last = done.stdout.strip().splitlines()
      inside = json.loads(last)
      records = [p for p in _json_files(out) if os.path.basename(p) != "summary.json"]
      with open(records[0]) as f:
        record = json.load(f)
      timings = record["timings"]
      rows.append({"run": name, "printed": " ".join(line.strip() for line in printed if line.strip()),
                   "scores": record.get("scores"), "process_s": process, "process_cpu_s": process_cpu, "interpreter_s": interpreter,
                   "imports_s": inside["imports_s"], "imports_cpu_s": inside["imports_cpu_s"],
                   "model_s": inside["model_s"], **{f"{k}_s": v for k, v in timings.items() if k != "wall"}})
  return rows


def _children_cpu() -> float:
  """CPU seconds (user and system, every thread) of this process's finished children: waiting for a core on a
  shared machine does not count."""
  usage = resource.getrusage(resource.RUSAGE_CHILDREN)
  return usage.ru_utime + usage.ru_stime


def _json_files(folder: str) -> list[str]:
  return sorted(os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if f.endswith(".json"))


def compile_ratio(spec: str, *, size: int, variant: str, options: dict) -> dict:
  """The forward's compile and the program's compile (a fresh classifier object for each)."""
  model = _common.load_model(spec)
  classifier = lambda x, f=model.classifier: f(x)  # a new object: no program cached for it
  photo = _common.load_photos(["astronaut"], size)[0][1].astype(np.float32) / 255
  config = el.ELimeConfig(**options)
  if variant == "in_program":
    config = dataclasses.replace(config, segmentation="quickshift_jax")
  segments = None
  if variant == "segments":
    segments = [el.segment(photo, "quickshift", dict(config.segmentation_params))]
  # CPU seconds of this process (every thread) beside the wall: on a shared machine the wall also counts the
  # waits for a core, the CPU time does not.
  t0, c0 = time.perf_counter(), time.process_time()
  search = el.Search([photo], classifier, segments=segments, config=config)
  program_s, program_cpu = time.perf_counter() - t0, time.process_time() - c0
  chunk = search.chunk_size
  forward = jax.jit(lambda x, f=model.classifier: f(x))
  t0, c0 = time.perf_counter(), time.process_time()
  forward.lower(jnp.zeros((chunk, size, size, 3), jnp.float32)).compile()
  forward_s, forward_cpu = time.perf_counter() - t0, time.process_time() - c0
  return {"model": spec, "variant": variant, "chunk": chunk, "forward_compile_s": forward_s,
          "program_compile_s": search.compile_time, "search_built_s": program_s,
          "ratio": search.compile_time / forward_s, "forward_compile_cpu_s": forward_cpu,
          "search_built_cpu_s": program_cpu, "cpu_ratio": program_cpu / forward_cpu}


def warm_start(spec: str, *, generations: int, options: dict, progress: bool) -> dict:
  """A cold then a warm process on one fresh cache folder; the warm one's timings."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
  with tempfile.TemporaryDirectory(prefix="evojax-lime-cache-") as cache:
    runs = []
    for _ in ("cold", "warm"):
      t0 = time.perf_counter()
      out = subprocess.run([sys.executable, "-c", _WARM, cache, spec, "progress" if progress else "none",
                            str(generations), json.dumps(options)], cwd=root, env=env, capture_output=True,
                           text=True, check=True)
      runs.append({**json.loads(out.stdout.strip().splitlines()[-1]), "process_s": time.perf_counter() - t0})
  cold, warm = runs
  return {"model": spec, "progress": progress, "cold_to_evolving_s": cold["to_evolving_s"],
          "warm_to_evolving_s": warm["to_evolving_s"], "warm_compile_s": warm["compile_s"],
          "warm_segmentation_s": warm["segmentation_s"], "warm_imports_s": warm["imports_s"],
          "warm_process_s": warm["process_s"], "reports": warm["reports"]}


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--models", nargs="+", default=["efficientnet_lite0", "resnet50"], choices=list(MODELS))
  p.add_argument("--size", type=int, default=224, help="photo side (the models' input size)")
  p.add_argument("--variants", nargs="+", default=["default", "in_program"],
                 choices=["default", "segments", "in_program"])
  p.add_argument("--generations", type=int, default=2, help="generations of each warm-start run")
  p.add_argument("--options", default="{}", help="JSON of ELimeConfig options for every run")
  p.add_argument("--no-warm", action="store_true", help="skip the warm-start processes")
  p.add_argument("--no-command", action="store_true", help="skip the default command's cold and warm runs")
  p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  p.add_argument("--name", default=None)
  args = p.parse_args(argv)
  options = json.loads(args.options)
  compiles = [compile_ratio(MODELS[m], size=args.size, variant=v, options=options)
              for m in args.models for v in args.variants]
  for row in compiles:
    print(json.dumps(row), flush=True)
  warms = [] if args.no_warm else [warm_start(MODELS[m], generations=args.generations, options=options,
                                              progress=pr) for m in args.models[:1] for pr in (False, True)]
  for row in warms:
    print(json.dumps(row), flush=True)
  commands = [] if args.no_command else default_command()
  for row in commands:
    print(json.dumps(row), flush=True)
  table = _report.markdown_table(compiles, ["model", "variant", "chunk", "forward_compile_s", "program_compile_s",
                                            "ratio", "forward_compile_cpu_s", "search_built_cpu_s", "cpu_ratio"])
  if warms:
    table += "\n" + _report.markdown_table(warms, ["model", "progress", "cold_to_evolving_s", "warm_to_evolving_s",
                                                   "warm_compile_s", "warm_segmentation_s", "warm_imports_s",
                                                   "warm_process_s"])
  if commands:
    table += "\n" + _report.markdown_table(commands, ["run", "process_s", "process_cpu_s", "interpreter_s",
                                                      "imports_s", "imports_cpu_s", "model_s", "segmentation_s",
                                                      "compile_s", "evolve_s", "write_s"])
    # What the command printed and scored, so the README's example line is a recorded one.
    table += "".join(f"\nThe {row['run']} command printed: `{row['printed']}`; scores: {json.dumps(row['scores'])}\n"
                     for row in commands)
  name = args.name or f"startup_{jax.default_backend()}"
  path = _report.write(args.out, name, {"args": vars(args), "compile": compiles, "warm_start": warms,
                                        "default_command": commands}, table,
                       "Compile against the classifier's own, and the warm start")
  print(table)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()
