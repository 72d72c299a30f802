"""``index.html``: the whole run on one self-contained page, one row per photo, sortable by any column.

No external assets: thumbnails are ``data:`` URIs and the sorting is a few lines of inline script. Every string
that comes from outside (file names, class names, errors, record values) is escaped.
"""
from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from PIL import Image

from evojax_lime.cli import files
from evojax_lime.cli.report import Outcome, stability_text

THUMBNAIL_SIDE = 192  # pixels, longest side: a row stays readable and 100 photos weigh about 1.5 MB
THUMBNAIL_SOURCE_LIMIT = 512 << 20  # bytes: more than a full-resolution overlay of a 100-megapixel photo

_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}th:hover{background:#e8e8e8}
td.t,th.t{text-align:left}td.err{color:#b00020;text-align:left}img{display:block}
"""
# Click a header to sort by it, again to reverse. Cells carry their sort key in data-v (numbers sort as numbers).
_SCRIPT = """
document.querySelectorAll("th").forEach((th, col) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], up = th.dataset.dir !== "up";
  th.dataset.dir = up ? "up" : "down";
  const key = r => r.cells[col].dataset.v, num = v => v !== "" && !isNaN(v);
  [...body.rows].sort((a, b) => {
    const x = key(a), y = key(b);
    const c = num(x) && num(y) ? x - y : num(x) ? -1 : num(y) ? 1 : x.localeCompare(y);
    return up ? c : -c;
  }).forEach(r => body.appendChild(r));
}));
"""
_HEADERS = (("overlay", "t"), ("photo", "t"), ("class", "t"), ("p before", ""), ("p after", ""), ("kept / K", ""),
            ("stability", ""), ("seconds", ""), ("compile s", ""), ("evolve s", ""), ("write s", ""), ("note", "t"))


def thumbnail(pixels: np.ndarray, *, side: int = THUMBNAIL_SIDE) -> bytes:
  """JPEG bytes of ``(H, W, 3)`` uint8 shrunk to at most ``side`` pixels on its longest side."""
  img = Image.fromarray(pixels)
  img.thumbnail((side, side), Image.Resampling.LANCZOS)
  buffer = io.BytesIO()
  img.save(buffer, format="JPEG", quality=85)
  return buffer.getvalue()


def thumbnail_of_file(path: Path, *, side: int = THUMBNAIL_SIDE) -> Optional[bytes]:
  """The thumbnail of an image file written earlier, or ``None`` when it cannot be read."""
  try:
    with files.open_regular(path, limit=THUMBNAIL_SOURCE_LIMIT) as f, Image.open(f) as img:
      img.draft("RGB", (side, side))  # JPEG decodes at a fraction of its size; other formats ignore it
      return thumbnail(np.asarray(img.convert("RGB")), side=side)
  except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
    return None


def _cell(text: str, *, sort: Any = None, cls: str = "") -> str:
  key = text if sort is None else sort
  if isinstance(key, float):
    key = "" if not math.isfinite(key) else repr(key)
  attr = f' class="{cls}"' if cls else ""
  return f'<td{attr} data-v="{html.escape(str(key))}">{html.escape(text)}</td>'


def _number(value: float, digits: int) -> str:
  return f"{value:.{digits}f}" if math.isfinite(value) else "-"


def _row(o: Outcome) -> str:
  if o.thumbnail:
    uri = "data:image/jpeg;base64," + base64.b64encode(o.thumbnail).decode("ascii")
    image = f'<td class="t" data-v=""><img src="{uri}" alt="{html.escape(o.name)}"></td>'
  else:
    image = '<td class="t" data-v="">-</td>'
  if o.error is not None:
    blanks = "".join(_cell("-", sort="") for _ in range(len(_HEADERS) - 4))
    return (f"<tr>{image}{_cell(o.name, cls='t')}{_cell('', cls='t')}{blanks}"
            f"{_cell(o.error, cls='err')}</tr>")
  timing = lambda k: float(o.timings.get(k, float("nan")))
  stability = o.stability if isinstance(o.stability, (int, float)) and not isinstance(o.stability, bool) else None
  cells = [
      _cell(o.name, cls="t"), _cell(f"{o.class_name} ({o.class_id})", sort=o.class_name, cls="t"),
      _cell(_number(o.original, 3), sort=o.original), _cell(_number(o.explanation, 3), sort=o.explanation),
      _cell(f"{o.kept} / {o.superpixels}", sort=o.kept / o.superpixels if o.superpixels else float("nan")),
      _cell(stability_text(o.stability), sort=float(stability) if stability is not None else float("nan")),
      _cell(_number(o.seconds, 2), sort=o.seconds),
      _cell(_number(timing("compile"), 2), sort=timing("compile")),
      _cell(_number(timing("evolve"), 2), sort=timing("evolve")),
      _cell(_number(timing("write"), 2), sort=timing("write")),
      _cell("from an earlier run" if o.resumed else "", cls="t"),
  ]
  return f"<tr>{image}{''.join(cells)}</tr>"


def page(outcomes: Sequence[Outcome], *, title: str, subtitle: str) -> str:
  """The report as one HTML document."""
  head = "".join(f'<th class="{c}">{html.escape(h)}</th>' if c else f"<th>{html.escape(h)}</th>" for h, c in _HEADERS)
  body = "\n".join(_row(o) for o in outcomes)
  return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
          f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
          f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(subtitle)}</p>\n"
          f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>\n"
          f"<script>{_SCRIPT}</script>\n</body></html>\n")


def save(outcomes: Sequence[Outcome], path: Path, *, title: str, subtitle: str) -> None:
  # A file name that is not UTF-8 keeps its odd bytes as visible escapes: the page stays valid UTF-8.
  path.write_text(page(outcomes, title=title, subtitle=subtitle), encoding="utf-8", errors="backslashreplace")
