"""Hand-written SVG plots: log-log line plots (scaling) and rooflines.

No plotting dependency: each plot is a small, crisp ``<svg>`` string that can be inlined in
HTML. Every string that comes from results is escaped; every plot has a ``<title>`` and each
point a tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = [
    "PALETTE",
    "Line",
    "Roof",
    "format_count",
    "format_seconds",
    "line_plot",
    "roofline_plot",
]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#555555", "#F0E442")
"""Okabe–Ito: distinguishable with the common colour-vision deficiencies."""
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2")

WIDTH, HEIGHT = 600, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 34, 48


@dataclass(frozen=True)
class Line:
    """One series: points ``(x[i], y[i])`` joined in order of x; ``tips`` label each point."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    color: int = 0
    dash: int = 0
    tips: Sequence[str] = field(default_factory=tuple)
    joined: bool = True
    low: Sequence[float] = field(default_factory=tuple)
    """Optional per-point lower and upper ends of an interval (the 95 % CI), drawn as error bars."""
    high: Sequence[float] = field(default_factory=tuple)


@dataclass(frozen=True)
class Roof:
    """A roofline ceiling: peak compute (GFLOP/s) or peak bandwidth (GB/s)."""

    label: str
    gflops: float | None = None
    gbps: float | None = None


def format_seconds(value: float) -> str:
    """1.5e-05 → "15 µs"."""
    if not math.isfinite(value):
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(value) >= scale or unit == "ns":
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} s"


def format_count(value: float) -> str:
    """1.5e9 → "1.5G"; 0.25 → "0.25"."""
    if not math.isfinite(value):
        return "–"
    for suffix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


class _LogAxis:
    def __init__(self, values: Sequence[float], start: float, end: float) -> None:
        finite = [v for v in values if v > 0 and math.isfinite(v)]
        low, high = (min(finite), max(finite)) if finite else (1.0, 10.0)
        self.lo = math.floor(math.log10(low))
        self.hi = math.ceil(math.log10(high))
        if self.hi <= self.lo:
            self.hi = self.lo + 1
        self.start, self.end = start, end

    def __call__(self, value: float) -> float:
        fraction = (math.log10(value) - self.lo) / (self.hi - self.lo)
        return self.start + fraction * (self.end - self.start)

    def ticks(self) -> list[float]:
        step = max(1, math.ceil((self.hi - self.lo) / 8))
        return [10.0**e for e in range(self.lo, self.hi + 1, step)]


class _CategoryAxis:
    def __init__(self, labels: Sequence[str], start: float, end: float) -> None:
        self.labels = list(labels)
        self.start, self.end = start, end

    def __call__(self, value: float) -> float:
        count = max(len(self.labels) - 1, 1)
        return (
            self.start + (value / count) * (self.end - self.start)
            if len(self.labels) > 1
            else (self.start + self.end) / 2
        )


def _svg_open(title: str, kind: str, points: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fizzcheck-plot" data-kind="{kind}" data-points="{points}" '
        f'role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
        f"<title>{escape(title)}</title>",
        f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}"/>',
        f'<text class="plot-title" x="{LEFT}" y="{TOP - 12}">{escape(_clip(title, 80))}</text>',
    ]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _axes(
    lines: list[str],
    x_axis: _LogAxis | _CategoryAxis,
    y_axis: _LogAxis,
    x_label: str,
    y_label: str,
    x_format: Callable[[float], str],
    y_format: Callable[[float], str],
) -> None:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    if isinstance(x_axis, _CategoryAxis):
        x_ticks = [(x_axis(i), label) for i, label in enumerate(x_axis.labels)]
    else:
        x_ticks = [(x_axis(t), x_format(t)) for t in x_axis.ticks()]
    for x, label in x_ticks:
        lines.append(f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}"/>')
        lines.append(
            f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{escape(_clip(label, 12))}</text>'
        )
    for t in y_axis.ticks():
        y = y_axis(t)
        lines.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"/>')
        lines.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(y_format(t))}</text>'
        )
    lines.append(
        f'<text class="axis-label" x="{(LEFT + right) / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle">{escape(x_label)}</text>'
    )
    lines.append(
        f'<text class="axis-label" transform="translate(16 {(TOP + bottom) / 2:.1f}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>'
    )


