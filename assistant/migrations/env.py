"""Alembic environment: runs on the connection handed over by assistant.db (the `db` commands and tests)."""

from alembic import context

from assistant.models import Base  # imports every feature's models: autogenerate and `check` see all tables

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through assistant.db
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
