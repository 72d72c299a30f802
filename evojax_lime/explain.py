"""``explain``: image -> superpixels -> evolved genome -> :class:`Explanation`."""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.config import ELimeConfig
from evojax_lime.evolve import EvolveResult
from evojax_lime.explanation import Explanation
from evojax_lime.fitness import Classifier, Problem
from evojax_lime.inputs import as_image, check_scores, check_segments, check_target
from evojax_lime.memory import auto_chunk_size
from evojax_lime.program import fill_fn, predict_fn, program
from evojax_lime.progress import Progress, reporting
from evojax_lime.superpixels import genome_length, in_program_max_segments, relabel, segment


def prng_key(seed: Any) -> jax.Array:
  """An integer seed or an existing PRNG key -> PRNG key."""
  if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
    return jax.random.PRNGKey(int(seed))
  if isinstance(seed, jax.Array) and (jnp.issubdtype(seed.dtype, jax.dtypes.prng_key) or seed.shape == (2,)):
    return seed
  raise ValueError(f"seed must be an integer or a jax.random key, got {seed!r}")


@dataclasses.dataclass(frozen=True)
class Prepared:
  """One image made ready for the compiled program (host side: checks, segmentation, target, fill).

  With in-program segmentation ``labels`` is ``None`` until :meth:`completed` takes the program's own
  superpixels, fill and target; ``target`` is -1 there for "the top-1 class", and ``length`` is a static
  bound on K.
  """

  image: np.ndarray
  labels: Optional[np.ndarray]
  fill: np.ndarray
  target: int
  original_probability: float
  segmentation_time: float
  length: int
  given_fill: bool = False

  @property
  def num_genes(self) -> int:
    return int(self.labels.max()) + 1

  def problem(self) -> Problem:
    labels = np.zeros(self.image.shape[:2], np.int32) if self.labels is None else self.labels
    k = 0 if self.labels is None else self.num_genes
    return Problem(image=jnp.asarray(self.image), labels=jnp.asarray(labels), fill=jnp.asarray(self.fill),
                   target=jnp.int32(self.target), num_genes=jnp.int32(k))

  def completed(self, problem: Problem, original_probability: Any) -> "Prepared":
    """This image with what an in-program segmentation computed (host arrays of one image)."""
    if self.labels is not None:
      return self
    check_segments(np.asarray(problem.labels), self.image.shape[:2])  # the same error as host segmentation's
    return dataclasses.replace(self, labels=np.asarray(problem.labels), fill=np.asarray(problem.fill, np.float32),
                               target=int(problem.target), original_probability=float(original_probability))


def _checked_baseline(baseline: Any, shape: tuple[int, ...]) -> np.ndarray:
  fill = as_image(baseline, name="baseline")
  if fill.shape != shape:
    raise ValueError(f"baseline shape {fill.shape} does not match the image's {shape}")
  return fill


def _prepare_in_program(img: np.ndarray, classifier: Classifier, *, target: Optional[int], config: ELimeConfig,
                        baseline: Any) -> Prepared:
  """Checks what can be checked without running the classifier; the program does the rest."""
  out = jax.eval_shape(classifier, jax.ShapeDtypeStruct((1, *img.shape), jnp.float32))
  if len(out.shape) != 2 or out.shape[0] != 1 or out.shape[1] < 2:
    raise ValueError(f"classifier must map (N, H, W, 3) images to (N, C) scores with C >= 2; "
                     f"for N=1 it returns shape {out.shape}")
  target = -1 if target is None else check_target(target, out.shape[1])
  fill = np.zeros_like(img) if baseline is None else _checked_baseline(baseline, img.shape)
  bound = in_program_max_segments(config.segmentation, img.shape[0], img.shape[1], dict(config.segmentation_params))
  return Prepared(image=img, labels=None, fill=fill, target=target, original_probability=float("nan"),
                  segmentation_time=0.0, length=genome_length(bound, config.genome_length),
                  given_fill=baseline is not None)


