"""What the comparison studies share: photos, models, equal-budget configs and scoring an explanation."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

import evojax_lime as el
from evojax_lime import metrics

# skimage.data photos of the paper's kind (one clear object each); stereo_motorcycle gives (left, right, disparity).
PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "stereo_motorcycle")
# Further skimage.data images that load offline, of other kinds: astronomy, microscopy, a fundus photo, grayscale
# photos (made RGB) and a synthetic colour wheel. Accepted by load_photos; not in PHOTOS, so paper_study's "all"
# keeps the paper's kind.
EXTRA_PHOTOS = ("hubble_deep_field", "immunohistochemistry", "retina", "camera", "coins", "clock", "colorwheel",
                "moon")
DEFAULT_MODEL = "efficientnet_lite0"
TINY_SIZE = 32


@dataclasses.dataclass(frozen=True)
class ModelEntry:
  """A classifier under study: ``classifier`` maps ``(N, S, S, 3)`` in [0, 1] to probabilities ``(N, C)``."""

  name: str
  classifier: Callable[[jax.Array], jax.Array]
  input_size: int
  class_names: Optional[Sequence[str]] = None

  def class_name(self, index: int) -> str:
    return self.class_names[index] if self.class_names else str(index)


def square(image: np.ndarray, size: int) -> np.ndarray:
  """Centre square crop resized to ``size`` x ``size``, uint8 RGB."""
  img = Image.fromarray(np.asarray(image)).convert("RGB")
  side = min(img.size)
  left, top = (img.width - side) // 2, (img.height - side) // 2
  return np.asarray(img.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC))


def load_photos(names: Sequence[str], size: int, images_dir: Optional[str] = None) -> list[tuple[str, np.ndarray]]:
  """``skimage.data`` photos by name plus every image file in ``images_dir``, each ``(size, size, 3)`` uint8."""
  from skimage import data
  photos = []
  for name in names:
    if name not in PHOTOS + EXTRA_PHOTOS:
      raise ValueError(f"unknown photo {name!r}; choose from {', '.join(PHOTOS + EXTRA_PHOTOS)} "
                       "(or pass --images DIR)")
    image = getattr(data, name)()
    photos.append((name, square(image[0] if name == "stereo_motorcycle" else image, size)))
  if images_dir:
    files = sorted(p for p in Path(images_dir).iterdir()
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"))
    if not files:
      raise ValueError(f"--images {images_dir}: no image files found")
    photos += [(p.stem, square(np.asarray(Image.open(p).convert("RGB")), size)) for p in files]
  if not photos:
    raise ValueError("no photos selected")
  return photos


def lime_config(config: el.ELimeConfig) -> el.ELimeConfig:
  """``config``'s image options (segmentation, fill, dtype, chunk) for ``explain_lime``, whose budget is its
  sample count and which refuses the GA's options. Without the in-program curves: the benchmarks score every
  method themselves (:func:`score`), and lime's time is its samples and fit, as recorded before."""
  from evojax_lime.strategies import STRATEGIES
  searched = set().union(*(cls.options for cls in STRATEGIES.values())) | {"population_size", "generations"}
  defaults = el.ELimeConfig()
  return dataclasses.replace(config, faithfulness=False, **{f: getattr(defaults, f) for f in searched})


def load_model(spec: str, *, dtype: str = "float32") -> ModelEntry:
  """``"tiny"`` (a random 10-class CNN on 32 x 32 inputs, for smoke tests), ``"efficientnet_lite0"`` (pretrained)
  or ``"NAME=CHECKPOINT"`` (a ``models`` architecture with a torchvision checkpoint or ``.msgpack``; ``NAME=random``:
  its seeded random initialisation), computing in ``dtype``."""
  if spec == "tiny":
    from benchmarks.throughput import make_classifier
    return ModelEntry("tiny", make_classifier("tiny", TINY_SIZE, "float32"), TINY_SIZE)
  model = flax_model(spec, dtype=dtype)
  return ModelEntry(model.name, model.classifier(), model.input_size, tuple(model.class_names))


def flax_model(spec: str, *, dtype: str = "float32") -> Any:
  """The ``models.Model`` of a ``"NAME"`` (pretrained), ``"NAME=CHECKPOINT"`` or ``"NAME=random"`` spec."""
  import models
  name, _, weights = spec.partition("=")
  return models.create(name, None if weights == "random" else weights or "pretrained", dtype=jnp.dtype(dtype))


