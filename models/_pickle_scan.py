"""Walks a pickle's opcode stream before anything is built, refusing streams that are not plain tensor data.

The walk (``pickletools.genops`` decodes the opcodes; no object is created) follows the unpickler's stack with
one small record per value and refuses, before ``pickle`` runs at all:

* any global outside the allow list, and every opcode that creates or calls something other than through
  ``REDUCE`` on an allowed global (``NEWOBJ``, ``INST``, ``OBJ``, extension codes, text persistent ids, buffers);
* ``BUILD`` on anything but an ``OrderedDict`` (whose ``_metadata`` torch pickles that way);
* mutating a list or dict after it became part of another value, which is the only way to make a cycle, and so
  stale sizes;
* dict keys and set items that are not strings, bytes, ints, bools or ``None`` (hashing crafted tuples or floats
  can take quadratic time);
* more opcodes than :data:`MAX_OPCODES`, memo indices at or above :data:`MAX_MEMO` (the unpickler allocates its
  memo table up to the highest index), values nested deeper than :data:`MAX_DEPTH` (hashing, ``repr`` and
  freeing nested values recurse on the C stack), and more work than :data:`MAX_WORK`.

Work is counted so that shared references cannot amplify it: every value carries its *expanded* weight (its
size if every shared reference were copied, strings and bytes by length), a memo ``GET`` or a ``DUP`` costs the
weight of the value it fetches, hashing costs the key's weight, and no value may expand beyond
:data:`MAX_EXPANDED`. So unpickling, and whatever later walks, hashes or prints the result, is bounded by these
constants instead of by what shared references could expand to.
"""
from __future__ import annotations

import io
import pickletools
from typing import Callable, Optional

from models._checkpoint_errors import CheckpointLimitError, CorruptCheckpointError, UnsafeCheckpointError, shown

MAX_OPCODES = 1 << 20
MAX_MEMO = 1 << 20
MAX_DEPTH = 64
MAX_EXPANDED = 1 << 26
MAX_WORK = 1 << 27
# Longest int an opcode may carry: torch writes element counts and offsets, which fit 64 bits.
_MAX_INT_BITS = 128

# Value kinds the walk distinguishes.
_ATOM, _KEY, _TUPLE, _LIST, _DICT, _SET, _GLOBAL, _CALLED, _ODICT, _STORAGE = range(10)

_PUSH_ATOM = {"NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
              "FLOAT", "BINFLOAT"}
_PUSH_TEXT = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
              "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"}
_PUSH_EMPTY = {"EMPTY_TUPLE": _TUPLE, "EMPTY_LIST": _LIST, "EMPTY_DICT": _DICT, "EMPTY_SET": _SET}
_REFUSED = {"NEWOBJ", "NEWOBJ_EX", "INST", "OBJ", "EXT1", "EXT2", "EXT4", "PERSID", "NEXT_BUFFER",
            "READONLY_BUFFER"}


class _Value:
  """What the walk knows of one value on the stack or in the memo."""

  __slots__ = ("kind", "weight", "depth", "sealed", "text")

  def __init__(self, kind: int, weight: int = 1, depth: int = 0, text: Optional[str] = None):
    self.kind, self.weight, self.depth, self.text = kind, weight, depth, text
    self.sealed = False  # Part of another value: mutating it now could hide a cycle or a stale weight.


