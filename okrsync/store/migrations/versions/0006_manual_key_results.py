"""manual key results: a key result's stored result may name no metric

A key result without ``metric:`` is a manual one (its value comes from ``okrsync override --sticky``), so
``kr_results.metric_id`` becomes nullable; every stored row keeps its metric. Batch mode, because SQLite
cannot alter a column in place (Alembic copies the table inside the same transaction).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kr_results") as batch:
        batch.alter_column("metric_id", existing_type=sa.String(200), nullable=True)


def downgrade() -> None:
    """Back to NOT NULL: a manual key result's rows are removed first, as 0005 has no place for them."""
    op.execute("DELETE FROM kr_results WHERE metric_id IS NULL")
    with op.batch_alter_table("kr_results") as batch:
        batch.alter_column("metric_id", existing_type=sa.String(200), nullable=False)
