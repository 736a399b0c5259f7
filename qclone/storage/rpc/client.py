"""The client side of the RPC layer: a remote implementation of a port, generated from it.

:func:`remote_class` builds, from a port (:mod:`qclone.storage.ports`) and the
codec table (:mod:`qclone.storage.rpc.codec`), a class whose methods sign the
call (:func:`~qclone.storage.rpc.keys.sign_request`), send it over a
keep-alive HTTP/1.1 connection (one per thread; ``http.client`` costs about a
quarter of httpx's CPU per call) with the method's timeout, and turn the answer
back into the result or the same exception the node raised.

Failure is fast and visible: a node that cannot be reached, times out, answers
5xx or refuses the gateway's signature raises
:class:`~qclone.storage.errors.UnavailableError`, and counts against the
node's :class:`~qclone.storage.rpc.breaker.CircuitBreaker` (a timeout opens it at
once: a stalled node would make every call wait as long); once it is open,
calls fail at once (with ``retry_after``) until a probe succeeds.
:meth:`RemoteNode.status` is a cached health probe that never waits more than a
fraction of a second (for the gateway's health and provider listing).
"""

from __future__ import annotations

import http.client
import inspect
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from qclone import errors as base_errors
from qclone.errors import InvalidArgumentError
from qclone.storage import errors as storage_errors
from qclone.storage.errors import UnavailableError
from qclone.storage.ports import PORTS, port_methods
from qclone.storage.rpc.breaker import CircuitBreaker
from qclone.storage.rpc.codec import PROBE_TIMEOUT, codec_of
from qclone.storage.rpc.keys import (
    Identity,
    JoinToken,
    enrollment_reply_message,
    sign_request,
    verify,
)

__all__ = ["RemoteNode", "enroll", "error_from_body", "remote_class"]

#: Exceptions a node may report, by class name (a RefusedError stands for a type *not* known here).
_KNOWN: dict[str, type[Exception]] = {
    name: cls
    for module in (base_errors, storage_errors)
    for name, cls in vars(module).items()
    if isinstance(cls, type) and issubclass(cls, base_errors.QcloneError) and cls is not storage_errors.RefusedError
}


