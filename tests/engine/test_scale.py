"""Batched, sharded, chunked and bfloat16 runs give the results of the plain run."""
import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import evojax_lime as el
from evojax_lime.evaluation.chunk_size import CPU_MAX_CHUNK, auto_chunk_size, choose_chunk, classifier_profile
from tests.engine.planted import planted_problem
from tests.engine.same import assert_identical

BASE = el.ELimeConfig(population_size=16, generations=5, parsimony=0.05, fill="black")


def test_batch_equals_one_by_one():
  # Different planted sets and different numbers of superpixels (so different genome padding).
  problems = [planted_problem((0, 3), side=24, n_segments=9), planted_problem((1, 2, 5, 7), side=24, n_segments=16),
              planted_problem((4,), side=24, n_segments=25)]
  images = [p[0] for p in problems]
  labels = [p[1] for p in problems]
  # One classifier for all images: visible-pixel score against the first problem's weights.
  clf = problems[0][2]
  seeds = [3, 4, 5]
  batch = el.explain_batch(images, clf, segments=labels, config=BASE, seeds=seeds)
  assert len(batch) == 3
  for img, lab, seed, got in zip(images, labels, seeds, batch):
    assert_identical(el.explain(img, clf, segments=lab, config=BASE, seed=seed), got)
    assert got.num_segments == int(lab.max()) + 1


def test_batch_with_early_stop_and_per_image_targets():
  image, labels, clf = planted_problem((0, 5), side=24, n_segments=16)
  cfg = dataclasses.replace(BASE, generations=40, patience=2)
  batch = el.explain_batch(np.stack([image, image]), clf, segments=[labels, labels], targets=[0, 1], config=cfg,
                           seeds=[0, 1])
  for target, seed, got in zip([0, 1], [0, 1], batch):
    alone = el.explain(image, clf, segments=labels, target=target, config=cfg, seed=seed)
    assert got.target == target
    assert got.generations_run == alone.generations_run
    assert_identical(alone, got)


def test_batch_rejects_mixed_sizes():
  a, la, clf = planted_problem((0,), side=24)
  b, lb, _ = planted_problem((0,), side=32)
  with pytest.raises(ValueError, match="one size"):
    el.explain_batch([a, b], clf, segments=[la, lb], config=BASE)
  with pytest.raises(ValueError, match="one entry per image"):
    el.explain_batch([a, a], clf, segments=[la, la], seeds=[1, 2, 3], config=BASE)


def test_population_far_larger_than_chunk():
  image, labels, clf = planted_problem((2, 3), side=24, n_segments=12)
  cfg = dataclasses.replace(BASE, population_size=4096, generations=2, chunk_size=256, answer="fittest")
  exp = el.explain(image, clf, segments=labels, config=cfg)
  assert exp.num_evaluations == 4096 * 3
  assert tuple(exp.selected) == (2, 3)  # 4096 random genomes contain the optimum of 12 genes
  assert_identical(exp, el.explain(image, clf, segments=labels, config=dataclasses.replace(cfg, chunk_size=1000)))


class _Device:
  """What the chunk choice reads of a device: its platform and its allocator's limit."""

  def __init__(self, platform, *, bytes_limit):
    self.platform, self._limit = platform, bytes_limit

  def memory_stats(self):
    return {"bytes_limit": self._limit}


