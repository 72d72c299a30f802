"""evojax-lime: explain image classifiers by evolving superpixel masks (E-LIME), compiled end to end in JAX.

Data flow: image -> superpixels -> genomes -> masked batch -> classifier -> fitness -> selection -> next genomes.
"""
from evojax_lime import metrics, operators
from evojax_lime.batch import explain_batch
from evojax_lime.cache import enable_compilation_cache
from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.evolve import EvolveResult, evolve
from evojax_lime.importance import gene_importance
from evojax_lime.explain import explain
from evojax_lime.explanation import Explanation
from evojax_lime.fill import make_fill
from evojax_lime.fitness import Problem, evaluate
from evojax_lime.host import host_classifier
from evojax_lime.lime import LimeExplanation, explain_lime, lime_weights
from evojax_lime.masking import masked_batch
from evojax_lime.search import Search
from evojax_lime.state import GAState, RunState
from evojax_lime.step import generation_step, init_state
from evojax_lime.study import StudyTable, study
from evojax_lime.superpixels import genome_length, segment

__version__ = "0.1.0"
__all__ = ["ELimeConfig", "EvolveResult", "Explanation", "GAParams", "GAState", "LimeExplanation", "Problem", "RunState", "Search",
           "StudyTable", "study",
           "enable_compilation_cache", "evaluate", "evolve", "explain", "explain_batch", "explain_lime",
           "gene_importance", "generation_step", "genome_length", "host_classifier", "init_state", "lime_weights",
           "make_fill", "masked_batch", "metrics", "operators", "segment"]
