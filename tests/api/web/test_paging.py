"""Pages that scale: every growing list is paged with its total, bad ?page= and ?q= values are
the typed error page, log-dependent pages answer If-None-Match with 304, immutable things say so.

A demo big enough that each list has several pages (``campaign_view.TOP`` and
``paging.PAGE_SIZE`` are lowered by monkeypatching nothing: the demo has more members and
works than a page holds).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.http.errors import ApiError
from api.settings import Settings
from api.web.paging import PAGE_SIZE, link, page_number, paginate, search_text
from domain.demo.generator import DemoSummary, build_demo


class Site:
    def __init__(self, client: TestClient, demo: DemoSummary) -> None:
        self.client = client
        self.demo = demo


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("paging")
    settings_ = Settings(database_url=f"sqlite:///{tmp}/p.sqlite", ledger_key_file=tmp / "l.key")
    services = bootstrap(settings_)
    demo = build_demo(services, members=130, contributions=160, votes=900)
    with services, TestClient(create_app(services)) as client:
        yield Site(client, demo)


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def _total(html: str) -> tuple[int, int, int]:
    found = re.search(r"Showing ([\d,]+)–([\d,]+) of ([\d,]+)", unescape(html))
    assert found, "the pager says what it shows"
    first, last, total = (int(g.replace(",", "")) for g in found.groups())
    return first, last, total


@pytest.mark.parametrize(
    "name", ["payees", "decisions", "queue", "reports", "members", "works", "reuses"]
)
def test_each_list_pages_first_middle_and_last_with_its_total(site: Site, name: str) -> None:
    base = f"/c/{site.demo.campaign}/{name}"
    first = site.client.get(base)
    assert first.status_code == 200, first.text
    if "<tbody>" not in first.text:
        assert "None" in first.text  # an empty list says so
        return
    start, end, total = _total(first.text)
    pages = -(-total // PAGE_SIZE)
    assert (start, end) == (1, min(PAGE_SIZE, total)) and len(_rows(first.text)) == end
    seen = _rows(first.text)
    for number in range(2, pages + 1):
        page = site.client.get(f"{base}?page={number}")
        assert page.status_code == 200
        a, b, t = _total(page.text)
        assert (
            t == total and a == (number - 1) * PAGE_SIZE + 1 and b == min(total, number * PAGE_SIZE)
        )
        assert f'aria-current="page">{number}<' in page.text
        seen += _rows(page.text)
    assert len(seen) == total and len(set(seen)) == total  # stable order: each row once


def test_the_members_list_has_several_pages_and_links_them(site: Site) -> None:
    page = site.client.get(f"/c/{site.demo.campaign}/members?page=2")
    _, _, total = _total(page.text)
    # the 130 invited members and the demo's 2 newcomers who joined with an invitation code
    assert total == 132 and 'rel="prev"' in page.text and 'rel="next"' in page.text
    last = site.client.get(f"/c/{site.demo.campaign}/members?page=3")
    assert _total(last.text) == (101, 132, 132) and 'rel="next"' not in last.text


def test_a_search_narrows_a_list_and_says_what_it_matched(site: Site) -> None:
    works = site.client.get(f"/c/{site.demo.campaign}/works").text
    title = unescape(re.search(r'#c-[^"]+">([^<]+)</a>', works).group(1))
    found = site.client.get(f"/c/{site.demo.campaign}/works", params={"q": title.upper()})
    rows = _rows(found.text)
    assert rows and all(title.casefold() in unescape(r).casefold() for r in rows)
    assert "matching" in unescape(found.text)
    none = site.client.get(f"/c/{site.demo.campaign}/works", params={"q": "no such title zz"})
    assert none.status_code == 200 and "None matching" in unescape(none.text)


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("page=0", "page must be a whole number from 1 to 1,000,000, got '0'"),
        ("page=-1", "page must be a whole number from 1 to 1,000,000, got '-1'"),
        ("page=abc", "page must be a whole number from 1 to 1,000,000, got 'abc'"),
        ("page=99999999999", "page must be a whole number from 1 to 1,000,000"),
        ("page=40", "page 40 is past the last page, 3 (132 item(s), 50 a page)"),
        ("q=" + "x" * 101, "a search is at most 100 characters, got 101"),
    ],
)
def test_bad_page_values_are_the_typed_error_page(site: Site, query: str, sentence: str) -> None:
    response = site.client.get(f"/c/{site.demo.campaign}/members?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-error="InvalidPageQuery"' in response.text
    assert sentence[:1].upper() + sentence[1:] in unescape(response.text)


def test_an_unknown_list_is_the_typed_error_page(site: Site) -> None:
    response = site.client.get(f"/c/{site.demo.campaign}/everything")
    assert response.status_code == 422 and 'data-error="InvalidPageQuery"' in response.text
    assert f"Campaign {site.demo.campaign} has no list 'everything'" in unescape(response.text)


@pytest.mark.parametrize(
    "path",
    [
        "/people/{member}?page=x",
        "/people/{member}?works=0",
        "/people/{member}?items=abc",
        "/audit?page=-2",
    ],
)
def test_bad_page_values_on_a_contributor_or_the_auditor_page_are_typed(
    site: Site, path: str
) -> None:
    member = site.client.get(f"/c/{site.demo.campaign}/payees").text
    actor = re.search(r'href="/people/([^"?]+)\?', member).group(1)
    response = site.client.get(path.format(member=actor))
    assert response.status_code == 422 and 'data-error="InvalidPageQuery"' in response.text


def test_the_campaign_page_shows_the_top_and_links_the_lists(site: Site) -> None:
    html = site.client.get(f"/c/{site.demo.campaign}").text
    rows = _rows(html.split('id="payouts"', 1)[1])
    assert len(rows) <= 20
    for name in ("payees", "members", "works"):
        assert f'href="/c/{site.demo.campaign}/{name}"' in html


def test_a_page_etag_round_trips_to_a_304_until_the_log_moves(site: Site) -> None:
    for path in (f"/c/{site.demo.campaign}", f"/c/{site.demo.campaign}/members?page=2", "/"):
        first = site.client.get(path)
        tag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=5"
        again = site.client.get(path, headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
        other = site.client.get(path, headers={"If-None-Match": '"0-nope"'})
        assert other.status_code == 200 and other.headers["etag"] == tag
    one = site.client.get(f"/c/{site.demo.campaign}/members?page=1").headers["etag"]
    two = site.client.get(f"/c/{site.demo.campaign}/members?page=2").headers["etag"]
    assert one != two  # the page is part of the tag


def test_an_error_page_carries_no_etag(site: Site) -> None:
    response = site.client.get("/c/no-such-campaign")
    assert response.status_code == 404 and "etag" not in response.headers


def test_immutable_things_are_cached_for_a_year(site: Site) -> None:
    immutable = "public, max-age=31536000, immutable"
    event = site.client.get("/events/0")
    assert event.status_code == 200 and event.headers["cache-control"] == immutable
    proof = site.client.get("/proofs/inclusion", params={"position": 0, "size": 5})
    assert proof.status_code == 200 and proof.headers["cache-control"] == immutable
    consistency = site.client.get("/proofs/consistency", params={"old": 2, "new": 5})
    assert consistency.headers["cache-control"] == immutable
    missing = site.client.get("/events/99999999")
    assert missing.status_code == 404 and "cache-control" not in missing.headers
    preview = site.client.get(f"/c/{site.demo.campaign}/preview.json")
    assert preview.headers["cache-control"] == "public, max-age=5"  # the demo is not settled


@settings(max_examples=60, deadline=None)
@given(total=st.integers(0, 400), size=st.integers(1, 60), data=st.data())
def test_paginate_covers_every_item_once_in_order(
    total: int, size: int, data: st.DataObject
) -> None:
    items = list(range(total))
    pages = max(1, -(-total // size))
    number = data.draw(st.integers(1, pages))
    page = paginate(items, number, lambda n: f"?page={n}", size=size)
    assert page.items == items[(number - 1) * size : number * size]
    assert page.total == total and page.pages == pages
    assert (page.first, page.last) == (
        (number - 1) * size + 1,
        (number - 1) * size + len(page.items),
    ) or not page.items
    assert {1, pages, number} <= {n for n, _ in page.links}
    with pytest.raises(ApiError) as refused:
        paginate(items, pages + 1, lambda n: "", size=size)
    assert refused.value.code == "InvalidPageQuery"
    assert f"page {pages + 1} is past the last page, {pages}" in refused.value.detail


def test_page_numbers_and_searches_parse_or_refuse() -> None:
    assert page_number(None) == 1 and page_number("") == 1 and page_number("12") == 12
    for bad in ("0", "-3", "1.5", "٣", "1e3", " 2"):
        with pytest.raises(ApiError) as refused:
            page_number(bad)
        assert refused.value.code == "InvalidPageQuery"
        assert refused.value.detail.startswith("page must be a whole number from 1")
    assert search_text("  Café ") == "café"
    assert link("/c/x/works", page=1, q="") == "/c/x/works"
    assert link("/c/x/works", "list", page=2, q="a b") == "/c/x/works?page=2&q=a+b#list"


def _top_earner(site: Site) -> str:
    payees = site.client.get(f"/c/{site.demo.campaign}/payees").text
    return re.search(r'href="/people/([^"?]+)\?', payees).group(1)


def _items(html: str) -> list[str]:
    return _rows(html.split('id="items"', 1)[1])


def test_a_contributors_earnings_items_are_paged_and_every_cent_is_on_some_page(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The top earner's page of an 80k-event demo was 9.3 MB: all 21k items inline."""
    monkeypatch.setattr("api.web.person_view.ITEMS_PAGE", 5)
    member = _top_earner(site)
    url = f"/people/{member}?campaign={site.demo.campaign}"
    first = site.client.get(url).text
    payout = int(re.search(r'id="items-total" data-minor="(\d+)"', first).group(1))
    _, shown, total = _total(first.split('id="items"', 1)[1])
    assert (shown, len(_items(first))) == (5, 5) and total > 5
    cents = 0
    for number in range(1, -(-total // 5) + 1):
        rows = _items(site.client.get(f"{url}&items={number}").text)
        cents += sum(int(re.findall(r'<td class="num">(\d+)</td>', r)[-1]) for r in rows)
    assert cents == payout, "the pages' items add up to the payout, to the cent"
    past = site.client.get(f"{url}&items={-(-total // 5) + 1}")
    assert past.status_code == 422 and 'data-error="InvalidPageQuery"' in past.text
    assert f"Items {-(-total // 5) + 1} is past the last page" in unescape(past.text)


def test_one_works_items_are_listed_alone_and_an_unknown_work_is_refused(site: Site) -> None:
    member = _top_earner(site)
    url = f"/people/{member}?campaign={site.demo.campaign}"
    html = site.client.get(url).text
    work = unquote(re.search(r'&amp;work=([^"#]+)#items"', html).group(1))
    alone = site.client.get(url, params={"work": work}).text
    assert "All works' items" in unescape(alone)
    count = int(re.search(r"The (\d+) item\(s\) for", unescape(alone)).group(1))
    assert _total(alone.split('id="items"', 1)[1])[2] == count
    refused = site.client.get(url, params={"work": "nobody:1"})
    assert refused.status_code == 422 and 'data-error="InvalidPageQuery"' in refused.text
    assert (
        f"Work must be one of the works whose items credit {member} in campaign "
        f"{site.demo.campaign}, got 'nobody:1'" in unescape(refused.text)
    )


def test_a_long_lineage_lists_its_first_rows_and_links_the_whole(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.web.person_view.LINEAGE_ROWS", 1)
    for member in re.findall(
        r'href="/people/([^"?]+)\?', site.client.get(f"/c/{site.demo.campaign}/payees").text
    ):
        html = site.client.get(f"/people/{member}?campaign={site.demo.campaign}").text
        if "the whole lineage</a> is one JSON document" in html:
            break
    else:
        pytest.fail("no payee on the first page has a lineage of more than one ancestor")
    listed = html.split('class="lineage-list"', 1)[1].split("</details>", 1)[0]
    assert len(_rows(listed)) <= 2  # one ancestor and one descendant at most
    whole = re.search(r'<a href="(/campaigns/[^"]+/lineage)">the whole lineage', html).group(1)
    found = site.client.get(whole).json()
    assert len(found["ancestors"]) + len(found["descendants"]) > len(_rows(listed))


def test_an_explanation_is_kept_per_campaign_member_and_position_and_no_more(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.web import person_view

    monkeypatch.setattr(person_view, "EXPLANATIONS_CACHED", 2)
    monkeypatch.setattr(person_view, "_explained", person_view.OrderedDict())
    services = site.client.app.state.services  # type: ignore[attr-defined]
    member = _top_earner(site)
    projector = services.reads.projector()
    with services.reads.reading() as state:
        found, at = state.campaigns[site.demo.campaign], state.position
        first = person_view._explanation(projector, found, member, at)
        assert person_view._explanation(projector, found, member, at) is first
        assert first == person_view.explain(found, member, at), "what explain() gives"
        earlier = person_view._explanation(projector, found, member, at - 1)
        assert earlier is not first, "another position is another answer"
        person_view._explanation(projector, found, member, at - 2)
    assert [key[1:] for key in person_view._explained] == [
        (site.demo.campaign, member, at - 1),
        (site.demo.campaign, member, at - 2),
    ], "the least recently used went first"


def test_explanation_sentences_name_people_and_works_instead_of_their_ids(site: Site) -> None:
    """'share by 0b1AFmUG8ok_bMf_…: its voter is blocked' and 'through remix -EwpSfFKm…:4'
    were what a contributor read; the JSON explanation keeps the ids."""
    mention = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{43}(:\d+)?(?![\w-])")
    payees = site.client.get(f"/c/{site.demo.campaign}/payees").text
    told = []
    for member in re.findall(r'href="/people/([^"?]+)\?', payees)[:20]:
        html = site.client.get(f"/people/{member}?campaign={site.demo.campaign}").text
        for listed in re.findall(r'<ul class="plain small">(.*?)</ul>', html, re.S):
            told += [unescape(li) for li in re.findall(r"<li>(.*?)</li>", listed, re.S)]
    assert told, "some payee has an event that earned nothing or a v2 discount"
    assert [t for t in told if mention.search(re.sub(r"<[^>]+>", "", t))] == []
    assert any("“" in t for t in told) or any(" by " in t for t in told)
