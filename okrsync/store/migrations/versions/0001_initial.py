"""initial schema: runs, metric values, results, errors, overrides, write ledger

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(100), nullable=False),
        sa.Column("cycle", sa.String(100), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("document", sa.JSON),
        sa.UniqueConstraint("namespace", "cycle", "day", name="uq_runs_day"),
    )
    op.create_index("ix_runs_latest", "runs", ["namespace", "cycle", "as_of"])
    op.create_table(
        "metric_values",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(100), nullable=False),
        sa.Column("cycle", sa.String(100), nullable=False),
        sa.Column("metric_id", sa.String(200), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("observed_at", TS, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.UniqueConstraint("namespace", "cycle", "metric_id", "day", name="uq_metric_values_day"),
    )
    op.create_table(
        "kr_results",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kr_id", sa.String(200), primary_key=True),
        sa.Column("objective_id", sa.String(200), nullable=False),
        sa.Column("metric_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("start", sa.Float),
        sa.Column("target", sa.Float),
        sa.Column("progress", sa.Float),
        sa.Column("progress_raw", sa.Float),
        sa.Column("expected", sa.Float, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("stale", sa.Boolean, nullable=False),
        sa.Column("stale_reason", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("observed_at", TS),
        sa.Column("forecast_value", sa.Float),
        sa.Column("forecast_progress", sa.Float),
        sa.Column("overridden", sa.Boolean, nullable=False),
    )
    op.create_table(
        "objective_results",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("objective_id", sa.String(200), primary_key=True),
        sa.Column("progress", sa.Float),
        sa.Column("expected", sa.Float, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_table(
        "kpi_results",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kpi_id", sa.String(200), primary_key=True),
        sa.Column("metric_id", sa.String(200), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("healthy", sa.Boolean),
        sa.Column("trend", sa.Float),
        sa.Column("stale", sa.Boolean, nullable=False),
    )
    op.create_table(
        "metric_errors",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("metric_id", sa.String(200), primary_key=True),
        sa.Column("connection", sa.String(200)),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(100), nullable=False),
        sa.Column("kr_id", sa.String(200), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("sticky", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("ended_at", TS),
        sa.Column("ended_by", sa.String(20)),
    )
    op.create_index("ix_overrides_active", "overrides", ["namespace", "kr_id", "ended_at"])
    op.create_table(
        "write_ledger",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(100), nullable=False),
        sa.Column("sink", sa.String(200), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("detail", sa.Text),
        sa.UniqueConstraint("namespace", "sink", "target", "fingerprint", name="uq_write_ledger"),
    )
    op.create_index("ix_write_ledger_target", "write_ledger", ["namespace", "sink", "target", "updated_at"])


def downgrade() -> None:
    for table in (
        "write_ledger",
        "overrides",
        "metric_errors",
        "kpi_results",
        "objective_results",
        "kr_results",
        "metric_values",
        "runs",
    ):
        op.drop_table(table)
