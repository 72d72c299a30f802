"""The GA's golden results: explanations recorded once, checked bit for bit on the planted classifier and to
float32 rounding on the convolutional network (see ``test_golden.py``).

Recorded again (the only time since the engine was reorganised) when every operator came to draw its numbers
with one PRNG call (``strategies/operators/_genes.py``), for a program that compiles in two thirds of the time.

``python -m tests.engine.golden --record`` rewrites ``golden_ga.json`` (do that only when a change of the GA's
random draws is intended and documented); ``--add`` records only new cases. The paper's algorithm
(``ELimeConfig.paper()``) has its own cases, and so have the occlusion and greedy starts and the sufficient
answer. Each case runs a public entry point on a small deterministic problem: the planted classifier (exact in
float32 whatever the batch) and a small random-weight convolutional network on a real photo, with superpixels
cut in the program.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

import evojax_lime as el
from tests.engine.planted import planted_problem

PATH = os.path.join(os.path.dirname(__file__), "golden_ga.json")
BASE = el.ELimeConfig.paper(population_size=16, generations=8, parsimony=0.05, fill="black")


def _conv_classifier():
  """A fixed random two-layer conv net with 5 classes (weights from seed 0)."""
  k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
  w1 = jax.random.normal(k1, (3, 3, 3, 8)) * 0.5
  w2 = jax.random.normal(k2, (3, 3, 8, 8)) * 0.3
  dense = jax.random.normal(k3, (8, 5))

  def classifier(images):
    x = jax.lax.conv_general_dilated(images, w1, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    x = jax.nn.relu(x)
    x = jax.lax.conv_general_dilated(x, w2, (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jax.nn.softmax(jnp.tanh(x.mean((1, 2))) @ dense * 4.0, axis=-1)

  return classifier


def _photo(side: int = 32) -> np.ndarray:
  from PIL import Image
  from skimage import data
  return np.asarray(Image.fromarray(data.chelsea()).resize((side, side)), np.float32) / 255.0


def _record(exp) -> dict:
  out = {"genome": np.flatnonzero(exp.genome).tolist(), "K": int(exp.genome.shape[0]), "target": exp.target,
         "original_probability": float(exp.original_probability).hex(),
         "explanation_probability": float(exp.explanation_probability).hex(),
         "best_fitness": float(exp.best_fitness).hex(),
         "fitness_history": [float(v).hex() for v in exp.fitness_history],
         "mean_fitness_history": [float(v).hex() for v in exp.mean_fitness_history],
         "importance": [float(v).hex() for v in exp.importance], "generations_run": exp.generations_run,
         "num_evaluations": exp.num_evaluations}
  if exp.stability is not None:
    out["stability"] = float(exp.stability).hex()
    out["runs"] = [np.flatnonzero(r.genome).tolist() for r in exp.runs]
  return out


def cases() -> dict:
  """name -> a function returning a list of explanations."""
  image, labels, clf = planted_problem((1, 2, 7, 9), side=24, n_segments=12)
  image2, labels2, clf2 = planted_problem((0, 5), side=24, n_segments=12)
  conv = _conv_classifier()
  photo = _photo()
  rep = dataclasses.replace
  return {
      "planted_default_ops": lambda: [el.explain(image, clf, segments=labels, config=BASE, seed=0)],
      "planted_seed_7": lambda: [el.explain(image, clf, segments=labels, config=BASE, seed=7)],
      "planted_one_point": lambda: [el.explain(image, clf, segments=labels, seed=1,
                                               config=rep(BASE, crossover="one_point", mutation_rate=0.1))],
      "planted_two_point_no_elite": lambda: [el.explain(image, clf, segments=labels, seed=2,
                                                        config=rep(BASE, crossover="two_point", num_elite=0,
                                                                   tournament_size=5, init_prob=0.3))],
      "planted_patience": lambda: [el.explain(image, clf, segments=labels, seed=3,
                                              config=rep(BASE, generations=60, patience=3))],
      "planted_batch": lambda: el.explain_batch([image, image2], clf, segments=[labels, labels2], config=BASE,
                                                seeds=[4, 5], targets=[0, 0],
                                                params=[BASE.ga_params(), rep(BASE, parsimony=0.3).ga_params()]),
      "planted_restarts": lambda: [el.explain(image, clf, segments=labels, config=BASE, seed=6, restarts=3)],
      "conv_quickshift_in_program": lambda: [el.explain(photo, conv, seed=0, config=el.ELimeConfig.paper(
          population_size=12, generations=4, segmentation="quickshift_jax", segmentation_params={"kernel_size": 2}))],
      "conv_slic_mean_fill": lambda: [el.explain(photo, conv, seed=1, config=el.ELimeConfig.paper(
          population_size=12, generations=4, segmentation="slic_jax", segmentation_params={"n_segments": 20},
          fill="mean"))],
      "conv_grid_blur_logits_target": lambda: [el.explain(
          photo, lambda x: jnp.log(conv(x)), logits=True, target=2, seed=2,
          config=el.ELimeConfig.paper(population_size=10, generations=3, segmentation="grid", fill="blur",
                                blur_sigma=2.0))],
      # The occlusion start (recorded when it was added, not before the reorganisation).
      "planted_occlusion": lambda: [el.explain(image, clf, segments=labels, seed=8,
                                               config=rep(BASE, seeding="occlusion"))],
      "conv_occlusion_in_program": lambda: [el.explain(photo, conv, seed=9, config=el.ELimeConfig.paper(
          population_size=12, generations=4, seeding="occlusion", segmentation="quickshift_jax",
          segmentation_params={"kernel_size": 2}))],
      # The greedy start (recorded when it was added).
      "planted_greedy": lambda: [el.explain(image, clf, segments=labels, seed=10, config=rep(BASE, seeding="greedy"))],
      "conv_greedy_in_program": lambda: [el.explain(photo, conv, seed=11, config=el.ELimeConfig.paper(
          population_size=12, generations=4, seeding="greedy", segmentation="quickshift_jax",
          segmentation_params={"kernel_size": 2}))],
      # The sufficient answer, the default rule (recorded when it was added).
      "planted_sufficient": lambda: [el.explain(image, clf, segments=labels, seed=12,
                                                config=rep(BASE, seeding="greedy", answer="sufficient"))],
      "conv_default_in_program": lambda: [el.explain(photo, conv, seed=13, config=el.ELimeConfig(
          population_size=12, generations=4, segmentation="quickshift_jax", segmentation_params={"kernel_size": 2}))],
  }


def run(name: str) -> list:
  return [_record(e) for e in cases()[name]()]


def load() -> dict:
  with open(PATH) as f:
    return json.load(f)


if __name__ == "__main__":
  if sys.argv[1:] not in (["--record"], ["--add"]):
    sys.exit("usage: python -m tests.engine.golden --record (every case) | --add (only cases not yet recorded)")
  recorded = load() if sys.argv[1] == "--add" else {}
  with open(PATH, "w") as f:
    json.dump({name: recorded[name] if name in recorded else run(name) for name in cases()}, f, indent=1)
  print(f"wrote {PATH}")
