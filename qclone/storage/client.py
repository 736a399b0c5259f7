"""``qclone.Client``: the Python SDK of the storage service (the verbs of the CLI).

Examples:
    A server started with ``qclone serve --data-dir DIR`` writes its first tenant's token to
    ``DIR/token``; ``Client()`` reads the gateway and the token from ``QCLONE_URL`` and
    ``QCLONE_TOKEN`` (as the CLI does), or takes them as arguments::

        from qiskit import QuantumCircuit
        from qiskit.quantum_info import Statevector
        from qclone import Client

        c = Client()                                   # QCLONE_URL, QCLONE_TOKEN
        c.put("plus", bloch=[1, 0, 0])
        c.put("bell", Statevector.from_label("01"))    # qubit 0 is |1>: Qiskit's order throughout
        qc = QuantumCircuit(2); qc.h(0); qc.cx(0, 1)
        c.put("pair", qc)                              # the state the circuit prepares from |00>
        out = c.get("bell")                            # once: decryption consumes the key
        out.bloch, out.density_matrix, out.state       # ((0, 0, -1), (0, 0, 1)), numpy, a DensityMatrix

A state is given as a :class:`qiskit.quantum_info.Statevector`, a
:class:`~qiskit.quantum_info.DensityMatrix` or a :class:`~qiskit.QuantumCircuit` (the state
it prepares from |0…0⟩: gates only, at most 8 qubits), or by keyword: ``bloch`` (one qubit),
``statevector`` (2^k amplitudes), ``density`` (a 2^k x 2^k matrix) or ``qasm`` (OpenQASM 2 or 3
text, or a ``QuantumCircuit``). Qubit order is Qiskit's everywhere: qubit 0 is the least
significant bit of an index and the rightmost character of a bitstring.

Results are the dataclasses of :mod:`qclone.storage.results` (times as UTC datetimes, density
matrices as numpy arrays); errors are the exceptions of :mod:`qclone.storage.errors` and
:mod:`qclone.errors` (``NotFoundError``, ``ConflictError``, ``InvalidArgumentError``, ...); a
server that cannot be reached raises :class:`~qclone.storage.errors.UnavailableError`.
"""

from __future__ import annotations

import builtins
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import numpy as np
import orjson

from qclone.errors import InvalidArgumentError, check_int
from qclone.storage.errors import UnauthorizedError, UnavailableError
from qclone.storage.remote import error_from_body
from qclone.storage.results import (
    Applied,
    AuditEntry,
    BatchStored,
    Holder,
    NewTenant,
    ObjectStatus,
    ObjectSummary,
    Peek,
    Provider,
    ProviderStatus,
    Retrieved,
    StoredObject,
    timestamp,
)
from qclone.storage.wire import decode_array, encode_array

__all__ = ["DEFAULT_URL", "ENV_ADMIN_TOKEN", "ENV_TOKEN", "ENV_URL", "Client", "Connection", "connection", "state_spec"]

#: Where ``qclone serve`` listens by default.
DEFAULT_URL = "http://127.0.0.1:8470"
#: The environment variables the SDK and the CLI read (the gateway, a tenant's token, the admin token).
ENV_URL, ENV_TOKEN, ENV_ADMIN_TOKEN = "QCLONE_URL", "QCLONE_TOKEN", "QCLONE_ADMIN_TOKEN"


@dataclass(frozen=True)
class Connection:
    """Where a client connects and with which tokens (``None``: not given)."""

    url: str
    token: str | None
    admin_token: str | None


def connection(url: str | None = None, token: str | None = None, admin_token: str | None = None,
               environ: Mapping[str, str] | None = None) -> Connection:
    """The gateway and tokens to use: each argument given, else its environment variable
    (``QCLONE_URL``, ``QCLONE_TOKEN``, ``QCLONE_ADMIN_TOKEN``), else the default (:data:`DEFAULT_URL`,
    no token). The one place the SDK and the CLI read them; empty values count as unset.

    Examples:
        >>> connection(environ={"QCLONE_URL": "http://q:1", "QCLONE_TOKEN": "t"})
        Connection(url='http://q:1', token='t', admin_token=None)
        >>> connection("http://other:2", environ={"QCLONE_URL": "http://q:1"}).url
        'http://other:2'
    """
    env = os.environ if environ is None else environ

    def pick(given: str | None, var: str) -> str | None:
        value = given if given else env.get(var)
        return value.strip() if value and value.strip() else None

    return Connection(check_url(pick(url, ENV_URL) or DEFAULT_URL), pick(token, ENV_TOKEN), pick(admin_token, ENV_ADMIN_TOKEN))


