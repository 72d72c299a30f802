"""The compiled loop of a search: any strategy, ``B`` rows, resumable at any step.

Each step asks every unfinished row's strategy for candidates, evaluates all of them as one flat list of rows
(:func:`~evojax_lime.evaluation.fitness.evaluate_rows`, the only place the classifier is traced), tells the
strategies, and updates each row's per-size archive. With restarts, one more step evaluates each group's
consensus through the same evaluation once every row has finished; with ``faithfulness``, a last step evaluates
the insertion and deletion curves of every answer (:mod:`evojax_lime.evaluation.faithfulness`). The loop runs until ``stop_at`` steps are
done or the search is complete, so the host can run a search whole or in segments (progress, pause, saving)
with one compiled program and the same result.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.config import GAParams
from evojax_lime.evaluation import faithfulness as curves
from evojax_lime.evaluation.fitness import Problem, mask_fitness
from evojax_lime.engine import pruning
from evojax_lime.engine.state import RunState
from evojax_lime.strategies.base import Strategy

# (candidates (B, P, L), problems (B), parsimony (B,), live (B, P), multiple) -> ((B, P) fitness, (B, P) p,
# (B,) targets, (B, 3) sum, min and max of each row's candidate 0's raw outputs); the live count is always a
# multiple of the static ``multiple``
EvaluateBatch = Callable[[jax.Array, Problem, jax.Array, jax.Array, int],
                         tuple[jax.Array, jax.Array, jax.Array, jax.Array]]
# problems (B) -> problems (B) with superpixels, K and fill filled in (run once, in the first step)
Complete = Callable[[Problem], Problem]
# (masks (B, P, L) in [0, 1], problems (B), live (B, P)) -> ((B, P) p(target), (B, P, L) its gradient)
Differentiate = Callable[[jax.Array, Problem, jax.Array], tuple[jax.Array, jax.Array]]


@dataclasses.dataclass(frozen=True)
class Schedule:
  """When rows stop: after ``generations`` generations, or ``patience`` populations in which the answer did not
  change;
  ``restarts`` consecutive rows form a group whose consensus is evaluated at the end (1: no consensus);
  ``faithfulness``: one more step evaluates each answer's insertion and deletion curves; ``answer``:
  ``"fittest"`` (the strategy's best), ``"sufficient"`` (see :func:`sufficient`) or ``"knee"`` (see
  :func:`knee`); ``prune``: two more steps prune each row's answer (:mod:`~evojax_lime.engine.pruning`) before
  the consensus and the curves."""

  generations: int
  patience: Optional[int] = None
  restarts: int = 1
  faithfulness: bool = False
  answer: str = "fittest"
  prune: bool = False

  @property
  def steps(self) -> int:
    """Steps of a whole search: the initial population, the generations, the consensus and the curves."""
    return self.generations + 1 + 2 * self.prune + (self.restarts > 1) + self.faithfulness


def start(strategy: Strategy, keys: Any, problems: Problem, params: GAParams, *, schedule: Schedule,
          length: int) -> RunState:
  """The state before the first step (raw keys ``(B, 2)``, every leaf with a leading ``B``), built with numpy."""
  rows = keys.shape[0]
  states = [strategy.init(keys[i], length=length) for i in range(rows)]
  history = np.full((rows, schedule.generations + 1), np.nan, np.float32)
  nan = np.full((rows,), np.nan, np.float32)
  points = (rows, curves.max_steps(strategy.population_size) + 1)
  return RunState(
      strategy=jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *states),
      problem=problems, params=params, original_probability=nan,
      original_verdict=np.full((rows, 3), np.nan, np.float32), best_history=history,
      mean_history=history.copy(), archive_probability=np.full((rows, length + 1), -np.inf, np.float32),
      archive_genome=np.zeros((rows, length + 1, length), bool),
      archive_history=np.full((rows, schedule.generations + 1, length + 1), -np.inf, np.float32),
      answer=np.zeros((rows, length), bool), answer_fitness=nan.copy(), answer_probability=nan.copy(),
      consensus_fitness=nan.copy(), consensus_probability=nan.copy(), consensus_done=np.bool_(False),
      ranking=np.zeros((rows, length), np.int32), curve_shown=np.zeros(points, np.int32),
      insertion=np.full(points, np.nan, np.float32), deletion=np.full(points, np.nan, np.float32),
      faithfulness_done=np.bool_(False), pruning_stage=np.int32(0), pruning_mask=np.zeros((rows, length), bool),
      pruning_base=nan.copy(), pruning_forwards=np.zeros((rows,), np.int32), nonfinite=np.zeros((rows,), bool),
      importance=np.zeros((rows, length), np.float32), stall=np.zeros((rows,), np.int32), steps=np.int32(0))


def finished(generation: Any, stall: Any, *, schedule: Schedule) -> Any:
  """``(B,)`` bool: the row has evaluated all its populations or stopped early (numpy in, numpy out)."""
  done = generation >= schedule.generations + 1
  if schedule.patience is not None:
    done = done | ((generation > 0) & (stall >= schedule.patience))
  return done


def search_complete(run: RunState, *, schedule: Schedule) -> Any:
  """Every row has finished, and the consensus and curve steps have run where there are any (device or host
  values)."""
  done = (run.steps > 0) & finished(run.strategy.generation, run.stall, schedule=schedule).all()
  done = done & (run.pruning_stage == 2) if schedule.prune else done
  done = done & run.consensus_done if schedule.restarts > 1 else done
  return done & run.faithfulness_done if schedule.faithfulness else done


def majority(runs: Any) -> Any:
  """``(..., R, L)`` bool genomes -> ``(..., L)``: genes kept in at least half of the R runs (ties kept).

  Array methods only, so the program (JAX) and the host (numpy) apply the same rule without a compile."""
  return 2 * runs.sum(-2, dtype=np.int32) >= runs.shape[-2]


def consensus_genomes(best: jax.Array, restarts: int) -> jax.Array:
  """``(B, L)`` best genomes -> ``(B, L)`` each row's group :func:`majority`. Rows ``g * R .. g * R + R - 1``
  form group ``g``."""
  return jnp.repeat(majority(best.reshape(-1, restarts, best.shape[-1])), restarts, axis=0)


def sufficient(archive_probability: jax.Array, archive_genome: jax.Array, original: jax.Array,
               num_genes: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Each row's smallest archived mask more probable than the full image: a subset of the superpixels that the
  classifier finds more convincing than the whole photo, the cheapest the search has seen.

  Args:
    archive_probability: ``(B, L + 1)`` the best probability evaluated with exactly k kept (-inf: none).
    archive_genome: ``(B, L + 1, L)`` bool, the mask that reached it.
    original: ``(B,)`` p(target | full image) (NaN: not evaluated yet, so nothing is found).
    num_genes: ``(B,)`` K, the real superpixels; sizes 1 to K - 1 qualify (not the empty mask, nor the image).

  Returns:
    ``((B,) bool found, (B, L) bool mask, (B,) its probability)``.
  """
  sizes = jnp.arange(archive_probability.shape[-1])
  ok = (archive_probability > original[:, None]) & (sizes >= 1) & (sizes < num_genes[:, None])
  size = jnp.argmax(ok, axis=-1)  # the first, i.e. smallest, qualifying size
  mask = jnp.take_along_axis(archive_genome, size[:, None, None], axis=1)[:, 0]
  return ok.any(axis=-1), mask, jnp.take_along_axis(archive_probability, size[:, None], axis=1)[:, 0]


