"""Reads torch checkpoints into numpy arrays without importing torch, treating every file as hostile.

Two on-disk formats exist:

* zip (``torch.save`` since torch 1.6): ``<root>/data.pkl`` is a pickle whose tensors reach their bytes through
  persistent ids ``("storage", StorageType, key, location, numel)``; storage ``key`` is the raw record
  ``<root>/data/<key>``, in the byte order named by ``<root>/byteorder`` (little when absent).
* legacy (``_use_new_zipfile_serialization=False``, and torch < 1.6): pickles back to back -- magic number,
  protocol version, system info, the object itself (persistent ids ``("storage", StorageType, key, location,
  numel, view)``), the storage keys in file order -- then per key an int64 element count and the raw bytes.

Reading happens in three guarded steps:

1. Every pickle's opcode stream is walked first (``models._pickle_scan``): foreign globals, code-running opcodes,
   cycles, deep nesting and memo or work bombs are refused before ``pickle`` builds anything.
2. The unpickler resolves the allowed globals to fresh immutable records (slotted, no ``__dict__``, refusing
   ``__setstate__``): nothing it hands out can be rewritten by ``BUILD`` afterwards, and no numpy dtype or
   function object is ever exposed. Only an ``OrderedDict`` accepts ``BUILD``, and only for ``_metadata``.
3. Tensors are cut out of their storages last, each layout checked against its storage at that moment. Zip
   members are read through ``models._zip_limits`` (decompressed bytes capped by the file's size).
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import ml_dtypes
import numpy as np

from models import _pickle_scan, _zip_limits
from models._checkpoint_errors import (CheckpointError, CheckpointLimitError, CorruptCheckpointError,
                                       UnsafeCheckpointError, shown)

__all__ = ["UnsafeCheckpointError", "load_torch_checkpoint", "read_torch_pickle"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_ZIP_MAGIC = b"PK\x03\x04"
# Keys under which training scripts commonly nest the model's state_dict.
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net", "module")
# No pickle (tensor metadata only) comes near this; the storages' bytes live outside it.
_MAX_PICKLE_BYTES = 64 << 20
_MAX_DIMS = 32
_MAX_INDEX = 1 << 62
# Tensors copied out may total this many times the storage bytes read (plus the slack): identical layouts share
# one array, so only crafted overlapping views of one storage come near it.
_COPY_RATIO = 4
_COPY_SLACK = 1 << 20

# Element types by the name torch pickles: storage classes (``torch.FloatStorage``) and dtypes (``torch.uint16``).
_STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8", "_UntypedStorage": "uint8",
}
_DTYPES = {
    "float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16,
    "int64": np.int64, "int32": np.int32, "int16": np.int16, "int8": np.int8, "uint8": np.uint8,
    "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64, "bool": np.bool_,
    "complex64": np.complex64, "complex128": np.complex128, "float8_e5m2": ml_dtypes.float8_e5m2,
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn, "float8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "float8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
}
_REBUILDERS = ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
               "_rebuild_parameter_with_state")


def _allowed() -> dict[tuple[str, str], tuple[str, str]]:
  """``(module, name) -> (role, detail)`` for every global a tensor ``state_dict`` pickle may name."""
  table = {("torch._utils", n): ("tensor", n) for n in _REBUILDERS}
  table[("collections", "OrderedDict")] = ("ordered_dict", "")
  table.update({("torch", n): ("storage_type", d) for n, d in _STORAGE_DTYPES.items()})
  # The module of untyped storages moved across torch versions.
  table.update({("torch.storage", n): ("storage_type", "uint8") for n in ("UntypedStorage", "_UntypedStorage")})
  table.update({("torch", n): ("dtype", n) for n in _DTYPES})
  return table


_ALLOWED = _allowed()


def _dtype(name: str) -> np.dtype:
  # A fresh lookup per use: the dtype objects themselves never reach the unpickler.
  return np.dtype(_DTYPES[name])


class _Record:
  """Base of the values the unpickler hands out: slotted, immutable, and refusing ``BUILD``."""

  __slots__ = ()

  def __init__(self, **fields):
    for name, value in fields.items():
      object.__setattr__(self, name, value)

  def __setattr__(self, name, value):
    raise UnsafeCheckpointError(f"the pickle tries to change a {type(self).__name__[1:]}")

  __delattr__ = __setattr__

  def __setstate__(self, state):
    raise UnsafeCheckpointError(f"the pickle tries to set the state of a {type(self).__name__[1:]}")


class _Global(_Record):
  """An allowed global: a tensor rebuilder, ``OrderedDict``, a storage type or a dtype (by name only)."""

  __slots__ = ("role", "detail")

  def __call__(self, *args):
    if self.role == "tensor":
      return _rebuild(self.detail, args)
    if self.role == "ordered_dict":
      return _ordered_dict(args)
    raise UnsafeCheckpointError(f"the pickle calls {self.role} {shown(self.detail)}")


class _StorageRef(_Record):
  """Storage ``key`` of ``numel`` elements of ``dtype``; a legacy view is ``[start, start + numel)`` of ``base``."""

  __slots__ = ("key", "dtype", "numel", "base", "start")


class _TensorRef(_Record):
  """Where a tensor's elements sit in a storage (in elements of ``dtype``); checked again when it is read."""

  __slots__ = ("storage", "offset", "shape", "stride", "dtype")

  def layout(self) -> np.ndarray:
    """A zero-filled read-only array of the tensor's shape and dtype that occupies no memory."""
    return np.broadcast_to(np.zeros((), _dtype(self.dtype)), self.shape)


