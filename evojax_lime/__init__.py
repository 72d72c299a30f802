"""evojax-lime: explain image classifiers by evolving superpixel masks (E-LIME), compiled end to end in JAX.

Data flow: image -> superpixels -> genomes -> masked batch -> classifier -> fitness -> selection -> next genomes.
"""
from evojax_lime import metrics
from evojax_lime.baselines.lime import LimeExplanation, explain_lime, lime_weights
from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.engine.cache import clear_caches
from evojax_lime.engine.compilation_cache import enable_compilation_cache
from evojax_lime.engine.search import Search
from evojax_lime.engine.state import RunState
from evojax_lime.evaluation.fill import make_fill
from evojax_lime.evaluation.fitness import Problem, evaluate
from evojax_lime.evaluation.host import host_classifier
from evojax_lime.evaluation.masking import masked_batch
from evojax_lime.explain import explain, explain_batch, explain_front
from evojax_lime.explanation import Explanation
from evojax_lime.front import ParetoFront
from evojax_lime.segmentation.superpixels import genome_length, segment
from evojax_lime.strategies import operators
from evojax_lime.strategies.by_hand import EvolveResult, evolve, generation_step, init_state
from evojax_lime.strategies.ga import GAState
from evojax_lime.strategies.importance import gene_importance
from evojax_lime.studies import StudyTable, study
from evojax_lime.versions import __version__

# The public face. The building blocks after the first line stay importable for code written against them.
__all__ = ["ELimeConfig", "Explanation", "GAParams", "ParetoFront", "Search", "StudyTable", "clear_caches",
           "enable_compilation_cache", "explain", "explain_batch", "explain_front", "explain_lime",
           "host_classifier", "metrics", "study",
           "EvolveResult", "GAState", "LimeExplanation", "Problem", "RunState", "evaluate", "evolve",
           "gene_importance", "generation_step", "genome_length", "init_state", "lime_weights", "make_fill",
           "masked_batch", "operators", "segment"]
