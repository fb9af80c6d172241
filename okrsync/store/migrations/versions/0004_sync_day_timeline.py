"""history on the sync-day timeline: a value belongs to the day of the run that stored it

Before 0004, ``metric_values.day`` (and ``held_values.day``) was the local day of the value's own
``observed_at``, and a later run that read the same source row took the row over: deleting that later
run deleted a value an earlier day had stored. From 0004 on ``day`` is the synced day of the run that
stored (or held back) the value, ``as_of`` is the moment it was read for (its place on the timeline)
and ``observed_at`` stays the source's own time.

Existing rows keep their place on the timeline (``as_of`` = their ``observed_at``) and move to the day
of the run that last stored them; rows whose run was deleted keep their own day. Where two old rows land
on one day, the one observed last is kept. The whole upgrade is one transaction (transactional DDL on
SQLite and PostgreSQL alike: okrsync.store.engine), so a kill mid-migration leaves the 0003 schema.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = {"metric_values": "uq_metric_values_day", "held_values": "uq_held_values_day"}
KEY = ("namespace", "cycle", "metric_id", "day")


def upgrade() -> None:
    for table, constraint in TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))
            batch.drop_constraint(constraint, type_="unique")
        op.execute(f"UPDATE {table} SET as_of = observed_at")
        op.execute(
            f"UPDATE {table} SET day = (SELECT runs.day FROM runs WHERE runs.id = {table}.run_id) "
            f"WHERE run_id IS NOT NULL AND EXISTS (SELECT 1 FROM runs WHERE runs.id = {table}.run_id)"
        )
        _keep_one_per_day(table)
        with op.batch_alter_table(table) as batch:
            batch.alter_column("as_of", existing_type=sa.DateTime(timezone=True), nullable=False)
            batch.create_unique_constraint(constraint, list(KEY))


def _keep_one_per_day(table: str) -> None:
    """Of the old rows that now share a day, keep the one observed last (the highest id on a tie)."""
    same = " AND ".join(f"o.{c} = {table}.{c}" for c in KEY)
    later = f"(o.observed_at > {table}.observed_at OR (o.observed_at = {table}.observed_at AND o.id > {table}.id))"
    op.execute(f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {table} o WHERE {same} AND {later})")


def downgrade() -> None:
    for table, constraint in TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(constraint, type_="unique")
            batch.drop_column("as_of")
            batch.create_unique_constraint(constraint, list(KEY))