# How far below the most probable archived mask the knee may lie: less than one piece of evidence that moves p
# by 0.15 (the planted cases of benchmarks/ground_truth.py), more than the noise of a real network's p.
KNEE_TOLERANCE = 0.05


def knee(archive_probability: jax.Array, archive_genome: jax.Array, num_genes: jax.Array, *,
         tolerance: float = KNEE_TOLERANCE) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Each row's smallest archived mask within ``tolerance`` of the most probable archived mask (of 1 to
  K superpixels): where the probability-vs-size curve stops rising, so every piece of evidence that moves p is
  in and what is kept beyond it adds nothing.

  Args:
    archive_probability: ``(B, L + 1)`` the best probability evaluated with exactly k kept (-inf: none).
    archive_genome: ``(B, L + 1, L)`` bool, the mask that reached it.
    num_genes: ``(B,)`` K, the real superpixels; sizes 1 to K qualify (the image itself where nothing smaller
      comes near it).

  Returns:
    ``((B,) bool found, (B, L) bool mask, (B,) its probability)``; nothing is found before the first
    evaluation.
  """
  sizes = jnp.arange(archive_probability.shape[-1])
  valid = (sizes >= 1) & (sizes <= num_genes[:, None])
  p = jnp.where(valid, archive_probability, -jnp.inf)
  top = p.max(axis=-1, keepdims=True)
  ok = valid & (p >= top - tolerance) & jnp.isfinite(top)
  size = jnp.argmax(ok, axis=-1)  # the first, i.e. smallest, qualifying size
  mask = jnp.take_along_axis(archive_genome, size[:, None, None], axis=1)[:, 0]
  return ok.any(axis=-1), mask, jnp.take_along_axis(archive_probability, size[:, None], axis=1)[:, 0]


def answers(run: RunState, *, strategy: Strategy, restarts: int) -> tuple[jax.Array, jax.Array, jax.Array]:
  """``((B, L) genome, (B, L) importance, (B, L) archive frequency)`` of each row's answer: its own, or its
  group's consensus with the group's mean importance and summed frequency."""
  best = run.answer
  importance = jax.vmap(strategy.importance)(run.strategy)
  frequency = jax.vmap(curves.archive_frequency)(run.archive_genome, run.archive_probability)
  if restarts == 1:
    return best, importance, frequency
  group = lambda x, reduce: jnp.repeat(reduce(x.reshape(-1, restarts, x.shape[-1]), axis=1), restarts, axis=0)
  return consensus_genomes(best, restarts), group(importance, jnp.mean), group(frequency, jnp.sum)


def leads(rows: int, restarts: int) -> jax.Array:
  """``(B,)`` bool, the first row of each group of restarts (every row without restarts)."""
  return jnp.arange(rows) % restarts == 0


def _by_row(rows: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
  """``a`` in the rows where ``rows`` ``(B,)`` holds, ``b`` elsewhere (any trailing shape)."""
  return jnp.where(rows.reshape((-1,) + (1,) * (a.ndim - 1)), a, b)


def _update_archive(run: RunState, candidates: jax.Array, probability: jax.Array,
                    live: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Per row and size k, the most probable live candidate with exactly k kept, if it beats the archive."""
  sizes = jnp.arange(run.archive_probability.shape[1])
  kept = candidates.sum(-1)
  p = jnp.where(live & ~jnp.isnan(probability), probability, -jnp.inf)
  at_size = jnp.where(kept[..., None] == sizes, p[..., None], -jnp.inf)  # (B, P, L + 1)
  best = jnp.argmax(at_size, axis=1)  # (B, L + 1): the first candidate on ties
  best_p = jnp.take_along_axis(at_size, best[:, None, :], axis=1)[:, 0]
  better = best_p > run.archive_probability  # strict: the first genome to reach a value keeps it
  genomes = jnp.take_along_axis(candidates, best[..., None], axis=1)  # (B, L + 1, L)
  return (jnp.where(better, best_p, run.archive_probability),
          jnp.where(better[..., None], genomes, run.archive_genome))


