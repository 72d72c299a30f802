"""Reads torch checkpoints into numpy arrays without importing torch.

Two on-disk formats exist:

* zip (``torch.save`` since torch 1.6): ``<root>/data.pkl`` is a pickle whose tensors reach their bytes through
  persistent ids ``("storage", StorageType, key, location, numel)``; storage ``key`` is the raw record
  ``<root>/data/<key>``, in the byte order named by ``<root>/byteorder`` (little when absent).
* legacy (``_use_new_zipfile_serialization=False``, and torch < 1.6): pickles back to back -- magic number,
  protocol version, system info, the object itself (persistent ids ``("storage", StorageType, key, location,
  numel, view)``), the storage keys in file order -- then per key an int64 element count and the raw bytes.

The unpickler resolves only the globals a tensor ``state_dict`` needs, each to a local stand-in that records
where a tensor's elements live; every other global is refused when the pickle names it, which is before the
unpickler can call anything, so a hostile file cannot run code. Arrays are cut out of the storages afterwards.
"""
from __future__ import annotations

import collections
import dataclasses
import io
import os
import pickle
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import ml_dtypes
import numpy as np

__all__ = ["UnsafeCheckpointError", "load_torch_checkpoint", "read_torch_pickle"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_ZIP_MAGIC = b"PK\x03\x04"
# Keys under which training scripts commonly nest the model's state_dict.
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net", "module")
# Deep enough for any real checkpoint; stops runaway recursion on crafted self-referencing containers.
_MAX_DEPTH = 64


class UnsafeCheckpointError(ValueError):
  """A checkpoint's pickle names a global that is not plain tensor data (it could run code)."""


@dataclasses.dataclass(frozen=True)
class _StorageType:
  """Stand-in for ``torch.FloatStorage`` and friends: only the element type matters."""

  name: str
  dtype: np.dtype


class _Storage:
  """One storage's bytes; ``raw`` is filled in once the file section holding them has been read."""

  def __init__(self, dtype: np.dtype, numel: int):
    self.dtype = dtype
    self.numel = numel
    self.raw: Optional[memoryview] = None


class _StorageView(_Storage):
  """A legacy storage view: elements ``[start, start + count)`` of ``base``, whose bytes arrive later."""

  def __init__(self, base: _Storage, start: int, count: int):
    super().__init__(base.dtype, count)
    self._base, self._start = base, start

  @property
  def raw(self) -> Optional[memoryview]:
    if self._base.raw is None:
      return None
    size = self.dtype.itemsize
    return self._base.raw[self._start * size:(self._start + self.numel) * size]

  @raw.setter
  def raw(self, value) -> None:
    pass  # Views never own bytes; the base storage's are read.


@dataclasses.dataclass(frozen=True)
class _TensorRef:
  """Where a tensor's elements sit in a storage (in elements of ``dtype``), resolved after unpickling."""

  storage: _Storage
  offset: int
  shape: tuple
  stride: tuple
  dtype: np.dtype


def _storage_types() -> dict[tuple[str, str], _StorageType]:
  dtypes = {
      "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
      "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
      "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
      "ComplexFloatStorage": np.complex64, "ComplexDoubleStorage": np.complex128,
  }
  table = {("torch", n): _StorageType(n, np.dtype(d)) for n, d in dtypes.items()}
  # Byte storages of tensors saved through _rebuild_tensor_v3; the module path moved across torch versions.
  for module, name in (("torch", "UntypedStorage"), ("torch.storage", "UntypedStorage"),
                       ("torch", "_UntypedStorage"), ("torch.storage", "_UntypedStorage")):
    table[(module, name)] = _StorageType(name, np.dtype(np.uint8))
  return table


# Element types that torch pickles by name (``torch.uint16``) next to an untyped storage.
_V3_DTYPES = {
    "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
    "float8_e5m2": ml_dtypes.float8_e5m2, "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz, "float8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
}


def _ints(values: Any, what: str) -> tuple:
  if not isinstance(values, (tuple, list)) or not all(isinstance(v, int) and v >= 0 for v in values):
    raise ValueError(f"tensor {what} must be non-negative integers, got {values!r}")
  return tuple(values)


def _tensor_ref(storage: Any, offset: Any, size: Any, stride: Any, dtype: Optional[np.dtype] = None) -> _TensorRef:
  if not isinstance(storage, _Storage):
    raise ValueError(f"tensor is built from a {type(storage).__name__}, not a storage")
  shape, stride = _ints(size, "sizes"), _ints(stride, "strides")
  if len(shape) != len(stride) or not isinstance(offset, int) or offset < 0:
    raise ValueError(f"inconsistent tensor layout: size {shape}, stride {stride}, offset {offset!r}")
  return _TensorRef(storage, offset, shape, stride, storage.dtype if dtype is None else dtype)


def _rebuild_tensor(storage, storage_offset, size, stride):
  return _tensor_ref(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
  # metadata carries lazily applied conjugate/negative bits, which would change the values.
  if metadata:
    raise ValueError(f"tensors with lazy conjugate/negative bits are not supported ({metadata!r})")
  return _tensor_ref(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
  if not isinstance(dtype, np.dtype) or storage.dtype != np.uint8:
    raise ValueError(f"unsupported typed tensor on {storage!r} with dtype {dtype!r}")
  if metadata:
    raise ValueError(f"tensors with lazy conjugate/negative bits are not supported ({metadata!r})")
  return _tensor_ref(storage, storage_offset, size, stride, dtype)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
  return data


_ALLOWED: dict[tuple[str, str], Any] = {
    **_storage_types(),
    **{("torch", n): np.dtype(d) for n, d in _V3_DTYPES.items()},
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
}


def _text(value: Any) -> str:
  # Checkpoints written by Python 2 torch carry these fields as bytes.
  return value.decode("ascii") if isinstance(value, bytes) else value


class _RestrictedUnpickler(pickle.Unpickler):
  """Unpickles tensor containers; storages are registered in ``storages`` and read later by the caller."""

  def __init__(self, file, *, path: Path, storages: dict[str, _Storage]):
    super().__init__(file)
    self._path = path
    self._storages = storages

  def find_class(self, module: str, name: str) -> Any:
    try:
      return _ALLOWED[(module, name)]
    except KeyError:
      raise UnsafeCheckpointError(
          f"{self._path}: refusing to unpickle global {module}.{name} (only tensor data is allowed)") from None

  def persistent_load(self, pid: Any) -> _Storage:
    if not isinstance(pid, tuple) or len(pid) not in (5, 6) or _text(pid[0]) != "storage":
      raise ValueError(f"unsupported persistent id {pid!r:.80}")
    storage_type, key, _location, numel = pid[1:5]
    key = _text(key)
    if not isinstance(storage_type, _StorageType) or not isinstance(key, str) or not isinstance(numel, int):
      raise ValueError(f"malformed storage reference {pid!r:.80}")
    if key not in self._storages:
      self._storages[key] = _Storage(storage_type.dtype, numel)
    view = pid[5] if len(pid) == 6 else None
    if view is None:
      return self._storages[key]
    # torch < 1.0 pickled slices of a storage as views: (view key, element offset, element count).
    view_key, start, count = view
    if _text(view_key) not in self._storages:
      self._storages[_text(view_key)] = _StorageView(self._storages[key], start, count)
    return self._storages[_text(view_key)]


def _array(ref: _TensorRef, byteorder: str) -> np.ndarray:
  """Copies the tensor out of its storage into a native-order, C-contiguous array."""
  raw = ref.storage.raw
  if raw is None:
    raise ValueError("a tensor refers to a storage whose bytes are not in the file")
  flat = np.frombuffer(raw, dtype=ref.dtype, count=len(raw) // ref.dtype.itemsize)
  if byteorder != sys.byteorder:
    flat = flat.byteswap()
  if 0 in ref.shape:
    return np.zeros(ref.shape, ref.dtype)
  last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride))
  if last >= flat.size:
    raise ValueError(f"a tensor of shape {ref.shape} reads past the end of its storage ({flat.size} elements)")
  view = np.lib.stride_tricks.as_strided(
      flat[ref.offset:], shape=ref.shape, strides=[s * ref.dtype.itemsize for s in ref.stride], writeable=False)
  return np.array(view, order="C")


def _materialise(obj: Any, byteorder: str, depth: int = 0) -> Any:
  """Replaces every tensor reference in nested dicts/lists/tuples with its numpy array."""
  if depth > _MAX_DEPTH:
    raise ValueError(f"containers nested deeper than {_MAX_DEPTH} levels")
  if isinstance(obj, _TensorRef):
    return _array(obj, byteorder)
  if isinstance(obj, Mapping):
    return type(obj)((k, _materialise(v, byteorder, depth + 1)) for k, v in obj.items())
  if isinstance(obj, (list, tuple)):
    return type(obj)(_materialise(v, byteorder, depth + 1) for v in obj)
  return obj


def _read_zip(file, path: Path) -> tuple[Any, str]:
  with zipfile.ZipFile(file) as archive:
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
      raise ValueError("zip archive holds no single <root>/data.pkl, so it is not a torch.save file")
    root = pickles[0][:-len("data.pkl")]
    names = set(archive.namelist())
    byteorder = "little"
    if f"{root}byteorder" in names:
      byteorder = archive.read(f"{root}byteorder").decode("ascii").strip()
    storages: dict[str, _Storage] = {}
    obj = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), path=path, storages=storages).load()
    for key, storage in storages.items():
      record = f"{root}data/{key}"
      if record not in names:
        raise ValueError(f"storage record {record} is missing")
      nbytes = storage.numel * storage.dtype.itemsize
      if archive.getinfo(record).file_size < nbytes:
        raise ValueError(f"storage record {record} holds fewer than {nbytes} bytes")
      storage.raw = memoryview(archive.read(record))[:nbytes]
  return obj, byteorder


