"""The torch-free checkpoint reader: both file formats, hostile pickles, damaged files.

Files written by ``torch.save`` need torch (skipped without it); hand-built files cover the same paths without it.
"""
from __future__ import annotations

import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from models import efficientnet_lite
from models.torch_reader import UnsafeCheckpointError, load_torch_checkpoint, read_torch_pickle

FORMATS = {"zip": True, "legacy": False}


def _torch():
  return pytest.importorskip("torch", reason="torch writes the reference checkpoints")


def _save(obj, path, fmt: str) -> str:
  _torch().save(obj, path, _use_new_zipfile_serialization=FORMATS[fmt])
  return str(path)


class _Hostile:
  """Unpickling this runs a shell command that creates ``marker``."""

  def __init__(self, marker):
    self.marker = str(marker)

  def __reduce__(self):
    return (os.system, (f"touch {self.marker}",))


# --- hand-built zip checkpoints (no torch needed) ---------------------------------------------------------------

def _str(s: str) -> bytes:
  b = s.encode()
  return b"X" + struct.pack("<I", len(b)) + b  # BINUNICODE


def _int(i: int) -> bytes:
  return b"J" + struct.pack("<i", i)  # BININT


def _tuple(items) -> bytes:
  return b"(" + b"".join(items) + b"t"  # MARK ... TUPLE


def _tensor_pickle(size: tuple, stride: tuple, *, numel: int) -> bytes:
  """Protocol-2 pickle of ``{"w": tensor}`` as torch writes it: one FloatStorage ``"0"`` of ``numel`` elements."""
  storage = _tuple([_str("storage"), b"ctorch\nFloatStorage\n", _str("0"), _str("cpu"), _int(numel)]) + b"Q"
  args = _tuple([storage, _int(0), _tuple(map(_int, size)), _tuple(map(_int, stride)), b"\x89", b"}"])
  tensor = b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"R"
  return b"\x80\x02}" + _str("w") + tensor + b"s."


def _zip_checkpoint(path, pkl: bytes, storage: np.ndarray) -> str:
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", pkl)
    archive.writestr("archive/byteorder", "little")
    archive.writestr("archive/data/0", storage.astype("<f4").tobytes())
    archive.writestr("archive/version", "3\n")
  return str(path)


def test_hand_built_zip_reads_strided_tensor(tmp_path):
  storage = np.arange(12, dtype=np.float32)
  path = _zip_checkpoint(tmp_path / "w.pt", _tensor_pickle((3, 2), (1, 3), numel=12), storage)
  got = load_torch_checkpoint(path)["w"]
  np.testing.assert_array_equal(got, storage[:6].reshape(2, 3).T)
  assert got.flags.c_contiguous and got.dtype == np.float32


def test_tensor_reaching_past_its_storage_is_refused(tmp_path):
  path = _zip_checkpoint(tmp_path / "w.pt", _tensor_pickle((4,), (2,), numel=4), np.zeros(4))
  with pytest.raises(ValueError, match="past the end of its storage"):
    load_torch_checkpoint(path)


def test_storage_record_shorter_than_declared_is_refused(tmp_path):
  path = _zip_checkpoint(tmp_path / "w.pt", _tensor_pickle((8,), (1,), numel=8), np.zeros(4))
  with pytest.raises(ValueError, match="fewer than 32 bytes"):
    load_torch_checkpoint(path)


def test_plain_hostile_pickle_is_refused_without_running(tmp_path):
  marker = tmp_path / "pwned"
  path = tmp_path / "evil.pth"
  path.write_bytes(pickle.dumps(_Hostile(marker), protocol=2))
  with pytest.raises(UnsafeCheckpointError, match=r"global .(posix|os|nt)\.system"):
    load_torch_checkpoint(path)
  assert not marker.exists()


def test_hostile_global_inside_hand_built_zip_is_refused(tmp_path):
  marker = tmp_path / "pwned"
  path = _zip_checkpoint(tmp_path / "evil.pt", pickle.dumps({"w": _Hostile(marker)}, protocol=2), np.zeros(1))
  with pytest.raises(UnsafeCheckpointError, match="system"):
    read_torch_pickle(path)
  assert not marker.exists()


def test_unsafe_error_is_a_value_error():
  assert issubclass(UnsafeCheckpointError, ValueError)


def test_paths_that_are_not_files(tmp_path):
  with pytest.raises(ValueError, match="does not exist"):
    load_torch_checkpoint(tmp_path / "missing.pth")
  with pytest.raises(ValueError, match="is not a file"):
    load_torch_checkpoint(tmp_path)


def test_garbage_and_empty_files(tmp_path):
  for name, data in (("empty.pth", b""), ("text.pth", b"hello world\n" * 10), ("zipstub.pth", b"PK\x03\x04xx")):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match="truncated, corrupt or not a torch checkpoint"):
      load_torch_checkpoint(tmp_path / name)


def test_bundled_legacy_checkpoint_reads_without_torch():
  sd = load_torch_checkpoint(efficientnet_lite.SPECS["efficientnet_lite0"].pretrained())
  assert len(sd) == 296
  assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3) and sd["_conv_stem.weight"].dtype == np.float32
  assert sd["_bn0.num_batches_tracked"].dtype == np.int64 and sd["_bn0.num_batches_tracked"].shape == ()


# --- files written by torch.save -------------------------------------------------------------------------------

