"""Small line charts as inline SVG, drawn from a record's numbers: the report's curves need no plotting library
and no file of their own.

Only numbers and this module's own labels go into the markup; labels are escaped all the same.
"""
from __future__ import annotations

import dataclasses
import html
import math
from typing import Optional, Sequence

WIDTH, PLOT_HEIGHT = 380, 180  # pixels: two charts side by side fit a laptop screen
_LEFT, _RIGHT, _TOP = 60, 12, 12  # margins: tick labels and the y label on the left
_LEGEND_TOP, _LEGEND_LINE = 54, 15  # below the plot: tick labels and the x label, then one legend line per series
MAX_DRAWN = 2000  # points per series: more is thinned (a screen has fewer pixels than that across a chart)

Point = tuple[float, Optional[float]]  # (x, y); y None is a gap


@dataclasses.dataclass(frozen=True)
class Series:
  """One curve of a chart.

  Attributes:
    label: its name in the legend.
    color: CSS colour.
    points: ``(x, y)`` in drawing order; ``y`` ``None`` breaks the line.
    dots: draw a dot at every point instead of a line.
    dashed: draw the line dashed (a reference level rather than data).
  """

  label: str
  color: str
  points: Sequence[Point]
  dots: bool = False
  dashed: bool = False


def _tick(value: float) -> str:
  return f"{value:.3g}"


def _thin(points: Sequence[Point]) -> Sequence[Point]:
  """Every n-th point (and the last) when there are more than :data:`MAX_DRAWN`."""
  if len(points) <= MAX_DRAWN:
    return points
  step = -(-len(points) // MAX_DRAWN)
  return list(points[::step]) + ([points[-1]] if (len(points) - 1) % step else [])


def _runs(points: Sequence[Point]) -> list[list[tuple[float, float]]]:
  """The stretches of consecutive points without a gap."""
  runs, current = [], []
  for x, y in points:
    if y is None:
      if current:
        runs.append(current)
      current = []
    else:
      current.append((x, y))
  return runs + ([current] if current else [])


def value_range(values: Sequence[Optional[float]]) -> Optional[tuple[float, float]]:
  """``(low, high)`` of the known values, padded by 5% (a flat curve by 0.5); ``None`` when none is known, or
  when the span is too large for a float (1e308 and -1e308 in a damaged record)."""
  known = [v for v in values if v is not None]
  if not known:
    return None
  low, high = min(known), max(known)
  pad = (high - low) * 0.05 or 0.5
  return (low - pad, high + pad) if math.isfinite(low - pad) and math.isfinite(high + pad) else None


def _series(s: Series, scale) -> str:
  color = html.escape(s.color)
  parts = []
  for run in _runs(_thin(s.points)):
    xy = [scale(x, y) for x, y in run]
    if s.dots or len(xy) == 1:  # a lone point of a line would be invisible as a polyline
      parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{color}"/>' for x, y in xy]
    else:
      dash = ' stroke-dasharray="5 4"' if s.dashed else ""
      coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
      parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.8"{dash}/>')
  return f'<g><title>{html.escape(s.label)}</title>{"".join(parts)}</g>'


def _ticks(low: float, high: float, integer: bool) -> list[float]:
  """Both ends and the middle (rounded on an integer axis, where generation 1.5 means nothing)."""
  middle = (low + high) / 2
  return [low, float(round(middle)) if integer else middle, high]


def _axes(scale, x_range: tuple[float, float], y_range: tuple[float, float], x_label: str, y_label: str,
          integer_x: bool) -> str:
  right, bottom = WIDTH - _RIGHT, _TOP + PLOT_HEIGHT
  out = [f'<rect x="{_LEFT}" y="{_TOP}" width="{right - _LEFT}" height="{PLOT_HEIGHT}" fill="none" '
         f'stroke="#999"/>']
  for i, (fx, fy) in enumerate(zip(_ticks(*x_range, integer_x), _ticks(*y_range, False))):
    px, py = scale(fx, fy)
    out.append(f'<text x="{px:.1f}" y="{bottom + 14}" text-anchor="middle">{_tick(fx)}</text>')
    out.append(f'<text x="{_LEFT - 4}" y="{py + 4:.1f}" text-anchor="end">{_tick(fy)}</text>')
    if i == 1:
      out.append(f'<line x1="{_LEFT}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}" stroke="#e4e4e4"/>')
  out.append(f'<text x="{(_LEFT + right) / 2:.1f}" y="{bottom + 30}" text-anchor="middle">'
             f'{html.escape(x_label)}</text>')
  out.append(f'<text transform="translate(12 {_TOP + PLOT_HEIGHT / 2:.1f}) rotate(-90)" text-anchor="middle">'
             f'{html.escape(y_label)}</text>')
  return "".join(out)


def _legend(series: Sequence[Series]) -> str:
  """One line per series under the axes: a swatch drawn as the series is (dots, line, dashed line), its label."""
  out = []
  for i, s in enumerate(series):
    y, color = _TOP + PLOT_HEIGHT + _LEGEND_TOP + _LEGEND_LINE * i, html.escape(s.color)
    if s.dots:
      swatch = f'<circle cx="{_LEFT + 14}" cy="{y - 4}" r="2.2" fill="{color}"/>'
    else:
      dash = ' stroke-dasharray="5 4"' if s.dashed else ""
      swatch = f'<line x1="{_LEFT + 2}" y1="{y - 4}" x2="{_LEFT + 26}" y2="{y - 4}" stroke="{color}" ' \
               f'stroke-width="1.8"{dash}/>'
    out.append(f'{swatch}<text x="{_LEFT + 32}" y="{y}">{html.escape(s.label)}</text>')
  return "".join(out)


def line_chart(series: Sequence[Series], *, title: str, x_label: str, y_label: str,
               x_range: tuple[float, float], y_range: tuple[float, float], integer_x: bool = False) -> str:
  """An ``<svg>`` element: the series over a framed plot with ticks and axis labels, a legend below it.

  Args:
    series: the curves, drawn in order (later on top).
    title: the chart's accessible name (``aria-label`` and ``<title>``).
    x_label, y_label: axis labels.
    x_range, y_range: ``(low, high)`` of the axes; points outside are clipped to the frame.
    integer_x: the x axis counts (generations, superpixels): its middle tick is a whole number.
  """
  (x0, x1), (y0, y1) = x_range, y_range
  x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
  right, bottom = WIDTH - _RIGHT, _TOP + PLOT_HEIGHT
  height = bottom + _LEGEND_TOP + _LEGEND_LINE * len(series)
  clip = lambda v, lo, hi: min(max(v, lo), hi)

  def scale(x: float, y: float) -> tuple[float, float]:
    return (_LEFT + (right - _LEFT) * (clip(x, x0, x1) - x0) / (x1 - x0),
            bottom - PLOT_HEIGHT * (clip(y, y0, y1) - y0) / (y1 - y0))

  name = html.escape(title)
  return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
          f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{name}"><title>{name}</title>'
          f'{_axes(scale, (x0, x1), (y0, y1), x_label, y_label, integer_x)}'
          f'{"".join(_series(s, scale) for s in series)}{_legend(series)}</svg>')
