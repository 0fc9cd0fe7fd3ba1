"""Plots as inline SVG, drawn by hand: no plotting library on the request path, nothing
fetched by the browser, and the text stays selectable.

:func:`line_plot` draws series of ``(x, y)`` points (lines, dashed lines or dots) on linear
axes with round tick values and a legend.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

PALETTE = ("#c62828", "#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e", "#ad1457")
"""Series colours (red, blue, green, ...), distinguishable on white."""
MAX_DOTS = 3000
"""At most this many dots per series are drawn (evenly spread): the page stays light."""


@dataclass(frozen=True)
class Series:
    """One series of a plot: ``style`` is ``line``, ``dashed``, ``step`` or ``dots``."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    colour: str = PALETTE[0]
    style: str = "line"


def nice_ticks(low: float, high: float, n: int = 6) -> list[float]:
    """About ``n`` round tick values covering ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(low / step) * step
    ticks = []
    t = start
    while t < high + step * 0.999:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _label(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.4g}"


def _thin(x: Sequence[float], y: Sequence[float], style: str) -> list[tuple[float, float]]:
    """The points worth drawing: a step line keeps only its corners, dots at most
    :data:`MAX_DOTS`, a line at most 1000 points."""
    points = list(zip(x, y, strict=True))
    if style == "step":
        kept = [p for i, p in enumerate(points) if i == 0 or p[1] != points[i - 1][1]]
        if points and kept[-1] != points[-1]:
            kept.append(points[-1])
        return kept
    limit = MAX_DOTS if style == "dots" else 1000
    if len(points) <= limit:
        return points
    stride = len(points) / limit
    picked = [points[int(i * stride)] for i in range(limit)]
    return picked + [points[-1]]


def line_plot(
    series: Sequence[Series],
    *,
    x_label: str = "oracle calls",
    y_label: str = "score",
    width: int = 820,
    height: int = 380,
    plot_id: str = "",
) -> str:
    """An inline SVG plot of ``series`` (an empty-data message when every series is empty)."""
    left, right, top, bottom = 64, 20, 16, 48
    inner_w, inner_h = width - left - right, height - top - bottom
    xs = [v for s in series for v in s.x if math.isfinite(v)]
    ys = [v for s in series for v in s.y if math.isfinite(v)]
    ident = f' id="{html.escape(plot_id)}"' if plot_id else ""
    head = (
        f'<svg{ident} class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        'font-size="12" role="img">'
    )
    if not xs or not ys:
        return (
            f'{head}<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#777">'
            "no calls recorded yet</text></svg>"
        )
    x_ticks = nice_ticks(min(0.0, min(xs)), max(xs))
    y_ticks = nice_ticks(min(ys), max(ys))
    x0, x1 = x_ticks[0], x_ticks[-1]
    y0, y1 = y_ticks[0], y_ticks[-1]

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * inner_w

    def py(y: float) -> float:
        return top + inner_h - (y - y0) / (y1 - y0) * inner_h

    parts = [
        head,
        f'<rect x="{left}" y="{top}" width="{inner_w}" height="{inner_h}" '
        'fill="#fafafa" stroke="#bbb"/>',
    ]
    for t in x_ticks:
        parts.append(
            f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top}" y2="{top + inner_h}" '
            f'stroke="#e6e6e6"/><text x="{px(t):.1f}" y="{top + inner_h + 16}" '
            f'text-anchor="middle" fill="#444">{_label(t)}</text>'
        )
    for t in y_ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + inner_w}" y1="{py(t):.1f}" y2="{py(t):.1f}" '
            f'stroke="#e6e6e6"/><text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" '
            f'fill="#444">{_label(t)}</text>'
        )
    parts.append(
        f'<text x="{left + inner_w / 2}" y="{height - 8}" text-anchor="middle" '
        f'fill="#222">{html.escape(x_label)}</text>'
        f'<text transform="translate(16 {top + inner_h / 2}) rotate(-90)" text-anchor="middle" '
        f'fill="#222">{html.escape(y_label)}</text>'
    )
    for s in series:
        points = [(x, y) for x, y in _thin(s.x, s.y, s.style) if math.isfinite(y)]
        if not points:
            continue
        colour = html.escape(s.colour)
        label = html.escape(s.label)
        if s.style == "dots":
            dots = "".join(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="1.6"/>' for x, y in points
            )
            parts.append(
                f'<g class="series" data-label="{label}" fill="{colour}" fill-opacity="0.28">'
                f"{dots}</g>"
            )
            continue
        coords: list[str] = []
        for i, (x, y) in enumerate(points):
            if s.style == "step" and i:
                coords.append(f"{px(x):.1f},{py(points[i - 1][1]):.1f}")
            coords.append(f"{px(x):.1f},{py(y):.1f}")
        dash = ' stroke-dasharray="6 4"' if s.style == "dashed" else ""
        parts.append(
            f'<polyline class="series" data-label="{label}" fill="none" stroke="{colour}" '
            f'stroke-width="2"{dash} points="{" ".join(coords)}"/>'
        )
    parts.append(_legend(series, left + inner_w - 10, top + inner_h - 10))
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: Sequence[Series], right: float, bottom: float) -> str:
    """A legend box in the lower right corner (where a rising curve leaves room)."""
    row = 18
    text_w = max(len(s.label) for s in series) * 6.8 + 40
    height = row * len(series) + 8
    x, y = right - text_w, bottom - height
    parts = [
        f'<g class="legend"><rect x="{x:.1f}" y="{y:.1f}" width="{text_w:.1f}" '
        f'height="{height}" fill="white" fill-opacity="0.92" stroke="#ccc" rx="4"/>'
    ]
    for i, s in enumerate(series):
        cy = y + 4 + row * i + row / 2
        colour = html.escape(s.colour)
        if s.style == "dots":
            mark = (
                f'<circle cx="{x + 18:.1f}" cy="{cy:.1f}" r="3" fill="{colour}" '
                'fill-opacity="0.5"/>'
            )
        else:
            dash = ' stroke-dasharray="6 4"' if s.style == "dashed" else ""
            mark = (
                f'<line x1="{x + 8:.1f}" x2="{x + 28:.1f}" y1="{cy:.1f}" y2="{cy:.1f}" '
                f'stroke="{colour}" stroke-width="2"{dash}/>'
            )
        parts.append(
            f'{mark}<text x="{x + 34:.1f}" y="{cy + 4:.1f}" fill="#222">'
            f"{html.escape(s.label)}</text>"
        )
    parts.append("</g>")
    return "".join(parts)
