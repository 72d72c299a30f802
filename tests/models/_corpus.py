"""The adversarial corpus: crafted weights files of every attack class the reader must refuse, built on demand.

:func:`build` writes them (and two honest checkpoints) to a folder with a manifest for ``_reader_harness.py``;
:func:`run` runs the harness on it in a subprocess. Shared by the tests and ``benchmarks/reader_adversarial.py``.
"""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import msgpack
import numpy as np

from tests.models import _crafted as c
from tests.models._crafted import (APPEND, BINPERSID, BUILD, EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, MARK, NONE, POP,
                                   PROTO, REDUCE, SETITEM, STOP, Tensor, get, glob, num, put, text, tup)

HARNESS = Path(__file__).with_name("_reader_harness.py")
LIMIT, UNSAFE, CORRUPT, MISMATCH = ("CheckpointLimitError", "UnsafeCheckpointError", "CorruptCheckpointError",
                                    "CheckpointMismatchError")
F32 = c.storage_pid("0", "FloatStorage", 24)


def _w(t: bytes) -> bytes:
  """``{"w": <t>}`` as a whole pickle."""
  return PROTO + EMPTY_DICT + text("w") + t + SETITEM + STOP


def _doubling(leaf: bytes, levels: int, pair: bytes = b"\x86") -> bytes:
  """Memo entry ``levels`` holds a value of 2**levels copies of ``leaf`` through shared references."""
  out = leaf + put(0)
  for i in range(1, levels + 1):
    out += get(i - 1) + get(i - 1) + pair + put(i)
  return out


