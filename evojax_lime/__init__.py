"""evojax-lime: explain image classifiers by evolving superpixel masks (E-LIME), compiled end to end in JAX.

Data flow: image -> superpixels -> genomes -> masked batch -> classifier -> fitness -> selection -> next genomes.
"""
from evojax_lime import metrics
from evojax_lime.strategies import operators
from evojax_lime.batch import explain_batch
from evojax_lime.engine.compilation_cache import enable_compilation_cache
from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.evolve import EvolveResult, evolve
from evojax_lime.strategies.importance import gene_importance
from evojax_lime.explain import explain
from evojax_lime.explanation import Explanation
from evojax_lime.evaluation.fill import make_fill
from evojax_lime.evaluation.fitness import Problem, evaluate
from evojax_lime.evaluation.host import host_classifier
from evojax_lime.baselines.lime import LimeExplanation, explain_lime, lime_weights
from evojax_lime.evaluation.masking import masked_batch
from evojax_lime.engine.search import Search
from evojax_lime.engine.state import GAState, RunState
from evojax_lime.strategies.ga import generation_step, init_state
from evojax_lime.studies import StudyTable, study
from evojax_lime.segmentation.superpixels import genome_length, segment

__version__ = "0.1.0"
__all__ = ["ELimeConfig", "EvolveResult", "Explanation", "GAParams", "GAState", "LimeExplanation", "Problem", "RunState", "Search",
           "StudyTable", "study",
           "enable_compilation_cache", "evaluate", "evolve", "explain", "explain_batch", "explain_lime",
           "gene_importance", "generation_step", "genome_length", "host_classifier", "init_state", "lime_weights",
           "make_fill", "masked_batch", "metrics", "operators", "segment"]
