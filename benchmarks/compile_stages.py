"""Where the search program's compile goes: each stage compiled alone, on the shapes of a real search.

A :class:`evojax_lime.Search` of one 224 x 224 photo (scikit-image's quickshift cut on the host, the default
config) is built around a classifier that costs nothing to compile (a mean colour times a matrix: 1,000 classes),
so what remains is the engine's own program; then each stage of a step is lowered and compiled alone, on the
search's own state, and the whole step once more; the whole program is timed as the ``Search`` builds it.
Reported: CPU seconds to lower and to compile (this process, every thread: what a shared machine's waits do not
inflate), the lowest of ``--repeat`` tries (a shared machine's other work still slows a try), and the optimised
HLO's lines. The classifier's own compile is measured by ``benchmarks/startup.py`` beside the whole program's.

  python -m benchmarks.compile_stages          # about two minutes, quiet
"""
from __future__ import annotations

import argparse
import functools
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import evojax_lime as el
from benchmarks import _common, _report
from evojax_lime.engine import loop
from evojax_lime.engine import program as programs
from evojax_lime.evaluation import faithfulness as curves
from evojax_lime.evaluation.fitness import Evaluator, evaluate_rows


def _measure(stage: str, fn, *args, repeat: int) -> dict:
  tries = []
  for _ in range(repeat):
    jax.clear_caches()  # each try traces and compiles afresh
    c0 = time.process_time()
    lowered = jax.jit(fn).lower(*args)
    lower = time.process_time() - c0
    c0 = time.process_time()
    compiled = lowered.compile()
    tries.append((lower, time.process_time() - c0))
  return {"stage": stage, "lower_cpu_s": min(t[0] for t in tries), "compile_cpu_s": min(t[1] for t in tries),
          "hlo_lines": compiled.as_text().count("\n")}


def stages(size: int, *, repeat: int = 1) -> list[dict]:
  photo = _common.load_photos(["astronaut"], size)[0][1].astype(np.float32) / 255
  weights = jnp.asarray(np.random.default_rng(0).standard_normal((3, 1000)), jnp.float32)
  segments = [el.segment(photo, "quickshift", {})]
  built = []
  for _ in range(repeat):  # a fresh classifier object each time: no program kept for it
    classifier = jax.tree_util.Partial(lambda w, x: jax.nn.softmax(x.mean((1, 2)) @ w), weights)
    jax.clear_caches()
    c0 = time.process_time()
    search = el.Search([photo], classifier, segments=segments, config=el.ELimeConfig())
    built.append(time.process_time() - c0)
  run, strategy, schedule, key = search.state, search.strategy, search.schedule, search._program.key
  pop = strategy.population_size
  complete = functools.partial(programs.complete_problems, key=key)
  problem = complete(run.problem)
  evaluator = Evaluator(classifier=classifier, logits=False, chunk_size=search.chunk_size,
                        exact=programs.exact_evaluation(False, host=False))
  evaluate = lambda g, p, parsimony, live, multiple: evaluate_rows(g, p, parsimony, evaluator, live=live,
                                                                   multiple=multiple)

  def ask(states, num_genes, params):
    return jax.vmap(lambda s, k, a: strategy.ask(s, num_genes=k, params=a))(states, num_genes, params)

  states, candidates = ask(run.strategy, problem.num_genes, run.params)
  zeros, live = jnp.zeros(candidates.shape[:2]), jnp.ones(candidates.shape[:2], bool)

  def curve_rows(r):
    answer, importance, frequency = loop.answers(r, strategy=strategy, restarts=1)
    ranking = jax.vmap(curves.answer_ranking)(importance, answer, r.problem.num_genes, frequency)
    shown = jax.vmap(lambda k: curves.shown_counts(k, curves.max_steps(pop)))(r.problem.num_genes)
    return jax.vmap(lambda a, s, k: curves.curve_candidates(a, s, k, population_size=pop))(ranking, shown,
                                                                                          r.problem.num_genes)

  step = lambda r: loop.step(r, strategy=strategy, schedule=schedule, evaluate_batch=evaluate,
                             complete_problems=complete)
  return [
      _measure("fill (first step)", complete, run.problem, repeat=repeat),
      _measure(f"strategy ask ({strategy.name}, seeding {search.config.seeding})", ask, run.strategy,
               problem.num_genes, run.params, repeat=repeat),
      _measure("strategy tell", lambda s, c, f, p: jax.vmap(strategy.tell)(s, c, f, p), states, candidates, zeros,
               zeros, repeat=repeat),
      _measure("archive and knee", lambda r, c, p, l: loop.knee(*loop._update_archive(r, c, p, l),
                                                                r.problem.num_genes), run, candidates, zeros, live,
               repeat=repeat),
      _measure("curve rows", curve_rows, run, repeat=repeat),
      _measure(f"evaluation (chunk {search.chunk_size}, classifier of no cost)",
               lambda c, p, a, l: evaluate(c, p, a, l, 1), candidates, problem, run.params.parsimony, live,
               repeat=repeat),
      _measure("one whole step", step, run, repeat=repeat),
      {"stage": "whole program (the Search built: trace, lower, compile)", "search_built_cpu_s": min(built)},
  ]


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--size", type=int, default=224)
  p.add_argument("--machine", default="this project's 2-core AMD EPYC CPU, contended")
  p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
  p.add_argument("--name", default=None)
  p.add_argument("--repeat", type=int, default=2, help="tries of each stage; the lowest CPU seconds are kept")
  args = p.parse_args(argv)
  if args.repeat < 1:
    p.error(f"--repeat must be at least 1, got {args.repeat}")
  rows = stages(args.size, repeat=args.repeat)
  table = _report.markdown_table(rows, ["stage", "lower_cpu_s", "compile_cpu_s", "hlo_lines",
                                         "search_built_cpu_s"])
  name = args.name or f"compile_stages_{jax.default_backend()}"
  path = _report.write(args.out, name, {"args": vars(args), "stages": rows}, table,
                       f"Where the search program's compile goes ({args.machine})")
  print(table)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()