def descended(run: RunState, problem: Problem, live: jax.Array, *, strategy: Strategy,
              differentiate: Differentiate) -> Any:
  """The strategies' states after one gradient step, for a strategy with ``soft_masks`` and ``descend`` (its
  continuous masks, forward and backward through the classifier); the states as they are for any other, and
  before the first population (the target is not resolved yet)."""
  if not hasattr(strategy, "descend"):
    return run.strategy

  def descend(states):
    probability, gradient = differentiate(jax.vmap(strategy.soft_masks)(states), problem, live)
    return jax.vmap(strategy.descend)(states, probability, gradient)
  return jax.lax.cond(run.steps == 0, lambda s: s, descend, run.strategy)


class _Asked(NamedTuple):
  """What a phase of a step hands the evaluation, and what its store reads back."""

  states: Any  # the strategies' states (B rows) to tell
  candidates: jax.Array  # (B, P, L) bool
  live: jax.Array  # (B, P) bool, the candidates evaluated
  ranking: jax.Array  # (B, L) the curves' ranking (the state's own outside the curve phase)
  shown: jax.Array  # (B, S + 1) superpixels moved at each curve point (likewise)


def _ask_population(run: RunState, problem: Problem, done: jax.Array, *, strategy: Strategy,
                    differentiate: Optional[Differentiate]) -> _Asked:
  """Every unfinished row's next population (the initial one in the first step)."""
  rows, length = run.answer.shape
  live = jnp.broadcast_to(~done[:, None], (rows, strategy.population_size))
  states = descended(run, problem, live, strategy=strategy, differentiate=differentiate)
  states, candidates = jax.vmap(lambda s, k, a: strategy.ask(s, num_genes=k, params=strategy.own_params(a)))(
      states, problem.num_genes, run.params)
  # The initial population's candidate 0 is the full image: its verdict is the reference probability and,
  # where asked, the top-1 target, from the same evaluation as the rest.
  valid = jnp.arange(length) < problem.num_genes[:, None]  # (B, L) every real gene
  candidates = jnp.where(run.steps == 0, candidates.at[:, 0].set(valid), candidates)
  return _Asked(states, candidates, live, run.ranking, run.curve_shown)


