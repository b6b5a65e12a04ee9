"""Alembic migrations for the catalog, and the autogenerate options `env.py` and tests share."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate.api import AutogenContext
from pgvector.sqlalchemy import Vector

from sql.models import Base

# pg_advisory_xact_lock key held for a whole upgrade, so concurrent starts run it once.
MIGRATION_LOCK_ID = 0x6D616E75616C7161  # "manualqa"


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render pgvector columns as `Vector(dim)` with their import in new revisions."""
    if type_ == "type" and isinstance(obj, Vector):
        autogen_context.imports.add("from pgvector.sqlalchemy import Vector")
        return f"Vector({obj.dim})" if obj.dim is not None else "Vector()"
    return False


def autogenerate_options() -> dict[str, Any]:
    """Options for `context.configure` / `MigrationContext.configure` when comparing."""
    return {
        "target_metadata": Base.metadata,
        "compare_type": True,
        "compare_server_default": True,
        "render_item": render_item,
    }
