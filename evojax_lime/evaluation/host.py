"""Explain a classifier that is not written in JAX (numpy, torch, ...) through a host callback."""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator, Optional, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

T = TypeVar("T")


class HostFaults:
  """The first thing that went wrong in a host classifier's calls during one run of a program.

  An exception raised inside a callback would reach the caller as a ``JaxRuntimeError`` (``INTERNAL:
  CpuCallback error``) with the callback's traceback in its message, or on some paths not at all. So the
  callback raises nothing: it notes the problem in the faults of the run in progress and answers NaN, and the run
  (:func:`run_checked`) raises it when the program returns.
  """

  def __init__(self):
    self._lock = threading.Lock()  # callbacks run on XLA's threads
    self._first: Optional[str] = None

  def note(self, message: str) -> None:
    with self._lock:
      if self._first is None:
        self._first = " ".join(message.split())  # one line, whatever the caller's exception said

  def check(self) -> None:
    """Raises the noted problem, if any.

    Raises:
      ValueError: a call raised, or returned scores of the wrong shape or type.
    """
    with self._lock:
      first = self._first
    if first is not None:
      raise ValueError(first)


class _HostCalls:
  """Routes a host classifier's problems to the faults of the run in progress: each run has its own, so two
  searches sharing one classifier never see each other's errors. Runs of one host classifier take turns."""

  def __init__(self, name: str, fn: Callable):
    self.name, self.fn = name, fn
    self._turn = threading.Lock()
    self._current: Optional[HostFaults] = None

  def note(self, message: str) -> None:
    current = self._current
    if current is not None:
      current.note(message)

  @contextlib.contextmanager
  def run(self) -> Iterator[HostFaults]:
    with self._turn:
      self._current = faults = HostFaults()
      try:
        yield faults
      finally:
        self._current = None


def _calls_of(classifier: Any) -> Optional[_HostCalls]:
  calls = getattr(classifier, "_host_calls", None)
  return calls if isinstance(calls, _HostCalls) else None


def is_host_classifier(classifier: Any) -> bool:
  """Whether ``classifier`` came from :func:`host_classifier`."""
  return _calls_of(classifier) is not None


def host_function(classifier: Any) -> Optional[tuple[str, Callable]]:
  """The name a :func:`host_classifier` was given and the function it wraps (``None`` for any other
  classifier)."""
  calls = _calls_of(classifier)
  return None if calls is None else (calls.name, calls.fn)


def run_checked(classifier: Any, fn: Callable[..., T], *args: Any) -> T:
  """``fn(*args)`` finished, raising the first problem of ``classifier``'s host calls during it, if any
  (nothing is checked for a JAX classifier, and nothing waited for).

  Raises:
    ValueError: the host classifier raised or returned something other than ``(N, C)`` numbers.
  """
  calls = _calls_of(classifier)
  if calls is None:
    return fn(*args)
  with calls.run() as faults:
    try:
      out = jax.block_until_ready(fn(*args))
    except jax.errors.JaxRuntimeError:
      faults.check()  # the host classifier's own message, rather than XLA's
      raise
  faults.check()
  return out


def host_classifier(fn: Callable[[np.ndarray], np.ndarray], *, num_classes: int,
                    name: str = "host classifier") -> Callable[[jax.Array], jax.Array]:
  """Wraps a host function so the compiled engine can call it.

  Every evaluation leaves the compiled program for the host, so this is slower than a JAX classifier, but any
  model works. Create the wrapper once and reuse it: the engine caches compiled programs per classifier.

  A call of ``fn`` that raises, or returns anything but ``(N, num_classes)`` numbers, makes the explainer that
  runs it raise a one-line ``ValueError`` saying what came back.

  Args:
    fn: numpy images ``(N, H, W, 3)`` float32 in [0, 1] -> scores ``(N, C)``.
    num_classes: C.
    name: how messages name ``fn``.

  Returns:
    A JAX function ``(N, H, W, 3) -> (N, C)`` float32; run it through :func:`run_checked` to hear of its errors.
  """
  calls = _HostCalls(name, fn)

  def host(images):
    expected = (images.shape[0], num_classes)
    try:
      scores = np.asarray(fn(np.asarray(images, np.float32)))
    except Exception as err:  # noted, raised by the explainer: see HostFaults
      calls.note(f"{name} raised {type(err).__name__}: {err}")
      return np.full(expected, np.nan, np.float32)
    if scores.shape != expected:
      calls.note(f"{name} returned shape {scores.shape} for {expected[0]} images, expected {expected}")
      return np.full(expected, np.nan, np.float32)
    try:
      return scores.astype(np.float32)
    except (TypeError, ValueError) as err:
      calls.note(f"{name} returned {scores.dtype} scores, not numbers: {err}")
      return np.full(expected, np.nan, np.float32)

  def classifier(images: jax.Array) -> jax.Array:
    out = jax.ShapeDtypeStruct((images.shape[0], num_classes), jnp.float32)
    return jax.pure_callback(host, out, images.astype(jnp.float32), vmap_method="legacy_vectorized")

  classifier._host_calls = calls  # the route to the run in progress, not an error slot
  return classifier
