"""Helpers for tests that compare against torch reference models."""


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
