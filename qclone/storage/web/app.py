"""The dashboard's routes: sign-in, objects, one object, providers, audit log (under ``/ui``).

Every page is a thin layer over the service calls the JSON API makes, with the same arguments:
the objects page is ``service.list_page`` (``GET /v1/objects``), an object's page is
``service.stat(..., full_audit=True)`` (``GET /v1/objects/{name}?audit=full``), the get button is
``service.get`` then ``service.ack`` with one idempotency key (the CLI's get-and-acknowledge),
the providers page is ``service.providers()`` and its buttons ``service.kill_provider`` etc.,
the audit page ``service.audit_log``. ``?format=json`` answers that call's result, encoded by
the API's own encoder: the JSON the API returns, not a second computation.
"""


import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile

from qclone.errors import InvalidArgumentError, QcloneError
from qclone.storage.errors import NotFoundError, StorageError, UnauthorizedError, error_body, http_status
from qclone.storage.web import svg
from qclone.storage.web.fidelity import MAX_LIST_QUBITS, predicted_average_fidelities, predicted_average_fidelity
from qclone.storage.web.forms import FORM_KINDS, state_from_form
from qclone.storage.web.session import COOKIE, LOGIN_COOKIE, SESSION_SECONDS, Session, SessionKeeper

__all__ = ["PAGE_SIZE", "Viewer", "mount_dashboard"]

HERE = Path(__file__).parent
#: Objects or audit entries per page.
PAGE_SIZE = 50
#: Longest form field of a name, key or filter.
_SHORT = 300
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_PAGE_HEADERS = {"Content-Security-Policy": _CSP, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}
_SORTS = ("created", "name", "state", "qubits", "clones", "age")
_PLACEMENTS = ("today", "keep-A", "split-key")
_ACTIONS = ("drain", "kill", "revive")


#: Seconds the providers' and holders' T1/T2 and zones are cached for the objects and object pages.
TIMES_TTL = 5.0


@dataclass(frozen=True)
class Times:
    """T1/T2 by provider and by key holder, and the holders' records (zones, kinds)."""

    providers: dict[str, tuple[float, float]]
    holders: dict[str, tuple[float, float]]
    records: list[dict[str, Any]]


@dataclass(frozen=True)
class Viewer:
    """Who is signed in: the session, the tenant (None for the admin) and the session's CSRF token."""

    session: Session
    tenant: Any
    csrf: str

    @property
    def admin(self) -> bool:
        return self.session.admin

    @property
    def name(self) -> str:
        return "admin" if self.tenant is None else str(self.tenant.name)


class SignInNeededError(Exception):
    """No valid session: pages redirect to the sign-in form, JSON answers 401."""


def _nav(request: Request) -> list[dict[str, Any]]:
    viewer: Viewer | None = getattr(request.state, "ui_viewer", None)
    items = [("/ui/objects", "Objects"), ("/ui/providers", "Providers"), ("/ui/audit", "Audit log"),
             ("/ui/explorer", "Protocol explorer"), ("/ui/durability", "Durability")]
    if viewer is not None and viewer.admin:
        items = [i for i in items if i[0] != "/ui/objects"]
    elif viewer is not None:
        items = [i for i in items if i[0] != "/ui/providers"]
    path = request.url.path
    return [{"href": h, "label": label, "active": path == h or path.startswith(h + "/")} for h, label in items]


def _base_context(request: Request) -> dict[str, Any]:
    """What every template gets (also H2's explorer pages): see the package docstring."""
    viewer: Viewer | None = getattr(request.state, "ui_viewer", None)
    return {"nav": _nav(request), "user": None if viewer is None else viewer.name,
            "admin": bool(viewer is not None and viewer.admin),
            "csrf_token": None if viewer is None else viewer.csrf}


def make_templates() -> Jinja2Templates:
    """The dashboard's templates (``templates/``), with the base context of every page."""
    templates = Jinja2Templates(directory=str(HERE / "templates"), context_processors=[_base_context])
    env = templates.env
    env.filters["num"] = lambda v, digits=4: "–" if v is None else f"{float(v):.{digits}f}"
    env.filters["when"] = lambda t: "–" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(t)))
    env.filters["age"] = _age
    env.filters["urlq"] = lambda s: quote(str(s), safe="")
    env.filters["detail"] = lambda d: ", ".join(f"{k}={v}" for k, v in d.items()) if isinstance(d, dict) else ""
    return templates


