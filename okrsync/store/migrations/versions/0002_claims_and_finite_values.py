"""write-ledger claims keyed by base; repair non-finite numbers written before values were checked

Revision ID: 0002
Revises: 0001
"""

import json
import math

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# NaN and ±Infinity: PostgreSQL sorts NaN above every number, SQLite cannot hold NaN (it stores NULL)
NOT_FINITE = "({col} > 1e308 OR {col} < -1e308)"
NULLABLE_FLOATS = {
    "kr_results": ("value", "start", "target", "progress", "progress_raw", "forecast_value", "forecast_progress"),
    "objective_results": ("progress",),
    "kpi_results": ("value", "trend"),
}


def upgrade() -> None:
    with op.batch_alter_table("write_ledger") as batch:
        batch.add_column(sa.Column("base", sa.Integer, nullable=False, server_default="0"))
        batch.drop_constraint("uq_write_ledger", type_="unique")
        batch.create_unique_constraint("uq_write_ledger_claim", ["namespace", "sink", "target", "fingerprint", "base"])
    op.execute("DELETE FROM metric_values WHERE " + NOT_FINITE.format(col="value"))
    op.execute("DELETE FROM overrides WHERE " + NOT_FINITE.format(col="value"))
    for table, columns in NULLABLE_FLOATS.items():
        for col in columns:
            op.execute(f"UPDATE {table} SET {col} = NULL WHERE " + NOT_FINITE.format(col=col))
    _repair_documents()


def _repair_documents() -> None:
    """SQLite kept documents as text, where Python's json wrote NaN/Infinity tokens; PostgreSQL's json
    type never accepted them. Rewrite the affected documents with null in their place."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    rows = bind.exec_driver_sql(
        "SELECT id, document FROM runs WHERE document LIKE '%NaN%' OR document LIKE '%Infinity%'"
    ).all()
    for run_id, text in rows:
        clean = json.dumps(_finite(json.loads(text)), allow_nan=False)
        bind.exec_driver_sql("UPDATE runs SET document = ? WHERE id = ?", (clean, run_id))


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def downgrade() -> None:
    with op.batch_alter_table("write_ledger") as batch:
        batch.drop_constraint("uq_write_ledger_claim", type_="unique")
        batch.drop_column("base")
        batch.create_unique_constraint("uq_write_ledger", ["namespace", "sink", "target", "fingerprint"])
