"""``index.html``: the whole run on one self-contained page. A table has one row per photo, sortable by any
column, with the photo's scores; the photo's name opens its detail view: its pictures, its curves, its top-5
classes and its scores with what they mean.

No external assets and no network: thumbnails are ``data:`` URIs, curves are inline SVG, the sorting is a few
lines of inline script, and a detail view is a section that CSS shows while it is the page's ``:target`` (the
photo's link goes to ``#photo-<n>``), so it works from ``file://``. Its pictures are the photo's own files beside
the page, linked by relative name, so the folder opens from disk as it is. Every string that comes from outside
(file names, class names, errors, record values) is escaped, its control characters shown as escapes.
"""
from __future__ import annotations

import base64
import html
import io
import math
import os
import stat
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
from PIL import Image

from evojax_lime import files
from evojax_lime.cli.errors import shown
from evojax_lime.cli.detail import real
from evojax_lime.cli.report import Outcome, stability_text
from evojax_lime.cli.svg_chart import Series, line_chart, value_range
from evojax_lime.scores import LEGEND, legend_line

THUMBNAIL_SIDE = 192  # pixels, longest side: a row stays readable and 100 photos weigh about 1.5 MB
THUMBNAIL_SOURCE_LIMIT = 512 << 20  # bytes: more than a full-resolution overlay of a 100-megapixel photo

