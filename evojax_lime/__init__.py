"""evojax-lime: explain image classifiers by evolving superpixel masks (E-LIME), compiled end to end in JAX.

Data flow: image -> superpixels -> genomes -> masked batch -> classifier -> fitness -> selection -> next genomes.
"""
from evojax_lime import metrics
from evojax_lime.baselines.lime import LimeExplanation, explain_lime, lime_weights  # noqa: F401
from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.engine.cache import clear_caches
from evojax_lime.engine.compilation_cache import enable_compilation_cache
from evojax_lime.engine.search import Search
from evojax_lime.engine.state import RunState  # noqa: F401
from evojax_lime.evaluation.fill import make_fill  # noqa: F401
from evojax_lime.evaluation.fitness import Problem, evaluate  # noqa: F401
from evojax_lime.evaluation.host import host_classifier
from evojax_lime.evaluation.masking import masked_batch  # noqa: F401
from evojax_lime.explain_api import explain, explain_batch, explain_front
from evojax_lime.explanation import Explanation
from evojax_lime.front import ParetoFront
from evojax_lime.segmentation.superpixels import genome_length, segment
from evojax_lime.strategies import operators  # noqa: F401
from evojax_lime.strategies.ga import GAState  # noqa: F401
from evojax_lime.strategies.ga_by_hand import EvolveResult, evolve, generation_step, init_state  # noqa: F401
from evojax_lime.strategies.importance import gene_importance  # noqa: F401
from evojax_lime.studies import StudyTable, study
from evojax_lime.versions import __version__  # noqa: F401

# The public face (what `from evojax_lime import *` gives and the docs promise). The engine's building blocks
# imported above (RunState, Problem, evaluate, masked_batch, init_state, ...) stay importable as attributes for
# code written against them, but are not part of it.
__all__ = ["ELimeConfig", "Explanation", "GAParams", "LimeExplanation", "ParetoFront", "Search", "StudyTable",
           "clear_caches", "enable_compilation_cache", "explain", "explain_batch", "explain_front", "explain_lime",
           "genome_length", "host_classifier", "metrics", "segment", "study"]