class _PickledDict(collections.OrderedDict):
  """What the pickle's ``OrderedDict`` builds: string or number keys; ``BUILD`` may only set ``_metadata``."""

  def __setitem__(self, key, value, *args):
    if not isinstance(key, (str, bytes, int, type(None))):
      raise UnsafeCheckpointError(f"a dict key of type {type(key).__name__}")
    super().__setitem__(key, value, *args)

  def __setstate__(self, state):
    # torch stores the module versions as ``_metadata``; nothing here needs them.
    if not isinstance(state, dict) or set(state) - {"_metadata"}:
      raise UnsafeCheckpointError("the pickle sets attributes of an OrderedDict other than _metadata")


def _ordered_dict(args: tuple) -> _PickledDict:
  result = _PickledDict()
  if args:  # Python 2 pickled an OrderedDict's items as its argument.
    if len(args) != 1 or not isinstance(args[0], (list, tuple)):
      raise CorruptCheckpointError("malformed OrderedDict arguments")
    for pair in args[0]:
      if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise CorruptCheckpointError("malformed OrderedDict item")
      result[pair[0]] = pair[1]
  return result


def _index(value: Any, what: str) -> int:
  if type(value) is not int or not 0 <= value < _MAX_INDEX:  # pylint: disable=unidiomatic-typecheck
    raise CorruptCheckpointError(f"tensor {what} must be a non-negative integer, got {shown(value)}")
  return value


def _indices(values: Any, what: str) -> tuple:
  if not isinstance(values, (tuple, list)) or len(values) > _MAX_DIMS:
    raise CorruptCheckpointError(f"tensor {what} must be up to {_MAX_DIMS} integers, got {shown(values)}")
  return tuple(_index(v, what) for v in values)


def _tensor_ref(storage: Any, offset: Any, size: Any, stride: Any, dtype: Optional[str] = None) -> _TensorRef:
  if not isinstance(storage, _StorageRef):
    raise CorruptCheckpointError(f"a tensor is built from a {type(storage).__name__}, not a storage")
  shape, stride = _indices(size, "sizes"), _indices(stride, "strides")
  if len(shape) != len(stride):
    raise CorruptCheckpointError(f"tensor sizes {shape} and strides {stride} differ in length")
  dtype = storage.dtype if dtype is None else dtype
  if int(np.prod(shape, dtype=object)) * _dtype(dtype).itemsize >= _MAX_INDEX:
    raise CorruptCheckpointError(f"a tensor of shape {shape} is too large")
  return _TensorRef(storage=storage, offset=_index(offset, "offset"), shape=shape, stride=stride, dtype=dtype)


