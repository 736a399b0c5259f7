"""Statement counters of one process's PostgreSQL connections, for the scale-out benchmark.

Off unless the environment variable ``QCLONE_DB_STATS`` names a directory when a connection is
made (an engine of :func:`qclone.storage.db.create_db_engine`, the substrate's
:class:`~qclone.storage.pgstore.PostgresStore`). Then every such PostgreSQL connection gets the
cursor class of :func:`counting_cursor`: each statement sent (``execute``; each
parameter set of an ``executemany``) is counted by its kind (:func:`kind_of`), with the bytes of its SQL text and parameters (``bytes``: what
the process hands the driver, not the wire: the benchmark measures the wire with ``ss``). A
daemon thread writes the counts to ``DIR/<pid>.json`` (replaced atomically) every
:data:`FLUSH_SECONDS` while they change, so a reader sums every process's file, whatever
kills it. Both SQLAlchemy's statements and the prepared ones of
:meth:`~qclone.storage.db.Database.fast_write` go through the connection's cursor factory, so
both are counted. Transactions are not: ``pg_stat_database`` counts them.

Examples:
    >>> kind_of("  SELECT 1")
    'select'
    >>> kind_of("WITH x AS (SELECT 1) SELECT * FROM x"), kind_of(";"), kind_of("COMMIT")
    ('other', 'empty', 'transaction')
    >>> size_of({"a": b"xyz", "b": 12, "c": None})
    11
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["ENV", "FLUSH_SECONDS", "KINDS", "counting_cursor", "enabled", "install", "kind_of", "read_counts",
           "size_of", "snapshot"]

#: The environment variable naming the directory the counts are written to.
ENV = "QCLONE_DB_STATS"
#: Seconds between two writes of the counts (only when they changed).
FLUSH_SECONDS = 0.25
KINDS = ("select", "insert", "update", "delete", "transaction", "empty", "other")
_TRANSACTION = frozenset(("begin", "commit", "rollback", "savepoint", "release", "start", "end"))

_lock = threading.Lock()
_counts: dict[str, int] = {**dict.fromkeys(KINDS, 0), "statements": 0, "bytes": 0}
_writer: list[threading.Thread] = []


def kind_of(sql: Any) -> str:
    """The statement's kind: ``select``, ``insert``, ``update``, ``delete`` by its first keyword;
    ``transaction`` for ``BEGIN``, ``COMMIT``, ``ROLLBACK``, savepoints; ``empty`` for a statement
    with no keyword (``;``: how SQLAlchemy checks a pooled connection on checkout); else ``other``."""
    text = sql.decode(errors="replace") if isinstance(sql, bytes) else str(sql)
    word = text.strip().lstrip("(").split(None, 1)[0].rstrip(";").lower() if text.strip() else ""
    if not word:
        return "empty"
    if word in _TRANSACTION:
        return "transaction"
    return word if word in KINDS else "other"


def size_of(params: Any) -> int:
    """Bytes of a parameter set as handed to the driver: strings as UTF-8, bytes as they are,
    numbers as 8, None as 0 (an estimate of the payload, not of the wire format)."""
    if params is None:
        return 0
    values: Iterable[Any] = params.values() if isinstance(params, dict) else params
    total = 0
    for v in values:
        if v is None:
            continue
        if isinstance(v, (bytes, bytearray, memoryview)):
            total += len(v)
        elif isinstance(v, str):
            total += len(v.encode())
        else:
            total += 8
    return total


def _add(sql: Any, params_list: list[Any]) -> None:
    kind = kind_of(sql)
    text = len(sql) if isinstance(sql, (bytes, str)) else len(str(sql))
    size = sum(text + size_of(p) for p in params_list)
    with _lock:
        _counts[kind] += len(params_list)
        _counts["statements"] += len(params_list)
        _counts["bytes"] += size


@lru_cache(maxsize=1)
def counting_cursor() -> type:
    """The psycopg cursor class that counts what it sends (see the module docstring); made on
    first use, so that importing this module does not import the driver."""
    import psycopg

    class CountingCursor(psycopg.Cursor):
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            _add(query, [params])
            return super().execute(query, params, **kw)

        def executemany(self, query: Any, params_seq: Iterable[Any], **kw: Any) -> None:
            params_list = list(params_seq)
            _add(query, params_list)
            return super().executemany(query, params_list, **kw)

    return CountingCursor


def enabled() -> bool:
    """Whether this process counts (``QCLONE_DB_STATS`` names a directory)."""
    return bool(os.environ.get(ENV))


def snapshot() -> dict[str, int]:
    """This process's counts so far."""
    with _lock:
        return dict(_counts)


def _write_loop(directory: Path) -> None:
    last: dict[str, int] | None = None
    pid = os.getpid()
    while True:
        now = snapshot()
        if now != last:
            tmp = directory / f".{pid}.tmp"
            tmp.write_text(json.dumps(now))
            os.replace(tmp, directory / f"{pid}.json")
            last = now
        threading.Event().wait(FLUSH_SECONDS)


def install(dbapi_connection: Any) -> None:
    """Count the statements of this psycopg connection; start this process's writer once."""
    dbapi_connection.cursor_factory = counting_cursor()
    directory = Path(os.environ[ENV])
    with _lock:
        if _writer and _writer[0].is_alive() and getattr(_writer[0], "pid", None) == os.getpid():
            return
        directory.mkdir(parents=True, exist_ok=True)
        thread = threading.Thread(target=_write_loop, args=(directory,), name="qclone-dbstats", daemon=True)
        thread.pid = os.getpid()  # type: ignore[attr-defined]  # a forked child starts its own writer
        _writer[:] = [thread]
    thread.start()


def read_counts(directory: Path) -> dict[int, dict[str, int]]:
    """Every process's counts in ``directory`` (pid -> counts), as last written."""
    out: dict[int, dict[str, int]] = {}
    for path in Path(directory).glob("*.json"):
        try:
            out[int(path.stem)] = json.loads(path.read_text())
        except (ValueError, OSError):
            continue  # being replaced, or not one of ours
    return out
