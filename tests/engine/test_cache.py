"""The engine's cache of compiled programs: entries go with their classifier, whenever it dies."""
import gc

from evojax_lime.engine import cache


class _Classifier:
  """Any object the cache can hold weakly."""


def test_an_entry_goes_when_its_classifier_dies():
  cache.clear_caches()
  a, b = _Classifier(), _Classifier()
  assert cache.cached(a, "program", lambda: "a's") == "a's"
  assert cache.cached(b, "program", lambda: "b's") == "b's"
  assert cache.cached(a, "program", lambda: "rebuilt") == "a's"  # a hit
  assert cache.cache_size() == 2
  del a
  gc.collect()
  assert cache.cache_size() == 1
  assert cache.cached(b, "program", lambda: "rebuilt") == "b's"
  cache.clear_caches()


def test_dead_classifiers_are_dropped_at_the_next_lookup():
  cache.clear_caches()
  keep = [_Classifier() for _ in range(8)]
  for i, c in enumerate(keep):
    cache.cached(c, "program", lambda i=i: i)
  # A dying classifier is only noted by its callback (which may run in the middle of any dict operation); the
  # next lookup drops its entries.
  dying = keep[:4]
  del keep[:4]
  del dying
  gc.collect()
  assert cache.cached(keep[0], "program", lambda: "rebuilt") == 4
  assert cache.cache_size() == 4
  cache.clear_caches()


def test_only_classifiers_programs_are_kept():
  from evojax_lime.baselines.lime import fit_program
  cache.clear_caches()
  assert fit_program(0.25, 1.0, None, "auto") is fit_program(0.25, 1.0, None, "auto")  # reused
  assert cache.cache_size() == 0  # LIME's fit is no classifier's: it takes no place among theirs
