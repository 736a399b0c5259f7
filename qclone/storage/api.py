"""The gateway: a FastAPI app over :class:`~qclone.storage.service.StorageService`.

Routes (all under ``/v1``; a tenant sends ``Authorization: Bearer <token>``):

=======================================  ==========================================
``PUT`` or ``POST /objects/{name}``      store a state (201)
``GET /objects``                         list this tenant's objects
``GET /objects/{name}``                  stat one object
``POST /objects/{name}/get``             the one-time retrieval (idempotent per key)
``POST /objects/{name}/ack``             acknowledge a get's output (releases it)
``POST /objects/{name}/apply``           a logical gate on a stored object (idempotent per key)
``DELETE /objects/{name}``               delete an object
``GET /objects/{name}/peek?provider=ID`` what that provider can learn
``GET /providers``, ``POST /providers``  list or add providers
``POST /providers/{id}/drain|kill|revive``
``GET /audit-log``                       this tenant's audit log
``GET /health``                          liveness, no token needed (admin token: details)
``POST /tenants``                        admin token: create a tenant
``POST /admin/clock``                    admin token, only with a settable clock
=======================================  ==========================================

The bodies are the Pydantic models of :mod:`qclone.storage.api_models` (FastAPI
validates them; the OpenAPI document at ``/openapi.json`` declares every request,
response, error and the bearer authentication). Every error is ``{"error":
{"type", "message", "request_id"}}`` with the status of
:func:`qclone.storage.errors.http_status`: a malformed request is a 422 naming what
is wrong, never a 5xx; a 5xx says only a generic message and its request id (the
details are in the server's log under that id). :class:`RequestGuard` gives every
request its ``X-Request-ID``, limits the body size (413) and refuses paths that
are not UTF-8. Failed logins are audited (``login.failed``, at most one entry per
source per minute, with the count of the others).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal
from urllib.parse import unquote_to_bytes

import numpy as np
import orjson
from fastapi import Body, FastAPI, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from qclone.errors import InvalidArgumentError
from qclone.storage import faults
from qclone.storage.api_models import (
    DEFAULT_LIST_LIMIT,
    MAX_AUDIT_LIMIT,
    MAX_LIST_LIMIT,
    AckIn,
    AckOut,
    ApplyIn,
    ApplyOut,
    AuditOut,
    ClockIn,
    ClockOut,
    DeleteOut,
    ErrorOut,
    GetIn,
    HealthOut,
    HolderIn,
    HolderOut,
    HoldersOut,
    KillIn,
    ObjectListOut,
    ObjectOut,
    OutputOut,
    PeekOut,
    ProviderActionOut,
    ProviderIn,
    ProviderOut,
    ProvidersOut,
    PutIn,
    TenantIn,
    TenantOut,
)
from qclone.storage.errors import (
    BodyTooLargeError,
    UnauthorizedError,
    error_body,
    error_headers,
    http_status,
)
from qclone.storage.inputs import MAX_NAME, NAME_RULE, check_name
from qclone.storage.wire import decode_array, encode_array

__all__ = ["DEFAULT_MAX_BODY_BYTES", "FailedLogins", "RequestGuard", "create_app"]

log = logging.getLogger("qclone.storage.gateway")
access_log = logging.getLogger("qclone.storage.access")
#: Largest request body the gateway reads by default (an 8-qubit density matrix in JSON is ~3 MB).
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
BEARER_SCHEME = {"type": "http", "scheme": "bearer",
                 "description": "a tenant's token, or the admin token for admin routes"}


# ---------------------------------------------------------------------- helpers
def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
                    status_code=status, media_type="application/json", headers=headers)


def request_id_of(request: Request) -> str:
    """The id :class:`RequestGuard` gave this request (or a new one outside it)."""
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else new_request_id()


def new_request_id() -> str:
    return secrets.token_hex(8)


def _error(exc: BaseException, request_id: str) -> Response:
    status = http_status(exc)
    if status >= 500:
        # the details go to the log, never to the client
        log.error("request %s: %d %s: %s", request_id, status, type(exc).__name__, exc,
                  exc_info=exc if status == 500 else None)
    return _json(error_body(exc, request_id), status, error_headers(exc) or None)


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


#: The routes below one object: ``/v1/objects/{name}`` and ``/v1/objects/{name}/<verb>``.
_OBJECT_VERBS = frozenset({"get", "ack", "peek", "apply"})


def _slash_in_name(path: str) -> bool:
    """Whether a path that matched no route is an object route whose name holds a ``/``."""
    if not path.startswith("/v1/objects/"):
        return False
    parts = path[len("/v1/objects/"):].split("/")
    return len(parts) > 2 or (len(parts) == 2 and parts[1] not in _OBJECT_VERBS)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------------- failed logins
class FailedLogins:
    """Audits failed logins, at most one entry per source and window: the failures in between
    are counted and reported by the next entry (``suppressed``), so an attacker cannot flood
    the audit log. At most ``sources`` sources are tracked (the oldest forgotten first)."""

    def __init__(self, write: Callable[..., None], *, window: float = 60.0, sources: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._write = write
        self._window = window
        self._sources = sources
        self._clock = clock
        self._seen: OrderedDict[str, list[float | int]] = OrderedDict()  # source -> [written at, suppressed]
        self._lock = threading.Lock()

    def failed(self, source: str, reason: str, path: str) -> bool:
        """Record a failure; True if it was written to the audit log."""
        now = self._clock()
        with self._lock:
            entry = self._seen.get(source)
            if entry is not None and now - entry[0] < self._window:
                entry[1] += 1
                return False
            suppressed = int(entry[1]) if entry is not None else 0
            self._seen[source] = [now, 0]
            self._seen.move_to_end(source)
            while len(self._seen) > self._sources:
                self._seen.popitem(last=False)
        try:
            self._write("anonymous", "login.failed", source=source, reason=reason, path=path, suppressed=suppressed)
        except Exception:
            log.exception("could not audit a failed login from %s", source)
        return True


# ---------------------------------------------------------------------- the app
_ERRORS = {
    401: "missing or bad token",
    404: "no such object, provider or route (also another tenant's object)",
    409: "the object's state does not allow it (exists, retrieved, being retrieved, ...)",
    413: "the request body is larger than the gateway accepts",
    422: "a malformed request: the message names what is wrong",
    500: "internal error (the body carries only the request id)",
    503: "a component is unavailable: retry later (Retry-After)",
}


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorOut, "description": _ERRORS[c]} for c in (*codes, 413, 422, 500)}


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("missing API token: send 'Authorization: Bearer <token>'")
    return token.strip()


ObjectName = Annotated[str, FastAPIPath(min_length=1, max_length=MAX_NAME, description="the object's name (NFC)")]
ProviderId = Annotated[str, FastAPIPath(min_length=1, max_length=64)]


def create_app(service: Any, *, admin_token: str | None = None, clock: Any = None, threads: int = 8,
               title: str = "qclone storage gateway", max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
               dashboard: bool = True, ui_state_dir: str | None = None, secure_cookies: bool = False) -> FastAPI:
    """The gateway app.

    Args:
        service: a :class:`~qclone.storage.service.StorageService`.
        admin_token: the token that may create tenants and set the clock (``None``: no admin calls).
        clock: a :class:`~qclone.storage.clock.SettableClock` to expose at ``/v1/admin/clock``
            (``None``: the route answers 404).
        threads: size of the thread pool running the (blocking) service calls. The work is
            mostly CPU under one GIL with short waits for fsync and SQLite locks, so a few
            threads keep the event loop free without the switching cost of a large pool.
        max_body_bytes: larger request bodies are refused with 413 while they are read.
        dashboard: serve the web dashboard under ``/ui`` (:mod:`qclone.storage.web`).
        ui_state_dir: where the dashboard keeps its session key (the data dir; None: in memory); the
            signed-out sessions are in the service's metadata database.
        secure_cookies: the dashboard's cookies are ``Secure`` (TLS).
    """
    # Qiskit's OpenQASM 2 parser (a Rust extension) crashed the process with a segmentation fault when
    # first used in a thread that then exited and used again in another: first use it in this thread
    from qclone.storage.inputs import parse_state

    parse_state("qasm", 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nh q[0];\n')
    app = FastAPI(title=title, version="1", description="Encrypted quantum multi-cloud storage (qclone). "
                  "Errors are {\"error\": {\"type\", \"message\", \"request_id\"}}; every response carries "
                  "an X-Request-ID header.")
    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="qclone-gateway")
    admin_hash = None if admin_token is None else _token_hash(admin_token)
    failed_logins = FailedLogins(service.audit_event)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return _error(InvalidArgumentError("; ".join(parts) or "invalid request"), request_id_of(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:  # FastAPI could not parse the body (e.g. JSON nested too deep)
            return _error(InvalidArgumentError("the request body is not valid JSON"), request_id_of(request))
        if exc.status_code == 404 and _slash_in_name(request.url.path):
            # /v1/objects/a/b...: a name with a '/' (percent-encoded or not) matches no route
            return _error(InvalidArgumentError(f"an object name may not contain '/': {NAME_RULE.format(longest=MAX_NAME)}"),
                          request_id_of(request))
        name = {404: "NotFoundError", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return _json({"error": {"type": name, "message": str(exc.detail), "request_id": request_id_of(request)}},
                     exc.status_code)

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> Response:
        return _error(exc, request_id_of(request))

    def is_admin(token: str) -> bool:
        return admin_hash is not None and hmac.compare_digest(_token_hash(token), admin_hash)

    async def run(request: Request, fn: Callable[[], Any], status: int = 200) -> Response:
        """Run ``fn`` in the thread pool; its result as JSON, an error as the JSON error body."""
        rid = request_id_of(request)

        def call() -> Any:
            try:
                return fn()
            except UnauthorizedError as exc:
                source = request.client.host if request.client else "unknown"
                failed_logins.failed(source, str(exc), request.url.path)
                raise

        try:
            result = await asyncio.get_running_loop().run_in_executor(pool, call)
        except Exception as exc:  # noqa: BLE001 - every error becomes a JSON body
            return _error(exc, rid)
        return _json(result, status)

    def tenant_of(request: Request) -> Any:
        return service.authenticate(_bearer(request))

    def check_admin(request: Request) -> None:
        if not is_admin(_bearer(request)):
            raise UnauthorizedError("this call needs the admin token")

    def tenant_or_admin(request: Request) -> Any:
        """The tenant, or None for the admin token."""
        token = _bearer(request)
        return None if is_admin(token) else service.authenticate(token)

    # the bearer scheme is declared in the document only: the routes read the header themselves
    # (a FastAPI security dependency would cost a dependency resolution on every request)
    auth: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = generate()
            doc.setdefault("components", {})["securitySchemes"] = {"HTTPBearer": BEARER_SCHEME}
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document

    # ------------------------------------------------------------------ objects
    async def put_object(request: Request, name: ObjectName, body: PutIn) -> Response:
        """Store a state as n encrypted clones."""
        from qclone.storage.inputs import parse_state

        def put() -> dict:
            tenant = tenant_of(request)
            check_name(name)  # before parsing the state: a bad name costs nothing
            state = parse_state(body.state.kind, body.state.data)
            return service.put(tenant, name, state, clones=body.clones, policy=body.policy,
                               keep_reference=body.keep_reference, force=body.force, placement=body.placement)

        return await run(request, put, 201)

    for method in ("PUT", "POST"):
        app.add_api_route("/v1/objects/{name}", put_object, methods=[method], status_code=201, response_model=ObjectOut,
                          responses=_responses(401, 409, 503), openapi_extra=auth, summary="Store a state",
                          operation_id=f"put_object_{method.lower()}")

    @app.get("/v1/objects", response_model=ObjectListOut, responses=_responses(401), openapi_extra=auth)
    async def list_objects(request: Request,
                           limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT, strict=False)] = DEFAULT_LIST_LIMIT,
                           cursor: Annotated[str | None, Query(max_length=1024, description="the next_cursor of "
                                                                                           "the previous page")] = None,
                           ) -> Response:
        """This tenant's objects, oldest first, a page at a time (``next_cursor``: the rest)."""
        def page() -> dict:
            rows, nxt = service.list_page(tenant_of(request), limit=limit, cursor=cursor)
            return {"objects": rows, "next_cursor": nxt}

        return await run(request, page)

    @app.get("/v1/objects/{name}", response_model=ObjectOut, responses=_responses(401, 404), openapi_extra=auth)
    async def stat_object(request: Request, name: ObjectName,
                          audit: Annotated[Literal["summary", "full"], Query(description="full: with the whole "
                                                                                         "coalition audit")] = "summary") -> Response:
        """One object's record."""
        return await run(request, lambda: service.stat(tenant_of(request), name, full_audit=audit == "full"))

    @app.post("/v1/objects/{name}/get", response_model=OutputOut, responses=_responses(401, 404, 409, 503),
              openapi_extra=auth)
    async def get_object(request: Request, name: ObjectName, body: Annotated[GetIn | None, Body()] = None) -> Response:
        """Retrieve a state, once (decryption consumes the key)."""
        opts = body or GetIn()
        if (opts.basis is None) != (opts.shots is None):  # checked before the one-time decryption, never after it
            return _error(InvalidArgumentError("basis and shots go together"), request_id_of(request))
        basis = opts.basis.upper() if opts.basis is not None else None
        try:
            key = _key(request, opts.key)
        except InvalidArgumentError as exc:
            return _error(exc, request_id_of(request))

        def get() -> dict:
            out = encode_output(service.get(tenant_of(request), name, basis=basis, shots=opts.shots,
                                            seed=opts.seed, key=key, retrieval=opts.retrieval))
            faults.crash_point("get.reply")  # the reply is lost: the output waits for a retry with the key
            return out

        return await run(request, get)

    @app.post("/v1/objects/{name}/ack", response_model=AckOut, responses=_responses(401, 404, 409), openapi_extra=auth)
    async def ack_object(request: Request, name: ObjectName, body: Annotated[AckIn | None, Body()] = None) -> Response:
        """Acknowledge the output of a get (by its idempotency key): the object is retrieved, the output released."""
        try:
            key = _key(request, body.key if body is not None else None)
            if key is None:
                raise InvalidArgumentError("give the get's idempotency key: {\"key\": ...} or the Idempotency-Key header")
        except InvalidArgumentError as exc:
            return _error(exc, request_id_of(request))
        return await run(request, lambda: service.ack(tenant_of(request), name, key))

    @app.post("/v1/objects/{name}/apply", response_model=ApplyOut, responses=_responses(401, 404, 409, 503),
              openapi_extra=auth)
    async def apply_object(request: Request, name: ObjectName, body: ApplyIn) -> Response:
        """Apply a logical gate to a stored object: every holder applies its local part (nothing is decrypted)."""
        try:
            key = _key(request, body.key)
        except InvalidArgumentError as exc:
            return _error(exc, request_id_of(request))
        return await run(request, lambda: service.apply(tenant_of(request), name, body.gate, qubits=body.qubits,
                                                        key=key))

    def _key(request: Request, body_key: str | None) -> str | None:
        header = request.headers.get("idempotency-key")  # checked by the service like the body's key
        if header is not None and body_key is not None and header != body_key:
            raise InvalidArgumentError("the Idempotency-Key header and the body's key differ")
        return body_key if body_key is not None else header

    @app.delete("/v1/objects/{name}", response_model=DeleteOut, responses=_responses(401, 404, 409), openapi_extra=auth)
    async def delete_object(request: Request, name: ObjectName) -> Response:
        """Delete an object (its clones and its key are destroyed)."""
        return await run(request, lambda: service.delete(tenant_of(request), name))

    @app.get("/v1/objects/{name}/peek", response_model=PeekOut, responses=_responses(401, 404, 409, 503),
             openapi_extra=auth)
    async def peek_object(request: Request, name: ObjectName,
                          provider: Annotated[str, Query(min_length=1, max_length=64)]) -> Response:
        """What one provider can learn: the reduced state of the qubits it holds."""
        return await run(request, lambda: encode_output(service.peek(tenant_of(request), name, provider)))

    # ------------------------------------------------------------------ providers
    @app.get("/v1/providers", response_model=ProvidersOut, responses=_responses(401), openapi_extra=auth)
    async def list_providers(request: Request) -> Response:
        """Every provider with its state and clone count (tenant or admin token)."""

        def providers() -> dict:
            tenant_or_admin(request)
            return {"providers": service.providers()}

        return await run(request, providers)

    @app.post("/v1/providers", status_code=201, response_model=ProviderOut, responses=_responses(401, 409, 503),
              openapi_extra=auth)
    async def add_provider(request: Request, body: ProviderIn) -> Response:
        """Add a provider: embedded, or the provider node process at url (admin token)."""

        def add() -> dict:
            check_admin(request)
            return service.add_provider(body.id, zone=body.zone, t1=body.t1, t2=body.t2, url=body.url, join=body.join)

        return await run(request, add, 201)

    @app.get("/v1/holders", response_model=HoldersOut, responses=_responses(401), openapi_extra=auth)
    async def list_holders(request: Request) -> Response:
        """The key holders (the vault, more vaults, custodians) with their parts (tenant or admin token)."""

        def holders() -> dict:
            tenant_or_admin(request)
            return {"holders": service.holders_list()}

        return await run(request, holders)

    @app.post("/v1/holders", status_code=201, response_model=HolderOut, responses=_responses(401, 409),
              openapi_extra=auth)
    async def add_holder(request: Request, body: HolderIn) -> Response:
        """Register a key holder embedded in the server: a vault or a custodian (admin token)."""

        def add() -> dict:
            check_admin(request)
            return service.holders_add(body.id, body.kind, zone=body.zone, t1=body.t1, t2=body.t2)

        return await run(request, add, 201)

    def provider_action(action: str, doc: str) -> None:
        async def act(request: Request, provider_id: ProviderId, body: Annotated[KillIn | None, Body()] = None) -> Response:
            def do() -> dict:
                check_admin(request)
                kw = {"destroy": body.destroy} if action == "kill" and body is not None else {}
                return getattr(service, f"{action}_provider")(provider_id, **kw)

            return await run(request, do)

        async def act_plain(request: Request, provider_id: ProviderId) -> Response:
            return await act(request, provider_id, None)

        app.add_api_route(f"/v1/providers/{{provider_id}}/{action}", act if action == "kill" else act_plain,
                          methods=["POST"], response_model=ProviderActionOut, responses=_responses(401, 404, 409, 503),
                          openapi_extra=auth, summary=doc, operation_id=f"{action}_provider")

    provider_action("drain", "Move a provider's clones elsewhere and stop placing clones there (admin token).")
    provider_action("kill", "Take a provider down: its clones are unusable until revived; destroy: lost (admin token).")
    provider_action("revive", "Bring a provider back up; it receives the discards it missed (admin token).")

    # ------------------------------------------------------------------ the rest
    @app.get("/v1/audit-log", response_model=AuditOut, responses=_responses(401), openapi_extra=auth)
    async def audit_log(request: Request,
                        limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_LIMIT, strict=False)] = 1000,
                        after: Annotated[int | None, Query(ge=0, le=2**63 - 1, strict=False,
                                                           description="only entries with a larger id (paging)")] = None,
                        cursor: Annotated[str | None, Query(max_length=1024, description="the next_cursor of "
                                                                                        "the previous page")] = None,
                        ) -> Response:
        """This tenant's audit log, oldest first (the admin token: every entry), a page at a time."""
        def page() -> dict:
            rows, nxt = service.audit_page(tenant_or_admin(request), limit=limit, cursor=cursor, after=after)
            return {"entries": rows, "next_cursor": nxt}

        return await run(request, page)

    @app.get("/v1/health", response_model=HealthOut, responses=_responses())
    async def health(request: Request) -> Response:
        """Liveness (no token needed); with the admin token, every component's state."""
        try:
            admin = is_admin(_bearer(request))
        except UnauthorizedError:
            admin = False
        if not admin:  # liveness only: no paths, counts or component states
            return _json({"status": "ok"})
        return await run(request, service.health)

    @app.post("/v1/tenants", status_code=201, response_model=TenantOut, responses=_responses(401, 409),
              openapi_extra=auth)
    async def create_tenant(request: Request, body: TenantIn) -> Response:
        """Create a tenant (admin token); the token is shown once."""

        def create() -> dict:
            check_admin(request)
            return {"tenant": body.name, "token": service.create_tenant(body.name)}

        return await run(request, create, 201)

    if clock is not None:
        @app.post("/v1/admin/clock", response_model=ClockOut, responses=_responses(401), openapi_extra=auth)
        async def set_clock(request: Request, body: ClockIn) -> Response:
            """Set or advance the settable clock (admin token)."""
            if (body.now is None) == (body.advance is None):
                return _error(InvalidArgumentError("give exactly one of now or advance"), request_id_of(request))

            def set_() -> dict:
                check_admin(request)
                return {"now": clock.set(body.now) if body.now is not None else clock.advance(body.advance)}

            return await run(request, set_)

        @app.get("/v1/admin/clock", response_model=ClockOut, responses=_responses(401), openapi_extra=auth)
        async def get_clock(request: Request) -> Response:
            """The settable clock's time (admin token)."""

            def now() -> dict:
                check_admin(request)
                return {"now": clock.now()}

            return await run(request, now)

    if dashboard:
        from qclone.storage.web import mount_dashboard

        mount_dashboard(app, service, is_admin=is_admin, json_response=_json, error_response=_error,
                        request_id=request_id_of, state_dir=ui_state_dir, on_failed_login=failed_logins.failed,
                        secure_cookies=secure_cookies, database=getattr(service, "db", None))
    return app