def _age(seconds: Any) -> str:
    if seconds is None:
        return "–"
    s = max(0.0, float(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.0f} s"


def mount_dashboard(app: FastAPI, service: Any, *, is_admin: Callable[[str], bool],
                    json_response: Callable[..., Response], error_response: Callable[[BaseException, str], Response],
                    request_id: Callable[[Request], str], state_dir: str | Path | None = None,
                    on_failed_login: Callable[[str, str, str], Any] | None = None,
                    secure_cookies: bool = False, database: Any = None) -> None:
    """Mount the dashboard under ``/ui`` on the gateway ``app``.

    Args:
        service: the :class:`~qclone.storage.service.StorageService` the API calls.
        is_admin: the API's admin-token check.
        json_response, error_response, request_id: the API's JSON encoder, error body and request id.
        state_dir: where the session key and the signed-out sessions live (the data dir); None: in memory.
        on_failed_login: ``(source, reason, path)``: the API's audit of failed logins.
        secure_cookies: mark cookies ``Secure`` (the server runs TLS).
        database: the metadata database, where sign-outs are kept for every gateway (None: in ``state_dir``).
    """
    from qclone.storage.web.explorer import make_router as explorer_router

    keeper = SessionKeeper(state_dir, database=database)
    templates = make_templates()
    cookie_kw: dict[str, Any] = {"httponly": True, "samesite": "strict", "secure": secure_cookies, "path": "/ui"}

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        resp = templates.TemplateResponse(request, name, context, status_code=status)
        resp.headers.update(_PAGE_HEADERS)
        return resp

    def error_page(request: Request, exc: BaseException, *, back: str | None = None) -> Response:
        """The error as the API words it (a 5xx: only a generic message and the request id)."""
        rid = request_id(request)
        if _wants_json(request):
            return error_response(exc, rid)
        code = http_status(exc)
        message = error_body(exc, rid)["error"]["message"]
        return page(request, "error.html", {"status": code, "message": message, "request_id": rid, "back": back}, code)

    # ------------------------------------------------------------------ who is signed in
    def viewer(request: Request) -> Viewer:
        session = keeper.read(request.cookies.get(COOKIE))
        if session is None:
            raise SignInNeededError()
        if session.admin:
            if not is_admin(session.token):  # the admin token changed since
                raise SignInNeededError()
            tenant = None
        else:
            try:
                tenant = service.authenticate(session.token)
            except UnauthorizedError:
                raise SignInNeededError() from None
        v = Viewer(session, tenant, keeper.csrf_token(session))
        request.state.ui_viewer = v
        return v

    ViewerDep = Annotated[Viewer, Depends(viewer)]

    async def form_of(request: Request, v: Viewer) -> Any:
        """The posted form, after the CSRF check (and a same-origin check when the browser says)."""
        form = await request.form(max_files=1, max_fields=30)
        if not keeper.check_csrf(v.session, form.get("csrf_token")) or not _same_origin(request):
            raise ForbiddenError("the form's CSRF token is missing or wrong: reload the page and submit it again")
        return form

    def tenant_of(v: Viewer) -> Any:
        if v.tenant is None:
            raise ForbiddenError("objects belong to tenants: sign in with a tenant's token to see them")
        return v.tenant

    def admin_only(v: Viewer) -> None:
        if not v.admin:
            raise ForbiddenError("this page needs the admin token")

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        if _wants_json(request):
            return error_response(UnauthorizedError("sign in first"), request_id(request))
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?{urlencode({'next': target})}", status_code=303)

    app.add_exception_handler(SignInNeededError, sign_in_needed)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return error_page(request, exc)

    app.add_exception_handler(ForbiddenError, forbidden)

    router = APIRouter()
    open_router = APIRouter()

    # ------------------------------------------------------------------ sign-in
    @open_router.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/ui/objects") -> Response:  # noqa: A002 - the query's name
        nonce, token = keeper.login_nonce()
        resp = page(request, "login.html", {"login_token": token, "next": _safe_next(next), "message": None})
        resp.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, **cookie_kw)
        return resp

    @open_router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        token = str(form.get("token") or "").strip()
        nxt = _safe_next(str(form.get("next") or "/ui/objects")[:_SHORT])
        if not keeper.check_login(request.cookies.get(LOGIN_COOKIE), form.get("login_token")):
            return error_page(request, ForbiddenError("the sign-in form expired: reload it and sign in again"), back="/ui/login")
        admin = bool(token) and len(token) <= 512 and is_admin(token)
        if not admin:
            try:
                if not token or len(token) > 512:
                    raise UnauthorizedError("bad token")
                service.authenticate(token)
            except UnauthorizedError as exc:
                if on_failed_login is not None:
                    on_failed_login(request.client.host if request.client else "unknown", str(exc), request.url.path)
                nonce, fresh = keeper.login_nonce()
                resp = page(request, "login.html", {"login_token": fresh, "next": nxt,
                                                    "message": "That token was not accepted."}, 401)
                resp.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, **cookie_kw)
                return resp
        _, value = keeper.issue(token, admin=admin)
        if admin and nxt == "/ui/objects":
            nxt = "/ui/providers"
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(COOKIE, value, max_age=SESSION_SECONDS, **cookie_kw)
        resp.delete_cookie(LOGIN_COOKIE, path="/ui")
        return resp

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request, v: ViewerDep) -> Response:
        await form_of(request, v)
        keeper.revoke(v.session)
        resp = RedirectResponse("/ui/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict", secure=secure_cookies)
        return resp

    @open_router.get("", include_in_schema=False)
    @open_router.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/ui/objects", status_code=303)

    # ------------------------------------------------------------------ objects
    cache_lock = threading.Lock()
    cache: dict[str, Any] = {}

    def providers_times() -> "Times":
        """The providers' and key holders' T1/T2, zones and kinds (cached for :data:`TIMES_TTL`
        seconds: counting every provider's clones on each page view would cost more than the page)."""
        now = time.monotonic()
        with cache_lock:
            hit = cache.get("times")
            if hit is not None and now - hit[0] < TIMES_TTL:
                return hit[1]
        holders = service.holders_list()
        value = Times({str(p["id"]): (float(p["t1"]), float(p["t2"])) for p in service.providers()},
                      {str(h["id"]): (float(h["t1"]), float(h["t2"])) for h in holders}, holders)
        with cache_lock:
            cache["times"] = (now, value)
        return value

    @router.get("/objects", include_in_schema=False)
    def objects_page(request: Request, v: ViewerDep, cursor: str | None = None,
                     state: str | None = None, q: str | None = None, sort: str = "created", order: str = "asc",
                     format: str = "html",  # noqa: A002 - datasette's name
                     ) -> Response:
        try:
            tenant = tenant_of(v)
            if cursor is not None and len(cursor) > 1024:
                raise InvalidArgumentError("the cursor is not one of this listing's")
            state = state or None
            rows, nxt = service.list_page(tenant, state=state, limit=PAGE_SIZE, cursor=cursor)
            if format == "json":
                return json_response({"objects": rows, "next_cursor": nxt})
            now = float(service.clock.now())
            times = providers_times()
            provs, holds = times.providers, times.holders
            shown = [r for r in rows if not q or q.lower() in str(r["name"]).lower()]
            if sort not in _SORTS:
                sort = "created"
            key = {"created": lambda r: (r["created_at"], r["name"]), "name": lambda r: r["name"],
                   "state": lambda r: (r["state"], r["name"]), "qubits": lambda r: (r["qubits"], r["name"]),
                   "clones": lambda r: (r["clones"], r["name"]), "age": lambda r: (-(r["stored_at"] or 0), r["name"])}[sort]
            shown.sort(key=key, reverse=order == "desc")
            for r in shown:
                r["age"] = now - r["stored_at"] if r["stored_at"] is not None else None
            _list_fidelities(shown, now, provs, holds)
            for r in shown:  # the row's texts made here: a page of 50 renders in half the time
                r["href"], r["age_text"], f = quote(str(r["name"]), safe=""), _age(r["age"]), r["fidelity_now"]
                r["fidelity_text"] = "–" if f is None else (f"{f['low']:.4f}" if f"{f['low']:.4f}" == f"{f['high']:.4f}"
                                                            else f"{f['low']:.4f} – {f['high']:.4f}")
            filters = {"state": state or "", "q": q or "", "sort": sort, "order": order}
            return page(request, "objects.html", {
                "objects": shown, "next_cursor": nxt, "filters": filters, "kinds": FORM_KINDS,
                "placements": _PLACEMENTS, "states": ("stored", "delivering", "retrieved", "deleted", "lost", "retrieving",
                                                      "storing"),
                "next_url": None if nxt is None else "/ui/objects?" + urlencode({**filters, "cursor": nxt}),
                "json_url": "/ui/objects?" + urlencode({**({"cursor": cursor} if cursor else {}),
                                                       **({"state": state} if state else {}), "format": "json"}),
                "message": None, "form": {}})
        except QcloneError as exc:
            return error_page(request, exc)

    @router.post("/objects", include_in_schema=False)
    async def store(request: Request, v: ViewerDep) -> Response:
        form = await form_of(request, v)
        try:
            tenant = tenant_of(v)
            name = str(form.get("name") or "")[: _SHORT]
            kind = str(form.get("kind") or "")
            upload = form.get("qasm_file")
            text: str | None = None
            if isinstance(upload, UploadFile) and upload.filename:
                from qclone.storage.inputs import MAX_QASM_CHARS

                raw = await upload.read(4 * MAX_QASM_CHARS + 1)
                if len(raw) > 4 * MAX_QASM_CHARS:
                    raise InvalidArgumentError(f"the OpenQASM file is larger than {4 * MAX_QASM_CHARS} bytes")
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise InvalidArgumentError("the OpenQASM file is not UTF-8 text") from None
            clones_text = str(form.get("clones") or "4")
            if not clones_text.isdigit() or len(clones_text) > 4:
                raise InvalidArgumentError("the number of clones must be a whole number")
            placement = str(form.get("placement") or "today")
            if placement not in _PLACEMENTS:
                raise InvalidArgumentError(f"unknown placement; choose one of {', '.join(_PLACEMENTS)}")
            policy = str(form.get("policy") or "distinct-providers")
            state_text = str(form.get("data") or "")

            def put() -> dict:
                from qclone.storage.inputs import check_name

                check_name(name)  # before parsing the state, as the API: a bad name costs nothing
                st = state_from_form(kind, state_text, text)
                return dict(service.put(tenant, name, st, clones=int(clones_text), policy=policy,
                                        keep_reference=form.get("keep_reference") == "on", placement=placement))

            rec = await _in_thread(put)
        except QcloneError as exc:
            return error_page(request, exc, back="/ui/objects")
        return RedirectResponse(f"/ui/objects/{quote(rec['name'], safe='')}", status_code=303)

    @router.get("/objects/{name}", include_in_schema=False)
    def object_page(request: Request, name: str, v: ViewerDep, coalition: int | None = None, all: bool = False,  # noqa: A002 - the query's name
                    format: str = "html",  # noqa: A002 - datasette's name
                    ) -> Response:
        try:
            tenant = tenant_of(v)
            rec = service.stat(tenant, name, full_audit=True)
            if format == "json":
                return json_response(rec)
            return page(request, "object.html", _object_context(service, tenant, rec, coalition, providers_times(), every=all))
        except QcloneError as exc:
            return error_page(request, exc)

    @router.post("/objects/{name}/get", include_in_schema=False)
    async def get_object(request: Request, name: str, v: ViewerDep) -> Response:
        form = await form_of(request, v)
        try:
            tenant = tenant_of(v)
            if form.get("confirm") != "on":
                raise InvalidArgumentError("tick the box that says you understand a get is possible once")
            key = str(form.get("key") or "")[:100]

            def get_and_ack() -> dict:
                out = dict(service.get(tenant, name, key=key or None))
                service.ack(tenant, name, out["key"])  # the CLI's flow: received, then acknowledged
                return out

            out = await _in_thread(get_and_ack)
            rec = service.stat(tenant, name, full_audit=True)
        except QcloneError as exc:
            return error_page(request, exc, back=f"/ui/objects/{quote(name, safe='')}")
        if _wants_json(request):
            from qclone.storage.api import encode_output

            return json_response(encode_output(out))
        spheres = []
        ref = out.get("reference_bloch")
        for i, b in enumerate(out.get("bloch") or []):
            stored = ref[i] if ref is not None and i < len(ref) else None
            spheres.append({"qubit": i,
                            "retrieved": svg.bloch_sphere(b, label=f"qubit {i}: retrieved", other=stored),
                            "stored": None if stored is None else svg.bloch_sphere(stored, label=f"qubit {i}: stored")})
        ctx = _object_context(service, tenant, rec, None, providers_times())
        ctx["result"] = {**out, "spheres": spheres}
        return page(request, "object.html", ctx)

    @router.post("/objects/{name}/apply", include_in_schema=False)
    async def apply_gate(request: Request, name: str, v: ViewerDep) -> Response:
        """A logical gate on the stored object (``qclone apply``): its holders act, nothing is decrypted."""
        form = await form_of(request, v)
        back = f"/ui/objects/{quote(name, safe='')}"
        try:
            tenant = tenant_of(v)
            gate = str(form.get("gate") or "")[:32]
            key = str(form.get("key") or "")[:64] or None
            out = await _in_thread(lambda: service.apply(tenant, name, gate, key=key))
        except QcloneError as exc:
            return error_page(request, exc, back=back)
        if _wants_json(request):
            return json_response(out)
        return RedirectResponse(back, status_code=303)

    # ------------------------------------------------------------------ providers (admin)
    @router.get("/providers", include_in_schema=False)
    def providers_page(request: Request, v: ViewerDep,
                       format: str = "html",  # noqa: A002 - datasette's name
                       ) -> Response:
        try:
            admin_only(v)
            rows = service.providers()
            if format == "json":
                return json_response({"providers": rows})
            history = _history(service)
            return page(request, "providers.html", {"providers": rows, "holders": service.holders_list(),
                                                    "history": history, "result": None})
        except QcloneError as exc:
            return error_page(request, exc)

    @router.get("/providers/{provider_id}/{action}", include_in_schema=False)
    def confirm_action(request: Request, provider_id: str, action: str, v: ViewerDep) -> Response:
        try:
            admin_only(v)
            if action not in _ACTIONS:
                raise NotFoundError("no such page")
            record = next((p for p in service.providers() if p["id"] == provider_id), None)
            if record is None:
                raise NotFoundError(f"no provider {provider_id!r}")
            return page(request, "confirm.html", {"provider": record, "action": action})
        except QcloneError as exc:
            return error_page(request, exc)

    @router.post("/providers/{provider_id}/{action}", include_in_schema=False)
    async def provider_action(request: Request, provider_id: str, action: str, v: ViewerDep) -> Response:
        form = await form_of(request, v)
        try:
            admin_only(v)
            if action not in _ACTIONS:
                raise NotFoundError("no such page")
            if form.get("confirm") != "yes":
                raise InvalidArgumentError("confirm the action first")
            kw = {"destroy": form.get("destroy") == "on"} if action == "kill" else {}
            result = await _in_thread(lambda: getattr(service, f"{action}_provider")(provider_id, **kw))
            if _wants_json(request):
                return json_response(result)
            rows = service.providers()
            history = _history(service)
            return page(request, "providers.html", {"providers": rows, "holders": service.holders_list(),
                                                    "history": history, "result": {"action": action, **result}})
        except QcloneError as exc:
            return error_page(request, exc)

    # ------------------------------------------------------------------ audit log
    @router.get("/audit", include_in_schema=False)
    def audit_page(request: Request, v: ViewerDep, after: int | None = None,
                   action: str | None = None, object: str | None = None,  # noqa: A002 - the filter's name
                   format: str = "html",  # noqa: A002 - datasette's name
                   ) -> Response:
        try:
            if after is not None and not 0 <= after < 2 ** 63:
                raise InvalidArgumentError("after must be an entry id >= 0")
            action = (action or "")[:_SHORT] or None
            obj = (object or "")[:_SHORT] or None
            rows = service.audit_log(v.tenant, limit=PAGE_SIZE + 1, after=after, action=action, object_name=obj)
            more = len(rows) > PAGE_SIZE
            del rows[PAGE_SIZE:]
            if format == "json":
                return json_response({"entries": rows})
            filters = {k: val for k, val in (("action", action), ("object", obj)) if val}
            return page(request, "audit.html", {
                "entries": rows, "filters": {"action": action or "", "object": obj or ""},
                "next_url": "/ui/audit?" + urlencode({**filters, "after": rows[-1]["id"]}) if more and rows else None,
                "json_url": "/ui/audit?" + urlencode({**filters, **({"after": after} if after is not None else {}),
                                                     "format": "json"})})
        except QcloneError as exc:
            return error_page(request, exc)

    router.include_router(explorer_router(templates))
    app.include_router(open_router, prefix="/ui")
    app.include_router(router, prefix="/ui", dependencies=[Depends(viewer)])
    app.mount("/ui/static", StaticFiles(directory=str(HERE / "static")), name="ui-static")



