"""The remix graph both policy versions score: a contribution node and how it is linked.

``scoring.Node`` (cocred-fair v1) and ``fair_v2.NodeV2`` extend ``ContributionNode`` with
their own figures; both scorers add a contribution with ``link_node``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeVar

Authors = tuple[tuple[str, int], ...]  # (member, percent)
Parents = tuple[tuple[str, Fraction], ...]  # (contribution, share)


@dataclass(slots=True, eq=False)
class ContributionNode:
    """A contribution in the remix graph: its authors, its parents and its children."""

    id: str
    position: int
    authors: Authors
    parents: Parents
    children: list[tuple[str, Fraction]] = field(default_factory=list)
    excluded: bool = False


N = TypeVar("N", bound=ContributionNode)


def link_node(nodes: dict[str, N], node: N) -> None:
    """Add ``node`` to ``nodes`` and list it among its parents' children.

    Its parents are there already: a contribution derives only from earlier ones in the log.
    """
    nodes[node.id] = node
    for parent, share in node.parents:
        nodes[parent].children.append((node.id, share))
