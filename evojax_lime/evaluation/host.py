"""Explain a classifier that is not written in JAX (numpy, torch, ...) through a host callback."""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np


class HostFaults:
  """The first thing that went wrong in a host classifier's calls since it was last checked.

  An exception raised inside a callback would reach the caller as a ``JaxRuntimeError`` (``INTERNAL:
  CpuCallback error``) with the callback's traceback in its message, or on some paths not at all. So the
  callback raises nothing: it notes the problem here and answers NaN, and whoever runs the program calls
  :meth:`check` when it returns.
  """

  def __init__(self):
    self._lock = threading.Lock()  # callbacks run on XLA's threads
    self._first: Optional[str] = None

  def note(self, message: str) -> None:
    with self._lock:
      if self._first is None:
        self._first = " ".join(message.split())  # one line, whatever the caller's exception said

  def clear(self) -> None:
    with self._lock:
      self._first = None

  def check(self) -> None:
    """Raises the noted problem (and forgets it).

    Raises:
      ValueError: a call since the last check raised, or returned scores of the wrong shape or type.
    """
    with self._lock:
      first, self._first = self._first, None
    if first is not None:
      raise ValueError(first)


def faults_of(classifier: Any) -> Optional[HostFaults]:
  """The :class:`HostFaults` of a :func:`host_classifier`; ``None`` for any other classifier."""
  return getattr(classifier, "host_faults", None)


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
    A JAX function ``(N, H, W, 3) -> (N, C)`` float32, with a ``host_faults`` attribute (:class:`HostFaults`).
  """
  faults = HostFaults()

  def host(images):
    expected = (images.shape[0], num_classes)
    try:
      scores = np.asarray(fn(np.asarray(images, np.float32)))
    except Exception as err:  # noted, raised by the explainer: see HostFaults
      faults.note(f"{name} raised {type(err).__name__}: {err}")
      return np.full(expected, np.nan, np.float32)
    if scores.shape != expected:
      faults.note(f"{name} returned shape {scores.shape} for {expected[0]} images, expected {expected}")
      return np.full(expected, np.nan, np.float32)
    try:
      return scores.astype(np.float32)
    except (TypeError, ValueError) as err:
      faults.note(f"{name} returned {scores.dtype} scores, not numbers: {err}")
      return np.full(expected, np.nan, np.float32)

  def classifier(images: jax.Array) -> jax.Array:
    out = jax.ShapeDtypeStruct((images.shape[0], num_classes), jnp.float32)
    return jax.pure_callback(host, out, images.astype(jnp.float32), vmap_method="legacy_vectorized")

  classifier.host_faults = faults
  return classifier
