"""A search the caller drives: start a batch of images, advance it, read it, save it, resume it.

:func:`evojax_lime.explain` and :func:`evojax_lime.explain_batch` are a :class:`Search` run to the end. The
state stays on the device between segments; each segment is one call of the same compiled program, so a
run with progress reports, pauses or a save in the middle gives the result of a run without them, bit for
bit.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.explanation import Explanation
from evojax_lime.evaluation.fitness import Classifier
from evojax_lime.engine.loop import finished, start
from evojax_lime.evaluation.chunking import auto_chunk_size
from evojax_lime.engine.preparation import Prepared, check_classifier, prepare
from evojax_lime.engine.program import program
from evojax_lime.engine.seeds import per_image_seeds, prng_key

# (generation, best fitness so far) -> None, called on the calling thread between segments of a run.
Progress = Callable[[int, float], None]

# About this many progress reports per run at most: each ends a segment, which costs a device -> host
# round trip, so one per generation would slow short generations down noticeably.
MAX_REPORTS = 20
_FORMAT = b"evojax-lime search state v1\n"


def _per_image(value: Any, n: int, name: str) -> list:
  if value is None or isinstance(value, (int, np.integer)):
    return [value] * n
  values = list(value)
  if len(values) != n:
    raise ValueError(f"{name} must have one entry per image ({n}), got {len(values)}")
  return values


def _raw_key(seed: Any) -> np.ndarray:
  key = prng_key(seed)
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  key = np.asarray(key)
  if key.shape != (2,):
    raise ValueError(f"seed keys must be threefry keys (2 x uint32), got key data of shape {key.shape}")
  return key


def _batched_params(params: Any, config: ELimeConfig, n: int) -> GAParams:
  """``(B,)`` rates: the config's for every image, one :class:`GAParams` for all, or one per image."""
  if params is None:
    params = config.ga_params()
  if isinstance(params, GAParams):
    leaves = [np.asarray(x, np.float32) for x in (params.init_prob, params.crossover_rate, params.mutation_rate,
                                                  params.parsimony)]
    if all(x.shape == () for x in leaves):
      return GAParams(*(np.full((n,), x, np.float32) for x in leaves))
    if all(x.shape == (n,) for x in leaves):
      return GAParams(*leaves)
    raise ValueError(f"params must hold scalars or one value per image ({n}); got shapes {[x.shape for x in leaves]}")
  values = list(params)
  if len(values) != n or not all(isinstance(p, GAParams) for p in values):
    raise ValueError(f"params must be a GAParams or one GAParams per image ({n})")
  return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x, np.float32) for x in xs]), *values)


