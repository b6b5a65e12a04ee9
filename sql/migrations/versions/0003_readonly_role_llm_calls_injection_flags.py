"""The read-only login role for text-to-SQL, LLM call records, chunk injection flags.

The role may read only the columns text-to-SQL may read (`sql.allowlist` at this
revision), every session of it starts read-only with a statement timeout, and it owns
nothing. Roles belong to the whole server, not to one database: the role is created
if missing, and dropped on downgrade only when no other database still grants it
anything.

Creating a role needs the CREATEROLE privilege; a DBA may create `manualqa_readonly`
beforehand instead, and this revision then only grants.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 19:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "manualqa_readonly"
STATEMENT_TIMEOUT = "5s"  # a ceiling; each text-to-SQL transaction sets its own, lower one
GRANTED_COLUMNS = {
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


def upgrade() -> None:
    op.create_table(
        "chunk_injection_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chunk_id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column(
            "flagged_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["chunk_id"],
            ["chunks.id"],
            name=op.f("fk_chunk_injection_flags_chunk_id_chunks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chunk_injection_flags")),
        sa.UniqueConstraint(
            "chunk_id", "rule", name=op.f("uq_chunk_injection_flags_chunk_id_rule")
        ),
    )
    op.create_table(
        "llm_calls",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("role", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_name", sa.String(length=100), nullable=True),
        sa.Column("prompt_hash", sa.String(length=64), nullable=True),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("partition", sa.String(length=300), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("cached", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_calls")),
    )
    op.create_index("ix_llm_calls_client_id_at", "llm_calls", ["client_id", "at"], unique=False)
    op.create_index("ix_llm_calls_partition_at", "llm_calls", ["partition", "at"], unique=False)

    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
                    NOREPLICATION NOBYPASSRLS;
            END IF;
        END
        $$
        """
    )
    op.execute(f"ALTER ROLE {ROLE} SET default_transaction_read_only = on")
    op.execute(f"ALTER ROLE {ROLE} SET statement_timeout = '{STATEMENT_TIMEOUT}'")
    op.execute(
        f"DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {ROLE}', "
        "current_database()); END $$"
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    for table, columns in GRANTED_COLUMNS.items():
        op.execute(f"GRANT SELECT ({', '.join(columns)}) ON {table} TO {ROLE}")


def downgrade() -> None:
    for table, columns in GRANTED_COLUMNS.items():
        op.execute(f"REVOKE SELECT ({', '.join(columns)}) ON {table} FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {ROLE}")
    op.execute(
        f"DO $$ BEGIN EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM {ROLE}', "
        "current_database()); END $$"
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (
                SELECT FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
                WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname = '{ROLE}'
            ) THEN
                DROP ROLE IF EXISTS {ROLE};
            END IF;
        END
        $$
        """
    )
    op.drop_index("ix_llm_calls_partition_at", table_name="llm_calls")
    op.drop_index("ix_llm_calls_client_id_at", table_name="llm_calls")
    op.drop_table("llm_calls")
    op.drop_table("chunk_injection_flags")
