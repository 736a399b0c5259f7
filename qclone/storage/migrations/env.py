"""Alembic environment of the storage metadata database.

Run through :meth:`qclone.storage.db.Database.upgrade`, which hands over an open
connection in ``config.attributes["connection"]``; with only
``sqlalchemy.url`` set (the ``alembic`` command line), an engine is made from it.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    from qclone.storage.db import create_db_engine

    engine = create_db_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


# Only when Alembic runs this file (not when a test collector imports it).
if getattr(context, "_proxy", None) is not None:
    run_migrations()