def _legend(lines: list[str], entries: Sequence[tuple[str, int, int, bool]]) -> None:
    """Entries ``(label, color, dash, joined)`` in a column right of the plot (at most 16 shown)."""
    x = WIDTH - RIGHT + 12
    shown = list(entries[:16])
    for i, (label, color, dash, joined) in enumerate(shown):
        y = TOP + 8 + 18 * i
        stroke = PALETTE[color % len(PALETTE)]
        dasharray = DASHES[dash % len(DASHES)]
        style = f' stroke-dasharray="{dasharray}"' if dasharray else ""
        if joined:
            lines.append(f'<line x1="{x}" y1="{y}" x2="{x + 22}" y2="{y}" stroke="{stroke}" stroke-width="2"{style}/>')
        lines.append(f'<circle cx="{x + 11}" cy="{y}" r="3" fill="{stroke}"/>')
        lines.append(
            f'<text class="legend" x="{x + 28}" y="{y + 4}"><title>{escape(label)}</title>{escape(_clip(label, 28))}</text>'
        )
    if len(entries) > len(shown):
        y = TOP + 8 + 18 * len(shown)
        lines.append(f'<text class="legend" x="{x}" y="{y + 4}">… {len(entries) - len(shown)} more</text>')


def line_plot(
    lines_: Sequence[Line],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_categories: Sequence[str] | None = None,
    x_format: Callable[[float], str] = format_count,
    y_format: Callable[[float], str] = format_count,
) -> str:
    """A log-log plot (log-y over categories when ``x_categories`` is given) as an SVG string."""
    xs = [v for line in lines_ for v in line.x]
    ys = [v for line in lines_ for v in line.y]
    span = [v for line in lines_ for v in (*line.y, *line.low, *line.high)]  # the y axis shows the CIs too
    x_axis: _LogAxis | _CategoryAxis = (
        _CategoryAxis(x_categories, LEFT + 10, WIDTH - RIGHT - 10)
        if x_categories is not None
        else _LogAxis(xs, LEFT, WIDTH - RIGHT)
    )
    y_axis = _LogAxis(span, HEIGHT - BOTTOM, TOP)
    points = sum(1 for x, y in zip(xs, ys, strict=True) if _plottable(x, y, x_categories is None))
    out = _svg_open(title, "line", points)
    _axes(out, x_axis, y_axis, x_label, y_label, x_format, y_format)
    for line in lines_:
        stroke = PALETTE[line.color % len(PALETTE)]
        dasharray = DASHES[line.dash % len(DASHES)]
        style = f' stroke-dasharray="{dasharray}"' if dasharray else ""
        coords = [
            (x_axis(x), y_axis(y), tip)
            for x, y, tip in zip(line.x, line.y, list(line.tips) or [""] * len(line.x), strict=True)
            if _plottable(x, y, x_categories is None)
        ]
        if not coords:
            continue
        out.append(f'<g class="series"><title>{escape(line.label)}</title>')
        if line.joined and len(coords) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in coords)
            out.append(f'<polyline points="{path}" fill="none" stroke="{stroke}" stroke-width="2"{style}/>')
        if line.low and line.high:
            for x, y, low, high in zip(line.x, line.y, line.low, line.high, strict=True):
                if _plottable(x, y, x_categories is None) and _plottable(x, low, False) and _plottable(x, high, False):
                    px = x_axis(x)
                    out.append(
                        f'<line class="ci" x1="{px:.1f}" x2="{px:.1f}" y1="{y_axis(low):.1f}" y2="{y_axis(high):.1f}" '
                        f'stroke="{stroke}" stroke-width="1"/>'
                    )
        for px, py, tip in coords:
            hint = f"<title>{escape(tip)}</title>" if tip else ""
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{stroke}">{hint}</circle>')
        out.append("</g>")
    _legend(out, [(line.label, line.color, line.dash, line.joined) for line in lines_])
    out.append("</svg>")
    return "\n".join(out)


