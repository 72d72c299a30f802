"""Properties of the GA operators, jitted and not."""
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.strategies import ga
from evojax_lime.strategies import operators as ops
from evojax_lime.strategies.lime_sampling import lime_samples
from evojax_lime.strategies.operators.crossover import CROSSOVER_FNS

P, L, K = 256, 64, 50


def _pop(seed, p=0.5):
  return ops.bernoulli_init(jax.random.PRNGKey(seed), P, L, num_genes=K, p=p)


class OperatorsTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_init_shape_rate_and_padding(self):
    init = self.variant(lambda k: ops.bernoulli_init(k, P, L, num_genes=K, p=0.3))
    pop = init(jax.random.PRNGKey(0))
    chex.assert_shape(pop, (P, L))
    chex.assert_type(pop, bool)
    assert not pop[:, K:].any()
    assert abs(float(pop[:, :K].mean()) - 0.3) < 0.02

  @chex.variants(with_jit=True, without_jit=True)
  def test_best_so_far_keeps_the_fittest_ever_seen(self):
    genomes = jnp.eye(3, dtype=bool)
    update = self.variant(ops.best_so_far)
    # Generation 0 takes the fittest whatever was kept (NaN counts as least fit); later a population replaces
    # the kept genome only when it is strictly fitter.
    start = ops.BestSoFar(best_genome=jnp.zeros(3, bool), best_fitness=jnp.float32(9.0),
                          best_probability=jnp.float32(0.0), generation=jnp.int32(0))
    first = update(start, genomes, jnp.asarray([0.1, jnp.nan, 0.4]), jnp.asarray([0.5, 0.6, 0.7]))
    chex.assert_trees_all_equal(first, dict(best_genome=genomes[2], best_fitness=jnp.float32(0.4),
                                            best_probability=jnp.float32(0.7)))
    kept = ops.BestSoFar(generation=jnp.int32(1), **first)
    chex.assert_trees_all_equal(kept.best(), (genomes[2], jnp.float32(0.4), jnp.float32(0.7)))
    same = update(kept, genomes, jnp.asarray([0.4, 0.2, 0.3]), jnp.asarray([0.9, 0.9, 0.9]))
    chex.assert_trees_all_equal(same, first)  # a tie does not replace the kept answer
    better = update(kept, genomes, jnp.asarray([0.2, 0.5, 0.3]), jnp.asarray([0.1, 0.8, 0.2]))
    assert bool(better["best_genome"][1]) and float(better["best_fitness"]) == 0.5

  @chex.variants(with_jit=True, without_jit=True)
  def test_mutation_flips_configured_fraction(self):
    pop = _pop(1)
    mutate = self.variant(lambda k, x: ops.bit_flip_mutation(k, x, num_genes=K, rate=0.1))
    out = mutate(jax.random.PRNGKey(2), pop)
    chex.assert_equal_shape((out, pop))
    flipped = np.asarray(out != pop)
    assert not flipped[:, K:].any()
    assert abs(flipped[:, :K].mean() - 0.1) < 0.01

  def test_mutation_default_rate_is_one_over_k(self):
    pop = _pop(1)
    out = ops.bit_flip_mutation(jax.random.PRNGKey(3), pop, num_genes=K, rate=None)
    flips_per_individual = np.asarray(out != pop).sum(1).mean()
    assert 0.85 < flips_per_individual < 1.15

  @chex.variants(with_jit=True, without_jit=True)
  def test_ga_params_mutation_rate_per_gene(self):
    rate = self.variant(lambda p, k: p.gene_mutation_rate(k))
    one_over_k, fixed = ELimeConfig(mutation_rate=None).ga_params(), ELimeConfig(mutation_rate=0.1).ga_params()
    assert float(rate(one_over_k, jnp.int32(8))) == 0.125 and float(rate(one_over_k, jnp.int32(50))) == np.float32(0.02)
    assert float(rate(fixed, jnp.int32(8))) == float(rate(fixed, jnp.int32(50))) == np.float32(0.1)
    both = GAParams(*(jnp.float32(v) for v in (0.5, 0.9, 0.05, 0.0, 2.0)))
    np.testing.assert_allclose(rate(both, jnp.int32(40)), 0.1, rtol=1e-6)

  @chex.variants(with_jit=True, without_jit=True)
  def test_crossover_takes_each_gene_from_a_parent(self):
    a, b = _pop(4), _pop(5)
    for kind in ("uniform", "one_point", "two_point"):
      cx = self.variant(lambda k, x, y: ops.crossover(k, x, y, num_genes=K, kind=kind, rate=1.0))
      child = np.asarray(cx(jax.random.PRNGKey(6), a, b))
      a_, b_ = np.asarray(a), np.asarray(b)
      assert ((child == a_) | (child == b_)).all(), kind
      # Recombination really happened for most pairs.
      assert ((child != a_).any(1)).mean() > 0.8, kind
      assert ((child != b_).any(1)).mean() > 0.8, kind

  def test_one_and_two_point_are_contiguous_segments(self):
    a = jnp.zeros((P, L), bool)
    b = jnp.ones((P, L), bool)
    one = np.asarray(ops.crossover(jax.random.PRNGKey(7), a, b, num_genes=K, kind="one_point", rate=1.0))
    # one-point: zeros then ones; the cut lies inside the real genes.
    assert (np.diff(one.astype(int), axis=1) >= 0).all()
    assert (one[:, 0] == 0).all() and (one[:, K - 1] == 1).all()
    two = np.asarray(ops.crossover(jax.random.PRNGKey(8), a, b, num_genes=K, kind="two_point", rate=1.0))
    assert (np.abs(np.diff(two.astype(int), axis=1)).sum(1) <= 2).all()

  def test_crossover_rate_zero_copies_first_parent(self):
    a, b = _pop(9), _pop(10)
    chex.assert_trees_all_equal(ops.crossover(jax.random.PRNGKey(0), a, b, num_genes=K, rate=0.0), a)

  @chex.variants(with_jit=True, without_jit=True)
  def test_tournament_prefers_fitter(self):
    fitness = jnp.arange(P, dtype=jnp.float32)
    select = self.variant(lambda k, f: ops.tournament_selection(k, f, 4096, size=3))
    idx = np.asarray(select(jax.random.PRNGKey(11), fitness))
    chex.assert_shape(idx, (4096,))
    assert idx.min() >= 0 and idx.max() < P
    # E[max of 3 uniform ranks] = 3/4 of the range.
    assert abs(idx.mean() / (P - 1) - 0.75) < 0.03
    size1 = np.asarray(ops.tournament_selection(jax.random.PRNGKey(11), fitness, 4096, size=1))
    assert size1.mean() < idx.mean()

  def test_tournament_never_picks_nan_over_finite(self):
    fitness = jnp.array([jnp.nan, 0.0])
    idx = np.asarray(ops.tournament_selection(jax.random.PRNGKey(0), fitness, 512, size=2))
    entrants_both = idx  # every tournament that drew index 1 must pick it
    assert (entrants_both == 1).mean() > 0.7

  @chex.variants(with_jit=True, without_jit=True)
  def test_elitism_never_loses_the_best(self):
    fn = self.variant(lambda *a: ops.elitist_replacement(*a, num_elite=2))
    for seed in range(5):
      k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(seed), 4)
      parents, children = _pop(seed), _pop(seed + 100)
      pf, cf = jax.random.normal(k1, (P,)), jax.random.normal(k2, (P,)) - 1.0
      pop, fit = fn(parents, pf, children, cf)
      chex.assert_shape((pop, fit), ((P, L), (P,)))
      assert float(fit.max()) >= float(pf.max())
      top2 = np.sort(np.asarray(pf))[-2:]
      assert np.isin(top2, np.asarray(fit)).all()
      # Every surviving individual carries its own fitness.
      for i in np.flatnonzero(np.isin(np.asarray(fit), top2)):
        j = int(np.flatnonzero(np.asarray(pf) == float(fit[i]))[0])
        assert (np.asarray(pop[i]) == np.asarray(parents[j])).all()

  def test_no_elitism_is_plain_replacement(self):
    parents, children = _pop(1), _pop(2)
    pop, fit = ops.elitist_replacement(parents, jnp.ones(P), children, jnp.zeros(P), num_elite=0)
    chex.assert_trees_all_equal((pop, fit), (children, jnp.zeros(P)))

  def test_gene_draws_do_not_depend_on_padding(self):
    key = jax.random.PRNGKey(3)
    short = ops.bernoulli_init(key, 8, 16, num_genes=10)
    long = ops.bernoulli_init(key, 8, 128, num_genes=10)
    chex.assert_trees_all_equal(short[:, :10], long[:, :10])
    m_short = ops.bit_flip_mutation(key, short, num_genes=10, rate=0.3)
    m_long = ops.bit_flip_mutation(key, long, num_genes=10, rate=0.3)
    chex.assert_trees_all_equal(m_short[:, :10], m_long[:, :10])
    for kind in CROSSOVER_FNS:
      c_short = ops.crossover(key, short, m_short, num_genes=10, kind=kind, rate=0.7)
      c_long = ops.crossover(key, long, m_long, num_genes=10, kind=kind, rate=0.7)
      chex.assert_trees_all_equal(c_short[:, :10], c_long[:, :10])
    chex.assert_trees_all_equal(lime_samples(key, 8, 10, length=16)[:, :10], lime_samples(key, 8, 10, length=128)[:, :10])

  @chex.variants(with_jit=True, without_jit=True)
  def test_step_draws_are_uniform_keyed_and_do_not_depend_on_padding(self):
    draw = self.variant(lambda k, length: ops.step_draws(k, 8, length, leading=3, per_gene=2), static_argnums=1)
    key = jax.random.PRNGKey(5)
    next_key, per_individual, genes = draw(key, 16)
    chex.assert_shape((next_key, per_individual, genes), ((2,), (8, 3), (2, 8, 16)))
    chex.assert_type((next_key, per_individual, genes), (jnp.uint32, jnp.float32, jnp.float32))
    assert float(genes.min()) >= 0.0 and float(genes.max()) < 1.0
    assert not np.array_equal(next_key, key)
    _, per_individual_long, genes_long = draw(key, 128)
    chex.assert_trees_all_equal((per_individual, genes), (per_individual_long, genes_long[:, :, :16]))
    again = draw(jax.random.PRNGKey(5), 16)
    chex.assert_trees_all_equal(again, (next_key, per_individual, genes))
    typed, _, typed_genes = draw(jax.random.key(5), 16)  # a typed key gives a typed key and the same draws
    chex.assert_trees_all_equal((jax.random.key_data(typed), typed_genes), (next_key, genes))
    # The draws are jax.random.uniform's own for the same counters.
    flat = jax.random.uniform(key, (2 + (3 + 2 * 16) * 8,))
    np.testing.assert_array_equal(genes[1, :, 0], flat[2 + 4 * 8:2 + 5 * 8])

  def test_ga_ask_makes_one_prng_call(self):
    strategy = ga.GA(population_size=8)
    state = jax.tree_util.tree_map(jnp.asarray, strategy.init(jax.random.PRNGKey(0), length=16))
    params = ELimeConfig().ga_params()
    jaxpr = str(jax.make_jaxpr(lambda s: strategy.ask(s, num_genes=jnp.int32(12), params=params))(state))
    # Each call (bits, uniform, split, fold_in) is a threefry loop of its own in the compiled program.
    assert re.findall(r"\brandom_(bits|split|fold_in)\b", jaxpr) == ["bits"]

  def test_unknown_crossover_kind(self):
    with pytest.raises(ValueError, match="crossover kind"):
      ops.crossover(jax.random.PRNGKey(0), _pop(0), _pop(1), num_genes=K, kind="three_point")
