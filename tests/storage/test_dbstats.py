"""Statement counters of the scale-out benchmark: what they count, on a real PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qclone.storage import dbstats


def test_kinds_and_sizes() -> None:
    assert [dbstats.kind_of(s) for s in ("select 1", "\n INSERT INTO t", b"UPDATE t", "delete from t", "BEGIN", "",
                                         " ; ", "commit;", "(SELECT 1)", "CREATE TABLE t")] == [
        "select", "insert", "update", "delete", "transaction", "empty", "empty", "transaction", "select", "other"]
    assert dbstats.size_of(None) == 0
    assert dbstats.size_of(("é", b"\x00\x01", 3, 2.5, None)) == 2 + 2 + 8 + 8
    assert dbstats.size_of({"a": "abc"}) == 3


@pytest.mark.service
def test_counts_every_statement_of_an_engine_and_writes_them(pg_schema_url: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text

    from qclone.storage.db import Database, create_db_engine

    plain = create_db_engine(pg_schema_url)  # before the variable is set: not counted
    monkeypatch.setenv(dbstats.ENV, str(tmp_path))
    db = Database(create_db_engine(pg_schema_url))
    try:
        with db.write() as c:
            c.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY, v BYTEA)"))
        before = dbstats.snapshot()
        with db.write() as c:
            c.execute(text("INSERT INTO t VALUES (:k, :v)"), [{"k": "a", "v": b"12345"}, {"k": "b", "v": b"6"}])
            c.execute(text("UPDATE t SET v = :v WHERE k = :k"), {"k": "a", "v": b"xy"})
        with db.read() as c:
            assert c.execute(text("SELECT count(*) FROM t")).scalar() == 2
        with plain.connect() as c:
            c.execute(text("SELECT 1"))
        after = dbstats.snapshot()
        delta = {k: after[k] - before.get(k, 0) for k in after}
        # two inserts (one executemany), one update, one select; the pool's check on checkout: an empty statement
        assert delta["insert"] == 2 and delta["update"] == 1 and delta["delete"] == 0 and delta["select"] == 1
        assert delta["empty"] >= 1 and delta["statements"] == sum(delta[k] for k in dbstats.KINDS)
        assert delta["bytes"] > len("INSERT INTO t VALUES") * 2 + 5 + 1 + 1 + 1
        deadline = time.monotonic() + 5
        import os

        while time.monotonic() < deadline:
            written = dbstats.read_counts(tmp_path).get(os.getpid())
            if written is not None and written["statements"] >= after["statements"]:
                break
            time.sleep(0.05)
        assert written is not None and written["statements"] >= after["statements"]
    finally:
        db.dispose()
        plain.dispose()
