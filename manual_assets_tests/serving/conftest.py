"""API credentials for the serving tests: real keys created in the catalog the API reads."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sql.api_keys import create_key
from sql.db import make_engine, session_scope


@dataclass(frozen=True)
class Credential:
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_key(
    database_url: str,
    scopes: list[str],
    vendors: list[str] | None = None,
    products: list[str] | None = None,
    name: str = "test suite",
) -> Credential:
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            record, key = create_key(session, name, scopes, "pytest", vendors, products)
    finally:
        engine.dispose()
    return Credential(key, record.key_id)


@pytest.fixture(scope="module")
def api_key(demo_pipeline) -> Credential:
    """A key for search, answers and catalog questions on every manual (module-scoped: some
    suites empty the catalog's tables between modules)."""
    url = demo_pipeline.settings.database_url.get_secret_value()
    return make_key(url, ["search", "ask", "sql"])
