"""Small server-side SVG pictures: a gauge for a ratio and a bar chart for counts.

Pure functions returning SVG text with every label escaped; no scripts, no
external resources. Colours come from the stylesheet's palette.
"""

import math
from html import escape

GAUGE_WIDTH = 160  # px
GAUGE_HEIGHT = 100  # px
WARN_AT = 0.75  # ratio where a gauge turns amber
ALARM_AT = 0.9  # ratio where it turns red


def _colour(ratio: float) -> str:
    if ratio >= ALARM_AT:
        return "#c62828"
    if ratio >= WARN_AT:
        return "#ef8f00"
    return "#2e7d32"


def _point(cx: float, cy: float, r: float, ratio: float) -> tuple[float, float]:
    angle = math.pi * (1 - ratio)
    return cx + r * math.cos(angle), cy - r * math.sin(angle)


def gauge(label: str, ratio: float, value_text: str) -> str:
    """A half-circle gauge filled to ``ratio`` (clamped to 0..1)."""
    ratio = min(max(ratio, 0.0), 1.0)
    cx, cy, r = GAUGE_WIDTH / 2, 80, 64
    x0, y0 = _point(cx, cy, r, 0)
    x1, y1 = _point(cx, cy, r, 1)
    xv, yv = _point(cx, cy, r, ratio)
    track = f'<path d="M{x0:.1f} {y0:.1f} A{r} {r} 0 0 1 {x1:.1f} {y1:.1f}" class="track"/>'
    fill = ""
    if ratio > 0:
        fill = (f'<path d="M{x0:.1f} {y0:.1f} A{r} {r} 0 0 1 {xv:.1f} {yv:.1f}"'
                f' stroke="{_colour(ratio)}" class="fill"/>')
    return (
        f'<svg class="gauge" viewBox="0 0 {GAUGE_WIDTH} {GAUGE_HEIGHT}" width="{GAUGE_WIDTH}"'
        f' height="{GAUGE_HEIGHT}" role="img" aria-label="{escape(label)}: {escape(value_text)}">'
        f'{track}{fill}<text x="{cx}" y="{cy - 6}" class="value">{escape(value_text)}</text>'
        f'<text x="{cx}" y="{GAUGE_HEIGHT - 2}" class="label">{escape(label)}</text></svg>'
    )


def bars(title: str, labels: list[str], counts: list[int], width: int = 720,
         height: int = 180) -> str:
    """A vertical bar chart of ``counts`` (one bar per label)."""
    top, bottom, left = 16, 22, 30
    plot_h = height - top - bottom
    peak = max(counts, default=0) or 1
    step = (width - left) / max(len(counts), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img"'
        f' aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="2" y="{top + 4}" class="axis">{peak}</text>',
        f'<text x="2" y="{top + plot_h}" class="axis">0</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" class="base"/>',
    ]
    for i, (label, count) in enumerate(zip(labels, counts, strict=True)):
        h = plot_h * count / peak
        x = left + i * step
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{max(step - 4, 1):.1f}"'
            f' height="{h:.1f}" class="bar"><title>{escape(label)}: {count}</title></rect>'
        )
        parts.append(f'<text x="{x + step / 2:.1f}" y="{height - 6}" class="tick">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
