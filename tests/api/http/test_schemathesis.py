"""Property-based HTTP tests: schemathesis drives every route of the OpenAPI description.

The app runs on a temporary SQLite database holding a small demo campaign, so
that generated ids sometimes hit real things. For valid and for invalid
requests, no response may be a 5xx, and every response must match the
documented status codes, content types and schemas (every refusal included:
it is an ``ErrorBody``).

(The operations are walked inside one test: schemathesis' lazy ``from_fixture``
loader does not run under pytest 9, and the app needs a database to exist.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.python.asgi import shutdown_lifespans

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.settings import Settings
from domain.demo.generator import build_demo

pytestmark = pytest.mark.slow
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_: object, value: object) -> bytes:
    """``POST /events/batch`` takes lines of JSON; generated bodies are sent as text."""
    return value.encode() if isinstance(value, str) else repr(value).encode()


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    where: Path = tmp_path_factory.mktemp("schemathesis")
    config = Settings(
        database_url=f"sqlite:///{where}/api.sqlite", ledger_key_file=where / "ledger.key"
    )
    with bootstrap(config) as services:
        build_demo(services, seed=1, members=12, contributions=24, votes=80)
        try:
            yield schemathesis.openapi.from_asgi("/openapi.json", create_app(services))
        finally:
            shutdown_lifespans()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_route_fails_or_breaks_its_schema(
    api_schema: schemathesis.BaseSchema, mode: GenerationMode
) -> None:
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25, "every router is in the description"
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue  # nothing in the request can be invalid (no parameters, free text ids)
        except Exception as exc:  # gather every operation's failure, then report them all
            failures[operation.label] = f"{type(exc).__name__}: {exc}"
    assert not failures, "\n\n".join(f"{label}\n{why}" for label, why in failures.items())
