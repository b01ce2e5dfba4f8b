"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 08:40:16.787321
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "config_loads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_loads")),
    )
    op.create_index(op.f("ix_config_loads_loaded_at"), "config_loads", ["loaded_at"], unique=False)
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("connection", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=True),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("oldrev", sa.String(length=64), nullable=True),
        sa.Column("newrev", sa.String(length=64), nullable=True),
        sa.Column("change", sa.String(length=64), nullable=True),
        sa.Column("patchset", sa.String(length=64), nullable=True),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("files", sa.JSON(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("uuid", name=op.f("uq_events_uuid")),
    )
    op.create_index(op.f("ix_events_processed_at"), "events", ["processed_at"], unique=False)
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("provider", sa.String(length=255), nullable=True),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
        sa.UniqueConstraint("name", name=op.f("uq_nodes_name")),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("hash", name=op.f("uq_tokens_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_tokens_name")),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("queue", sa.String(length=255), nullable=True),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("oldrev", sa.String(length=64), nullable=True),
        sa.Column("newrev", sa.String(length=64), nullable=True),
        sa.Column("change", sa.String(length=64), nullable=True),
        sa.Column("patchset", sa.String(length=64), nullable=True),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("enqueue_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dequeue_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ahead_uuid", sa.String(length=64), nullable=True),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_items_event_id_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("uuid", name=op.f("uq_items_uuid")),
    )
    op.create_index(op.f("ix_items_event_id"), "items", ["event_id"], unique=False)
    op.create_index(op.f("ix_items_state"), "items", ["state"], unique=False)
    op.create_table(
        "node_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_node_events_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_events")),
    )
    op.create_index("ix_node_events_node_id_time", "node_events", ["node_id", "time"], unique=False)
    op.create_table(
        "buildsets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_graph", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_buildsets_item_id_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildsets")),
        sa.UniqueConstraint("uuid", name=op.f("uq_buildsets_uuid")),
    )
    op.create_index(op.f("ix_buildsets_item_id"), "buildsets", ["item_id"], unique=False)
    op.create_table(
        "builds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("buildset_id", sa.Integer(), nullable=True),
        sa.Column("job", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("pipeline", sa.String(length=255), nullable=True),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("change", sa.String(length=64), nullable=True),
        sa.Column("patchset", sa.String(length=64), nullable=True),
        sa.Column("ref", sa.String(length=255), nullable=True),
        sa.Column("newrev", sa.String(length=64), nullable=True),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("voting", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("node", sa.String(length=255), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempt_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("estimated_duration", sa.Float(), nullable=True),
        sa.Column("log_url", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts_count", sa.Integer(), nullable=False),
        sa.Column("tests_passed", sa.Integer(), nullable=False),
        sa.Column("tests_failed", sa.Integer(), nullable=False),
        sa.Column("tests_error", sa.Integer(), nullable=False),
        sa.Column("tests_skipped", sa.Integer(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["buildset_id"], ["buildsets.id"], name=op.f("fk_builds_buildset_id_buildsets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_builds")),
        sa.UniqueConstraint("uuid", name=op.f("uq_builds_uuid")),
    )
    op.create_index(op.f("ix_builds_buildset_id"), "builds", ["buildset_id"], unique=False)
    op.create_index(op.f("ix_builds_change"), "builds", ["change"], unique=False)
    op.create_index("ix_builds_end_time", "builds", ["end_time"], unique=False)
    op.create_index("ix_builds_job_end_time", "builds", ["job", "end_time"], unique=False)
    op.create_index("ix_builds_pipeline_end_time", "builds", ["pipeline", "end_time"], unique=False)
    op.create_index("ix_builds_project_end_time", "builds", ["project", "end_time"], unique=False)
    op.create_index(op.f("ix_builds_result"), "builds", ["result"], unique=False)
    op.create_index(op.f("ix_builds_state"), "builds", ["state"], unique=False)
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("buildset_id", sa.Integer(), nullable=True),
        sa.Column("reporter", sa.String(length=255), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["buildset_id"], ["buildsets.id"], name=op.f("fk_reports_buildset_id_buildsets")
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_reports_item_id_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index(op.f("ix_reports_buildset_id"), "reports", ["buildset_id"], unique=False)
    op.create_index(op.f("ix_reports_item_id"), "reports", ["item_id"], unique=False)
    op.create_index("ix_reports_state_next_try_at", "reports", ["state", "next_try_at"], unique=False)
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["build_id"], ["builds.id"], name=op.f("fk_artifacts_build_id_builds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    op.create_index(op.f("ix_artifacts_build_id"), "artifacts", ["build_id"], unique=False)
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("node", sa.String(length=255), nullable=True),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["build_id"], ["builds.id"], name=op.f("fk_attempts_build_id_builds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("build_id", "number", name=op.f("uq_attempts_build_id_number")),
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["build_id"], ["builds.id"], name=op.f("fk_metrics_build_id_builds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
    )
    op.create_index(op.f("ix_metrics_build_id"), "metrics", ["build_id"], unique=False)
    op.create_table(
        "test_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("classname", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("job", sa.String(length=255), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("pipeline", sa.String(length=255), nullable=True),
        sa.Column("branch", sa.String(length=255), nullable=True),
        sa.Column("newrev", sa.String(length=64), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["build_id"], ["builds.id"], name=op.f("fk_test_results_build_id_builds"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_results")),
    )
    op.create_index(op.f("ix_test_results_build_id"), "test_results", ["build_id"], unique=False)
    op.create_index("ix_test_results_name_build_id", "test_results", ["name", "build_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_test_results_name_build_id", table_name="test_results")
    op.drop_index(op.f("ix_test_results_build_id"), table_name="test_results")
    op.drop_table("test_results")
    op.drop_index(op.f("ix_metrics_build_id"), table_name="metrics")
    op.drop_table("metrics")
    op.drop_table("attempts")
    op.drop_index(op.f("ix_artifacts_build_id"), table_name="artifacts")
    op.drop_table("artifacts")
    op.drop_index("ix_reports_state_next_try_at", table_name="reports")
    op.drop_index(op.f("ix_reports_item_id"), table_name="reports")
    op.drop_index(op.f("ix_reports_buildset_id"), table_name="reports")
    op.drop_table("reports")
    op.drop_index(op.f("ix_builds_state"), table_name="builds")
    op.drop_index(op.f("ix_builds_result"), table_name="builds")
    op.drop_index("ix_builds_project_end_time", table_name="builds")
    op.drop_index("ix_builds_pipeline_end_time", table_name="builds")
    op.drop_index("ix_builds_job_end_time", table_name="builds")
    op.drop_index("ix_builds_end_time", table_name="builds")
    op.drop_index(op.f("ix_builds_change"), table_name="builds")
    op.drop_index(op.f("ix_builds_buildset_id"), table_name="builds")
    op.drop_table("builds")
    op.drop_index(op.f("ix_buildsets_item_id"), table_name="buildsets")
    op.drop_table("buildsets")
    op.drop_index("ix_node_events_node_id_time", table_name="node_events")
    op.drop_table("node_events")
    op.drop_index(op.f("ix_items_state"), table_name="items")
    op.drop_index(op.f("ix_items_event_id"), table_name="items")
    op.drop_table("items")
    op.drop_table("tokens")
    op.drop_table("nodes")
    op.drop_index(op.f("ix_events_processed_at"), table_name="events")
    op.drop_table("events")
    op.drop_index(op.f("ix_config_loads_loaded_at"), table_name="config_loads")
    op.drop_table("config_loads")
