"""Shared fixtures: tiny classifiers that make engine tests fast and exact on CPU."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Two cores: keep XLA from oversubscribing them when several test processes run.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import evojax_lime  # pylint: disable=wrong-import-position  (after XLA_FLAGS)

# Most of the suite's time is XLA compiling: many tests build the same program around a fresh classifier
# object, which the engine's own cache rightly does not reuse. JAX's persistent cache, one folder per test
# process (JAX writes entries without a lock, so processes do not share one), turns each repeat into a load.
# Enabled here, before any test module compiles: JAX decides once per process whether it uses the cache.
# Tests that count compiles count loads too (tests/compiles.py).
_CACHE = tempfile.mkdtemp(prefix="evojax-lime-tests-xla-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
evojax_lime.enable_compilation_cache(_CACHE)

# The longest modules, longest first (minutes each on two cores). xdist hands whole modules to whichever worker is
# free, in collection order: starting these first lets the short ones fill the gaps, so the workers finish
# together instead of one running the longest module alone at the end.
LONGEST_FIRST = ("tests/test_benchmarks_smoke.py", "tests/models/test_parity_torchvision.py", "tests/cli/test_cache.py",
                 "tests/cli/test_batches.py", "tests/cli/test_outputs.py", "tests/engine/test_scale.py")


def pytest_collection_modifyitems(config, items):
  del config
  rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
  items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest keep their order
