"""Arbitrary JSON bodies, paths and query strings through the real gateway app (in process, an
embedded service in a temporary data dir): never a 5xx, always the JSON error body."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qclone.storage.server import ServeOptions, build_app
from tests.storage.procs import read_token

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.sampled_from(["state", "kind", "data", "clones", "force", "policy", "keep_reference", "basis", "shots",
                         "seed", "id", "zone", "t1", "t2", "url", "name", "now", "advance", "destroy", "x"]),
        inner, max_size=5),
    max_leaves=30,
)
ROUTES = [("PUT", "/v1/objects/{n}"), ("POST", "/v1/objects/{n}"), ("POST", "/v1/objects/{n}/get"),
          ("POST", "/v1/providers"), ("POST", "/v1/providers/{n}/kill"), ("POST", "/v1/tenants"),
          ("POST", "/v1/admin/clock"), ("GET", "/v1/objects/{n}"), ("GET", "/v1/objects/{n}/peek"),
          ("DELETE", "/v1/objects/{n}"), ("GET", "/v1/audit-log")]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    data = tmp_path_factory.mktemp("gateway-fuzz")
    app = build_app(ServeOptions(data_dir=data, settable_clock=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"tenant": read_token(data), "admin": read_token(data, "admin-token")}


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(ROUTES), body=json_values, name=st.text(min_size=1, max_size=40),
       who=st.sampled_from(["tenant", "admin"]), raw=st.booleans(),
       query=st.dictionaries(st.sampled_from(["limit", "audit", "provider"]), st.text(max_size=25), max_size=2))
def test_no_body_path_or_query_gives_a_server_error(gateway, route, body, name, who, raw, query):
    client, tokens = gateway
    method, path = route
    url = path.replace("{n}", quote(name, safe=""))
    content = json.dumps(body).encode() if not raw else json.dumps(body)[::-1].encode()  # also broken JSON
    r = client.request(method, url, content=content if method != "GET" else None, params=query,
                       headers={"authorization": f"Bearer {tokens[who]}", "content-type": "application/json"})
    assert r.status_code < 500, (method, url, body, r.text)
    assert r.headers["x-request-id"]
    if r.status_code >= 400:
        assert set(r.json()["error"]) == {"type", "message", "request_id"}
