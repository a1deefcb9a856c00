"""Server-rendered SVG charts with axes, values and hover details: no JavaScript library, no
CDN, nothing the CSP has to allow. Colours come from CSS classes; every text is escaped here.

A chart is drawn in a fixed coordinate box (WIDTH x HEIGHT) that the browser scales as a
whole (preserveAspectRatio keeps text round), with a left margin for the value axis and a
bottom margin for the time axis. Each bar carries a <title>, which browsers show on hover
and screen readers read.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 210
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 24, 26  # margins: value axis, -, axis title, time axis
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def human_duration(seconds: float | None) -> str:
    """Given seconds, return "4.2 s", "3m 05s" or "2h 10m" ("-" for None)."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def nice_ticks(peak: float, count: int = 4) -> list[float]:
    """Given the largest value, return evenly spaced round axis ticks from 0 that reach it
    (1, 2 or 5 times a power of ten apart): 0, 5, 10, 15 for a peak of 13."""
    if peak <= 0:
        return [0.0, 1.0]
    raw = peak / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < peak:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _svg(body: list[str], label: str) -> Markup:
    # Every piece of text in `body` is escaped by the helpers below; the label here.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}">{"".join(body)}</svg>'
    )


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H - PLOT_H * value / top


def _value_axis(ticks: list[float], words: Callable[[float], str], title: str) -> list[str]:
    """Grid lines and labels of the value axis, and its title along it."""
    top = ticks[-1]
    out = [
        f'<text class="axis-title" x="4" y="{TOP - 12}">{escape(title)}</text>',
    ]
    for tick in ticks:
        y = _y(tick, top)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(words(tick))}</text>"
        )
    return out


def _time_label(x: float, text: str) -> str:
    return (
        f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{escape(text)}</text>"
    )


def _count(value: float) -> str:
    return f"{value:g}"


def runs_per_hour(buckets: Sequence[tuple[dt.datetime, int, int]]) -> Markup:
    """Given (hour, successes, failures) buckets (UTC, oldest first), return a stacked bar
    chart: runs on the value axis, the hour on the time axis, counts above the bars."""
    ticks = nice_ticks(max([ok + bad for _h, ok, bad in buckets] + [1]))
    top = ticks[-1]
    bar = PLOT_W / max(1, len(buckets))
    body = _value_axis(ticks, _count, "runs")
    for i, (hour, ok, bad) in enumerate(buckets):
        x = LEFT + i * bar
        ok_top, all_top = _y(ok, top), _y(ok + bad, top)
        title = f"{hour:%Y-%m-%d %H}:00-{hour:%H}:59 UTC: {ok} succeeded, {bad} failed"
        body.append(
            f'<g class="bar"><title>{escape(title)}</title>'
            f'<rect class="hit" x="{x:.1f}" y="{TOP}" width="{bar:.1f}" height="{PLOT_H}"/>'
            f'<rect class="ok" x="{x + 1:.1f}" y="{ok_top:.1f}" width="{bar - 2:.1f}" '
            f'height="{TOP + PLOT_H - ok_top:.1f}"/>'
            f'<rect class="bad" x="{x + 1:.1f}" y="{all_top:.1f}" width="{bar - 2:.1f}" '
            f'height="{ok_top - all_top:.1f}"/>'
        )
        if ok + bad:
            body.append(
                f'<text class="value" x="{x + bar / 2:.1f}" y="{all_top - 2:.1f}" '
                f'text-anchor="middle">{ok + bad}</text>'
            )
        body.append("</g>")
        if i % 4 == 0:
            body.append(_time_label(x + bar / 2, f"{hour:%H}:00"))
    total = sum(ok + bad for _h, ok, bad in buckets)
    failed = sum(bad for _h, _ok, bad in buckets)
    return _svg(body, f"{total} runs in the last 24 hours by hour (UTC), {failed} failed")


def durations(rows: Sequence[Any]) -> Markup:
    """Given runs (id, started_at, duration_s, outcome), oldest first, return a bar chart of
    their durations: time on the value axis, the run's start on the time axis."""
    values = [(r, float(r.duration_s or 0.0)) for r in rows]
    ticks = nice_ticks(max([v for _r, v in values] + [0.1]))
    top = ticks[-1]
    bar = PLOT_W / max(1, len(values))
    body = _value_axis(ticks, lambda s: human_duration(s).replace(".0 s", " s"), "duration")
    step = max(1, len(values) // 4)
    for i, (row, value) in enumerate(values):
        x = LEFT + i * bar
        y = min(_y(value, top), TOP + PLOT_H - 1)
        cls = "ok" if row.outcome == "success" else "bad"
        # Old rows of a run whose command never started have no started_at.
        began = f"{row.started_at:%Y-%m-%d %H:%M} UTC" if row.started_at else "at an unknown time"
        title = f"run #{row.id}, started {began}: {human_duration(value)}, {row.outcome}"
        body.append(
            f'<g class="bar"><title>{escape(title)}</title>'
            f'<rect class="hit" x="{x:.1f}" y="{TOP}" width="{bar:.1f}" height="{PLOT_H}"/>'
            f'<rect class="{cls}" x="{x + 0.5:.1f}" y="{y:.1f}" width="{max(1.0, bar - 1):.1f}" '
            f'height="{TOP + PLOT_H - y:.1f}"/></g>'
        )
        if i % step == 0 and row.started_at is not None:
            body.append(_time_label(x + bar / 2, f"{row.started_at:%m-%d %H:%M}"))
    if not values:
        body.append(
            f'<text class="tick" x="{LEFT + PLOT_W / 2}" y="{TOP + PLOT_H / 2}" '
            'text-anchor="middle">no finished runs yet</text>'
        )
    return _svg(body, f"durations of the last {len(values)} runs")