def _pickle_cases() -> dict[str, tuple[bytes, str, str]]:
  """name -> (data.pkl, expected error class, message fragment)."""
  t4 = c.tensor(Tensor("0", 0, (4,), (1,)), F32)
  cases = {
      # BUILD on what the unpickler hands out.
      "build_tensor_ref": (_w(t4 + EMPTY_DICT + text("stride") + tup(num(-1)) + SETITEM + BUILD), UNSAFE,
                           "not an OrderedDict"),
      "build_tensor_slots": (_w(t4 + tup(NONE, EMPTY_DICT + text("offset") + num(-8) + SETITEM) + BUILD), UNSAFE,
                             "not an OrderedDict"),
      "build_dtype": (_w(glob("torch", "float8_e4m3fn") + EMPTY_DICT + text("itemsize") + num(4) + SETITEM + BUILD),
                      UNSAFE, "not an OrderedDict"),
      "build_storage_type": (_w(glob("torch", "FloatStorage") + EMPTY_DICT + text("dtype") + text("x") + SETITEM
                                + BUILD), UNSAFE, "not an OrderedDict"),
      "build_storage": (_w(F32 + EMPTY_DICT + text("numel") + num(10**9) + SETITEM + BUILD), UNSAFE,
                        "not an OrderedDict"),
      "build_rebuilder": (_w(glob("torch._utils", "_rebuild_tensor_v2") + tup(NONE, EMPTY_DICT + text("__defaults__")
                                                                              + tup() + SETITEM) + BUILD),
                          UNSAFE, "not an OrderedDict"),
      "build_ordered_dict_class": (_w(c.ordered_dict() + EMPTY_DICT + text("__class__") + num(1) + SETITEM + BUILD),
                                   UNSAFE, "other than _metadata"),
      # Shared references through the memo.
      "memo_hash": (PROTO + _doubling(text("x" * 64), 40) + EMPTY_DICT + get(40) + NONE + SETITEM + STOP, LIMIT,
                    "shared references"),
      "memo_repr": (PROTO + EMPTY_DICT + text("w") + _doubling(text("y" * 64), 40) + SETITEM
                    + glob("os", "system") + POP + STOP, LIMIT, "shared references"),
      "memo_materialise": (PROTO + EMPTY_DICT + text("w") + _doubling(t4, 40) + SETITEM + STOP, LIMIT, "shared references"),
      "memo_work": (PROTO + _doubling(text("z" * 64), 16) + EMPTY_LIST + MARK + get(16) * 200 + b"e" + STOP,
                    LIMIT, "shared references"),
      "memo_index": (PROTO + NONE + b"r" + struct.pack("<I", 0x7FFFFFFF) + STOP, LIMIT, "memo index"),
      # Nesting.
      "deep_lists": (PROTO + EMPTY_LIST * 100_000 + APPEND * 99_999 + STOP, LIMIT, "nested deeper"),
      "deep_marks": (PROTO + MARK * 100_000 + STOP, LIMIT, "nested deeper"),
      "deep_tuples": (PROTO + NONE + b"\x85" * 100_000 + STOP, LIMIT, "nested deeper"),
      "cycle": (PROTO + EMPTY_LIST + put(0) + get(0) + APPEND + STOP, UNSAFE, "into itself"),
      "late_mutation": (PROTO + EMPTY_LIST + put(0) + EMPTY_LIST + get(0) + APPEND + POP + get(0) + NONE + APPEND
                        + STOP, UNSAFE, "after using it"),
      "opcode_count": (PROTO + (NONE + POP) * 600_000 + NONE + STOP, LIMIT, "opcodes"),
      # Layouts.
      "negative_stride": (_w(c.tensor(Tensor("0", 0, (4,), (-1,)), F32)), CORRUPT, "non-negative"),
      "negative_offset": (_w(c.tensor(Tensor("0", -4, (4,), (1,)), F32)), CORRUPT, "non-negative"),
      "overflowing_offset": (_w(c.tensor(Tensor("0", 2**63, (4,), (1,)), F32)), CORRUPT, "non-negative"),
      "overflowing_shape": (_w(c.tensor(Tensor("0", 0, (2**40, 2**40), (1, 1)), F32)), CORRUPT, "too large"),
      "past_the_end": (_w(c.tensor(Tensor("0", 20, (2, 3), (3, 1)), F32)), CORRUPT, "past the end"),
      "stride_past_the_end": (_w(c.tensor(Tensor("0", 0, (2, 2), (1, 2**40)), F32)), CORRUPT, "past the end"),
      "too_many_dims": (_w(c.tensor(Tensor("0", 0, (1,) * 40, (1,) * 40), F32)), CORRUPT, "up to 32"),
      "mismatched_storage": (_w(c.tensor(Tensor("0", 0, (4,), (1,)), F32) + c.tensor(
          Tensor("0", 0, (4,), (1,)), c.storage_pid("0", "HalfStorage", 24)) + POP), CORRUPT, "declared twice"),
      "storage_bigger_than_record": (_w(c.tensor(Tensor("0", 0, (4,), (1,)),
                                                 c.storage_pid("0", "FloatStorage", 10**12))), CORRUPT, "fewer than"),
      # Code, and what is not tensor data.
      "control_characters": (PROTO + text("os\x1b[2J\n") + text("system\r\u202e") + b"\x93" + STOP, UNSAFE,
                             r"'os\x1b[2J\n.system\r\u202e'"),
      "newobj": (PROTO + glob("collections", "OrderedDict") + EMPTY_TUPLE + b"\x81" + STOP, UNSAFE, "NEWOBJ"),
      "extension_code": (PROTO + b"\x82\x01" + STOP, UNSAFE, "EXT1"),
      "call_storage_type": (_w(glob("torch", "FloatStorage") + EMPTY_TUPLE + REDUCE), UNSAFE, "calls something"),
      "tuple_key": (PROTO + EMPTY_DICT + tup(num(1)) + NONE + SETITEM + STOP, UNSAFE, "dict keys"),
      "huge_integer": (PROTO + b"\x8b" + struct.pack("<i", 100_000) + b"\x01" * 100_000 + STOP, CORRUPT, "bits"),
      "text_persistent_id": (PROTO + b"P0\n" + STOP, UNSAFE, "PERSID"),
      "bare_storage": (_w(F32), CORRUPT, "bare StorageRef"),
  }
  return cases


