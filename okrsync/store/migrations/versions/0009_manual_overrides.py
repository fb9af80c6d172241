"""an override says whether it was recorded for a manual key result

A value set for a key result without a metric (``okrsync override`` on it, ``okrsync import``, a value typed
into the Sheets table) is that key result's only value. Once someone binds the key result to a metric, the
fetched values take over: such an override stops counting (okrsync.sync.persist). Overrides stored before 0009
were all recorded by hand for a key result's value, metric or not, and keep counting as they did (``manual``
false).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("overrides") as batch:
        batch.add_column(sa.Column("manual", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("overrides") as batch:
        batch.drop_column("manual")