def test_automatic_chunk_size_counts_the_batch_and_divides_the_rows():
  image, labels, clf = planted_problem((2, 3), side=24, n_segments=12)
  profile = classifier_profile(clf, 24, 24, "float32")
  assert auto_chunk_size(profile, rows=10**9) == CPU_MAX_CHUNK  # a CPU's cache-friendly cap
  # On an accelerator the memory bounds it: half of what the allocator may use, over the bytes per image.
  gpu = _Device("gpu", bytes_limit=1000 * profile.bytes_per_image)
  assert auto_chunk_size(profile, rows=10**9, device=gpu) == 500
  assert auto_chunk_size(profile, rows=10**9, device=_Device("gpu", bytes_limit=3 * profile.bytes_per_image)) == 1
  assert auto_chunk_size(profile, rows=16) == 16
  # Rows that do not fit are split into equal chunks: a divisor when one is near, else at most a few padded rows.
  assert choose_chunk(64, 48) == 32 and choose_chunk(100, 30) == 25
  assert choose_chunk(97, 30) * 4 - 97 <= 3
  assert choose_chunk(65536, 3000) == 2048 and choose_chunk(24, 10, multiple=4) == 8
  # Without the curves (with them, a CPU program evaluates one row a call: tests/engine/test_program.py).
  cfg = dataclasses.replace(BASE, population_size=32, faithfulness=False)
  one = el.Search([image], clf, segments=[labels], config=cfg)
  four = el.Search([image] * 4, clf, segments=[labels] * 4, config=cfg)
  # The batch counts: 4 x 32 rows are split into divisors of the rows (on a CPU, chunks of at most 32).
  assert one.chunk_size == 32 and four.chunk_size == min(128, CPU_MAX_CHUNK)
  assert_identical(el.explain(image, clf, segments=labels, config=cfg),
        el.explain(image, clf, segments=labels, config=dataclasses.replace(cfg, chunk_size=3)))


def test_chunk_size_is_stable_as_free_memory_moves():
  image, labels, clf = planted_problem((2, 3), side=24, n_segments=12)
  profile = classifier_profile(clf, 24, 24, "float32")
  before = auto_chunk_size(profile, rows=10**9)
  ballast = np.ones(50_000_000, np.uint8)  # 50 MB more in use
  assert auto_chunk_size(profile, rows=10**9) == before
  del ballast


def test_bfloat16_fitness_close_to_float32():
  image, labels, clf = planted_problem((1, 4, 6), side=24, n_segments=12)
  a = el.explain(image, clf, segments=labels, config=BASE)
  b = el.explain(image, clf, segments=labels, config=dataclasses.replace(BASE, dtype="bfloat16"))
  np.testing.assert_allclose(a.fitness_history, b.fitness_history, atol=1e-2)


_SHARDED_SCRIPT = textwrap.dedent("""
    import dataclasses, json, sys
    import jax, numpy as np
    import evojax_lime as el
    from tests.engine.planted import planted_problem
    assert jax.device_count() == 4, jax.devices()
    image, labels, clf = planted_problem((1, 2, 7), side=24, n_segments=12)
    out = {}
    for shard in (False, True):
      cfg = el.ELimeConfig(population_size=16, generations=5, chunk_size=8, shard=shard, fill="black")
      e = el.explain(image, clf, segments=labels, config=cfg, seed=7)
      b = el.explain_batch([image, image], clf, segments=[labels, labels], config=cfg, seeds=[7, 8])
      out[str(shard)] = [e.genome.tolist(), e.fitness_history.tolist(), [x.fitness_history.tolist() for x in b]]
    json.dump(out, sys.stdout)
""")


def test_sharded_equals_unsharded_on_four_devices():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  proc = subprocess.run([sys.executable, "-c", _SHARDED_SCRIPT], env=env, cwd=root, capture_output=True, text=True,
                        timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout)
  assert out["True"] == out["False"]


_CACHE_SCRIPT = textwrap.dedent("""
    import sys, jax
    import evojax_lime as el
    from tests.engine.planted import planted_problem
    hits = []
    jax.monitoring.register_event_listener(lambda name, **kw: hits.append(name) if "cache_hits" in name else None)
    el.enable_compilation_cache(sys.argv[1])
    image, labels, clf = planted_problem((1, 2), side=24, n_segments=12)
    e = el.explain(image, clf, segments=labels, config=el.ELimeConfig(population_size=8, generations=2, fill="black"))
    print(len(hits), e.genome.astype(int).tolist())
""")


def test_persistent_compilation_cache(tmp_path):
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  run = lambda: subprocess.run([sys.executable, "-c", _CACHE_SCRIPT, str(tmp_path / "cache")], cwd=root,
                               capture_output=True, text=True, timeout=300)
  first, second = run(), run()
  assert first.returncode == 0 and second.returncode == 0, first.stderr[-2000:] + second.stderr[-2000:]
  assert any((tmp_path / "cache").iterdir())
  hits_first, genome_first = first.stdout.split(" ", 1)
  hits_second, genome_second = second.stdout.split(" ", 1)
  assert int(hits_first) == 0 and int(hits_second) > 0
  assert genome_first == genome_second
