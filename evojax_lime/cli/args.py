"""The command line's grammar: subcommands, options, and the :class:`ELimeConfig` they describe."""
from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any, Optional, Sequence

from evojax_lime.cli.errors import usage_error
from evojax_lime.config import ANSWERS, CROSSOVERS, DTYPES, FILLS, SEEDINGS, SEGMENTATIONS, ELimeConfig

PROG = "evojax-lime"
DEFAULT_MODEL = "efficientnet_lite0"
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(ELimeConfig)}

# command-line dest -> ELimeConfig field; the one table both parsing and error messages read.
CONFIG_OPTIONS = {
    "population": "population_size",
    "generations": "generations",
    "segmentation": "segmentation",
    "fill": "fill",
    "parsimony": "parsimony",
    "crossover": "crossover",
    "crossover_rate": "crossover_rate",
    "mutation_rate": "mutation_rate",
    "tournament_size": "tournament_size",
    "elite": "num_elite",
    "patience": "patience",
    "chunk_size": "chunk_size",
    "dtype": "dtype",
    "seeding": "seeding",
    "sizes": "sizes",
    "answer": "answer",
    "prune": "prune",
    "faithfulness": "faithfulness",
}

_DESCRIPTION = """\
Explain an image classifier's prediction with E-LIME: the photo is cut into superpixels and a genetic
algorithm, compiled end to end with JAX, searches for the few superpixels that on their own keep the
classifier's belief in the predicted (or --target) class."""

_EXPLAIN_EPILOG = """\
outputs, per image, in --out (each written as soon as its batch ends):
  <stem>_overlay.png      the photo with the kept superpixels shown and the rest dimmed (longest side at
                          most 1024 pixels unless --full-resolution)
  <stem>_explanation.png  the masked image the classifier saw
  <stem>_fitness.png      best and mean fitness per generation
  <stem>_sizes.png        the most probable masks of at most 3, 5 and 10 superpixels the search found, with
                          their probabilities (sizes below the photo's superpixel count; not with
                          --objective pareto, whose strip shows sizes along its front)
  <stem>_front.png, <stem>_strip.png  with --objective pareto: the probability-vs-size front and the
                          explanations at a few sizes along it
  <stem>.json             class, probabilities, scores, kept superpixels, fitness history, options, timings
and for the whole run:
  summary.csv, summary.json  one row per photo: name, class, p before and after, kept, K, seconds, error
  index.html                 the same with each overlay and the scores, in one self-contained page sortable by
                             column; a photo's name opens its detail view (its pictures and curves, top-5
                             classes, scores and what they mean)
a file this tool did not write is never replaced: a photo whose output name is taken gets another stem
(cat-2_overlay.png), and the run's files become summary-2.* / index-2.html (the tool lists its own files
in .evojax-lime.files in the output folder)

batches: photos are resized to the model's input and explained --batch-size at a time in one compiled program.
By default a batch holds 256 // population photos on a CPU and 4096 // population on an accelerator (1 to 64),
so that a generation evaluates about that many masked images; the batches of a run are made equal in size.

resume: --resume skips each photo whose <stem>.json in the output folder records the same photo (SHA-256 of
its file) and the same options (model, weights, GA options, seed, target, overlay size); the others are
explained and their files replaced. With --out DIR it resumes in DIR, without --out in the newest folder
under evojax-lime-out/.

exit status: 0 all images explained, 1 something failed while running, 2 a wrong command line.

examples:
  evojax-lime explain                          # a bundled photo of a cat
  evojax-lime explain photos/ --target tabby --generations 80
  evojax-lime explain dog.jpg --model efficientnet_lite2 --segmentation slic --fill blur"""


def _layer_counts(text: str) -> list[int]:
  """argparse type: one layer count, or a strictly increasing comma-separated list of them (a cascade)."""
  counts = [_positive(part) for part in text.split(",")]
  if any(b <= a for a, b in zip(counts, counts[1:])):
    raise argparse.ArgumentTypeError(f"layer counts must increase, got {text!r}")
  return counts


def _sizes(text: str) -> tuple[int, ...]:
  """argparse type: comma-separated integers >= 1 (ELimeConfig checks that they are distinct)."""
  return tuple(_positive(part) for part in text.split(","))


def _positive(text: str) -> int:
  """argparse type: an integer >= 1."""
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
  if value < 1:
    raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
  return value


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
  """Keeps paragraphs as written and shows defaults, except the meaningless ``None`` / ``False`` ones."""

  def _get_help_string(self, action: argparse.Action) -> Optional[str]:
    if any(action.default is d for d in (None, False, argparse.SUPPRESS)) or "%(default)" in (action.help or ""):
      return action.help
    return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
  """An argparse parser whose errors are one line and exit status 2, never a usage dump."""

  def error(self, message: str):
    raise usage_error(f"{message} (see {self.prog} --help)")


