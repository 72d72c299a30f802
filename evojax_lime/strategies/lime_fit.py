"""LIME's local linear model (Ribeiro et al., 2016), pure JAX: what ``lime`` 0.2.0.1's ``LimeBase`` fits to the
perturbation samples of an image.

Cosine distance of each sample to the first (``lime_image`` does not scale it by 100; ``lime_text`` does), the
kernel ``sqrt(exp(-d**2 / width**2))``, ``'auto'`` feature selection (forward selection for at most 6 features,
else the largest ``|Ridge(alpha=0.01) coefficient * x0|``), and a weighted ``Ridge(alpha, fit_intercept=True)``
on the selected features, solved in closed form on weighted, centred data; its coefficients agree with
scikit-learn's to float32 precision. The :class:`~evojax_lime.strategies.lime_sampling.LimeSampling` strategy fits
it in the search's program, after its samples; :mod:`evojax_lime.compat.lime_image` on the host.
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
from flax import struct

KERNEL_WIDTH = 0.25
FEATURE_SELECTIONS = ("auto", "none", "forward_selection", "highest_weights")
# lime_base: 'auto' means forward selection up to this many features, 'highest_weights' above.
_AUTO_FORWARD_MAX = 6
_HIGHEST_WEIGHTS_ALPHA = 0.01
_HI = jax.lax.Precision.HIGHEST  # no TF32/bf16 passes on accelerators: the fit must match float64 sklearn


@struct.dataclass
class LimeFit:
  """The local linear model of one LIME explanation.

  Attributes:
    weights: ``(K,)`` ridge coefficient of each superpixel (0 for superpixels feature selection left out).
    intercept: ``()`` the ridge intercept.
    score: ``()`` weighted R^2 of the ridge on the samples.
    local_prediction: ``()`` the ridge's prediction on the first sample (all superpixels kept).
    used: ``(K,)`` bool, the features that entered the ridge.
    kernel_weights: ``(S,)`` each sample's weight, ``sqrt(exp(-d**2 / width**2))``.
  """

  weights: jax.Array
  intercept: jax.Array
  score: jax.Array
  local_prediction: jax.Array
  used: jax.Array
  kernel_weights: jax.Array


def cosine_distances(samples: jax.Array) -> jax.Array:
  """``(S, K)`` -> ``(S,)`` cosine distance of each row to row 0, as ``sklearn.metrics.pairwise_distances``.

  A zero row has similarity 0 (distance 1), and distances are clipped to [0, 2].
  """
  x = samples.astype(jnp.float32)
  norms = jnp.linalg.norm(x, axis=1)
  unit = x / jnp.where(norms > 0, norms, 1.0)[:, None]
  return jnp.clip(1.0 - jnp.matmul(unit, unit[0], precision=_HI), 0.0, 2.0)


def kernel(distances: jax.Array, *, kernel_width: float = KERNEL_WIDTH) -> jax.Array:
  """LIME's exponential kernel ``sqrt(exp(-d**2 / width**2))``."""
  return jnp.sqrt(jnp.exp(-(distances ** 2) / kernel_width ** 2))


def weighted_ridge(x: jax.Array, y: jax.Array, w: jax.Array, used: jax.Array, *,
                   alpha: float) -> tuple[jax.Array, jax.Array]:
  """``Ridge(alpha, fit_intercept=True).fit(x[:, used], y, sample_weight=w)`` in closed form.

  Minimises ``sum_i w_i (y_i - b - x_i . c)^2 + alpha |c|^2``: centre x and y on their weighted means, solve
  ``(Xc^T W Xc + alpha I) c = Xc^T W yc``, and ``b = mean_w(y) - mean_w(x) . c``. Features outside ``used`` get a
  unit diagonal and a zero right-hand side, so their coefficient is exactly 0 and the system keeps one shape.

  Args:
    x: ``(S, K)`` float.
    y: ``(S,)`` float.
    w: ``(S,)`` sample weights >= 0.
    used: ``(K,)`` bool.
    alpha: L2 penalty (0 = ordinary weighted least squares).

  Returns:
    ``((K,) coefficients, () intercept)``.
  """
  total = w.sum()
  x_mean = jnp.matmul(w, x, precision=_HI) / total
  y_mean = jnp.dot(w, y, precision=_HI) / total
  xc, yc = x - x_mean, y - y_mean
  gram = jnp.matmul(xc.T * w, xc, precision=_HI)
  rhs = jnp.matmul(xc.T * w, yc, precision=_HI)
  both = used[:, None] & used[None, :]
  eye = jnp.eye(x.shape[1], dtype=x.dtype)
  system = jnp.where(both, gram, 0.0) + jnp.where(used, alpha, 1.0) * eye
  coef = jnp.linalg.solve(system, jnp.where(used, rhs, 0.0))
  return coef, y_mean - jnp.dot(x_mean, coef, precision=_HI)


def r2_score(x: jax.Array, y: jax.Array, w: jax.Array, coef: jax.Array, intercept: jax.Array) -> jax.Array:
  """Weighted R^2 of ``x @ coef + intercept`` for ``y``, as ``sklearn.metrics.r2_score(sample_weight=w)``."""
  residual = y - jnp.matmul(x, coef, precision=_HI) - intercept
  num = jnp.dot(w, residual ** 2, precision=_HI)
  den = jnp.dot(w, (y - jnp.dot(w, y, precision=_HI) / w.sum()) ** 2, precision=_HI)
  # sklearn's force_finite: a constant target scores 1 if fitted exactly, else 0.
  return jnp.where(den > 0, 1.0 - num / jnp.where(den > 0, den, 1.0), jnp.where(num == 0, 1.0, 0.0))


