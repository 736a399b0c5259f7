"""FastAPI apps of the substrate, the key vault and a provider node.

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

import hmac
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import error_body, http_status
from qclone.storage.remote import NODE_KEY_HEADER
from qclone.storage.wire import encode_array

__all__ = [
    "NODE_KEY_HEADER",
    "PROVIDER_METHODS",
    "SUBSTRATE_METHODS",
    "VAULT_METHODS",
    "decode_state",
    "encode_state",
    "node_app",
]

#: The methods each component exposes (its interface in docs/storage.md, without ``health``).
SUBSTRATE_METHODS = ("create", "exists", "age", "peek", "decrypt", "output", "sample", "release", "discard")
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


def _json(content: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
    )


def _error(exc: BaseException) -> Response:
    return _json(error_body(exc), http_status(exc))


def node_app(kind: str, component: Any, methods: tuple[str, ...], *, node_key: str | None = None) -> FastAPI:
    """A FastAPI app exposing ``methods`` of ``component`` (a substrate, vault or provider).

    Args:
        kind: ``"substrate"``, ``"vault"`` or ``"provider"`` (the title of the app).
        component: the local object whose methods are called.
        methods: the names of the methods exposed as ``POST /v1/<name>``.
        node_key: if set, calls without this key in the ``X-Qclone-Node-Key`` header get 401.
    """
    app = FastAPI(title=f"qclone {kind} node", version="1")
    signatures = {name: inspect.signature(getattr(component, name)) for name in methods}

    def check_key(request: Request) -> Response | None:
        if node_key is None:
            return None
        given = request.headers.get(NODE_KEY_HEADER, "")
        if hmac.compare_digest(given.encode(), node_key.encode()):
            return None
        return _json({"error": {"type": "UnauthorizedError", "message": "missing or bad node key"}}, 401)

    def make_endpoint(name: str) -> Callable:
        method = getattr(component, name)
        params = signatures[name].parameters

        def endpoint(kwargs: dict) -> Response:
            # A sync endpoint runs in the thread pool: the components do blocking file I/O.
            try:
                unknown = set(kwargs) - set(params)
                if unknown:
                    raise InvalidArgumentError(f"{kind}.{name}: unexpected arguments {sorted(unknown)}")
                try:
                    signatures[name].bind(**kwargs)
                except TypeError as exc:  # missing arguments
                    raise InvalidArgumentError(f"{kind}.{name}: {exc}") from None
                if "state" in kwargs and kind == "substrate":
                    kwargs["state"] = decode_state(kwargs["state"])
                return _json({"result": _encode_result(method(**kwargs))})
            except Exception as exc:  # noqa: BLE001 - every error becomes a JSON body
                return _error(exc)

        async def route(request: Request) -> Response:
            denied = check_key(request)
            if denied is not None:
                return denied
            body = await request.body()
            try:
                kwargs = orjson.loads(body) if body else {}
            except orjson.JSONDecodeError:
                return _json(error_body(InvalidArgumentError("the request body is not valid JSON")), 422)
            if not isinstance(kwargs, dict):
                return _json(error_body(InvalidArgumentError("the request body must be a JSON object")), 422)
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(endpoint, kwargs)

        route.__name__ = f"{kind}_{name}"
        return route

    for name in methods:
        app.add_api_route(f"/v1/{name}", make_endpoint(name), methods=["POST"], name=name)

    async def health(request: Request) -> Response:
        denied = check_key(request)
        if denied is not None:
            return denied
        try:
            return _json(component.health())
        except Exception as exc:  # noqa: BLE001
            return _error(exc)

    app.add_api_route("/v1/health", health, methods=["GET"], name="health")
    return app