def _explain_parser(sub: Any) -> None:
  p = sub.add_parser("explain", help="explain photos (default: a bundled photo of a cat)",
                     description=_DESCRIPTION, epilog=_EXPLAIN_EPILOG, formatter_class=_Formatter)
  p.add_argument("images", nargs="*", metavar="IMAGE",
                 help="photos, or folders of photos (not searched recursively); none: a bundled photo of a cat")

  m = p.add_argument_group("model")
  m.add_argument("--model", default=DEFAULT_MODEL, metavar="NAME",
                 help="classifier to explain (see: evojax-lime models)")
  m.add_argument("--weights", default="pretrained", metavar="PATH|pretrained|torchvision",
                 help="'pretrained' for the bundled weights, 'torchvision' for torchvision's checkpoint in torch's "
                      "cache ($TORCH_HOME/hub/checkpoints), or a torch checkpoint (.pth/.pt) or .msgpack file")
  m.add_argument("--dtype", default=_DEFAULTS["dtype"], choices=DTYPES, help="precision of the classifier's forward")
  m.add_argument("--target", metavar="CLASS",
                 help="class to explain, by index (e.g. 281) or name (e.g. tabby); default: the top-1 class")

  g = p.add_argument_group("genetic algorithm")
  g.add_argument("--population", type=int, default=_DEFAULTS["population_size"], metavar="N",
                 help="masks per generation")
  g.add_argument("--generations", type=int, default=_DEFAULTS["generations"], metavar="G",
                 help="generations after the random initial one")
  g.add_argument("--segmentation", default=_DEFAULTS["segmentation"], choices=SEGMENTATIONS,
                 help="how the photo is cut into superpixels")
  g.add_argument("--fill", default=_DEFAULTS["fill"], choices=FILLS, help="what hidden superpixels show")
  g.add_argument("--parsimony", type=float, default=_DEFAULTS["parsimony"], metavar="X",
                 help="fitness = p(class | kept superpixels) - X * (fraction kept)")
  g.add_argument("--seeding", default=_DEFAULTS["seeding"], choices=SEEDINGS,
                 help="the GA's start: greedy (each superpixel kept alone and removed alone, then a greedy "
                      "chain by insertion), occlusion (each superpixel removed in turn, then the prefixes of "
                      "that ranking), sizes (forwards spent on the --sizes: each superpixel kept alone, then "
                      "exchange moves at each size) or random (the paper's)")
  g.add_argument("--sizes", type=_sizes, default=_DEFAULTS["sizes"], metavar="K,K,...",
                 help="mask sizes --seeding sizes searches (distinct, comma-separated)")
  g.add_argument("--answer", default=_DEFAULTS["answer"], choices=ANSWERS,
                 help="the mask written: fittest (best fitness, the paper's), sufficient (the smallest mask the "
                      "search found more probable than the whole photo; the fittest where there is none) or knee "
                      "(the smallest mask within 0.05 of the most probable one)")
  g.add_argument("--prune", action="store_true", default=_DEFAULTS["prune"],
                 help="after the search, drop each kept superpixel whose removal lowers p by at most 0.02 and add "
                      "each one whose addition raises it by more (at most one population and one more forward)")
  g.add_argument("--crossover", default=_DEFAULTS["crossover"], choices=CROSSOVERS, help="recombination operator")
  g.add_argument("--crossover-rate", type=float, default=_DEFAULTS["crossover_rate"], metavar="X",
                 help="probability that two parents are recombined")
  g.add_argument("--mutation-rate", type=float, metavar="X",
                 help="per-superpixel bit-flip probability (default: 1 / number of superpixels)")
  g.add_argument("--tournament-size", type=int, default=_DEFAULTS["tournament_size"], metavar="N",
                 help="masks drawn per selection tournament")
  g.add_argument("--elite", type=int, default=_DEFAULTS["num_elite"], metavar="N",
                 help="best masks copied unchanged into the next generation")
  g.add_argument("--patience", type=int, metavar="N",
                 help="stop after N generations in which the answer did not change (default: run all generations)")
  g.add_argument("--chunk-size", type=int, metavar="N",
                 help="masked images per classifier call, to bound memory (default: fit a share of the device's "
                      "total memory)")
  g.add_argument("--restarts", type=_positive, default=1, metavar="R",
                 help="R independent runs per photo in one program; their consensus is written, with its stability "
                      "(mean pairwise Jaccard of the runs' selections) in the record, the summary and the report")
  g.add_argument("--objective", default="single", choices=("single", "pareto"),
                 help="single: one explanation per photo (fitness with --parsimony); pareto: the whole "
                      "probability-vs-size front (NSGA-II), its plot and a strip of explanations at a few sizes")
  g.add_argument("--strategy", default="ga", choices=("ga", "kernelshap", "extremal"),
                 help="with --objective single, the search on the same superpixels, fill and compiled evaluation: "
                      "ga (E-LIME), kernelshap (KernelSHAP: importance holds the Shapley values) or extremal "
                      "(masks of --population areas optimised by gradient; a backward pass counts as its cost "
                      "in forwards)")
  g.add_argument("--seed", type=int, default=0, metavar="S", help="random seed; a run is a function of it")

  s = p.add_argument_group("scores (see docs/cli.md)")
  s.add_argument("--no-faithfulness", dest="faithfulness", action="store_false",
                 help="skip the insertion and deletion curves of each answer (one population's forwards at most)")
  s.add_argument("--sanity", type=_layer_counts, metavar="LAYERS",
                 help="explain each photo again with the model's last LAYERS layers re-initialised, and score the "
                      "rank correlation of the two importances (costs a second search); a list such as 1,3,6 is "
                      "the cascade: one more search per depth, the record's sanity_cascade has each")
  s.add_argument("--robustness", action="store_true",
                 help="explain each photo also under two other segmentations and another fill, and score the mean "
                      "pixel agreement of the answers (costs three more searches, in the same program)")
  g.add_argument("--cache-dir", metavar="DIR",
                 help="keep compiled programs in DIR so later runs with the same shapes skip compilation "
                      "(default: $XDG_CACHE_HOME/evojax-lime, or ~/.cache/evojax-lime)")
  g.add_argument("--no-cache", action="store_true", help="compile every program afresh and keep none")

  o = p.add_argument_group("many photos and output")
  o.add_argument("--batch-size", type=_positive, metavar="N",
                 help="photos per compiled batch (default: automatic, see 'batches' below)")
  o.add_argument("--resume", action="store_true",
                 help="skip photos already explained with the same options in the output folder")
  o.add_argument("--full-resolution", action="store_true",
                 help="draw the overlay at the photo's own size (default: longest side at most 1024 pixels)")
  o.add_argument("--out", metavar="DIR", help="folder for the outputs (default: a new evojax-lime-out/<time>)")
  o.add_argument("--quiet", action="store_true", help="no progress bar or status lines on stderr")
  p.set_defaults(command="explain")


