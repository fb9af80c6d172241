"""heard notes: a note written where okrsync writes (the Sheets status table, a Jira comment) keeps its identity

okrsync hears what people write in its outputs (docs/checkin.md, "Notes from Sheets and Jira") and keeps each
item once: ``notes.identity`` holds what names it (a Sheets edit, a Jira comment id), unique per namespace. A note
typed with ``okrsync note`` has none (NULL), and NULLs never collide in a unique index, on SQLite and PostgreSQL
alike. Adding a nullable column and an index needs no table copy; the whole upgrade is one transaction, so a kill
mid-migration leaves the store at 0007.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notes", sa.Column("identity", sa.String(200)))
    op.create_index("uq_notes_identity", "notes", ["namespace", "identity"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_notes_identity", table_name="notes")
    with op.batch_alter_table("notes") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("identity")
