"""The gateway's metadata database: engine set-up and Alembic migrations.

A SQLite file by default (``<data_dir>/gateway.sqlite3``; WAL journal,
``synchronous=NORMAL``, a busy timeout, foreign keys on, write transactions
begun ``IMMEDIATE`` so two writers never deadlock on a lock upgrade), an
in-memory SQLite database without a data dir, or PostgreSQL by URL
(``postgresql+psycopg://user@host:port/db``), optionally in a schema of its own
(created if missing and put first on the ``search_path``). :meth:`Database.open`
runs Alembic's ``upgrade head`` before returning.

Examples:
    >>> db = Database.open()               # in memory, migrated
    >>> db.revision()
    '0001'
    >>> with db.read() as c:
    ...     c.exec_driver_sql("select count(*) from objects").scalar()
    0
    >>> db.dispose()
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, pool
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from qclone.errors import InvalidArgumentError

#: File name of the default SQLite database inside a data dir.
DEFAULT_DB_FILE = "gateway.sqlite3"
#: Milliseconds a SQLite writer waits for the lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
_SCHEMA = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class JSONDocument(dict):
    """A dict stored as JSON many times over (e.g. a cached placement audit): its JSON text is made
    once, at construction. Never modify one."""

    __slots__ = ("text",)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.text = json.dumps(self)


def json_serializer(value: Any) -> str:
    """The engines' JSON serializer: :func:`json.dumps`, or the ready text of a :class:`JSONDocument`."""
    return value.text if isinstance(value, JSONDocument) else json.dumps(value)


def default_url(data_dir: Path | str | None) -> str:
    """The default database URL: a SQLite file in ``data_dir``, or SQLite in memory."""
    if data_dir is None:
        return "sqlite://"
    return f"sqlite:///{Path(data_dir).resolve() / DEFAULT_DB_FILE}"


def _check_schema(schema: str | None) -> str | None:
    if schema is not None and not _SCHEMA.fullmatch(schema):
        raise InvalidArgumentError(f"a database schema name is a letter or _ followed by up to 62 letters, digits or _, got {schema!r}")
    return schema


def create_db_engine(url: str, *, schema: str | None = None, pool_size: int = 20) -> Engine:
    """An engine for ``url`` configured as the module docstring says (no migrations run).

    Raises:
        InvalidArgumentError: for a malformed URL, an unsupported database or a
            schema given for SQLite.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise InvalidArgumentError(f"bad database URL {url!r}: {e}") from None
    backend = parsed.get_backend_name()
    schema = _check_schema(schema)
    if backend == "sqlite":
        if schema is not None:
            raise InvalidArgumentError("a schema can only be given for PostgreSQL, not SQLite")
        memory = parsed.database in (None, "", ":memory:")
        if memory:
            engine = create_engine(url, poolclass=pool.StaticPool, connect_args={"check_same_thread": False},
                                   json_serializer=json_serializer)
        else:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, json_serializer=json_serializer,
                                   connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # straight to the driver: the statement needs none of SQLAlchemy's execution machinery
            conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                "BEGIN IMMEDIATE" if conn.get_execution_options().get("qclone_write") else "BEGIN")

        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() not in ("psycopg", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                               json_serializer=json_serializer)
        if schema is not None:
            with engine.connect() as conn:  # before the search path below is set on any connection
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                conn.commit()
            engine.dispose()

            @event.listens_for(engine, "connect")
            def _pg_connect(dbapi_conn: Any, _record: Any) -> None:
                autocommit = dbapi_conn.autocommit
                dbapi_conn.autocommit = True
                with dbapi_conn.cursor() as cur:
                    cur.execute(f'SET search_path TO "{schema}"')
                dbapi_conn.autocommit = autocommit
        return engine
    raise InvalidArgumentError(f"unsupported database {backend!r}: use a SQLite file or postgresql+psycopg://...")


class Database:
    """An engine plus the transaction helpers the storage service uses.

    Use :meth:`open`; ``write()`` and ``read()`` are context managers yielding a
    connection inside one transaction (committed on success, rolled back on an
    exception).
    """

    def __init__(self, engine: Engine, *, schema: str | None = None) -> None:
        self.engine = engine
        self.schema = schema
        self.dialect = engine.dialect.name
        # One shared connection for in-memory SQLite: transactions take turns.
        self._lock = threading.RLock() if isinstance(engine.pool, pool.StaticPool) else None

    @classmethod
    def open(cls, url: str | None = None, *, data_dir: Path | str | None = None, schema: str | None = None,
             migrate: bool = True) -> Database:
        """Connect to ``url`` (default: :func:`default_url` of ``data_dir``) and migrate to the newest schema."""
        db = cls(create_db_engine(url or default_url(data_dir), schema=schema), schema=schema)
        if migrate:
            db.upgrade()
        return db

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        with self._lock or nullcontext(), self.engine.connect() as conn:
            conn.execution_options(qclone_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        with self._lock or nullcontext(), self.engine.connect() as conn, conn.begin():
            yield conn

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` (idempotent)."""
        from alembic import command

        with self._lock or nullcontext(), self.engine.connect() as conn:
            conn.execution_options(qclone_write=True)
            cfg = alembic_config(conn)
            command.upgrade(cfg, revision)
            conn.commit()

    def downgrade(self, revision: str) -> None:
        """Run the Alembic migrations down to ``revision`` (``"base"``: an empty database)."""
        from alembic import command

        with self._lock or nullcontext(), self.engine.connect() as conn:
            conn.execution_options(qclone_write=True)
            command.downgrade(alembic_config(conn), revision)
            conn.commit()

    def revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self._lock or nullcontext(), self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Any:
    """An Alembic ``Config`` for the storage migrations, bound to ``connection`` if given."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
        cfg.set_main_option("sqlalchemy.url", connection.engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg
