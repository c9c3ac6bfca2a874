"""The lineage layout over random lineage graphs: it always lays out, and draws only what it places.

The graphs are what the attribution projection gives ``lineage_layout``: a focus
contribution, its ancestors and descendants (a DAG whose edges point from an
older parent to a newer child), and edges that may name contributions outside
the three lists. Wide layers (far more than five per layer), long chains,
diamonds and graphs of thousands of nodes all appear.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.web.svg import GraphEdge, GraphNode, lineage_layout


def _node(name: str, position: int) -> GraphNode:
    return GraphNode(name, position, name, "someone", "open")


def _lineage(
    size: int, focus_at: int, fan: int, reach: int, seed: int
) -> tuple[GraphNode, list[GraphNode], list[GraphNode], list[GraphEdge]]:
    """A random DAG of ``size`` nodes, cut to the focus's ancestors and descendants.

    Each node derives from up to ``fan`` older nodes at most ``reach`` positions
    back (small reach: deep chains; large fan: diamonds and wide layers).
    """
    rng = random.Random(seed)
    parents: dict[int, set[int]] = {
        i: {rng.randrange(max(0, i - reach), i) for _ in range(rng.randint(0, fan))} if i else set()
        for i in range(size)
    }
    children: dict[int, set[int]] = {i: set() for i in range(size)}
    for child, ps in parents.items():
        for p in ps:
            children[p].add(child)

    def closure(start: int, step: dict[int, set[int]]) -> set[int]:
        seen: set[int] = set()
        todo = [start]
        while todo:
            for nxt in step[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    up, down = closure(focus_at, parents), closure(focus_at, children)
    nodes = {i: _node(f"c{i}", i) for i in range(size)}
    kept = up | down | {focus_at}
    # every edge touching the lineage, including those to other sources (not drawn)
    edges = [
        GraphEdge(f"c{p}", f"c{c}", "20%")
        for c, ps in parents.items()
        for p in ps
        if c in kept or p in kept
    ]
    rng.shuffle(edges)
    return (
        nodes[focus_at],
        [nodes[i] for i in sorted(up)],
        [nodes[i] for i in sorted(down)],
        edges,
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(1, 3000),
    focus_share=st.floats(0, 1),
    fan=st.integers(0, 12),
    reach=st.sampled_from([1, 2, 3, 8, 50, 3000]),
    seed=st.integers(0, 2**32),
    depth=st.integers(1, 4),
    per_layer=st.integers(1, 6),
)
@example(size=3000, focus_share=0.5, fan=12, reach=3000, seed=1, depth=3, per_layer=5)  # wide
@example(size=3000, focus_share=0.5, fan=1, reach=1, seed=2, depth=4, per_layer=5)  # a chain
@example(size=3000, focus_share=0.3, fan=3, reach=3, seed=3, depth=3, per_layer=5)  # diamonds
def test_any_lineage_is_laid_out_and_every_drawn_edge_joins_two_drawn_nodes(
    size: int, focus_share: float, fan: int, reach: int, seed: int, depth: int, per_layer: int
) -> None:
    focus_at = min(size - 1, int(focus_share * size))
    focus, ancestors, descendants, edges = _lineage(size, focus_at, fan, reach, seed)

    layout = lineage_layout(
        focus, ancestors, descendants, edges, max_depth=depth, max_per_layer=per_layer
    )

    placed = {n.node.id: n for n in layout.nodes}
    assert focus.id in placed and placed[focus.id].role == "focus"
    assert len(placed) == len(layout.nodes)  # each node drawn once
    counts = {k: n for k, n in placed.items() if k.startswith("more:")}
    assert len(placed) - len(counts) + layout.hidden == 1 + len(ancestors) + len(descendants)
    # What is not drawn is counted on the rows' "n more" nodes (when a row has room for one).
    if per_layer > 1:
        assert sum(int(n.node.title.split()[0]) for n in counts.values()) == layout.hidden
    rows: dict[int, list[int]] = {}
    for n in layout.nodes:
        assert n.x >= 0 and n.x + n.w <= layout.width
        assert n.y >= 0 and n.y + n.h <= layout.height
        rows.setdefault(n.y, []).append(n.x)
    assert len(rows) <= 2 * depth + 1 and all(len(xs) <= per_layer for xs in rows.values())
    for xs in rows.values():  # no two boxes of a row overlap
        xs.sort()
        assert all(b - a >= placed[focus.id].w for a, b in zip(xs, xs[1:], strict=False))
    # Every drawn edge runs from the bottom of a drawn parent down to the top of a drawn
    # child, and every edge whose two ends are drawn is drawn.
    ends = {
        (a.x + a.w // 2, a.y + a.h, b.x + b.w // 2, b.y - 6)
        for e in edges
        if e.parent in placed and e.child in placed
        for a, b in [(placed[e.parent], placed[e.child])]
    }
    assert len(layout.edges) == sum(1 for e in edges if e.parent in placed and e.child in placed)
    for edge in layout.edges:
        start, *_, end = edge.path[1:].replace(" C", " ").split(" ")
        x1, y1 = (int(v) for v in start.split(","))
        x2, y2 = (int(v) for v in end.split(","))
        assert (x1, y1, x2, y2) in ends and y1 < y2


def test_a_neighbour_left_out_of_its_full_layer_does_not_break_the_layout() -> None:
    # Six children of the focus, five fit; the grandchild's only parent is the sixth.
    focus = _node("*", 0)
    children = [_node(f"k{i}", i + 1) for i in range(6)]
    grandchild = _node("g", 20)
    edges = [GraphEdge("*", k.id, "20%") for k in children] + [GraphEdge("k5", "g", "20%")]

    layout = lineage_layout(focus, [], [*children, grandchild], edges)

    # The fifth slot of the full row goes to "2 more" (k4 and k5), which links on.
    assert {n.node.id for n in layout.nodes} == {"*", "k0", "k1", "k2", "k3", "more:1", "g"}
    assert layout.hidden == 2 and len(layout.edges) == 4  # k5 -> g has no drawn parent
    more = next(n for n in layout.nodes if n.node.id == "more:1")
    assert more.node.title == "2 more" and more.role == "descendant"
