"""Crafted weights files, as an attacker would write them: every one is refused cleanly, or (expanded tensors)
loads as a view, within a memory cap, and leaves the process able to load honest checkpoints unchanged.

The corpus (``_corpus.py``) is built at test time; the cases run in one subprocess (``_reader_harness.py``) under
a 1 GiB address-space cap and a time limit per case, so a bomb or a crash fails the test instead of the machine.
"""
from __future__ import annotations

import numpy as np
import pytest

import models
from models import _pickle_scan, torch_reader
from tests.models import _corpus, _crafted as c
from tests.models._corpus import _doubling, _pickle_cases
from tests.models._crafted import EMPTY_LIST, MARK, PROTO, STOP, text


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
  """Runs every case in one capped subprocess; ``{name: (outcome or None, expected, fragment)}``."""
  tmp = tmp_path_factory.mktemp("crafted")
  manifest, expect = _corpus.build(tmp)
  got = {r["name"]: r for r in _corpus.run(manifest, tmp / "outcomes.jsonl")}
  assert sorted(expect) == sorted(_corpus.names())
  return {name: (got.get(name), *expect[name]) for name in expect}


@pytest.mark.parametrize("name", _corpus.names())
def test_crafted_file_is_refused_cleanly(outcomes, name):
  outcome, kind, fragment = outcomes[name]
  assert outcome is not None, f"{name}: the harness died before reaching it"
  assert outcome["honest_unchanged"], f"{name}: honest checkpoints load differently afterwards"
  if kind == "view":
    assert outcome["status"] == "loaded", outcome
    return
  assert outcome["status"] == "refused" and outcome["type"] == kind, outcome
  message = outcome["message"]
  assert fragment in message, message
  assert message.isprintable() and "\n" not in message, message


def test_expanded_tensors_load_as_shared_read_only_views(outcomes):
  outcome = outcomes["stride0_views"][0]
  arrays = {name: (shape, writeable, owns) for name, shape, writeable, owns in outcome["arrays"]}
  assert arrays["/expanded"] == ([1 << 19, 1 << 19], False, False)
  assert arrays["/overlapping"] == ([2] * 23, False, False)
  assert outcome["n_arrays"] == 1002 and outcome["distinct"] == 2  # 1000 shared references, one array


# --- the same defences in process, layer by layer ---------------------------------------------------------------

def test_records_handed_to_the_unpickler_cannot_be_changed():
  storage = torch_reader._StorageRef(key="0", dtype="float32", numel=4, base=None, start=0)
  ref = torch_reader._tensor_ref(storage, 0, (4,), (1,))
  for record in (storage, ref, torch_reader._Global(role="dtype", detail="float32")):
    assert not hasattr(record, "__dict__")
    with pytest.raises(models.UnsafeCheckpointError):
      record.__setstate__({"offset": -1})
    with pytest.raises(models.UnsafeCheckpointError):
      record.offset = -1


@pytest.mark.parametrize("name", ["build_tensor_ref", "build_tensor_slots", "build_dtype", "build_storage_type",
                                  "build_storage", "build_rebuilder", "build_ordered_dict_class"])
def test_unpickler_refuses_build_even_without_the_scan(name):
  pkl = _pickle_cases()[name][0]
  with pytest.raises(models.UnsafeCheckpointError):
    torch_reader._Unpickler(pkl, 0, len(pkl), {}).load()


def test_scan_charges_shared_references():
  def shared(levels):
    return PROTO + EMPTY_LIST + MARK + _doubling(text("x"), levels) + b"e" + STOP

  assert _pickle_scan.scan(shared(10), 0, role=lambda *_: None) == len(shared(10))
  with pytest.raises(models.CheckpointLimitError, match="shared references"):
    _pickle_scan.scan(shared(30), 0, role=lambda *_: None)


def test_honest_files_match_numpy_and_torch(tmp_path):
  entries, storages = c.honest()
  want = c.expected(entries, storages)
  files = c.honest_files(tmp_path)
  for fmt, path in files.items():
    got = torch_reader.load_torch_checkpoint(path)
    assert list(got) == [k for k in want if fmt == "zip" or k != "q.scale"]
    for key, array in got.items():
      assert array.dtype == want[key].dtype and array.shape == want[key].shape, key
      assert array.tobytes() == want[key].tobytes() and array.flags.c_contiguous, key
  torch = pytest.importorskip("torch")
  for path in files.values():
    for key, tensor in torch.load(path, weights_only=True).items():
      ref = want[key].astype(np.float32) if tensor.dtype in (torch.bfloat16, torch.float8_e4m3fn) else want[key]
      np.testing.assert_array_equal(tensor.float().numpy() if ref.dtype == np.float32 else tensor.numpy(), ref)


def test_every_error_is_a_value_error():
  for error in (models.CheckpointError, models.UnsafeCheckpointError, models.CheckpointLimitError,
                models.CorruptCheckpointError, models.CheckpointMismatchError):
    assert issubclass(error, models.CheckpointError) and issubclass(error, ValueError)


@pytest.mark.parametrize("break_shape", [True, False])
def test_create_checks_keys_and_shapes_before_reading_tensor_data(tmp_path, break_shape):
  """A zip whose tensors' data records are all missing: a mis-shaped key is refused as a mismatch before any
  record is read; with every shape right, the check passes and reading the first record fails."""
  spec = models.spec("efficientnet_lite0")
  state = torch_reader.load_torch_checkpoint(spec.pretrained())
  storages = {"f": np.zeros(1, np.float32), "i": np.zeros(1, np.int64)}
  entries = {}
  for key, array in state.items():
    shape = (7,) + array.shape[1:] if break_shape and key == "_fc.weight" else array.shape
    stride = tuple(int(np.prod(shape[i + 1:])) for i in range(len(shape)))
    entries[key] = c.Tensor("f" if array.dtype == np.float32 else "i", 0, shape, stride)
  path = tmp_path / "no_data.pt"
  path.write_bytes(_corpus._zip_bytes(c.state_dict_pickle(entries, storages), {}))
  if break_shape:
    with pytest.raises(models.CheckpointMismatchError, match=r"mis-shaped: params/classifier/kernel \(1280, 7\)"):
      models.create("efficientnet_lite0", path)
  else:
    with pytest.raises(models.CorruptCheckpointError, match="storage record 'archive/data/f' is missing"):
      models.create("efficientnet_lite0", path)
