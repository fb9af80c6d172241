"""The store's tables (SQLAlchemy Core). The schema itself is created by Alembic migrations.

runs              one row per namespace, cycle and cycle-local day: a re-run the same day (or the
                  same as_of) replaces that day's snapshot instead of adding a second one
metric_values     history, the sync-day timeline: one value per metric per synced day, owned by that
                  day's run (deleted with it); ``as_of`` is the moment the value was read for (the
                  run's as-of, ``offset_days`` applied: its place on the timeline), ``observed_at`` the
                  source's own time of the value (a csv row's date; else as_of): what staleness reads
kr_results        per-run KR results; objective_results, kpi_results likewise
metric_errors     per-run failures of a metric, with the connection
overrides         manual KR values: once (the next fetching sync replaces it) or sticky
held_values       values that broke their metric's contract, one per metric per synced day, kept for
                  review until accepted (then copied into metric_values for that same day only) or
                  replaced by a later check of the same day
write_ledger      each output's claimed writes (planned/sent -> confirmed | failed | unsure), one
                  row per target, content and base: a re-run writes only what changed, never twice
notes             owners' notes on a key result (`okrsync note`, or heard in the Sheets table and on Jira), with
                  their confidence: history, never replaced; each on the synced day it comments on; a heard
                  one carries its identity, kept once per namespace (okrsync/store/notes.py)
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
TS = sa.DateTime(timezone=True)

runs = sa.Table(
    "runs",
    metadata,
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

metric_values = sa.Table(
    "metric_values",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("namespace", sa.String(100), nullable=False),
    sa.Column("cycle", sa.String(100), nullable=False),
    sa.Column("metric_id", sa.String(200), nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # the synced day (the run's), not the source's date
    sa.Column("as_of", TS, nullable=False),
    sa.Column("observed_at", TS, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
    sa.UniqueConstraint("namespace", "cycle", "metric_id", "day", name="uq_metric_values_day"),
)

kr_results = sa.Table(
    "kr_results",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kr_id", sa.String(200), primary_key=True),
    sa.Column("objective_id", sa.String(200), nullable=False),
    sa.Column("metric_id", sa.String(200)),  # None: a manual key result (migration 0006)
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

objective_results = sa.Table(
    "objective_results",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("objective_id", sa.String(200), primary_key=True),
    sa.Column("progress", sa.Float),
    sa.Column("expected", sa.Float, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
)

kpi_results = sa.Table(
    "kpi_results",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kpi_id", sa.String(200), primary_key=True),
    sa.Column("metric_id", sa.String(200), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("healthy", sa.Boolean),
    sa.Column("trend", sa.Float),
    sa.Column("stale", sa.Boolean, nullable=False),
)

metric_errors = sa.Table(
    "metric_errors",
    metadata,
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("metric_id", sa.String(200), primary_key=True),
    sa.Column("connection", sa.String(200)),
    sa.Column("message", sa.Text, nullable=False),
)

overrides = sa.Table(
    "overrides",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("namespace", sa.String(100), nullable=False),
    sa.Column("kr_id", sa.String(200), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("sticky", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("ended_at", TS),
    sa.Column("ended_by", sa.String(20)),  # cleared | replaced | superseded
    # recorded for a key result without a metric: stops counting once it names one (migration 0009)
    sa.Column("manual", sa.Boolean, nullable=False, server_default=sa.false()),
)

held_values = sa.Table(
    "held_values",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("namespace", sa.String(100), nullable=False),
    sa.Column("cycle", sa.String(100), nullable=False),
    sa.Column("metric_id", sa.String(200), nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # the synced day that held it back
    sa.Column("as_of", TS, nullable=False),
    sa.Column("observed_at", TS, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
    sa.Column("accepted_at", TS),
    sa.UniqueConstraint("namespace", "cycle", "metric_id", "day", name="uq_held_values_day"),
)

write_ledger = sa.Table(
    "write_ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("namespace", sa.String(100), nullable=False),
    sa.Column("sink", sa.String(200), nullable=False),
    sa.Column("target", sa.String(500), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("base", sa.Integer, nullable=False, server_default="0"),  # the target's last confirmed write's id
    sa.Column("state", sa.String(20), nullable=False),  # planned | sent | confirmed | failed | unsure
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL")),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("detail", sa.Text),
    sa.UniqueConstraint("namespace", "sink", "target", "fingerprint", "base", name="uq_write_ledger_claim"),
)

notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("namespace", sa.String(100), nullable=False),
    sa.Column("cycle", sa.String(100), nullable=False),
    sa.Column("kr_id", sa.String(200), nullable=False),
    sa.Column("day", sa.Date, nullable=False),  # the synced day it comments on
    sa.Column("written_at", TS, nullable=False),
    sa.Column("kept_at", TS),  # when okrsync stored it (a heard comment: later than written; migration 0010)
    sa.Column("author", sa.String(200)),
    sa.Column("confidence", sa.String(20)),  # on_track | at_risk | off_track | "0".."10"
    sa.Column("body", sa.Text, nullable=False),  # at most 2,000 characters (okrsync/store/notes.py)
    sa.Column("source", sa.String(20), nullable=False),  # where it was written: cli, sheets, jira
    sa.Column("identity", sa.String(200)),  # what was heard (a Sheets edit, a Jira comment): kept once (0008)
)

sa.Index("ix_runs_latest", runs.c.namespace, runs.c.cycle, runs.c.as_of)
# a year of history at company scale (migration 0011): the history read is one range of one index, and the newest
# finished day of each namespace of a cycle is read without the runs' rows (their documents)
sa.Index(
    "ix_metric_values_history",
    *(metric_values.c[name] for name in ("namespace", "cycle", "metric_id", "day", "as_of", "observed_at", "value")),
)
_FINISHED = runs.c.document.is_not(None)
sa.Index(
    "ix_runs_finished", runs.c.cycle, runs.c.namespace, runs.c.day, sqlite_where=_FINISHED, postgresql_where=_FINISHED
)
for _table in (metric_values, held_values, write_ledger):  # deleting a run finds the rows pointing at it (0011)
    sa.Index(f"ix_{_table.name}_run", _table.c.run_id)
sa.Index("ix_overrides_active", overrides.c.namespace, overrides.c.kr_id, overrides.c.ended_at)
sa.Index(
    "ix_write_ledger_target",
    write_ledger.c.namespace,
    write_ledger.c.sink,
    write_ledger.c.target,
    write_ledger.c.updated_at,
)
sa.Index("ix_notes_day", notes.c.namespace, notes.c.cycle, notes.c.kr_id, notes.c.day)
sa.Index("uq_notes_identity", notes.c.namespace, notes.c.identity, unique=True)  # NULLs (cli) never collide
