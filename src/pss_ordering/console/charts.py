"""Server-rendered SVG charts for the response-time figures: no script, no library in
the browser; each chart has a title and a description, and a table beside it holds
the same numbers for screen readers and keyboard users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

#: Colours with at least 4.5:1 contrast against white (WCAG AA), told apart by
#: the legend's labels too.
PALETTE = ("#1d4ed8", "#047857", "#b45309", "#b91c1c", "#6d28d9", "#0f766e")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[float, ...]


def bars(title: str, groups: Sequence[str], series: Sequence[Series]) -> str:
    """Grouped bars: one group per provider, one bar per figure."""
    width, height, left, bottom = 640, 260, 40, 40
    top = max((v for s in series for v in s.values), default=0) or 1
    group_width = (width - left - 10) / max(len(groups), 1)
    bar = group_width * 0.8 / max(len(series), 1)
    parts = [_axis(width, height, left, bottom, top)]
    for g, group in enumerate(groups):
        x0 = left + g * group_width + group_width * 0.1
        for s, one in enumerate(series):
            value = one.values[g] if g < len(one.values) else 0
            h = (height - bottom - 20) * value / top
            x, y = x0 + s * bar, height - bottom - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar * 0.9:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(group)}: '
                f"{escape(one.name)} {value:g}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + group_width * 0.4:.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle" class="label">{escape(group)}</text>'
        )
    return _svg(title, width, height + 30, parts, series, height + 16)


def lines(title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    """One line per series over the labels (days)."""
    width, height, left, bottom = 640, 260, 50, 40
    top = max((v for s in series for v in s.values), default=0) or 1
    step = (width - left - 20) / max(len(labels) - 1, 1)
    parts = [_axis(width, height, left, bottom, top)]
    for s, one in enumerate(series):
        points = " ".join(
            f"{left + i * step:.1f},{height - bottom - (height - bottom - 20) * v / top:.1f}"
            for i, v in enumerate(one.values)
        )
        colour = PALETTE[s % len(PALETTE)]
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2">'
            f"<title>{escape(one.name)}</title></polyline>"
        )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{left + i * step:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
            f'class="label">{escape(label)}</text>'
        )
    return _svg(title, width, height + 30, parts, series, height + 16)


def _axis(width: int, height: int, left: int, bottom: int, top: float) -> str:
    y = height - bottom
    return (
        f'<line x1="{left}" y1="{y}" x2="{width - 10}" y2="{y}" stroke="#374151"/>'
        f'<line x1="{left}" y1="20" x2="{left}" y2="{y}" stroke="#374151"/>'
        f'<text x="{left - 6}" y="26" text-anchor="end" class="label">{top:g}</text>'
        f'<text x="{left - 6}" y="{y}" text-anchor="end" class="label">0</text>'
    )


def _svg(
    title: str, width: int, height: int, parts: list[str], series: Sequence[Series], legend_y: int
) -> str:
    legend = []
    x = 10
    for s, one in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        legend.append(
            f'<rect x="{x}" y="{legend_y + 8}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{legend_y + 19}" class="label">{escape(one.name)}</text>'
        )
        x += 24 + 8 * len(one.name)
    return (
        f'<svg viewBox="0 0 {width} {height + 10}" role="img" class="chart" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(parts)}{''.join(legend)}</svg>"
    )
