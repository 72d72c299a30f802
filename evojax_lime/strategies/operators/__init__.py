"""GA operators: pure, jit-able, vmapped over the population, usable on their own.

Genomes are ``(P, L)`` bool arrays: K real genes (one per superpixel, True = kept) followed by inert padding.
"""
from evojax_lime.strategies.operators._genes import gene_uniform, step_draws, valid_genes
from evojax_lime.strategies.operators.crossover import crossover, recombine
from evojax_lime.strategies.operators.elitism import BestSoFar, best_index, best_so_far, elitist_replacement
from evojax_lime.strategies.operators.exchange import (alone_populations, exchange_moves, incumbent_step,
                                                       size_blocks, size_prefixes, size_rows)
from evojax_lime.strategies.operators.init import bernoulli_genes, bernoulli_init
from evojax_lime.strategies.operators.insertion import (alone_probability, chain_step, greedy_rows, insertion_rows,
                                                        kept_alone, pool_size, removal_score)
from evojax_lime.strategies.operators.mutation import bit_flip_mutation, flip_genes
from evojax_lime.strategies.operators.seeding import leave_one_out, occlusion_drop, ranked_prefixes
from evojax_lime.strategies.operators.selection import tournament_selection, tournament_winners

__all__ = ["BestSoFar", "alone_populations", "alone_probability", "bernoulli_genes", "bernoulli_init", "best_index",
           "best_so_far", "bit_flip_mutation", "chain_step", "crossover", "elitist_replacement", "exchange_moves",
           "flip_genes", "gene_uniform", "greedy_rows", "incumbent_step", "insertion_rows", "kept_alone",
           "leave_one_out", "occlusion_drop", "pool_size", "ranked_prefixes", "recombine", "removal_score",
           "size_blocks", "size_prefixes", "size_rows", "step_draws", "tournament_selection", "tournament_winners",
           "valid_genes"]
