"""Shared fixtures: tiny classifiers that make engine tests fast and exact on CPU."""
from __future__ import annotations

import os

# Two cores: keep XLA from oversubscribing them when several test processes run.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
