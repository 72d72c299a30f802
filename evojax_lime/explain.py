"""``explain``: image -> superpixels -> evolved genome -> :class:`Explanation`."""
from __future__ import annotations

import time
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.config import ELimeConfig
from evojax_lime.explanation import Explanation
from evojax_lime.fitness import Classifier, Problem
from evojax_lime.inputs import as_image, check_scores, check_segments, check_target
from evojax_lime.program import fill_fn, predict_fn, program
from evojax_lime.superpixels import genome_length, relabel, segment


def prng_key(seed: Any) -> jax.Array:
  """An integer seed or an existing PRNG key -> PRNG key."""
  if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
    return jax.random.PRNGKey(int(seed))
  if isinstance(seed, jax.Array) and (jnp.issubdtype(seed.dtype, jax.dtypes.prng_key) or seed.shape == (2,)):
    return seed
  raise ValueError(f"seed must be an integer or a jax.random key, got {seed!r}")


def explain(image: Any, classifier: Classifier, *, target: Optional[int] = None, segments: Any = None,
            config: ELimeConfig = ELimeConfig(), seed: Any = 0, logits: bool = False,
            baseline: Any = None) -> Explanation:
  """Evolves the set of superpixels that best keeps ``classifier``'s belief in ``target``.

  Args:
    image: ``(H, W, 3)`` RGB (uint8, uint16 or float in [0, 1]; grayscale and RGBA are converted).
    classifier: JAX function, float images ``(N, H, W, 3)`` in [0, 1] -> probabilities ``(N, C)`` (or logits
      with ``logits=True``). Pass the same function object each time to reuse compiled programs.
    target: class to explain; ``None`` explains the classifier's top-1 class on the full image.
    segments: optional ``(H, W)`` integer label map; otherwise ``config.segmentation`` cuts the image.
    config: options of the run.
    seed: integer or ``jax.random`` key; the whole run is a deterministic function of it.
    logits: the classifier returns logits.
    baseline: optional ``(H, W, 3)`` image shown where superpixels are hidden (overrides ``config.fill``).

  Returns:
    The :class:`Explanation`.

  Raises:
    ValueError: a bad image, label map, target, seed, or classifier output, each with what was expected.
  """
  start = time.perf_counter()
  if not isinstance(config, ELimeConfig):
    raise ValueError(f"config must be an ELimeConfig, got {type(config).__name__}")
  key = prng_key(seed)
  img = as_image(image)
  t0 = time.perf_counter()
  labels = segment(img, config.segmentation, dict(config.segmentation_params)) if segments is None else relabel(segments)
  segmentation_time = time.perf_counter() - t0
  check_segments(labels, img.shape[:2])
  num_genes = int(labels.max()) + 1
  length = genome_length(num_genes, config.genome_length)

  scores = check_scores(predict_fn(classifier)(jnp.asarray(img)[None]), 1, logits=logits)
  probs = np.asarray(jax.nn.softmax(scores, axis=-1)) if logits else scores
  target = int(np.argmax(probs[0])) if target is None else check_target(target, probs.shape[1])

  if baseline is None:
    fill = fill_fn(config.fill, length, float(config.blur_sigma))(img, labels)
  else:
    fill = as_image(baseline, name="baseline")
    if fill.shape != img.shape:
      raise ValueError(f"baseline shape {fill.shape} does not match the image's {img.shape}")

  problem = Problem(image=jnp.asarray(img), labels=jnp.asarray(labels), fill=jnp.asarray(fill, jnp.float32),
                    target=jnp.int32(target), num_genes=jnp.int32(num_genes))
  run = program(classifier, logits=logits, config=config.static(), length=length)
  t0 = time.perf_counter()
  result, compile_time = run(key, problem, config.ga_params())
  result = jax.device_get(result)
  evolve_time = time.perf_counter() - t0 - compile_time

  fitness = np.asarray(result.state.fitness)
  if not (np.isfinite(fitness).all() and np.isfinite(result.best_probability)):
    raise ValueError("classifier returned NaN or infinite values for a masked image")
  gens_run = int(result.state.generation)
  return Explanation(
      image=img, labels=labels, fill=np.asarray(fill, np.float32),
      genome=np.asarray(result.state.best_genome[:num_genes], bool),
      importance=np.asarray(result.importance[:num_genes], np.float32), target=target,
      original_probability=float(probs[0, target]), explanation_probability=float(result.best_probability),
      best_fitness=float(result.state.best_fitness),
      fitness_history=np.asarray(result.best_history[:gens_run + 1]),
      mean_fitness_history=np.asarray(result.mean_history[:gens_run + 1]), generations_run=gens_run,
      num_evaluations=config.population_size * (gens_run + 1), segmentation_time=segmentation_time,
      compile_time=compile_time, evolve_time=evolve_time, wall_time=time.perf_counter() - start,
      config=config, seed=seed)
