"""A governance version that serving checks instead of re-reading licenses per request.

`governance_version` holds one row; deferred constraint triggers on `manuals`, `products`
and `vendors` set it to the committing transaction's id whenever a row changes in a way
that alters what serving may show. Set at commit, it orders after the change it
announces: a reader that sees the new version sees the change. Transaction ids are never
reused, so a version once seen cannot come back with other contents. Taking the row lock
only at commit keeps concurrent writers from deadlocking on it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 05:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Columns of each table that decide which manuals a caller may be served.
WATCHED = {
    "manuals": (
        "key",
        "product_id",
        "allowed_uses",
        "license_expires_at",
        "license_revoked_at",
        "status",
    ),
    "products": ("slug", "vendor_id"),
    "vendors": ("slug",),
}


def upgrade() -> None:
    op.create_table(
        "governance_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_version")),
    )
    op.execute(
        "INSERT INTO governance_version (id, version)"
        " VALUES (1, pg_current_xact_id()::text::bigint)"
    )
    op.execute(
        """
        CREATE FUNCTION bump_governance_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO governance_version (id, version)
            VALUES (1, pg_current_xact_id()::text::bigint)
            ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version
            WHERE governance_version.version IS DISTINCT FROM EXCLUDED.version;
            RETURN NULL;
        END $$
        """
    )
    for table, columns in WATCHED.items():
        op.execute(
            f"""
            CREATE CONSTRAINT TRIGGER {table}_bump_governance_version
            AFTER INSERT OR DELETE OR UPDATE OF {", ".join(columns)} ON {table}
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION bump_governance_version()
            """
        )


def downgrade() -> None:
    for table in WATCHED:
        op.execute(f"DROP TRIGGER {table}_bump_governance_version ON {table}")
    op.execute("DROP FUNCTION bump_governance_version()")
    op.drop_table("governance_version")