class ForbiddenError(StorageError):
    """A signed-in user asked for what the session may not do (403)."""

    http_status = 403


def _wants_json(request: Request) -> bool:
    return request.query_params.get("format") == "json"


def _same_origin(request: Request) -> bool:
    """False when the browser names another origin for a form post (SameSite=Strict already keeps
    the cookie off cross-site posts; this is the second lock)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def _safe_next(target: str) -> str:
    """Only a path of this dashboard (never another site) after signing in."""
    if not target.startswith("/ui/") or target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target):
        return "/ui/objects"
    return target


def _history(service: Any) -> list[dict[str, Any]]:
    """The providers' up/down history: the last 50 of their audit entries of the last day."""
    since = float(service.clock.now()) - 86400.0
    return service.audit_log(None, limit=2000, action="provider.", since=since)[-50:][::-1]


async def _in_thread(fn: Callable[[], Any]) -> Any:
    import anyio

    return await anyio.to_thread.run_sync(fn)


def _list_fidelities(rows: list[dict[str, Any]], now: float, provs: dict[str, tuple[float, float]],
                     holds: dict[str, tuple[float, float]]) -> None:
    """Set ``fidelity_now`` of each row: the predicted average fidelity of a get now (objects page),
    the range over the providers' T1/T2 (which provider's clone a get decrypts is chosen at the
    get), the key at the vault; None where not stored or larger than :data:`MAX_LIST_QUBITS`."""
    vault = holds.get("vault")
    groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in rows:
        r["fidelity_now"] = None
        if r["state"] == "stored" and r["qubits"] <= MAX_LIST_QUBITS and r["stored_at"] is not None:
            groups.setdefault((int(r["qubits"]), int(r["clones"])), []).append(r)
    if vault is None or not provs:
        return
    for (k, n), members in groups.items():
        elapsed = [max(0.0, now - r["stored_at"]) for r in members]
        values = np.array([predicted_average_fidelities(k, n, elapsed, t, vault) for t in set(provs.values())])
        for r, low, high in zip(members, values.min(axis=0), values.max(axis=0)):
            r["fidelity_now"] = {"low": float(low), "high": float(high)}


