"""Pages of a long list, for server-rendered pages: ``?page=`` and ``?q=`` links, no script.

Every list that grows with the campaign (payees, the moderation queue, members, works, a
timeline) is shown a page at a time, in a stable order, with its total ("showing 1–50 of
1,626") and links to the other pages. A page number or a search that is not one is refused
with ``ApiError`` ``InvalidPageQuery`` (422), which the app renders as the HTML error
page: never a 500, never a silently different page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlencode

from api.http.errors import ApiError

T = TypeVar("T")

PAGE_SIZE = 50
MAX_PAGE = 1_000_000  # beyond any list a ledger holds; bounds the integer parsed
MAX_QUERY = 100  # characters of a search


def page_number(raw: str | None, name: str = "page") -> int:
    """``raw`` (a query value) as a page number ≥ 1; 1 when absent.

    Raises ``InvalidPageQuery`` for anything else (``0``, ``-1``, ``abc``, ``1e3``).
    """
    if raw is None or raw == "":
        return 1
    if not raw.isascii() or not raw.isdigit() or len(raw) > 7 or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(
            "InvalidPageQuery",
            f"{name} must be a whole number from 1 to {MAX_PAGE:,}, got {raw[:20]!r}",
            **{name: raw[:20]},
        )
    return int(raw)


def search_text(raw: str | None) -> str:
    """``raw`` as a search (trimmed, case-folded); empty when absent.

    Raises ``InvalidPageQuery`` when it is longer than ``MAX_QUERY`` characters.
    """
    text = (raw or "").strip()
    if len(text) > MAX_QUERY:
        raise ApiError(
            "InvalidPageQuery",
            f"a search is at most {MAX_QUERY} characters, got {len(text)}",
            q=text[:20],
        )
    return text.casefold()


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, where it is, and the links to the others."""

    items: list[T]
    number: int
    pages: int
    total: int
    first: int  # 1-based index of the first item shown (0 when the list is empty)
    last: int
    links: list[tuple[int, str]]  # (page number, href) of the pages worth linking
    query: str = ""

    @property
    def summary(self) -> str:
        """``showing 1–50 of 1,626`` (``none`` for an empty list)."""
        if not self.total:
            return "none" + (f" matching “{self.query}”" if self.query else "")
        text = f"showing {self.first:,}–{self.last:,} of {self.total:,}"
        return text + (f" matching “{self.query}”" if self.query else "")

    @property
    def previous(self) -> str | None:
        return dict(self.links).get(self.number - 1)

    @property
    def next(self) -> str | None:
        return dict(self.links).get(self.number + 1)


def paginate(
    items: Sequence[T],
    number: int,
    href: Callable[[int], str],
    *,
    size: int = PAGE_SIZE,
    query: str = "",
    name: str = "page",
) -> Page[T]:
    """Page ``number`` of ``items`` (already in their stable order), ``size`` a page.

    Raises ``InvalidPageQuery`` when ``number`` is past the last page (page 1 of an empty
    list exists: it says there is nothing).
    """
    total = len(items)
    pages = max(1, -(-total // size))
    if number > pages:
        raise ApiError(
            "InvalidPageQuery",
            f"{name} {number} is past the last page, {pages} ({total:,} item(s), {size} a page)",
            **{name: number, "pages": pages},
        )
    start = (number - 1) * size
    shown = list(items[start : start + size])
    near = sorted({1, pages, *range(max(1, number - 2), min(pages, number + 2) + 1)})
    return Page(
        shown,
        number,
        pages,
        total,
        start + 1 if shown else 0,
        start + len(shown),
        [(n, href(n)) for n in near],
        query,
    )


def link(path: str, fragment: str = "", **params: object) -> str:
    """``path`` with the query ``params`` that are set (page 1 and empty searches left out)."""
    kept = {k: v for k, v in params.items() if v not in (None, "", 1)}
    return path + ("?" + urlencode(kept) if kept else "") + (f"#{fragment}" if fragment else "")
