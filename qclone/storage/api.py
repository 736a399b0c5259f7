"""The gateway: a FastAPI app over :class:`~qclone.storage.service.StorageService`.

Routes (all under ``/v1``; a tenant sends ``Authorization: Bearer <token>``):

=======================================  ==========================================
``PUT`` or ``POST /objects/{name}``      store a state (201)
``GET /objects``                         list this tenant's objects
``GET /objects/{name}``                  stat one object
``POST /objects/{name}/get``             the one-time retrieval (not idempotent: POST)
``DELETE /objects/{name}``               delete an object
``GET /objects/{name}/peek?provider=ID`` what that provider can learn
``GET /providers``, ``POST /providers``  list or add providers
``POST /providers/{id}/drain|kill|revive``
``GET /audit-log``                       this tenant's audit log
``GET /health``                          no token needed
``POST /tenants``                        admin token: create a tenant
``POST /admin/clock``                    admin token, only with a settable clock
=======================================  ==========================================

Every error is ``{"error": {"type", "message"}}`` with the status of
:func:`qclone.storage.errors.http_status`; a malformed request is a 422 with a
message naming what is wrong, never a 500. The hot endpoints parse the raw
body with orjson and validate it here (the request models below only document
the bodies in the OpenAPI schema at ``/docs``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import UnauthorizedError, error_body, error_headers, http_status
from qclone.storage.substrate import BASES, MAX_SHOTS
from qclone.storage.wire import decode_array, encode_array

__all__ = ["create_app"]


# ---------------------------------------------------------------------- documentation models
class StateIn(BaseModel):
    """A state in the wire format."""

    kind: str = Field(description="bloch, statevector, density or qasm")
    data: Any = Field(description="[x, y, z]; a complex array {real, imag} (or a real nested list); or OpenQASM text")


class PutIn(BaseModel):
    state: StateIn
    clones: int = Field(4, description="number of encrypted clones n (n = 1 needs force)")
    keep_reference: bool = Field(False, description="keep a copy of the input so a get reports the fidelity")
    force: bool = Field(False, description="allow n = 1 (a lone clone leaks the Y component)")
    policy: str = Field("distinct-providers", description="placement: distinct-providers or distinct-zones")


class GetIn(BaseModel):
    basis: str | None = Field(None, description="X, Y or Z: also measure every output qubit in this basis")
    shots: int | None = Field(None, description="number of measurements (with basis)")
    seed: int | None = None


class ProviderIn(BaseModel):
    id: str
    zone: str | None = None
    t1: float | None = Field(None, description="memory T1 in seconds (default 3600)")
    t2: float | None = Field(None, description="memory T2 in seconds (default 3600)")
    url: str | None = Field(None, description="URL of a provider node process (deployment)")
    join: str | None = Field(None, description="with url: the node's join token (printed by the node at its first start)")


class TenantIn(BaseModel):
    name: str


class ClockIn(BaseModel):
    now: float | None = Field(None, description="set the clock to this time")
    advance: float | None = Field(None, description="move the clock forward by this many seconds")


def _doc(model: type[BaseModel]) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


# ---------------------------------------------------------------------- helpers
def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS), status_code=status, media_type="application/json")


def _error(exc: BaseException) -> Response:
    response = _json(error_body(exc), http_status(exc))
    response.headers.update(error_headers(exc))
    return response


async def _body(request: Request) -> dict:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidArgumentError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidArgumentError("the request body must be a JSON object")
    return body


def _only(body: dict, allowed: set[str]) -> dict:
    unknown = set(body) - allowed
    if unknown:
        raise InvalidArgumentError(f"unexpected fields {sorted(unknown)}; allowed: {sorted(allowed)}")
    return body


def _int(body: dict, key: str, default: int | None) -> int | None:
    v = body.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidArgumentError(f"{key} must be an integer, got {v!r}")
    return v


def _bool(body: dict, key: str) -> bool:
    v = body.get(key, False)
    if not isinstance(v, bool):
        raise InvalidArgumentError(f"{key} must be true or false, got {v!r}")
    return v


def _float(body: dict, key: str) -> float | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InvalidArgumentError(f"{key} must be a finite number, got {v!r}")
    return float(v)


def _str(body: dict, key: str, *, required: bool = False) -> str | None:
    v = body.get(key)
    if v is None:
        if required:
            raise InvalidArgumentError(f"missing field {key!r}")
        return None
    if not isinstance(v, str) or not v:
        raise InvalidArgumentError(f"{key} must be a non-empty string, got {v!r}")
    return v


def bloch_of(rho: Any) -> list[float]:
    """The Bloch vector (x, y, z) of a one-qubit density matrix: ρ = (I + xX + yY + zZ)/2."""
    rho = np.asarray(rho, dtype=complex)
    return [float(2 * rho[0, 1].real), float(-2 * rho[0, 1].imag), float((rho[0, 0] - rho[1, 1]).real)]


def encode_output(out: dict) -> dict:
    """A result made JSON-ready: ``density_matrix`` as a complex array, ``counts`` of the
    ``samples`` if any, and ``bloch`` (per qubit) if the result has none."""
    out = dict(out)
    if out.get("samples") is not None:
        counts: dict[str, int] = {}
        for s in out["samples"]:
            counts[s] = counts.get(s, 0) + 1
        out["counts"] = dict(sorted(counts.items()))
    rho = out.get("density_matrix")
    if rho is None:
        return out
    if isinstance(rho, dict):
        rho = decode_array(rho, name="density_matrix")
    rho = np.asarray(rho, dtype=complex)
    if rho.shape == (2, 2) and out.get("bloch") is None:
        out["bloch"] = [bloch_of(rho)]
    out["density_matrix"] = encode_array(rho)
    return out


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------------- the app
def create_app(service: Any, *, admin_token: str | None = None, clock: Any = None, threads: int = 8,
               title: str = "qclone storage gateway") -> FastAPI:
    """The gateway app.

    Args:
        service: a :class:`~qclone.storage.service.StorageService`.
        admin_token: the token that may create tenants and set the clock (``None``: no admin calls).
        clock: a :class:`~qclone.storage.clock.SettableClock` to expose at ``/v1/admin/clock``
            (``None``: the route answers 404).
        threads: size of the thread pool running the (blocking) service calls. The work is
            mostly CPU under one GIL with short waits for fsync and SQLite locks, so a few
            threads keep the event loop free without the switching cost of a large pool.
    """
    app = FastAPI(title=title, version="1", description="Encrypted quantum multi-cloud storage (qclone).")
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="qclone-gateway")
    admin_hash = None if admin_token is None else _token_hash(admin_token)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return _error(InvalidArgumentError("; ".join(parts) or "invalid request"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        name = {404: "NotFoundError", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return _json({"error": {"type": name, "message": str(exc.detail)}}, exc.status_code)

    @app.exception_handler(Exception)
    async def _any(_request: Request, exc: Exception) -> Response:
        return _error(exc)

    def bearer(request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("missing API token: send 'Authorization: Bearer <token>'")
        return token.strip()

    def check_admin(request: Request) -> None:
        if not is_admin(bearer(request)):
            raise UnauthorizedError("this call needs the admin token")

    def is_admin(token: str) -> bool:
        return admin_hash is not None and hmac.compare_digest(_token_hash(token), admin_hash)

    def tenant_of(request: Request) -> Any:
        return service.authenticate(bearer(request))

    def tenant_or_admin(request: Request) -> Any:
        """The tenant, or None for the admin token."""
        token = bearer(request)
        return None if is_admin(token) else service.authenticate(token)

    def route(path: str, method: str, *, doc: type[BaseModel] | None = None, status: int = 200,
              summary: str | None = None) -> Callable:
        """Register ``fn(request, body) -> result`` (run in the thread pool) as an endpoint."""

        def register(fn: Callable) -> Callable:
            async def endpoint(request: Request) -> Response:
                try:
                    body = await _body(request) if method in ("POST", "PUT") else {}
                    result = await asyncio.get_running_loop().run_in_executor(pool, fn, request, body)
                except Exception as exc:  # noqa: BLE001 - every error becomes a JSON body
                    return _error(exc)
                return _json(result, status)

            endpoint.__name__ = fn.__name__
            app.add_api_route(path, endpoint, methods=[method], summary=summary or (fn.__doc__ or "").strip() or None,
                              openapi_extra=_doc(doc) if doc is not None else None, status_code=status)
            return fn

        return register

    # ------------------------------------------------------------------ objects
    def put_object(request: Request, body: dict) -> dict:
        """Store a state as n encrypted clones."""
        from qclone.storage.inputs import parse_state

        tenant = tenant_of(request)
        _only(body, {"state", "clones", "keep_reference", "force", "policy"})
        spec = body.get("state")
        if not isinstance(spec, dict) or "kind" not in spec or "data" not in spec:
            raise InvalidArgumentError("state must be an object {\"kind\": ..., \"data\": ...}")
        _only(spec, {"kind", "data"})
        state = parse_state(spec["kind"], spec["data"])
        clones = _int(body, "clones", 4)
        policy = _str(body, "policy") or "distinct-providers"
        return service.put(tenant, request.path_params["name"], state, clones=clones, policy=policy,
                           keep_reference=_bool(body, "keep_reference"), force=_bool(body, "force"))

    route("/v1/objects/{name}", "PUT", doc=PutIn, status=201)(put_object)
    route("/v1/objects/{name}", "POST", doc=PutIn, status=201)(put_object)

    @route("/v1/objects", "GET")
    def list_objects(request: Request, body: dict) -> dict:
        """This tenant's objects."""
        return {"objects": service.list(tenant_of(request))}

    @route("/v1/objects/{name}", "GET")
    def stat_object(request: Request, body: dict) -> dict:
        """One object's record (``?audit=full``: with the full coalition audit of its placement)."""
        full = request.query_params.get("audit", "summary")
        if full not in ("summary", "full"):
            raise InvalidArgumentError(f"audit must be summary or full, got {full!r}")
        return service.stat(tenant_of(request), request.path_params["name"], full_audit=full == "full")

    @route("/v1/objects/{name}/get", "POST", doc=GetIn)
    def get_object(request: Request, body: dict) -> dict:
        """Retrieve a state, once (decryption consumes the key)."""
        tenant = tenant_of(request)
        _only(body, {"basis", "shots", "seed"})
        basis, shots = _str(body, "basis"), _int(body, "shots", None)
        if (basis is None) != (shots is None):
            raise InvalidArgumentError("basis and shots go together")
        # checked before the one-time decryption, never after it
        if basis is not None and basis.upper() not in BASES:
            raise InvalidArgumentError(f"basis must be one of {', '.join(BASES)}, got {basis!r}")
        if shots is not None and not 1 <= shots <= MAX_SHOTS:
            raise InvalidArgumentError(f"shots must be between 1 and {MAX_SHOTS}, got {shots}")
        seed = _int(body, "seed", None)
        if seed is not None and seed < 0:
            raise InvalidArgumentError(f"seed must be >= 0, got {seed}")
        return encode_output(service.get(tenant, request.path_params["name"], basis=basis, shots=shots, seed=seed))

    @route("/v1/objects/{name}", "DELETE")
    def delete_object(request: Request, body: dict) -> dict:
        """Delete an object (its clones and its key are destroyed)."""
        return service.delete(tenant_of(request), request.path_params["name"])

    @route("/v1/objects/{name}/peek", "GET")
    def peek_object(request: Request, body: dict) -> dict:
        """What one provider can learn: the reduced state of the qubits it holds."""
        provider = request.query_params.get("provider")
        if not provider:
            raise InvalidArgumentError("give the provider: ?provider=ID")
        return encode_output(service.peek(tenant_of(request), request.path_params["name"], provider))

    # ------------------------------------------------------------------ providers
    @route("/v1/providers", "GET")
    def list_providers(request: Request, body: dict) -> dict:
        """Every provider with its state and clone count (tenant or admin token)."""
        tenant_or_admin(request)
        return {"providers": service.providers()}

    @route("/v1/providers", "POST", doc=ProviderIn, status=201)
    def add_provider(request: Request, body: dict) -> dict:
        """Add a provider: embedded, or the provider node process at url (admin token)."""
        check_admin(request)
        _only(body, {"id", "zone", "t1", "t2", "url", "join"})
        return service.add_provider(_str(body, "id", required=True), zone=_str(body, "zone"), t1=_float(body, "t1"),
                                    t2=_float(body, "t2"), url=_str(body, "url"), join=_str(body, "join"))

    def provider_action(action: str) -> None:
        def act(request: Request, body: dict) -> dict:
            check_admin(request)
            _only(body, {"destroy"} if action == "kill" else set())
            kw = {"destroy": _bool(body, "destroy")} if action == "kill" else {}
            return getattr(service, f"{action}_provider")(request.path_params["provider_id"], **kw)

        act.__name__ = f"{action}_provider"
        act.__doc__ = {
            "drain": "Move a provider's clones elsewhere and stop placing clones there (admin token).",
            "kill": "Take a provider down: its clones are unusable until revived; destroy: lost (admin token).",
            "revive": "Bring a provider back up; it receives the discards it missed (admin token).",
        }[action]
        route(f"/v1/providers/{{provider_id}}/{action}", "POST")(act)

    for action in ("drain", "kill", "revive"):
        provider_action(action)

    # ------------------------------------------------------------------ the rest
    @route("/v1/audit-log", "GET")
    def audit_log(request: Request, body: dict) -> dict:
        """This tenant's audit log, oldest first (the admin token: every entry)."""
        limit = request.query_params.get("limit", "1000")
        if not limit.isdigit() or int(limit) < 1:
            raise InvalidArgumentError(f"limit must be a positive integer, got {limit!r}")
        return {"entries": service.audit_log(tenant_or_admin(request), limit=int(limit))}

    @route("/v1/health", "GET")
    def health(request: Request, body: dict) -> dict:
        """Health of the gateway and its components (no token needed)."""
        return service.health()

    @route("/v1/tenants", "POST", doc=TenantIn, status=201)
    def create_tenant(request: Request, body: dict) -> dict:
        """Create a tenant (admin token); the token is shown once."""
        check_admin(request)
        _only(body, {"name"})
        name = _str(body, "name", required=True)
        return {"tenant": name, "token": service.create_tenant(name)}

    if clock is not None:
        @route("/v1/admin/clock", "POST", doc=ClockIn)
        def set_clock(request: Request, body: dict) -> dict:
            """Set or advance the settable clock (admin token)."""
            check_admin(request)
            _only(body, {"now", "advance"})
            now, advance = _float(body, "now"), _float(body, "advance")
            if (now is None) == (advance is None):
                raise InvalidArgumentError("give exactly one of now or advance")
            return {"now": clock.set(now) if now is not None else clock.advance(advance)}

        @route("/v1/admin/clock", "GET")
        def get_clock(request: Request, body: dict) -> dict:
            """The settable clock's time."""
            return {"now": clock.now()}

    return app
