"""Substrate statements per put + get round trip: the substrate in PostgreSQL beside its SQLite peer.

What runs: a :class:`~qclone.storage.service.StorageService` in process (metadata in SQLite
in memory, so every PostgreSQL statement is the substrate's; vault and four providers with
their files in a temporary directory), ``--rounds`` round trips of ``put`` (one qubit, n = 4,
a random Bloch vector, ``keep_reference``) then ``get`` with the acknowledgement, once with
the substrate in PostgreSQL (``Substrate(..., db_url=URL)``, a fresh schema dropped
afterwards; as a node, which writes memory noise for its other processes, and in process)
and on its SQLite file (the peer: shared as a node's or the embedded server's workers use
it, and the embedded default).

Counted per round trip: the substrate's calls (each one RPC when the substrate is a node;
a shared node also records each request's nonce, one ``INSERT``, counted here; as a node, the
substrate checks the vault's and the providers' signed releases and records them), and
the statements its store ran: ``BEGIN``/``COMMIT``, the advisory lock (PostgreSQL), reads and
writes; for PostgreSQL also every statement psycopg sent (the two counts agree), each a
network round trip to the database. Also the bytes of the joint-state rows written.

Run: ``.venv/bin/python bench/substrate_statements.py [--rounds 50] [--db postgresql://postgres@127.0.0.1:5432/test]``
"""

from __future__ import annotations

import argparse
import random
import secrets
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any


class _Counting:
    """Wraps a substrate's store, counting what it runs (by kind)."""

    def __init__(self, store: Any, counts: Counter, *, postgres: bool) -> None:
        self._store, self._counts, self._pg = store, counts, postgres

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _count(self, sql: str, params: Any = ()) -> None:
        verb = sql.split(None, 1)[0].upper()
        self._counts[verb] += 1
        if sql.startswith(("INSERT INTO joint", "UPDATE joint")):
            self._counts["joint bytes"] += len(params[0] if sql.startswith("UPDATE") else params[1])

    def tx(self, key: str | None = None) -> Any:
        counts, count, pg = self._counts, self._count, self._pg
        inner = self._store.tx(key=key)

        class _Tx:
            def __enter__(self) -> Any:
                cursor = inner.__enter__()
                counts["BEGIN"] += 1
                if pg and key is not None:
                    counts["advisory lock"] += 1

                class _C:
                    def execute(self, sql: str, params: Any = ()) -> Any:
                        count(sql, params)
                        return cursor.execute(sql, params)

                return _C()

            def __exit__(self, *exc: Any) -> Any:
                counts["COMMIT" if exc[0] is None else "ROLLBACK"] += 1
                return inner.__exit__(*exc)

        return _Tx()

    def query(self, sql: str, params: Any = ()) -> Any:
        self._count(sql, params)
        return self._store.query(sql, params)

    def execute(self, sql: str, params: Any = ()) -> Any:
        self._count(sql, params)
        return self._store.execute(sql, params)


class _Calls:
    """Forwards to the substrate, counting its public calls; ``node``: each call first records a
    request nonce, as a node's request check does (:class:`qclone.storage.rpc.server.NodeApp`)."""

    def __init__(self, target: Any, counts: Counter, *, node: bool) -> None:
        self._target, self._counts, self._node = target, counts, node

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and not name.startswith("_"):
            def call(*a: Any, **kw: Any) -> Any:
                self._counts[name] += 1
                if self._node and self._target.shared:
                    assert self._target.remember_request(secrets.token_urlsafe(18), time.time() + 60.0)
                return value(*a, **kw)
            return call
        return value


