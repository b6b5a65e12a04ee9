"""Schemathesis against the app's own OpenAPI schema, served by uvicorn, with a key and
without one: no 5xx, no status code, content type or body the schema does not declare.
Bounded by the number of examples per operation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from manual_assets_tests.serving.conftest import make_key
from manual_assets_tests.serving.live import serve_in_thread
from serving.app import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 15
PUBLIC = {"/healthz", "/readyz"}


@pytest.fixture(scope="module")
def base_url(demo_pipeline) -> Iterator[str]:
    with serve_in_thread(create_app(demo_pipeline.settings)) as (host, port):
        yield f"http://{host}:{port}"


@pytest.fixture(scope="module")
def api_schema(base_url):
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


@pytest.fixture(scope="module")
def admin_headers(demo_pipeline) -> dict[str, str]:
    url = demo_pipeline.settings.database_url.get_secret_value()
    return make_key(url, ["admin"], name="schemathesis").headers


def _fuzz(api_schema, headers: dict[str, str] | None) -> list[str]:
    """Every operation, `EXAMPLES` generated requests each; the failures, described.

    Driven through Hypothesis directly: schemathesis' pytest plugin does not run under
    pytest 9 (it reads a private attribute pytest no longer has)."""
    failures: list[str] = []
    calls = 0
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/search", "/v1/ask", "/v1/sql", "/v1/query"}
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def check(case) -> None:
            nonlocal calls
            calls += 1
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            protected = case.path not in PUBLIC and not case.path.startswith("/v1/webhooks/")
            if headers is None and protected:
                assert response.status_code == 401, response.text[:300]

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:2000]}")
    assert calls >= 4 * EXAMPLES  # the four POST endpoints, at least
    return failures


def test_authenticated_requests_conform_to_the_schema(api_schema, admin_headers):
    failures = _fuzz(api_schema, admin_headers)
    assert not failures, "\n\n".join(failures)


def test_unauthenticated_requests_conform_to_the_schema(api_schema):
    failures = _fuzz(api_schema, None)
    assert not failures, "\n\n".join(failures)
