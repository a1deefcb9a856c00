"""Server-rendered SVG charts: no JavaScript library, no CDN. Colours come from CSS classes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    # Every piece of text in `body` and `label` is escaped by the callers and here.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="none">{"".join(body)}</svg>'
    )


def runs_per_hour(buckets: Sequence[tuple[dt.datetime, int, int]]) -> Markup:
    """Given (hour, successes, failures) buckets, return a stacked bar chart."""
    width, height, gap = 480, 120, 2
    bar = width / max(1, len(buckets))
    peak = max([ok + bad for _h, ok, bad in buckets] + [1])
    body = []
    for i, (hour, ok, bad) in enumerate(buckets):
        x = i * bar
        ok_h = height * ok / peak
        bad_h = height * bad / peak
        title = f"<title>{hour:%H}:00 UTC: {ok} ok, {bad} failed</title>"
        body.append(
            f'<g>{title}<rect class="ok" x="{x:.1f}" y="{height - ok_h:.1f}" '
            f'width="{bar - gap:.1f}" height="{ok_h:.1f}"/>'
            f'<rect class="bad" x="{x:.1f}" y="{height - ok_h - bad_h:.1f}" '
            f'width="{bar - gap:.1f}" height="{bad_h:.1f}"/></g>'
        )
    total = sum(ok + bad for _h, ok, bad in buckets)
    return _svg(width, height, body, f"{total} runs in the last 24 hours, by hour")


def durations(rows: Sequence[Any]) -> Markup:
    """Given runs (started_at, duration_s, outcome), return a bar chart of their durations."""
    width, height, gap = 480, 120, 1
    values = [(r, r.duration_s or 0.0) for r in rows]
    bar = width / max(1, len(values))
    peak = max([v for _r, v in values] + [0.001])
    body = []
    for i, (row, value) in enumerate(values):
        h = max(1.0, height * value / peak)
        cls = "ok" if row.outcome == "success" else "bad"
        body.append(
            f'<rect class="{cls}" x="{i * bar:.1f}" y="{height - h:.1f}" '
            f'width="{max(1.0, bar - gap):.1f}" height="{h:.1f}">'
            f"<title>run {row.id}: {value:.1f} s, {escape(row.outcome)}</title></rect>"
        )
    return _svg(width, height, body, f"durations of the last {len(values)} runs")
