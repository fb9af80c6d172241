"""Alembic environment: okrsync runs migrations in-process on the connection it passes in."""

from alembic import context

from okrsync.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
