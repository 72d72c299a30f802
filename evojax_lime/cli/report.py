"""What a person reads on stdout: one line per explained image and a table when there were several."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

from evojax_lime.cli import detail as detail_fields
from evojax_lime.cli.errors import shown


@dataclasses.dataclass(frozen=True)
class Outcome:
  """One image's result for the summary: its numbers, or the error it failed with.

  Attributes beyond the numbers: ``stability`` (the record's ``"stability"`` value when it has one),
  ``timings`` (the record's), ``thumbnail`` (JPEG bytes of the overlay, for the HTML report), ``resumed``
  (explained by an earlier run; its record was reused), ``detail`` (what the report's detail view of the photo
  shows, validated: see :func:`evojax_lime.cli.detail.from_record`).
  """

  name: str
  class_name: str = ""
  class_id: int = -1
  original: float = float("nan")
  explanation: float = float("nan")
  kept: int = 0
  superpixels: int = 0
  seconds: float = 0.0
  error: Optional[str] = None
  stability: Any = None
  timings: dict[str, Any] = dataclasses.field(default_factory=dict)
  thumbnail: Optional[bytes] = None
  resumed: bool = False
  detail: dict[str, Any] = dataclasses.field(default_factory=dict)


def _number(value: Any) -> float:
  number = detail_fields.real(value)  # an int too large for a float is as unknown as a string
  return float("nan") if number is None else number


def from_record(name: str, data: dict[str, Any], *, thumbnail: Optional[bytes] = None,
                resumed: bool = False) -> Outcome:
  """The :class:`Outcome` a JSON record describes (a record read back from disk is untrusted: missing or odd
  fields become NaN or empty, or are left out of its ``detail``, never an exception)."""
  target = data.get("target") if isinstance(data.get("target"), dict) else {}
  timings = data.get("timings") if isinstance(data.get("timings"), dict) else {}
  kept = data.get("kept") if isinstance(data.get("kept"), list) else []
  class_id = target.get("id")
  superpixels = data.get("num_superpixels")
  return Outcome(name=name, class_name=str(target.get("name", "")),
                 class_id=class_id if isinstance(class_id, int) else -1,
                 original=_number(data.get("original_probability")),
                 explanation=_number(data.get("explanation_probability")), kept=len(kept),
                 superpixels=superpixels if isinstance(superpixels, int) else 0,
                 seconds=_number(timings.get("wall")), stability=data.get("stability"),
                 timings={k: v for k, v in timings.items() if detail_fields.real(v) is not None}, thumbnail=thumbnail,
                 resumed=resumed, detail=detail_fields.from_record(data))


def stability_text(value: Any) -> str:
  """The record's stability as a short cell: a number, a few named numbers, or ``-`` when there is none."""
  if (number := detail_fields.real(value)) is not None:
    return f"{number:.3f}"
  if isinstance(value, dict):
    parts = [f"{k} {v:.3f}" for k, v in ((k, detail_fields.real(v)) for k, v in value.items()) if v is not None]
    return ", ".join(parts[:3]) or "-"
  return "-"


def line(o: Outcome) -> str:
  """``cat.jpg: tabby (281)  p 0.61 -> 0.87 with 9 of 52 superpixels  (3.1 s)``; names escaped (see
  :func:`~evojax_lime.cli.errors.shown`)."""
  if o.resumed:
    return (f"{shown(o.name)}: {shown(o.class_name)} ({o.class_id})  p {o.original:.3f} -> {o.explanation:.3f} "
            f"with {o.kept} of {o.superpixels} superpixels  (already explained; kept)")
  return (f"{shown(o.name)}: {shown(o.class_name)} ({o.class_id})  p {o.original:.3f} -> {o.explanation:.3f} "
          f"with {o.kept} of {o.superpixels} superpixels  ({o.seconds:.1f} s)")


_HEADER = ("image", "class", "p(full)", "p(kept)", "kept", "time")


def _cells(o: Outcome) -> tuple[str, ...]:
  return (shown(o.name), f"{shown(o.class_name)} ({o.class_id})", f"{o.original:.3f}", f"{o.explanation:.3f}",
          f"{o.kept}/{o.superpixels}", f"{o.seconds:.1f} s")


def table(outcomes: Sequence[Outcome]) -> str:
  """A fixed-width table of every image in order, failed ones with their error (all text escaped)."""
  rows = [_HEADER] + [_cells(o) for o in outcomes if o.error is None]
  widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER))]
  widths[0] = max([widths[0]] + [len(shown(o.name)) for o in outcomes])
  # Names and classes read left to right; numbers line up on the right.
  fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
  lines = [fmt(_HEADER)]
  for o in outcomes:
    lines.append(f"{shown(o.name).ljust(widths[0])}  failed: {shown(o.error)}" if o.error else fmt(_cells(o)))
  return "\n".join(lines)