class _Walk:
  """The unpickler's stack, memo and marks, with the bounds checked at every opcode."""

  def __init__(self, role: Callable[[str, str], Optional[str]]):
    self.role = role
    self.stack: list[_Value] = []
    self.marks: list[int] = []
    self.memo: dict[int, _Value] = {}
    self.work = 0

  # --- bounds ---------------------------------------------------------------------------------------------

  @staticmethod
  def corrupt(why: str) -> CorruptCheckpointError:
    return CorruptCheckpointError(why)

  def charge(self, cost: int) -> None:
    self.work += cost
    if self.work > MAX_WORK:
      raise CheckpointLimitError(f"unpickling would take more than {MAX_WORK} steps "
                                 "(shared references amplify the work)")

  def value(self, kind: int, children: list[_Value], extra: int = 0) -> _Value:
    for child in children:
      child.sealed = True
    weight = 1 + extra + sum(c.weight for c in children)
    depth = 1 + max((c.depth for c in children), default=0)
    if weight > MAX_EXPANDED:
      raise CheckpointLimitError(f"a value expands to more than {MAX_EXPANDED} elements through "
                                 "shared references")
    if depth > MAX_DEPTH:
      raise CheckpointLimitError(f"values nested deeper than {MAX_DEPTH} levels")
    self.charge(len(children))
    return _Value(kind, weight, depth)

  def grow(self, target: _Value, children: list[_Value]) -> None:
    """Adds ``children`` to the list, dict or set ``target`` in place."""
    if target.sealed:
      raise UnsafeCheckpointError("the pickle changes a container after using it (a cycle)")
    if any(c is target for c in children):
      raise UnsafeCheckpointError("the pickle puts a container into itself (a cycle)")
    grown = self.value(target.kind, children, target.weight - 1)
    target.weight, target.depth = grown.weight, max(target.depth, grown.depth)

  def keys(self, keys: list[_Value]) -> None:
    for key in keys:
      if key.kind not in (_ATOM, _KEY):
        raise UnsafeCheckpointError("dict keys and set items must be strings or numbers")
      self.charge(key.weight)  # Hashing and comparing a key reads all of it.

  # --- stack ----------------------------------------------------------------------------------------------

  def push(self, value: _Value) -> None:
    self.stack.append(value)

  def pop(self, n: int = 1) -> list[_Value]:
    fence = self.marks[-1] if self.marks else 0
    if len(self.stack) - n < fence:
      raise self.corrupt("unpickling stack underflow")
    items = self.stack[len(self.stack) - n:]
    del self.stack[len(self.stack) - n:]
    return items

  def pop_mark(self) -> list[_Value]:
    if not self.marks:
      raise self.corrupt("unpickling needs a mark that is not there")
    start = self.marks.pop()
    items = self.stack[start:]
    del self.stack[start:]
    return items

  def top(self, below_mark: bool = False) -> _Value:
    """The value on top of the stack, or (``below_mark``) the one just under the innermost mark."""
    fence = self.marks[-1] if self.marks else 0
    if below_mark:
      outer = self.marks[-2] if len(self.marks) > 1 else 0
      if not self.marks or fence - 1 < outer:
        raise self.corrupt("unpickling stack underflow")
      return self.stack[fence - 1]
    if len(self.stack) <= fence:
      raise self.corrupt("unpickling stack underflow")
    return self.stack[-1]

  # --- opcodes --------------------------------------------------------------------------------------------

  def global_(self, module, name) -> _Value:
    role = self.role(module, name) if isinstance(module, str) and isinstance(name, str) else None
    if role is None:
      named = f"{module}.{name}" if isinstance(module, str) and isinstance(name, str) else (module, name)
      raise UnsafeCheckpointError(f"refusing to unpickle global {shown(named)} (only tensor data is allowed)")
    value = _Value(_GLOBAL)
    value.text = role
    return value

  def step(self, name: str, arg) -> None:
    self.charge(1)
    if name in _PUSH_ATOM:
      if isinstance(arg, int) and arg.bit_length() > _MAX_INT_BITS:
        raise self.corrupt(f"an integer of {arg.bit_length()} bits")
      self.push(_Value(_KEY if isinstance(arg, int) else _ATOM))
    elif name in _PUSH_TEXT:
      self.charge(len(arg))
      kind = _ATOM if name == "BYTEARRAY8" else _KEY
      self.push(_Value(kind, 1 + len(arg), 0, arg if isinstance(arg, str) and len(arg) <= 200 else None))
    elif name in _PUSH_EMPTY:
      self.push(_Value(_PUSH_EMPTY[name]))
    elif name == "MARK":
      if len(self.marks) >= MAX_DEPTH:
        raise CheckpointLimitError(f"values nested deeper than {MAX_DEPTH} levels")
      self.marks.append(len(self.stack))
    elif name in ("TUPLE", "LIST", "FROZENSET", "DICT"):
      items = self.pop_mark()
      if name in ("FROZENSET", "DICT"):
        self.keys(items if name == "FROZENSET" else items[::2])
        if name == "DICT" and len(items) % 2:
          raise self.corrupt("odd number of items for a dict")
      self.push(self.value({"TUPLE": _TUPLE, "LIST": _LIST, "FROZENSET": _TUPLE, "DICT": _DICT}[name], items))
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
      self.push(self.value(_TUPLE, self.pop(int(name[-1]))))
    elif name in ("APPEND", "SETITEM"):
      items = self.pop(1 if name == "APPEND" else 2)
      self.container(self.top(), name, items)
    elif name in ("APPENDS", "SETITEMS", "ADDITEMS"):
      target = self.top(below_mark=True)
      self.container(target, name, self.pop_mark())
    elif name == "POP":
      if self.marks and self.marks[-1] == len(self.stack):
        self.marks.pop()
      else:
        self.pop()
    elif name == "POP_MARK":
      self.pop_mark()
    elif name == "DUP":
      self.charge(self.top().weight)
      self.push(self.top())
    elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
      index = len(self.memo) if name == "MEMOIZE" else arg
      if not isinstance(index, int) or not 0 <= index < MAX_MEMO:
        raise CheckpointLimitError(f"memo index {shown(index)} is not below {MAX_MEMO}")
      self.memo[index] = self.top()
    elif name in ("GET", "BINGET", "LONG_BINGET"):
      if arg not in self.memo:
        raise self.corrupt(f"memo key {shown(arg)} is not defined")
      value = self.memo[arg]
      self.charge(value.weight)
      self.push(value)
    elif name == "GLOBAL":
      module, _, attr = arg.partition(" ")
      self.push(self.global_(module, attr))
    elif name == "STACK_GLOBAL":
      module, attr = self.pop(2)
      self.push(self.global_(module.text, attr.text))
    elif name == "REDUCE":
      func, args = self.pop(2)
      if func.kind != _GLOBAL or func.text not in ("tensor", "ordered_dict") or args.kind != _TUPLE:
        raise UnsafeCheckpointError("the pickle calls something that is not a tensor rebuilder "
                                    "or OrderedDict")
      self.charge(args.weight)
      if func.text == "tensor":
        args.sealed = True
        self.push(_Value(_CALLED))
      else:
        result = self.value(_ODICT, [args])
        self.push(result)
    elif name == "BINPERSID":
      (pid,) = self.pop()
      if pid.kind != _TUPLE:
        raise self.corrupt("a persistent id that is not a tuple")
      self.push(self.value(_STORAGE, [pid]))
    elif name == "BUILD":
      (state,) = self.pop()
      target = self.top()
      if target.kind != _ODICT:
        raise UnsafeCheckpointError("the pickle sets the state of a value that is not an "
                                    "OrderedDict")
      self.grow(target, [state])
    elif name in ("PROTO", "FRAME"):
      pass
    elif name in _REFUSED:
      raise UnsafeCheckpointError(f"opcode {name} is not used by tensor data")
    else:  # STOP is handled by the caller; pickletools knows no other opcode.
      raise self.corrupt(f"unexpected opcode {name}")

  def container(self, target: _Value, name: str, items: list[_Value]) -> None:
    wants = {"APPEND": (_LIST,), "APPENDS": (_LIST,), "ADDITEMS": (_SET,)}.get(name, (_DICT, _ODICT))
    if target.kind not in wants:
      raise UnsafeCheckpointError(f"opcode {name} applied to the wrong kind of value")
    if name.startswith("SETITEM"):
      if len(items) % 2:
        raise self.corrupt("odd number of items for a dict")
      self.keys(items[::2])
    elif name == "ADDITEMS":
      self.keys(items)
    self.grow(target, items)


