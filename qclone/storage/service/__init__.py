"""The storage service: tenants, objects and their state machine, placement, providers, audit log.

:class:`StorageService` keeps the metadata in the database (:mod:`qclone.storage.db`)
and talks to the substrate, the key vault and the providers through their
interfaces (local classes or remote clients with the same methods). See
``docs/design/storage-notes.md`` for the state machine, the steps of a get, the recovery and
the crash points (:func:`qclone.storage.faults.crash_point`).

The class is assembled from one module per concern:

* :mod:`.common`: constants, :class:`Tenant`, :class:`ProviderDirectory`, the shared helpers;
* :mod:`.statements`: the prepared statements of the hot paths;
* :mod:`.tenants`: tenants and their tokens;
* :mod:`.placement`: choosing providers, storing clone records, the coalition audit;
* :mod:`.objects`: put, stat, list, delete, peek;
* :mod:`.batch`: the batch put (many objects, each store written once per batch);
* :mod:`.retrieval`: the steps of a get;
* :mod:`.recovery`: finishing or undoing what crashes left behind, the background reconciler;
* :mod:`.integrity`: detecting keys and clones the vault or a provider lost;
* :mod:`.providers`: add, drain, kill, revive;
* :mod:`.holders`: the key holders beside the vault (custodians, more vaults) and their parts;
* :mod:`.compute`: logical gates applied to stored objects by their holders;
* :mod:`.audit`: the audit log and health.

Every change of an object's state goes through :func:`qclone.storage.states.transition`.

Examples:
    >>> from qclone.storage.clock import SettableClock
    >>> from qclone.storage.db import Database
    >>> from qclone.storage.inputs import parse_state
    >>> from qclone.storage.substrate import Substrate
    >>> from qclone.storage.vault import KeyVault
    >>> svc = StorageService(Database.open(), Substrate(None), KeyVault(None), ProviderDirectory.local(None),
    ...                      SettableClock(None, start=0.0))
    >>> for p in ("p1", "p2", "p3", "p4"):
    ...     _ = svc.providers_add(p)
    >>> alice = svc.authenticate(svc.create_tenant("alice"))
    >>> svc.put(alice, "psi", parse_state("bloch", [0, 0, 1]), keep_reference=True)["audit"]["safe"]
    True
    >>> round(svc.get(alice, "psi")["fidelity"], 9)
    1.0
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from qclone.storage.db import Database
from qclone.storage.service.audit import AuditMixin
from qclone.storage.service.batch import BatchMixin
from qclone.storage.service.common import (
    DEFAULT_CLONES,
    DELIVERY_RETENTION,
    LEASE_SECONDS,
    POLICIES,
    ProviderDirectory,
    Tenant,
    warm_up,
)
from qclone.storage.service.compute import DEFAULT_GATE_ERROR, ComputeMixin
from qclone.storage.service.holders import HolderDirectory, HoldersMixin
from qclone.storage.service.integrity import IntegrityMixin
from qclone.storage.service.objects import ObjectsMixin
from qclone.storage.service.placement import default_max_coalition, placement_audit
from qclone.storage.service.providers import ProvidersMixin
from qclone.storage.service.recovery import Reconciler, RecoveryMixin
from qclone.storage.service.retrieval import ProviderLoad, RetrievalMixin
from qclone.storage.service.tenants import TenantsMixin


class StorageService(TenantsMixin, BatchMixin, ObjectsMixin, RetrievalMixin, RecoveryMixin, IntegrityMixin, ProvidersMixin,
                     ComputeMixin, HoldersMixin, AuditMixin):
    """Encrypted quantum multi-cloud storage (see the package docstring and ``docs/storage.md``).

    Args:
        db: the metadata database (migrated).
        substrate: a :class:`~qclone.storage.substrate.Substrate` or a remote client.
        vault: a :class:`~qclone.storage.vault.KeyVault` or a remote client.
        providers: the :class:`ProviderDirectory`.
        clock: the service clock (``now()`` in seconds): memory noise and timestamps.
        lease_seconds: how long (on the database's clock) a retrieval or a put may run before
            recovery takes it over.
        retention_seconds: how long (on the database's clock) a decrypted output waits for its
            acknowledgement before it is discarded and the object marked lost.
        recover: run :meth:`recover` now (finish or roll back what a crash interrupted).
        holders: the :class:`HolderDirectory` of the key holders beside the vault (custodians,
            more vaults); default: embedded ones in memory.
        gate_error: depolarizing probability of each local one-qubit gate of a logical gate
            (:mod:`.compute`; default the ``heron`` noise preset's).
    """

    def __init__(self, db: Database, substrate: Any, vault: Any, providers: ProviderDirectory, clock: Any, *,
                 lease_seconds: float = LEASE_SECONDS, retention_seconds: float = DELIVERY_RETENTION,
                 recover: bool = True, holders: HolderDirectory | None = None,
                 gate_error: float = DEFAULT_GATE_ERROR) -> None:
        self.db = db
        self.gate_error = float(gate_error)
        self.holder_directory = holders if holders is not None else HolderDirectory.local(None)
        self.load = ProviderLoad()
        self.substrate = substrate
        self.vault = vault
        self.directory = providers
        self.clock = clock
        self.lease_seconds = float(lease_seconds)
        self.retention_seconds = float(retention_seconds)
        self.reconciler: Reconciler | None = None
        self._tokens: OrderedDict[str, Tenant] = OrderedDict()
        self._tokens_lock = threading.Lock()
        self._vault_coherence: tuple[float, float] | None = None
        # Import everything the audit needs now, and set up stim's numpy bridge in this thread:
        # first uses racing in many request threads were seen to hang the process.
        warm_up()
        placement_audit(2, 1, ("provider-1", "provider-2"), default_max_coalition(2))
        if recover:
            self.recover()

    def start_reconciler(self, interval: float = 2.0) -> Reconciler:
        """Start the background :class:`Reconciler` (once); :meth:`close` stops it."""
        if self.reconciler is None:
            self.reconciler = Reconciler(self, interval).start()
        return self.reconciler

    def close(self) -> None:
        """Stop the reconciler (the database and the nodes are the caller's)."""
        if self.reconciler is not None:
            self.reconciler.stop()
            self.reconciler = None


__all__ = ["DEFAULT_CLONES", "DELIVERY_RETENTION", "HolderDirectory", "ProviderLoad",
           "LEASE_SECONDS", "Reconciler", "POLICIES", "ProviderDirectory", "StorageService", "Tenant",
           "default_max_coalition", "warm_up"]