def _object_context(service: Any, tenant: Any, rec: dict[str, Any], coalition: int | None, times: "Times", *,
                    every: bool = False) -> dict[str, Any]:
    """Everything the object page shows beside the record. The coalition table lists the minimal
    coalitions, the partially informative ones and the unintended ones (a coalition that holds an
    authorized one learns everything too); ``every``: all of them."""
    provs, holds = times.providers, times.holders
    report = rec.get("audit_report") or {}
    findings = list(report.get("findings") or [])
    highlight: list[str] = []
    if coalition is not None and 0 <= coalition < len(findings):
        highlight = list(findings[coalition]["coalition"])
    else:
        coalition = None
    picture = svg.placement_picture(rec, times.records, highlight)
    timeline = service.audit_log(tenant, limit=200, object_name=rec["name"])
    now = float(service.clock.now())
    predicted = None
    if rec["state"] == "stored" and rec.get("stored_at") is not None:
        elapsed = max(0.0, now - rec["stored_at"])
        key_holder = next((p["holder"] for p in rec.get("parts") or [] if p["state"] == "live"), "vault")
        key_times = holds.get(key_holder, holds.get("vault"))
        per_clone = []
        for c in rec.get("placement") or []:
            if c["state"] == "live" and c["provider"] in provs and key_times is not None:
                per_clone.append({"clone": c["clone"], "provider": c["provider"],
                                  "fidelity": predicted_average_fidelity(rec["qubits"], rec["clones"], elapsed,
                                                                         provs[c["provider"]], key_times,
                                                                         clone=c["clone"])})
        predicted = {"elapsed": elapsed, "key_holder": key_holder, "per_clone": per_clone}
    rows = [{"index": i, **f} for i, f in enumerate(findings)
            if every or f.get("minimal", True) or f.get("kind") == "partial" or not f.get("intended", True) or i == coalition]
    from qclone.protocol.logical import available_gates

    gates = [g for g in available_gates(int(rec["clones"])) if g != "I"] if rec["state"] == "stored" else []
    return {"object": rec, "findings": findings, "rows": rows, "every": every, "coalition": coalition, "picture": picture,
            "gates": gates, "logical": rec.get("logical") or {"gates": [], "in_progress": None},
            "timeline": timeline, "predicted": predicted, "get_key": secrets.token_hex(12), "result": None,
            "json_url": f"/ui/objects/{quote(rec['name'], safe='')}?format=json", "math": math}