def _rebuild(name: str, args: tuple) -> _TensorRef:
  """The tensor ``torch._utils.<name>(*args)`` would rebuild, as a reference; hooks and grad flags are ignored."""
  arity = {"_rebuild_tensor": (4, 4), "_rebuild_tensor_v2": (4, 7), "_rebuild_tensor_v3": (7, 8),
           "_rebuild_parameter": (1, 3), "_rebuild_parameter_with_state": (1, 4)}[name]
  if not arity[0] <= len(args) <= arity[1]:
    raise CorruptCheckpointError(f"{name} called with {len(args)} arguments")
  if name.startswith("_rebuild_parameter"):
    if not isinstance(args[0], _TensorRef):
      raise CorruptCheckpointError(f"a parameter wraps a {type(args[0]).__name__}, not a tensor")
    return args[0]
  # metadata (the last argument of v2 and v3) carries lazily applied conjugate/negative bits, which would change
  # the values.
  metadata = {"_rebuild_tensor_v2": 6, "_rebuild_tensor_v3": 7}.get(name)
  if metadata is not None and len(args) > metadata and args[metadata]:
    raise CorruptCheckpointError("tensors with lazy conjugate/negative bits are not supported")
  if name != "_rebuild_tensor_v3":
    return _tensor_ref(*args[:4])
  dtype = args[6]
  if not isinstance(dtype, _Global) or dtype.role != "dtype" or not isinstance(args[0], _StorageRef) or (
      args[0].dtype != "uint8"):
    raise CorruptCheckpointError("a typed tensor needs an untyped storage and a dtype")
  return _tensor_ref(*args[:4], dtype=dtype.detail)


def _role(module: str, name: str) -> Optional[str]:
  entry = _ALLOWED.get((module, name))
  return entry and entry[0]


def _text(value: Any) -> str:
  # Checkpoints written by Python 2 torch carry these fields as bytes.
  if isinstance(value, bytes):
    value = value.decode("ascii", "replace")
  if not isinstance(value, str):
    raise CorruptCheckpointError(f"expected a string in a storage reference, got {type(value).__name__}")
  return value


class _Unpickler(pickle.Unpickler):
  """Unpickles one scanned pickle; ``storages`` maps each storage key to its ``(dtype, numel)`` across pickles."""

  def __init__(self, data: bytes, start: int, end: int, storages: dict[str, tuple[str, int]]):
    self._stream = io.BytesIO(data)
    self._stream.seek(start)
    super().__init__(self._stream)
    self._end = end
    self._storages = storages

  def load(self) -> Any:
    obj = super().load()
    if self._stream.tell() != self._end:
      raise CorruptCheckpointError("the pickle did not end where its scan did")
    return obj

  def find_class(self, module: str, name: str) -> Any:
    entry = _ALLOWED.get((module, name))
    if entry is None:
      raise UnsafeCheckpointError(
          f"refusing to unpickle global {shown(f'{module}.{name}')} (only tensor data is allowed)")
    return _Global(role=entry[0], detail=entry[1])

  def _storage(self, key: str, dtype: str, numel: int, base: Optional[str] = None, start: int = 0) -> _StorageRef:
    known = self._storages.setdefault(key, (dtype, numel))
    if known != (dtype, numel):
      raise CorruptCheckpointError(f"storage {shown(key)} is declared twice with different types or sizes")
    return _StorageRef(key=key, dtype=dtype, numel=numel, base=base, start=start)

  def persistent_load(self, pid: Any) -> _StorageRef:
    if not isinstance(pid, tuple) or len(pid) not in (5, 6) or _text(pid[0]) != "storage":
      raise CorruptCheckpointError("unsupported persistent id")
    storage_type, key, _, numel = pid[1:5]
    if not isinstance(storage_type, _Global) or storage_type.role != "storage_type":
      raise CorruptCheckpointError("malformed storage reference")
    storage = self._storage(_text(key), storage_type.detail, _index(numel, "storage size"))
    view = pid[5] if len(pid) == 6 else None
    if view is None:
      return storage
    # torch < 1.0 pickled slices of a storage as views: (view key, element offset, element count).
    if not isinstance(view, tuple) or len(view) != 3:
      raise CorruptCheckpointError("malformed storage view")
    start, count = _index(view[1], "storage view offset"), _index(view[2], "storage view size")
    if start + count > storage.numel:
      raise CorruptCheckpointError(f"storage view {shown(view[0])} reaches past its storage")
    return self._storage(_text(view[0]), storage.dtype, count, storage.key, start)


def _unpickle(data: bytes, start: int, storages: dict[str, tuple[str, int]]) -> tuple[Any, int]:
  """Scans, then loads, the pickle at ``data[start:]``; returns it and the offset just past it."""
  end = _pickle_scan.scan(data, start, role=_role)
  return _Unpickler(data, start, end, storages).load(), end


def _injective(shape: tuple, stride: tuple) -> bool:
  """Whether no two elements of the layout share a storage element (a sufficient, mixed-radix test)."""
  reach = 0
  for n, s in sorted((p for p in zip(shape, stride) if p[0] > 1), key=lambda p: p[1]):
    if s <= reach:
      return False
    reach += (n - 1) * s
  return True


