"""culprit finding and promotion: culprit_searches, culprit_builds (the evidence), promotions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:28:38.609855
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "culprit_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("job", sa.String(length=255), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("good_rev", sa.String(length=64), nullable=False),
        sa.Column("bad_rev", sa.String(length=64), nullable=False),
        sa.Column("commits", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("culprit_rev", sa.String(length=64), nullable=True),
        sa.Column("culprit_parent", sa.String(length=64), nullable=True),
        sa.Column("culprit_author", sa.String(length=255), nullable=True),
        sa.Column("culprit_email", sa.String(length=255), nullable=True),
        sa.Column("culprit_subject", sa.Text(), nullable=True),
        sa.Column("search_builds", sa.Integer(), nullable=False),
        sa.Column("total_builds", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_culprit_searches")),
        sa.UniqueConstraint("uuid", name=op.f("uq_culprit_searches_uuid")),
    )
    op.create_index("ix_culprit_searches_project_job", "culprit_searches", ["project", "job"], unique=False)
    op.create_index("ix_culprit_searches_state", "culprit_searches", ["state"], unique=False)
    op.create_table(
        "culprit_builds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("search_id", sa.Integer(), nullable=False),
        sa.Column("rev", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("build_uuid", sa.String(length=64), nullable=True),
        sa.Column("item_uuid", sa.String(length=64), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["search_id"],
            ["culprit_searches.id"],
            name=op.f("fk_culprit_builds_search_id_culprit_searches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_culprit_builds")),
    )
    op.create_index("ix_culprit_builds_search_id", "culprit_builds", ["search_id"], unique=False)
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("from_branch", sa.String(length=255), nullable=False),
        sa.Column("to_branch", sa.String(length=255), nullable=False),
        sa.Column("base_rev", sa.String(length=64), nullable=True),
        sa.Column("tip_rev", sa.String(length=64), nullable=True),
        sa.Column("commits", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("phase", sa.String(length=64), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("promoted_rev", sa.String(length=64), nullable=True),
        sa.Column("culprit_search_id", sa.Integer(), nullable=True),
        sa.Column("candidate_rev", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["culprit_search_id"],
            ["culprit_searches.id"],
            name=op.f("fk_promotions_culprit_search_id_culprit_searches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
        sa.UniqueConstraint("uuid", name=op.f("uq_promotions_uuid")),
    )
    op.create_index("ix_promotions_state", "promotions", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_promotions_state", table_name="promotions")
    op.drop_table("promotions")
    op.drop_index("ix_culprit_builds_search_id", table_name="culprit_builds")
    op.drop_table("culprit_builds")
    op.drop_index("ix_culprit_searches_state", table_name="culprit_searches")
    op.drop_index("ix_culprit_searches_project_job", table_name="culprit_searches")
    op.drop_table("culprit_searches")