def error_from_body(status: int, body: bytes, *, where: str, by_status: bool = False) -> Exception:
    """The exception an error response stands for (the same class when it is a qclone error).

    An error type it does not know is an :class:`UnavailableError` (a node of this deployment
    answering what it never should); with ``by_status`` (a client of a server that may be newer),
    a 4xx of an unknown type is a :class:`~qclone.storage.errors.RefusedError` carrying that
    status, and only a 5xx is an :class:`UnavailableError`.
    """
    try:
        err = orjson.loads(body)["error"]
        name, message = str(err["type"]), str(err["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return UnavailableError(f"{where} answered HTTP {status} without an error body")
    cls = _KNOWN.get(name)
    if cls is None and by_status and 400 <= status < 500:
        return storage_errors.RefusedError(f"{where} refused the request: {name}: {message}", http_status=status,
                                           kind=name)
    if cls is None or (status >= 500 and cls is not UnavailableError):
        return UnavailableError(f"{where} failed: {name}: {message}")
    return cls(message)


class _Transport:
    """Keep-alive connections to one node, one per thread."""

    def __init__(self, url: str) -> None:
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidArgumentError(f"a node URL looks like http://host:port, got {url!r}")
        self.url = url.rstrip("/")
        self._https = parsed.scheme == "https"
        self._host, self._port = parsed.hostname, parsed.port
        self.prefix = parsed.path.rstrip("/")
        self._local = threading.local()

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=timeout)
            self._local.conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class RemoteNode:
    """A node of a multi-process deployment, called by the gateway (see the module docstring).

    Args:
        url: the node's base URL.
        identity: the gateway's key (every request is signed with it).
        node_key: the node's public key id (pinned at enrollment; requests name it as their audience).
        timeout: overrides every method's timeout (seconds).
        breaker: failures before the breaker opens, and its cool-off in seconds.
    """

    role = "node"

    def __init__(self, url: str, *, identity: Identity, node_key: str, timeout: float | None = None,
                 breaker: tuple[int, float] = (3, 5.0)) -> None:
        self._t = _Transport(url)
        self.url = self._t.url
        self.identity = identity
        self.node_key = node_key
        self._timeout = timeout
        self.breaker = CircuitBreaker(f"the {self.role} at {self.url}", threshold=breaker[0], cooloff=breaker[1])
        self._status_lock = threading.Lock()
        self._status: tuple[float, dict] | None = None
        self._probe: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        self._t.close()

    def _exchange(self, method: str, path: str, content: bytes, timeout: float) -> tuple[int, bytes]:
        where = f"{self.role} at {self.url}"
        for retry in (False, True):
            conn = self._t.connection(timeout)
            reused = conn.sock is not None
            headers = {"content-type": "application/json", "connection": "keep-alive",
                       **sign_request(self.identity, method, path, content, audience=self.node_key)}
            try:
                conn.request(method, self._t.prefix + path, body=content, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if reused and not retry:
                    continue  # the node closed an idle connection: once more on a fresh one
                raise UnavailableError(f"{where} is unreachable ({type(exc).__name__})") from exc
            except (OSError, http.client.HTTPException) as exc:  # refused, timed out, garbled
                self.close()
                raise UnavailableError(f"{where} is unreachable ({type(exc).__name__})") from exc
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, content: bytes, timeout: float) -> Any:
        where = f"{self.role} at {self.url}"
        self.breaker.before()
        try:
            status, body = self._exchange(method, path, content, timeout)
        except UnavailableError as exc:
            self.breaker.failure(trip=isinstance(exc.__cause__, TimeoutError))
            raise
        except BaseException:  # anything else (a bug, an interrupt): counted, so a probe never stays claimed
            self.breaker.failure()
            raise
        if status >= 500 or status in (401, 403):
            self.breaker.failure()
            failed = error_from_body(status, body, where=where)
            if status < 500:  # the node refuses the gateway: a deployment problem, never the tenant's
                raise UnavailableError(f"{where} refuses the gateway's credentials: {failed}")
            raise failed
        self.breaker.success()
        if status >= 400:
            raise error_from_body(status, body, where=where)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UnavailableError(f"{where} answered with invalid JSON") from exc

    def _call(self, name: str, kwargs: dict[str, Any]) -> Any:
        timeout = self._timeout if self._timeout is not None else codec_of(self.role, name).timeout
        return self._request("POST", f"/v1/{name}", orjson.dumps(kwargs), timeout)["result"]

    def health(self) -> dict:
        """The node's health (signed request, short timeout)."""
        return self._request("GET", "/v1/health", b"", PROBE_TIMEOUT)

    def status(self, *, max_age: float = 2.0, wait: float = 0.3) -> dict:
        """The node's health from a probe at most ``max_age`` seconds old, or ``{"status": "down", ...}``;
        never waits more than ``wait`` seconds (a probe still running goes on in the background)."""
        with self._status_lock:
            cached = self._status
            if cached is not None and time.monotonic() - cached[0] <= max_age:
                return cached[1]
            probe = self._probe
            if probe is None or not probe.is_alive():
                probe = self._probe = threading.Thread(target=self._run_probe, daemon=True,
                                                       name=f"qclone-probe-{self.role}")
                probe.start()
        probe.join(wait)
        with self._status_lock:
            cached = self._status
            if cached is not None and time.monotonic() - cached[0] <= max_age + wait:
                return cached[1]
        return {"status": "down", "error": f"no answer within {wait:g} s"}

    def _run_probe(self) -> None:
        try:
            result = self.health()
        except storage_errors.StorageError as exc:
            result = {"status": "down", "error": str(exc)}
        finally:
            self.close()
        with self._status_lock:
            self._status = (time.monotonic(), result)


def _port_method(name: str, signature: inspect.Signature, role: str) -> Any:
    codec = codec_of(role, name)

    def method(self: RemoteNode, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        payload = {k: v for k, v in bound.arguments.items() if k != "self"}
        for arg, (encode, _) in codec.args.items():
            if arg in payload:
                payload[arg] = encode(payload[arg])
        return codec.result[1](self._call(name, payload))

    method.__name__ = method.__qualname__ = name
    method.__signature__ = signature  # type: ignore[attr-defined]  # so that help() shows the port's signature
    return method


def remote_class(role: str) -> type[RemoteNode]:
    """The remote implementation of ``role``'s port: one method per port method (see the module docstring)."""
    port = PORTS[role]
    namespace: dict[str, Any] = {"role": role, "__doc__": f"A {role} node in its own process (the {port.__name__})."}
    for name in port_methods(port):
        namespace[name] = _port_method(name, inspect.signature(getattr(port, name)), role)
    return type(f"Remote{role.capitalize()}", (RemoteNode,), namespace)


def enroll(url: str, token: JoinToken | str, identity: Identity, *, role: str,
           peers: dict[str, str] | None = None, timeout: float = 10.0, signed: bool = False) -> str:
    """Enroll the node at ``url`` with the gateway ``identity``; returns the node's key id.

    With ``signed`` the request is signed by the gateway (an enrolled node: only ``peers``
    change) and ``token`` is the node's key id; otherwise ``token`` is its join token.
    """
    body: dict[str, Any]
    if signed:
        node_key, body = str(token), {}
    else:
        join = token if isinstance(token, JoinToken) else JoinToken.parse(token, role=role)
        node_key, body = join.key_id, {"proof": join.proof(identity.key_id)}
    challenge = secrets.token_urlsafe(18)
    body.update({"gateway_key": identity.key_id, "challenge": challenge, "peers": peers or {}})
    node = RemoteNode(url, identity=identity, node_key=node_key, timeout=timeout)
    node.role = role
    where = f"the {role} at {url}"
    try:
        status, raw = node._exchange("POST", "/v1/enroll", orjson.dumps(body), timeout)
    finally:
        node.close()
    if status in (401, 403, 422):
        raise InvalidArgumentError(f"{where} refused the enrollment: {error_from_body(status, raw, where=where)}")
    if status >= 400:
        raise error_from_body(status, raw, where=where)
    try:
        reply = orjson.loads(raw)["result"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise UnavailableError(f"{where} answered the enrollment without a result") from None
    if not isinstance(reply, dict) or reply.get("role") != role or reply.get("public_key") != node_key:
        raise InvalidArgumentError(f"the node at {url} is not the {role} of this join token")
    try:
        verify(node_key, str(reply.get("signature")), enrollment_reply_message(identity.key_id, challenge, node_key),
               "enrollment reply")
    except storage_errors.UnauthorizedError:
        raise InvalidArgumentError(f"the node at {url} does not hold the key of this join token") from None
    return node_key