def config_args(parser: argparse.ArgumentParser) -> None:
  """Flags for the engine options the studies vary; defaults are ``ELimeConfig``'s."""
  d = el.ELimeConfig()
  g = parser.add_argument_group("engine options (defaults: ELimeConfig's)")
  g.add_argument("--population", type=int, default=d.population_size)
  g.add_argument("--generations", type=int, default=d.generations)
  g.add_argument("--init-prob", type=float, default=d.init_prob, help="probability an initial gene is 1")
  g.add_argument("--tournament-size", type=int, default=d.tournament_size)
  g.add_argument("--num-elite", type=int, default=d.num_elite)
  g.add_argument("--crossover", default=d.crossover, choices=el.config.CROSSOVERS)
  g.add_argument("--crossover-rate", type=float, default=d.crossover_rate)
  g.add_argument("--mutation-rate", type=float, default=d.mutation_rate, help="per gene; default 1/K")
  g.add_argument("--parsimony", type=float, default=d.parsimony)
  g.add_argument("--fill", default=d.fill, choices=el.config.FILLS)
  g.add_argument("--segmentation", default=d.segmentation, choices=el.config.SEGMENTATIONS)
  g.add_argument("--chunk-size", type=int, default=None, help="images per classifier call (default: automatic)")


def config_from(args: argparse.Namespace) -> el.ELimeConfig:
  """The engine options the flags give; every generation runs (no ``patience``), so a study's budget is the
  one it names."""
  return el.ELimeConfig(population_size=args.population, generations=args.generations, init_prob=args.init_prob,
                        tournament_size=args.tournament_size, num_elite=args.num_elite, crossover=args.crossover,
                        crossover_rate=args.crossover_rate, mutation_rate=args.mutation_rate,
                        parsimony=args.parsimony, fill=args.fill, segmentation=args.segmentation,
                        chunk_size=args.chunk_size, patience=None)


def describe(config: el.ELimeConfig) -> str:
  """The options a study varies, in one short line."""
  mutation = "1/K" if config.mutation_rate is None else f"{config.mutation_rate:g}"
  return (f"population {config.population_size}, generations {config.generations}, init {config.init_prob:g}, "
          f"{config.crossover} crossover "
          f"{config.crossover_rate:g}, mutation {mutation}, {config.num_elite} elites, tournament "
          f"{config.tournament_size}, parsimony {config.parsimony:g}, fill {config.fill}, {config.segmentation}")


def equal_budget(config: el.ELimeConfig, evaluations: int) -> el.ELimeConfig:
  """``config`` with population x (generations + 1) == ``evaluations``, population as close to ``config``'s as
  a divisor of ``evaluations`` allows (and >= 4, so tournaments and elites still work), and no early stop, so
  every evaluation is spent."""
  divisors = [p for p in range(4, evaluations // 2 + 1) if evaluations % p == 0]
  if not divisors:
    raise ValueError(f"cannot split {evaluations} evaluations into a population >= 4 and >= 1 generation")
  population = min(divisors, key=lambda p: (abs(p - config.population_size), -p))
  return dataclasses.replace(config, population_size=population, generations=evaluations // population - 1,
                             num_elite=min(config.num_elite, population - 1), patience=None)


def score(explanation: Any, genome: np.ndarray, ranking: np.ndarray, classifier: Callable, *,
          config: el.ELimeConfig, steps: int) -> dict[str, float]:
  """Explanation probability of ``genome`` and insertion/deletion AUC of ``ranking``, on ``explanation``'s image,
  superpixels, fill and target, through the engine's chunked evaluation."""
  problem = metrics.as_problem(explanation)
  k = int(problem.num_genes)
  steps = min(steps, k)
  chunk = metrics.chunk_size_for(classifier, config, image_shape=explanation.image.shape, rows=2 * (steps + 1))
  prob = metrics.probability_program(classifier, logits=False, chunk_size=chunk, dtype=config.dtype)
  curves = metrics.curves_program(classifier, logits=False, chunk_size=chunk, dtype=config.dtype, steps=steps)
  c = curves(jnp.asarray(ranking, jnp.int32), problem)
  return {"explanation_probability": float(prob(jnp.asarray(genome, bool)[None], problem)[0]),
          "insertion_auc": float(c.insertion_auc), "deletion_auc": float(c.deletion_auc),
          "kept": int(np.sum(genome)), "sparsity": float(metrics.sparsity(jnp.asarray(genome, bool))),
          "num_segments": k}


def numpy_classifier(classifier: Callable) -> Callable[[np.ndarray], np.ndarray]:
  """The classifier as a numpy function (what reference ``lime`` calls), jit-compiled per batch shape."""
  jitted = jax.jit(classifier)
  return lambda images: np.asarray(jitted(jnp.asarray(images, jnp.float32)), np.float64)


def progress(message: str) -> None:
  print(message, file=sys.stderr, flush=True)
