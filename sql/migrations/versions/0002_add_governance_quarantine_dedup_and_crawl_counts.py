"""Add license manifests, near-duplicate links and fetch validators to manuals, the
quarantine table, and per-outcome counts to crawl_jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 18:59:47.591611+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


OLD_STATUSES = "'ingested', 'extracted', 'chunked', 'embedded', 'indexed', 'quarantined'"
NEW_STATUSES = OLD_STATUSES + ", 'duplicate'"


def _status_check(statuses: str) -> None:
    op.drop_constraint(op.f("ck_manuals_status"), "manuals", type_="check")
    op.create_check_constraint(op.f("ck_manuals_status"), "manuals", f"status IN ({statuses})")


def upgrade() -> None:
    _status_check(NEW_STATUSES)
    op.create_table(
        "quarantined_objects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("manual_key", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("reason_code", sa.String(length=50), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "quarantined_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_objects")),
        sa.UniqueConstraint(
            "manual_key",
            "content_hash",
            name=op.f("uq_quarantined_objects_manual_key_content_hash"),
        ),
    )
    op.create_index(
        "ix_quarantined_objects_released_at", "quarantined_objects", ["released_at"], unique=False
    )
    op.add_column(
        "crawl_jobs",
        sa.Column("fetched", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "crawl_jobs",
        sa.Column("unchanged", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "crawl_jobs", sa.Column("new", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column(
        "crawl_jobs", sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column(
        "crawl_jobs",
        sa.Column("quarantined", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "crawl_jobs",
        sa.Column("duplicates", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "crawl_jobs",
        sa.Column("excluded", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("crawl_jobs", sa.Column("config_version", sa.String(length=100), nullable=True))
    op.add_column("crawl_jobs", sa.Column("cursor", sa.Text(), nullable=True))
    op.add_column("manuals", sa.Column("etag", sa.Text(), nullable=True))
    op.add_column("manuals", sa.Column("last_modified", sa.Text(), nullable=True))
    op.add_column("manuals", sa.Column("text_checksum", sa.String(length=64), nullable=True))
    op.add_column("manuals", sa.Column("minhash", postgresql.ARRAY(sa.BigInteger()), nullable=True))
    op.add_column("manuals", sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
    op.add_column(
        "manuals", sa.Column("license_terms", sa.Text(), server_default="", nullable=False)
    )
    op.add_column(
        "manuals",
        sa.Column(
            "allowed_uses",
            postgresql.ARRAY(sa.String(length=20)),
            server_default=sa.text("'{index,serve}'"),
            nullable=False,
        ),
    )
    op.add_column(
        "manuals", sa.Column("license_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "manuals", sa.Column("license_revoked_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("manuals", sa.Column("license_revoked_by", sa.String(length=200), nullable=True))
    op.create_index("ix_manuals_duplicate_of_id", "manuals", ["duplicate_of_id"], unique=False)
    op.create_index("ix_manuals_source", "manuals", ["source"], unique=False)
    op.create_foreign_key(
        op.f("fk_manuals_duplicate_of_id_manuals"),
        "manuals",
        "manuals",
        ["duplicate_of_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.execute("UPDATE manuals SET status = 'ingested' WHERE status = 'duplicate'")
    _status_check(OLD_STATUSES)
    op.drop_constraint(op.f("fk_manuals_duplicate_of_id_manuals"), "manuals", type_="foreignkey")
    op.drop_index("ix_manuals_source", table_name="manuals")
    op.drop_index("ix_manuals_duplicate_of_id", table_name="manuals")
    op.drop_column("manuals", "license_revoked_by")
    op.drop_column("manuals", "license_revoked_at")
    op.drop_column("manuals", "license_expires_at")
    op.drop_column("manuals", "allowed_uses")
    op.drop_column("manuals", "license_terms")
    op.drop_column("manuals", "duplicate_of_id")
    op.drop_column("manuals", "minhash")
    op.drop_column("manuals", "text_checksum")
    op.drop_column("manuals", "last_modified")
    op.drop_column("manuals", "etag")
    op.drop_column("crawl_jobs", "cursor")
    op.drop_column("crawl_jobs", "config_version")
    op.drop_column("crawl_jobs", "excluded")
    op.drop_column("crawl_jobs", "duplicates")
    op.drop_column("crawl_jobs", "quarantined")
    op.drop_column("crawl_jobs", "failed")
    op.drop_column("crawl_jobs", "new")
    op.drop_column("crawl_jobs", "unchanged")
    op.drop_column("crawl_jobs", "fetched")
    op.drop_index("ix_quarantined_objects_released_at", table_name="quarantined_objects")
    op.drop_table("quarantined_objects")
