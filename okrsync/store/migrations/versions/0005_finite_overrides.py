"""repair manual values stored before they were checked: every override finite and within ±1e15

Before 0005, ``okrsync override KR 1e309 --sticky`` stored an infinity (and PostgreSQL also took NaN),
after which every run failed writing its status document, and values beyond ±1e15 were taken that no
fetch would accept. A manual value now obeys the rule of a fetched one (okrsync.okr.numbers.checked); this
repairs a store that already holds others:

* a non-finite override (±Infinity, NaN) is deleted, as 0002 did: it holds no number to keep, and a
  row left in place would still trip any reader that writes it out as JSON;
* an active finite override beyond ±1e15 is ended, ``ended_by = 'out of range'``: the value no longer
  applies (the next run uses the fetched value again), the row and its note stay as the record of what
  someone typed. Ended ones stay as they are (they no longer apply).

The whole upgrade is one transaction (transactional DDL on SQLite and PostgreSQL alike:
okrsync.store.engine), so a kill mid-migration leaves the store at 0004 with its rows as they were.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# okrsync.okr.numbers.LIMIT when 0005 was written; a migration keeps its own copy so that it always means
# the same. PostgreSQL sorts NaN above every number, so "beyond the limit" includes it; SQLite cannot
# hold NaN (it stores NULL, which the NOT NULL column refuses)
LIMIT = 1e15
BEYOND = f"(value > {LIMIT:.0e} OR value < -{LIMIT:.0e})"
NOT_FINITE = "(value > 1e308 OR value < -1e308)"


def upgrade() -> None:
    op.execute("DELETE FROM overrides WHERE " + NOT_FINITE)
    op.execute(
        "UPDATE overrides SET ended_at = CURRENT_TIMESTAMP, ended_by = 'out of range' "
        f"WHERE ended_at IS NULL AND {BEYOND}"
    )


def downgrade() -> None:
    """Nothing to undo: the repaired rows were never valid values."""
