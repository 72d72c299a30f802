"""Builds checkpoints byte by byte: honest ones torch itself reads, and the crafted ones an attacker would try.

Nothing here is stored as a binary file; every test builds what it needs in its temporary folder.
"""
from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import NamedTuple, Optional

import ml_dtypes
import numpy as np

# --- pickle opcodes (protocol 2, as torch.save writes them) ----------------------------------------------------

PROTO = b"\x80\x02"
MARK, TUPLE, STOP, REDUCE, BUILD, BINPERSID = b"(", b"t", b".", b"R", b"b", b"Q"
EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, NONE, FALSE = b"}", b"]", b")", b"N", b"\x89"
SETITEM, SETITEMS, APPEND, APPENDS, POP = b"s", b"u", b"a", b"e", b"0"


def text(s: str) -> bytes:
  b = s.encode("utf-8", "surrogatepass")
  return b"X" + struct.pack("<I", len(b)) + b  # BINUNICODE


def num(i: int) -> bytes:
  if -2**31 <= i < 2**31:
    return b"J" + struct.pack("<i", i)  # BININT
  raw = i.to_bytes((i.bit_length() + 8) // 8, "little", signed=True)
  return b"\x8a" + bytes([len(raw)]) + raw  # LONG1


def tup(*items: bytes) -> bytes:
  return MARK + b"".join(items) + TUPLE


def glob(module: str, name: str) -> bytes:
  return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def put(i: int) -> bytes:
  return b"r" + struct.pack("<I", i)  # LONG_BINPUT


def get(i: int) -> bytes:
  return b"j" + struct.pack("<I", i)  # LONG_BINGET


def ordered_dict() -> bytes:
  return glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE


# --- tensors -------------------------------------------------------------------------------------------------

# torch storage class per numpy dtype; dtypes without one are saved through an untyped storage (_rebuild_tensor_v3).
STORAGE_TYPES = {
    np.dtype(np.float32): "FloatStorage", np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage",
    np.dtype(np.bool_): "BoolStorage", np.dtype(ml_dtypes.bfloat16): "BFloat16Storage",
    np.dtype(np.float64): "DoubleStorage", np.dtype(np.uint8): "ByteStorage",
}


class Tensor(NamedTuple):
  """A state_dict entry: a view ``(offset, shape, stride)`` of ``storage``; ``dtype`` set for a v3 tensor."""

  storage: str
  offset: int
  shape: tuple
  stride: tuple
  dtype: Optional[str] = None  # torch dtype name (e.g. "float8_e4m3fn") on an untyped storage


def storage_pid(key: str, kind: str, numel: int) -> bytes:
  module = "torch.storage" if kind == "UntypedStorage" else "torch"
  return tup(text("storage"), glob(module, kind), text(key), text("cpu"), num(numel)) + BINPERSID


def tensor(t: Tensor, pid: bytes) -> bytes:
  """``_rebuild_tensor_v2/v3(storage, offset, size, stride, False, OrderedDict()[, dtype])``."""
  common = (pid, num(t.offset), tup(*map(num, t.shape)), tup(*map(num, t.stride)), FALSE, ordered_dict())
  if t.dtype is None:
    return glob("torch._utils", "_rebuild_tensor_v2") + tup(*common) + REDUCE
  return glob("torch._utils", "_rebuild_tensor_v3") + tup(*common, glob("torch", t.dtype)) + REDUCE


def state_dict_pickle(entries: dict[str, Tensor], storages: dict[str, np.ndarray], *, legacy: bool = False) -> bytes:
  """An ``OrderedDict`` with ``_metadata`` (set by BUILD, as torch does); storages shared through the memo."""
  out = [PROTO, ordered_dict(), put(0), MARK]
  memo = {}
  for name, t in entries.items():
    if t.storage in memo:
      pid = get(memo[t.storage])
    else:
      array = storages[t.storage]
      kind = STORAGE_TYPES.get(array.dtype, "UntypedStorage")
      numel = array.size if kind != "UntypedStorage" else array.nbytes
      pid = storage_pid(t.storage, kind, numel)
      if legacy:  # torch < 1.6 adds the view slot, None for a whole storage.
        pid = pid[:-len(TUPLE + BINPERSID)] + NONE + TUPLE + BINPERSID
      memo[t.storage] = len(memo) + 1
      pid += put(memo[t.storage])
    out += [text(name), tensor(t, pid)]
  out += [SETITEMS, EMPTY_DICT, text("_metadata"), ordered_dict(), text(""), EMPTY_DICT, text("version"), num(1),
          SETITEM, SETITEM, SETITEM, BUILD, STOP]
  return b"".join(out)


def honest() -> tuple[dict[str, Tensor], dict[str, np.ndarray]]:
  """Entries over storages of every supported storage type: views, shared storage, a scalar, a float8 tensor."""
  rng = np.random.default_rng(0)
  storages = {
      "0": rng.standard_normal(24).astype(np.float32),
      "1": rng.standard_normal(5).astype(np.float16),
      "2": np.array([7], np.int64),
      "3": rng.standard_normal(5).astype(ml_dtypes.bfloat16),
      "4": rng.standard_normal(6).astype(ml_dtypes.float8_e4m3fn),
      "5": np.array([True, False, True]),
  }
  entries = {
      "conv.weight": Tensor("0", 0, (2, 3, 2, 2), (12, 4, 2, 1)),
      "conv.weight_t": Tensor("0", 4, (2, 3), (1, 2)),
      "bn.running_var": Tensor("1", 0, (5,), (1,)),
      "bn.num_batches_tracked": Tensor("2", 0, (), ()),
      "fc.bias": Tensor("3", 1, (4,), (1,)),
      "q.scale": Tensor("4", 0, (2, 3), (3, 1), "float8_e4m3fn"),
      "mask": Tensor("5", 0, (3,), (1,)),
  }
  return entries, storages


def expected(entries: dict[str, Tensor], storages: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """What a reader must return for ``entries``, computed with numpy alone."""
  out = {}
  for name, t in entries.items():
    flat = storages[t.storage]
    if t.dtype is not None:
      flat = flat.view(np.dtype(getattr(ml_dtypes, t.dtype)))
    item = flat.dtype.itemsize
    out[name] = np.lib.stride_tricks.as_strided(flat[t.offset:], t.shape, [s * item for s in t.stride]).copy()
  return out


def zip_checkpoint(path: Path, pkl: bytes, storages: dict[str, np.ndarray], *, byteorder: str = "little",
                   compression: int = zipfile.ZIP_STORED) -> Path:
  with zipfile.ZipFile(path, "w", compression) as archive:
    archive.writestr("archive/data.pkl", pkl)
    archive.writestr("archive/byteorder", byteorder)
    for key, array in storages.items():
      archive.writestr(f"archive/data/{key}", array.astype(array.dtype.newbyteorder(
          "<" if byteorder == "little" else ">")).tobytes())
    archive.writestr("archive/version", "3\n")
  return path


def legacy_checkpoint(path: Path, pkl: bytes, storages: dict[str, np.ndarray]) -> tuple[Path, dict[str, range]]:
  """The legacy format; also returns the byte range of each storage's data in the file."""
  head = [PROTO + num(0x1950A86A20F9469CFC6C) + STOP, PROTO + num(1001) + STOP,
          PROTO + EMPTY_DICT + MARK + text("protocol_version") + num(1001) + text("little_endian") + b"\x88"
          + text("type_sizes") + EMPTY_DICT + SETITEMS + STOP, pkl,
          PROTO + EMPTY_LIST + MARK + b"".join(text(k) for k in storages) + APPENDS + STOP]
  data = bytearray(b"".join(head))
  ranges = {}
  for key, array in storages.items():
    numel = array.size if STORAGE_TYPES.get(array.dtype, "UntypedStorage") != "UntypedStorage" else array.nbytes
    data += struct.pack("<q", numel)
    ranges[key] = range(len(data), len(data) + array.nbytes)
    data += array.tobytes()
  path.write_bytes(bytes(data))
  return path, ranges


def honest_files(folder: Path) -> dict[str, Path]:
  """The honest zip (with a float8 tensor) and legacy (without: torch cannot read those back) checkpoints."""
  entries, storages = honest()
  files = {"zip": zip_checkpoint(folder / "honest_zip.pt", state_dict_pickle(entries, storages), storages)}
  del entries["q.scale"], storages["4"]
  files["legacy"] = legacy_checkpoint(folder / "honest_legacy.pt", state_dict_pickle(entries, storages, legacy=True),
                                      storages)[0]
  return files


def patch_zip(data: bytes, member: str, *, flag: Optional[int] = None, method: Optional[int] = None,
              size: Optional[int] = None) -> bytes:
  """Rewrites one member's general-purpose flag, compression method or declared size in both of its headers."""
  out = bytearray(data)
  name = member.encode()
  for signature, flag_at, method_at, size_at, name_at in ((b"PK\x03\x04", 6, 8, 22, 30),
                                                          (b"PK\x01\x02", 8, 10, 24, 46)):
    start = 0
    while (start := out.find(signature, start)) >= 0:
      n = struct.unpack_from("<H", out, start + name_at - (4 if signature == b"PK\x03\x04" else 18))[0]
      if out[start + name_at:start + name_at + n] == name:
        if flag is not None:
          struct.pack_into("<H", out, start + flag_at, flag)
        if method is not None:
          struct.pack_into("<H", out, start + method_at, method)
        if size is not None:
          struct.pack_into("<I", out, start + size_at, size)
      start += 4
  return bytes(out)