class _Source:
  """Storage bytes of one checkpoint file, read on demand; counts the bytes tensors copy out."""

  byteorder = "little"

  def __init__(self):
    self._raw: dict[str, memoryview] = {}
    self._storage_bytes = 0
    self._copied = 0

  def raw(self, storage: _StorageRef) -> memoryview:
    """The ``numel * itemsize`` bytes of ``storage``."""
    itemsize = _dtype(storage.dtype).itemsize
    if storage.base is not None:
      base = self._raw_root(storage.base)
      return base[storage.start * itemsize:(storage.start + storage.numel) * itemsize]
    return self._raw_root(storage.key)[:storage.numel * itemsize]

  def _raw_root(self, key: str) -> memoryview:
    if key not in self._raw:
      raise CorruptCheckpointError(f"a tensor refers to storage {shown(key)}, whose bytes are not in the file")
    return self._raw[key]

  def copy(self, nbytes: int) -> None:
    self._copied += nbytes
    if self._copied > _COPY_RATIO * self._storage_bytes + _COPY_SLACK:
      raise CheckpointLimitError(f"its tensors would copy out {self._copied} bytes from "
                                 f"{self._storage_bytes} bytes of storage (overlapping views)")

  def array(self, ref: _TensorRef) -> np.ndarray:
    """The tensor as a native-order array: a C-contiguous copy, or a read-only view where elements overlap."""
    dtype = _dtype(ref.dtype)
    raw = self.raw(ref.storage)
    available = len(raw) // dtype.itemsize
    shape = ref.shape
    # Size-1 dimensions never move through memory; their strides (any value) are dropped.
    stride = tuple(0 if n == 1 else s for n, s in zip(shape, ref.stride))
    if 0 in shape:
      return np.zeros(shape, dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(shape, stride))
    if last >= available:
      raise CorruptCheckpointError(f"a tensor of shape {shape} reads past the end of its storage "
                                   f"({available} elements)")
    flat = np.frombuffer(raw, dtype=dtype, count=last - ref.offset + 1, offset=ref.offset * dtype.itemsize)
    if self.byteorder != sys.byteorder:
      self.copy(flat.nbytes)
      flat = flat.byteswap()
    view = np.lib.stride_tricks.as_strided(flat, shape=shape, strides=[s * dtype.itemsize for s in stride],
                                           writeable=False)
    if not _injective(shape, stride):
      return view  # Expanded (stride 0) or overlapping: a copy could be far larger than the file.
    self.copy(view.nbytes)
    return np.array(view, order="C")


class _ZipSource(_Source):

  def __init__(self, file, file_size: int):
    super().__init__()
    self._zip = _zip_limits.BoundedZip(file, file_size)
    names = self._zip.names()
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
      raise CorruptCheckpointError("zip archive holds no single <root>/data.pkl, so it is not a torch.save file")
    self._root = pickles[0][:-len("data.pkl")]
    self._names = set(names)
    if f"{self._root}byteorder" in self._names:
      byteorder = self._zip.read(f"{self._root}byteorder", limit=16).decode("ascii", "replace").strip()
      if byteorder not in ("little", "big"):
        raise CorruptCheckpointError(f"unknown byte order {shown(byteorder)}")
      self.byteorder = byteorder
    self.storages: dict[str, tuple[str, int]] = {}
    data = self._zip.read(pickles[0], limit=_MAX_PICKLE_BYTES)
    self.obj, end = _unpickle(data, 0, self.storages)
    if end != len(data):
      raise CorruptCheckpointError("data.pkl continues after its pickle")

  def _raw_root(self, key: str) -> memoryview:
    if key not in self._raw:
      if key not in self.storages:
        raise CorruptCheckpointError(f"storage {shown(key)} is not declared")
      dtype, numel = self.storages[key]
      record = f"{self._root}data/{key}"
      nbytes = numel * _dtype(dtype).itemsize
      if record not in self._names:
        raise CorruptCheckpointError(f"storage record {shown(record)} is missing")
      if self._zip.size(record) < nbytes:
        raise CorruptCheckpointError(f"storage record {shown(record)} holds fewer than {nbytes} bytes")
      self._raw[key] = memoryview(self._zip.read(record, limit=self._zip.size(record)))[:nbytes]
      self._storage_bytes += nbytes
    return self._raw[key]

  def close(self) -> None:
    self._zip.close()


