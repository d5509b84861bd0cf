"""Alembic environment of the clearance store. Run through ``data.store.db.upgrade_store`` (``clearance db upgrade``),
which hands over the connection in ``config.attributes["connection"]``; there is no alembic.ini to keep in sync."""

from __future__ import annotations

from alembic import context

from data.store.db import Base, import_table_modules

import_table_modules()
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  # SQLite cannot ALTER most things in place: batch mode copies the table, so one migration serves
                  # SQLite and PostgreSQL alike.
                  render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
with context.begin_transaction():
    context.run_migrations()
