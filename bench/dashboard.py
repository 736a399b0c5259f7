"""The dashboard's pages beside the JSON API calls they show, with many objects in one tenant.

A service built as the embedded server builds it (``qclone serve --data-dir TMP --settable-clock``:
SQLite metadata, the exact engine's substrate, the vault and four providers in the data dir)
gets ``--objects`` objects (default 10 000) in one tenant through ``StorageService.put`` (in
process: no HTTP for the set-up), each one qubit as n = 4 clones with a kept reference. Then
the gateway app (API and dashboard, one ASGI app, as ``qclone serve`` runs it) is driven in
process; for each page, ``--repeat`` alternating requests of the page and of its API call, and
their median server times (the time the app takes to answer, no network):

=====================================  =========================================
dashboard page                         the JSON API call it shows
=====================================  =========================================
``/ui/objects`` (first page of 50)     ``GET /v1/objects?limit=50``
``/ui/objects?cursor=`` (page 100)     ``GET /v1/objects?limit=50&cursor=``
``/ui/objects/{name}``                 ``GET /v1/objects/{name}?audit=full``
``/ui/audit`` (first page of 50)       ``GET /v1/audit-log?limit=50``
``/ui/providers`` (the admin)          ``GET /v1/providers``
=====================================  =========================================

Prints both times and their ratio per page (the target: within 2×), and the 1-minute load
average (the machine is shared).

Run: ``.venv/bin/python bench/dashboard.py [--objects 10000] [--repeat 15]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def build(objects: int) -> tuple[Any, Any, str, str, Path]:
    from qclone.storage.api import create_app
    from qclone.storage.inputs import parse_state
    from qclone.storage.server import ServeOptions, admin_token_of, build_service, first_start

    data_dir = Path(tempfile.mkdtemp(prefix="qclone-bench-dashboard-"))
    opts = ServeOptions(data_dir=data_dir, settable_clock=True).checked()
    service = build_service(opts)
    first_start(service, opts)
    token = (data_dir / "token").read_text().strip()
    tenant = service.authenticate(token)
    state = parse_state("bloch", [0.6, 0.0, 0.8])
    started = time.perf_counter()
    for i in range(objects):
        service.put(tenant, f"obj-{i:06d}", state, clones=4, keep_reference=True)
        if (i + 1) % 1000 == 0:
            print(f"  stored {i + 1} objects ({time.perf_counter() - started:.0f} s)", flush=True)
    admin = admin_token_of(data_dir)
    app = create_app(service, admin_token=admin, ui_state_dir=str(data_dir))
    return service, app, token, admin, data_dir


def sign_in(client: Any, token: str) -> None:
    page = client.get("/ui/login")
    login_token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/ui/login", data={"token": token, "login_token": login_token}, follow_redirects=False)
    assert r.status_code == 303, r.text


def timed(client: Any, path: str, headers: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    r = client.get(path, headers=headers or {})
    took = time.perf_counter() - t0
    assert r.status_code == 200, (path, r.status_code, r.text[:200])
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    print(f"storing {args.objects} objects in one tenant (exact engine, in process) ...", flush=True)
    service, app, token, admin, data_dir = build(args.objects)
    try:
        ui, admin_ui, api = (TestClient(app, base_url="http://127.0.0.1") for _ in range(3))
        sign_in(ui, token)
        sign_in(admin_ui, admin)
        bearer = {"Authorization": f"Bearer {token}"}
        admin_bearer = {"Authorization": f"Bearer {admin}"}
        # the cursor of page 100 (objects 4951..5000), by following the API's pages
        cursor = None
        for _ in range(99):
            cursor = api.get("/v1/objects", params={"limit": 50, **({"cursor": cursor} if cursor else {})},
                             headers=bearer).json().get("next_cursor")
            if cursor is None:
                break
        name = f"obj-{args.objects // 2:06d}"
        cases = [
            ("objects, first page", ui, "/ui/objects", "/v1/objects?limit=50", bearer),
            ("object", ui, f"/ui/objects/{name}", f"/v1/objects/{name}?audit=full", bearer),
            ("audit log, first page", ui, "/ui/audit", "/v1/audit-log?limit=50", bearer),
            ("providers", admin_ui, "/ui/providers", "/v1/providers", admin_bearer),
        ]
        if cursor is not None:
            cases.insert(1, ("objects, page 100", ui, f"/ui/objects?cursor={cursor}",
                             f"/v1/objects?limit=50&cursor={cursor}", bearer))
        else:
            print("  (the API has no cursor paging here: page 100 is not measured)")
        print(f"\n{'page':<24}{'dashboard ms':>14}{'JSON API ms':>14}{'ratio':>8}   API call")
        for label, client, page, call, headers in cases:
            timed(client, page)
            timed(api, call, headers)  # warm both
            pages, calls = [], []
            for _ in range(args.repeat):
                pages.append(timed(client, page))
                calls.append(timed(api, call, headers))
            p, c = 1000 * statistics.median(pages), 1000 * statistics.median(calls)
            print(f"{label:<24}{p:>14.2f}{c:>14.2f}{p / c:>8.2f}   GET {call.split('?')[0]}", flush=True)
        print(f"\n{args.objects} objects; medians of {args.repeat}; load average {os.getloadavg()[0]:.2f} (2 cores, shared)")
    finally:
        service.close()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
