"""``qclone.Client``: the Python SDK of the storage service (the verbs of the CLI).

Examples:
    A server started with ``qclone serve --data-dir DIR`` writes its first
    tenant's token to ``DIR/token``::

        from qclone import Client
        c = Client("http://127.0.0.1:8470", open("DIR/token").read().strip())
        c.put("plus", bloch=[1, 0, 0])
        out = c.get("plus")            # once: decryption consumes the key
        out["bloch"], out["density_matrix"]

Errors come back as the exceptions of :mod:`qclone.storage.errors` and
:mod:`qclone.errors` (``NotFoundError``, ``ConflictError``, ...); a server
that cannot be reached raises :class:`~qclone.storage.errors.UnavailableError`.
"""

from __future__ import annotations

import builtins
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import orjson

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import UnauthorizedError, UnavailableError
from qclone.storage.remote import error_from_body
from qclone.storage.wire import decode_array, encode_array

__all__ = ["Client", "DEFAULT_URL", "state_spec"]

#: Where ``qclone serve`` listens by default.
DEFAULT_URL = "http://127.0.0.1:8470"


def state_spec(
    *,
    bloch: Any = None,
    statevector: Any = None,
    density: Any = None,
    qasm: str | None = None,
) -> dict:
    """The wire-format state for exactly one of the four ways to give it."""
    given = [(k, v) for k, v in (("bloch", bloch), ("statevector", statevector), ("density", density), ("qasm", qasm)) if v is not None]
    if len(given) != 1:
        raise InvalidArgumentError("give exactly one of bloch, statevector, density or qasm")
    kind, value = given[0]
    if kind == "bloch":
        data: Any = [float(x) for x in np.asarray(value, dtype=float).ravel()]
    elif kind == "qasm":
        data = str(value)
    else:
        data = value if isinstance(value, (dict, list)) else encode_array(value)
    return {"kind": kind, "data": data}


def _decode_output(out: dict) -> dict:
    """Turn the arrays of a response into numpy arrays."""
    if isinstance(out, dict) and "density_matrix" in out:
        out = dict(out)
        out["density_matrix"] = decode_array(out["density_matrix"], name="density_matrix")
    return out


