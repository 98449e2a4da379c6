"""Sparklines and charts as inline SVG, drawn on the server.

Inline SVG needs no script and no library: the report opens offline, prints as vectors, and a
test can read every mark as markup. Each function returns SVG text in which every piece of text
(period labels, formatted values, units, which users write) is escaped here: the templates insert
it as markup. Nulls break a line rather than drop to zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from .gather import Breakdown, Point

__all__ = ["bars", "chart", "period_label", "sparkline"]

Formatter = Callable[[float], str]


def _numbers(points: Sequence[Point]) -> list[float | None]:
    return [float(p.value) if isinstance(p.value, (int, float)) and not isinstance(p.value, bool)
            and math.isfinite(p.value) else None for p in points]


def _extent(values: Sequence[float | None], *lines: float | None) -> tuple[float, float]:
    """The low and high of the values and the reference lines, padded so a flat line sits in the middle."""
    found = [v for v in (*values, *lines) if v is not None]
    if not found:
        return 0.0, 1.0
    low, high = min(found), max(found)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.08
    return low - pad, high + pad


def _paths(xs: Sequence[float], ys: Sequence[float | None]) -> list[str]:
    """One ``d`` attribute per unbroken run of values."""
    runs: list[list[str]] = [[]]
    for x, y in zip(xs, ys):
        if y is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(f"{'L' if runs[-1] else 'M'}{x:.1f} {y:.1f}")
    return [" ".join(run) for run in runs if run]


def sparkline(points: Sequence[Point], target: float | None, *, width: int = 120, height: int = 32) -> str:
    """A small trend without axes (Tufte): the periods' line, the target as a dashed line, the last value a dot."""
    values = _numbers(points)
    low, high = _extent(values, target)
    pad = 3
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    xs = [pad + i * step for i in range(len(values))]

    def y(v: float) -> float:
        return pad + (high - v) / (high - low) * (height - 2 * pad)

    ys = [None if v is None else y(v) for v in values]
    parts = [f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'aria-hidden="true" focusable="false">']
    if target is not None:
        parts.append(f'<line class="target" x1="0" x2="{width}" y1="{y(target):.1f}" y2="{y(target):.1f}"/>')
    parts += [f'<path class="line" d="{d}"/>' for d in _paths(xs, ys)]
    for x, value, point in zip(xs, ys, points):
        if value is not None and (point.partial or point is points[-1]):
            kind = "partial" if point.partial else "last"
            parts.append(f'<circle class="{kind}" cx="{x:.1f}" cy="{value:.1f}" r="2.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values between low and high for the y axis."""
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(count + 2) if first + i * step <= high + 1e-9]


def period_label(period: str | None, grain: str) -> str:
    """A period label short enough for an axis: 2025-03 for a month, 2025-Q1 for a quarter, 2025 for a year."""
    if not period:
        return "all"
    if grain == "month":
        return period[:7]
    if grain == "quarter":
        return f"{period[:4]}-Q{(int(period[5:7]) - 1) // 3 + 1}"
    if grain == "year":
        return period[:4]
    return period


def chart(points: Sequence[Point], *, target: float | None, warning: float | None, fmt: Formatter,
          grain: str, label: str, described_by: str, width: int = 640, height: int = 240) -> str:
    """Every reported period as a line with dots, the target and warning lines labelled, the period in progress
    shaded and named. ``label`` names the chart for screen readers; ``described_by`` is the id of its values table.
    """
    left, right, top, bottom = 70, 104, 12, 30
    values = _numbers(points)
    low, high = _extent(values, target, warning)
    inner_w, inner_h = width - left - right, height - top - bottom
    step = inner_w / max(len(values), 1)
    xs = [left + step * (i + 0.5) for i in range(len(values))]

    def y(v: float) -> float:
        return top + (high - v) / (high - low) * inner_h

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
           f'aria-describedby="{escape(described_by)}">']
    for tick in _ticks(low, high):
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
                   f'<text class="tick" x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                   f'{escape(fmt(tick))}</text>')
    for x, point in zip(xs, points):
        if point.partial:
            out.append(f'<rect class="partial-band" x="{x - step / 2:.1f}" y="{top}" width="{step:.1f}" '
                       f'height="{inner_h}"/><text class="partial-label" x="{x:.1f}" y="{top + 12}" '
                       f'text-anchor="middle">in progress</text>')
    every = max(1, math.ceil(len(points) / 7))
    for i, (x, point) in enumerate(zip(xs, points)):
        if (len(points) - 1 - i) % every == 0:  # counted from the last period, which is always labelled
            out.append(f'<text class="period" x="{x:.1f}" y="{height - 10}" text-anchor="middle">'
                       f'{escape(period_label(point.period, grain))}{"*" if point.partial else ""}</text>')
    for name, line in (("warning", warning), ("target", target)):
        if line is not None:
            out.append(f'<line class="{name}" x1="{left}" x2="{width - right}" y1="{y(line):.1f}" '
                       f'y2="{y(line):.1f}"/><text class="{name}-label" x="{width - right + 4}" '
                       f'y="{y(line) + 4:.1f}">{name} {escape(fmt(line))}</text>')
    ys = [None if v is None else y(v) for v in values]
    out += [f'<path class="line" d="{d}"/>' for d in _paths(xs, ys)]
    for x, value, point in zip(xs, ys, points):
        if value is not None:
            out.append(f'<circle class="dot{" partial" if point.partial else ""}" cx="{x:.1f}" cy="{value:.1f}" '
                       f'r="3.5"><title>{escape(period_label(point.period, grain))}: {escape(point.formatted)}'
                       f'{" (in progress)" if point.partial else ""}</title></circle>')
    out.append("</svg>")
    return "".join(out)


def bars(breakdown: Breakdown, column: int, *, label: str, width: int = 640) -> str:
    """The breakdown's values in one period as horizontal bars from zero, one per combination, labelled."""
    rows = [(" / ".join(key), cells[column]) for key, cells in breakdown.rows]
    values: list[Any] = _numbers([cell for _, cell in rows])
    found = [v for v in values if v is not None]
    low, high = min([0.0, *found]), max([0.0, *found])
    span = (high - low) or 1.0
    left, right, row_h = 150, 90, 22
    inner = width - left - right
    height = row_h * len(rows) + 8

    def x(v: float) -> float:
        return left + (v - low) / span * inner

    out = [f'<svg class="bars" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">']
    for i, ((name, cell), value) in enumerate(zip(rows, values)):
        top = 4 + i * row_h
        out.append(f'<text class="tick" x="{left - 6}" y="{top + 15}" text-anchor="end">{escape(name[:24])}</text>')
        if value is not None:
            start, stop = sorted((x(0.0), x(value)))
            out.append(f'<rect class="bar" x="{start:.1f}" y="{top + 3}" width="{max(stop - start, 1):.1f}" '
                       f'height="{row_h - 6}"/>')
        out.append(f'<text class="tick" x="{width - right + 4}" y="{top + 15}">{escape(cell.formatted)}</text>')
    out.append("</svg>")
    return "".join(out)
