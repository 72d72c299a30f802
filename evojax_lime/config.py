"""Options of an E-LIME run.

:class:`ELimeConfig` is frozen and hashable: it keys the cache of compiled programs. Its numeric rates travel
into the compiled program as a :class:`GAParams` pytree, so sweeping them does not recompile.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Mapping, Optional

import jax.numpy as jnp
from flax import struct

from evojax_lime.segmentation.superpixels import IN_PROGRAM, runs_in_program

SEGMENTATIONS = ("auto", "quickshift", "slic", "felzenszwalb", "grid") + IN_PROGRAM
FILLS = ("black", "mean", "image_mean", "blur")
CROSSOVERS = ("uniform", "one_point", "two_point")
SEEDINGS = ("random", "occlusion", "greedy", "sizes")
DEFAULT_SIZES = (3, 5, 10)  # the mask sizes the command line's report shows
ANSWERS = ("sufficient", "fittest", "knee")
# The search settings of ELimeConfig.paper(), pinned.
PAPER = dict(population_size=64, generations=40, init_prob=0.5, tournament_size=3, crossover="uniform",
             crossover_rate=0.9, mutation_rate=None, num_elite=2, parsimony=0.5, seeding="random", answer="fittest")
DTYPES = ("float32", "bfloat16")


@struct.dataclass
class GAParams:
  """Rates that may change between runs without recompiling (scalars, or one per row of a search).

  Attributes:
    init_prob: probability that an initial gene is 1.
    crossover_rate: probability that a pair of parents is recombined.
    mutation_rate: per-gene flip probability, whatever the image's number of superpixels K.
    parsimony: fitness penalty for keeping every superpixel.
    mutation_flips: flips per genome expected from a term that scales with the image, ``mutation_flips / K`` per
      gene (``ELimeConfig(mutation_rate=None)``: 1, so 1 / K). A gene flips with probability
      ``mutation_rate + mutation_flips / K``.
  """

  init_prob: jnp.ndarray
  crossover_rate: jnp.ndarray
  mutation_rate: jnp.ndarray
  parsimony: jnp.ndarray
  mutation_flips: jnp.ndarray = 0.0

  def gene_mutation_rate(self, num_genes: jnp.ndarray) -> jnp.ndarray:
    """The per-gene flip probability for an image of ``num_genes`` (K) superpixels."""
    return self.mutation_rate + self.mutation_flips / jnp.asarray(num_genes, jnp.float32)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ELimeConfig:
  """Everything an explanation depends on besides the image, the classifier and the seed.

  Attributes:
    population_size: individuals per generation (P).
    generations: generations after the initial population (G); evaluations = P * (G + 1). The default, 10,
      is where the default answer stopped changing on photos it was not measured on (``docs/results.md``).
    init_prob: probability that an initial gene is 1 (superpixel kept).
    tournament_size: individuals drawn per tournament; larger means stronger selection pressure.
    crossover: ``"uniform"``, ``"one_point"`` or ``"two_point"``.
    crossover_rate: probability that a pair of parents is recombined rather than copied.
    mutation_rate: per-gene bit-flip probability; ``None`` means 1 / K for an image with K superpixels.
    num_elite: best individuals copied unchanged into the next generation.
    parsimony: fitness = p(target | kept superpixels) - parsimony * (kept / K).
    fill: what hidden superpixels show: ``"black"``, ``"mean"`` (each superpixel's own mean colour, LIME's
      default), ``"image_mean"``, ``"blur"`` (a Gaussian-blurred copy); ``explain(baseline=...)`` overrides it
      with any image.
    blur_sigma: standard deviation in pixels of the ``"blur"`` fill.
    segmentation: ``"auto"`` (the default): ``"quickshift_jax"``'s superpixels, cut inside the compiled program
      on an accelerator and on the host on a CPU, where compiling them costs more than cutting them
      (:func:`~evojax_lime.segmentation.superpixels.runs_in_program`). ``"quickshift_jax"`` (LIME's quickshift
      in JAX) or ``"slic_jax"`` (SLIC in JAX) run inside the compiled program with the evolution on any device;
      ``"quickshift"`` (LIME's own), ``"slic"``, ``"felzenszwalb"``, ``"grid"`` on the host with scikit-image.
    segmentation_params: keyword arguments for the segmentation function; for quickshift (both) the defaults
      are LIME's ``kernel_size=4, max_dist=200, ratio=0.2``; ``quickshift_jax`` also takes ``max_segments``.
    genome_length: static genome length; ``None`` pads K up to a power of two (at least 16) so images with
      different K share one compiled program.
    chunk_size: individuals evaluated at once; ``None`` picks the largest chunk that fits in a share of the
      device's total memory (not its free memory, which moves from call to call and would change the compiled
      program). Bounds memory; the result does not depend on it.
    patience: stop when the answer (see ``answer``) has not changed for this many generations (``None``:
      never, the default: 2 and 3 stopped some runs right after the greedy start with larger, less probable
      answers; ``docs/results.md``, ``benchmarks/results/time_to_quality_patience_cpu.md``); under either rule
      the answer only changes for a better one.
    dtype: ``"float32"`` or ``"bfloat16"`` for the masked images fed to the classifier; fitness stays float32.
    shard: split each evaluated chunk over every device (``jax.devices()``); the result does not change.
    seeding: the GA's start. ``"greedy"`` (the default; ``benchmarks/time_to_quality.py``: masks of at most 3,
      5 and 10 superpixels as probable as lime's top-k sooner, on more photos, than the occlusion start):
      the initial population holds each superpixel kept alone, the second the image without each superpixel
      in turn, the third the prefixes of the ranking those removals give; from the second on, a third of
      each population grows a greedy chain by insertion (see :mod:`evojax_lime.strategies.operators.insertion`),
      and the GA breeds the remaining rows. ``"occlusion"``: the initial population holds the image without
      each superpixel in turn (the first P - 1), the second the prefixes of the ranking by the probability
      each removal cost (see :mod:`evojax_lime.strategies.operators.seeding`). ``"random"``: the paper's, a
      random initial population (``init_prob``); see :meth:`paper`. ``"sizes"``: spends the forwards on the
      mask sizes of ``sizes``: each superpixel kept alone (over as many populations as K needs, P - 1 a
      population), then, for each size k, the k superpixels most probable alone and exchange moves at that
      size (one kept superpixel swapped for one dropped) around the best mask of size k found so far, the
      sizes sharing every row of a population (see :mod:`evojax_lime.strategies.operators.exchange`); the
      GA breeds only the alone populations' spare rows. Small populations (8) give the first masks of each
      size after tens of forwards. Not the default: its answer misses planted evidence of other sizes.
    sizes: the mask sizes ``seeding="sizes"`` searches (distinct integers >= 1; sizes of 1, or of K or more,
      get no rows of their own); refused away from the default under another seeding, which ignores it.
    answer: which evaluated mask the search returns. ``"knee"`` (the default, chosen on
      ``benchmarks/ground_truth.py``; ``docs/design.md``): the smallest mask of 1 to K superpixels within 0.05
      of the most probable mask evaluated, where the probability-vs-size curve stops rising. ``"fittest"``: the
      genome of best fitness (the paper's; it may keep nothing). ``"sufficient"``: the smallest mask, of 1 to
      K - 1 superpixels, more probable than the full image (the most probable of its size; ties go to the
      first found); where the search found none, the fittest.
      Either way every size's best mask stays available (``Explanation.best_of_size``).
    prune: after the search, prune the answer (:mod:`evojax_lime.engine.pruning`): drop each kept superpixel
      whose removal lowers p by at most 0.02 and add each one whose addition raises it by more, in two more
      steps of the same program (at most P + 1 more forwards, counted). GA searches only.
    faithfulness: after the search, evaluate the insertion and deletion curves of the explanation's ranking of
      the superpixels in one more step of the same program (at most P - 1 more forwards; see
      :mod:`evojax_lime.evaluation.faithfulness`), for the scores of :mod:`evojax_lime.scores`. Every strategy
      is scored by these curves: those with one answer (``ga``, ``kernelshap``, ``extremal``) rank its
      superpixels first; ``nsga2`` ranks them by how often its front keeps them, weighted by p, and LIME by its
      ridge weights (``Features(ranks_by_importance=True)``).
  """

  population_size: int = 64
  generations: int = 10
  init_prob: float = 0.5
  tournament_size: int = 3
  crossover: str = "uniform"
  crossover_rate: float = 0.9
  mutation_rate: Optional[float] = None
  num_elite: int = 2
  parsimony: float = 0.5
  fill: str = "mean"
  blur_sigma: float = 8.0
  segmentation: str = "auto"
  segmentation_params: Any = ()
  genome_length: Optional[int] = None
  chunk_size: Optional[int] = None
  patience: Optional[int] = None
  dtype: str = "float32"
  shard: bool = False
  seeding: str = "greedy"
  sizes: tuple[int, ...] = DEFAULT_SIZES
  answer: str = "knee"
  prune: bool = False
  faithfulness: bool = True

  def __post_init__(self):
    params = self.segmentation_params
    if isinstance(params, Mapping):
      params = tuple(sorted(params.items()))
    object.__setattr__(self, "segmentation_params", tuple(params))
    object.__setattr__(self, "sizes", _sizes(self.sizes))
    _check_int("population_size", self.population_size, 2)
    _check_int("generations", self.generations, 0)
    _check_int("tournament_size", self.tournament_size, 1)
    _check_int("num_elite", self.num_elite, 0)
    if self.num_elite >= self.population_size:
      raise ValueError(f"num_elite must be smaller than population_size ({self.population_size}), got {self.num_elite}")
    _check_prob("init_prob", self.init_prob)
    _check_prob("crossover_rate", self.crossover_rate)
    if self.mutation_rate is not None:
      _check_prob("mutation_rate", self.mutation_rate)
    if not (isinstance(self.parsimony, (int, float)) and math.isfinite(self.parsimony) and self.parsimony >= 0):
      raise ValueError(f"parsimony must be a finite number >= 0, got {self.parsimony!r}")
    if not (isinstance(self.blur_sigma, (int, float)) and self.blur_sigma > 0):
      raise ValueError(f"blur_sigma must be > 0, got {self.blur_sigma!r}")
    _check_choice("crossover", self.crossover, CROSSOVERS)
    _check_choice("seeding", self.seeding, SEEDINGS)
    _check_choice("answer", self.answer, ANSWERS)
    if self.seeding == "sizes" and self.population_size < len(self.sizes):
      raise ValueError(f"population_size must be at least the number of sizes ({len(self.sizes)}) with "
                       f"seeding='sizes', got {self.population_size}")
    if self.sizes != DEFAULT_SIZES and self.seeding != "sizes":
      raise ValueError(f"sizes is read by seeding='sizes' only; got sizes {self.sizes} with seeding {self.seeding!r}")
    _check_choice("fill", self.fill, FILLS)
    _check_choice("segmentation", self.segmentation, SEGMENTATIONS)
    _check_choice("dtype", self.dtype, DTYPES)
    if self.genome_length is not None:
      _check_int("genome_length", self.genome_length, 2)
    if self.chunk_size is not None:
      _check_int("chunk_size", self.chunk_size, 1)
    for name in ("shard", "faithfulness", "prune"):
      if not isinstance(getattr(self, name), bool):
        raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
    if self.patience is not None:
      _check_int("patience", self.patience, 1)

  @classmethod
  def paper(cls, **options: Any) -> "ELimeConfig":
    """The paper's algorithm (Wang et al., 2022) as this project first implemented it: a random initial
    population, then the GA with these rates, whatever the defaults become; ``options`` override any field."""
    return cls(**{**PAPER, **options})

  @property
  def num_evaluations(self) -> int:
    """Classifier evaluations of a run that is not stopped early."""
    return self.population_size * (self.generations + 1)

  def ga_params(self) -> GAParams:
    f32 = lambda v: jnp.asarray(v, jnp.float32)
    one_over_k = self.mutation_rate is None
    return GAParams(f32(self.init_prob), f32(self.crossover_rate), f32(0.0 if one_over_k else self.mutation_rate),
                    f32(self.parsimony), f32(1.0 if one_over_k else 0.0))

  @property
  def segments_in_program(self) -> bool:
    """Superpixels, fill and target are computed inside the compiled program."""
    return runs_in_program(self.segmentation)


def _check_int(name: str, value: Any, low: int) -> None:
  if isinstance(value, bool) or not isinstance(value, int) or value < low:
    raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _sizes(value: Any) -> tuple[int, ...]:
  """``value`` as a sorted tuple of distinct integers >= 1 (a ValueError otherwise)."""
  if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
    raise ValueError(f"sizes must be a sequence of integers >= 1, got {value!r}")
  sizes = tuple(value)
  if not sizes or any(isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1 for k in sizes):
    raise ValueError(f"sizes must be a non-empty sequence of integers >= 1, got {value!r}")
  if len(set(sizes)) != len(sizes):
    raise ValueError(f"sizes must be distinct, got {value!r}")
  return tuple(sorted(int(k) for k in sizes))


def _check_prob(name: str, value: Any) -> None:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
    raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
  if value not in choices:
    raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