class Search:
  """A batch of ``B`` images of one size, searched together by one compiled program.

  Args:
    images: ``B`` images of one size (a ``(B, H, W, 3)`` array or a sequence).
    classifier: as for :func:`evojax_lime.explain`.
    targets: ``None`` (each image's top-1), one class for all, or one per image.
    segments: ``None`` or one ``(H, W)`` label map per image.
    config: options shared by all images.
    seeds: one seed or key for all images, or one per image (see :func:`evojax_lime.engine.seeds.per_image_seeds`).
    logits: the classifier returns logits.
    baselines: ``None`` or one baseline image per image.
    params: GA rates: ``None`` (the config's), one :class:`GAParams`, or one per image — images with
      different rates share the program.
  """

  def __init__(self, images: Any, classifier: Classifier, *, targets: Any = None, segments: Any = None,
               config: ELimeConfig = ELimeConfig(), seeds: Any = 0, logits: bool = False, baselines: Any = None,
               params: Any = None):
    self._start = time.perf_counter()
    images = list(images)
    n = len(images)
    if n == 0:
      raise ValueError("at least one image is needed")
    sizes = {tuple(np.shape(img)[:2]) for img in images}
    if len(sizes) > 1:
      raise ValueError(f"images must all have one size, got {sorted(sizes)}")
    if not isinstance(config, ELimeConfig):
      raise ValueError(f"config must be an ELimeConfig, got {type(config).__name__}")
    self.config, self.logits = config, logits
    self.seeds = per_image_seeds(seeds, n)
    keys = np.stack([_raw_key(s) for s in self.seeds])
    t0 = time.perf_counter()
    profile = check_classifier(classifier, (*sizes.pop(), 3), config.dtype)  # traced once, then cached
    trace_time = time.perf_counter() - t0
    segments = _per_image(segments, n, "segments")
    # One program cuts the superpixels of all images or of none: label maps given for some images are used as
    # given, and the other images are then cut on the host.
    in_program = config.segments_in_program and all(s is None for s in segments)
    self.prepared: list[Prepared] = [
        prepare(img, classifier, target=t, segments=s, config=config, baseline=b, in_program=in_program)
        for img, t, s, b in zip(images, _per_image(targets, n, "targets"), segments,
                                _per_image(baselines, n, "baselines"))]
    given_fill = {p.baseline is not None for p in self.prepared}
    if len(given_fill) > 1:
      raise ValueError("baselines must be given for every image or for none")
    self.length = max(p.length for p in self.prepared)
    problems = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *[p.problem() for p in self.prepared])
    num_devices = jax.device_count() if config.shard else 1
    chunk = config.chunk_size or auto_chunk_size(profile, rows=n * config.population_size, num_devices=num_devices)
    static = config if in_program else dataclasses.replace(config, segmentation="grid", segmentation_params=())
    self._program = program(classifier, logits=logits, config=static.static(), length=self.length,
                            chunk_size=chunk, given_fill=given_fill.pop())
    self.state = start(keys, problems, _batched_params(params, config, n), config=config, length=self.length)
    self._initial = self.state
    t0 = time.perf_counter()
    self._run, fresh = self._program.compiled(self.state)
    # Tracing and compiling, all of it (the program is the only one a search compiles); 0 when reused.
    self.compile_time = trace_time + time.perf_counter() - t0 if fresh else 0.0
    self.evolve_time = 0.0

  def restart(self) -> "Search":
    """Back to the state before the first step (same images, seeds and compiled program)."""
    self.state, self.evolve_time = self._initial, 0.0
    return self

  def memory_analysis(self) -> Any:
    """XLA's memory analysis of the compiled program (``None`` where the backend gives none)."""
    return self._run.func.memory_analysis()

  @property
  def chunk_size(self) -> int:
    """Rows (images x individuals) the classifier evaluates at once."""
    return self._program.chunk_size

  @property
  def steps(self) -> int:
    """Steps run so far (step 0 is the initial population; the last is step ``generations``)."""
    return int(self.state.steps)

  @property
  def done(self) -> bool:
    """Every image has run all its generations or stopped early."""
    ga = self.state.ga
    return bool(finished(*jax.device_get((ga.generation, ga.stall, self.state.steps)), config=self.config).all())

  def advance(self, generations: Optional[int] = None, *, progress: Optional[Progress] = None) -> "Search":
    """Runs up to ``generations`` more steps (``None``: to the end), reporting to ``progress`` on the way.

    Args:
      generations: steps to run at most (the first step evaluates the initial population).
      progress: ``(generation, best_fitness) -> None``, called about every ``generations / 20`` generations
        and at the end, with the most advanced image's generation and the best fitness over the batch.

    Returns:
      ``self``.
    """
    total = self.config.generations + 1
    stop = total if generations is None else min(total, self.steps + max(0, int(generations)))
    every = max(1, -(-total // MAX_REPORTS))
    t0 = time.perf_counter()
    while self.steps < stop and not self.done:
      # The initial population on its own first: a report as soon as it is evaluated.
      segment_end = stop if progress is None else 1 if self.steps == 0 else (self.steps // every + 1) * every
      self.state = self._run(self.state, np.int32(min(stop, segment_end)))
      if progress is not None:
        generation, best = jax.device_get((self.state.ga.generation, self.state.ga.best_fitness))
        progress(int(generation.max()), float(best.max()))
    jax.block_until_ready(self.state)
    self.evolve_time += time.perf_counter() - t0
    return self

  def explanations(self) -> list[Explanation]:
    """One :class:`Explanation` per image (run :meth:`advance` first); timings are the batch's."""
    if self.steps == 0:
      raise ValueError("the search has not run yet: call advance() first")
    state = jax.device_get(self.state)
    wall = time.perf_counter() - self._start
    return [self._explanation(i, state, wall) for i in range(len(self.prepared))]

  def _explanation(self, i: int, state: Any, wall: float) -> Explanation:
    prep, ga = self.prepared[i], jax.tree_util.tree_map(lambda x: x[i], state.ga)
    original, best = float(state.original_probability[i]), float(ga.best_probability)
    if not np.isfinite(original):
      raise ValueError("classifier returned NaN or infinite values for the unmasked image")
    if bool(state.nonfinite[i]) or not np.isfinite(best):
      raise ValueError("classifier returned NaN or infinite values for a masked image")
    if not self.logits and not all(-1e-3 <= p <= 1 + 1e-3 for p in (original, best)):
      raise ValueError("classifier outputs are not probabilities in [0, 1]; pass logits=True if it returns logits")
    k = int(state.problem.num_genes[i])
    if k < 2:
      raise ValueError("the image has fewer than 2 superpixels; there is nothing to select between")
    gens = int(ga.generation)
    return Explanation(
        image=prep.image, labels=np.asarray(state.problem.labels[i]), fill=np.asarray(state.problem.fill[i]),
        genome=np.asarray(ga.best_genome[:k], bool),
        importance=np.asarray(state.importance[i, :k], np.float32),
        target=int(state.problem.target[i]), original_probability=original, explanation_probability=best,
        best_fitness=float(ga.best_fitness), fitness_history=np.asarray(state.best_history[i, :gens + 1]),
        mean_fitness_history=np.asarray(state.mean_history[i, :gens + 1]), generations_run=gens,
        num_evaluations=self.config.population_size * (gens + 1), segmentation_time=prep.segmentation_time,
        compile_time=self.compile_time, evolve_time=self.evolve_time, wall_time=wall, config=self.config,
        seed=self.seeds[i])

  def save(self, path: str | os.PathLike) -> None:
    """Writes the run's state to ``path`` atomically (never half-written); :meth:`restore` resumes it."""
    data = _FORMAT + serialization.to_bytes(jax.device_get(self.state))
    folder = os.path.dirname(os.fspath(path)) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".evojax-lime-state-")
    try:
      with os.fdopen(fd, "wb") as f:
        f.write(data)
      os.replace(tmp, path)
    except BaseException:
      if os.path.exists(tmp):
        os.unlink(tmp)
      raise

  def restore(self, path: str | os.PathLike) -> "Search":
    """Continues from a state :meth:`save` wrote for a search with the same images, options and seeds.

    Raises:
      ValueError: the file is not such a state (any damage or mismatch, with one line saying so).
    """
    with open(path, "rb") as f:
      data = f.read()
    if not data.startswith(_FORMAT):
      raise ValueError(f"{os.fspath(path)!r} is not an evojax-lime search state")
    try:
      state = serialization.from_bytes(jax.device_get(self.state), data[len(_FORMAT):])
    except Exception as err:  # msgpack and flax raise many types for damaged files
      raise ValueError(f"{os.fspath(path)!r} is a damaged search state: {type(err).__name__}") from None
    mismatched = [jax.tree_util.keystr(where) for (where, a), b in
                  zip(jax.tree_util.tree_flatten_with_path(state)[0], jax.tree_util.tree_leaves(self.state))
                  if np.shape(a) != np.shape(b) or np.asarray(a).dtype != np.asarray(b).dtype]
    if mismatched:
      raise ValueError(f"{os.fspath(path)!r} holds a state of another search (differs in {', '.join(mismatched[:3])})")
    self.state = jax.tree_util.tree_map(jnp.asarray, state)
    return self