def _read_legacy(file, path: Path) -> tuple[Any, str]:
  file_size = os.fstat(file.fileno()).st_size
  header = _RestrictedUnpickler(file, path=path, storages={})
  if header.load() != _LEGACY_MAGIC:
    raise ValueError("neither a zip archive nor a legacy torch file (no magic number)")
  if (protocol := header.load()) != _LEGACY_PROTOCOL:
    raise ValueError(f"unsupported legacy protocol version {protocol!r}")
  sys_info = header.load()
  byteorder = "little" if not isinstance(sys_info, Mapping) or sys_info.get("little_endian", True) else "big"
  storages: dict[str, _Storage] = {}
  obj = _RestrictedUnpickler(file, path=path, storages=storages).load()
  keys = _RestrictedUnpickler(file, path=path, storages={}).load()
  if not isinstance(keys, list) or any(_text(k) not in storages for k in keys):
    raise ValueError("the storage key list does not match the storages the pickle refers to")
  for key in keys:
    storage = storages[_text(key)]
    count = struct.unpack("<q" if byteorder == "little" else ">q", _read_exactly(file, 8))[0]
    nbytes = count * storage.dtype.itemsize
    # Check against the file size first: a corrupt count must not trigger a huge allocation.
    if count < storage.numel or nbytes > file_size - file.tell():
      raise ValueError(f"storage {_text(key)} claims {count} elements; the file is truncated or corrupt")
    storage.raw = memoryview(_read_exactly(file, nbytes))
  return obj, byteorder


