"""One error type per refusal: a code is defined by one class, whichever package raises it."""

from __future__ import annotations

from collections import defaultdict

import pytest

import domain.errors
import projections.errors
from tests.api.http.test_errors import error_classes

SHARED = (
    "UnknownCampaignError",
    "UnknownContributionError",
    "CampaignNotClosedError",
    "AlreadySettledError",
    "NotCampaignOwnerError",
    "SettlementMismatchError",
)


def test_no_two_error_classes_define_one_code_or_share_a_name() -> None:
    by_code: dict[str, list[str]] = defaultdict(list)
    by_name: dict[str, list[str]] = defaultdict(list)
    for cls in error_classes():
        where = f"{cls.__module__}.{cls.__qualname__}"
        if "code" in vars(cls):  # a subclass that keeps its parent's code refines that refusal
            by_code[cls.code].append(where)
        by_name[cls.__qualname__].append(where)
    assert {code: sorted(w) for code, w in by_code.items() if len(w) > 1} == {}
    assert {name: sorted(w) for name, w in by_name.items() if len(w) > 1} == {}


@pytest.mark.parametrize("name", SHARED)
def test_the_projections_refuse_with_the_domains_own_error_type(name: str) -> None:
    assert getattr(projections.errors, name) is getattr(domain.errors, name)
