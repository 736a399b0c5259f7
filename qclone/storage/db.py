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
    '0007_ui_sessions'
    >>> abs(db.now() - __import__("time").time()) < 5
    True
    >>> with db.read() as c:
    ...     c.exec_driver_sql("select count(*) from objects").scalar()
    0
    >>> db.dispose()
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import namedtuple
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Float, create_engine, event, pool, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from qclone.errors import InvalidArgumentError

#: File name of the default SQLite database inside a data dir.
DEFAULT_DB_FILE = "gateway.sqlite3"
#: Most statements :meth:`Database.prepare` keeps (they are module-level constants).
MAX_PREPARED = 256
#: Milliseconds a SQLite writer waits for the lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000
_SCHEMA = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class db_now(FunctionElement):  # noqa: N801 - reads as the SQL function it renders
    """The database's clock in seconds since the epoch (a float), for leases: every gateway
    reads the one clock of the database it shares, never its own.

    SQLite: ``(julianday('now') - 2440587.5) * 86400`` (millisecond resolution, fixed within a
    statement); PostgreSQL: ``EXTRACT(EPOCH FROM clock_timestamp())``.
    """

    type = Float()
    inherit_cache = True
    name = "db_now"


@compiles(db_now, "sqlite")
def _db_now_sqlite(element: db_now, compiler: Any, **kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(db_now, "postgresql")
def _db_now_postgresql(element: db_now, compiler: Any, **kw: Any) -> str:
    return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"


class JSONDocument(dict):
    """A dict stored as JSON many times over (e.g. a cached placement audit): its JSON text is made
    once, at construction. Never modify one."""

    __slots__ = ("text",)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.text = json.dumps(self)


def json_serializer(value: Any) -> str:
    """The engines' JSON serializer: the ready text of a :class:`JSONDocument`, else orjson (keys
    made strings as :func:`json.dumps` makes them), else :func:`json.dumps` for what orjson refuses."""
    if isinstance(value, JSONDocument):
        return value.text
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


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
        database = parsed.database or ""
        memory = database in ("", ":memory:")
        if memory:
            engine = create_engine(url, poolclass=pool.StaticPool, connect_args={"check_same_thread": False},
                                   json_serializer=json_serializer)
        else:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
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
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None, "the connection that begins a transaction is open"
            dbapi.execute("BEGIN IMMEDIATE" if conn.get_execution_options().get("qclone_write") else "BEGIN")

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


class _Prepared:
    """One Core statement compiled once for a dialect, executed straight on the DBAPI cursor.

    What SQLAlchemy's execution machinery does per call (compiled-cache lookup, execution
    context, events, result metadata) is done here once: the SQL text, the order of the bind
    parameters, the literal values compiled into the statement, and the type processors (JSON
    text, booleans) taken from the statement's own column types through the public
    ``TypeEngine.dialect_impl(...).bind_processor/result_processor`` API.
    """

    __slots__ = ("fixed", "names", "positional", "procs", "result_procs", "row_type", "sql", "statement")

    def __init__(self, statement: Any, dialect: Any, column_keys: tuple[str, ...] | None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None)
        if "POSTCOMPILE" in compiled.string:
            raise ValueError("a statement with expanding parameters (IN lists) cannot be prepared")
        self.statement = statement
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        binds = dict(compiled.binds)  # public: bind name -> BindParameter
        self.names = tuple(compiled.positiontup) if self.positional else tuple(binds)
        self.fixed = {name: b.effective_value for name, b in binds.items() if not b.required}
        self.procs = {name: proc for name, b in binds.items()
                      if (proc := b.type.dialect_impl(dialect).bind_processor(dialect)) is not None}
        selected = getattr(statement, "selected_columns", None) if getattr(statement, "is_select", False) else None
        self.row_type = _row_type(tuple(selected.keys())) if selected is not None else None
        # from the cursor's column types at the first fetch; [] when no column needs one
        self.result_procs: list[Any] | None = None

    def arguments(self, params: Mapping[str, Any]) -> Any:
        values = []
        for name in self.names:
            v = params[name] if name in params or name not in self.fixed else self.fixed[name]
            proc = self.procs.get(name)
            values.append(v if proc is None else proc(v))
        return tuple(values) if self.positional else dict(zip(self.names, values))

    def rows(self, cursor: Any, dialect: Any) -> list[Any]:
        fetched = cursor.fetchall()
        if self.result_procs is None:
            cols = list(self.statement.selected_columns)
            procs = [c.type.dialect_impl(dialect).result_processor(dialect, d[1])
                     for c, d in zip(cols, cursor.description)]
            self.result_procs = procs if any(procs) else []
        procs = self.result_procs
        make = self.row_type._make  # type: ignore[union-attr]  # only called when row_type is set
        if not procs:
            return [make(r) for r in fetched]
        return [make([v if p is None else p(v) for p, v in zip(procs, r)]) for r in fetched]


@lru_cache(maxsize=256)
def _row_type(keys: tuple[str, ...]) -> type:
    base = namedtuple("Row", keys)  # type: ignore[misc]  # noqa: PYI024
    # ``row._mapping`` as on SQLAlchemy rows, so callers take either
    return type("Row", (base,), {"__slots__": (), "_mapping": property(lambda self: self._asdict())})


class FastResult:
    """What :meth:`FastConnection.execute` returns: ``rowcount`` and the rows, read at once."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self.rowcount, self._rows = rowcount, rows

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


class FastConnection:
    """A transaction on a pooled DBAPI connection running *prepared* Core statements (module-level
    constants; :meth:`Database.fast_write`). Driver errors come out as SQLAlchemy's
    (``IntegrityError``, ``OperationalError``, ...), as from :meth:`Database.write`."""

    __slots__ = ("_db", "_dbapi")

    def __init__(self, db: Database, dbapi_connection: Any) -> None:
        self._db, self._dbapi = db, dbapi_connection

    def execute(self, statement: Any, params: Mapping[str, Any] | list[Mapping[str, Any]] | None = None) -> FastResult:
        batch: list[Mapping[str, Any]] | None = None
        if isinstance(params, list):
            batch, first = params, (params[0] if params else {})
        else:
            first = params or {}
        prepared = self._db.prepare(statement, tuple(first) if getattr(statement, "is_insert", False) else None)
        cursor = self._dbapi.cursor()
        try:
            if batch is not None:
                cursor.executemany(prepared.sql, [prepared.arguments(p) for p in batch])
            else:
                cursor.execute(prepared.sql, prepared.arguments(first))
            rows = prepared.rows(cursor, self._db.engine.dialect) if prepared.row_type is not None else []
            return FastResult(cursor.rowcount, rows)
        except self._db.dbapi_error as e:
            raise DBAPIError.instance(prepared.sql, params, e, self._db.dbapi_error) from e
        finally:
            cursor.close()


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
        self._sqlite = engine.dialect.name == "sqlite"
        self._prepared: dict[tuple[int, tuple[str, ...] | None], _Prepared] = {}
        self._prepared_lock = threading.Lock()
        self.dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error

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

    def prepare(self, statement: Any, column_keys: tuple[str, ...] | None = None) -> _Prepared:
        """``statement`` compiled for this database, once (an INSERT once per set of ``column_keys``).

        Only for statements built once (module-level constants): the cache is keyed by the
        statement object and holds at most :data:`MAX_PREPARED` of them.
        """
        key = (id(statement), column_keys)
        prepared = self._prepared.get(key)
        if prepared is None or prepared.statement is not statement:
            prepared = _Prepared(statement, self.engine.dialect, column_keys)
            with self._prepared_lock:
                if len(self._prepared) >= MAX_PREPARED and key not in self._prepared:
                    raise RuntimeError(f"more than {MAX_PREPARED} prepared statements: prepare only statements "
                                       "built once, not per call")
                self._prepared[key] = prepared
        return prepared

    @contextmanager
    def _fast(self, begin: str) -> Iterator[FastConnection]:
        with self._lock or nullcontext():
            proxied = self.engine.raw_connection()
            dbapi = proxied.dbapi_connection
            assert dbapi is not None, "a connection just checked out of the pool is open"
            try:
                try:
                    if self._sqlite:
                        dbapi.execute(begin)
                    yield FastConnection(self, dbapi)
                    dbapi.commit()
                except self.dbapi_error as e:  # BEGIN or COMMIT (statements raise wrapped errors)
                    raise DBAPIError.instance(begin if self._sqlite else "COMMIT", None, e, self.dbapi_error) from e
            except BaseException:
                with contextlib.suppress(Exception):
                    dbapi.rollback()
                raise
            finally:
                proxied.close()

    def fast_write(self) -> contextlib.AbstractContextManager[FastConnection]:
        """As :meth:`write`, for the hot paths: a :class:`FastConnection` running prepared statements
        on the pooled DBAPI connection, without SQLAlchemy's per-statement machinery."""
        return self._fast("BEGIN IMMEDIATE")

    def fast_read(self) -> contextlib.AbstractContextManager[FastConnection]:
        """As :meth:`read`, for the hot paths (see :meth:`fast_write`)."""
        return self._fast("BEGIN")

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` (idempotent)."""
        from alembic import command

        with self._lock or nullcontext(), self.engine.connect() as conn, self._foreign_keys_off(conn):
            conn.execution_options(qclone_write=True)
            cfg = alembic_config(conn)
            command.upgrade(cfg, revision)
            conn.commit()

    def downgrade(self, revision: str) -> None:
        """Run the Alembic migrations down to ``revision`` (``"base"``: an empty database)."""
        from alembic import command

        with self._lock or nullcontext(), self.engine.connect() as conn, self._foreign_keys_off(conn):
            conn.execution_options(qclone_write=True)
            command.downgrade(alembic_config(conn), revision)
            conn.commit()

    @contextmanager
    def _foreign_keys_off(self, conn: Connection) -> Iterator[None]:
        """SQLite: foreign keys off while migrations rebuild tables (copy, drop, rename: the
        documented way; the pragma only works outside a transaction, so it goes to the driver
        before SQLAlchemy begins one), checked and back on afterwards."""
        if not self._sqlite:
            yield
            return
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None, "the connection of an open 'with engine.connect()' is open"
        dbapi.execute("PRAGMA foreign_keys=OFF")
        try:
            yield
            bad = dbapi.execute("PRAGMA foreign_key_check").fetchall()
            if bad:
                raise RuntimeError(f"a migration left rows without their parent rows: {bad[:5]}")
        finally:
            dbapi.execute("PRAGMA foreign_keys=ON")

    def revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        from alembic.runtime.migration import MigrationContext

        with self._lock or nullcontext(), self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def now(self) -> float:
        """The database's clock (:class:`db_now`), in seconds."""
        with self.read() as conn:
            return float(conn.execute(select(db_now())).scalar_one())

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