def _read_exactly(file, n: int) -> bytes:
  data = file.read(n)
  if len(data) != n:
    raise EOFError(f"wanted {n} bytes, file ends after {len(data)}")
  return data


def read_torch_pickle(path: Union[str, os.PathLike]) -> Any:
  """Loads any ``torch.save`` file of tensor containers, tensors as numpy arrays.

  Args:
    path: a ``.pth``/``.pt``/``.bin`` file in the zip or the legacy torch format.

  Returns:
    The saved object: dicts (``OrderedDict`` kept), lists, tuples and scalars as saved, every tensor or
    ``nn.Parameter`` replaced by a C-contiguous native-order ``np.ndarray`` of its dtype and shape.

  Raises:
    UnsafeCheckpointError: the pickle names a global other than tensor rebuilders, storage types and
      ``collections.OrderedDict`` (e.g. a pickled class or ``os.system``); nothing was executed.
    ValueError: the path is not a readable file, or the file is truncated, corrupt or not a torch checkpoint.
  """
  path = Path(path)
  if not path.is_file():
    raise ValueError(f"{path} is not a file" + ("" if path.exists() else " (it does not exist)"))
  try:
    with open(path, "rb") as file:
      is_zip = file.read(4) == _ZIP_MAGIC
      file.seek(0)
      obj, byteorder = (_read_zip if is_zip else _read_legacy)(file, path)
    return _materialise(obj, byteorder)
  except UnsafeCheckpointError:
    raise
  except OSError as err:
    raise ValueError(f"{path}: cannot read: {err}") from None
  # Crafted or cut-off pickles surface as any of these; all mean the same to the user.
  except (ValueError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, struct.error, TypeError, KeyError,
          IndexError, AttributeError, UnicodeDecodeError, OverflowError, RecursionError, MemoryError) as err:
    raise ValueError(f"{path}: truncated, corrupt or not a torch checkpoint: {err}") from None


def load_torch_checkpoint(path: Union[str, os.PathLike]) -> dict[str, np.ndarray]:
  """Reads a torch ``state_dict`` without torch.

  Args:
    path: a ``torch.save`` file (zip or legacy format) holding a ``state_dict``, possibly nested under one of
      ``"state_dict"``, ``"model"``, ``"model_state_dict"``, ``"net"`` or ``"module"``.

  Returns:
    ``{torch key: array}`` in saved order; a ``module.`` prefix that every key carries (``DataParallel``) is
    dropped. Arrays keep their saved dtype and shape (a conv weight is ``(O, I/groups, kh, kw)``).

  Raises:
    UnsafeCheckpointError: the file's pickle names a global that is not plain tensor data.
    ValueError: unreadable, truncated or corrupt file, or one that holds no mapping of names to tensors.
  """
  obj = read_torch_pickle(path)
  for _ in range(3):
    if not isinstance(obj, Mapping):
      break
    nested = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
    if nested is None or all(isinstance(v, np.ndarray) for v in obj.values()):
      break
    obj = nested
  if not isinstance(obj, Mapping) or not obj or not all(
      isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items()):
    found = f"keys {sorted(map(str, obj))[:8]}" if isinstance(obj, Mapping) else type(obj).__name__
    raise ValueError(f"{path} holds no state_dict (a mapping of names to tensors); found {found}")
  state = dict(obj)
  if all(k.startswith("module.") for k in state):
    state = {k[len("module."):]: v for k, v in state.items()}
  return state
