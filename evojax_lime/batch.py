"""``explain_batch``: many images of one size evolved together in a single compiled program."""
from __future__ import annotations

import time
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.config import ELimeConfig
from evojax_lime.explain import compiled_program, finish, prepare, prng_key
from evojax_lime.explanation import Explanation
from evojax_lime.fitness import Classifier


def _per_image(value: Any, n: int, name: str) -> list:
  if value is None or isinstance(value, (int, np.integer)) or (isinstance(value, jax.Array) and value.ndim <= 1):
    return [value] * n
  values = list(value)
  if len(values) != n:
    raise ValueError(f"{name} must have one entry per image ({n}), got {len(values)}")
  return values


def explain_batch(images: Any, classifier: Classifier, *, targets: Any = None, segments: Any = None,
                  config: ELimeConfig = ELimeConfig(), seeds: Any = 0, logits: bool = False,
                  baselines: Any = None) -> list[Explanation]:
  """Explains ``B`` images of one size at once: one compiled program, vmapped over the images.

  Each image keeps its own superpixels (genomes padded to a common length, which never changes a result),
  target, fill and seed, and gets the same :class:`Explanation` that :func:`explain` gives it alone with the
  same seed and a classifier whose per-image output does not depend on its batch.

  Args:
    images: ``(B, H, W, 3)`` array or a sequence of B images of one size.
    classifier: as for :func:`explain`.
    targets: ``None`` (each image's top-1), one class for all, or one per image.
    segments: ``None`` or one ``(H, W)`` label map per image.
    config: options shared by all images.
    seeds: one seed for all images or one per image.
    logits: the classifier returns logits.
    baselines: ``None`` or one baseline image per image.

  Returns:
    One :class:`Explanation` per image, in order; their timings are those of the whole batch.
  """
  start = time.perf_counter()
  images = list(images)
  n = len(images)
  if n == 0:
    raise ValueError("explain_batch needs at least one image")
  sizes = {tuple(np.shape(img)[:2]) for img in images}
  if len(sizes) > 1:
    raise ValueError(f"explain_batch needs images of one size, got {sorted(sizes)}")
  seeds = _per_image(seeds, n, "seeds")
  keys = jnp.stack([prng_key(s) for s in seeds])
  segments = _per_image(segments, n, "segments")
  # One program segments all images or none: with some label maps given, the others are cut on the host.
  in_program = all(s is None for s in segments)
  preps = [prepare(img, classifier, target=t, segments=s, config=config, logits=logits, baseline=b,
                   in_program=in_program)
           for img, t, s, b in zip(images, _per_image(targets, n, "targets"), segments,
                                   _per_image(baselines, n, "baselines"))]
  length = max(p.length for p in preps)
  problems = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *[p.problem() for p in preps])
  given_fill = {p.given_fill for p in preps}
  if len(given_fill) > 1:
    raise ValueError("baselines must be given for every image or for none")
  run = compiled_program(classifier, logits=logits, config=config, image_shape=preps[0].image.shape, length=length,
                         batched=True, given_fill=given_fill.pop(), given_labels=preps[0].labels is not None)
  t0 = time.perf_counter()
  out, compile_time = run(keys, problems, config.ga_params())
  results, problems, originals = jax.device_get(out)
  evolve_time = time.perf_counter() - t0 - compile_time
  wall = time.perf_counter() - start
  row = lambda tree, i: jax.tree_util.tree_map(lambda x: x[i], tree)
  return [finish(p.completed(row(problems, i), originals[i]), row(results, i), config=config, seed=seeds[i],
                 compile_time=compile_time, evolve_time=evolve_time, wall_time=wall) for i, p in enumerate(preps)]
