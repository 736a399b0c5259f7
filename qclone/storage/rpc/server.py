"""The server side of the RPC layer: one ASGI app per node, built from the node's port.

``POST /v1/<method>`` calls the port method of the local component with the
JSON body as keyword arguments and answers ``{"result": ...}``; errors travel
as ``{"error": {"type", "message"}}`` with the status of
:func:`~qclone.storage.errors.http_status`. Who may call what
(:func:`endpoints`):

* every port method: the enrolled gateway only (a signed request, see
  :mod:`qclone.storage.rpc.keys`); the substrate's ``decrypt`` also needs a
  decryption authorization signed by the vault (checked by the substrate);
* ``GET /v1/health``: anyone gets liveness only (``{"status": "ok"}``); the
  gateway's signed request gets the component's health;
* ``POST /v1/enroll``: whoever holds the node's join token, once; afterwards
  the gateway (to hand the substrate the vault's key again).

Plain ASGI, no framework: these calls are internal and hot.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import UnauthorizedError, error_body, http_status
from qclone.storage.ports import PORTS, port_methods
from qclone.storage.rpc.codec import codec_of
from qclone.storage.rpc.keys import H_NONCE, H_TIME, NodeKeys, RequestGuard

__all__ = ["MAX_BODY", "NodeApp", "endpoints", "node_app"]

#: Largest request body a node accepts (a k = 8 density matrix in JSON is about 3 MB).
MAX_BODY = 16 * 1024 * 1024


def endpoints(role: str) -> list[tuple[str, str, str]]:
    """``(HTTP method, path, who may call)`` for every endpoint of a node of ``role``."""
    rows = [("GET", "/v1/health", "anyone: liveness only; the gateway: the node's health"),
            ("POST", "/v1/enroll", "the holder of the node's join token (once); then the gateway")]
    for name in port_methods(PORTS[role]):
        who = "the gateway"
        if (role, name) == ("substrate", "decrypt"):
            who = "the gateway, with a one-time authorization signed by the vault"
        rows.append(("POST", f"/v1/{name}", who))
    return rows


def _body(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def _error(exc: BaseException) -> tuple[int, bytes]:
    return http_status(exc), _body(error_body(exc))


class NodeApp:
    """The app of one node (see the module docstring)."""

    def __init__(self, role: str, component: Any, keys: NodeKeys, *, threads: int = 8) -> None:
        self.role = role
        self.component = component
        self.keys = keys
        self.guard = RequestGuard(keys.identity, gateway_key=lambda: keys.gateway_key)
        # several processes serve this node (a shared substrate): a request's nonce is also
        # recorded where they all see it, so a replay to another worker is refused too
        self.remember = component.remember_request if getattr(component, "shared", False) \
            and callable(getattr(component, "remember_request", None)) else None
        self.methods = {name: getattr(component, name) for name in port_methods(PORTS[role])}
        self.signatures = {name: inspect.signature(m) for name, m in self.methods.items()}
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"qclone-{role}")

    def fresh(self, headers: dict[str, str]) -> None:
        """Refuse a signed request another process of this node has taken already (see ``remember``)."""
        if self.remember is not None:
            at = float(headers[H_TIME])
            if not self.remember(headers[H_NONCE], max(time.time(), at) + 2 * self.guard.skew):
                raise UnauthorizedError("replayed request")

    def call(self, name: str, raw: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Run one method call; (status, JSON body). Runs in the thread pool. ``headers``: of the
        signed request (checked by :meth:`fresh` first)."""
        try:
            if headers is not None:
                self.fresh(headers)
            kwargs = self._kwargs(raw)
            try:
                self.signatures[name].bind(**kwargs)
            except TypeError as exc:  # missing or unexpected arguments
                raise InvalidArgumentError(f"{self.role}.{name}: {exc}") from None
            codec = codec_of(self.role, name)
            for arg, (_, decode) in codec.args.items():
                if arg in kwargs:
                    kwargs[arg] = decode(kwargs[arg])
            return 200, _body({"result": codec.result[0](self.methods[name](**kwargs))})
        except Exception as exc:  # noqa: BLE001 - every error becomes a JSON error body for the gateway
            return _error(exc)

    @staticmethod
    def _kwargs(raw: bytes) -> dict:
        try:
            kwargs = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            raise InvalidArgumentError("the request body is not valid JSON") from None
        if not isinstance(kwargs, dict):
            raise InvalidArgumentError("the request body must be a JSON object")
        return kwargs

    def health(self, full: bool) -> tuple[int, bytes]:
        if not full:
            return 200, _body({"status": "ok"})
        try:
            return 200, _body({**self.component.health(), "role": self.role, "public_key": self.keys.identity.key_id})
        except Exception as exc:  # noqa: BLE001 - reported as the node's error
            return _error(exc)

    def enroll(self, raw: bytes, signed: bool, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        try:
            if signed and headers is not None:
                self.fresh(headers)
            return 200, _body({"result": self.keys.enroll(self._kwargs(raw), signed_by_gateway=signed)})
        except Exception as exc:  # noqa: BLE001 - every error becomes a JSON error body
            return _error(exc)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                status, body = 413, _body({"error": {"type": "TooLargeError", "message": "request body too large"}})
                break
            chunks.append(chunk)
            more = message.get("more_body", False)
        else:
            status, body = await self._dispatch(scope, b"".join(chunks))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _dispatch(self, scope: dict, raw: bytes) -> tuple[int, bytes]:
        path, method = scope["path"], scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        loop = asyncio.get_running_loop()
        try:
            self.guard.verify(method, path, headers, raw)
            signed = True
        except UnauthorizedError as exc:
            signed, refusal = False, exc
        if path == "/v1/health":
            if method != "GET":
                return 405, _body({"error": {"type": "MethodNotAllowed", "message": "use GET /v1/health"}})
            return await loop.run_in_executor(self.pool, self.health, signed)
        if path == "/v1/enroll":
            if method != "POST":
                return 405, _body({"error": {"type": "MethodNotAllowed", "message": "use POST /v1/enroll"}})
            return await loop.run_in_executor(self.pool, self.enroll, raw, signed, headers)
        if not signed:
            return _error(refusal)
        name = path[len("/v1/"):] if path.startswith("/v1/") else None
        if name not in self.methods:
            return 404, _body({"error": {"type": "NotFoundError", "message": f"no such {self.role} call"}})
        if method != "POST":
            return 405, _body({"error": {"type": "MethodNotAllowed", "message": f"use POST {path}"}})
        return await loop.run_in_executor(self.pool, self.call, name, raw, headers)


def node_app(role: str, component: Any, keys: NodeKeys) -> NodeApp:
    """The ASGI app of a node: ``component`` (the local class of ``role``'s port) behind the RPC layer."""
    return NodeApp(role, component, keys)
