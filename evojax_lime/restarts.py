"""Restarts: R independent runs of one image in one program, merged into a consensus explanation.

Different seeds keep different superpixels. Running R seeds together and keeping what most of them agree on
gives an answer that depends less on the seed, and the runs' agreement (mean pairwise Jaccard of their
selected sets, :func:`evojax_lime.metrics.stability`) says how far to trust it.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from evojax_lime import metrics
from evojax_lime.config import GAParams
from evojax_lime.explanation import Explanation
from evojax_lime.evaluation.fitness import Classifier, evaluate
from evojax_lime.engine.seeds import prng_key


def check_restarts(restarts: Any) -> int:
  if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 1:
    raise ValueError(f"restarts must be an integer >= 1, got {restarts!r}")
  return int(restarts)


def restart_keys(seed: Any, restarts: int) -> jax.Array:
  """The R runs' keys: ``jax.random.split(prng_key(seed), R)`` (an integer seed s gives ``PRNGKey(s)`` first).

  Returns raw ``(R, 2)`` uint32 keys for an integer or raw-key seed, typed ``(R,)`` keys for a typed key.
  """
  return jax.random.split(prng_key(seed), restarts)


def consensus_genome(genomes: Any) -> np.ndarray:
  """Superpixels kept in at least half of the runs: ``(R, K)`` bool -> ``(K,)`` bool.

  Ties (kept in exactly R / 2 runs, R even) are kept: the consensus errs towards showing a superpixel.
  """
  genomes = np.asarray(genomes, bool)
  if genomes.ndim != 2 or genomes.shape[0] < 1:
    raise ValueError(f"consensus needs (R, K) genomes with R >= 1, got shape {genomes.shape}")
  return 2 * genomes.sum(0) >= genomes.shape[0]


@functools.lru_cache(maxsize=64)
def _fitness_program(classifier: Classifier, *, logits: bool, dtype: str):
  """Jitted engine fitness of a few genomes of one image: ``(genomes (N, L), problem, params) -> (fitness, p)``."""
  return jax.jit(functools.partial(evaluate, classifier=classifier, logits=logits, dtype=jnp.dtype(dtype)))


def _held(histories: Sequence[np.ndarray]) -> np.ndarray:
  """``(R, T)`` histories of different lengths, each run's last value held after it stopped."""
  length = max(len(h) for h in histories)
  return np.stack([np.pad(h, (0, length - len(h)), mode="edge") for h in histories])


def consensus(runs: Sequence[Explanation], classifier: Classifier, *, parsimony: float, length: int, seed: Any,
              logits: bool = False) -> Explanation:
  """The consensus of R runs of one image (same superpixels, fill and target), re-evaluated.

  Args:
    runs: the R runs' explanations.
    classifier: the classifier the runs explained.
    parsimony: the runs' parsimony (the consensus' fitness uses it).
    length: static genome length the consensus is padded to (one compiled evaluation per image size and length).
    seed: the seed the run keys were split from.
    logits: the classifier returns logits.

  Returns:
    An :class:`Explanation` whose ``genome`` is :func:`consensus_genome` of the runs, with its own
    probability and fitness; ``importance`` is the runs' mean; ``fitness_history`` is the best over the runs
    and ``mean_fitness_history`` their mean at each generation (a run that stopped early holds its last
    value); evaluations are the runs' total, plus one for the consensus; ``stability`` is the runs' mean
    pairwise Jaccard (1.0 for one run); ``runs`` holds the runs.
  """
  t0 = time.perf_counter()
  first = runs[0]
  genomes = np.stack([r.genome for r in runs])
  genome = consensus_genome(genomes)
  padded = np.zeros((1, length), bool)
  padded[0, :genome.shape[0]] = genome
  params = GAParams(*(jnp.float32(0.0),) * 3, jnp.float32(parsimony))
  fit, prob = _fitness_program(classifier, logits=logits, dtype=first.config.dtype)(
      jnp.asarray(padded), metrics.as_problem(first), params)
  stability = 1.0 if len(runs) == 1 else float(metrics.stability(genomes))
  best = _held([r.fitness_history for r in runs])
  mean = _held([r.mean_fitness_history for r in runs])
  return dataclasses.replace(
      first, genome=genome, importance=np.mean([r.importance for r in runs], axis=0).astype(np.float32),
      explanation_probability=float(prob[0]), best_fitness=float(fit[0]), fitness_history=best.max(0),
      mean_fitness_history=mean.mean(0), generations_run=max(r.generations_run for r in runs),
      num_evaluations=sum(r.num_evaluations for r in runs) + 1,
      wall_time=first.wall_time + time.perf_counter() - t0, seed=seed, stability=stability, runs=tuple(runs))


def _repeat(values: list, restarts: int) -> list:
  return [v for v in values for _ in range(restarts)]


def host_segments(images: Sequence[Any], segments: Any, config: Any) -> Any:
  """Each image's superpixels cut once on the host (``segments`` as given when given, or when the program cuts
  them): a search that repeats an image then segments it once, not once per row."""
  from evojax_lime.engine.checks import as_image
  from evojax_lime.segmentation.superpixels import segment
  if segments is not None or config.segments_in_program:
    return segments
  return [segment(as_image(img), config.segmentation, dict(config.segmentation_params)) for img in images]


def explain_restarts(images: Sequence[Any], classifier: Classifier, *, restarts: int, targets: Any, segments: Any,
                     config: Any, seeds: Any, logits: bool, baselines: Any, params: Any,
                     progress: Any) -> list[Explanation]:
  """``B`` images x ``restarts`` runs as one :class:`~evojax_lime.engine.search.Search` (rows image-major), merged into
  one consensus :class:`Explanation` per image; run r of image b uses ``restart_keys(seeds[b], R)[r]``."""
  from evojax_lime.engine.search import Search, _per_image  # deferred: search imports the engine, this module is light
  from evojax_lime.engine.seeds import per_image_seeds
  n = len(images)
  seeds = per_image_seeds(seeds, n)
  keys = [k for s in seeds for k in restart_keys(s, restarts)]
  segments = host_segments(images, segments, config)
  per = lambda value, name: None if value is None else _repeat(_per_image(value, n, name), restarts)
  rows_params = params
  if params is not None and not (isinstance(params, GAParams) and np.ndim(params.parsimony) == 0):
    if isinstance(params, GAParams):
      rows_params = jax.tree_util.tree_map(lambda x: np.repeat(np.asarray(x, np.float32), restarts), params)
    else:
      rows_params = _repeat(_per_image(params, n, "params"), restarts)
  search = Search(_repeat(list(images), restarts), classifier, targets=per(targets, "targets"),
                  segments=per(segments, "segments"), config=config, seeds=keys, logits=logits,
                  baselines=per(baselines, "baselines"), params=rows_params)
  runs = search.advance(progress=progress).explanations()
  parsimony = np.asarray(jax.device_get(search.state.params.parsimony))
  return [consensus(runs[i * restarts:(i + 1) * restarts], classifier, parsimony=float(parsimony[i * restarts]),
                    length=search.length, seed=seeds[i], logits=logits) for i in range(n)]
