"""``evojax-lime models``: the classifiers ``--model`` accepts and whether their weights are at hand."""
from __future__ import annotations

import argparse

from evojax_lime.cli.args import DEFAULT_MODEL
from evojax_lime.cli.model import bundled_weights


def run(args: argparse.Namespace) -> int:
  """Prints one line per model: name, input size, and whether ``--weights pretrained`` works."""
  import models

  names = models.available()
  width = max(map(len, names))
  print(f"{'model':<{width}}  input  pretrained weights")
  for name in names:
    reason = bundled_weights(name)
    weights = "bundled" if reason is None else ("none: pass --weights FILE" if reason == "no bundled weights"
                                               else "not installed: " + reason.split(": ")[-1])
    default = "  (default)" if name == DEFAULT_MODEL else ""
    print(f"{name:<{width}}  {models.spec(name).input_size:>5}  {weights}{default}")
  return 0
