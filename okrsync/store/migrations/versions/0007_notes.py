"""notes: owners' notes on a key result and their confidence (`okrsync note`)

A note is history: one row per note, never replaced, on the synced day it comments on (the latest stored
run's day when it was written), with the moment it was written, its author, the owner's confidence (a label
or 0..10, as written) and where it was written (``cli``; later a spreadsheet's column). The text lives in
``body`` (``text`` is a type name in both databases). The whole upgrade is one transaction (transactional
DDL on SQLite and PostgreSQL alike: okrsync.store.engine), so a kill mid-migration leaves the store at 0006.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("namespace", sa.String(100), nullable=False),
        sa.Column("cycle", sa.String(100), nullable=False),
        sa.Column("kr_id", sa.String(200), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(200)),
        sa.Column("confidence", sa.String(20)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
    )
    op.create_index("ix_notes_day", "notes", ["namespace", "cycle", "kr_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_notes_day", table_name="notes")
    op.drop_table("notes")
