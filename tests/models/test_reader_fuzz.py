"""Seeded byte-level fuzzing of valid weights files (zip and legacy torch checkpoints, msgpack variables): every
mutant is either refused with a ``CheckpointError`` or loads correctly.

Each file gets every single-byte mutation (XOR with a seeded random byte), random three-byte mutations and
truncations. They run in one subprocess under the same memory and time caps as the adversarial corpus
(``_reader_harness.py``, which also defines "loads correctly").
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import models
from tests.models import _corpus, _crafted as c

RANDOM_MUTANTS = 150


def _msgpack_file(path):
  rng = np.random.default_rng(1)
  variables = {"params": {"conv": {"kernel": rng.standard_normal((3, 3, 2, 4)).astype(np.float32)},
                          "dense": {"kernel": rng.standard_normal((4, 3)).astype(np.float32),
                                    "bias": np.arange(3, dtype=np.float16)}},
               "batch_stats": {"bn": {"mean": rng.standard_normal(4).astype(np.float32)}}}
  models.save_variables(path, variables, name="tiny")
  data = path.read_bytes()
  regions = {}
  for group, layers in variables.items():
    for layer, leaves in layers.items():
      for leaf, array in leaves.items():
        at = data.find(array.tobytes())
        regions[f"/{group}/{layer}/{leaf}"] = [at, at + array.nbytes]
  return path, regions


@pytest.fixture(scope="module")
def fuzz_outcomes(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("fuzz")
  entries, storages = c.honest()
  zip_path = c.zip_checkpoint(tmp / "z.pt", c.state_dict_pickle(entries, storages), storages)
  del entries["q.scale"], storages["4"]
  legacy_path, ranges = c.legacy_checkpoint(tmp / "l.pt", c.state_dict_pickle(entries, storages, legacy=True),
                                            storages)
  legacy_regions = {f"/{name}": [ranges[t.storage].start, ranges[t.storage].stop] for name, t in entries.items()}
  msgpack_path, msgpack_regions = _msgpack_file(tmp / "v.msgpack")
  fuzz = [{"format": fmt, "path": str(path), "seed": seed, "random": RANDOM_MUTANTS, "regions": regions}
          for seed, (fmt, path, regions) in enumerate((("zip", zip_path, {}), ("legacy", legacy_path, legacy_regions),
                                                       ("msgpack", msgpack_path, msgpack_regions)))]
  manifest = tmp / "manifest.json"
  manifest.write_text(json.dumps({"fuzz": fuzz}))
  return {r["fuzz"]: r for r in _corpus.run(manifest, tmp / "outcomes.jsonl")}


@pytest.mark.parametrize("fmt", ["zip", "legacy", "msgpack"])
def test_every_mutant_is_refused_cleanly_or_loads_correctly(fuzz_outcomes, fmt):
  outcome = fuzz_outcomes[fmt]
  assert outcome["n_failures"] == 0, outcome["failures"]
  assert outcome["refused"] + outcome["loaded"] == outcome["mutants"]
  # Both outcomes occur: the fuzzing reaches past the first header byte, and some changes are harmless.
  assert outcome["refused"] > 0 and outcome["loaded"] > 0, outcome