def _ask_consensus(run: RunState, *, population_size: int, restarts: int) -> _Asked:
  """Each group's consensus as candidate 0 of its leading row, nothing else."""
  rows, length = run.answer.shape
  candidates = jnp.zeros((rows, population_size, length), bool).at[:, 0].set(consensus_genomes(run.answer, restarts))
  live = leads(rows, restarts)[:, None] & (jnp.arange(population_size) == 0)
  return _Asked(run.strategy, candidates, live, run.ranking, run.curve_shown)


def _ask_curves(run: RunState, problem: Problem, *, strategy: Strategy, restarts: int) -> _Asked:
  """The insertion and deletion curve points of each leading row's answer."""
  pop = strategy.population_size
  answer, ranking = _ranked(run, problem, strategy=strategy, restarts=restarts)
  shown = jax.vmap(lambda k: curves.shown_counts(k, curves.max_steps(pop)))(problem.num_genes)
  candidates, live = jax.vmap(lambda r, s, k: curves.curve_candidates(r, s, k, population_size=pop))(
      ranking, shown, problem.num_genes)
  return _Asked(run.strategy, candidates, live & leads(answer.shape[0], restarts)[:, None], ranking, shown)


def _ranked(run: RunState, problem: Problem, *, strategy: Strategy, restarts: int) -> tuple[jax.Array, jax.Array]:
  """``((B, L) answer, (B, L) int32 ranking)``: each row's answer (see :func:`answers`) and its superpixels in the
  order the strategy's features rank them (:attr:`~evojax_lime.strategies.base.Features.ranks_by_importance`)."""
  answer, importance, frequency = answers(run, strategy=strategy, restarts=restarts)
  if strategy.features.ranks_by_importance:
    return answer, jax.vmap(curves.importance_ranking)(importance, problem.num_genes)
  return answer, jax.vmap(curves.answer_ranking)(importance, answer, problem.num_genes, frequency)


def _phase(run: RunState, done: jax.Array, *, schedule: Schedule) -> jax.Array:
  """The phase a step runs, in order: evolve until every row is done (0), the pruning pass (its flips, then
  their combination), the consensus, the curves; each starts once the one before it is over."""
  phase, count, ready = jnp.int32(0), 1, done.all()
  if schedule.prune:
    phase, count = jnp.where(ready, count + (run.pruning_stage > 0), phase), count + 2
    ready = ready & (run.pruning_stage == 2)
  if schedule.restarts > 1:
    phase, count = jnp.where(ready, count, phase), count + 1
    ready = ready & run.consensus_done
  if schedule.faithfulness:
    phase = jnp.where(ready, count, phase)
  return phase


def _ask_prune_flips(run: RunState, problem: Problem, *, strategy: Strategy) -> _Asked:
  """Every single flip of each row's answer (:func:`~evojax_lime.engine.pruning.flip_candidates`)."""
  answer, ranking = _ranked(run, problem, strategy=strategy, restarts=1)  # each row's own, before any consensus
  flips = lambda a, r, k: pruning.flip_candidates(a, r, k, population_size=strategy.population_size)
  candidates, live = jax.vmap(flips)(answer, ranking, problem.num_genes)
  return _Asked(run.strategy, candidates, live, run.ranking, run.curve_shown)


def _ask_prune_combined(run: RunState, *, population_size: int) -> _Asked:
  """The qualifying flips of each row together, as candidate 0, where they differ from the answer."""
  rows, length = run.answer.shape
  candidates = jnp.zeros((rows, population_size, length), bool).at[:, 0].set(run.pruning_mask)
  live = (jnp.arange(population_size) == 0) & (run.pruning_mask != run.answer).any(-1)[:, None]
  return _Asked(run.strategy, candidates, live, run.ranking, run.curve_shown)


