"""What text-to-SQL may read: tables and columns of the catalog, and functions.

The DDL the `sql` role sees is generated from the SQLAlchemy models restricted to
`ALLOWED_COLUMNS`, never written by hand; its hash is the schema version that keys
cached statements. Migration 0003 grants the read-only role exactly these columns (a
test keeps the two in step).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Column, ForeignKeyConstraint, MetaData, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from sql.models import Base

READONLY_ROLE = "manualqa_readonly"

# Not here on purpose: text and embeddings of chunks (manual content goes through the
# answer path, where flagged chunks are filtered), hashes, object keys, source URIs,
# the audit log, LLM usage and every table of other concerns.
ALLOWED_COLUMNS: dict[str, tuple[str, ...]] = {
    "vendors": ("id", "slug", "name", "created_at"),
    "products": ("id", "vendor_id", "slug", "name", "created_at"),
    "licenses": ("id", "name", "url", "redistributable"),
    "manuals": (
        "id",
        "key",
        "product_id",
        "license_id",
        "title",
        "media_type",
        "file_name",
        "source",
        "is_public",
        "size_bytes",
        "page_count",
        "status",
        "quarantine_reason",
        "uploaded_at",
        "updated_at",
    ),
    "sections": ("id", "manual_id", "ordinal", "title", "level", "page"),
    "chunks": ("id", "manual_id", "ordinal", "page", "page_end", "section", "token_count"),
    "chunk_injection_flags": ("id", "chunk_id", "rule", "flagged_at"),
}

# Lower-case SQL function names a statement may call; everything else (pg_sleep,
# pg_read_file, dblink, lo_import, set_config, current_setting…) is refused.
ALLOWED_FUNCTIONS = frozenset(
    {
        "count",
        "sum",
        "min",
        "max",
        "avg",
        "lower",
        "upper",
        "length",
        "coalesce",
        "nullif",
        "round",
        "abs",
        "date_trunc",
        "extract",
        "now",
        "current_date",
        "current_timestamp",
        "cast",
        "string_agg",
        "array_agg",
        "greatest",
        "least",
    }
)


@dataclass(frozen=True)
class CatalogSchema:
    """The allow-listed catalog as the `sql` role sees it."""

    ddl: str
    columns: dict[str, tuple[str, ...]]
    types: dict[str, dict[str, str]]  # table -> column -> SQL type, for sqlglot
    primary_keys: dict[str, tuple[str, ...]]
    version: str


@lru_cache(maxsize=1)
def catalog_schema() -> CatalogSchema:
    """DDL of the allow-listed tables and columns, with their keys, from `sql.models`."""
    restricted = MetaData()
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    statements = []
    types: dict[str, dict[str, str]] = {}
    primary_keys: dict[str, tuple[str, ...]] = {}
    for name, allowed in ALLOWED_COLUMNS.items():
        source = Base.metadata.tables[name]
        columns = [
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in source.columns
            if c.name in allowed
        ]
        foreign_keys = [
            ForeignKeyConstraint([fk.parent.name], [fk.target_fullname])
            for fk in source.foreign_keys
            if fk.parent.name in allowed and fk.column.table.name in ALLOWED_COLUMNS
        ]
        table = Table(name, restricted, *columns, *foreign_keys)
        types[name] = {c.name: c.type.compile(dialect=dialect) for c in columns}
        primary_keys[name] = tuple(c.name for c in source.primary_key.columns)
        statements.append(str(CreateTable(table).compile(dialect=dialect)).strip() + ";")
    ddl = "\n\n".join(statements)
    return CatalogSchema(
        ddl=ddl,
        columns=dict(ALLOWED_COLUMNS),
        types=types,
        primary_keys=primary_keys,
        version=hashlib.sha256(ddl.encode()).hexdigest()[:16],
    )