class _LegacySource(_Source):

  def __init__(self, file, file_size: int):
    super().__init__()
    data = file.read(file_size)  # The storages' bytes follow the pickles; all of it is needed.
    pos = 0
    header = []
    for _ in range(3):
      value, pos = _unpickle(data, pos, {})
      header.append(value)
      if len(header) == 1 and value != _LEGACY_MAGIC:
        raise CorruptCheckpointError("neither a zip archive nor a legacy torch file (no magic number)")
    if header[1] != _LEGACY_PROTOCOL:
      raise CorruptCheckpointError(f"unsupported legacy protocol version {shown(header[1])}")
    if isinstance(header[2], Mapping) and not header[2].get("little_endian", True):
      self.byteorder = "big"
    self.storages: dict[str, tuple[str, int]] = {}
    self.obj, pos = _unpickle(data, pos, self.storages)
    keys, pos = _unpickle(data, pos, {})
    if not isinstance(keys, list) or any(_text(k) not in self.storages for k in keys):
      raise CorruptCheckpointError("the storage key list does not match the storages the pickle refers to")
    view = memoryview(data)
    for key in map(_text, keys):
      dtype, numel = self.storages[key]
      if key in self._raw or pos + 8 > len(data):
        raise CorruptCheckpointError(f"storage {shown(key)} is listed twice or the file is truncated")
      count = struct.unpack_from("<q" if self.byteorder == "little" else ">q", data, pos)[0]
      nbytes = count * _dtype(dtype).itemsize
      pos += 8
      # Checked against the bytes present: a corrupt count must not trigger an allocation.
      if count < numel or nbytes > len(data) - pos:
        raise CorruptCheckpointError(f"storage {shown(key)} claims {count} elements; the file is truncated")
      self._raw[key] = view[pos:pos + numel * _dtype(dtype).itemsize]
      self._storage_bytes += nbytes
      pos += nbytes

  def close(self) -> None:
    pass


def _materialise(obj: Any, source: _Source, done: dict[int, Any]) -> Any:
  """Replaces every tensor reference in nested containers with its array; shared values stay shared."""
  if id(obj) in done:
    return done[id(obj)]
  if isinstance(obj, _TensorRef):
    # Equal layouts (tied weights) give one array, so repeating a reference cannot multiply the copies.
    key = (obj.storage.key, obj.offset, obj.shape, obj.stride, obj.dtype)
    result = done.get(key)  # type: ignore[call-overload]
    if result is None:
      result = done[key] = source.array(obj)  # type: ignore[index]
  elif isinstance(obj, dict):
    result = (collections.OrderedDict if isinstance(obj, collections.OrderedDict) else dict)(
        (k, _materialise(v, source, done)) for k, v in obj.items())
  elif isinstance(obj, (list, tuple)):
    result = type(obj)(_materialise(v, source, done) for v in obj)
  elif isinstance(obj, _Record):
    raise CorruptCheckpointError(f"a bare {type(obj).__name__[1:]} outside a tensor is not supported")
  else:
    return obj
  done[id(obj)] = result
  return result


def _state_dict(obj: Any, path: Path) -> Mapping[str, _TensorRef]:
  """The ``{name: tensor}`` mapping in ``obj``, unwrapping the usual training-script wrappers."""
  for _ in range(3):
    if not isinstance(obj, Mapping):
      break
    nested = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
    if nested is None or all(isinstance(v, _TensorRef) for v in obj.values()):
      break
    obj = nested
  if not isinstance(obj, Mapping) or not obj or not all(
      isinstance(k, str) and isinstance(v, _TensorRef) for k, v in obj.items()):
    found = f"keys {[shown(k) for k in list(obj)[:8]]}" if isinstance(obj, Mapping) else type(obj).__name__
    raise CorruptCheckpointError(f"{path} holds no state_dict (a mapping of names to tensors); found {found}")
  return obj


class _Passthrough(Exception):
  """Carries an exception raised by a caller's ``check`` past the reader's own error mapping."""


