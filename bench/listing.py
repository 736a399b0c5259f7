"""Paged object listing: page latency at 10^3..10^5 objects beside a plain ``SELECT ... LIMIT``.

What runs, on one database (SQLite in a temporary directory by default, or ``--db URL``,
e.g. PostgreSQL, in a fresh schema):

* **qclone API**: ``GET /v1/objects?limit=P&cursor=C`` through the gateway app in-process
  (FastAPI's test client: routing, authentication, the service call, JSON encoding), for the
  first page, a page in the middle and the last page of a tenant with N objects.
* **qclone service**: ``StorageService.list_page`` for the same pages (no HTTP).
* **peer**: the same page read with one hand-written keyset ``SELECT ... WHERE (created_at,
  name) > (...) ORDER BY created_at, name LIMIT P`` on the same engine: the floor for this
  query on this database.
* **offset** (for contrast): ``... ORDER BY created_at, name LIMIT P OFFSET k``, the paging
  a cursor replaces; its deep pages grow with N.

The tenant's objects are inserted as rows in bulk (the listing reads only the metadata
database); a second tenant holds as many objects, so the index must also skip them.
Printed: median milliseconds per page (of ``--repeat`` reads), the HTTP floor (the same
client and app answering ``GET /v1/health``: what HTTP alone costs), the ratio service/peer,
and per route the flatness: the median page (first, middle, last) at the largest N over the
median page at the smallest N (target: within 2x), and the slowest page likewise.

Run: ``.venv/bin/python bench/listing.py [--sizes 1000,10000,100000] [--page 100] [--repeat 30] [--db URL]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

TARGET_FLATNESS = 2.0


def _rows(tenant_id: str, count: int, start: int) -> list[dict[str, Any]]:
    return [{"id": uuid.uuid4().hex, "tenant_id": tenant_id, "name": f"obj-{i:08d}", "k": 1, "n": 4,
             "policy": "distinct-providers", "state": "stored", "created_at": 1000.0 + i // 4, "stored_at": 1000.0 + i // 4,
             "keep_reference": False, "purge_pending": False, "placement": [], "audit": {}, "fence": 0}
            for i in range(start, start + count)]


def _median_ms(fn: Any, repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def _measure(*, client: Any, auth: dict[str, str], service: Any, tenant: Any, db: Any, page: int, repeat: int,
             expect: int, position: int, cursor: str | None, after: tuple[float, str] | None,
             sql: tuple[Any, Any, Any]) -> tuple[float, ...]:
    """Median ms of one page read five ways: API, HTTP floor, service, keyset peer, offset."""
    first_sql, peer_sql, offset_sql = sql
    params: dict[str, Any] = {"limit": page} | ({"cursor": cursor} if cursor else {})

    def api() -> None:
        r = client.get("/v1/objects", params=params, headers=auth)
        assert r.status_code == 200 and len(r.json()["objects"]) == expect

    def floor() -> None:  # the same client and app answering its cheapest route: HTTP's share
        client.get("/v1/health")

    def svc() -> None:
        service.list_page(tenant, limit=page, cursor=cursor)

    def peer() -> None:
        with db.read() as conn:
            if after is None:
                conn.execute(first_sql, {"t": tenant.id, "l": page + 1}).all()
            else:
                conn.execute(peer_sql, {"t": tenant.id, "a": after[0], "n": after[1], "l": page + 1}).all()

    def offset() -> None:
        with db.read() as conn:
            conn.execute(offset_sql, {"t": tenant.id, "l": page + 1, "o": position}).all()

    return tuple(_median_ms(f, repeat) for f in (api, floor, svc, peer, offset))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="objects in the tenant, comma-separated (ascending)")
    ap.add_argument("--page", type=int, default=100, help="objects per page")
    ap.add_argument("--repeat", type=int, default=30, help="reads per measured page")
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temporary directory)")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    from fastapi.testclient import TestClient
    from sqlalchemy import insert, text

    from qclone.storage.api import create_app
    from qclone.storage.clock import SettableClock
    from qclone.storage.db import Database
    from qclone.storage.models import objects
    from qclone.storage.service import HolderDirectory, ProviderDirectory, StorageService
    from qclone.storage.substrate import Substrate
    from qclone.storage.vault import KeyVault

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        schema = None if args.db is None or args.db.startswith("sqlite") else f"qclone_bench_{uuid.uuid4().hex[:10]}"
        db = Database.open(args.db or f"sqlite:///{d / 'meta.db'}", schema=schema)
        service = StorageService(db, Substrate(d / "substrate", durable=False), KeyVault(d / "vault"),
                                 ProviderDirectory.local(d), SettableClock(d / "clock.json", start=1000.0),
                                 holders=HolderDirectory.local(d))
        token = service.create_tenant("bench")
        tenant = service.authenticate(token)
        other = service.authenticate(service.create_tenant("other"))
        client = TestClient(create_app(service, admin_token="adm-" + "x" * 28))
        auth = {"Authorization": f"Bearer {token}"}
        print(f"database: {db.dialect}; page = {args.page} objects; median of {args.repeat} reads; ms per page")
        print(f"{'objects':>9} {'page':>6} {'API':>8} {'HTTP':>8} {'service':>8} {'peer':>8} {'svc/peer':>9} {'offset':>8}")
        have = 0
        results: dict[str, dict[int, list[float]]] = {"API": {}, "service": {}, "peer": {}, "offset": {}}
        peer_sql = text("SELECT name, id, state, k, n, policy, created_at, stored_at, finished_at FROM objects "
                        "WHERE tenant_id = :t AND created_at >= :a AND (created_at > :a OR name > :n) "
                        "ORDER BY created_at, name LIMIT :l")
        first_sql = text("SELECT name, id, state, k, n, policy, created_at, stored_at, finished_at FROM objects "
                         "WHERE tenant_id = :t ORDER BY created_at, name LIMIT :l")
        offset_sql = text("SELECT name, id, state, k, n, policy, created_at, stored_at, finished_at FROM objects "
                          "WHERE tenant_id = :t ORDER BY created_at, name LIMIT :l OFFSET :o")
        for size in sizes:
            for start in range(have, size, 20_000):
                batch = min(20_000, size - start)
                with db.write() as conn:
                    conn.execute(insert(objects), _rows(tenant.id, batch, start))
                    conn.execute(insert(objects), _rows(other.id, batch, start))
            have = size
            for where, position in (("first", 0), ("middle", size // 2), ("last", size - args.page)):
                position = max(0, position)
                if position == 0:
                    cursor = None
                    after: tuple[float, str] | None = None
                else:  # the cursor of the page that ends just before this position
                    with db.read() as conn:
                        row = conn.execute(offset_sql, {"t": tenant.id, "l": 1, "o": position - 1}).one()
                    after = (row.created_at, row.name)
                    from qclone.storage.paging import encode_cursor

                    cursor = encode_cursor("objects", *after)
                t_api, t_http, t_svc, t_peer, t_off = _measure(
                    client=client, auth=auth, service=service, tenant=tenant, db=db, page=args.page, repeat=args.repeat,
                    expect=min(args.page, size - position), position=position, cursor=cursor, after=after,
                    sql=(first_sql, peer_sql, offset_sql))
                for name, value in (("API", t_api), ("service", t_svc), ("peer", t_peer), ("offset", t_off)):
                    results[name].setdefault(size, []).append(value)
                print(f"{size:>9,} {where:>6} {t_api:>8.2f} {t_http:>8.2f} {t_svc:>8.2f} {t_peer:>8.2f} "
                      f"{t_svc / t_peer:>8.1f}x {t_off:>8.2f}")
        smallest, largest = sizes[0], sizes[-1]
        for name, by_size in results.items():
            flat = statistics.median(by_size[largest]) / statistics.median(by_size[smallest])
            worst = max(by_size[largest]) / statistics.median(by_size[smallest])
            verdict = "ok" if flat <= TARGET_FLATNESS else "NOT flat"
            target = "(contrast: offsets grow)" if name == "offset" else f"(target <= {TARGET_FLATNESS:g}x: {verdict})"
            print(f"flatness {name:>7}: median page at {largest:,} / at {smallest:,} = {flat:.2f}x, slowest page "
                  f"{worst:.2f}x {target}")
        if schema is not None:
            with db.engine.connect() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                conn.commit()
        db.dispose()


if __name__ == "__main__":
    main()
