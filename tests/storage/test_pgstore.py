"""The PostgreSQL store of the substrate: URLs, schema, statements; a pool that survives a cut
connection; errors that never show the URL's password."""

from __future__ import annotations

import pytest

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import UnavailableError
from qclone.storage.pgstore import (
    DEFAULT_SCHEMA,
    connection_params,
    is_postgres_url,
    redact,
    schema_of,
    translate,
)
from qclone.storage.substrate import Substrate
from tests.storage.conftest import _connect


def test_urls_schema_and_statements():
    assert is_postgres_url("postgresql+psycopg://u@h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url("sqlite:///x.sqlite3") and not is_postgres_url(None)
    assert redact("postgresql+psycopg://u:pw@h:5433/db?sslmode=require") == "postgresql://u@h:5433/db"
    assert schema_of("postgresql://h/db") == DEFAULT_SCHEMA
    assert schema_of("postgresql://h/db?options=-csearch_path%3Dmine,public") == "mine"
    assert schema_of("postgresql://h/db?options=-c%20search_path%3D%22mine%22") == "mine"
    with pytest.raises(InvalidArgumentError, match="schema name"):
        schema_of("postgresql://h/db?options=-csearch_path%3D%24user")
    with pytest.raises(InvalidArgumentError, match="PostgreSQL URL"):
        Substrate(None, db_url="sqlite:///x")
    params = connection_params("postgresql://u:pw@h:5433/db?sslmode=require")
    assert params | {"autocommit": None} == {"host": "h", "port": 5433, "dbname": "db", "user": "u", "password": "pw",
                                             "sslmode": "require", "connect_timeout": 10, "autocommit": None}
    assert translate("SELECT 1 FROM t WHERE a = ? AND b LIKE 'x%'") == "SELECT 1 FROM t WHERE a = %s AND b LIKE 'x%%'"


def test_an_unreachable_database_is_unavailable_without_the_password():
    from tests.storage.procs import free_port

    with pytest.raises(UnavailableError) as e:
        Substrate(None, db_url=f"postgresql://qclone:s3cr3t-pw@127.0.0.1:{free_port()}/db?connect_timeout=2")
    assert "s3cr3t-pw" not in str(e.value) and "postgresql://qclone@127.0.0.1" in str(e.value)


@pytest.mark.service
def test_a_cut_connection_is_replaced(pg_schema_url):
    """The server ends every connection of the store (a restart, an idle timeout): the next calls
    work on fresh ones, and the store's description never holds a password."""
    from qclone.storage.inputs import parse_state

    sub = Substrate(None, db_url=pg_schema_url.replace("postgres@", "postgres:unused-pw@"), max_connections=2)
    assert "unused-pw" not in sub.store and sub.store.endswith(f"(schema {schema_of(pg_schema_url)})")
    sub.create("o", parse_state("bloch", [0, 0, 1]), 2, keep_reference=True)
    with _connect(pg_schema_url) as admin:
        cut = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                            (f"qclone-substrate {schema_of(pg_schema_url)}",)).fetchone()[0]
    assert cut >= 1
    assert sub.exists("o")  # a read on a cut connection: tried again on a fresh one
    assert sub.decrypt("o", 1, "a")["fidelity"] == pytest.approx(1.0)  # a transaction too
    assert sub.health()["outputs"] == 1


def test_a_substrate_node_refuses_a_database_it_cannot_use(tmp_path):
    """--db for a substrate node is PostgreSQL; vault and provider nodes take neither --db nor --workers."""
    from qclone.cli.main import main

    assert main(["serve", "--role", "substrate", "--data-dir", str(tmp_path / "s"),
                 "--db", f"sqlite:///{tmp_path / 'x.sqlite3'}"]) == 2
    assert main(["serve", "--role", "vault", "--data-dir", str(tmp_path / "v"), "--db", "postgresql://u@h/db"]) == 2
    assert main(["serve", "--role", "vault", "--data-dir", str(tmp_path / "v"), "--workers", "2"]) == 2


@pytest.mark.service
def test_the_embedded_substrate_follows_a_postgresql_db(tmp_path, pg_schema_url):
    """With ``--db postgresql://...`` the embedded server's substrate is in PostgreSQL; a data dir
    whose substrate file already holds an object keeps that file (its objects stay reachable)."""
    from qclone.storage.inputs import parse_state
    from qclone.storage.server import ServeOptions, local_substrate

    sub = local_substrate(ServeOptions(data_dir=tmp_path / "a", db_url=pg_schema_url).checked())
    assert sub.store.startswith("postgresql://") and sub.shared
    sub.close()
    old = Substrate(tmp_path / "b" / "substrate")
    old.create("o", parse_state("bloch", [0, 0, 1]), 2, keep_reference=True)
    old.close()
    kept = local_substrate(ServeOptions(data_dir=tmp_path / "b", db_url=pg_schema_url).checked())
    assert kept.store == str(tmp_path / "b" / "substrate" / "substrate.sqlite3") and kept.exists("o")
    kept.close()


def _call(app, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    """One request to a node's ASGI app, in this process."""
    import asyncio

    import orjson

    sent: list[dict] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path,
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], orjson.loads(sent[1]["body"])


@pytest.mark.service
def test_two_workers_of_one_node_share_enrollment_and_replay_refusal(tmp_path, pg_schema_url):
    """Two workers of one substrate node (one data dir, one PostgreSQL schema): the gateway enrolls
    through the first, the second knows it at once; the join token does not work again on the
    second; a signed request the first took is refused by the second (the nonce is in PostgreSQL)."""
    import orjson

    from qclone.storage.nodes import build_node
    from qclone.storage.rpc.keys import Identity, JoinToken, sign_request

    first = build_node("substrate", tmp_path, db_url=pg_schema_url, shared=True)
    second = build_node("substrate", tmp_path, db_url=pg_schema_url, shared=True)
    gateway = Identity.generate()
    token = JoinToken.parse((tmp_path / "join-token").read_text(), role="substrate")
    enroll = orjson.dumps({"gateway_key": gateway.key_id, "challenge": "c", "peers": {"vault": gateway.key_id},
                           "proof": token.proof(gateway.key_id)})
    assert _call(first, "/v1/enroll", enroll, {})[0] == 200
    status, answer = _call(second, "/v1/enroll", enroll, {})  # the same token again, to the other worker
    assert status == 401 and "enrolled already" in answer["error"]["message"]
    audience = first.keys.identity.key_id
    raw = orjson.dumps({"object_id": "o"})
    headers = sign_request(gateway, "POST", "/v1/exists", raw, audience=audience)
    assert _call(second, "/v1/exists", raw, headers) == (200, {"result": False})  # enrolled through the first
    status, answer = _call(first, "/v1/exists", raw, headers)  # the same request, to the other worker
    assert status == 401 and answer["error"]["message"] == "replayed request"
    fresh = sign_request(gateway, "POST", "/v1/exists", raw, audience=audience)
    assert _call(first, "/v1/exists", raw, fresh) == (200, {"result": False})
    for app in (first, second):
        app.component.close()