def run(label: str, root: Path, rounds: int, db_url: str | None, shared: bool, in_process: bool) -> None:
    import psycopg

    from qclone.storage.clock import SettableClock
    from qclone.storage.db import Database
    from qclone.storage.inputs import parse_state
    from qclone.storage.provider import ProviderNode
    from qclone.storage.rpc.keys import Identity, check_grant
    from qclone.storage.service import HolderDirectory, ProviderDirectory, StorageService
    from qclone.storage.substrate import Substrate
    from qclone.storage.vault import KeyVault

    node = not in_process  # a node checks the vault's and the providers' signed releases
    issuer = Identity.generate() if node else None

    def authorize(grant: Any, object_id: str, attempt: str, party: str = "vault", purpose: str = "decrypt") -> str:
        assert issuer is not None
        return check_grant(grant, issuer.key_id, object_id, attempt, purpose=purpose)

    def provider(record: Any) -> Any:
        return ProviderNode(record["id"], root / "providers" / record["id"], zone=record["zone"], t1=record["t1"],
                            t2=record["t2"], issuer=issuer)

    sub = Substrate(root / "substrate", db_url=db_url, shared=shared, in_process=in_process,
                    authorize=authorize if node else None)
    store_counts, calls, wire = Counter(), Counter(), Counter()
    sub._db = _Counting(sub._db, store_counts, postgres=db_url is not None)  # noqa: SLF001 - counting its statements
    clock = SettableClock(root / "clock.json", start=1000.0)
    service = StorageService(Database.open("sqlite://"), _Calls(sub, calls, node=node),
                             KeyVault(root / "vault", issuer=issuer), ProviderDirectory(provider), clock,
                             holders=HolderDirectory.local(root))
    for i in range(4):
        service.providers_add(f"p{i + 1}", zone=f"z{i + 1}")
    tenant = service.authenticate(service.create_tenant("bench"))
    rng = random.Random(5)
    original = psycopg.Connection.execute

    def counted(self: Any, query: Any, *a: Any, **kw: Any) -> Any:
        wire[str(query).split(None, 1)[0].upper()] += 1
        return original(self, query, *a, **kw)

    psycopg.Connection.execute = counted  # type: ignore[method-assign]  # counting what reaches PostgreSQL
    try:
        for r in range(rounds):
            v = [rng.uniform(-1, 1) for _ in range(3)]
            norm = sum(x * x for x in v) ** 0.5
            service.put(tenant, f"o{r}", parse_state("bloch", [x / norm for x in v]), keep_reference=True)
            clock.advance(60.0)
            service.get(tenant, f"o{r}", ack=True)
    finally:
        psycopg.Connection.execute = original  # type: ignore[method-assign]  # put back
    statements = sum(v for k, v in store_counts.items() if k != "joint bytes")
    print(f"\n{label}: {rounds} round trips (put + get with ack), per round trip:")
    print(f"  substrate calls {sum(calls.values()) / rounds:.2f}: "
          + ", ".join(f"{k} {v / rounds:g}" for k, v in sorted(calls.items())))
    print(f"  store statements {statements / rounds:.2f}: "
          + ", ".join(f"{k} {v / rounds:g}" for k, v in sorted(store_counts.items()) if k != "joint bytes"))
    print(f"  joint-state bytes written {store_counts['joint bytes'] / rounds:.0f}")
    if db_url is not None:
        print(f"  sent to PostgreSQL by psycopg {sum(wire.values()) / rounds:.2f} (one network round trip each)")
    sub.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test", help="a PostgreSQL server")
    args = ap.parse_args()
    import psycopg

    from qclone.storage.pgstore import connection_params, redact

    schema = f"qclone_bench_{uuid.uuid4().hex[:10]}"
    url = f"{args.db}{'&' if '?' in args.db else '?'}options=-csearch_path%3D{schema}"
    print(f"PostgreSQL {redact(args.db)}, schema {schema}")
    variants = [
        ("substrate node in PostgreSQL (--role substrate --db URL)", url, True, False),
        ("substrate in PostgreSQL in process (embedded or gateway with --db URL)", url, True, True),
        ("peer: SQLite, substrate node with --workers N (shared file)", None, True, False),
        ("peer: SQLite, embedded with --workers N (shared file, in process)", None, True, True),
        ("peer: SQLite, one process (the embedded default)", None, False, True),
    ]
    try:
        for label, db_url, shared, in_process in variants:
            with tempfile.TemporaryDirectory() as d:
                run(label, Path(d), args.rounds, db_url, shared, in_process)
    finally:
        with psycopg.connect(**connection_params(args.db)) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