def forward_selection(x: jax.Array, y: jax.Array, w: jax.Array, *, num_features: int, real: jax.Array) -> jax.Array:
  """``lime_base.forward_selection``: greedily add the feature whose ``Ridge(alpha=0)`` fit has the best R^2.

  All candidates of a step are fitted at once (vmapped); ties go to the lowest index, as in lime's loop. Only
  ``real`` features are candidates (a padding column would make the unpenalised system singular).

  Returns:
    ``(K,)`` bool mask of the ``min(num_features, K)`` chosen features.
  """
  k = x.shape[1]

  def candidate_score(used, feature):
    trial = used.at[feature].set(True)
    coef, intercept = weighted_ridge(x, y, w, trial, alpha=0.0)
    return r2_score(x, y, w, coef, intercept)

  def add_one(used, _):
    scores = jax.vmap(candidate_score, in_axes=(None, 0))(used, jnp.arange(k))
    best = jnp.argmax(jnp.where(used | ~real, -jnp.inf, scores))  # every real one in: the first, kept again
    return used.at[best].set(True), None

  used, _ = jax.lax.scan(add_one, jnp.zeros((k,), bool), None, length=min(num_features, k))
  return used & real


def highest_weights(x: jax.Array, y: jax.Array, w: jax.Array, *, num_features: int, real: jax.Array) -> jax.Array:
  """``lime_base`` 'highest_weights': the ``real`` features with the largest ``|Ridge(alpha=0.01) coef * x[0]|``."""
  k = x.shape[1]
  coef, _ = weighted_ridge(x, y, w, real, alpha=_HIGHEST_WEIGHTS_ALPHA)
  # Python's sorted(reverse=True) is stable too; padding sorts last.
  order = jnp.argsort(jnp.where(real, -jnp.abs(coef * x[0]), jnp.inf), stable=True)
  return jnp.zeros((k,), bool).at[order[:min(num_features, k)]].set(True) & real


def check_fit_options(num_features: Optional[int], feature_selection: str, kernel_width: float, alpha: float) -> None:
  """Raises a one-line ``ValueError`` for an option :func:`lime_weights` cannot take."""
  if feature_selection not in FEATURE_SELECTIONS:
    raise ValueError(f"feature_selection must be one of {', '.join(FEATURE_SELECTIONS)}; got {feature_selection!r}")
  if num_features is not None and (isinstance(num_features, bool) or not isinstance(num_features, int)
                                   or num_features < 1):
    raise ValueError(f"num_features must be an integer >= 1 or None (all superpixels), got {num_features!r}")
  if not (isinstance(kernel_width, (int, float)) and kernel_width > 0):
    raise ValueError(f"kernel_width must be > 0, got {kernel_width!r}")
  if not (isinstance(alpha, (int, float)) and alpha >= 0):
    raise ValueError(f"alpha must be >= 0, got {alpha!r}")


def lime_weights(samples: jax.Array, target_probs: jax.Array, *, kernel_width: float = KERNEL_WIDTH,
                 alpha: float = 1.0, num_features: Optional[int] = None, feature_selection: str = "auto",
                 sample_weights: Optional[jax.Array] = None, real: Optional[jax.Array] = None) -> LimeFit:
  """LIME's local linear model from perturbation samples and the classifier's outputs (pure, jit-able).

  Equals ``LimeBase(kernel).explain_instance_with_data(samples, probs, distances, label, num_features,
  feature_selection)`` with lime_image's cosine distances and exponential kernel.

  Args:
    samples: ``(S, K)`` binary (bool or 0/1), row 0 being the explained instance (all ones in LIME).
    target_probs: ``(S,)`` classifier probability of the explained class for each sample.
    kernel_width: width of the exponential kernel (lime_image's default 0.25).
    alpha: ridge penalty of the final fit (lime's ``Ridge(alpha=1)``).
    num_features: static number of features the model may use; ``None`` uses all K (lime's default 100000).
    feature_selection: static: ``"auto"`` (forward selection if ``num_features <= 6``, else
      ``"highest_weights"``), ``"none"``, ``"forward_selection"`` or ``"highest_weights"``.
    sample_weights: optional ``(S,)`` weight of each sample, replacing the kernel of the cosine distance (lime's
      other ``distance_metric`` or a custom ``kernel``); ``kernel_width`` is then unused.
    real: optional ``(K,)`` bool, the real features (may be traced); the other columns are padding, all 0, never
      selected, with weight 0, so a padded fit gives the weights of the unpadded one. ``None``: every column.

  Returns:
    The :class:`LimeFit` (float32).
  """
  check_fit_options(num_features, feature_selection, kernel_width, alpha)
  x = jnp.asarray(samples).astype(jnp.float32)
  y = jnp.asarray(target_probs).astype(jnp.float32)
  k = x.shape[1]
  real = jnp.ones((k,), bool) if real is None else jnp.asarray(real, bool)
  if sample_weights is None:
    w = kernel(cosine_distances(x), kernel_width=kernel_width)
  else:
    w = jnp.asarray(sample_weights).astype(jnp.float32)
  method = feature_selection
  if method == "auto":
    forward = num_features is not None and num_features <= _AUTO_FORWARD_MAX
    method = "forward_selection" if forward else "highest_weights"
  if method == "none" or num_features is None or (method == "highest_weights" and num_features >= k):
    used = real  # every feature is selected: skip the selection fit
  elif method == "forward_selection":
    used = forward_selection(x, y, w, num_features=num_features, real=real)
  else:
    used = highest_weights(x, y, w, num_features=num_features, real=real)
  coef, intercept = weighted_ridge(x, y, w, used, alpha=alpha)
  return LimeFit(weights=coef, intercept=intercept, score=r2_score(x, y, w, coef, intercept),
                 local_prediction=jnp.dot(x[0], coef, precision=_HI) + intercept, used=used, kernel_weights=w)