def _zoo(fmt: str):
  """Tensors covering dtypes, views, non-contiguous layouts, scalars, empties, shared storage and Parameters."""
  torch = _torch()
  g = torch.Generator().manual_seed(0)
  base = torch.randn(3, 4, 5, generator=g)
  zoo = {
      "transposed": base.transpose(0, 2),
      "sliced": base[1:, ::2, 1],
      "shares_storage": base[2],
      "float64": torch.randn(2, 3, generator=g, dtype=torch.float64),
      "float16": torch.randn(4, generator=g).half(),
      "bfloat16": torch.randn(3, 2, generator=g).to(torch.bfloat16),
      "int64": torch.arange(7),
      "int32": torch.arange(5, dtype=torch.int32).flip(0),
      "uint8": torch.arange(250, 256, dtype=torch.uint8),
      "uint16": torch.arange(6).to(torch.uint16),
      "bool": torch.tensor([True, False, True]),
      "scalar": torch.tensor(3.5),
      "empty": torch.zeros(0, 3),
      "parameter": torch.nn.Parameter(torch.ones(2, 2)),
  }
  if fmt == "legacy":
    del zoo["uint16"]  # Untyped storages (new dtypes) cannot be read back from legacy files by torch.load itself.
  return zoo


def _numpy(t) -> np.ndarray:
  torch = _torch()
  t = t.detach()
  return t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()


@pytest.mark.parametrize("fmt", FORMATS)
def test_matches_torch_load(tmp_path, fmt):
  torch = _torch()
  path = _save(_zoo(fmt), tmp_path / f"zoo_{fmt}.pt", fmt)
  want = torch.load(path, weights_only=True)
  got = read_torch_pickle(path)
  assert list(got) == list(want)
  for key, tensor in want.items():
    arr = got[key].astype(np.float32) if tensor.dtype == torch.bfloat16 else got[key]
    ref = _numpy(tensor)
    assert arr.dtype == ref.dtype and arr.shape == ref.shape, key
    np.testing.assert_array_equal(arr, ref, err_msg=key)
    assert got[key].flags.c_contiguous, key


def test_bundled_checkpoint_matches_torch_load():
  torch = _torch()
  path = efficientnet_lite.SPECS["efficientnet_lite0"].pretrained()
  want = torch.load(path, map_location="cpu", weights_only=True)
  got = load_torch_checkpoint(path)
  assert list(got) == list(want)
  for key, tensor in want.items():
    np.testing.assert_array_equal(got[key], tensor.numpy(), err_msg=key)


@pytest.mark.parametrize("fmt", FORMATS)
def test_wrapped_and_data_parallel_state_dicts_are_unwrapped(tmp_path, fmt):
  torch = _torch()
  state = {"module.conv.weight": torch.ones(2, 1, 3, 3), "module.fc.bias": torch.zeros(2)}
  path = _save({"epoch": 7, "state_dict": state, "optimizer": {"lr": 0.1}}, tmp_path / "ckpt.pth", fmt)
  got = load_torch_checkpoint(path)
  assert sorted(got) == ["conv.weight", "fc.bias"]
  np.testing.assert_array_equal(got["conv.weight"], np.ones((2, 1, 3, 3), np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_state_dict_is_refused(tmp_path, fmt):
  torch = _torch()
  path = _save([torch.ones(2)], tmp_path / "list.pth", fmt)
  with pytest.raises(ValueError, match="holds no state_dict"):
    load_torch_checkpoint(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_pickle_is_refused_before_it_runs(tmp_path, fmt):
  torch = _torch()
  marker = tmp_path / f"pwned_{fmt}"
  path = _save({"weight": torch.ones(2), "payload": _Hostile(marker)}, tmp_path / "evil.pth", fmt)
  with pytest.raises(UnsafeCheckpointError, match=r"global .(posix|os|nt)\.system"):
    load_torch_checkpoint(path)
  assert not marker.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files_are_refused(tmp_path, fmt):
  torch = _torch()
  data = open(_save({"w": torch.randn(64), "b": torch.randn(8)}, tmp_path / "full.pth", fmt), "rb").read()
  for cut in (len(data) - 1, len(data) - 40, len(data) // 2, 40, 8):
    path = tmp_path / f"cut{cut}.pth"
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError) as info:
      load_torch_checkpoint(path)
    assert not isinstance(info.value, UnsafeCheckpointError), cut
    assert "truncated, corrupt or not a torch checkpoint" in str(info.value), cut


def test_big_endian_zip_is_byte_swapped(tmp_path):
  storage = np.arange(6, dtype=np.float32)
  path = tmp_path / "be.pt"
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", _tensor_pickle((6,), (1,), numel=6))
    archive.writestr("archive/byteorder", "big")
    archive.writestr("archive/data/0", storage.astype(">f4").tobytes())
  got = load_torch_checkpoint(path)["w"]
  np.testing.assert_array_equal(got, storage)
  assert got.dtype == np.float32 and got.dtype.isnative


def test_hand_built_pickle_loads_with_torch_too(tmp_path):
  """Guards the hand-built fixtures above: torch itself reads them the same way."""
  torch = _torch()
  storage = np.arange(12, dtype=np.float32)
  path = _zip_checkpoint(tmp_path / "w.pt", _tensor_pickle((3, 2), (1, 3), numel=12), storage)
  np.testing.assert_array_equal(torch.load(path, weights_only=True)["w"].numpy(), load_torch_checkpoint(path)["w"])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("protocol", [4, 5])
def test_newer_pickle_protocols_pass_the_opcode_scan(tmp_path, fmt, protocol):
  """Protocols 4 and 5 add FRAME, MEMOIZE and short strings, which the pre-scan must model, not refuse."""
  torch = _torch()
  state = {"a": torch.randn(3, 4), "b": torch.arange(5), "c": torch.randn(2, 2).t()}
  path = tmp_path / "p.pt"
  torch.save(state, path, pickle_protocol=protocol, _use_new_zipfile_serialization=FORMATS[fmt])
  got = load_torch_checkpoint(path)
  for key, tensor in state.items():
    np.testing.assert_array_equal(got[key], tensor.numpy(), err_msg=key)
