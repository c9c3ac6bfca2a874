"""Layouts for the web pages' server-rendered SVG: a lineage graph and a bar chart.

Nothing here draws: each function turns data into coordinates (frozen
dataclasses) that ``api/web/templates/_svg.html`` renders with Jinja2's autoescaping,
so no text reaches the SVG unescaped and no JavaScript library is needed.

The lineage graph is layered top to bottom: ancestors above the contribution,
descendants below it. A node's layer is its longest derivation distance from the
contribution (so every edge points down), nodes in a layer are ordered by the
mean position of their neighbours in the layer nearer the contribution (the
barycenter heuristic, one sweep outwards), and layers beyond ``max_depth`` or
nodes beyond ``max_per_layer`` are left out and counted in ``hidden``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from projections.exact import percent_text

NODE_W = 184
NODE_H = 50
GAP_X = 24
GAP_Y = 70
PAD = 16


@dataclass(frozen=True, slots=True)
class GraphNode:
    """A contribution to place: id, log position, the text shown, and where it links."""

    id: str
    position: int
    title: str
    byline: str
    status: str
    href: str | None = None
    tooltip: str = ""


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """``child`` derives from ``parent``; ``label`` is the declared share as shown."""

    parent: str
    child: str
    label: str


@dataclass(frozen=True, slots=True)
class PlacedNode:
    node: GraphNode
    x: int
    y: int
    w: int
    h: int
    role: str  # "focus", "ancestor" or "descendant"
    title: str  # shortened to fit the box
    byline: str


@dataclass(frozen=True, slots=True)
class PlacedEdge:
    path: str  # SVG path data
    label: str
    label_x: int
    label_y: int
    muted: bool  # an end is removed or rejected: no credit flows


@dataclass(frozen=True, slots=True)
class GraphLayout:
    width: int
    height: int
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    hidden: int  # nodes of the lineage not drawn (too deep or too many in a layer)


def share_label(declared: str | None, share: Fraction) -> str:
    """A declared remix share for people: ``"20%"``; ``"30% default"`` when none declared."""
    text = percent(share)
    return text if declared is not None else f"{text} default"


def percent(value: Fraction) -> str:
    """A fraction as a percentage with at most two decimals and no trailing zeros."""
    scaled = value * 10_000
    rounded = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    whole, part = divmod(rounded, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") + "%"


def clip(text: str, most: int) -> str:
    """``text`` cut to ``most`` characters, with an ellipsis when cut."""
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def _layers(
    focus: str,
    ancestors: Sequence[GraphNode],
    descendants: Sequence[GraphNode],
    edges: Sequence[GraphEdge],
) -> dict[str, int]:
    """Layer of each node: minus the longest path up to it, plus the longest path down."""
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for edge in edges:
        parents.setdefault(edge.child, []).append(edge.parent)
        children.setdefault(edge.parent, []).append(edge.child)
    layer = {focus: 0}
    for node in sorted(ancestors, key=lambda n: -n.position):  # newest first: children done
        below = [layer[c] for c in children.get(node.id, []) if c in layer and layer[c] <= 0]
        layer[node.id] = min(below, default=0) - 1
    for node in sorted(descendants, key=lambda n: n.position):  # oldest first: parents done
        above = [layer[p] for p in parents.get(node.id, []) if p in layer and layer[p] >= 0]
        layer[node.id] = max(above, default=0) + 1
    return layer


def lineage_layout(
    focus: GraphNode,
    ancestors: Sequence[GraphNode],
    descendants: Sequence[GraphNode],
    edges: Iterable[GraphEdge],
    *,
    max_depth: int = 2,
    max_per_layer: int = 5,
) -> GraphLayout:
    """Place the contribution, its ancestors and descendants (``max_depth`` generations
    each way, ``max_per_layer`` a row), and the edges between them.

    What does not fit is counted on an ``n more`` node at the end of its row, which links
    on to the page of a work drawn in that row, whose own graph goes further.
    ``edges`` may name nodes outside the three lists (a remix's other sources):
    those edges are not drawn.
    """
    nodes = {n.id: n for n in (focus, *ancestors, *descendants)}
    edges = [e for e in edges if e.parent in nodes and e.child in nodes]
    layer = _layers(focus.id, ancestors, descendants, edges)
    by_layer: dict[int, list[str]] = {}
    for cid, at in layer.items():
        if abs(at) <= max_depth:
            by_layer.setdefault(at, []).append(cid)
    neighbours: dict[str, list[str]] = {}
    for edge in edges:
        neighbours.setdefault(edge.parent, []).append(edge.child)
        neighbours.setdefault(edge.child, []).append(edge.parent)
    # Order each layer by the barycenter of its neighbours one layer nearer the focus.
    slot: dict[str, float] = {focus.id: 0.0}
    rows: dict[int, list[str]] = {0: [focus.id]}
    for step in range(1, max_depth + 1):
        for at in (-step, step):
            members = by_layer.get(at, [])
            nearer = at + 1 if at < 0 else at - 1

            def centre(cid: str, nearer: int = nearer) -> tuple[float, int]:
                # Only neighbours drawn in the nearer row have a slot: one left out of
                # its full row (``max_per_layer``) does not pull on the order.
                near = [
                    slot[n] for n in neighbours.get(cid, []) if layer.get(n) == nearer and n in slot
                ]
                return (sum(near) / len(near) if near else 1e9, nodes[cid].position)

            ordered = sorted(members, key=centre)[:max_per_layer]
            rows[at] = ordered
            for i, cid in enumerate(ordered):
                slot[cid] = i - (len(ordered) - 1) / 2
    for at, row in rows.items():
        if not at or not row:
            continue
        deeper = sum(1 for d in layer.values() if abs(d) > max_depth and (d < 0) == (at < 0))
        left = len(by_layer.get(at, [])) - len(row) + (deeper if abs(at) == max_depth else 0)
        if left and len(row) >= max_per_layer:
            if max_per_layer == 1:
                continue  # no room for the count: ``hidden`` still says it
            row.pop()  # its slot goes to the count, which names it too
            left += 1
        if left:
            more = GraphNode(
                f"more:{at}",
                -1,
                f"{left} more",
                "open a work to go on",
                "more",
                next((nodes[c].href for c in row if nodes[c].href), None),
                f"{left} more work(s) of this lineage: open a work of this row to see them",
            )
            nodes[more.id] = more
            row.append(more.id)
    shown = {cid for row in rows.values() for cid in row}
    widest = max(len(row) for row in rows.values())
    width = 2 * PAD + widest * NODE_W + (widest - 1) * GAP_X
    top = min(at for at, row in rows.items() if row)
    bottom = max(at for at, row in rows.items() if row)
    height = 2 * PAD + (bottom - top + 1) * NODE_H + (bottom - top) * GAP_Y
    placed: dict[str, PlacedNode] = {}
    for at, row in rows.items():
        y = PAD + (at - top) * (NODE_H + GAP_Y)
        span = len(row) * NODE_W + (len(row) - 1) * GAP_X
        x0 = (width - span) // 2
        for i, cid in enumerate(row):
            node = nodes[cid]
            role = "focus" if at == 0 else "ancestor" if at < 0 else "descendant"
            placed[cid] = PlacedNode(
                node,
                x0 + i * (NODE_W + GAP_X),
                y,
                NODE_W,
                NODE_H,
                role,
                clip(node.title, 24),
                clip(node.byline, 28),
            )
    drawn = []
    for edge in edges:
        if edge.parent not in shown or edge.child not in shown:
            continue
        a, b = placed[edge.parent], placed[edge.child]
        x1, y1 = a.x + a.w // 2, a.y + a.h
        x2, y2 = b.x + b.w // 2, b.y
        mid = (y1 + y2) // 2
        end = y2 - 6
        muted = {a.node.status, b.node.status} & {"removed", "rejected"}
        # The label sits at t = 0.7 of the curve, nearer the child: the labels of the
        # edges fanning out of one parent spread apart as the children do.
        label_x = round(0.216 * x1 + 0.784 * x2)
        label_y = round(0.027 * y1 + 0.63 * mid + 0.343 * end)
        drawn.append(
            PlacedEdge(
                f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{end}",
                edge.label,
                label_x,
                label_y,
                bool(muted),
            )
        )
    # ``n more`` nodes are both in ``nodes`` and drawn: the difference counts real works.
    return GraphLayout(width, height, tuple(placed.values()), tuple(drawn), len(nodes) - len(shown))


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value_text: str
    share_text: str
    x: int
    y: int
    w: int
    h: int
    href: str | None
    other: bool  # the "everyone else" bar


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    label_w: int
    bar_x: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True, slots=True)
class BarInput:
    """One bar before layout: what it is called, its amount, and where it links."""

    label: str
    amount: int
    href: str | None = None


def bar_chart(
    items: Sequence[BarInput],
    total: int,
    money: Callable[[int], str],
    *,
    top: int = 12,
    width: int = 760,
) -> BarChart:
    """Horizontal bars for the ``top`` largest amounts, then one bar for all the others.

    Bar lengths are relative to the largest bar; the text beside each bar is
    ``money(amount)`` and its share of ``total``.
    """
    label_w, value_w, row, bar_h = 190, 190, 30, 20
    bar_x = label_w + 8
    span = width - bar_x - value_w
    shown = list(items[:top])
    rest = items[top:]
    entries = [(item.label, item.amount, item.href, False) for item in shown]
    if rest:
        others = sum(item.amount for item in rest)
        entries.append((f"{len(rest)} others", others, None, True))
    largest = max((amount for _, amount, _, _ in entries), default=0) or 1
    bars = []
    for i, (label, amount, href, other) in enumerate(entries):
        length = max(1, span * amount // largest) if amount else 0
        share = percent_text(Fraction(amount, total), 2) if total else "0.00%"
        bars.append(
            Bar(
                clip(label, 26),
                money(amount),
                share,
                bar_x,
                8 + i * row,
                length,
                bar_h,
                href,
                other,
            )
        )
    return BarChart(width, 16 + len(entries) * row, label_w, bar_x, tuple(bars))