def _zip_bytes(pkl: bytes, storages: dict, **kw) -> bytes:
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, "w", kw.get("compression", zipfile.ZIP_STORED)) as archive:
    archive.writestr("archive/data.pkl", pkl)
    for key, array in storages.items():
      archive.writestr(f"archive/data/{key}", array.tobytes() if isinstance(array, np.ndarray) else array)
  return buf.getvalue()


def _member_data(data: bytes, member: str) -> int:
  """Offset of a zip member's (compressed) bytes."""
  start = data.find(b"PK\x03\x04")
  while True:
    n, extra = struct.unpack_from("<HH", data, start + 26)
    if data[start + 30:start + 30 + n] == member.encode():
      return start + 30 + n + extra
    start = data.find(b"PK\x03\x04", start + 4)


def _zip_cases(storages) -> dict[str, tuple[bytes, str, str, str]]:
  """name -> (file bytes, loader, expected error class or "view", fragment)."""
  t = c.tensor
  big = np.zeros(1 << 24, np.float32)  # 64 MiB of zeros deflate to about 64 KiB.
  bomb_pkl = _w(t(Tensor("0", 0, (1 << 24,), (1,)), c.storage_pid("0", "FloatStorage", 1 << 24)))
  cases = {
      "zip_bomb_member": (_zip_bytes(bomb_pkl, {"0": big}, compression=zipfile.ZIP_DEFLATED), LIMIT,
                          "decompresses"),
      "zip_bomb_pickle": (_zip_bytes(PROTO + b"\x8e" + struct.pack("<Q", 1 << 26) + bytes(1 << 26) + POP + NONE + STOP,
                                     {}, compression=zipfile.ZIP_DEFLATED), LIMIT, "decompresses"),
  }
  lying = _zip_bytes(_w(t(Tensor("0", 0, (4,), (1,)), c.storage_pid("0", "FloatStorage", 24))),
                     {"0": big}, compression=zipfile.ZIP_DEFLATED)
  cases["zip_lying_size"] = (c.patch_zip(lying, "archive/data/0", size=96), CORRUPT, "")
  honest_pkl = _w(t(Tensor("0", 0, (4,), (1,)), F32))
  plain = _zip_bytes(honest_pkl, {"0": storages["0"]})
  cases["encrypted_member"] = (c.patch_zip(plain, "archive/data.pkl", flag=1), CORRUPT, "encrypted")
  cases["unknown_compression"] = (c.patch_zip(plain, "archive/data/0", method=99), CORRUPT, "compression method 99")
  cases["bzip2_member"] = (_zip_bytes(honest_pkl, {"0": storages["0"]}, compression=zipfile.ZIP_BZIP2), CORRUPT,
                           "compression method 12")
  deflated = bytearray(_zip_bytes(honest_pkl, {"0": storages["0"]}, compression=zipfile.ZIP_DEFLATED))
  at = _member_data(bytes(deflated), "archive/data/0")
  deflated[at:at + 8] = b"\xff" * 8  # Block type 3 does not exist: zlib.error.
  cases["bad_deflate_stream"] = (bytes(deflated), CORRUPT, "error")
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, "w") as archive, warnings.catch_warnings():
    warnings.simplefilter("ignore")  # zipfile warns about the duplicate it is asked to write
    archive.writestr("archive/data.pkl", honest_pkl)
    archive.writestr("archive/data/0", storages["0"].tobytes())
    archive.writestr("archive/data/0", np.full(24, np.nan, np.float32).tobytes())
  cases["duplicate_member"] = (buf.getvalue(), CORRUPT, "appears twice")
  # Expanded and overlapping tensors: 1 TiB and 32 MiB if copied; views cost nothing. Shared 1000 times.
  expanded = t(Tensor("0", 0, (1 << 19, 1 << 19), (0, 0)), F32) + put(900)
  overlap = t(Tensor("0", 0, (2,) * 23, (1,) * 23), F32)
  views = (PROTO + EMPTY_DICT + text("expanded") + expanded + SETITEM + text("overlapping") + overlap + SETITEM
           + text("shared") + EMPTY_LIST + MARK + get(900) * 1000 + b"e" + SETITEM + STOP)
  cases["stride0_views"] = (_zip_bytes(views, {"0": storages["0"]}), "view", "")
  # Distinct overlapping copies of one 1 MiB storage: 64 MiB if all were copied.
  n = 1 << 18
  many = PROTO + EMPTY_DICT + MARK + b"".join(
      text(f"k{k}") + t(Tensor("0", k, (n - k,), (1,)), c.storage_pid("0", "FloatStorage", n)) for k in range(64)
  ) + b"u" + STOP
  cases["copy_amplification"] = (_zip_bytes(many, {"0": np.ones(n, np.float32)}), LIMIT, "copy out")
  return cases