def _read(path: Union[str, os.PathLike], use: Callable[[Any, _Source], Any]) -> Any:
  """Opens ``path`` as a zip or legacy checkpoint and returns ``use(unpickled object, source)``.

  Every failure surfaces as a :class:`CheckpointError` naming the path.
  """
  path = Path(path)
  if not path.is_file():
    raise CorruptCheckpointError(f"{path} is not a file" + ("" if path.exists() else " (it does not exist)"))
  try:
    with open(path, "rb") as file:
      file_size = os.fstat(file.fileno()).st_size
      is_zip = file.read(4) == _ZIP_MAGIC
      file.seek(0)
      source = (_ZipSource if is_zip else _LegacySource)(file, file_size)
      try:
        return use(source.obj, source)
      finally:
        source.close()
  except _Passthrough as wrapped:
    raise wrapped.args[0] from None
  except CorruptCheckpointError as err:
    text = str(err)
    raise CorruptCheckpointError(text if text.startswith(str(path)) else
                                 f"{path}: truncated, corrupt or not a torch checkpoint: {text}") from None
  except CheckpointError as err:
    text = str(err)
    raise type(err)(text if text.startswith(str(path)) else f"{path}: {text}") from None
  except OSError as err:
    raise CorruptCheckpointError(f"{path}: cannot read: {err}") from None
  # The unpickler and zipfile signal damaged input with many types (zlib.error, struct.error, EOFError,
  # UnicodeDecodeError, RuntimeError, ...); all mean the same to the user, so none may escape.
  except Exception as err:  # pylint: disable=broad-except
    raise CorruptCheckpointError(f"{path}: truncated, corrupt or not a torch checkpoint: "
                                 f"{type(err).__name__}: {err}") from None


def read_torch_pickle(path: Union[str, os.PathLike]) -> Any:
  """Loads any ``torch.save`` file of tensor containers, tensors as numpy arrays.

  Args:
    path: a ``.pth``/``.pt``/``.bin`` file in the zip or the legacy torch format.

  Returns:
    The saved object: dicts (``OrderedDict`` kept), lists, tuples and scalars as saved, every tensor or
    ``nn.Parameter`` replaced by a native-order ``np.ndarray`` of its dtype and shape: a C-contiguous copy, or,
    for a tensor whose elements overlap in storage (expanded, stride 0), a read-only view. Tensors with equal
    layouts on one storage come back as one array.

  Raises:
    UnsafeCheckpointError: the pickle names a global other than tensor rebuilders, storage types, dtypes and
      ``collections.OrderedDict`` (e.g. a pickled class or ``os.system``), or uses a construct tensor data
      does not (``BUILD`` on anything but an ``OrderedDict``, cycles); nothing was executed.
    CheckpointLimitError: (an ``UnsafeCheckpointError``) reading would exceed the bounds on pickle work, memo,
      nesting, or decompressed and copied bytes relative to the file's size.
    CorruptCheckpointError: the path is not a readable file, or the file is truncated, corrupt or not a torch
      checkpoint.
    All are ``ValueError`` subclasses with one-line messages.
  """
  return _read(path, lambda obj, source: _materialise(obj, source, {}))


def load_torch_checkpoint(path: Union[str, os.PathLike], *,
                          check: Optional[Callable[[Mapping[str, np.ndarray]], None]] = None) -> dict[str, np.ndarray]:
  """Reads a torch ``state_dict`` without torch.

  Args:
    path: a ``torch.save`` file (zip or legacy format) holding a ``state_dict``, possibly nested under one of
      ``"state_dict"``, ``"model"``, ``"model_state_dict"``, ``"net"`` or ``"module"``.
    check: called with ``{torch key: placeholder}`` before any tensor data is read, where each placeholder is a
      zero-filled read-only array of the saved shape and dtype that occupies no memory; raise from it to
      refuse the file (e.g. a :class:`CheckpointMismatchError` for the wrong architecture).

  Returns:
    ``{torch key: array}`` in saved order; a ``module.`` prefix that every key carries (``DataParallel``) is
    dropped. Arrays keep their saved dtype and shape (a conv weight is ``(O, I/groups, kh, kw)``); see
    :func:`read_torch_pickle` for copies and views.

  Raises:
    UnsafeCheckpointError: the file's pickle names a global that is not plain tensor data, or is a bomb.
    CorruptCheckpointError: unreadable, truncated or corrupt file, or one that holds no mapping of names to
      tensors.
    Whatever ``check`` raises.
  """
  def use(obj: Any, source: _Source) -> dict[str, np.ndarray]:
    state = dict(_state_dict(obj, Path(path)))
    if all(k.startswith("module.") for k in state):
      state = {k[len("module."):]: v for k, v in state.items()}
    if check is not None:
      layout = {k: v.layout() for k, v in state.items()}
      try:
        check(layout)
      except Exception as err:  # pylint: disable=broad-except
        raise _Passthrough(err) from None
    done: dict = {}
    return {k: _materialise(v, source, done) for k, v in state.items()}

  return _read(path, use)
