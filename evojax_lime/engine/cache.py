"""The one cache of compiled programs: bounded, keyed on the classifier, which it holds only weakly.

Everything the engine compiles or derives for a classifier (search programs, its memory profile, the digest and
stored program of :mod:`~evojax_lime.engine.program_store`, the lime drop-in's score program) is stored here, and
only that: every entry is keyed on the classifier it belongs to (a program of no classifier's, such as LIME's
fit, is cached where it is made). An entry goes when its classifier is garbage-collected, when the cache is full (the
least recently used first) or on :func:`clear_caches`: dropping a model frees its weights and its programs.
A classifier that cannot be referenced weakly is cached until it is evicted.
"""
from __future__ import annotations

import collections
import threading
import weakref
from typing import Any, Callable, Hashable

# Compiled programs of different shapes and options, all classifiers together.
MAX_ENTRIES = 64

_entries: "collections.OrderedDict[tuple, tuple[Any, Any]]" = collections.OrderedDict()
_lock = threading.RLock()


# Ids of classifiers that died, noted by their weakref callbacks and purged under the lock. A callback may run
# in the middle of any operation on the entries (a garbage collection while a list is built, even on this
# thread), so it only appends here, never touches the entries.
_dead: list[int] = []


def _note_dead(classifier_id: int, dead=_dead) -> None:
  dead.append(classifier_id)  # bound as a default: at interpreter exit this module's globals may be gone


def _purge() -> None:
  """Drops the entries of classifiers that died (call with the lock held). Only dead entries go: a new
  classifier may have been given the same id before the callback ran."""
  while _dead:
    classifier_id = _dead.pop()
    for key in [k for k, (ref, _) in list(_entries.items()) if k[0] == classifier_id and ref() is None]:
      _entries.pop(key, None)


def cached(classifier: Any, key: Hashable, build: Callable[[], Any]) -> Any:
  """The value stored for ``(classifier, key)``, built (outside the lock) and stored if absent.

  ``build`` must not keep ``classifier`` alive (hold it through :func:`weakly`), or its entry never goes.
  """
  full_key = (id(classifier), key)
  with _lock:
    _purge()
    hit = _entries.get(full_key)
    if hit is not None and hit[0]() is classifier:
      _entries.move_to_end(full_key)
      return hit[1]
  value = build()
  try:
    # Bound as a default: at interpreter exit this module's globals may be gone.
    ref = weakref.ref(classifier, lambda _, cid=id(classifier), note=_note_dead: note(cid))
  except TypeError:  # not weakly referenceable: kept (strongly) until evicted
    ref = lambda c=classifier: c
  with _lock:
    _entries[full_key] = (ref, value)
    while len(_entries) > MAX_ENTRIES:
      _entries.popitem(last=False)
  return value


def weakly(classifier: Any) -> Callable[[], Any]:
  """A callable returning ``classifier`` while it lives (for programs traced later, never stored strongly)."""
  try:
    ref = weakref.ref(classifier)
  except TypeError:
    return lambda: classifier
  return ref


def clear_caches() -> None:
  """Empties the engine's cache of compiled programs (the next run of each shape compiles again)."""
  with _lock:
    _entries.clear()
    _dead.clear()


def cache_size() -> int:
  """Entries in the cache now."""
  with _lock:
    _purge()
    return len(_entries)