def _msgpack_cases() -> dict[str, tuple[bytes, str]]:
  def array(shape, dtype, buffer):
    return msgpack.ExtType(1, msgpack.packb([shape, dtype, buffer], use_bin_type=True))

  def file(params):
    return msgpack.packb({"format": "evojax-lime-variables/1", "model": "", "variables": {"params": params}},
                         use_bin_type=True)

  def nested(depth):
    head = msgpack.packb({"format": "evojax-lime-variables/1", "model": ""})
    return b"\x83" + head[1:] + msgpack.packb("variables") + b"\x81\xa1k" * depth + b"\xc0"

  return {
      "msgpack_zero_itemsize": (file({"w": array([4], b"V0", b"")}), "not a numeric type"),
      "msgpack_object_dtype": (file({"w": array([1], b"O", b"\0" * 8)}), "not a numeric type"),
      "msgpack_shape_mismatch": (file({"w": array([1000, 1000], b"float32", b"\0" * 8)}), "does not match"),
      "msgpack_negative_shape": (file({"w": array([-2], b"float32", b"\0" * 8)}), "not a list of sizes"),
      "msgpack_shape_not_list": (file({"w": array(7, b"float32", b"\0" * 8)}), "not a list of sizes"),
      "msgpack_deep": (nested(100), "nested deeper"),
      "msgpack_very_deep": (nested(100_000), "StackError"),
      "msgpack_int_keys": (msgpack.packb({"params": {1: 2}}), "ValueError"),
      "msgpack_unknown_ext": (file({"w": msgpack.ExtType(9, b"x")}), "extension type 9"),
      "msgpack_bad_complex": (file({"w": msgpack.ExtType(2, msgpack.packb(["a", None]))}), "complex"),
      "msgpack_bad_chunks": (file({"w": {"__msgpack_chunked_array__": True, "shape": {"0": 10},
                                         "chunks": {"0": array([3], b"float32", b"\0" * 12)}}}), "chunks"),
      "msgpack_string_leaf": (file({"w": "x"}), "not a number"),
      "msgpack_name_type": (msgpack.packb({"format": "evojax-lime-variables/1", "model": 7,
                                           "variables": {"params": {}}}), "recorded model name"),
      "msgpack_truncated": (file({"w": array([2], b"float32", b"\0" * 8)})[:-5], "not a readable msgpack"),
      "msgpack_ext_garbage": (file({"w": msgpack.ExtType(1, b"\xc1")}), "not a readable msgpack"),
  }