def _answer(fittest: tuple, archive_p: jax.Array, archive_g: jax.Array, original: jax.Array, problem: Problem,
            parsimony: jax.Array, *, rule: str) -> tuple[jax.Array, jax.Array, jax.Array]:
  """``((B, L) genome, (B,) fitness, (B,) probability)``: each row's answer under ``rule`` (the strategies'
  ``fittest``, or the archive's :func:`sufficient` or :func:`knee` mask where it finds one)."""
  if rule == "fittest":
    return fittest
  found, mask, mask_p = (sufficient(archive_p, archive_g, original, problem.num_genes)
                         if rule == "sufficient" else knee(archive_p, archive_g, problem.num_genes))
  fitness = mask_fitness(mask_p, mask, parsimony, problem.num_genes)
  return tuple(_by_row(found, new, old) for new, old in zip((mask, fitness, mask_p), fittest))


def _tell_population(run: RunState, asked: _Asked, fitness: jax.Array, prob: jax.Array, problem: Problem,
                     done: jax.Array, *, strategy: Strategy, schedule: Schedule) -> RunState:
  """The evaluated population told to every unfinished row's strategy; its archive, answer and histories."""
  initial = run.steps == 0
  told = jax.vmap(strategy.tell)(asked.states, asked.candidates, fitness, prob)
  told = jax.tree_util.tree_map(lambda old, new: _by_row(done, old, new), run.strategy, told)
  archive_p, archive_g = _update_archive(run, asked.candidates, prob, asked.live)
  fittest = jax.vmap(strategy.best)(told)
  original = jnp.where(initial, prob[:, 0], run.original_probability)
  answer, answer_fitness, answer_p = _answer(fittest, archive_p, archive_g, original, problem, run.params.parsimony,
                                             rule=schedule.answer)
  at = jnp.where(done, schedule.generations + 1, told.generation - 1)  # out of bounds: dropped
  r = jnp.arange(done.shape[0])
  # Patience counts populations in which the answer the search returns did not change (under either rule
  # it only changes for a better one), so a search stops once that answer has settled.
  changed = initial | (answer != run.answer).any(axis=-1)
  stall = jnp.where(done, run.stall, jnp.where(changed, 0, run.stall + 1))
  return run.replace(
      strategy=told, original_probability=original, answer=answer, answer_fitness=answer_fitness,
      answer_probability=answer_p, stall=stall,
      best_history=run.best_history.at[r, at].set(fittest[1], mode="drop"),
      mean_history=run.mean_history.at[r, at].set(jax.vmap(strategy.scores)(told).mean(axis=1), mode="drop"),
      archive_probability=archive_p, archive_genome=archive_g,
      archive_history=run.archive_history.at[r, at].set(archive_p, mode="drop"))


def _store_consensus(run: RunState, fitness: jax.Array, prob: jax.Array) -> RunState:
  return run.replace(consensus_fitness=fitness[:, 0], consensus_probability=prob[:, 0], consensus_done=True)


def _store_curves(run: RunState, asked: _Asked, prob: jax.Array, problem: Problem, *, restarts: int) -> RunState:
  insertion, deletion = jax.vmap(curves.curves_of)(prob, run.original_probability, asked.shown, problem.num_genes)
  lead = leads(prob.shape[0], restarts)[:, None]
  return run.replace(ranking=asked.ranking, curve_shown=asked.shown, insertion=jnp.where(lead, insertion, jnp.nan),
                     deletion=jnp.where(lead, deletion, jnp.nan), faithfulness_done=True)


def _store_flips(run: RunState, asked: _Asked, prob: jax.Array, problem: Problem) -> RunState:
  mask, single, single_p, needs = jax.vmap(pruning.combined)(run.answer, run.answer_probability, asked.candidates,
                                                             prob, asked.live)
  archive_p, archive_g = _update_archive(run, asked.candidates, prob, asked.live)
  return run.replace(
      answer=single, answer_probability=single_p, pruning_stage=jnp.int32(1),
      answer_fitness=mask_fitness(single_p, single, run.params.parsimony, problem.num_genes),
      pruning_mask=jnp.where(needs[:, None], mask, single), pruning_base=run.answer_probability,
      pruning_forwards=asked.live.sum(-1, dtype=jnp.int32), archive_probability=archive_p, archive_genome=archive_g)


