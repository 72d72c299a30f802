"""The one cache of compiled programs: bounded, keyed on the classifier, which it holds only weakly.

Everything the engine compiles for a classifier (search programs, LIME's evaluation, the lime drop-in's score
program) is stored here. An entry goes when its classifier is garbage-collected, when the cache is full (the
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


def _drop_classifier(classifier_id: int, entries=_entries, lock=_lock) -> None:
  # The module's globals may already be gone when a classifier dies at interpreter exit: bound as defaults.
  # Only dead entries go: a new classifier may have been given the same id before this callback ran.
  with lock:
    for key in [k for k, (ref, _) in entries.items() if k[0] == classifier_id and ref() is None]:
      del entries[key]


def cached(classifier: Any, key: Hashable, build: Callable[[], Any]) -> Any:
  """The value stored for ``(classifier, key)``, built (outside the lock) and stored if absent.

  ``build`` must not keep ``classifier`` alive (hold it through :func:`weakly`), or its entry never goes.
  """
  full_key = (id(classifier), key)
  with _lock:
    hit = _entries.get(full_key)
    if hit is not None and hit[0]() is classifier:
      _entries.move_to_end(full_key)
      return hit[1]
  value = build()
  try:
    # Bound as defaults, as in _drop_classifier: at interpreter exit this module's globals may be gone.
    ref = weakref.ref(classifier, lambda _, cid=id(classifier), drop=_drop_classifier: drop(cid))
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


def cache_size() -> int:
  """Entries in the cache now."""
  with _lock:
    return len(_entries)