def _plottable(x: float, y: float, log_x: bool) -> bool:
    return math.isfinite(x) and math.isfinite(y) and y > 0 and (x > 0 or not log_x)


def roofline_plot(points: Sequence[Line], roofs: Sequence[Roof], *, title: str) -> str:
    """Achieved GFLOP/s against arithmetic intensity (FLOP/byte), under the measured ceilings.

    ``points``: unjoined series (``joined=False``), one per implementation. The bandwidth
    roof is the line ``GFLOP/s = GB/s × intensity``; each compute roof is horizontal.
    """
    bandwidths = [r.gbps for r in roofs if r.gbps]
    computes = [r.gflops for r in roofs if r.gflops]
    xs = [v for line in points for v in line.x]
    ys = [v for line in points for v in line.y]
    ridges = [c / b for c in computes for b in bandwidths]
    x_axis = _LogAxis([*xs, *ridges, *(r * 4 for r in ridges)], LEFT, WIDTH - RIGHT)
    y_axis = _LogAxis([*ys, *computes], HEIGHT - BOTTOM, TOP)
    count = sum(1 for x, y in zip(xs, ys, strict=True) if _plottable(x, y, True))
    out = _svg_open(title, "roofline", count)
    _axes(out, x_axis, y_axis, "arithmetic intensity (FLOP/byte)", "GFLOP/s", format_count, format_count)
    x_lo, x_hi = 10.0**x_axis.lo, 10.0**x_axis.hi
    y_lo, y_hi = 10.0**y_axis.lo, 10.0**y_axis.hi
    top_compute = max(computes) if computes else None
    for roof in roofs:
        if roof.gbps:
            # from the left edge (or where it enters the plot) to the highest ridge
            x_start = max(x_lo, y_lo / roof.gbps)
            x_end = min(x_hi, (top_compute or roof.gbps * x_hi) / roof.gbps)
            if x_end > x_start:
                out.append(
                    f'<line class="roof" x1="{x_axis(x_start):.1f}" y1="{y_axis(roof.gbps * x_start):.1f}" '
                    f'x2="{x_axis(x_end):.1f}" y2="{y_axis(roof.gbps * x_end):.1f}"><title>{escape(roof.label)}</title></line>'
                )
                label_x = x_axis(x_start) + 4
                label_y = y_axis(roof.gbps * x_start) - 6
                out.append(
                    f'<text class="roof-label" x="{label_x:.1f}" y="{label_y:.1f}">{escape(_clip(roof.label, 30))}</text>'
                )
        if roof.gflops and y_lo <= roof.gflops <= y_hi:
            ridge = roof.gflops / max(bandwidths) if bandwidths else x_lo
            x_start = max(x_lo, ridge)
            y = y_axis(roof.gflops)
            out.append(
                f'<line class="roof" x1="{x_axis(x_start):.1f}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}">'
                f"<title>{escape(roof.label)}</title></line>"
            )
            out.append(
                f'<text class="roof-label" x="{WIDTH - RIGHT - 4}" y="{y - 5:.1f}" text-anchor="end">{escape(_clip(roof.label, 30))}</text>'
            )
    for line in points:
        fill = PALETTE[line.color % len(PALETTE)]
        tips = list(line.tips) or [""] * len(line.x)
        out.append(f'<g class="series"><title>{escape(line.label)}</title>')
        for x, y, tip in zip(line.x, line.y, tips, strict=True):
            if _plottable(x, y, True):
                hint = f"<title>{escape(tip)}</title>" if tip else ""
                out.append(
                    f'<circle cx="{x_axis(x):.1f}" cy="{y_axis(y):.1f}" r="3" fill="{fill}" fill-opacity="0.75">{hint}</circle>'
                )
        out.append("</g>")
    _legend(out, [(line.label, line.color, line.dash, False) for line in points])
    out.append("</svg>")
    return "\n".join(out)
