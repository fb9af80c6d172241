"""indexes for a year of history at company scale (issue 26)

Two reads grow with the store: a sync's (and a report's) history of one namespace's metrics, and the latest
finished run of every namespace of a cycle (the company view, and each sync's alignment). With 100 teams x 200
metrics x 365 days (7.3 million values, 36,500 runs) both were scans of rows they did not need:

ix_metric_values_history  (namespace, cycle, metric_id, day, as_of, observed_at, value): every column the history
                          read takes, in the order it returns them, so the read is one range of one index (an
                          index-only scan on PostgreSQL, a covering index on SQLite) instead of a row lookup
                          per value in table order (a run writes one day of every metric at once)
ix_runs_finished          (cycle, namespace, day) of the finished runs (a document stored): the newest finished
                          day of each namespace of a cycle is read from this index alone, without the runs'
                          rows and their documents
ix_*_run                  run_id of metric_values, held_values and write_ledger, whose rows point at a run (ON
                          DELETE SET NULL): deleting a run (``okrsync runs delete``, archiving an old cycle with
                          ``store: {keep_cycles: N}``) looked for its rows in every one of them, a scan of 1.46
                          million values for each of a year's 365 runs of 20 teams (0.22 s a run)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

HISTORY = ["namespace", "cycle", "metric_id", "day", "as_of", "observed_at", "value"]
FINISHED = sa.text("document IS NOT NULL")
RUN_ROWS = ("metric_values", "held_values", "write_ledger")


def upgrade() -> None:
    op.create_index("ix_metric_values_history", "metric_values", HISTORY)
    op.create_index(
        "ix_runs_finished",
        "runs",
        ["cycle", "namespace", "day"],
        sqlite_where=FINISHED,
        postgresql_where=FINISHED,
    )
    for table in RUN_ROWS:
        op.create_index(f"ix_{table}_run", table, ["run_id"])


def downgrade() -> None:
    for table in RUN_ROWS:
        op.drop_index(f"ix_{table}_run", table)
    op.drop_index("ix_runs_finished", "runs")
    op.drop_index("ix_metric_values_history", "metric_values")
