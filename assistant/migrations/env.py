"""Alembic environment: runs on the connection handed over by assistant.db.Database.upgrade."""

from alembic import context

from assistant.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through Database.upgrade
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
