"""Alembic environment of the clearance store. Run through ``data.store.db.upgrade_store`` (``clearance db upgrade``),
which hands over the connection in ``config.attributes["connection"]``; there is no alembic.ini to keep in sync."""

from __future__ import annotations

from alembic import context
from sqlalchemy import TypeDecorator

from data.store.db import Base, import_table_modules


def render_item(type_, obj, autogen_context):
    """Migrations spell our column types as their plain SQLAlchemy base (``UTCDateTime`` → ``sa.DateTime()``), so a
    migration never imports product code that may change after it was written."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl.__class__.__name__}()"
    return False


import_table_modules()
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  # SQLite cannot ALTER most things in place: batch mode copies the table, so one migration serves
                  # SQLite and PostgreSQL alike.
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                  render_item=render_item)
with context.begin_transaction():
    context.run_migrations()
