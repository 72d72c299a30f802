"""What a person reads on stdout: one line per explained image and a table when there were several."""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence


@dataclasses.dataclass(frozen=True)
class Outcome:
  """One image's result for the summary: its numbers, or the error it failed with."""

  name: str
  class_name: str = ""
  class_id: int = -1
  original: float = float("nan")
  explanation: float = float("nan")
  kept: int = 0
  superpixels: int = 0
  seconds: float = 0.0
  error: Optional[str] = None


def line(o: Outcome) -> str:
  """``cat.jpg: tabby (281)  p 0.61 -> 0.87 with 9 of 52 superpixels  (3.1 s)``."""
  return (f"{o.name}: {o.class_name} ({o.class_id})  p {o.original:.3f} -> {o.explanation:.3f} "
          f"with {o.kept} of {o.superpixels} superpixels  ({o.seconds:.1f} s)")


_HEADER = ("image", "class", "p(full)", "p(kept)", "kept", "time")


def _cells(o: Outcome) -> tuple[str, ...]:
  return (o.name, f"{o.class_name} ({o.class_id})", f"{o.original:.3f}", f"{o.explanation:.3f}",
          f"{o.kept}/{o.superpixels}", f"{o.seconds:.1f} s")


def table(outcomes: Sequence[Outcome]) -> str:
  """A fixed-width table of every image in order, failed ones with their error."""
  rows = [_HEADER] + [_cells(o) for o in outcomes if o.error is None]
  widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
  widths[0] = max([widths[0]] + [len(o.name) for o in outcomes])
  # Names and classes read left to right; numbers line up on the right.
  fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
  lines = [fmt(_HEADER)]
  for o in outcomes:
    lines.append(f"{o.name.ljust(widths[0])}  failed: {o.error}" if o.error else fmt(_cells(o)))
  return "\n".join(lines)
