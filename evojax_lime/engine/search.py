"""A search the caller drives: start images x restarts as rows of one compiled program, advance it, read it,
save it, resume it.

Every explainer runs through a :class:`Search`: :func:`evojax_lime.explain` and ``explain_batch`` (the GA, with
restarts and their consensus), ``explain_front`` (NSGA-II), :func:`evojax_lime.study`, LIME's sampling, the
command line and the lime drop-in. The state stays on the device between segments; each segment is one call of
the same compiled program, so a run with progress reports, pauses or a save in the middle gives the result of
a run without them, bit for bit.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Optional, Union

import jax
import numpy as np

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.engine import results, saved_state
from evojax_lime.engine.checks import check_sizes, check_targets
from evojax_lime.engine.loop import Schedule, live_multiple, search_complete, start
from evojax_lime.engine.preparation import check_config, length_for, prepare, stacked
from evojax_lime.engine.program import ProgramKey, exact_evaluation, program, shape_key
from evojax_lime.engine import program_store
from evojax_lime.engine.seeds import per_image_seeds, prng_key
from evojax_lime.evaluation.chunk_size import chunk_size, total_memory_bytes
from evojax_lime.evaluation.classifier import check_same_structure, classifier_identity, split_classifier, traced
from evojax_lime.evaluation.host import is_host_classifier, run_checked
from evojax_lime.evaluation.fitness import Classifier
from evojax_lime.explanation import Explanation
from evojax_lime.front import ParetoFront
from evojax_lime.strategies import STRATEGIES, Strategy

# (generation, best fitness so far) -> None, called on the calling thread between segments of a run.
Progress = Callable[[int, float], None]

# About this many progress reports per run at most: each ends a segment, which costs a device -> host
# round trip, so one per generation would slow short generations down noticeably.
MAX_REPORTS = 20


def strategy_for(strategy: Union[str, Strategy], config: ELimeConfig) -> Strategy:
  """The strategy named (built from ``config``) or given, refusing config options it would ignore."""
  if isinstance(strategy, str):
    if strategy not in STRATEGIES:
      raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    strategy = STRATEGIES[strategy].from_config(config)
  defaults = ELimeConfig()
  reads = lambda s: s.options | s.features.options
  search_options = set().union(*(reads(cls) for cls in STRATEGIES.values()))
  ignored = sorted(f for f in search_options
                   if f not in reads(strategy) and getattr(config, f) != getattr(defaults, f))
  if ignored:
    raise ValueError(f"the {strategy.name} strategy does not use {', '.join(ignored)}; leave "
                     f"{'it' if len(ignored) == 1 else 'them'} at the default")
  return strategy


def schedule_for(strategy: Strategy, config: ELimeConfig, restarts: int) -> Schedule:
  """When the search's rows stop and what runs after them, from the config's options of the strategy's
  features (:class:`~evojax_lime.strategies.base.Features`)."""
  features = strategy.features
  return Schedule(config.generations, patience=config.patience if features.patience else None, restarts=restarts,
                  faithfulness=config.faithfulness,
                  answer=config.answer if features.answer_rule else "fittest", prune=config.prune)


def check_restarts(restarts: Any, strategy: Strategy) -> int:
  if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 1:
    raise ValueError(f"restarts must be an integer >= 1, got {restarts!r}")
  if restarts > 1 and not strategy.features.restarts:
    with_restarts = ", ".join(name for name, cls in STRATEGIES.items() if cls.features.restarts)
    raise ValueError(f"restarts are for the {with_restarts} strategy (a consensus of best genomes); "
                     f"{strategy.name} has none")
  return int(restarts)


def row_keys(seeds: list, restarts: int) -> np.ndarray:
  """Raw ``(B * R, 2)`` keys: each image's seed, or with R restarts ``jax.random.split(key, R)`` of it."""
  def raw(key):
    key = jax.random.key_data(key) if jax.numpy.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return np.asarray(key)
  keys = [raw(prng_key(s)) for s in seeds] if restarts == 1 else \
      [k for s in seeds for k in raw(jax.random.split(prng_key(s), restarts))]
  keys = np.stack(keys).astype(np.uint32)
  if keys.shape[1:] != (2,):
    raise ValueError(f"seed keys must be threefry keys (2 x uint32), got key data of shape {keys.shape[1:]}")
  return keys