def build_parser() -> argparse.ArgumentParser:
  """The ``evojax-lime`` parser with its ``explain`` and ``models`` subcommands."""
  from evojax_lime import __version__

  parser = _Parser(prog=PROG, description=_DESCRIPTION, formatter_class=_Formatter)
  parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
  sub = parser.add_subparsers(title="commands", metavar="COMMAND")
  _explain_parser(sub)
  sub.add_parser("models", help="list the classifiers and which have bundled weights",
                 description="List the classifiers --model accepts and which have pretrained weights installed.",
                 formatter_class=_Formatter).set_defaults(command="models")
  return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
  """Parses ``argv``; a wrong command line raises a usage :class:`CliError`."""
  return build_parser().parse_args(argv)


def config_from_args(args: argparse.Namespace) -> ELimeConfig:
  """The :class:`ELimeConfig` the options describe; a nonsensical value raises a usage error naming its option."""
  values = {field: getattr(args, dest) for dest, field in CONFIG_OPTIONS.items()}
  try:
    return ELimeConfig(**values)
  except ValueError as err:
    # ELimeConfig names the field first; point at the option the person actually typed.
    field = str(err).split(" ", 1)[0]
    option = next((d for d, f in CONFIG_OPTIONS.items() if f == field), None)
    prefix = f"--{option.replace('_', '-')}: " if option else ""
    raise usage_error(f"{prefix}{err}") from None


def score_options(args: argparse.Namespace) -> dict:
  """The optional scores asked for, as ``--resume`` compares them."""
  return {"sanity_layers": args.sanity, "robustness": args.robustness}


def check_objective(args: argparse.Namespace, config: ELimeConfig) -> None:
  """Refuses options the chosen objective's search would ignore (``--objective pareto --elite 4``), naming the
  options as typed, before any work."""
  from evojax_lime.engine.search import check_restarts, strategy_for
  if args.objective == "pareto" and args.strategy != "ga":
    raise usage_error(f"--objective pareto: --strategy {args.strategy} has no front; the front is NSGA-II's")
  if args.objective == "pareto":
    scored = [name for name, given in (("--sanity", args.sanity is not None), ("--robustness", args.robustness)) if given]
    if scored:
      verb = "scores" if len(scored) == 1 else "score"
      raise usage_error(f"--objective pareto: {' and '.join(scored)} {verb} one answer; a front has none")
  try:
    check_restarts(args.restarts, strategy_for("nsga2" if args.objective == "pareto" else args.strategy, config))
  except ValueError as err:
    typed = {field: f"--{dest.replace('_', '-')}" for dest, field in CONFIG_OPTIONS.items()}
    typed["restarts"] = "--restarts"
    message = re.sub(r"\b\w+\b", lambda m: typed.get(m.group(0), m.group(0)), str(err))
    chosen = f"--objective {args.objective}" if args.objective == "pareto" else f"--strategy {args.strategy}"
    raise usage_error(f"{chosen}: {message}") from None