def scan(data, start: int, *, role: Callable[[str, str], Optional[str]]) -> int:
  """Checks the pickle that starts at byte ``start`` of ``data``; returns the offset just past its ``STOP``.

  Args:
    data: bytes-like holding the pickle (and possibly more after it).
    start: offset of the pickle's first opcode.
    role: ``(module, name) -> "tensor" | "ordered_dict" | "storage_type" | "dtype"`` for allowed globals,
      ``None`` for any other.

  Raises:
    UnsafeCheckpointError: a global or construct beyond plain tensor data.
    CheckpointLimitError: a bound above is exceeded.
    CorruptCheckpointError: the stream is not a well-formed pickle.
  """
  stream = io.BytesIO(data)
  stream.seek(start)
  walk = _Walk(role)
  count = 0
  try:
    for opcode, arg, _ in pickletools.genops(stream):
      count += 1
      if count > MAX_OPCODES:
        raise CheckpointLimitError(f"the pickle has more than {MAX_OPCODES} opcodes")
      if opcode.name == "STOP":
        if len(walk.stack) != 1 or walk.marks:
          raise walk.corrupt("the pickle stops with a malformed stack")
        return stream.tell()
      walk.step(opcode.name, arg)
  except (CorruptCheckpointError, UnsafeCheckpointError):
    raise
  # pickletools reports unknown opcodes, short reads and undecodable text with these.
  except (ValueError, UnicodeDecodeError, OverflowError) as err:
    raise CorruptCheckpointError(f"not a valid pickle ({type(err).__name__})") from None
  raise CorruptCheckpointError("the pickle ends without STOP")
