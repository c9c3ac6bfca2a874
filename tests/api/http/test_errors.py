"""The one status table: every error code cocred defines has its own explicit status."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

from api.http.errors import STATUS_BY_CODE, ApiError, status_for
from contracts.errors import ClaimsError
from domain.errors import DomainError
from ledger.errors import LedgerError, MalformedError
from projections.errors import ProjectionError

PACKAGES = ("ledger", "domain", "projections", "api", "contracts")
SKIP = {"api.asgi"}  # builds the services from the environment when imported
ROOT = Path(__file__).resolve().parents[3]


def _import_everything() -> None:
    for package in PACKAGES:
        for module in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            if module.name not in SKIP:
                importlib.import_module(module.name)


def _subclasses(root: type) -> set[type]:
    found = {root}
    for sub in root.__subclasses__():
        found |= _subclasses(sub)
    return found


def error_classes() -> set[type]:
    _import_everything()
    roots = (LedgerError, DomainError, ProjectionError, ClaimsError)
    return {
        cls
        for root in roots
        for cls in _subclasses(root)
        if cls is not ApiError and cls.__module__.split(".")[0] in PACKAGES
    }


def api_codes() -> set[str]:
    """The codes ``api/`` raises as ``ApiError(code, …)`` or ``_refuse(code, …)``."""
    codes = set()
    for path in (ROOT / "api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("ApiError", "_refuse")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                codes.add(node.args[0].value)
    return codes


def defined_codes() -> set[str]:
    return {cls.code for cls in error_classes()} | api_codes()


def test_every_defined_code_has_an_explicit_status() -> None:
    missing = sorted(defined_codes() - set(STATUS_BY_CODE))
    assert missing == [], f"add these codes to api.http.errors.STATUS_BY_CODE: {missing}"


def test_the_table_names_no_code_that_nothing_raises() -> None:
    stale = sorted(set(STATUS_BY_CODE) - defined_codes())
    assert stale == [], f"no error class or ApiError has these codes: {stale}"


def test_the_api_raises_its_own_codes() -> None:
    assert {"InvalidRequest", "Forbidden", "UnexpectedEventType", "NoProfile"} <= api_codes()


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@pytest.mark.parametrize("cls", sorted(error_classes(), key=_name), ids=_name)
def test_every_error_class_gets_a_4xx_or_5xx(cls: type) -> None:
    status = STATUS_BY_CODE[cls.code]
    assert 400 <= status < 600
    if issubclass(cls, MalformedError):
        assert status in (413, 422), "malformed input is the caller's to fix"


def test_status_for_follows_the_table() -> None:
    assert status_for(ApiError("InvalidRequest", "limit must be from 1 to 1000, got 0")) == 422
    assert status_for(ApiError("Forbidden", "not yours")) == 403
    assert status_for(ValueError("a bug")) == 500
