"""Chain graphs as server-rendered SVG: each task a box linking to its page, an arrow from
each predecessor to its follower, predecessors to the left (layer = longest path from a task
with no predecessor). Pure: tasks in, markup out; all text escaped here."""

from __future__ import annotations

from collections.abc import Sequence

from flask import url_for
from markupsafe import Markup, escape

from smartcron.model.task import Task

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 170, 30, 50, 14, 10


def components(tasks: Sequence[Task]) -> list[list[Task]]:
    """Given every task, return the groups of tasks linked by `after` (chains and joins),
    each sorted by name, largest first; tasks in no chain are left out."""
    by_name = {t.name: t for t in tasks}
    links: dict[str, set[str]] = {}
    for task in tasks:
        for pred in task.after:
            if pred in by_name:
                links.setdefault(task.name, set()).add(pred)
                links.setdefault(pred, set()).add(task.name)
    seen: set[str] = set()
    out = []
    for name in sorted(links):
        if name in seen:
            continue
        group, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current not in group:
                group.add(current)
                todo.extend(links.get(current, ()))
        seen |= group
        out.append(sorted((by_name[n] for n in group), key=lambda t: t.name))
    return sorted(out, key=lambda g: (-len(g), g[0].name))


def _layers(group: Sequence[Task]) -> dict[str, int]:
    names = {t.name for t in group}
    preds = {t.name: [p for p in t.after if p in names] for t in group}
    layer: dict[str, int] = {}

    def depth(name: str, trail: frozenset[str]) -> int:
        if name not in layer:
            # A cycle cannot be stored (validation refuses it); the trail guards anyway.
            ups = [depth(p, trail | {name}) for p in preds[name] if p not in trail]
            layer[name] = 1 + max(ups) if ups else 0
        return layer[name]

    for task in group:
        depth(task.name, frozenset())
    # A task with no predecessor sits just before its first follower, so its arrow does not
    # cross the columns between (a second input of a join drawn through other boxes).
    followers: dict[str, list[str]] = {}
    for name, ups in preds.items():
        for pred in ups:
            followers.setdefault(pred, []).append(name)
    for name in layer:
        if not preds[name] and followers.get(name):
            layer[name] = min(layer[f] for f in followers[name]) - 1
    return layer


def draw(group: Sequence[Task], here: str = "") -> Markup:
    """Given one group of linked tasks and the task being viewed, return its graph."""
    layer = _layers(group)
    columns: dict[int, list[str]] = {}
    for name in sorted(layer, key=lambda n: (layer[n], n)):
        columns.setdefault(layer[name], []).append(name)
    place = {
        name: (PAD + col * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
        for col, names in columns.items()
        for row, name in enumerate(names)
    }
    width = PAD * 2 + len(columns) * BOX_W + (len(columns) - 1) * GAP_X
    height = PAD * 2 + max(len(n) for n in columns.values()) * (BOX_H + GAP_Y) - GAP_Y
    body = []
    for task in group:
        x2, y2 = place[task.name]
        for pred in task.after:
            if pred not in place:
                continue
            x1, y1 = place[pred]
            ax, ay, by = x1 + BOX_W, y1 + BOX_H / 2, y2 + BOX_H / 2
            body.append(
                f'<path d="M{ax},{ay} C{ax + GAP_X / 2},{ay} {x2 - GAP_X / 2},{by} {x2 - 6},{by}">'
                f"<title>{escape(task.name)} runs after {escape(pred)} succeeds</title></path>"
                f'<polygon class="arrow" points="{x2},{by} {x2 - 7},{by - 4} {x2 - 7},{by + 4}"/>'
            )
    for name, (x, y) in place.items():
        cls = ' class="here"' if name == here else ""
        label = name if len(name) <= 22 else name[:21] + "…"
        body.append(
            f'<a href="{escape(url_for("pages.task", name=name))}"><title>{escape(name)}</title>'
            f'<rect{cls} x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4"/>'
            f'<text{cls} x="{x + 8}" y="{y + 19}">{escape(label)}</text></a>'
        )
    names = ", ".join(t.name for t in group)
    return Markup(  # noqa: S704 - every text above is escaped
        f'<svg class="graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'role="img" '
        f'aria-label="chain graph of {escape(names)}">{"".join(body)}</svg>'
    )
