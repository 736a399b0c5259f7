"""The OpenAPI document is real: every route declares its request and response schemas, the
bearer authentication and its error responses, and the request models are what FastAPI
validates (a body the model refuses never reaches the service)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from qclone.storage.api import create_app
from qclone.storage.clock import SettableClock


class _Recorder:
    """A service that records calls (none may happen for an invalid body)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., object]:  # any service method
        def call(*a: object, **kw: object) -> object:
            self.calls.append(name)
            raise AssertionError(f"the service was called: {name}")

        return call


@pytest.fixture(scope="module")
def doc() -> dict:
    return create_app(_Recorder(), admin_token="adm", clock=SettableClock(None)).openapi()


def _operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method.upper(), op


def test_every_operation_has_a_response_schema_and_its_errors(doc):
    ops = list(_operations(doc))
    assert len(ops) == 22  # every route of the gateway (the apply and the batch put included; the /ui pages are not in it)
    for path, method, op in ops:
        ok = [c for c in op["responses"] if c.startswith("2")]
        assert len(ok) == 1, (path, method)
        schema = op["responses"][ok[0]]["content"]["application/json"]["schema"]
        assert "$ref" in schema, (path, method, schema)  # a named model, not "any"
        for code in ("422", "413", "500"):
            assert op["responses"][code]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"}, (path, method, code)
        if path != "/v1/health":
            assert op["security"] == [{"HTTPBearer": []}], (path, method)
            assert "401" in op["responses"], (path, method)


def test_request_bodies_are_the_models(doc):
    bodies = {(path, method): op["requestBody"]["content"]["application/json"]["schema"]
              for path, method, op in _operations(doc) if "requestBody" in op}
    refs = {k: v.get("$ref") or next(s["$ref"] for s in v["anyOf"] if "$ref" in s) for k, v in bodies.items()}
    assert refs == {
        ("/v1/objects/{name}", "PUT"): "#/components/schemas/PutIn",
        ("/v1/objects/{name}", "POST"): "#/components/schemas/PutIn",
        ("/v1/objects:batch", "POST"): "#/components/schemas/BatchPutIn",
        ("/v1/objects/{name}/get", "POST"): "#/components/schemas/GetIn",
        ("/v1/objects/{name}/ack", "POST"): "#/components/schemas/AckIn",
        ("/v1/objects/{name}/apply", "POST"): "#/components/schemas/ApplyIn",
        ("/v1/providers", "POST"): "#/components/schemas/ProviderIn",
        ("/v1/providers/{provider_id}/kill", "POST"): "#/components/schemas/KillIn",
        ("/v1/holders", "POST"): "#/components/schemas/HolderIn",
        ("/v1/tenants", "POST"): "#/components/schemas/TenantIn",
        ("/v1/admin/clock", "POST"): "#/components/schemas/ClockIn",
    }
    put = doc["components"]["schemas"]["PutIn"]
    assert put["properties"]["clones"]["maximum"] == 64 and put["additionalProperties"] is False
    bearer = doc["components"]["securitySchemes"]["HTTPBearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/v1/objects/x", {"state": {"kind": "bloch", "data": [0, 0, 1]}, "clones": "4"}),
    ("PUT", "/v1/objects/x", {"state": {"kind": "bloch", "data": [0, 0, 1]}, "force": "true"}),
    ("PUT", "/v1/objects/x", {"state": {"kind": "tensor", "data": [1]}}),
    ("PUT", "/v1/objects/x", {"state": {"kind": "bloch", "data": [0, 0, 1]}, "colour": "red"}),
    ("POST", "/v1/objects/x/get", {"basis": "Q", "shots": 3}),
    ("POST", "/v1/objects/x/get", {"shots": 0, "basis": "Z"}),
    ("POST", "/v1/objects/x/get", {"basis": "Z"}),
    ("POST", "/v1/providers", {"id": "p9", "t1": -1}),
    ("POST", "/v1/holders", {"id": "c1", "kind": "auditor"}),
    ("PUT", "/v1/objects/x", {"state": {"kind": "bloch", "data": [0, 0, 1]}, "placement": "x" * 65}),
    ("PUT", "/v1/objects/x", {"state": {"kind": "bloch", "data": [0, 0, 1]}, "placement": ["keep-A"]}),
    ("POST", "/v1/tenants", {"name": ""}),
    ("POST", "/v1/admin/clock", {"advance": 1e300}),
    ("POST", "/v1/admin/clock", {}),
])
def test_invalid_bodies_never_reach_the_service(method, path, body):
    service = _Recorder()
    client = TestClient(create_app(service, admin_token="adm", clock=SettableClock(None)))
    r = client.request(method, path, json=body, headers={"authorization": "Bearer adm"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["type"] == "InvalidArgumentError"
    assert service.calls == []
