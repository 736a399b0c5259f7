"""The substrate's records in PostgreSQL: :class:`PostgresStore`, the same small interface as
:class:`~qclone.storage.localdb.LocalDB` (``tx``, ``execute``, ``query``, ``close``, ``path``).

The tables live in one PostgreSQL schema: the first schema of the search path
the URL sets (``?options=-csearch_path%3DNAME``), else :data:`DEFAULT_SCHEMA`;
created when missing, with the tables, in one transaction under an advisory
lock (any number of processes may start at once). Every connection of the
store has that schema alone on its search path, so the statements name the
tables unqualified, as on SQLite; they are written with ``?`` placeholders
and translated here.

Transactions (:meth:`PostgresStore.tx`) run at READ COMMITTED, and one that
names a ``key`` (an object id) first takes the transaction-level advisory
lock of that key: every write transaction about one object is serialised
against every other, in any process on any machine, as SQLite's ``BEGIN
IMMEDIATE`` serialises all of them on one file, and each of its statements
sees everything committed before it got the lock. Connections come from a
small pool (a few per process, opened on first need; a broken one is
dropped and the statement tried once more on a fresh one when it cannot
have run).

Examples:
    >>> redact("postgresql+psycopg://qclone:s3cret@db.example:5432/prod")
    'postgresql://qclone@db.example:5432/prod'
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qclone.errors import InvalidArgumentError

__all__ = ["DEFAULT_SCHEMA", "PostgresStore", "connection_params", "is_postgres_url", "redact", "schema_of"]

#: The schema of the substrate's tables when the URL names none.
DEFAULT_SCHEMA = "qclone_substrate"
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_SEARCH_PATH = re.compile(r"(?:^|\s)-c\s*search_path\s*=\s*([^\s]+)")


def is_postgres_url(url: str | None) -> bool:
    """Whether ``url`` names a PostgreSQL database (``postgresql://``, ``postgresql+psycopg://``, ``postgres://``)."""
    return isinstance(url, str) and url.split("://", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


def _parse(url: str) -> Any:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not is_postgres_url(url):
        raise InvalidArgumentError("the substrate's database is a PostgreSQL URL (postgresql://user@host:port/db)")
    try:
        return make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    except ArgumentError:
        raise InvalidArgumentError("malformed PostgreSQL URL for the substrate") from None


def redact(url: str) -> str:
    """``url`` without its password, driver or query (what an error message may show)."""
    u = _parse(url)
    who = f"{u.username}@" if u.username else ""
    where = u.host or ""
    if u.port:
        where += f":{u.port}"
    return f"postgresql://{who}{where}/{u.database or ''}"


def schema_of(url: str) -> str:
    """The schema the store keeps its tables in (see the module docstring)."""
    options = _parse(url).query.get("options")
    if isinstance(options, tuple):
        options = " ".join(options)
    match = _SEARCH_PATH.search(options or "")
    if match is None:
        return DEFAULT_SCHEMA
    first = match.group(1).split(",")[0].strip().strip('"')
    if not _SCHEMA_NAME.fullmatch(first):
        raise InvalidArgumentError("the search path of the substrate's URL must start with a schema name "
                                   "(a letter or _ and up to 62 letters, digits or _)")
    return first


def connection_params(url: str) -> dict[str, Any]:
    """``psycopg.connect`` keyword arguments for ``url`` (autocommit; the URL's query, e.g.
    ``options`` or ``sslmode``, passed on)."""
    u = _parse(url)
    params: dict[str, Any] = {"host": u.host or "127.0.0.1", "port": u.port or 5432,
                              "dbname": u.database or "postgres", "autocommit": True}
    if u.username:
        params["user"] = u.username
    if u.password is not None:
        params["password"] = u.password
    for key, value in u.query.items():
        params[key] = " ".join(value) if isinstance(value, tuple) else value
    params.setdefault("connect_timeout", 10)
    return params


def translate(sql: str) -> str:
    """A statement written for SQLite's ``?`` placeholders in psycopg's ``%s``."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Cursor:
    """What a transaction yields: ``execute`` as on a sqlite3 connection (``?`` placeholders)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(translate(sql), tuple(params))


class PostgresStore:
    """The substrate's tables in PostgreSQL at ``url`` (see the module docstring).

    Args:
        url: ``postgresql[+psycopg]://user[:password]@host[:port]/db[?options=-csearch_path%3DSCHEMA]``.
        schema: a callable taking the schema's quoted name and returning the DDL statements
            (``CREATE ... IF NOT EXISTS``), run at start in one transaction.
        max_connections: the pool's size (callers beyond it wait for a connection).
    """

    def __init__(self, url: str, schema: Callable[[str], Sequence[str]], *, max_connections: int = 8) -> None:
        import psycopg

        self.Error: type[Exception] = psycopg.Error
        self.IntegrityError: type[Exception] = psycopg.IntegrityError
        self.schema = schema_of(url)
        #: where the records are, for messages (never the password)
        self.path = f"{redact(url)} (schema {self.schema})"
        self._params = connection_params(url)
        # who the connections are in pg_stat_activity (unless the URL names it)
        self._params.setdefault("application_name", f"qclone-substrate {self.schema}"[:63])
        self._max = max(1, int(max_connections))
        self._idle: list[Any] = []
        self._open = 0
        self._closed = False
        self._cond = threading.Condition()
        try:
            with self.tx(key="#schema") as c:  # the lock (no object id starts with #): two processes starting at once
                c.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                for statement in schema(f'"{self.schema}"'):
                    c.execute(statement)
        except psycopg.Error as e:
            self.close()
            raise _unavailable(f"cannot set up the substrate's tables in {self.path}", e) from None

    # ------------------------------------------------------------------ the pool
    def _connect(self) -> Any:
        import psycopg

        conn = psycopg.connect(**self._params)
        conn.execute("SELECT set_config('search_path', %s, false)", (f'"{self.schema}"',))
        return conn

    def _take(self) -> Any:
        with self._cond:
            while True:
                if self._closed:
                    raise _unavailable(f"the substrate's store {self.path} is closed", None)
                if self._idle:
                    return self._idle.pop()
                if self._open < self._max:
                    self._open += 1
                    break
                self._cond.wait()
        try:
            return self._connect()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def _give(self, conn: Any) -> None:
        from psycopg.pq import TransactionStatus

        healthy = not conn.closed and not conn.broken and conn.info.transaction_status == TransactionStatus.IDLE
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(conn)
                self._cond.notify()
                return
            self._open -= 1
            self._cond.notify()
        conn.close()

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        conn = self._take()
        try:
            yield conn
        finally:
            self._give(conn)

    def _retrying(self, run: Callable[[Any], Any]) -> Any:
        """``run(conn)``; once more on a fresh connection when the pooled one turns out to be
        broken (the server restarted, an idle connection was cut) before anything could run."""
        import psycopg

        for tries in (1, 2):
            with self._connection() as conn:
                try:
                    return run(conn)
                except psycopg.OperationalError:
                    if tries == 2 or not conn.broken:
                        raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ the interface
    @contextmanager
    def tx(self, key: str | None = None) -> Iterator[_Cursor]:
        """One transaction (committed on success, rolled back on an exception); with ``key``, under
        that key's advisory lock (see the module docstring)."""
        import psycopg

        conn = self._take()
        try:
            try:
                conn.execute("BEGIN")
            except psycopg.OperationalError:
                if not conn.broken:
                    raise
                self._give(conn)  # dead before BEGIN (nothing ran): a fresh connection
                conn = None
                conn = self._take()
                conn.execute("BEGIN")
            try:
                if key is not None:
                    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{self.schema}:{key}",))
                yield _Cursor(conn)
            except BaseException:
                if not conn.broken:
                    try:
                        conn.execute("ROLLBACK")
                    except psycopg.Error:
                        pass  # the connection is dropped below (not idle)
                raise
            conn.execute("COMMIT")
        finally:
            if conn is not None:
                self._give(conn)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One write statement as a transaction of its own; the number of rows it changed."""
        return int(self._retrying(lambda conn: conn.execute(translate(sql), params).rowcount))

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read."""
        return list(self._retrying(lambda conn: conn.execute(translate(sql), params).fetchall()))

    def close(self) -> None:
        """Close every idle connection; the store is unusable afterwards."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for conn in idle:
            conn.close()


def _unavailable(message: str, error: Exception | None) -> Exception:
    from qclone.storage.errors import UnavailableError

    if error is None:
        return UnavailableError(message)
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UnavailableError(f"{message} ({first})")
