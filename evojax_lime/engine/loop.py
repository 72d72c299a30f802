"""The compiled generation loop over a batch of images, resumable at any generation.

Each step proposes every image's candidates, evaluates all of them as one flat list of rows (the only place
the classifier is traced) and accepts them. The loop runs until ``stop_at`` steps are done or every image has
finished, so the host can run a whole search in one call, or drive it in segments (progress, pause, saving
the state) with the same compiled program and the same result.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.strategies.importance import gene_importance
from evojax_lime.evaluation.fitness import Problem
from evojax_lime.engine.state import RunState
from evojax_lime.strategies.ga import accept, blank_states, propose

# (candidates (B, P, L), problems (B), parsimony (B,)) -> ((B, P) fitness, (B, P) probability, (B,) targets)
EvaluateBatch = Callable[[jax.Array, Problem, jax.Array], tuple[jax.Array, jax.Array, jax.Array]]
# problems (B) -> problems (B) with superpixels, K and fill filled in (run once, in the first step)
Complete = Callable[[Problem], Problem]


def start(keys: Any, problems: Problem, params: GAParams, *, config: ELimeConfig, length: int) -> RunState:
  """The state before the first step, for ``B`` images (raw keys ``(B, 2)``, every leaf with a leading ``B``)."""
  num_images = keys.shape[0]
  history = np.full((num_images, config.generations + 1), np.nan, np.float32)
  return RunState(ga=blank_states(keys, config=config, length=length), problem=problems, params=params,
                  original_probability=np.full((num_images,), np.nan, np.float32), best_history=history,
                  mean_history=history.copy(), nonfinite=np.zeros((num_images,), bool),
                  importance=np.zeros((num_images, length), np.float32), steps=np.int32(0))


def finished(generation: Any, stall: Any, steps: Any, *, config: ELimeConfig) -> Any:
  """``(B,)`` bool: the image has run all its generations or stopped early (numpy in, numpy out)."""
  done = generation >= config.generations
  if config.patience is not None:
    done = done | (stall >= config.patience)
  return (steps > 0) & done


def step(run: RunState, *, config: ELimeConfig, evaluate_batch: EvaluateBatch, complete: Complete) -> RunState:
  """One generation of every image that has not finished (the initial population in the first step)."""
  initial = run.steps == 0
  problem = jax.lax.cond(initial, complete, lambda p: p, run.problem)
  keys, candidates = jax.vmap(lambda s, p, a: propose(s, p, a, config=config, initial=initial))(
      run.ga, problem, run.params)
  fitness, prob, targets = evaluate_batch(candidates, problem, run.params.parsimony)
  ga = jax.vmap(lambda s, k, c, f, p: accept(s, k, c, f, p, config=config))(run.ga, keys, candidates, fitness, prob)
  done = finished(run.ga.generation, run.ga.stall, run.steps, config=config)
  ga = jax.tree_util.tree_map(lambda old, new: jnp.where(done.reshape((-1,) + (1,) * (new.ndim - 1)), old, new),
                              run.ga, ga)
  rows = jnp.arange(done.shape[0])
  at = jnp.where(done, config.generations + 1, ga.generation)  # out of bounds: dropped
  return RunState(
      ga=ga, problem=problem.replace(target=targets), params=run.params,
      original_probability=jnp.where(initial, prob[:, 0], run.original_probability),
      best_history=run.best_history.at[rows, at].set(ga.best_fitness, mode="drop"),
      mean_history=run.mean_history.at[rows, at].set(ga.fitness.mean(axis=1), mode="drop"),
      nonfinite=run.nonfinite | (~done & ~jnp.isfinite(fitness).all(axis=1)), importance=run.importance,
      steps=run.steps + 1)


def advance(run: RunState, stop_at: jax.Array, *, config: ELimeConfig, evaluate_batch: EvaluateBatch,
            complete: Complete) -> RunState:
  """Steps until ``stop_at`` steps are done in all (a traced bound: one program serves every segment) or
  every image has finished."""
  keep_going = lambda r: (r.steps < stop_at) & ~finished(r.ga.generation, r.ga.stall, r.steps, config=config).all()
  body = lambda r: step(r, config=config, evaluate_batch=evaluate_batch, complete=complete)
  run = jax.lax.while_loop(keep_going, body, run)
  return run.replace(importance=jax.vmap(gene_importance)(run.ga.population, run.ga.fitness))