def _legacy_cases(tmp_path) -> dict[str, tuple[bytes, str, str]]:
  entries, storages = c.honest()
  del entries["q.scale"], storages["4"]
  path, ranges = c.legacy_checkpoint(tmp_path / "legacy_src.pt", c.state_dict_pickle(entries, storages, legacy=True),
                                     storages)
  data = bytearray(path.read_bytes())
  struct.pack_into("<q", data, ranges["0"].start - 8, 1 << 60)
  view_pid = (MARK + text("storage") + glob("torch", "FloatStorage") + text("0") + text("cpu") + num(24)
              + tup(text("v"), num(20), num(10)) + b"t" + BINPERSID)
  return {
      "legacy_huge_count": (bytes(data), CORRUPT, "truncated"),
      "legacy_view_past_storage": (
          PROTO + num(0x1950A86A20F9469CFC6C) + STOP + PROTO + num(1001) + STOP + PROTO + EMPTY_DICT + STOP
          + _w(c.tensor(Tensor("0", 0, (4,), (1,)), view_pid)) + PROTO + EMPTY_LIST + STOP, CORRUPT,
          "reaches past its storage"),
      "legacy_no_magic": (PROTO + num(5) + STOP, CORRUPT, "no magic number"),
  }


def build(tmp: Path) -> tuple[Path, dict[str, tuple[str, str]]]:
  """Writes the corpus under ``tmp``; returns the manifest and ``{case: (expected error class or "view", fragment)}``."""
  honest = {k: str(v) for k, v in c.honest_files(tmp).items()}
  _, storages = c.honest()
  cases, expect = [], {}

  def add(name, data, loader, kind, fragment):
    path = tmp / (name + (".msgpack" if loader == "msgpack" else ".pt"))
    path.write_bytes(data)
    cases.append({"name": name, "path": str(path), "loader": loader})
    expect[name] = (kind, fragment)

  for name, (pkl, kind, fragment) in _pickle_cases().items():
    add(name, _zip_bytes(pkl, {"0": storages["0"]}), "pickle", kind, fragment)
  add("legacy_deep_lists", PROTO + EMPTY_LIST * 100_000 + APPEND * 99_999 + STOP, "pickle", LIMIT, "nested deeper")
  for name, (data, kind, fragment) in {**_zip_cases(storages), **_legacy_cases(tmp)}.items():
    add(name, data, "pickle", kind, fragment)
  for name, (data, fragment) in _msgpack_cases().items():
    add(name, data, "msgpack", CORRUPT, fragment)
  # For a known architecture, the huge expanded tensor is refused on its declared shape, before any data is read.
  add("stride0_for_model", _zip_bytes(_w(c.tensor(Tensor("0", 0, (1 << 19, 1 << 19), (0, 0)), F32)).replace(
      text("w"), text("_conv_stem.weight"), 1), {"0": storages["0"]}), "create:efficientnet_lite0", MISMATCH,
      "elements")
  add("empty_file", b"", "state_dict", CORRUPT, "truncated, corrupt or not a torch checkpoint")
  manifest = tmp / "manifest.json"
  manifest.write_text(json.dumps({"honest": honest, "cases": cases}))
  return manifest, expect


def run(manifest: Path, out: Path) -> list[dict]:
  """Runs the harness on ``manifest``; its JSON outcomes, one per case or fuzzed file."""
  proc = subprocess.run([sys.executable, str(HARNESS), str(manifest), str(out)], capture_output=True, text=True,
                        timeout=600, env={**os.environ})
  if proc.returncode != 0:
    raise RuntimeError(f"the harness failed: {proc.stderr[-3000:]}")
  return [json.loads(line) for line in out.read_text().splitlines()]


def names() -> list[str]:
  """Every case :func:`build` writes (cheap: for test parametrisation)."""
  return list(_pickle_cases()) + ["legacy_deep_lists"] + list(_msgpack_cases()) + [
      "zip_bomb_member", "zip_bomb_pickle", "zip_lying_size", "encrypted_member", "unknown_compression",
      "bzip2_member", "bad_deflate_stream", "duplicate_member", "stride0_views", "copy_amplification",
      "legacy_huge_count", "legacy_view_past_storage", "legacy_no_magic", "stride0_for_model", "empty_file"]
