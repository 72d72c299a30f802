"""Compiled search programs: one per (classifier, :class:`ProgramKey`) and argument shape, in the engine's cache.

A program is the resumable loop of :mod:`evojax_lime.engine.loop`, compiled once: ``(weights, RunState,
stop_at) -> RunState``. The classifier is traced into it only in
:func:`evojax_lime.evaluation.fitness.evaluate_rows`, at one batch size (on a CPU the largest not above the
chunk that divides every step's live rows, so no row is padded); its first step also cuts the superpixels (when
the program segments), computes the fill and resolves the top-1 targets, so nothing else about the classifier
needs a program of its own.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Optional

import jax
import jax.numpy as jnp

from evojax_lime.engine.cache import cached
from evojax_lime.engine.loop import Schedule, advance
from evojax_lime.engine.program_store import StoredProgram, save
from evojax_lime.engine.state import RunState
from evojax_lime.evaluation.classifier import split_classifier
from evojax_lime.evaluation.fill import make_fill
from evojax_lime.evaluation.fitness import Classifier, Evaluator, Problem, evaluate_rows
from evojax_lime.evaluation.gradient import probability_and_gradient
from evojax_lime.evaluation.sharding import population_mesh, round_to_devices, shard_rows
from evojax_lime.segmentation.superpixels import in_program_labels
from evojax_lime.strategies.base import Strategy


@dataclasses.dataclass(frozen=True)
class ProgramKey:
  """Everything a compiled search program is specific to, besides the classifier and the argument shapes.

  Attributes:
    strategy: the strategy with its static options.
    schedule: generations, patience and restarts.
    segmentation: ``(method, params)`` of the JAX segmentation the first step runs for rows without a label
      map, or ``None`` when every row's labels are given.
    fill: ``(kind, blur_sigma)`` of the fill the first step computes for rows without a baseline; the sigma is
      ``None`` for any fill but blur, so a sigma no fill uses does not change the program.
    length: static genome length L.
    chunk_size: rows per classifier call.
    logits: the classifier returns logits.
    dtype: dtype of the masked images.
    shard: split each chunk over every device.
    host: the classifier is a host classifier (:func:`~evojax_lime.evaluation.host.is_host_classifier`: each
      call crosses to the host), asked once, by the search.
  """

  strategy: Strategy
  schedule: Schedule
  segmentation: Optional[tuple]
  fill: tuple
  length: int
  chunk_size: int
  logits: bool
  dtype: str
  shard: bool
  host: bool


def complete_problems(problems: Problem, *, key: ProgramKey) -> Problem:
  """The first step's completion of ``B`` problems: superpixels (rows without labels, when the program
  segments) and fill (rows without a baseline)."""
  def one(problem: Problem) -> Problem:
    if key.segmentation is not None:
      method, params = key.segmentation
      labels, k = in_program_labels(problem.image, method, dict(params))
      problem = problem.replace(labels=jnp.where(problem.labels_given, problem.labels, labels),
                                num_genes=jnp.where(problem.labels_given, problem.num_genes, k))
    kind, sigma = key.fill
    computed = make_fill(problem.image, problem.labels, kind=kind, length=key.length, blur_sigma=sigma)
    return problem.replace(fill=jnp.where(problem.fill_given, problem.fill, computed))
  return jax.vmap(one)(problems)


def exact_evaluation(shard: bool, *, host: bool) -> bool:
  """Whether a program's evaluation pads no row (see :class:`~evojax_lime.evaluation.fitness.Evaluator`): on a
  CPU, where a padded row costs a forward like any other and a batch of one costs no more per image than a
  batch of 32 (Lite0 and ResNet-50 here); on an accelerator the rows of a chunk run side by side and a padded
  last chunk costs about nothing. Not for a ``host`` classifier: each call crosses to the host and back, and a
  torch model runs a batch of one at a fraction of its batched rate, so its chunks keep their size."""
  return not shard and not host and jax.default_backend() == "cpu"


def checked_classifier(classifier: Classifier, on_shape) -> Classifier:
  """``classifier`` with its output shape checked when traced: ``(N, C)`` with C >= 2 for N images."""
  def call(images):
    out = classifier(images)
    shape = tuple(getattr(out, "shape", ()))
    if len(shape) != 2 or shape[0] != images.shape[0] or shape[1] < 2:
      raise ValueError(f"classifier must map (N, H, W, 3) images to (N, C) scores with C >= 2; for N="
                       f"{images.shape[0]} it returns shape {shape}")
    on_shape(shape)
    return out
  return call


@dataclasses.dataclass(frozen=True)
class Built:
  """A program compiled for one argument shape: ``run(weights, state, stop_at) -> state``, and the number of
  classes C of the classifier traced into it (its output is ``(N, C)``)."""

  run: Any
  num_classes: int


class Program:
  """``(weights, RunState, stop_at) -> RunState`` compiled once per argument shape.

  Compiling ahead of time keeps compile time apart from run time; the program has no host callbacks (unless
  the classifier is a host classifier), so JAX's persistent compilation cache stores it like any other. The
  program holds the classifier only weakly and never its weights: the caller passes them in every call.
  """

  def __init__(self, classifier: Classifier, key: ProgramKey):
    mesh = population_mesh() if key.shard else None
    _, rebuild = split_classifier(classifier)
    self.key = key
    self.chunk_size = round_to_devices(key.chunk_size, mesh)
    exact = exact_evaluation(key.shard, host=key.host)

    def run(weights, state: RunState, stop_at, *, on_shape):
      evaluator = Evaluator(classifier=checked_classifier(rebuild(weights), on_shape), logits=key.logits,
                            chunk_size=self.chunk_size, dtype=jnp.dtype(key.dtype),
                            constrain=functools.partial(shard_rows, mesh=mesh),
                            exact=exact)
      evaluate_batch = lambda g, p, parsimony, live, multiple: evaluate_rows(g, p, parsimony, evaluator, live=live,
                                                                            multiple=multiple)
      differentiate = lambda m, p, live: probability_and_gradient(m, p, evaluator, live)
      return advance(state, stop_at, strategy=key.strategy, schedule=key.schedule, evaluate_batch=evaluate_batch,
                     complete_problems=functools.partial(complete_problems, key=key), differentiate=differentiate)

    self._run = run
    self._compiled: dict[tuple, Built] = {}

  def compiled(self, weights: Any, state: RunState, *, store: Optional[str] = None,
               stored: Optional[StoredProgram] = None) -> tuple[Built, bool]:
    """The program compiled for these shapes, and whether it was compiled now.

    Args:
      weights: the classifier's weights (arguments of the program).
      state: the state the program advances.
      store: key under which the program is kept across processes (:mod:`program_store`), or ``None``.
      stored: the program read back from that key, compiled instead of tracing this one.
    """
    shape = shape_key(weights, state)
    fresh = shape not in self._compiled
    if fresh:
      self._compiled[shape] = self._build(weights, state, store, stored)
    return self._compiled[shape], fresh

  def _build(self, weights: Any, state: RunState, store: Optional[str], stored: Optional[StoredProgram]) -> Built:
    weight_leaves, weight_tree = jax.tree_util.tree_flatten(weights)
    state_leaves, state_tree = jax.tree_util.tree_flatten(state)
    if stored is not None:
      compiled = jax.jit(stored.exported.call).lower(weight_leaves, state_leaves, jnp.int32(0)).compile()
      return Built(FlatRun(compiled, state_tree), stored.num_classes)
    # The classifier's output shape, as the trace of this build finds it (the trace checks it).
    classes: list[int] = []
    jitted = jax.jit(functools.partial(self._run, on_shape=lambda shape: classes.append(int(shape[1]))))
    exported = None if store is None else self._export(jitted, weight_leaves, weight_tree, state_leaves, state_tree)
    if exported is None:
      return Built(jitted.lower(weights, state, jnp.int32(0)).compile(), classes[0])
    save(store, exported, chunk_size=self.chunk_size, num_classes=classes[0])
    compiled = jax.jit(exported.call).lower(weight_leaves, state_leaves, jnp.int32(0)).compile()
    return Built(FlatRun(compiled, state_tree), classes[0])

  @staticmethod
  def _export(jitted: Any, weight_leaves: list, weight_tree: Any, state_leaves: list, state_tree: Any) -> Any:
    """The program over flat lists of leaves, exported; ``None`` if it cannot be (a host callback inside)."""
    def flat(w, s, stop_at):
      run = jitted(jax.tree_util.tree_unflatten(weight_tree, w), jax.tree_util.tree_unflatten(state_tree, s),
                   stop_at)
      return jax.tree_util.tree_leaves(run)
    try:
      return jax.export.export(jax.jit(flat))(weight_leaves, state_leaves, jnp.int32(0))
    except Exception:  # not exportable: compiled as it is
      return None


class FlatRun:
  """A program compiled over flat lists of leaves, called as ``(weights, state, stop_at) -> state``."""

  def __init__(self, compiled: Any, state_tree: Any):
    self._compiled, self._state_tree = compiled, state_tree

  def __call__(self, weights: Any, state: RunState, stop_at: Any) -> RunState:
    leaves = self._compiled(jax.tree_util.tree_leaves(weights), jax.tree_util.tree_leaves(state), stop_at)
    return jax.tree_util.tree_unflatten(self._state_tree, leaves)

  def memory_analysis(self) -> Any:
    return self._compiled.memory_analysis()

  def as_text(self) -> Optional[str]:
    return self._compiled.as_text()


def shape_key(*trees: Any) -> tuple:
  """The shapes and dtypes of every leaf: what a compiled executable is specific to."""
  return tuple((tuple(jnp.shape(x)), str(jnp.result_type(x))) for x in jax.tree_util.tree_leaves(trees))


def program(classifier: Classifier, key: ProgramKey) -> Program:
  """The cached :class:`Program` of ``classifier`` for ``key``."""
  return cached(classifier, ("search", key), lambda: Program(classifier, key))
