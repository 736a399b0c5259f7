"""The ports of the storage service: what it needs from the substrate, the vault and a provider.

Each port is a :class:`typing.Protocol` with a local implementation (the
classes :class:`~qclone.storage.substrate.Substrate`,
:class:`~qclone.storage.vault.KeyVault`, :class:`~qclone.storage.provider.ProviderNode`)
and a remote one generated from the port by :mod:`qclone.storage.rpc` (one RPC
layer for all three: the server app calls the local class, the client has the
port's methods). Every method is idempotent, so the RPC client may resend a
call whose connection broke before it was sent.

:func:`port_methods` lists a port's methods in the order they are declared
(``health`` travels as ``GET /v1/health`` and is not among them).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["PORTS", "ProviderPort", "SubstratePort", "VaultPort", "port_methods"]


@runtime_checkable
class SubstratePort(Protocol):
    """The quantum substrate: the only quantum states (docs/design/storage-notes.md, "Interfaces: the ports")."""

    def create(self, object_id: str, state: Any, clones: int, *, keep_reference: bool,
               holders: dict[str, list[str]] | None = None) -> dict: ...
    def exists(self, object_id: str) -> bool: ...
    def age(self, object_id: str, labels: list[str], duration: float, t1: float, t2: float) -> None: ...
    def peek(self, object_id: str, labels: list[str]) -> Any: ...
    def fence(self, object_id: str, fence: int) -> dict: ...
    def decrypt(self, object_id: str, clone: int, attempt: str, fence: int | None = None,
                authorization: dict | None = None) -> dict: ...
    def recover(self, object_id: str, qubits: list[str], attempt: str, fence: int | None = None,
                authorizations: dict | None = None, retrieval: str = "plain", fallback: str | None = None) -> dict: ...
    def holders(self, object_id: str) -> dict[str, list[str]]: ...
    def assign(self, object_id: str, labels: list[str], party: str) -> None: ...
    def output(self, object_id: str) -> dict | None: ...
    def sample(self, object_id: str, basis: str, shots: int, seed: int | None) -> list[str]: ...
    def release(self, object_id: str) -> None: ...
    def discard(self, object_id: str) -> None: ...
    def apply(self, object_id: str, op: str, gate: str, gates: dict[str, str], parties: list[str],
              gate_error: float = 0.0, authorizations: dict | None = None) -> dict: ...
    def gate_state(self, object_id: str) -> dict: ...
    def health(self) -> dict: ...


@runtime_checkable
class VaultPort(Protocol):
    """The key vault: who holds which key and in which state; issues decryption authorizations."""

    def deposit(self, tenant: str, object_id: str, labels: list[str]) -> None: ...
    def release(self, object_id: str, attempt: str) -> dict | None: ...
    def consume(self, object_id: str, attempt: str) -> None: ...
    def restore(self, object_id: str, attempt: str) -> None: ...
    def state(self, object_id: str) -> dict | None: ...
    def destroy(self, object_id: str) -> None: ...
    def apply(self, object_id: str, op: str, gates: dict[str, str]) -> dict | None: ...
    def health(self) -> dict: ...


@runtime_checkable
class ProviderPort(Protocol):
    """A storage provider: its record of the clones it holds."""

    def store(self, object_id: str, clone: int, labels: list[str], stored_at: float) -> None: ...
    def release(self, object_id: str, attempt: str) -> dict | None: ...
    def discard(self, object_id: str) -> None: ...
    def holding(self, object_id: str) -> dict | None: ...
    def records(self) -> list[dict]: ...
    def apply(self, object_id: str, op: str, gates: dict[str, str]) -> dict | None: ...
    def health(self) -> dict: ...


#: Role name -> its port.
PORTS: dict[str, type] = {"substrate": SubstratePort, "vault": VaultPort, "provider": ProviderPort}


def port_methods(port: type) -> tuple[str, ...]:
    """The port's RPC methods, in declaration order (without ``health``)."""
    return tuple(name for name, value in vars(port).items()
                 if callable(value) and not name.startswith("_") and name != "health")


def node_statuses(nodes: list[Any], *, wait: float = 0.3) -> list[dict]:
    """The health of each node, never waiting more than about ``wait`` seconds in all: a remote
    node answers from its cached probe (:meth:`~qclone.storage.rpc.client.RemoteNode.status`),
    a local one calls ``health()``; a node that fails or does not answer in time is
    ``{"status": "down", "error": ...}``."""
    from concurrent.futures import ThreadPoolExecutor

    def one(node: Any) -> dict:
        try:
            if node is None:
                return {"status": "down", "error": "not configured"}
            status = getattr(node, "status", None)
            return status(wait=wait) if callable(status) else node.health()
        except Exception as e:  # noqa: BLE001 - any failure of a node means it is down for the listing
            return {"status": "down", "error": str(e)}

    if len(nodes) <= 1:
        return [one(n) for n in nodes]
    with ThreadPoolExecutor(max_workers=min(16, len(nodes))) as pool:
        return list(pool.map(one, nodes))