def _store_pruned(run: RunState, asked: _Asked, prob: jax.Array, problem: Problem) -> RunState:
  evaluated = asked.live[:, 0]
  answer, answer_p = jax.vmap(pruning.settled)(run.answer, run.answer_probability, run.pruning_mask, prob[:, 0],
                                               run.pruning_base, evaluated)
  archive_p, archive_g = _update_archive(run, asked.candidates, prob, asked.live)
  return run.replace(
      answer=answer, answer_probability=answer_p, pruning_stage=jnp.int32(2),
      answer_fitness=mask_fitness(answer_p, answer, run.params.parsimony, problem.num_genes),
      pruning_forwards=run.pruning_forwards + evaluated, archive_probability=archive_p, archive_genome=archive_g)


def live_multiple(schedule: Schedule, population: int, rows: int) -> int:
  """What the live count of every step of ``rows`` rows is a multiple of (static): a population step's is P per
  unfinished row, the consensus step's the number of groups; the curves' and the pruning's vary with K, so 1 with
  either."""
  if schedule.faithfulness or schedule.prune:
    return 1
  return math.gcd(population, rows // schedule.restarts if schedule.restarts > 1 else 0)


def step(run: RunState, *, strategy: Strategy, schedule: Schedule, evaluate_batch: EvaluateBatch,
         complete_problems: Complete, differentiate: Optional[Differentiate] = None) -> RunState:
  """One population of every unfinished row (the initial one in the first step), the consensus step or the
  curve step: the phase asks, the evaluation scores every row's candidates at once, the phase stores."""
  initial = run.steps == 0
  problem = jax.lax.cond(initial, complete_problems, lambda p: p, run.problem)
  done = (run.steps > 0) & finished(run.strategy.generation, run.stall, schedule=schedule)
  restarts, pop = schedule.restarts, strategy.population_size
  asks = [lambda: _ask_population(run, problem, done, strategy=strategy, differentiate=differentiate)]
  asks += [lambda: _ask_prune_flips(run, problem, strategy=strategy),
           lambda: _ask_prune_combined(run, population_size=pop)] * schedule.prune
  asks += [lambda: _ask_consensus(run, population_size=pop, restarts=restarts)] * (restarts > 1)
  asks += [lambda: _ask_curves(run, problem, strategy=strategy, restarts=restarts)] * schedule.faithfulness
  phase = _phase(run, done, schedule=schedule)
  asked = jax.lax.switch(phase, asks)

  multiple = live_multiple(schedule, pop, done.shape[0])
  fitness, prob, targets, verdicts = evaluate_batch(asked.candidates, problem, run.params.parsimony, asked.live,
                                                    multiple)
  nonfinite = run.nonfinite | (asked.live & ~jnp.isfinite(fitness)).any(axis=1)
  problem = problem.replace(target=targets, top1=jnp.zeros_like(problem.top1))  # resolved: never again

  stores = [lambda: _tell_population(run, asked, fitness, prob, problem, done, strategy=strategy, schedule=schedule)]
  stores += [lambda: _store_flips(run, asked, prob, problem),
             lambda: _store_pruned(run, asked, prob, problem)] * schedule.prune
  stores += [lambda: _store_consensus(run, fitness, prob)] * (restarts > 1)
  stores += [lambda: _store_curves(run, asked, prob, problem, restarts=restarts)] * schedule.faithfulness
  run = jax.lax.switch(phase, stores)
  verdict = jnp.where(initial, verdicts, run.original_verdict)  # the full image's: candidate 0 of step 0
  return run.replace(problem=problem, nonfinite=nonfinite, original_verdict=verdict, steps=run.steps + 1)


def advance(run: RunState, stop_at: jax.Array, *, strategy: Strategy, schedule: Schedule,
            evaluate_batch: EvaluateBatch, complete_problems: Complete,
            differentiate: Optional[Differentiate] = None) -> RunState:
  """Steps until ``stop_at`` steps are done in all (a traced bound: one program serves every segment) or the
  search is complete."""
  def keep_going(r):
    return (r.steps < stop_at) & ~search_complete(r, schedule=schedule)

  body = lambda r: step(r, strategy=strategy, schedule=schedule, evaluate_batch=evaluate_batch,
                        complete_problems=complete_problems, differentiate=differentiate)
  run = jax.lax.while_loop(keep_going, body, run)
  return run.replace(importance=jax.vmap(strategy.importance)(run.strategy))
