"""Decodes ``flax.serialization`` msgpack from untrusted bytes: same format, every field checked.

``flax.serialization.msgpack_restore`` trusts its input: a crafted array header reaches ``np.frombuffer`` with
any dtype name and shape (``ZeroDivisionError``, ``TypeError``, object arrays), and chunked arrays are
concatenated unchecked. Here an array's dtype must be a plain numeric type, its shape at most
:data:`MAX_DIMS` non-negative integers whose product matches its buffer exactly, containers nest at most
:data:`MAX_DEPTH` levels and map keys are strings. msgpack has no shared references, so the decoded tree is
never larger than the file (chunked arrays, at most twice).
"""
from __future__ import annotations

from typing import Any

import ml_dtypes
import msgpack
import numpy as np

from models._checkpoint_errors import CheckpointError, CorruptCheckpointError, shown

MAX_DEPTH = 64
MAX_DIMS = 32
# Extension type codes flax writes.
_NDARRAY, _COMPLEX, _SCALAR = 1, 2, 3
_CHUNKED = "__msgpack_chunked_array__"
_DTYPES = {
    name: np.dtype(t) for name, t in (
        ("float16", np.float16), ("float32", np.float32), ("float64", np.float64),
        ("bfloat16", ml_dtypes.bfloat16), ("int8", np.int8), ("int16", np.int16), ("int32", np.int32),
        ("int64", np.int64), ("uint8", np.uint8), ("uint16", np.uint16), ("uint32", np.uint32),
        ("uint64", np.uint64), ("bool", np.bool_), ("complex64", np.complex64), ("complex128", np.complex128))
}


def _array(data: bytes) -> np.ndarray:
  header = msgpack.unpackb(data, raw=True)
  if not isinstance(header, list) or len(header) != 3:
    raise CorruptCheckpointError("malformed array header")
  shape, name, buffer = header
  dtype = _DTYPES.get(name.decode("ascii", "replace") if isinstance(name, bytes) else None)
  if dtype is None:
    raise CorruptCheckpointError(f"array dtype {shown(name)} is not a numeric type")
  if (not isinstance(shape, list) or len(shape) > MAX_DIMS
      or not all(type(n) is int and n >= 0 for n in shape)):  # pylint: disable=unidiomatic-typecheck
    raise CorruptCheckpointError(f"array shape {shown(shape)} is not a list of sizes")
  if not isinstance(buffer, bytes) or int(np.prod(shape, dtype=object)) * dtype.itemsize != len(buffer):
    raise CorruptCheckpointError(f"array of shape {tuple(shape)} and dtype {dtype} does not match its bytes")
  return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def _ext(code: int, data: bytes) -> Any:
  if code == _NDARRAY:
    return _array(data)
  if code == _SCALAR:
    array = _array(data)
    if array.shape != ():
      raise CorruptCheckpointError("a scalar of non-scalar shape")
    return array[()]
  if code == _COMPLEX:
    parts = msgpack.unpackb(data)
    if not isinstance(parts, list) or len(parts) != 2 or not all(isinstance(p, (int, float)) for p in parts):
      raise CorruptCheckpointError("malformed complex number")
    return complex(parts[0], parts[1])
  raise CorruptCheckpointError(f"unknown msgpack extension type {code}")


def _sequence(node: Any, what: str) -> list:
  """flax's ``{"0": a, "1": b, ...}`` encoding of a tuple."""
  if not isinstance(node, dict) or set(node) != {str(i) for i in range(len(node))}:
    raise CorruptCheckpointError(f"malformed chunked array {what}")
  return [node[str(i)] for i in range(len(node))]


def _unchunk(node: dict) -> np.ndarray:
  shape = _sequence(node.get("shape"), "shape")
  chunks = _sequence(node.get("chunks"), "chunks")
  if len(shape) > MAX_DIMS or not all(type(n) is int and n >= 0 for n in shape) or not chunks or not all(  # pylint: disable=unidiomatic-typecheck
      isinstance(c, np.ndarray) and c.ndim == 1 and c.dtype == chunks[0].dtype for c in chunks):
    raise CorruptCheckpointError("malformed chunked array")
  if sum(c.size for c in chunks) != int(np.prod(shape, dtype=object)):
    raise CorruptCheckpointError(f"chunked array of shape {tuple(shape)} does not match its chunks")
  return np.concatenate(chunks).reshape(shape)


def _check(tree: Any) -> Any:
  """Bounds the nesting and reassembles chunked arrays (iteratively: depth is what is being checked)."""
  if isinstance(tree, dict) and _CHUNKED in tree:
    return _unchunk(tree)
  todo = [(tree, 0)]
  while todo:
    node, depth = todo.pop()
    if depth > MAX_DEPTH:
      raise CorruptCheckpointError(f"containers nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict) and not all(isinstance(k, str) for k in node):
      raise CorruptCheckpointError("map keys must be strings")
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in list(items):
      if isinstance(child, dict) and _CHUNKED in child:
        node[key] = _unchunk(child)
      elif isinstance(child, (dict, list)):
        todo.append((child, depth + 1))
  return tree


def restore(data: bytes) -> Any:
  """The tree ``flax.serialization.msgpack_serialize`` wrote: dicts, lists, numbers, strings, numpy arrays.

  Raises:
    CorruptCheckpointError: anything about ``data`` that is not a well-formed tree of that kind.
  """
  try:
    return _check(msgpack.unpackb(data, ext_hook=_ext, raw=False, strict_map_key=True))
  except CheckpointError:
    raise
  # msgpack reports damaged input with assorted types (ValueError, TypeError, ExtraData, FormatError, ...).
  except Exception as err:  # pylint: disable=broad-except
    raise CorruptCheckpointError(f"{type(err).__name__}: {err}") from None


def numeric(leaf: Any) -> np.ndarray:
  """``leaf`` as an array if it is a number or numeric array (what a variables tree holds)."""
  if isinstance(leaf, np.ndarray) and leaf.dtype in _DTYPES.values():
    return leaf
  if isinstance(leaf, (bool, int, float, complex, np.number, np.bool_)):
    try:
      return np.asarray(leaf)
    except OverflowError:
      pass
  raise CorruptCheckpointError(f"a variables leaf is a {type(leaf).__name__}, not a number or numeric array")