class Client:
    """A connection to a qclone storage gateway, as one tenant.

    Args:
        url: the gateway, e.g. ``http://127.0.0.1:8470``.
        token: the tenant's API token (``qclone tenant create``, or ``DIR/token``).
        admin_token: the admin token, needed for :meth:`create_tenant` and :meth:`set_clock`.
        timeout: seconds per request.
        retry_for: seconds a get (and its acknowledgement) keeps trying a server it cannot reach (or that answers 503),
            with the same idempotency key.
    """

    def __init__(self, url: str = DEFAULT_URL, token: str | None = None, *, admin_token: str | None = None,
                 timeout: float = 60.0, retry_for: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.retry_for = float(retry_for)
        self._token = token
        self._admin_token = admin_token
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # ------------------------------------------------------------------ transport
    def _request(self, method: str, path: str, body: Any = None, *, params: dict | None = None, admin: bool = False,
                 retry_for: float = 0.0) -> Any:
        """One call; with ``retry_for`` (seconds), a call that cannot reach the server, or that the
        server answers with 503 (a component is down right now), is repeated (the same request:
        only for idempotent ones) until it answers otherwise or the time is up; a 503 waits for
        its ``Retry-After``."""
        token = self._admin_token if admin else self._token
        if admin and not token:
            raise UnauthorizedError("this call needs the admin token: Client(url, token, admin_token=...)")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            headers["content-type"] = "application/json"
        deadline = time.monotonic() + retry_for
        pause = 0.05
        while True:
            try:
                resp = self._http.request(
                    method, path, content=None if body is None else orjson.dumps(body), params=params, headers=headers
                )
                if resp.status_code != 503 or retry_for <= 0:
                    break
                wait = _retry_after(resp)
                if time.monotonic() + wait > deadline:
                    break
                time.sleep(wait)
            except httpx.TransportError as exc:
                if time.monotonic() + pause > deadline:
                    raise UnavailableError(f"cannot reach the qclone server at {self.url} "
                                           f"({type(exc).__name__})") from exc
                time.sleep(pause)
                pause = min(1.0, pause * 2)
        if resp.status_code >= 400:
            raise error_from_body(resp.status_code, resp.content, where=f"the qclone server at {self.url}")
        if resp.status_code == 204 or not resp.content:
            return None
        return orjson.loads(resp.content)

    @staticmethod
    def _obj(name: str) -> str:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError("an object name must be a non-empty string")
        return "/v1/objects/" + quote(name, safe="")

    # ------------------------------------------------------------------ objects
    def put(
        self,
        name: str,
        *,
        bloch: Any = None,
        statevector: Any = None,
        density: Any = None,
        qasm: str | None = None,
        clones: int = 4,
        keep_reference: bool = False,
        force: bool = False,
        policy: str = "distinct-providers",
        placement: str | dict | None = None,
    ) -> dict:
        """Store a state as ``clones`` encrypted clones; returns the object's record (as :meth:`stat`).

        Give the state as exactly one of ``bloch`` (one qubit), ``statevector``,
        ``density`` (arrays or nested lists) or ``qasm`` (OpenQASM 2/3 text
        preparing it from |0…0⟩). ``keep_reference`` keeps a copy of the input
        in the substrate so :meth:`get` reports the fidelity; ``force`` allows
        n = 1 (one clone alone leaks the Y component of a one-qubit state);
        ``policy`` places the clones at distinct providers or in distinct zones;
        ``placement`` says where the key and ``A`` live (``today``, ``keep-A``,
        ``split-key``, ``split-key:V`` or a custom mapping, see ``docs/storage.md``).
        """
        body = {
            "state": state_spec(bloch=bloch, statevector=statevector, density=density, qasm=qasm),
            "clones": clones,
            "keep_reference": keep_reference,
            "force": force,
            "policy": policy,
        }
        if placement is not None:
            body["placement"] = placement
        return self._request("PUT", self._obj(name), body)

    def get(self, name: str, *, basis: str | None = None, shots: int | None = None, seed: int | None = None,
            key: str | None = None, ack: bool = True, retry_for: float | None = None) -> dict:
        """Retrieve a state, once: decryption consumes the key (a second get raises ``ConflictError``).

        The get carries an idempotency key (made here unless given): when the server cannot be
        reached, the same get is sent again (for ``retry_for`` seconds, default
        :attr:`retry_for`) and returns the same output; then the output is acknowledged (with
        ``ack=False``, call :meth:`ack` with ``out["key"]`` once it is safe: until then the
        server keeps it, and a later get returns it again).

        Returns ``density_matrix`` (numpy), ``bloch`` (one qubit), ``fidelity``
        (if a reference was kept), the clone and provider used, ``key``, and with
        ``basis``/``shots`` the measurement ``counts`` of the output.
        """
        key = key or uuid.uuid4().hex
        body: dict[str, Any] = {"key": key}
        if basis is not None or shots is not None:
            body.update(basis=basis, shots=shots, seed=seed)
        wait = self.retry_for if retry_for is None else retry_for
        out = _decode_output(self._request("POST", self._obj(name) + "/get", body, retry_for=wait))
        if ack:
            self.ack(name, out.get("key", key), retry_for=wait)
        return out

    def ack(self, name: str, key: str, *, retry_for: float | None = None) -> dict:
        """Acknowledge the output of the get with idempotency ``key`` (the server releases it;
        repeating it is harmless)."""
        wait = self.retry_for if retry_for is None else retry_for
        return self._request("POST", self._obj(name) + "/ack", {"key": key}, retry_for=wait)

    def list(self) -> list[dict]:
        """This tenant's objects (every state, including retrieved and deleted ones)."""
        return self._request("GET", "/v1/objects")["objects"]

    ls = list

    def stat(self, name: str) -> dict:
        """One object's record: state, qubits, clones and where they are."""
        return self._request("GET", self._obj(name))

    def delete(self, name: str) -> dict:
        """Delete a stored object: its clones and its key are destroyed."""
        return self._request("DELETE", self._obj(name))

    rm = delete

    def peek(self, name: str, provider: str) -> dict:
        """What ``provider`` can learn about the object: the reduced state of the qubits it holds."""
        return _decode_output(self._request("GET", self._obj(name) + "/peek", params={"provider": provider}))

    # ------------------------------------------------------------------ providers (changes need the admin token)
    def providers(self) -> builtins.list[dict]:
        """Every provider with its state, zone, coherence times and clone count."""
        return self._request("GET", "/v1/providers", admin=self._token is None)["providers"]

    def add_provider(
        self,
        provider_id: str,
        *,
        zone: str | None = None,
        t1: float | None = None,
        t2: float | None = None,
        url: str | None = None,
        join: str | None = None,
    ) -> dict:
        """Add a provider: a local one (embedded server) or, with ``url`` and its ``join`` token, a provider node process."""
        body = {k: v for k, v in (("id", provider_id), ("zone", zone), ("t1", t1), ("t2", t2), ("url", url), ("join", join))
                if v is not None}
        return self._request("POST", "/v1/providers", body, admin=True)

    def _provider_action(self, provider_id: str, action: str, body: dict | None = None) -> dict:
        return self._request("POST", f"/v1/providers/{quote(provider_id, safe='')}/{action}", body or {}, admin=True)

    def drain_provider(self, provider_id: str) -> dict:
        """Stop placing clones at a provider (its clones stay usable)."""
        return self._provider_action(provider_id, "drain")

    def kill_provider(self, provider_id: str, *, destroy: bool = False) -> dict:
        """Take a provider down: its clones are unusable until it is revived (``destroy``: lost for good)."""
        return self._provider_action(provider_id, "kill", {"destroy": destroy})

    def revive_provider(self, provider_id: str) -> dict:
        """Bring a killed provider back."""
        return self._provider_action(provider_id, "revive")

    # ------------------------------------------------------------------ the rest
    def audit_log(self, *, limit: int = 1000, after: int | None = None, everyone: bool = False) -> builtins.list[dict]:
        """This tenant's audit log, oldest first (``everyone``: all entries, with the admin token);
        ``after``: only entries whose id is larger (page with the last id seen)."""
        params: dict[str, int] = {"limit": limit} if after is None else {"limit": limit, "after": after}
        return self._request("GET", "/v1/audit-log", params=params, admin=everyone)["entries"]

    def audit_entries(self, *, everyone: bool = False, page: int = 1000) -> builtins.list[dict]:
        """The whole audit log, oldest first, read page by page."""
        out: list[dict] = []
        while True:
            chunk = self.audit_log(limit=page, after=out[-1]["id"] if out else None, everyone=everyone)
            out += chunk
            if len(chunk) < page:
                return out

    def health(self) -> dict:
        """The gateway's health: ``{"status": "ok"}`` (liveness, no token needed); with the
        admin token the state of every component."""
        return self._request("GET", "/v1/health", admin=self._admin_token is not None)

    def create_tenant(self, name: str) -> dict:
        """Create a tenant (needs the admin token); returns ``{"tenant", "token"}``."""
        return self._request("POST", "/v1/tenants", {"name": name}, admin=True)

    def set_clock(self, *, now: float | None = None, advance: float | None = None) -> dict:
        """Set or advance the server's clock (a server started with ``--settable-clock``; admin token)."""
        body = {k: v for k, v in (("now", now), ("advance", advance)) if v is not None}
        return self._request("POST", "/v1/admin/clock", body, admin=True)


def _retry_after(resp: httpx.Response) -> float:
    """Seconds a 503 asks the client to wait (``Retry-After`` in seconds; 1 s when absent or odd, at most 30 s)."""
    try:
        return min(30.0, max(0.05, float(resp.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0
