"""What a backward pass costs relative to a forward: the count behind ``strategies.extremal.BACKWARD_COST``.

On one photo's superpixels and fill, the engine's own two evaluations of ``--rows`` masks, each compiled once and
timed alternately ``--repeats`` times:

* forward: :func:`evojax_lime.evaluation.fitness.evaluate_rows` on binary masks (what every strategy's
  population costs);
* forward and backward: :func:`evojax_lime.evaluation.gradient.probability_and_gradient` on continuous masks
  (what the extremal strategy's descent costs).

``backward_cost = median(forward and backward) / median(forward) - 1``.

  python -m benchmarks.backward_cost --rows 16 --repeats 5
"""
from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

if __package__ in (None, ""):  # run as a file: make the repo importable
  import sys
  from pathlib import Path
  sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import evojax_lime as el
from benchmarks import _common, _report
from evojax_lime.evaluation.fill import make_fill
from evojax_lime.evaluation.fitness import Evaluator, Problem, evaluate_rows
from evojax_lime.evaluation.gradient import probability_and_gradient
from evojax_lime.strategies.extremal import BACKWARD_COST


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--model", default=_common.DEFAULT_MODEL)
  p.add_argument("--photo", default="chelsea")
  p.add_argument("--rows", type=int, default=16)
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--out", default="benchmarks/results")
  p.add_argument("--name", default="backward_cost_cpu")
  args = p.parse_args(argv)
  model = _common.flax_model(args.model)
  classifier = model.classifier()
  (_, pixels), = _common.load_photos([args.photo], model.input_size)
  image = pixels.astype(np.float32) / 255.0
  labels = el.segment(image, "quickshift")
  k = int(labels.max()) + 1
  length = el.genome_length(k, None)
  fill = make_fill(jnp.asarray(image), jnp.asarray(labels), kind="mean", length=length, blur_sigma=8.0)
  target = int(np.argmax(model.predict(image[None])[0]))
  problems = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], Problem(
      image=jnp.asarray(image), labels=jnp.asarray(labels, jnp.int32), fill=fill, target=jnp.int32(target),
      num_genes=jnp.int32(k)))
  evaluator = Evaluator(classifier=classifier, logits=False, chunk_size=args.rows)
  rng = np.random.default_rng(0)
  binary = jnp.asarray(rng.random((1, args.rows, length)) < 0.5)
  soft = jnp.asarray(rng.random((1, args.rows, length)), jnp.float32)
  live = jnp.ones((1, args.rows), bool)
  forward = jax.jit(lambda g: evaluate_rows(g, problems, jnp.zeros((1,), jnp.float32), evaluator)[1])
  both = jax.jit(lambda m: probability_and_gradient(m, problems, evaluator, live))
  jax.block_until_ready((forward(binary), both(soft)))  # compiled, not timed
  times = {"forward": [], "forward_and_backward": []}
  for _ in range(args.repeats):  # alternately, so contention falls on both alike
    for name, fn, x in (("forward", forward, binary), ("forward_and_backward", both, soft)):
      t0 = time.perf_counter()
      jax.block_until_ready(fn(x))
      times[name].append(time.perf_counter() - t0)
  f, b = (float(np.median(times[n])) for n in ("forward", "forward_and_backward"))
  row = {"model": model.name, "rows": args.rows, "superpixels": k, "forward_s": f, "forward_and_backward_s": b,
         "backward_cost": b / f - 1, "constant_in_code": BACKWARD_COST}
  table = (f"{args.model}, {args.photo} at {model.input_size} px, {args.rows} masks a call, median of "
           f"{args.repeats} alternate calls after compiling; this project's 2-core AMD EPYC CPU, contended (other "
           f"jobs running), so the ratio, measured alternately, is the result rather than the seconds.\n\n"
           + _report.markdown_table([row], list(row)))
  path = _report.write(args.out, args.name, {"args": vars(args), "times": times, "result": row}, table,
                       "A backward pass's cost relative to a forward")
  print(table)
  print(f"wrote {path}")


if __name__ == "__main__":
  main()