# ---------------------------------------------------------------------- request guard (ASGI)
class RequestGuard:
    """ASGI middleware in front of every request.

    * gives each request an id (``X-Request-ID`` on every response; ``request.state.request_id``);
    * refuses a body larger than ``max_body_bytes`` with 413, by ``Content-Length`` or while
      reading it (a chunked body is counted as it arrives, never buffered beyond the limit);
    * refuses a path whose percent-escapes are not UTF-8 with 422 (so ``%FF`` and ``%FE``
      cannot both decode to U+FFFD and name the same object);
    * writes one access-log line per request (logger ``qclone.storage.access``), and logs
      a 5xx with its request id.
    """

    def __init__(self, app: Any, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = int(max_body_bytes)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status_seen = [0]

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_seen[0] = message["status"]
                message = dict(message)
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        async def refuse(exc: BaseException) -> None:
            status = http_status(exc)
            body = orjson.dumps(error_body(exc, rid))
            await send_with_id({"type": "http.response.start", "status": status,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]})
            await send_with_id({"type": "http.response.body", "body": body})

        try:
            try:
                unquote_to_bytes(scope.get("raw_path") or scope["path"].encode()).decode("utf-8")
            except UnicodeDecodeError:
                await refuse(InvalidArgumentError("the request path is not UTF-8 after percent-decoding"))
                return
            length = _content_length(scope)
            if length is not None and length > self.max_body_bytes:
                await refuse(BodyTooLargeError(f"the request body has {length} bytes; at most {self.max_body_bytes}"))
                return
            if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
                chunks, total = [], 0
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        break  # the client went away
                    chunk = message.get("body", b"")
                    total += len(chunk)
                    if total > self.max_body_bytes:
                        await refuse(BodyTooLargeError(f"the request body has more than {self.max_body_bytes} bytes"))
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
                body = b"".join(chunks)
                if body and not _is_json(scope) and not scope["path"].startswith("/ui/"):  # the dashboard posts forms
                    # every body of this API is JSON: one sent without (or with another) type is read as JSON
                    scope = dict(scope, headers=[*(h for h in scope.get("headers", ()) if h[0] != b"content-type"),
                                                 (b"content-type", b"application/json")])
                replayed = False

                async def replay() -> dict:
                    nonlocal replayed
                    if not replayed:
                        replayed = True
                        return {"type": "http.request", "body": body, "more_body": False}
                    return await receive()

                await self.app(scope, replay, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception as exc:
            log.error("request %s: unhandled %s", rid, type(exc).__name__, exc_info=exc)
            if status_seen[0] == 0:
                await refuse(exc)
                status_seen[0] = 500
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("-",)
                path = (scope.get("raw_path") or b"?").decode("ascii", "backslashreplace")  # as sent: one line
                access_log.info("%s %s %s %d %.1f ms %s", client[0], scope["method"], path, status_seen[0],
                                1000 * (time.perf_counter() - started), rid)


def _is_json(scope: dict) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


def _content_length(scope: dict) -> int | None:
    for key, value in scope.get("headers", ()):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