def check_url(url: str) -> str:
    """``url`` if it is an http or https URL with a host; a malformed one is bad input, not an unreachable service.

    Examples:
        >>> check_url("https://gw.example:8470")
        'https://gw.example:8470'
        >>> check_url("notaurl")
        Traceback (most recent call last):
        ...
        qclone.errors.InvalidArgumentError: the gateway URL must be http://HOST[:PORT] or https://HOST[:PORT], got 'notaurl'
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in 0..65535
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError(f"the gateway URL must be http://HOST[:PORT] or https://HOST[:PORT], got {url!r}")
    return url


_KINDS = ("bloch", "statevector", "density", "qasm")


def state_spec(
    state: Any = None,
    *,
    bloch: Any = None,
    statevector: Any = None,
    density: Any = None,
    qasm: Any = None,
) -> dict:
    """The wire-format state (``{"kind", "data"}``, Qiskit's qubit order) for exactly one of the
    ways to give it (see the module doc): ``state`` a Qiskit ``Statevector``, ``DensityMatrix``
    or ``QuantumCircuit`` (or a vector / matrix / OpenQASM text), or one keyword.

    Raises:
        InvalidArgumentError: none or several given, or a value that is not a state of that kind
            (e.g. a circuit with a measurement). TooLargeError: a circuit of more than 8 qubits.

    Examples:
        >>> from qiskit.quantum_info import Statevector
        >>> state_spec(Statevector.from_label("1"))
        {'kind': 'statevector', 'data': {'real': [0.0, 1.0], 'imag': [0.0, 0.0]}}
        >>> state_spec(bloch=[0, 0, 1])
        {'kind': 'bloch', 'data': [0.0, 0.0, 1.0]}
    """
    given = [(k, v) for k, v in (("state", state), ("bloch", bloch), ("statevector", statevector),
                                 ("density", density), ("qasm", qasm)) if v is not None]
    if len(given) != 1:
        raise InvalidArgumentError("give exactly one state: a Statevector, DensityMatrix or QuantumCircuit, "
                                   "or one of bloch=, statevector=, density=, qasm=")
    kind, value = given[0]
    if kind == "state":
        kind, value = _kind_of(value)
    if kind == "bloch":
        r = decode_array(value, name="bloch vector")
        if np.any(r.imag):
            raise InvalidArgumentError("a Bloch vector must be real")
        return {"kind": "bloch", "data": [float(x) for x in r.real.ravel()]}
    if kind == "qasm":
        if isinstance(value, str):
            return {"kind": "qasm", "data": value}
        return {"kind": "statevector", "data": encode_array(_circuit_vector(value))}
    return {"kind": kind, "data": encode_array(_array_of(value, kind))}


def _qiskit_kind(value: Any) -> str | None:
    """``statevector``, ``density`` or ``circuit`` for a Qiskit object (without importing Qiskit
    for anything else), else None."""
    if not any(c.__module__.startswith("qiskit") for c in type(value).__mro__):  # also a user's subclass
        return None
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import DensityMatrix, Statevector

    if isinstance(value, Statevector):
        return "statevector"
    if isinstance(value, DensityMatrix):
        return "density"
    if isinstance(value, QuantumCircuit):
        return "circuit"
    return None


def _kind_of(value: Any) -> tuple[str, Any]:
    """(kind, value) of a state given without a keyword."""
    qk = _qiskit_kind(value)
    if qk == "circuit":
        return "qasm", value
    if qk is not None:
        return qk, value
    if isinstance(value, str):
        return "qasm", value
    arr = decode_array(value, name="state")
    if arr.ndim == 1:
        return "statevector", arr
    if arr.ndim == 2:
        return "density", arr
    raise InvalidArgumentError(f"a state is a vector (2^k,) or a density matrix (2^k, 2^k), got shape {arr.shape}")


def _array_of(value: Any, kind: str) -> np.ndarray:
    qk = _qiskit_kind(value)
    if qk == "circuit":
        if kind != "statevector":
            raise InvalidArgumentError(f"{kind}= takes a matrix; give a QuantumCircuit as the state or as qasm=")
        return _circuit_vector(value)
    if qk is not None:
        dims = tuple(value.dims())
        if any(d != 2 for d in dims):
            raise InvalidArgumentError(f"a stored state is made of qubits; this {type(value).__name__} has dimensions {dims}")
        if qk == "density" and kind == "statevector":
            raise InvalidArgumentError("statevector= takes a vector; give a DensityMatrix as the state or as density=")
        data = np.asarray(value.data, dtype=complex)
        return np.outer(data, data.conj()) if kind == "density" and data.ndim == 1 else data
    return decode_array(value, name="state vector" if kind == "statevector" else "density matrix")


def _circuit_vector(qc: Any) -> np.ndarray:
    from qiskit import QuantumCircuit

    if not isinstance(qc, QuantumCircuit):
        raise InvalidArgumentError(f"qasm= takes OpenQASM text or a qiskit QuantumCircuit, got {type(qc).__name__}")
    from qclone.storage.inputs import circuit_state

    return circuit_state(qc)


class Client:
    """A connection to a qclone storage gateway, as one tenant.

    Args:
        url: the gateway, e.g. ``http://127.0.0.1:8470`` (default: ``QCLONE_URL``, else :data:`DEFAULT_URL`).
        token: the tenant's API token (``qclone tenant create``, or ``DIR/token``; default ``QCLONE_TOKEN``).
        admin_token: the admin token, needed for :meth:`create_tenant`, the provider changes and
            :meth:`set_clock` (default ``QCLONE_ADMIN_TOKEN``).
        timeout: seconds per request.
        retry_for: seconds a get (and its acknowledgement) keeps trying a server it cannot reach (or that answers 503),
            with the same idempotency key.
    """

    def __init__(self, url: str | None = None, token: str | None = None, *, admin_token: str | None = None,
                 timeout: float = 60.0, retry_for: float = 5.0) -> None:
        conn = connection(url, token, admin_token)
        self.url = conn.url.rstrip("/")
        self.retry_for = float(retry_for)
        self._token = conn.token
        self._admin_token = conn.admin_token
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    @property
    def has_token(self) -> bool:
        """Whether a tenant's token was given (or found in ``QCLONE_TOKEN``)."""
        return self._token is not None

    @property
    def has_admin_token(self) -> bool:
        """Whether the admin token was given (or found in ``QCLONE_ADMIN_TOKEN``)."""
        return self._admin_token is not None

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
            raise error_from_body(resp.status_code, resp.content, where=f"the qclone server at {self.url}", by_status=True)
        if resp.status_code == 204 or not resp.content:
            return None
        return orjson.loads(resp.content)

    @staticmethod
    def _obj(name: str) -> str:
        from qclone.storage.inputs import check_name

        return "/v1/objects/" + quote(check_name(name), safe="")  # refused here, before anything is sent

    # ------------------------------------------------------------------ objects
    def put(
        self,
        name: str,
        state: Any = None,
        *,
        bloch: Any = None,
        statevector: Any = None,
        density: Any = None,
        qasm: Any = None,
        clones: int = 4,
        keep_reference: bool = False,
        force: bool = False,
        policy: str = "distinct-providers",
        placement: str | dict | None = None,
    ) -> StoredObject:
        """Store a state as ``clones`` encrypted clones; returns the object's record (as :meth:`stat`).

        Give the state as ``state`` (a Qiskit ``Statevector``, ``DensityMatrix`` or
        ``QuantumCircuit``) or as exactly one of ``bloch`` (one qubit), ``statevector``,
        ``density`` (arrays or nested lists, Qiskit's qubit order) or ``qasm`` (OpenQASM 2/3
        text, or a ``QuantumCircuit``, preparing it from |0…0⟩). ``keep_reference`` keeps a
        copy of the input in the substrate so :meth:`get` reports the fidelity; ``force``
        allows n = 1 (one clone alone leaks the Y component of a one-qubit state); ``policy``
        places the clones at distinct providers or in distinct zones; ``placement`` says where
        the key and ``A`` live (``today``, ``keep-A``, ``split-key``, ``split-key:V`` or a custom
        mapping, see ``docs/storage.md``).

        Raises:
            InvalidArgumentError: a bad name (e.g. with ``/``) or state, refused before anything is sent.
            ConflictError: the name is taken.
        """
        path = self._obj(name)
        body = {
            "state": state_spec(state, bloch=bloch, statevector=statevector, density=density, qasm=qasm),
            "clones": clones,
            "keep_reference": keep_reference,
            "force": force,
            "policy": policy,
        }
        if placement is not None:
            body["placement"] = placement
        return StoredObject.from_json(self._request("PUT", path, body))

    def put_many(
        self,
        objects: Iterable[Any],
        *,
        clones: int = 4,
        keep_reference: bool = False,
        force: bool = False,
        policy: str = "distinct-providers",
        placement: str | dict | None = None,
        batch: int = 1000,
        key: str | None = None,
        max_body_bytes: int = 4 * 1024 * 1024,
        retry_for: float | None = None,
    ) -> builtins.list[BatchStored]:
        """Store many states (``POST /v1/objects:batch``), ``batch`` objects per request (at most
        the gateway's 1000, and requests of at most ``max_body_bytes``, the gateway's default body
        limit), every store written once per request; the options are :meth:`put`'s, the same for all.

        ``objects``: ``(name, state)`` pairs (a state as :meth:`put`'s ``state``) or mappings
        ``{"name", "state"}`` / ``{"name", "bloch" | "statevector" | "density" | "qasm"}``.
        Each request is all or nothing and carries an idempotency key (``key`` and the request's
        number, or a fresh one): when the server cannot be reached or answers 503, the same
        request is sent again (for ``retry_for`` seconds, default :attr:`retry_for`) and stores
        nothing twice. An error stops the load: the requests before it are stored, none after.

        Returns:
            One :class:`~qclone.storage.results.BatchStored` per object, in order.

        Raises:
            InvalidArgumentError: a malformed item (refused before its request is sent), or an
                item the server refuses (its request stores nothing). ConflictError: a name is taken.
        """
        check_int(batch, "batch", 1, 1000)
        check_int(max_body_bytes, "max_body_bytes", 1024)
        base = {"clones": clones, "keep_reference": keep_reference, "force": force, "policy": policy}
        if placement is not None:
            base["placement"] = placement
        wait = self.retry_for if retry_for is None else retry_for
        prefix = key or uuid.uuid4().hex[:40]
        out: builtins.list[BatchStored] = []
        chunk: builtins.list[dict[str, Any]] = []
        size = 0
        sent = 0

        def send() -> None:
            nonlocal chunk, size, sent
            body = {**base, "objects": chunk, "key": f"{prefix}.{sent}"}
            reply = self._request("POST", "/v1/objects:batch", body, retry_for=wait)
            out.extend(BatchStored.from_json(o) for o in reply["objects"])
            chunk, size, sent = [], 0, sent + 1

        for i, item in enumerate(objects):
            entry = _batch_item(item, i)
            grown = len(orjson.dumps(entry)) + 1
            if chunk and (len(chunk) >= batch or size + grown + 512 > max_body_bytes):
                send()
            chunk.append(entry)
            size += grown
        if chunk:
            send()
        return out

    def get(self, name: str, *, basis: str | None = None, shots: int | None = None, seed: int | None = None,
            key: str | None = None, ack: bool = True, retry_for: float | None = None,
            retrieval: str | None = None) -> Retrieved:
        """Retrieve a state, once: decryption consumes the key (a second get raises ``ConflictError``).

        The get carries an idempotency key (made here unless given): when the server cannot be
        reached, the same get is sent again (for ``retry_for`` seconds, default
        :attr:`retry_for`) and returns the same output; then the output is acknowledged (with
        ``ack=False``, call :meth:`ack` with ``out.key`` once it is safe: until then the
        server keeps it, and a later get returns it again).

        Returns a :class:`~qclone.storage.results.Retrieved`: ``density_matrix`` (numpy,
        Qiskit's order; ``state`` as a ``DensityMatrix``), ``bloch`` (per qubit), ``fidelity``
        (if a reference was kept), the clone and provider used, ``key``, and with
        ``basis``/``shots`` the measurement ``counts`` of the output.

        ``retrieval``: ``"plain"`` (the server's default) or ``"corrected"``: the code's stabilizers
        measured among every live holder, corrected, then decrypted (``out.retrieval`` says what
        ran, ``out.fallback`` why a corrected retrieval ran plain).
        """
        key = key or uuid.uuid4().hex
        body: dict[str, Any] = {"key": key}
        if retrieval is not None:
            body["retrieval"] = retrieval
        if basis is not None or shots is not None:
            body.update(basis=basis, shots=shots, seed=seed)
        wait = self.retry_for if retry_for is None else retry_for
        out = Retrieved.from_json(self._request("POST", self._obj(name) + "/get", body, retry_for=wait))
        if ack:
            self.ack(name, out.key or key, retry_for=wait)
        return out

    def ack(self, name: str, key: str, *, retry_for: float | None = None) -> ObjectStatus:
        """Acknowledge the output of the get with idempotency ``key`` (the server releases it;
        repeating it is harmless)."""
        wait = self.retry_for if retry_for is None else retry_for
        return ObjectStatus.from_json(self._request("POST", self._obj(name) + "/ack", {"key": key}, retry_for=wait))

    def apply(self, name: str, gate: str, *, qubits: Sequence[int] | None = None, key: str | None = None,
              retry_for: float | None = None) -> Applied:
        """Apply the logical gate ``gate`` to the stored object ``name`` without decrypting it: every
        holder (each provider, the vault, a custodian) applies its local part; whichever clone is
        decrypted later holds G|ψ⟩. ``qubits``: register qubits (Qiskit's order), default every one.

        The call carries an idempotency key (made here unless given) and is sent again with it while
        the server cannot be reached: a gate is applied once. Returns an
        :class:`~qclone.storage.results.Applied` (``complete``, or the ``pending`` holders the
        reconciler still waits for; ``key_holders``: the key holders that had to act).
        """
        body: dict[str, Any] = {"gate": gate, "key": key or uuid.uuid4().hex}
        if qubits is not None:
            body["qubits"] = [int(q) for q in qubits]
        wait = self.retry_for if retry_for is None else retry_for
        return Applied.from_json(self._request("POST", self._obj(name) + "/apply", body, retry_for=wait))

    def list(self, *, limit: int | None = None, page: int = 1000) -> builtins.list[ObjectSummary]:
        """This tenant's objects, oldest first (every state, including retrieved and deleted ones):
        all of them, read ``page`` at a time, or only the first ``limit``."""
        if limit is not None:
            check_int(limit, "limit", 1)
        check_int(page, "page", 1)  # the gateway refuses more than its MAX_LIST_LIMIT (422)
        out: builtins.list[ObjectSummary] = []
        cursor: str | None = None
        while True:
            want = page if limit is None else min(page, limit - len(out))
            chunk, cursor = self.list_page(limit=want, cursor=cursor)
            out += chunk
            if cursor is None or (limit is not None and len(out) >= limit):
                return out

    def list_page(self, *, limit: int = 1000, cursor: str | None = None) -> tuple[builtins.list[ObjectSummary], str | None]:
        """One page of :meth:`list`: at most ``limit`` objects after ``cursor`` (None: the first page),
        and the cursor of the next page (None: this was the last)."""
        params: dict[str, int | str] = {"limit": limit} if cursor is None else {"limit": limit, "cursor": cursor}
        body = self._request("GET", "/v1/objects", params=params)
        return [ObjectSummary.from_json(o) for o in body["objects"]], body.get("next_cursor")

    ls = list

    def stat(self, name: str, *, full_audit: bool = False) -> StoredObject:
        """One object's record: state, qubits, clones and where they are (``full_audit``: with
        the whole coalition audit in ``audit_report``)."""
        params = {"audit": "full"} if full_audit else None
        return StoredObject.from_json(self._request("GET", self._obj(name), params=params))

    def delete(self, name: str) -> ObjectStatus:
        """Delete a stored object: its clones and its key are destroyed."""
        return ObjectStatus.from_json(self._request("DELETE", self._obj(name)))

    rm = delete

    def peek(self, name: str, provider: str) -> Peek:
        """What ``provider`` can learn about the object: the reduced state of the qubits it holds."""
        return Peek.from_json(self._request("GET", self._obj(name) + "/peek", params={"provider": provider}))

    # ------------------------------------------------------------------ providers (changes need the admin token)
    def providers(self) -> builtins.list[Provider]:
        """Every provider with its state, zone, coherence times and clone count."""
        return [Provider.from_json(p) for p in self._request("GET", "/v1/providers", admin=self._token is None)["providers"]]

    def holders(self) -> builtins.list[Holder]:
        """The key holders (the vault first, then custodians and more vaults), with their kind,
        zone, state, coherence times and the parts they hold."""
        return [Holder.from_json(h) for h in self._request("GET", "/v1/holders", admin=self._token is None)["holders"]]

    def add_provider(
        self,
        provider_id: str,
        *,
        zone: str | None = None,
        t1: float | None = None,
        t2: float | None = None,
        url: str | None = None,
        join: str | None = None,
    ) -> Provider:
        """Add a provider: a local one (embedded server) or, with ``url`` and its ``join`` token, a provider node process."""
        body = {k: v for k, v in (("id", provider_id), ("zone", zone), ("t1", t1), ("t2", t2), ("url", url), ("join", join))
                if v is not None}
        return Provider.from_json(self._request("POST", "/v1/providers", body, admin=True))

    def _provider_action(self, provider_id: str, action: str, body: dict | None = None) -> ProviderStatus:
        return ProviderStatus.from_json(
            self._request("POST", f"/v1/providers/{quote(provider_id, safe='')}/{action}", body or {}, admin=True))

    def drain_provider(self, provider_id: str) -> ProviderStatus:
        """Stop placing clones at a provider (its clones stay usable)."""
        return self._provider_action(provider_id, "drain")

    def kill_provider(self, provider_id: str, *, destroy: bool = False) -> ProviderStatus:
        """Take a provider down: its clones are unusable until it is revived (``destroy``: lost for good)."""
        return self._provider_action(provider_id, "kill", {"destroy": destroy})

    def revive_provider(self, provider_id: str) -> ProviderStatus:
        """Bring a killed provider back."""
        return self._provider_action(provider_id, "revive")

    # ------------------------------------------------------------------ the rest
    def audit_log(self, *, limit: int = 1000, after: int | None = None, everyone: bool = False) -> builtins.list[AuditEntry]:
        """This tenant's audit log, oldest first (``everyone``: all entries, with the admin token);
        ``after``: only entries whose id is larger (page with the last id seen)."""
        params: dict[str, int] = {"limit": limit} if after is None else {"limit": limit, "after": after}
        return [AuditEntry.from_json(e) for e in self._request("GET", "/v1/audit-log", params=params, admin=everyone)["entries"]]

    def audit_entries(self, *, everyone: bool = False, page: int = 1000) -> builtins.list[AuditEntry]:
        """The whole audit log, oldest first, read page by page."""
        out: list[AuditEntry] = []
        while True:
            chunk = self.audit_log(limit=page, after=out[-1].id if out else None, everyone=everyone)
            out += chunk
            if len(chunk) < page:
                return out

    def health(self) -> dict:
        """The gateway's health: ``{"status": "ok"}`` (liveness, no token needed); with the
        admin token the state of every component."""
        return self._request("GET", "/v1/health", admin=self._admin_token is not None)

    def create_tenant(self, name: str) -> NewTenant:
        """Create a tenant (needs the admin token); its token is shown once."""
        return NewTenant.from_json(self._request("POST", "/v1/tenants", {"name": name}, admin=True))

    def set_clock(self, *, now: float | None = None, advance: float | None = None) -> datetime:
        """Set (``now``, seconds since the epoch) or advance (seconds) the server's clock (a server
        started with ``--settable-clock``; admin token); returns its new time."""
        body = {k: v for k, v in (("now", now), ("advance", advance)) if v is not None}
        at = timestamp(self._request("POST", "/v1/admin/clock", body, admin=True)["now"])
        assert at is not None, "the clock always answers its time"
        return at


def _batch_item(item: Any, i: int) -> dict[str, Any]:
    """One object of :meth:`Client.put_many` as the batch route takes it: ``{"name", "state"}``."""
    from qclone.storage.inputs import check_name

    try:
        if isinstance(item, Mapping):
            extra = set(item) - {"name", "state", *_KINDS}
            if extra:
                raise InvalidArgumentError(f"unknown field(s) {', '.join(sorted(map(str, extra)))}")
            name, given = item.get("name"), {k: v for k, v in item.items() if k != "name"}
            state = given.pop("state", None)
            if given and state is not None:
                raise InvalidArgumentError("give exactly one state")
            spec = _wire_spec(state) if state is not None else state_spec(**given)
        elif isinstance(item, tuple | builtins.list) and len(item) == 2:
            name, spec = item[0], _wire_spec(item[1])
        else:
            raise InvalidArgumentError("an object is a (name, state) pair or a mapping {\"name\", \"state\"}")
        return {"name": check_name(name), "state": spec}
    except InvalidArgumentError as e:
        raise InvalidArgumentError(f"object {i}: {e}") from None


def _wire_spec(state: Any) -> dict:
    """:func:`state_spec` of a state, or of a wire-format ``{"kind", "data"}``."""
    if isinstance(state, Mapping) and set(state) == {"kind", "data"} and state["kind"] in _KINDS:
        return state_spec(**{str(state["kind"]): state["data"]})
    return state_spec(state)


def _retry_after(resp: httpx.Response) -> float:
    """Seconds a 503 asks the client to wait (``Retry-After`` in seconds; 1 s when absent or odd, at most 30 s)."""
    try:
        return min(30.0, max(0.05, float(resp.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0
