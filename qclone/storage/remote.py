"""Clients of the substrate, vault and provider nodes (the multi-process deployment).

:class:`RemoteSubstrate`, :class:`RemoteVault` and :class:`RemoteProvider`
have the methods of the local classes (docs/storage.md, "Interfaces") and
call the apps of :mod:`qclone.storage.nodes` over keep-alive HTTP/1.1
connections (one per thread) with a timeout; a node that cannot be reached,
times out or fails raises :class:`~qclone.storage.errors.UnavailableError`,
and an error the node reports is raised again as the same exception class.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import orjson

from qclone import errors as base_errors
from qclone.errors import InvalidArgumentError
from qclone.storage import errors as storage_errors
from qclone.storage.errors import UnavailableError
from qclone.storage.wire import decode_array

__all__ = ["NODE_KEY_HEADER", "RemoteProvider", "RemoteSubstrate", "RemoteVault", "error_from_body"]

#: Header carrying the shared node key, when the deployment sets one.
NODE_KEY_HEADER = "x-qclone-node-key"

#: Exceptions a node may report, by class name.
_KNOWN: dict[str, type[Exception]] = {
    name: cls
    for module in (base_errors, storage_errors)
    for name, cls in vars(module).items()
    if isinstance(cls, type) and issubclass(cls, base_errors.QcloneError)
}


def error_from_body(status: int, body: bytes, *, where: str) -> Exception:
    """The exception an error response stands for (the same class when it is a qclone error)."""
    try:
        err = orjson.loads(body)["error"]
        name, message = str(err["type"]), str(err["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return UnavailableError(f"{where} answered HTTP {status} without an error body")
    cls = _KNOWN.get(name)
    if cls is None or (status >= 500 and cls is not UnavailableError):
        return UnavailableError(f"{where} failed: {name}: {message}")
    return cls(message)


class _Remote:
    """One node: ``POST {url}/v1/<method>`` with the keyword arguments as JSON.

    Each thread keeps one keep-alive connection to the node (``http.client``: about a quarter
    of httpx's CPU per call, which matters at five substrate calls per retrieval). A reused
    connection the node has closed meanwhile is replaced and the call sent once more; that is
    safe because every method of the interfaces is idempotent (docs/storage.md).
    """

    kind = "node"

    def __init__(self, url: str, *, timeout: float = 30.0, node_key: str | None = None) -> None:
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidArgumentError(f"a node URL looks like http://host:port, got {url!r}")
        self.url = url.rstrip("/")
        self._https = parsed.scheme == "https"
        self._host, self._port = parsed.hostname, parsed.port
        self._prefix = parsed.path.rstrip("/")
        self._timeout = float(timeout)
        self._headers = {"content-type": "application/json", "connection": "keep-alive"}
        if node_key is not None:
            self._headers[NODE_KEY_HEADER] = node_key
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = cls(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close with their threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _exchange(self, method: str, path: str, content: bytes | None) -> tuple[int, bytes]:
        for retry in (False, True):
            conn = self._connection()
            reused = conn.sock is not None
            try:
                conn.request(method, self._prefix + path, body=content, headers=self._headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if reused and not retry:
                    continue  # the node closed an idle connection: once more on a fresh one
                raise UnavailableError(f"{self.kind} at {self.url} is unreachable ({type(exc).__name__})") from exc
            except (OSError, http.client.HTTPException) as exc:  # refused, timed out, garbled
                self.close()
                raise UnavailableError(f"{self.kind} at {self.url} is unreachable ({type(exc).__name__})") from exc
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, content: bytes | None = None) -> Any:
        where = f"{self.kind} at {self.url}"
        status, body = self._exchange(method, path, content)
        if status >= 400:
            raise error_from_body(status, body, where=where)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UnavailableError(f"{where} answered with invalid JSON") from exc

    def _call(self, method: str, **kwargs: Any) -> Any:
        return self._request("POST", f"/v1/{method}", orjson.dumps(kwargs))["result"]

    def health(self) -> dict:
        return self._request("GET", "/v1/health")


class RemoteSubstrate(_Remote):
    """The quantum substrate in its own process (same methods as ``qclone.storage.substrate.Substrate``)."""

    kind = "substrate"

    def create(self, object_id: str, state: Any, clones: int, *, keep_reference: bool) -> dict:
        return self._call(
            "create", object_id=object_id, state=state.to_wire(), clones=clones, keep_reference=keep_reference
        )

    def exists(self, object_id: str) -> bool:
        return self._call("exists", object_id=object_id)

    def age(self, object_id: str, labels: list[str], duration: float, t1: float, t2: float) -> None:
        self._call("age", object_id=object_id, labels=list(labels), duration=duration, t1=t1, t2=t2)

    def peek(self, object_id: str, labels: list[str]) -> np.ndarray:
        return decode_array(self._call("peek", object_id=object_id, labels=list(labels)), name="peek")

    def fence(self, object_id: str, fence: int) -> dict:
        return self._call("fence", object_id=object_id, fence=fence)

    def decrypt(self, object_id: str, clone: int, attempt: str, fence: int | None = None) -> dict:
        return self._call("decrypt", object_id=object_id, clone=clone, attempt=attempt, fence=fence)

    def output(self, object_id: str) -> dict | None:
        return self._call("output", object_id=object_id)

    def sample(self, object_id: str, basis: str, shots: int, seed: int | None) -> list[str]:
        return self._call("sample", object_id=object_id, basis=basis, shots=shots, seed=seed)

    def release(self, object_id: str) -> None:
        self._call("release", object_id=object_id)

    def discard(self, object_id: str) -> None:
        self._call("discard", object_id=object_id)


class RemoteVault(_Remote):
    """The key vault in its own process (same methods as ``qclone.storage.vault.KeyVault``)."""

    kind = "vault"

    def deposit(self, tenant: str, object_id: str, labels: list[str]) -> None:
        self._call("deposit", tenant=tenant, object_id=object_id, labels=list(labels))

    def release(self, object_id: str, attempt: str) -> None:
        self._call("release", object_id=object_id, attempt=attempt)

    def consume(self, object_id: str, attempt: str) -> None:
        self._call("consume", object_id=object_id, attempt=attempt)

    def restore(self, object_id: str, attempt: str) -> None:
        self._call("restore", object_id=object_id, attempt=attempt)

    def state(self, object_id: str) -> dict | None:
        return self._call("state", object_id=object_id)

    def destroy(self, object_id: str) -> None:
        self._call("destroy", object_id=object_id)


class RemoteProvider(_Remote):
    """A provider node in its own process (same methods as ``qclone.storage.provider.ProviderNode``)."""

    kind = "provider"

    def store(self, object_id: str, clone: int, labels: list[str], stored_at: float) -> None:
        self._call("store", object_id=object_id, clone=clone, labels=list(labels), stored_at=stored_at)

    def discard(self, object_id: str) -> None:
        self._call("discard", object_id=object_id)

    def holding(self, object_id: str) -> dict | None:
        return self._call("holding", object_id=object_id)

    def records(self) -> list[dict]:
        return self._call("records")
