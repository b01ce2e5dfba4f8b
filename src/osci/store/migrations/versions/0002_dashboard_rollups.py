"""dashboard roll-ups: build_daily and test_daily; indexes on builds for authors and revisions

The roll-ups are backfilled from the builds and test results already stored, with the same
code that ``osci.store.rollups.rebuild_rollups`` runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:30:24.842829
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "build_daily",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("job", sa.String(length=255), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("duration_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "key", name=op.f("pk_build_daily")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "test_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("job", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("classname", sa.String(length=512), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("skips", sa.Integer(), nullable=False),
        sa.Column("duration_sum", sa.Float(), nullable=False),
        sa.Column("flaky", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.String(length=32), nullable=False),
        sa.Column("last_rank", sa.BigInteger(), nullable=False),
        sa.Column("last_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_daily")),
        sa.UniqueConstraint("day", "key", name=op.f("uq_test_daily_day_key")),
    )
    op.create_index("ix_test_daily_name_key_day", "test_daily", ["name", "key", "day"], unique=False)
    op.create_index("ix_test_daily_day_failures", "test_daily", ["day", "failures"], unique=False)
    op.create_index("ix_builds_author", "builds", ["author"], unique=False)
    op.create_index("ix_builds_newrev", "builds", ["newrev"], unique=False)
    op.create_index(
        "ix_builds_pipeline_end_time_result_author",
        "builds",
        ["pipeline", "end_time", "result", "author"],
        unique=False,
    )

    from osci.store.rollups import rebuild  # the same bulk code as rebuild_rollups

    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_builds_pipeline_end_time_result_author", table_name="builds")
    op.drop_index("ix_builds_newrev", table_name="builds")
    op.drop_index("ix_builds_author", table_name="builds")
    op.drop_index("ix_test_daily_day_failures", table_name="test_daily")
    op.drop_index("ix_test_daily_name_key_day", table_name="test_daily")
    op.drop_table("test_daily")
    op.drop_table("build_daily")
