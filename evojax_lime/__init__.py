"""evojax-lime: explain image classifiers by evolving superpixel masks (E-LIME), compiled end to end in JAX.

Data flow: image -> superpixels -> genomes -> masked batch -> classifier -> fitness -> selection -> next genomes.

The names below are loaded on first use (PEP 562): ``import evojax_lime`` costs no JAX import, so a command
line that only prints its help, or a script that reads a result, starts at once; ``evojax_lime.explain`` and the
rest import what they need the first time they are read.
"""
from __future__ import annotations

import importlib
from typing import Any

from evojax_lime.versions import __version__  # noqa: F401

# name -> the module that defines it (a module itself where the name is a submodule).
_LAZY = {
    "metrics": "evojax_lime.metrics",
    "operators": "evojax_lime.strategies.operators",
    "LimeExplanation": "evojax_lime.baselines.lime",
    "explain_lime": "evojax_lime.baselines.lime",
    "lime_weights": "evojax_lime.strategies.lime_fit",
    "ELimeConfig": "evojax_lime.config",
    "GAParams": "evojax_lime.config",
    "clear_caches": "evojax_lime.engine.cache",
    "enable_compilation_cache": "evojax_lime.engine.compilation_cache",
    "Search": "evojax_lime.engine.search",
    "RunState": "evojax_lime.engine.state",
    "make_fill": "evojax_lime.evaluation.fill",
    "Problem": "evojax_lime.evaluation.fitness",
    "evaluate": "evojax_lime.evaluation.fitness",
    "host_classifier": "evojax_lime.evaluation.host",
    "masked_batch": "evojax_lime.evaluation.masking",
    "explain": "evojax_lime.explain_api",
    "explain_batch": "evojax_lime.explain_api",
    "explain_front": "evojax_lime.explain_api",
    "Explanation": "evojax_lime.explanation",
    "ParetoFront": "evojax_lime.front",
    "genome_length": "evojax_lime.segmentation.superpixels",
    "segment": "evojax_lime.segmentation.superpixels",
    "GAState": "evojax_lime.strategies.ga",
    "EvolveResult": "evojax_lime.strategies.ga_by_hand",
    "evolve": "evojax_lime.strategies.ga_by_hand",
    "generation_step": "evojax_lime.strategies.ga_by_hand",
    "init_state": "evojax_lime.strategies.ga_by_hand",
    "gene_importance": "evojax_lime.strategies.importance",
    "StudyTable": "evojax_lime.studies",
    "study": "evojax_lime.studies",
}

# The public face (what `from evojax_lime import *` gives and the docs promise). The engine's building blocks
# above (RunState, Problem, evaluate, masked_batch, init_state, ...) stay importable as attributes for code
# written against them, but are not part of it.
__all__ = ["ELimeConfig", "Explanation", "GAParams", "LimeExplanation", "ParetoFront", "Search", "StudyTable",
           "clear_caches", "enable_compilation_cache", "explain", "explain_batch", "explain_front", "explain_lime",
           "genome_length", "host_classifier", "metrics", "segment", "study"]


def __getattr__(name: str) -> Any:
  if name not in _LAZY:
    raise AttributeError(f"module 'evojax_lime' has no attribute {name!r}")
  module = importlib.import_module(_LAZY[name])
  value = module if module.__name__.rpartition(".")[2] == name else getattr(module, name)
  globals()[name] = value  # read once: later reads are plain attribute lookups
  return value


def __dir__() -> list[str]:
  return sorted(set(globals()) | set(_LAZY))
