"""A small SQLite file (or in-memory database) for the records of one vault or provider node.

One connection shared by the node's threads under a lock; WAL journal and
``synchronous=NORMAL`` for a file (a commit survives the process being killed;
a power loss may lose the last commits, as for the metadata database), or
``synchronous=FULL`` with ``durable=True`` (every commit also fsyncs the WAL,
so it survives a power loss). Each :meth:`LocalDB.tx` is one transaction.

Examples:
    >>> db = LocalDB(None, "CREATE TABLE t (x INTEGER)")
    >>> with db.tx() as c:
    ...     _ = c.execute("INSERT INTO t VALUES (1)")
    >>> db.query("SELECT x FROM t")
    [(1,)]
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class LocalDB:
    """SQLite at ``<data_dir>/<filename>`` (``data_dir`` None: in memory) with ``schema`` applied
    (statements separated by ``;``, or a sequence of statements, e.g. when a trigger body holds ``;``)."""

    #: what its statements raise (the PostgreSQL store, :class:`~qclone.storage.pgstore.PostgresStore`, has its own)
    Error: type[Exception] = sqlite3.Error
    IntegrityError: type[Exception] = sqlite3.IntegrityError

    def __init__(self, data_dir: Path | str | None, schema: str | Sequence[str], *, filename: str = "records.sqlite3",
                 durable: bool = False) -> None:
        if data_dir is None:
            target = ":memory:"
        else:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            target = str(Path(data_dir) / filename)
        self.path = None if data_dir is None else Path(target)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None, timeout=30)
        if data_dir is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        with self.tx() as c:
            for statement in schema.split(";") if isinstance(schema, str) else schema:
                if statement.strip():
                    c.execute(statement)

    @contextmanager
    def tx(self, key: str | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on an exception).
        ``key`` (what the transaction is about) changes nothing here: ``BEGIN IMMEDIATE`` already
        serialises every write transaction on the file."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def delete_objects(self, tables: Sequence[str], object_ids: Sequence[str]) -> None:
        """Delete every row of ``tables`` (this module's own table names, never input) whose
        ``object_id`` is one of ``object_ids``, in one transaction."""
        ids = tuple(object_ids)
        marks = ",".join("?" * len(ids))
        with self.tx() as c:
            for table in tables:
                c.execute(f"DELETE FROM {table} WHERE object_id IN ({marks})", ids)  # noqa: S608 - fixed table names

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """One write statement as a transaction of its own; the number of rows it changed."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read."""
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
