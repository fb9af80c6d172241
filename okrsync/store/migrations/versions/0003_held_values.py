"""held_values: values that broke their metric's data contract, kept for review

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_values",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(100), nullable=False),
        sa.Column("cycle", sa.String(100), nullable=False),
        sa.Column("metric_id", sa.String(200), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("namespace", "cycle", "metric_id", "day", name="uq_held_values_day"),
    )


def downgrade() -> None:
    op.drop_table("held_values")
