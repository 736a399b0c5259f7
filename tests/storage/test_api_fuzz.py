"""schemathesis against the gateway's OpenAPI document (the short form; ``make chaos`` runs the
long one), and a check that the harness does find server errors and schema violations."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from tests.storage.api_fuzz import fuzz, run_against_new_server
from tests.storage.procs import free_port

pytestmark = pytest.mark.service


def test_schemathesis_short_form(tmp_path):
    out = run_against_new_server(150, root=tmp_path)
    print(f"\nschemathesis: {out['requests']} requests, {out['server_errors']} server errors, "
          f"{out['schema_violations']} schema violations; statuses {out['statuses']}")
    assert out["requests"] >= 135, out
    assert out["server_errors"] == 0 and out["schema_violations"] == 0 and out["transport_errors"] == 0, out["failures"]
    assert "server_exited" not in out and out["logged_5xx"] == 0


class Thing(BaseModel):
    n: int


def test_the_harness_counts_server_errors_and_schema_violations():
    toy = FastAPI()

    @toy.get("/things/{n}", response_model=Thing)
    def thing(n: int):
        if n % 2:
            raise RuntimeError("boom")  # a 500
        return {"n": "not a number"} if n % 4 else {"n": n}  # FastAPI would refuse; bypass below

    @toy.middleware("http")
    async def lie(request, call_next):
        from fastapi.responses import JSONResponse

        try:
            return await call_next(request)
        except Exception:  # noqa: BLE001 - the toy turns any error into a 500
            return JSONResponse({"detail": "boom"}, status_code=500)

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(toy, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        out = fuzz(f"http://127.0.0.1:{port}", {}, 60)
    finally:
        server.should_exit = True
        thread.join(10)
    assert out["requests"] >= 50
    assert out["server_errors"] > 0 and out["schema_violations"] > 0