def batched_params(params: Any, config: ELimeConfig, n: int) -> GAParams:
  """``(n,)`` rates: the config's for every image, one :class:`GAParams` of scalars for all, one with ``(n,)``
  leaves, or one :class:`GAParams` per image."""
  if params is None:
    params = config.ga_params()
  if isinstance(params, GAParams):
    leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(params)]
    if all(x.shape == () for x in leaves):
      params = [params] * n
    elif all(x.shape == (n,) for x in leaves):
      params = [jax.tree_util.tree_map(lambda x, i=i: np.asarray(x)[i], params) for i in range(n)]
    else:
      raise ValueError(f"params must hold scalars or one value per image ({n}); got shapes {[x.shape for x in leaves]}")
  params = list(params)
  if len(params) != n or not all(isinstance(p, GAParams) for p in params):
    raise ValueError(f"params must be a GAParams or one GAParams per image ({n})")
  if any(not float(p.mutation_rate) >= 0 or not float(p.mutation_flips) >= 0 for p in params):
    raise ValueError("a GAParams mutation_rate and mutation_flips must be >= 0 (mutation_flips=1.0 for 1 / K)")
  one = lambda p: GAParams(*(np.float32(x) for x in jax.tree_util.tree_leaves(p)))
  return jax.tree_util.tree_map(lambda *xs: np.stack(xs), *[one(p) for p in params])


