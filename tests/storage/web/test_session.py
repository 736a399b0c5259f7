"""Dashboard sessions over several gateways: the cookie key in each gateway's data dir (copied),
the sign-outs in the one metadata database they share (SQLite here, PostgreSQL in the service group)."""

from __future__ import annotations

import shutil
import sqlite3

from qclone.storage.db import Database
from qclone.storage.web.session import SessionKeeper


def test_a_sign_out_at_one_gateway_holds_at_every_other(database_url, tmp_path):
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    db_a, db_b = Database.open(database_url), Database.open(database_url)  # each gateway its own engine
    try:
        a = SessionKeeper(a_dir, database=db_a)
        b_dir.mkdir()
        shutil.copy(a_dir / "ui-secret", b_dir / "ui-secret")  # what a new gateway's operator copies
        b = SessionKeeper(b_dir, database=db_b)
        session, value = a.issue("tok", admin=False)
        assert b.read(value) == session  # signed in at a, valid at b
        b.revoke(session)
        b.revoke(session)  # twice (two gateways signing the same cookie out): one record
        assert a.read(value) is None and b.read(value) is None
        assert SessionKeeper(a_dir, database=db_a).read(value) is None  # a restarted gateway too
        assert not (a_dir / "ui-sessions.sqlite3").exists()  # nothing kept per gateway
        other, other_value = a.issue("tok", admin=False)
        assert b.read(other_value) == other  # only that session
    finally:
        db_a.dispose()
        db_b.dispose()


def test_sign_outs_kept_in_the_data_dir_move_into_the_database(tmp_path):
    old = SessionKeeper(tmp_path)  # an earlier version: a file in the data dir
    gone, gone_value = old.issue("tok", admin=True)
    kept, kept_value = old.issue("tok", admin=True)
    old.revoke(gone)
    assert (tmp_path / "ui-sessions.sqlite3").exists()
    db = Database.open(f"sqlite:///{tmp_path / 'meta.sqlite3'}")
    try:
        new = SessionKeeper(tmp_path, database=db)
        assert new.read(gone_value) is None  # still signed out after the upgrade
        assert new.read(kept_value) == kept
        assert not (tmp_path / "ui-sessions.sqlite3").exists()
        with sqlite3.connect(tmp_path / "meta.sqlite3") as conn:
            assert conn.execute("SELECT sid FROM ui_revoked_sessions").fetchall() == [(gone.sid,)]
    finally:
        db.dispose()
