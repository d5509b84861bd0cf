"""Small server-side SVG charts for the console (KPI trends, bars per group, reliability curves, drift bars).

Hand-written rather than a chart library: the console is used offline (no CDN), a JavaScript chart bundle would be
the only script of size on the page, and matplotlib would render Chinese labels only with a CJK font installed on
the server. SVG text is rendered by the browser in the page's font, so zh and en labels both work, the charts
scale, and they work without JavaScript. A missing value (an empty week) is a gap in the line, never a zero.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from markupsafe import Markup

WIDTH, HEIGHT = 520, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 34


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    if abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 1 or value == 0 else f"{value:.2f}"


def _nice_max(value: float, percent: bool) -> float:
    if percent:
        return 1.0 if value > 0.5 else max(0.1, math.ceil(value * 10) / 10)
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _frame(title: str, ymax: float, percent: bool, testid: str, height: int = HEIGHT) -> list[str]:
    out = [f'<svg class="chart" data-testid="{testid}" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="{html.escape(title)}" xmlns="http://www.w3.org/2000/svg">',
           f"<title>{html.escape(title)}</title>"]
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(5):
        y = TOP + plot_h * (1 - i / 4)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e7ec"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#667085">'
                   f"{_fmt(ymax * i / 4, percent)}</text>")
    return out


def _y(value: float, ymax: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - min(value, ymax) / ymax)


def _x_labels(labels: Sequence[str], xs: Sequence[float], rotate: bool = False) -> list[str]:
    if rotate:  # one label per bar, slanted below the axis (the SVG is made taller for them)
        y = HEIGHT - BOTTOM + 10
        return [f'<text x="{x:.1f}" y="{y}" text-anchor="end" font-size="10" fill="#667085" '
                f'transform="rotate(-35 {x:.1f} {y})">{html.escape(label)}</text>' for label, x in zip(labels, xs)]
    step = max(1, math.ceil(len(labels) / 8))
    return [f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="10" fill="#667085">'
            f"{html.escape(label)}</text>" for i, (label, x) in enumerate(zip(labels, xs)) if i % step == 0]


def line_chart(points: Sequence[tuple[str, float | None]], *, title: str, percent: bool = False,
               band: tuple[float, float] | None = None, testid: str = "chart") -> Markup:
    """A trend over periods; ``None`` values are gaps. ``band`` shades an expected range (training-time range)."""
    values = [v for _, v in points if v is not None and math.isfinite(v)]
    top = max(values + ([band[1]] if band else []), default=0.0)
    ymax = _nice_max(top, percent)
    out = _frame(title, ymax, percent, testid)
    n = len(points)
    span = WIDTH - LEFT - RIGHT
    xs = [LEFT + span * (i + 0.5) / max(n, 1) for i in range(n)]
    if band is not None:
        y1, y0 = _y(band[1], ymax), _y(band[0], ymax)
        out.append(f'<rect data-testid="chart-band" x="{LEFT}" y="{y1:.1f}" width="{span}" '
                   f'height="{max(y0 - y1, 1):.1f}" fill="#1b7f3b" fill-opacity="0.12"/>')
    segment: list[str] = []
    paths: list[list[str]] = []
    for x, (_, v) in zip(xs, points):
        if v is None or not math.isfinite(v):
            if segment:
                paths.append(segment)
            segment = []
        else:
            segment.append(f"{x:.1f},{_y(v, ymax):.1f}")
    if segment:
        paths.append(segment)
    for seg in paths:
        out.append(f'<polyline fill="none" stroke="#1f5fbf" stroke-width="2" points="{" ".join(seg)}"/>')
    for x, (label, v) in zip(xs, points):
        if v is not None and math.isfinite(v):
            out.append(f'<circle data-testid="chart-point" cx="{x:.1f}" cy="{_y(v, ymax):.1f}" r="3" fill="#1f5fbf">'
                       f"<title>{html.escape(label)}: {_fmt(v, percent) if percent else f'{v:.2f}'}</title></circle>")
    if not values:
        out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#667085">—</text>')
    out += _x_labels([label for label, _ in points], xs)
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart(points: Sequence[tuple[str, float | None]], *, title: str, percent: bool = False,
              threshold: float | None = None, testid: str = "chart") -> Markup:
    """Vertical bars per group (port, carrier, feature …); ``None`` is an empty slot; ``threshold`` a dashed line
    (bars above it are drawn in the warning colour)."""
    values = [v for _, v in points if v is not None and math.isfinite(v)]
    ymax = _nice_max(max(values + ([threshold] if threshold else []), default=0.0), percent)
    longest = max((len(label) for label, _ in points), default=0)
    out = _frame(title, ymax, percent, testid, height=HEIGHT + min(int(longest * 4.5), 90))
    n = max(len(points), 1)
    span = WIDTH - LEFT - RIGHT
    width = span / n * 0.7
    xs = [LEFT + span * (i + 0.5) / n for i in range(len(points))]
    for x, (label, v) in zip(xs, points):
        if v is None or not math.isfinite(v):
            continue
        y = _y(v, ymax)
        colour = "#b26a00" if threshold is not None and v > threshold else "#1f5fbf"
        out.append(f'<rect data-testid="chart-bar" x="{x - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" '
                   f'height="{HEIGHT - BOTTOM - y:.1f}" fill="{colour}"><title>{html.escape(label)}: '
                   f"{_fmt(v, percent) if percent else f'{v:.3f}'}</title></rect>")
    if not values:
        out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#667085">—</text>')
    if threshold is not None:
        y = _y(threshold, ymax)
        out.append(f'<line data-testid="chart-threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                   f'y2="{y:.1f}" stroke="#b3261e" stroke-dasharray="5 4"/>')
    out += _x_labels([label[:22] for label, _ in points], xs, rotate=True)
    out.append("</svg>")
    return Markup("".join(out))


def reliability_chart(bins: Sequence[dict], *, title: str, testid: str = "chart") -> Markup:
    """Observed share against predicted probability per bin (``{"predicted", "observed", "n"}``), with the
    diagonal of perfect calibration; dot area grows with the bin's count."""
    out = _frame(title, 1.0, True, testid)
    span = WIDTH - LEFT - RIGHT
    out.append(f'<line x1="{LEFT}" y1="{_y(0, 1):.1f}" x2="{LEFT + span}" y2="{_y(1, 1):.1f}" stroke="#98a2b3" '
               'stroke-dasharray="4 4"/>')
    most = max((b["n"] for b in bins), default=1) or 1
    pts = []
    for b in bins:
        x, y = LEFT + span * b["predicted"], _y(b["observed"], 1.0)
        pts.append(f"{x:.1f},{y:.1f}")
        r = 2.5 + 4 * math.sqrt(b["n"] / most)
        out.append(f'<circle data-testid="chart-point" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#1f5fbf" '
                   f'fill-opacity="0.8"><title>{b["predicted"]:.2f} → {b["observed"]:.2f} (n={b["n"]})</title>'
                   "</circle>")
    if pts:
        out.append(f'<polyline fill="none" stroke="#1f5fbf" points="{" ".join(pts)}"/>')
    for i in range(5):
        x = LEFT + span * i / 4
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="10" '
                   f'fill="#667085">{i * 25}%</text>')
    out.append("</svg>")
    return Markup("".join(out))