def prepare(image: Any, classifier: Classifier, *, target: Optional[int], segments: Any, config: ELimeConfig,
            logits: bool, baseline: Any, in_program: bool = True) -> Prepared:
  """Validates the inputs, cuts superpixels, picks the target and builds the fill image.

  With ``in_program=False`` a JAX segmentation runs here, on its own, rather than in the caller's program.
  """
  if not isinstance(config, ELimeConfig):
    raise ValueError(f"config must be an ELimeConfig, got {type(config).__name__}")
  img = as_image(image)
  if segments is None and config.segments_in_program and in_program:
    return _prepare_in_program(img, classifier, target=target, config=config, baseline=baseline)
  t0 = time.perf_counter()
  labels = segment(img, config.segmentation, dict(config.segmentation_params)) if segments is None else relabel(segments)
  segmentation_time = time.perf_counter() - t0
  check_segments(labels, img.shape[:2])
  length = genome_length(int(labels.max()) + 1, config.genome_length)

  scores = check_scores(predict_fn(classifier)(jnp.asarray(img)[None]), 1, logits=logits)
  probs = np.asarray(jax.nn.softmax(scores, axis=-1)) if logits else scores
  target = int(np.argmax(probs[0])) if target is None else check_target(target, probs.shape[1])

  if baseline is None:
    fill = np.asarray(fill_fn(config.fill, length, float(config.blur_sigma))(img, labels))
  else:
    fill = _checked_baseline(baseline, img.shape)
  return Prepared(image=img, labels=labels, fill=fill.astype(np.float32), target=target,
                  original_probability=float(probs[0, target]), segmentation_time=segmentation_time, length=length)


def compiled_program(classifier: Classifier, *, logits: bool, config: ELimeConfig, length: int,
                     image_shape: tuple[int, ...], batched: bool = False, progress: bool = False,
                     given_fill: bool = False, given_labels: bool = False):
  """The cached program for these options, with the chunk size resolved (automatically when not given).

  ``given_labels``: the problems carry their superpixels (given, or cut on the host), so even an in-program
  segmentation config builds a program that does not segment.
  """
  if given_labels and config.segments_in_program:
    config = dataclasses.replace(config, segmentation="grid")  # static() treats every host method alike
  chunk = config.chunk_size
  if chunk is None:
    num_devices = jax.device_count() if config.shard else 1
    chunk = auto_chunk_size(classifier, height=image_shape[0], width=image_shape[1], dtype=config.dtype,
                            population=config.population_size, num_devices=num_devices)
  return program(classifier, logits=logits, config=config.static(), length=length, chunk_size=chunk, batched=batched,
                 progress=progress, given_fill=given_fill)


def finish(prep: Prepared, result: EvolveResult, *, config: ELimeConfig, seed: Any, compile_time: float,
           evolve_time: float, wall_time: float) -> Explanation:
  """Host-side result of one image -> :class:`Explanation` (checks the classifier stayed finite)."""
  fitness = np.asarray(result.state.fitness)
  if not (np.isfinite(fitness).all() and np.isfinite(result.best_probability)):
    raise ValueError("classifier returned NaN or infinite values for a masked image")
  if not np.isfinite(prep.original_probability):
    raise ValueError("classifier returned NaN or infinite values for the unmasked image")
  k = prep.num_genes
  gens_run = int(result.state.generation)
  return Explanation(
      image=prep.image, labels=prep.labels, fill=prep.fill, genome=np.asarray(result.state.best_genome[:k], bool),
      importance=np.asarray(result.importance[:k], np.float32), target=prep.target,
      original_probability=prep.original_probability, explanation_probability=float(result.best_probability),
      best_fitness=float(result.state.best_fitness), fitness_history=np.asarray(result.best_history[:gens_run + 1]),
      mean_fitness_history=np.asarray(result.mean_history[:gens_run + 1]), generations_run=gens_run,
      num_evaluations=config.population_size * (gens_run + 1), segmentation_time=prep.segmentation_time,
      compile_time=compile_time, evolve_time=evolve_time, wall_time=wall_time, config=config, seed=seed)


def explain(image: Any, classifier: Classifier, *, target: Optional[int] = None, segments: Any = None,
            config: ELimeConfig = ELimeConfig(), seed: Any = 0, logits: bool = False,
            baseline: Any = None, progress: Optional[Progress] = None) -> Explanation:
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
    progress: optional ``(generation, best_fitness) -> None`` called from a host thread while the GA runs, about
      every ``generations / 20`` generations; ``None`` compiles no reporting in at all.

  Returns:
    The :class:`Explanation`.

  Raises:
    ValueError: a bad image, label map, target, seed, or classifier output, each with what was expected.
  """
  start = time.perf_counter()
  key = prng_key(seed)
  prep = prepare(image, classifier, target=target, segments=segments, config=config, logits=logits,
                 baseline=baseline)
  run = compiled_program(classifier, logits=logits, config=config, image_shape=prep.image.shape, length=prep.length,
                         progress=progress is not None, given_fill=prep.given_fill,
                         given_labels=prep.labels is not None)
  t0 = time.perf_counter()
  with reporting(progress):
    out, compile_time = run(key, prep.problem(), config.ga_params())
    result, problem, original = jax.device_get(out)
  evolve_time = time.perf_counter() - t0 - compile_time
  return finish(prep.completed(problem, original), result, config=config, seed=seed, compile_time=compile_time, evolve_time=evolve_time,
                wall_time=time.perf_counter() - start)
