"""A finished search's results, read from its state on the host: one :class:`Explanation` per image (with
restarts, the consensus of its runs) or one :class:`ParetoFront` per image.

The compiled program leaves everything in the :class:`~evojax_lime.engine.state.RunState`; what the results
need besides it (the prepared images, seeds, strategy, options and timings) travels in a :class:`ResultContext`,
so :class:`~evojax_lime.engine.search.Search` only runs the search and assembles nothing itself.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

import numpy as np

from evojax_lime.config import ELimeConfig
from evojax_lime.engine.checks import check_superpixel_count, check_verdict
from evojax_lime.engine.loop import majority
from evojax_lime.explanation import Explanation
from evojax_lime.front import ParetoFront
from evojax_lime.scores import Faithfulness, mean_pairwise_jaccard
from evojax_lime.strategies.base import Strategy


@dataclasses.dataclass(frozen=True)
class ResultContext:
  """What a search's results are built from besides its state.

  Attributes:
    prepared: the ``B`` prepared images (:class:`~evojax_lime.engine.preparation.Prepared`).
    seeds: each image's seed, as the caller gave it.
    keys: ``(B * R, 2)`` raw keys of the rows (a restart reports its own).
    restarts: R runs per image.
    strategy: the strategy searched with.
    config: the search's options.
    logits: the classifier returns logits.
    compile_time, evolve_time, wall_time: seconds, as the search measured them.
  """

  prepared: Sequence[Any]
  seeds: Sequence[Any]
  keys: np.ndarray
  restarts: int
  strategy: Strategy
  config: ELimeConfig
  logits: bool
  compile_time: float
  evolve_time: float
  wall_time: float


def explanations(state: Any, context: ResultContext) -> list[Explanation]:
  """One :class:`Explanation` per image from a host ``state``: with restarts, the consensus with its runs."""
  runs = [_explanation(i, state, context) for i in range(len(context.prepared) * context.restarts)]
  r = context.restarts
  if r == 1:
    return runs
  return [_consensus(b, runs[b * r:(b + 1) * r], state, context) for b in range(len(context.prepared))]


def fronts(state: Any, context: ResultContext) -> list[ParetoFront]:
  """One :class:`ParetoFront` per image from a host ``state``: the best genome found at every size."""
  return [_front(b, state, context) for b in range(len(context.prepared))]


def evaluations(strategy: Strategy, generations_run: int) -> int:
  """Forward-equivalents a row spent: a population a generation, and whatever else the strategy counts (a
  gradient strategy's backward passes)."""
  count = getattr(strategy, "num_evaluations", None)
  return count(generations_run) if count is not None else strategy.population_size * (generations_run + 1)


def _checked_row(i: int, state: Any, logits: bool) -> tuple[float, int]:
  """Row ``i``'s p(target | image) and K, once its verdict, outputs and superpixel count pass the checks."""
  check_verdict(state.original_verdict[i], logits=logits)
  if bool(state.nonfinite[i]):
    raise ValueError("classifier returned NaN or infinite values for a masked image")
  k = int(state.problem.num_genes[i])
  check_superpixel_count(k)
  return float(state.original_probability[i]), k


def _archive(i: int, state: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
  probs = np.asarray(state.archive_probability[i, :k + 1], np.float64)
  return np.where(np.isfinite(probs), probs, np.nan), np.asarray(state.archive_genome[i, :k + 1, :k], bool)


def _archive_history(i: int, state: Any, k: int, generations: int) -> np.ndarray:
  history = np.asarray(state.archive_history[i, :generations + 1, :k + 1], np.float64)
  return np.where(np.isfinite(history), history, np.nan)


def _faithfulness(i: int, state: Any, k: int) -> Optional[Faithfulness]:
  """Row ``i``'s curves, where the program evaluated them (leading rows of a finished search)."""
  points = min(k, state.insertion.shape[1] - 1) + 1
  insertion, deletion = (np.asarray(x[i, :points], np.float64) for x in (state.insertion, state.deletion))
  if not (np.isfinite(insertion).all() and np.isfinite(deletion).all()):
    return None
  return Faithfulness(ranking=np.asarray(state.ranking[i, :k], np.int64),
                      shown=np.asarray(state.curve_shown[i, :points], np.int64), insertion=insertion,
                      deletion=deletion)


def _explanation(i: int, state: Any, context: ResultContext) -> Explanation:
  prep = context.prepared[i // context.restarts]
  original, k = _checked_row(i, state, context.logits)
  genome, fitness, probability = (np.asarray(x[i]) for x in (state.answer, state.answer_fitness,
                                                             state.answer_probability))
  gens = int(state.strategy.generation[i]) - 1
  sizes, size_genomes = _archive(i, state, k)
  curves = _faithfulness(i, state, k) if context.restarts == 1 else None
  # A restart reports its own (raw) key; a single run the seed it was given.
  seed = context.seeds[i] if context.restarts == 1 else context.keys[i]
  return Explanation(
      image=prep.image, labels=np.asarray(state.problem.labels[i]), fill=np.asarray(state.problem.fill[i]),
      genome=np.asarray(genome[:k], bool), importance=np.asarray(state.importance[i, :k], np.float32),
      target=int(state.problem.target[i]), original_probability=original,
      explanation_probability=float(probability), best_fitness=float(fitness),
      fitness_history=np.asarray(state.best_history[i, :gens + 1]),
      mean_fitness_history=np.asarray(state.mean_history[i, :gens + 1]), generations_run=gens,
      num_evaluations=evaluations(context.strategy, gens) + int(state.pruning_forwards[i]),
      segmentation_time=prep.segmentation_time,
      compile_time=context.compile_time, evolve_time=context.evolve_time, wall_time=context.wall_time,
      config=context.config, seed=seed, size_probabilities=sizes, size_genomes=size_genomes,
      size_history=_archive_history(i, state, k, gens),
      faithfulness=curves, scoring_evaluations=0 if curves is None else curves.num_evaluations)


def _padded(histories: list) -> np.ndarray:
  """Per-run histories stacked, the shorter ones (stopped early) held at their last row."""
  longest = max(len(h) for h in histories)
  return np.stack([np.pad(h, [(0, longest - len(h))] + [(0, 0)] * (h.ndim - 1), mode="edge") for h in histories])


def _consensus(b: int, runs: list[Explanation], state: Any, context: ResultContext) -> Explanation:
  """Image ``b``'s consensus: superpixels kept in at least half of its runs (ties kept), evaluated in the
  program's last step."""
  lead = b * context.restarts
  genomes = np.stack([r.genome for r in runs])
  curves = _faithfulness(lead, state, runs[0].num_segments)
  return dataclasses.replace(
      runs[0], genome=majority(genomes),
      importance=np.mean([r.importance for r in runs], axis=0).astype(np.float32),
      explanation_probability=float(state.consensus_probability[lead]),
      best_fitness=float(state.consensus_fitness[lead]),
      fitness_history=_padded([r.fitness_history for r in runs]).max(0),
      mean_fitness_history=_padded([r.mean_fitness_history for r in runs]).mean(0),
      generations_run=max(r.generations_run for r in runs),
      num_evaluations=sum(r.num_evaluations for r in runs) + 1, seed=context.seeds[b],
      stability=float(mean_pairwise_jaccard(genomes)), runs=tuple(runs),
      size_probabilities=np.fmax.reduce([r.size_probabilities for r in runs]),
      size_genomes=runs[int(np.argmax([np.nan_to_num(r.size_probabilities, nan=-1) for r in runs], axis=0)[0])]
      .size_genomes,
      size_history=np.fmax.reduce(_padded([r.size_history for r in runs])),
      faithfulness=curves, scoring_evaluations=0 if curves is None else curves.num_evaluations)


def _front(b: int, state: Any, context: ResultContext) -> ParetoFront:
  i = b * context.restarts
  prep = context.prepared[b]
  original, k = _checked_row(i, state, context.logits)
  probs, genomes = _archive(i, state, k)
  gens = int(np.asarray(state.strategy.generation)[i]) - 1
  curves = _faithfulness(i, state, k)
  return ParetoFront(
      image=prep.image, labels=np.asarray(state.problem.labels[i]), fill=np.asarray(state.problem.fill[i]),
      target=int(state.problem.target[i]), original_probability=original, probabilities=probs, genomes=genomes,
      history=_archive_history(i, state, k, gens),
      mean_history=np.asarray(state.mean_history[i, :gens + 1], np.float64),
      num_evaluations=evaluations(context.strategy, gens), segmentation_time=prep.segmentation_time,
      compile_time=context.compile_time, evolve_time=context.evolve_time, wall_time=context.wall_time,
      config=context.config, seed=context.seeds[b], faithfulness=curves,
      scoring_evaluations=0 if curves is None else curves.num_evaluations)
