"""The apps of the substrate, the key vault and a provider node (plain ASGI, served by uvicorn).

Each app exposes the methods of its component's interface (see
docs/storage.md) as ``POST /v1/<method>`` with the keyword arguments as a
JSON object, and answers ``{"result": ...}``; ``GET /v1/health`` answers the
component's health. Errors travel as ``{"error": {"type", "message"}}`` with
the status of :func:`qclone.storage.errors.http_status`, and
:mod:`qclone.storage.remote` turns them back into the same exceptions.

The node ports are internal: bind them to loopback (or a private network).
With ``node_key`` set, every call must carry it in the ``X-Qclone-Node-Key``
header.

Only the arguments that are not plain JSON are converted: a substrate
``state`` (an :class:`~qclone.storage.inputs.InputState`) travels as a state
in the wire format, and arrays (``peek``) as complex arrays.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import orjson

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import error_body, http_status
from qclone.storage.remote import NODE_KEY_HEADER
from qclone.storage.wire import encode_array

__all__ = [
    "NODE_KEY_HEADER",
    "PROVIDER_METHODS",
    "SUBSTRATE_METHODS",
    "VAULT_METHODS",
    "NodeApp",
    "decode_state",
    "encode_state",
    "node_app",
]

#: The methods each component exposes (its interface in docs/storage.md, without ``health``).
SUBSTRATE_METHODS = ("create", "exists", "age", "peek", "fence", "decrypt", "output", "sample", "release", "discard")
VAULT_METHODS = ("deposit", "release", "consume", "restore", "state", "destroy")
PROVIDER_METHODS = ("store", "discard", "holding", "records")


def encode_state(state: Any) -> dict:
    """An :class:`~qclone.storage.inputs.InputState` as a wire-format state (its state vector or
    density matrix), so that the receiving side validates it again with ``parse_state``."""
    return state.to_wire()


def decode_state(value: Any) -> Any:
    """The inverse of :func:`encode_state` (validated by :func:`qclone.storage.inputs.parse_state`)."""
    from qclone.storage.inputs import parse_state

    if not isinstance(value, dict) or "kind" not in value or "data" not in value:
        raise InvalidArgumentError("state must be an object with 'kind' and 'data'")
    return parse_state(value["kind"], value["data"])


def _encode_result(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return encode_array(value)
    return value


def _body(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def _error(exc: BaseException) -> tuple[int, bytes]:
    return http_status(exc), _body(error_body(exc))


class NodeApp:
    """A plain ASGI app (no framework: these calls are internal and hot, and a framework's
    routing and middleware cost more CPU per call than the small methods they wrap).

    ``POST /v1/<method>`` calls the method in a thread pool (the components do blocking
    file and SQLite I/O); ``GET /v1/health`` answers the component's health.
    """

    def __init__(self, kind: str, component: Any, methods: tuple[str, ...], *, node_key: str | None = None,
                 threads: int = 8) -> None:
        self.kind = kind
        self.component = component
        self.methods = {name: getattr(component, name) for name in methods}
        self.signatures = {name: inspect.signature(m) for name, m in self.methods.items()}
        self.node_key = None if node_key is None else node_key.encode()
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"qclone-{kind}")

    def call(self, name: str, raw: bytes) -> tuple[int, bytes]:
        """Run one method call; (status, JSON body). Runs in the thread pool."""
        try:
            try:
                kwargs = orjson.loads(raw) if raw else {}
            except orjson.JSONDecodeError:
                raise InvalidArgumentError("the request body is not valid JSON") from None
            if not isinstance(kwargs, dict):
                raise InvalidArgumentError("the request body must be a JSON object")
            try:
                self.signatures[name].bind(**kwargs)
            except TypeError as exc:  # missing or unexpected arguments
                raise InvalidArgumentError(f"{self.kind}.{name}: {exc}") from None
            if "state" in kwargs and self.kind == "substrate":
                kwargs["state"] = decode_state(kwargs["state"])
            return 200, _body({"result": _encode_result(self.methods[name](**kwargs))})
        except Exception as exc:  # noqa: BLE001 - a node answers every failure of a call with an error reply - every error becomes a JSON body
            return _error(exc)

    def health(self) -> tuple[int, bytes]:
        try:
            return 200, _body(self.component.health())
        except Exception as exc:  # noqa: BLE001 - a node answers every failure of a call with an error reply
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
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        status, body = await self._dispatch(scope, b"".join(chunks))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def _dispatch(self, scope: dict, raw: bytes) -> tuple[int, bytes]:
        if self.node_key is not None:
            given = dict(scope["headers"]).get(NODE_KEY_HEADER.encode(), b"")
            if not hmac.compare_digest(given, self.node_key):
                return 401, _body({"error": {"type": "UnauthorizedError", "message": "missing or bad node key"}})
        path, method = scope["path"], scope["method"]
        loop = asyncio.get_running_loop()
        if path == "/v1/health":
            if method != "GET":
                return 405, _body({"error": {"type": "MethodNotAllowed", "message": "use GET /v1/health"}})
            return await loop.run_in_executor(self.pool, self.health)
        name = path[len("/v1/"):] if path.startswith("/v1/") else None
        if name not in self.methods:
            return 404, _body({"error": {"type": "NotFoundError", "message": f"no such {self.kind} call: {path}"}})
        if method != "POST":
            return 405, _body({"error": {"type": "MethodNotAllowed", "message": f"use POST {path}"}})
        return await loop.run_in_executor(self.pool, self.call, name, raw)


def node_app(kind: str, component: Any, methods: tuple[str, ...], *, node_key: str | None = None) -> NodeApp:
    """The ASGI app exposing ``methods`` of ``component`` (a substrate, vault or provider).

    Args:
        kind: ``"substrate"``, ``"vault"`` or ``"provider"`` (used in messages).
        component: the local object whose methods are called.
        methods: the names of the methods exposed as ``POST /v1/<name>``.
        node_key: if set, calls without this key in the ``X-Qclone-Node-Key`` header get 401.
    """
    return NodeApp(kind, component, methods, node_key=node_key)
