"""notes say when okrsync kept them, beside when they were written

A note heard from Jira is written when its author wrote the comment, and kept when a sync read it, which can be
later: after a check-in of that day went out. The check-in of the next period takes the notes of its first day
kept after the previous one went out (okrsync.present.checkin.in_period), so it needs the moment each note was
kept. Notes stored before 0010 were kept when they were written (`okrsync note`, or heard at once).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.add_column(sa.Column("kept_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE notes SET kept_at = written_at")


def downgrade() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.drop_column("kept_at")
