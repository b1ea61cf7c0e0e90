"""Alembic environment: runs on the connection handed over by assistant.db (the `db` commands and tests)."""

from alembic import context

from assistant.db import UTCDateTime
from assistant.models import Base  # imports every feature's models: autogenerate and `check` see all tables


def render_item(type_, obj, autogen_context):
    """Our UTC column type is a plain timezone-aware DateTime in the database: write it so in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through assistant.db
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  render_item=render_item)
with context.begin_transaction():
    context.run_migrations()
