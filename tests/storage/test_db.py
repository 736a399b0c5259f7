"""The metadata database: engine settings, migrations, and the models agreeing with them."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from qclone.errors import InvalidArgumentError
from qclone.storage.db import Database, create_db_engine, default_url
from qclone.storage.models import metadata


def test_migrations_create_the_models_tables(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        assert db.revision() == "0007_ui_sessions"
        db.upgrade()  # idempotent
        assert db.revision() == "0007_ui_sessions"
        insp = inspect(db.engine)
        for table in metadata.sorted_tables:
            columns = {c["name"]: c for c in insp.get_columns(table.name)}
            assert set(columns) == {c.name for c in table.columns}, table.name
            for c in table.columns:
                assert columns[c.name]["nullable"] == c.nullable, (table.name, c.name)
        uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("objects")}
        assert ("tenant_id", "name") in uniques
    finally:
        db.dispose()


def test_downgrade_removes_everything(database_url: str) -> None:
    db = Database.open(database_url)
    try:
        db.downgrade("base")
        assert db.revision() is None
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.upgrade()
        assert db.revision() == "0007_ui_sessions"
    finally:
        db.dispose()


def test_sqlite_file_settings(tmp_path) -> None:
    db = Database.open(data_dir=tmp_path)
    try:
        assert db.url.endswith("gateway.sqlite3")
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()


def test_default_url() -> None:
    assert default_url(None) == "sqlite://"
    assert default_url("/x/y").startswith("sqlite:////")


@pytest.mark.parametrize(("url", "schema", "match"), [
    ("not a url", None, "bad database URL"),
    ("mysql://u@h/db", None, "unsupported database"),
    ("sqlite://", "s", "only be given for PostgreSQL"),
    ("postgresql://u@h/db", "bad-name;", "schema name"),
])
def test_bad_database_settings(url: str, schema: str | None, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        create_db_engine(url, schema=schema)


@pytest.mark.service
def test_postgresql_schema_option(postgres_server: str) -> None:
    import uuid

    schema = f"qclone_test_{uuid.uuid4().hex[:12]}"
    db = Database.open(postgres_server, schema=schema)
    try:
        assert db.revision() == "0007_ui_sessions"
        with db.read() as conn:
            assert conn.exec_driver_sql("select current_schema()").scalar() == schema
            assert conn.exec_driver_sql(
                "select count(*) from information_schema.tables where table_schema = %(s)s", {"s": schema}).scalar() >= 6
    finally:
        with db.engine.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            conn.commit()
        db.dispose()


def test_json_serializer_matches_json_dumps() -> None:
    import json

    from qclone.storage.db import JSONDocument, json_serializer

    for value in [{"a": [1, 2.5, None, True], "b": {"c": "é"}}, {1: "int key"}, [2**70], "x", 0.1 + 0.2]:
        assert json.loads(json_serializer(value)) == json.loads(json.dumps(value)), value
    doc = JSONDocument(summary={"safe": True})
    assert json_serializer(doc) is doc.text