class Search:
  """``B`` images of one size x ``restarts`` runs each, searched together by one compiled program.

  Args:
    images: ``B`` images of one size (a ``(B, H, W, 3)`` array or a sequence).
    classifier: as for :func:`evojax_lime.explain`.
    strategy: ``"ga"`` (E-LIME's genetic algorithm), ``"nsga2"`` (the probability-vs-size front),
      ``"kernelshap"`` (KernelSHAP: ``importance`` holds the Shapley values), ``"extremal"`` (masks of several
      areas optimised by gradient through the classifier), or a
      strategy object (see :mod:`evojax_lime.strategies`).
    targets: ``None`` (each image's top-1), one class for all, or one per image.
    segments: ``None`` or one ``(H, W)`` label map (or ``None``) per image.
    config: options shared by all images.
    seeds: one seed or key for all images, or one per image (see :func:`evojax_lime.engine.seeds.per_image_seeds`).
    logits: the classifier returns logits.
    baselines: ``None`` or one baseline image (or ``None``) per image.
    params: GA rates: ``None`` (the config's), one :class:`GAParams`, or one per image; rows with different
      rates share the program.
    restarts: R independent runs of each image (GA only): run r of image b uses key r of
      ``jax.random.split(key_b, R)``; :meth:`explanations` then returns each image's consensus.
  """

  def __init__(self, images: Any, classifier: Classifier, *, strategy: Union[str, Strategy] = "ga",
               targets: Any = None, segments: Any = None, config: ELimeConfig = ELimeConfig(), seeds: Any = 0,
               logits: bool = False, baselines: Any = None, params: Any = None, restarts: int = 1):
    self._start = time.perf_counter()
    self.config, self.logits = check_config(config), logits
    self.strategy = strategy_for(strategy, config)
    self.restarts = check_restarts(restarts, self.strategy)
    images = list(images)
    if not images:
      raise ValueError("at least one image is needed")
    # Seeds and sizes are checked before any image is cut, so a bad seed or an impossible size costs no work;
    # the sizes again once the genome length is known, before anything of that size is built.
    self.seeds = per_image_seeds(seeds, len(images))
    for seed in self.seeds:
      prng_key(seed)
    memory = total_memory_bytes(jax.local_devices()[0])
    sizes = dict(rows=len(images) * self.restarts, population=self.strategy.population_size,
                 generations=config.generations, memory_bytes=memory)
    check_sizes(length=length_for([], config), **sizes)
    self.prepared = prepare(images, targets=targets, segments=segments, baselines=baselines, config=config)
    rows = [p for p in self.prepared for _ in range(self.restarts)]
    self.length = length_for(self.prepared, config)
    check_sizes(length=self.length, **sizes)
    keys = self._keys = row_keys(self.seeds, self.restarts)
    self.schedule = schedule_for(self.strategy, config, self.restarts)
    self._classifier = classifier
    self._weights, _ = split_classifier(classifier)
    per_image_rates = batched_params(params, config, len(images))
    rates = jax.tree_util.tree_map(lambda x: np.repeat(x, self.restarts, axis=0), per_image_rates)
    self.state = start(self.strategy, keys, stacked(rows), rates, schedule=self.schedule, length=self.length)
    self._initial = self.state
    self._compile(classifier, config, logits, num_rows=len(rows))
    check_targets([p.target for p in self.prepared], self.num_classes)
    self.evolve_time = 0.0

  def _compile(self, classifier: Classifier, config: ELimeConfig, logits: bool, *, num_rows: int) -> None:
    """The search's program, compiled (or found compiled) for its state: sets ``_program``, ``_run``,
    ``compile_time`` and ``num_classes``."""
    t0 = time.perf_counter()
    cuts = any(p.labels is None for p in self.prepared)
    key = ProgramKey(strategy=self.strategy, schedule=self.schedule,
                     segmentation=(config.segmentation, config.segmentation_params) if cuts else None,
                     # A sigma only where it blurs: one no fill uses must not make another program.
                     fill=(config.fill, float(config.blur_sigma) if config.fill == "blur" else None),
                     length=self.length, chunk_size=config.chunk_size,
                     logits=logits, dtype=config.dtype, shard=config.shard, host=is_host_classifier(classifier))
    height, width = self.prepared[0].image.shape[:2]
    evaluated = num_rows * self.strategy.population_size  # rows a step evaluates
    store, stored = self._stored_program(classifier, key, evaluated, (height, width))
    if stored is not None:
      chunk = stored.chunk_size
    elif (exact_evaluation(config.shard, host=key.host)
          and live_multiple(self.schedule, self.strategy.population_size, num_rows) == 1):
      chunk = 1  # the curves' rows vary with K: one row a call whatever the chunk, so no memory profile is traced
    else:
      num_devices = jax.device_count() if config.shard else 1
      chunk = traced(lambda: chunk_size(classifier, limit=config.chunk_size, rows=evaluated, height=height,
                                        width=width, dtype=config.dtype, num_devices=num_devices))
    self._program = program(classifier, dataclasses.replace(key, chunk_size=chunk))
    built, fresh = traced(lambda: self._program.compiled(self._weights, self.state, store=store, stored=stored))
    # Tracing and compiling, all of it (the program is the only one a search compiles); 0 when reused.
    self.compile_time = time.perf_counter() - t0 if fresh else 0.0
    self._run = built.run
    self.num_classes = built.num_classes  # the classifier's number of classes, as its trace found it

  def _stored_program(self, classifier: Classifier, requested: ProgramKey, evaluated: int,
                      image_size: tuple[int, int]) -> tuple[Optional[str], Any]:
    """The key under which this search's program is kept across processes (``None``: not kept), and the
    program when a process before this one stored it (:func:`program_store.find`)."""
    if requested.shard or requested.host:
      return None, None
    return program_store.find(classifier, requested, weights=self._weights, state=self.state,
                              shapes=shape_key(self._weights, self.state), rows=evaluated, image_size=image_size)

  def restart(self) -> "Search":
    """Back to the state before the first step (same images, seeds and compiled program)."""
    self.state, self.evolve_time = self._initial, 0.0
    return self

  def memory_analysis(self) -> Any:
    """XLA's memory analysis of the compiled program (``None`` where the backend gives none)."""
    return self._run.memory_analysis()

  @property
  def params(self) -> Any:
    """The rates of every row (a :class:`GAParams` of ``(rows,)`` arrays), as the search started with them."""
    return self._initial.params

  @property
  def chunk_size(self) -> int:
    """Rows (images x individuals) the classifier evaluates at once."""
    return self._program.chunk_size

  @property
  def steps(self) -> int:
    """Steps run so far (step 0 is the initial population; with restarts the last one is the consensus)."""
    return int(self.state.steps)

  @property
  def done(self) -> bool:
    """Every row has run all its generations or stopped early (and the consensus is evaluated)."""
    host = jax.device_get(self.state.replace(problem=None, archive_genome=None, archive_history=None))
    return bool(search_complete(host, schedule=self.schedule))

  def advance(self, generations: Optional[int] = None, *, progress: Optional[Progress] = None) -> "Search":
    """Runs up to ``generations`` more steps (``None``: to the end), reporting to ``progress`` on the way.

    Args:
      generations: steps to run at most (the first step evaluates the initial population).
      progress: ``(generation, best_fitness) -> None``, called about every ``generations / 20`` generations
        and at the end, with the most advanced row's generation and the best fitness over the batch.

    Returns:
      ``self``.
    """
    total = self.schedule.steps
    stop = total if generations is None else min(total, self.steps + max(0, int(generations)))
    every = max(1, -(-(self.schedule.generations + 1) // MAX_REPORTS))
    t0 = time.perf_counter()
    while self.steps < stop and not self.done:
      # The initial population on its own first: a report as soon as it is evaluated.
      segment_end = stop if progress is None else 1 if self.steps == 0 else (self.steps // every + 1) * every
      self.state = run_checked(self._classifier, self._run, self._weights, self.state,
                               np.int32(min(stop, segment_end)))
      if progress is not None:
        generation, best = jax.device_get((self.state.strategy.generation, self.state.best_history))
        progress(int(generation.max()) - 1, float(np.nanmax(best)))
    jax.block_until_ready(self.state)
    self.evolve_time += time.perf_counter() - t0
    return self

  def _host_state(self) -> Any:
    if self.steps == 0:
      raise ValueError("the search has not run yet: call advance() first")
    return jax.device_get(self.state)

  def rerun(self, classifier: Classifier, *, seeds: Any) -> list[Explanation]:
    """The whole search again with another classifier of the same structure (for example the same network with
    randomised layers, see :mod:`models.randomised`), through the same compiled program, for the targets this
    search explained, from the keys of ``seeds``; this search's own state is left as it is.

    Args:
      classifier: the classifier to explain again.
      seeds: as for the search, one for all images or one per image. A sanity score needs seeds other than the
        search's own (:func:`evojax_lime.engine.seeds.independent_seeds`): with the same keys the rerun repeats
        every random draw of the first run, and the two answers agree through the draws, not the classifier.

    Raises:
      ValueError: ``classifier``'s weights differ in number, shape or dtype from the search's classifier, a seed
        is invalid, or the search has not run yet.
    """
    weights = check_same_structure(self._classifier, classifier, name="the classifier to rerun with")
    seeds = per_image_seeds(seeds, len(self.prepared))
    resolved = self._host_state().problem  # targets found: the rerun explains the same classes
    initial = start(self.strategy, row_keys(seeds, self.restarts), resolved, self._initial.params,
                    schedule=self.schedule, length=self.length)
    state = run_checked(classifier, self._run, weights, initial, np.int32(self.schedule.steps))
    explained = results.explanations(jax.device_get(state), self._result_context())
    return [dataclasses.replace(e, seed=seed) for e, seed in zip(explained, seeds)]

  def explanations(self) -> list[Explanation]:
    """One :class:`Explanation` per image (with restarts, the consensus with its runs); timings are the
    search's."""
    return results.explanations(self._host_state(), self._result_context())

  def fronts(self) -> list[ParetoFront]:
    """One :class:`ParetoFront` per image: the best genome found at every size (any strategy's archive)."""
    return results.fronts(self._host_state(), self._result_context())

  def _result_context(self) -> results.ResultContext:
    return results.ResultContext(
        prepared=self.prepared, seeds=self.seeds, keys=self._keys, restarts=self.restarts, strategy=self.strategy,
        config=self.config, logits=self.logits, compile_time=self.compile_time, evolve_time=self.evolve_time,
        wall_time=time.perf_counter() - self._start)

  def identity(self) -> dict:
    """What a saved state belongs to: the engine, the strategy, the options, the seeds and the inputs."""
    return saved_state.identity(self, classifier=classifier_identity(self._classifier))

  def save(self, path: Any) -> None:
    """Writes the run's state to ``path`` atomically (never half-written); :meth:`restore` resumes it."""
    saved_state.save(path, self.identity(), jax.device_get(self.state))

  def restore(self, path: Any) -> "Search":
    """Continues from a state :meth:`save` wrote for a search with the same images, options and seeds.

    Raises:
      ValueError: the file is not such a state (any damage or mismatch, with one line saying so).
    """
    self.state = saved_state.load(path, self.identity(), self._initial, schedule=self.schedule,
                                  num_classes=self.num_classes)
    return self