_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}a{color:#0b57d0}
table{border-collapse:collapse}th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}
th{background:#f4f4f4}#photos th{cursor:pointer;position:sticky;top:0}#photos th:hover{background:#e8e8e8}
#photos th.s{background:#e6edfb}colgroup.scores{background:#f5f8ff}tr{scroll-margin-top:3em}
td.t,th.t{text-align:left}td.err{color:#b00020;text-align:left}img{display:block}
.legend{color:#444;font-size:13px;padding-left:1.2em}
.detail{display:none}
.detail:target{display:block;position:fixed;inset:0;overflow:auto;background:#fff;padding:1.5em;z-index:2}
.detail nav a{margin-right:1.2em}.detail h2{margin:.6em 0 .2em;overflow-wrap:anywhere}
.panels{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start;margin-top:1em}
figure{margin:0}figcaption,.note{font-size:13px;color:#444;margin-top:.3em;max-width:44em}
.detail img{max-width:100%;height:auto}figure.overlay img{max-width:min(100%,720px);min-width:min(100%,240px)}
figure.chart{width:380px;max-width:100%}
svg text{font:11px system-ui,sans-serif;fill:#333}dl{margin:0;max-width:44em}dt{font-weight:600}dd{margin:0 0 .5em}
"""
# Click a header to sort by it, again to reverse. Cells carry their sort key in data-v: numbers sort as numbers,
# and a cell without one ("-": not computed, a failed photo) stays below them either way. Escape closes an open
# detail view, back to its photo's row.
_SCRIPT = """
const table = document.getElementById("photos");
table.tHead.querySelectorAll("th").forEach(th => th.addEventListener("click", () => {
  const col = th.cellIndex, body = table.tBodies[0], up = th.dataset.dir !== "up";
  table.tHead.querySelectorAll("th").forEach(h => h.removeAttribute("aria-sort"));
  th.dataset.dir = up ? "up" : "down";
  th.setAttribute("aria-sort", up ? "ascending" : "descending");
  const key = r => r.cells[col].dataset.v, num = v => v !== "" && !isNaN(v);
  [...body.rows].sort((a, b) => {
    const x = key(a), y = key(b);
    if (num(x) !== num(y)) return num(x) ? -1 : 1;
    const c = num(x) ? x - y : x.localeCompare(y);
    return up ? c : -c;
  }).forEach(r => body.appendChild(r));
}));
document.addEventListener("keydown", e => {
  const open = document.querySelector(".detail:target");
  if (e.key === "Escape" && open) location.hash = open.dataset.row;
});
"""
# (header, class) of the columns before the scores and after them; "t" columns hold text (left-aligned).
_BEFORE = (("overlay", "t"), ("photo", "t"), ("class", "t"), ("p before", ""), ("p after", ""), ("kept / K", ""),
           ("stability", ""))
_AFTER = (("seconds", ""), ("compile s", ""), ("evolve s", ""), ("write s", ""), ("note", "t"))
_RED, _BLUE, _GREY = "#d62728", "#1f77b4", "#555555"


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


def _esc(value: Any) -> str:
  """``value`` as text in markup: shown as on the terminal (an ESC, a BEL or a right-to-left override from a file
  name as its escape, see :func:`~evojax_lime.cli.errors.shown`), then HTML-escaped."""
  return html.escape(shown(value))


def _cell(text: str, *, sort: Any = None, cls: str = "", link: str = "") -> str:
  key = text if sort is None else sort
  if isinstance(key, float):
    key = "" if not math.isfinite(key) else repr(key)
  attr = f' class="{cls}"' if cls else ""
  content = f'<a href="{link}">{_esc(text)}</a>' if link else _esc(text)
  return f'<td{attr} data-v="{_esc(key)}">{content}</td>'


def _number(value: Optional[float], digits: int) -> str:
  return f"{value:.{digits}f}" if value is not None and math.isfinite(value) else "-"


def _sortable(value: Optional[float]) -> float:
  return float("nan") if value is None else value


def score_names(outcomes: Sequence[Outcome]) -> list[str]:
  """The :data:`~evojax_lime.scores.LEGEND` names, in its order, that some photo's record has a value for;
  ``stability`` has a column of its own already."""
  scored = [o.detail.get("scores", {}) for o in outcomes if o.error is None]
  return [name for name in LEGEND if name != "stability" and any(s.get(name) is not None for s in scored)]


def _th(label: str, cls: str, title: str = "") -> str:
  attrs = (f' class="{cls}"' if cls else "") + (f' title="{_esc(title)}"' if title else "")
  return f"<th{attrs}>{_esc(label)}</th>"


def _header(scores: Sequence[str]) -> str:
  """The header cells; a score's (and stability's) says in its ``title`` what it measures."""
  before = [_th(h, c, legend_line(h) if h in LEGEND else "") for h, c in _BEFORE]
  middle = [_th(LEGEND[name][0], "s", legend_line(name)) for name in scores]
  return "".join(before + middle + [_th(h, c) for h, c in _AFTER])


def _columns(scores: Sequence[str]) -> str:
  """``<colgroup>`` elements: the scores as one group (tinted), between the photo's numbers and its timings."""
  groups = [f'<colgroup span="{len(_BEFORE)}"></colgroup>']
  if scores:
    groups.append(f'<colgroup class="scores" span="{len(scores)}"></colgroup>')
  return "".join(groups + [f'<colgroup span="{len(_AFTER)}"></colgroup>'])


def _row(o: Outcome, index: int, scores: Sequence[str]) -> str:
  if o.thumbnail:
    uri = "data:image/jpeg;base64," + base64.b64encode(o.thumbnail).decode("ascii")
    image = f'<td class="t" data-v=""><img src="{uri}" alt="{_esc(o.name)}"></td>'
  else:
    image = '<td class="t" data-v="">-</td>'
  if o.error is not None:  # no detail view: the name is not a link
    blanks = "".join(_cell("-", sort="") for _ in range(len(_BEFORE) + len(scores) + len(_AFTER) - 4))
    return (f'<tr id="row-{index}">{image}{_cell(o.name, cls="t")}{_cell("", cls="t")}{blanks}'
            f"{_cell(o.error, cls='err')}</tr>")
  timing = lambda k: real(o.timings.get(k))
  stability = real(o.stability)
  values = o.detail.get("scores", {})
  cells = [
      _cell(o.name, cls="t", link=f"#photo-{index}"),
      _cell(f"{o.class_name} ({o.class_id})", sort=o.class_name, cls="t"),
      _cell(_number(o.original, 3), sort=o.original), _cell(_number(o.explanation, 3), sort=o.explanation),
      _cell(f"{o.kept} / {o.superpixels}", sort=o.kept / o.superpixels if o.superpixels else float("nan")),
      _cell(stability_text(o.stability), sort=float("nan") if stability is None else stability),
      *(_cell(_number(values.get(name), 3), sort=_sortable(values.get(name))) for name in scores),
      _cell(_number(o.seconds, 2), sort=o.seconds),
      *(_cell(_number(timing(k), 2), sort=_sortable(timing(k))) for k in ("compile", "evolve", "write")),
      _cell("from an earlier run" if o.resumed else "", cls="t"),
  ]
  return f'<tr id="row-{index}">{image}{"".join(cells)}</tr>'


def _legend(outcomes: Sequence[Outcome], scores: Sequence[str]) -> str:
  """One line per score shown in the table: what it measures and which way is better."""
  names = (["stability"] if any(real(o.stability) is not None for o in outcomes) else []) + list(scores)
  if not names:
    return ""
  return '<ul class="legend">' + "".join(f"<li>{_esc(legend_line(n))}</li>" for n in names) + "</ul>"


Linkable = Callable[[str], bool]  # whether a photo's detail view may show the picture of this file name


def pictures_in(folder: Path, *, own: Optional[Callable[[Path], bool]] = None) -> Linkable:
  """Pictures that are plain files in ``folder`` (not a link, a FIFO, a folder) and, with ``own``, that it says
  this tool wrote (a record read back on ``--resume`` may name any file). A missing picture is left out rather
  than shown broken."""
  def linkable(name: str) -> bool:
    try:
      regular = stat.S_ISREG(os.lstat(folder / name).st_mode)
    except (OSError, ValueError):
      return False
    return regular and (own is None or own(folder / name))

  return linkable


def _src(name: str) -> str:
  """A file name as a relative URL: every character that means something in a URL (``:``, ``#``, ``?``, ``%``)
  percent-encoded, bytes of a name that is not UTF-8 as themselves."""
  return urllib.parse.quote(name, safe="", errors="surrogateescape")


def _figure(name: str, alt: str, caption: str, *, cls: str = "") -> str:
  attr = f' class="{cls}"' if cls else ""
  return (f'<figure{attr}><img src="{_src(name)}" alt="{_esc(alt)}" loading="lazy">'
          f"<figcaption>{_esc(caption)}</figcaption></figure>")


def _pictures(o: Outcome, linkable: Optional[Linkable]) -> list[str]:
  """The overlay, the best masks of a few sizes (or a front's strip and plot), as figures of the photo's files."""
  found = {kind: name for kind, name in o.detail.get("files", {}).items() if linkable is None or linkable(name)}
  best = o.detail.get("best_of_size", [])
  sizes = "; ".join(f"at most {k}: {kept} kept, p {p:.3f}" for k, kept, p in best)
  ks = ", ".join(str(k) for k, _, _ in best) or "a few"
  out = []
  if "overlay" in found:
    out.append(_figure(found["overlay"], f"overlay of {o.name}",
                       "the kept superpixels as they are, the rest dimmed", cls="overlay"))
  if "sizes" in found:
    out.append(_figure(found["sizes"], f"best masks by size of {o.name}",
                       f"the most probable mask of at most k = {ks} superpixels the search found"))
  elif best:
    out.append(f'<p class="note">The most probable mask of at most k superpixels the search found: '
               f"{_esc(sizes)}.</p>")
  if "strip" in found:
    out.append(_figure(found["strip"], f"explanations along the front of {o.name}",
                       "explanations at a few sizes along the probability-vs-size front"))
  if "front" in found:
    out.append(_figure(found["front"], f"front of {o.name}", "the probability-vs-size front"))
  return out


def _chart_figure(chart: str, caption: str) -> str:
  return f'<figure class="chart">{chart}<figcaption>{_esc(caption)}</figcaption></figure>'


def _size_chart(o: Outcome) -> str:
  """p(target) by superpixels kept: the best with exactly k (dots), at most k (line), the full image (dashed)."""
  curve = o.detail.get("size_probabilities")
  if not curve or all(p is None for p in curve):
    return ""
  k_max, best, at_most = len(curve) - 1, None, []
  for p in curve:  # at most k: the best of every size up to k; a gap until the first known size
    best = p if best is None or (p is not None and p > best) else best
    at_most.append(best)
  series = [Series("best with at most k kept", _RED, list(enumerate(at_most))),
            Series("best with exactly k kept", _GREY, list(enumerate(curve)), dots=True)]
  if math.isfinite(o.original):
    series.append(Series("full image", "#333333", [(0, o.original), (k_max, o.original)], dashed=True))
  chart = line_chart(series, title="p(target) by superpixels kept", x_label=f"superpixels kept (of {k_max})",
                     y_label="p(target)", x_range=(0, k_max), y_range=(0, 1), integer_x=True)
  return _chart_figure(chart, "the best p(target) the search found at each size")


def _fitness_chart(o: Outcome) -> str:
  fitness = o.detail.get("fitness", {})
  best, mean = fitness.get("best", []), fitness.get("mean", [])
  y_range = value_range(best + mean)
  if y_range is None:
    return ""
  series = [Series(label, color, list(enumerate(values)))
            for label, color, values in (("population mean", _BLUE, mean), ("best", _RED, best)) if values]
  chart = line_chart(series, title="fitness per generation", x_label="generation", y_label="fitness",
                     x_range=(0, max(len(best), len(mean)) - 1), y_range=y_range, integer_x=True)
  return _chart_figure(chart, "best and mean fitness of the population per generation")


def _faithfulness_chart(o: Outcome) -> str:
  """The insertion and deletion curves: p(target) against the fraction of superpixels shown."""
  curves = o.detail.get("faithfulness")
  if not curves:
    return ""
  k, shown = curves["num_superpixels"], curves["shown"]
  scores = o.detail.get("scores", {})

  def label(name: str, score: str) -> str:
    value = scores.get(score)
    return name if value is None else f"{name} (AUC {value:.3f})"

  # Insertion step t has shown[t] superpixels revealed; deletion step t as many hidden, K - shown[t] still shown.
  series = [Series(label("insertion", "insertion_auc"), _RED,
                   [(s / k, p) for s, p in zip(shown, curves["insertion"])]),
            Series(label("deletion", "deletion_auc"), _BLUE,
                   [((k - s) / k, p) for s, p in zip(shown, curves["deletion"])])]
  chart = line_chart(series, title="insertion and deletion curves", x_label="fraction of superpixels shown",
                     y_label="p(target)", x_range=(0, 1), y_range=(0, 1))
  return _chart_figure(chart, "superpixels revealed (insertion) or hidden (deletion) in the explanation's order "
                              "of importance")


def _top5(o: Outcome) -> str:
  rows = "".join(f'<tr><td class="t">{"<b>" if i == o.class_id else ""}{_esc(name)} ({i})'
                 f'{"</b>" if i == o.class_id else ""}</td><td>{p:.3f}</td></tr>'
                 for i, name, p in o.detail.get("top5", []))
  if not rows:
    return ""
  return (f'<figure><table><thead><tr><th class="t">class</th><th>p</th></tr></thead><tbody>{rows}</tbody>'
          f"</table><figcaption>the classifier's five most probable classes on the full photo</figcaption></figure>")


def _scores(o: Outcome) -> str:
  """Every score of the record, with what it measures and which way is better."""
  values = dict(o.detail.get("scores", {}))
  if real(o.stability) is not None:  # the record's own, as the table shows it
    values["stability"] = real(o.stability)
  items = []
  for name in (n for n in LEGEND if n in values):
    label, meaning, better = LEGEND[name]
    value = "not computed" if values[name] is None else f"{values[name]:.3f}"
    items.append(f"<dt>{_esc(label)}: {_esc(value)}</dt><dd>{_esc(meaning)} ({_esc(better)} is better)</dd>")
  return f"<dl>{''.join(items)}</dl>" if items else ""


def _nav(index: int, previous: Optional[int], following: Optional[int]) -> str:
  links = [f'<a href="#row-{index}">&larr; all photos</a>']
  if previous is not None:
    links.append(f'<a href="#photo-{previous}">previous photo</a>')
  if following is not None:
    links.append(f'<a href="#photo-{following}">next photo</a>')
  return f"<nav>{''.join(links)}</nav>"


def _detail(o: Outcome, index: int, previous: Optional[int], following: Optional[int],
            linkable: Optional[Linkable]) -> str:
  """The photo's section, shown while it is the page's ``:target``."""
  summary = (f"{o.class_name} ({o.class_id}): p {_number(o.original, 3)} with the whole photo, "
             f"{_number(o.explanation, 3)} with {o.kept} of its {o.superpixels} superpixels")
  panels = [*_pictures(o, linkable), _size_chart(o), _fitness_chart(o), _faithfulness_chart(o), _top5(o), _scores(o)]
  body = "".join(filter(None, panels)) or '<p class="note">The record holds nothing more than the table shows.</p>'
  return (f'<section class="detail" id="photo-{index}" data-row="row-{index}" aria-label="{_esc(o.name)}">'
          f"{_nav(index, previous, following)}<h2>{_esc(o.name)}</h2><p>{_esc(summary)}</p>"
          f'<div class="panels">{body}</div></section>')


def _details(outcomes: Sequence[Outcome], linkable: Optional[Linkable]) -> str:
  shown = [i for i, o in enumerate(outcomes) if o.error is None]
  return "\n".join(_detail(outcomes[i], i, shown[n - 1] if n else None, shown[n + 1] if n + 1 < len(shown) else None,
                           linkable) for n, i in enumerate(shown))


def page(outcomes: Sequence[Outcome], *, title: str, subtitle: str, pictures: Optional[Linkable] = None) -> str:
  """The report as one HTML document.

  Args:
    outcomes: one per photo, in the table's first order.
    title, subtitle: the page's heading and the line under it.
    pictures: which of the pictures the records name a detail view shows (see :func:`pictures_in`); ``None``:
      all of them.
  """
  scores = score_names(outcomes)
  body = "\n".join(_row(o, i, scores) for i, o in enumerate(outcomes))
  return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
          f'<meta name="viewport" content="width=device-width, initial-scale=1">'
          f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>\n"
          f"<h1>{_esc(title)}</h1>\n<p>{_esc(subtitle)}</p>\n"
          f'<table id="photos">{_columns(scores)}<thead><tr>{_header(scores)}</tr></thead><tbody>\n{body}\n'
          f"</tbody></table>\n{_legend(outcomes, scores)}\n{_details(outcomes, pictures)}\n"
          f"<script>{_SCRIPT}</script>\n</body></html>\n")


def save(outcomes: Sequence[Outcome], path: Path, *, title: str, subtitle: str,
         pictures: Optional[Linkable] = None) -> None:
  """Writes :func:`page` to ``path`` (``pictures`` looks where the page will lie: it may be written elsewhere
  first)."""
  # A file name that is not UTF-8 keeps its odd bytes as visible escapes: the page stays valid UTF-8.
  path.write_text(page(outcomes, title=title, subtitle=subtitle, pictures=pictures), encoding="utf-8",
                  errors="backslashreplace")
