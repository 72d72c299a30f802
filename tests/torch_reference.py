"""Helpers for tests that compare Flax ports against torch reference models."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

BATCH = 2
# float32 on both sides, XLA pinned to full-precision matmuls/convolutions.
ATOL = 1e-4
# Logits are rescaled to this standard deviation so that ATOL is a relative error of about 1e-5, not a bound
# that near-zero random-init logits would meet whatever the port computed.
LOGIT_STD = 3.0
# XLA's LLVM optimisation passes dominate CPU compile time of these deep, once-run graphs (DenseNet-169: 14 s
# -> 3 s) and buy nothing at batch 2.
_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def rescale_logits(model, x) -> None:
  """Scales the last Linear layer of torch ``model`` so its logits on ``x`` (NCHW tensor) have standard deviation
  ``LOGIT_STD``, and draws its bias from torch's global generator."""
  import torch
  last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
  with torch.no_grad():
    scale = LOGIT_STD / model(x).std()
    last.weight.mul_(scale)
    last.bias.normal_(0.0, 1.0)


def images(resolution: int, seed: int) -> np.ndarray:
  """``(BATCH, resolution, resolution, 3)`` float32 standard normal, i.e. already normalised images."""
  return np.random.default_rng(seed).standard_normal((BATCH, resolution, resolution, 3), dtype=np.float32)


def torch_logits(model, nhwc: np.ndarray) -> np.ndarray:
  """torch ``model``'s logits on NHWC numpy images."""
  import torch
  with torch.no_grad():
    return model(torch.from_numpy(nhwc.transpose(0, 3, 1, 2).copy())).numpy()


def flax_logits(module, variables, nhwc: np.ndarray) -> np.ndarray:
  """``module``'s float32 logits on ``nhwc``, compiled quickly, with full-precision matmuls and convolutions."""
  with jax.default_matmul_precision("highest"):
    x = jnp.asarray(nhwc)
    compiled = jax.jit(module.apply).lower(variables, x).compile(compiler_options=_COMPILER_OPTIONS)
    return np.asarray(compiled(variables, x))


def assert_close(got: np.ndarray, want: np.ndarray, *, atol: float, what: str) -> float:
  """Asserts float32 ``got`` is within ``atol`` of ``want`` (whose spread must make that meaningful); returns
  the max error."""
  assert got.shape == want.shape and got.dtype == np.float32, f"{what}: {got.shape} {got.dtype}"
  assert want.std() > 0.5, f"{what}: reference logits too small for the tolerance to mean anything"
  err = float(np.abs(got - want).max())
  assert err <= atol, f"{what}: max |flax - torch| = {err:.3g} > {atol:g} (logit std {want.std():.3g})"
  return err


def randomise_batch_norm(model) -> None:
  """BatchNorm affine parameters and running statistics far from the identity, in place (draws from torch's
  global generator: seed it first)."""
  import torch
  with torch.no_grad():
    for m in model.modules():
      if isinstance(m, torch.nn.BatchNorm2d):
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-0.5, 0.5)
        m.running_mean.uniform_(-0.5, 0.5)
        m.running_var.uniform_(0.5, 2.0)


def randomise_norms_and_embeddings(model) -> None:
  """Give a transformer or ConvNeXt non-trivial values everywhere torch initialises trivially, in place (draws
  from torch's global generator: seed it first).

  LayerNorm (and ``LayerNorm2d``) affine parameters move far from the identity, every Linear/Conv2d bias and
  attention ``in_proj_bias`` becomes non-zero, ViT's ``class_token`` and ``encoder.pos_embedding`` get values of
  the size of the patch embeddings, ConvNeXt's ``layer_scale`` (1e-6: blocks nearly the identity) grows to
  order 0.1, and all-zero Linear weights (ViT's head) are redrawn.
  """
  import torch
  with torch.no_grad():
    for m in model.modules():
      if isinstance(m, torch.nn.LayerNorm):
        m.weight.uniform_(0.5, 1.5)
        m.bias.uniform_(-0.5, 0.5)
      elif isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
        if not m.weight.any():
          m.weight.normal_(0.0, m.weight.shape[1] ** -0.5)
        if m.bias is not None:
          m.bias.uniform_(-0.2, 0.2)
      elif isinstance(m, torch.nn.MultiheadAttention):
        m.in_proj_bias.uniform_(-0.2, 0.2)
    for name, p in model.named_parameters():
      if name in ("class_token", "encoder.pos_embedding"):
        p.normal_(0.0, 0.5)
      elif name.endswith("layer_scale"):
        p.uniform_(0.1, 0.4)
