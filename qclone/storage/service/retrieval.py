"""Retrieval: the steps of a get, the delivery of a pending output, its acknowledgement, rollback.

A get carries an idempotency key. The decrypted output stays in the substrate
(``delivering``) until the client acknowledges it with that key (:meth:`ack`)
or its retention ends; a retry with the same key, or a later get of the same
tenant, receives the same output again. Each claim raises the object's
fencing token; every later write of the attempt checks it (the database's
``WHERE fence = ...``, the substrate's refusal to decrypt below the fence), so
a stale attempt cannot finish after another took over.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import select, update

from qclone.protocol import Layout
from qclone.sim.exact import fidelity as uhlmann_fidelity
from qclone.sim.noise import twirled_relaxation
from qclone.storage import faults
from qclone.storage.correction import check_retrieval
from qclone.storage.errors import ConflictError, NotFoundError, UnavailableError
from qclone.storage.inputs import check_name
from qclone.storage.models import clones as clone_table
from qclone.storage.models import objects
from qclone.storage.service.common import (
    ALIVE,
    NODE_ERRORS,
    RECOVERY_ERRORS,
    VAULT_PARTY,
    Tenant,
    check_key,
    check_sampling,
    per_qubit_bloch,
    state_summary,
)
from qclone.storage.service.correction import Retrieval, widen
from qclone.storage.service.holders import HoldersMixin
from qclone.storage.service.statements import ACK, CLAIM, DISCARD_CLONES, FINISH
from qclone.storage.states import ObjectState, transition
from qclone.storage.substrate import sample_state
from qclone.storage.wire import decode_array

log = logging.getLogger(__name__)

_PAULI = (np.array([[0, 1], [1, 0]], dtype=complex), np.array([[0, -1j], [1j, 0]], dtype=complex),
          np.array([[1, 0], [0, -1]], dtype=complex))


def age_output(rho: np.ndarray, duration: float, t1: float, t2: float) -> np.ndarray:
    """``rho`` after ``duration`` of memory noise on every qubit (the substrate's twirled T1/T2
    channel; the channels form a semigroup, so ageing by the total time once is exact)."""
    if duration <= 0:
        return rho
    px, py, pz = twirled_relaxation(duration, t1, t2)
    k = int(round(np.log2(rho.shape[0])))
    for q in range(k):
        out = (1 - px - py - pz) * rho
        for p, pauli in zip((px, py, pz), _PAULI):
            if p:
                op = np.kron(np.kron(np.eye(2 ** q), pauli), np.eye(2 ** (k - q - 1)))
                out = out + p * (op @ rho @ op.conj().T)
        rho = out
    return rho


#: Rank added for a provider that is draining (load-sharing rule, :class:`ProviderLoad`).
DRAINING_PENALTY = 500.0


def _key_holders(out: Mapping[str, Any]) -> list[str] | None:
    """The key holders whose releases a recovery used, or None for the plain decryption with the
    vault's key alone (what every object stored before placements has)."""
    keys = [p for p in out.get("parties") or [] if not str(p).startswith("provider:")]
    if "used" not in out or (out.get("clone") is not None and keys == [VAULT_PARTY]):
        return None
    return keys


class ProviderLoad:
    """The load-sharing rule: which clone a get decrypts (which holders a recovery uses).

    Every holder (a provider, or a key holder) gets a rank, lower is better::

        rank = latency + 50 · in_flight + 1000 · failed_recently (+ 500 if a provider is draining)

    * ``latency``: the exponentially weighted mean (weight 0.3 for the newest) of how long its
      recent calls from this gateway took, in milliseconds (a provider is timed by the
      ``holding`` check that precedes every decryption of its clone);
    * ``in_flight``: the gets from this gateway running on it right now;
    * ``failed_recently``: 1 when a call to it failed in the last :attr:`FAILURE_MEMORY` seconds.

    A get decrypts the clone of the best-ranked live provider (equal ranks: any of them, at
    random), so load spreads over the providers and away from slow or failing ones; when no plain
    decryption is possible, the fewest holders, ties by the sum of their ranks.
    """

    FAILURE_MEMORY = 30.0
    IN_FLIGHT_MS = 50.0
    FAILURE_MS = 1000.0
    WEIGHT = 0.3

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._latency: dict[str, float] = {}
        self._in_flight: dict[str, int] = {}
        self._failed_at: dict[str, float] = {}

    def observe(self, holder: str, seconds: float) -> None:
        """A call to ``holder`` took ``seconds``."""
        ms = 1000.0 * max(0.0, float(seconds))
        with self._lock:
            old = self._latency.get(holder)
            self._latency[holder] = ms if old is None else (1 - self.WEIGHT) * old + self.WEIGHT * ms

    def failed(self, holder: str) -> None:
        with self._lock:
            self._failed_at[holder] = self._clock()

    def begin(self, holder: str) -> None:
        with self._lock:
            self._in_flight[holder] = self._in_flight.get(holder, 0) + 1

    def end(self, holder: str) -> None:
        with self._lock:
            self._in_flight[holder] = max(0, self._in_flight.get(holder, 0) - 1)

    def rank(self, holder: str) -> float:
        with self._lock:
            failed = self._failed_at.get(holder)
            recent = failed is not None and self._clock() - failed < self.FAILURE_MEMORY
            return (self._latency.get(holder, 0.0) + self.IN_FLIGHT_MS * self._in_flight.get(holder, 0)
                    + (self.FAILURE_MS if recent else 0.0))


class RetrievalMixin(HoldersMixin):
    load: ProviderLoad

    def get(self, tenant: Tenant, name: str, *, basis: str | None = None, shots: int | None = None,
            seed: int | None = None, key: str | None = None, ack: bool = False,
            retrieval: str | None = None) -> dict[str, Any]:
        """Retrieve a state, once: recover it from the holders that answer and discard the rest.

        The recovery is the protocol's plain decryption of one live clone with the key when it can
        be (the clone of the best-ranked provider, :class:`ProviderLoad`), else one from the fewest
        holders that can recover the state (e.g. a custodian keeping ``A`` with every provider,
        when the vault is down); it consumes what it used (see :meth:`_plan`).

        The output stays in the substrate until :meth:`ack` (or, with ``ack``, at once: for a
        caller in this process, which holds the result as soon as this returns). Until then a
        get of the same tenant returns it again (a retry with the same ``key``, or a later get).

        Args:
            basis, shots, seed: also measure the output ``shots`` times in basis X, Y or Z.
            key: the idempotency key (1-64 of ``[A-Za-z0-9._:-]``); made up when None.
            ack: acknowledge the output before returning.
            retrieval: ``plain`` (the default) or ``corrected``: measure the code's stabilizers
                among every live holder (each releasing its part), correct, then decrypt; it falls
                back to plain, with the reason in ``fallback`` and the audit entry, when that would
                correct nothing (:mod:`qclone.storage.correction`).

        Returns:
            ``{"name", "object_id", "qubits", "clones", "clone", "provider", "attempt", "key",
            "holders" (the key holders a recovery from another set used; None for the plain
            decryption), "density_matrix" (numpy array), "bloch" (per qubit), "purity", "maximally_mixed",
            "fidelity" (None without a kept reference), "retrieval" (``plain`` or ``corrected``: what
            ran), "fallback" (why a corrected retrieval ran plain, else None), "elapsed" (seconds stored), "waited"
            (seconds the output waited in the substrate), "basis", "shots", "samples" (None
            without a basis), "recovered" (True when a pending output is delivered)}``, in
            Qiskit's order: qubit i is bit i of a density-matrix index, item i of ``bloch``
            and the i-th character from the right of a sample.

        Raises:
            NotFoundError: no such object. ConflictError: already retrieved, being retrieved, deleted or
            lost (no set of its holders could recover it any more). UnavailableError: the holders that
            answer now cannot recover it (a provider, the vault or another holder is down), or the
            substrate is down.
        """
        name = check_name(name)
        key = uuid.uuid4().hex if key is None else check_key(key)
        basis, shots, seed = check_sampling(basis, shots, seed)  # before anything is decrypted
        mode = check_retrieval(retrieval)
        for _ in range(3):
            with self.db.fast_read() as conn:
                row = self._object_row(conn, tenant, name)
                crows = self._clone_rows(conn, row.id) if row.state in ("stored", "delivering") else []
            if row.state == ObjectState.STORED:
                result = self._retrieve(tenant, row, crows, key, basis, shots, seed, mode)
            elif row.state == ObjectState.RETRIEVING and (self._expired(row) or row.get_key == key):
                # its lease ended, or this is a retry of that very get: take it over (fenced)
                self._recover_object(row.id)
                continue
            elif row.state == ObjectState.DELIVERING:
                result = self._deliver_pending(tenant, row, crows, key, basis, shots, seed)
            else:
                break
            if ack:
                self.ack(tenant, name, result["key"])
            return result
        self._refuse(tenant, row)
        raise AssertionError("unreachable")

    def _refuse(self, tenant: Tenant, row: Any) -> None:
        reason = {
            "retrieving": f"object {row.name!r} is being retrieved right now; a state can be retrieved only once",
            "retrieved": f"object {row.name!r} was already retrieved: decryption consumed its key, so it cannot be "
                         "retrieved again",
            "deleted": f"object {row.name!r} was deleted",
            "storing": f"object {row.name!r} is being stored right now",
            "applying": f"object {row.name!r} has a logical gate being applied (some holder has not applied its part "
                        "yet); try again once it completes",
            "lost": f"object {row.name!r} is lost: no live clone of it is left",
        }.get(row.state, f"object {row.name!r} is {row.state}")
        self._write_log(tenant.name, "get.refused", tenant_id=tenant.id, object_id=row.id, object_name=row.name,
                        state=row.state)
        raise ConflictError(reason)

    def _plan(self, tenant: Tenant, row: Any, crows: list[dict[str, Any]], prows: list[dict[str, Any]],
              down: set[str], mode: Retrieval | None = None) -> tuple[Any, list[dict[str, Any]], list[str]]:
        """Which recovery a get runs now: ``(recovery, the clone rows it uses, the key holders it
        uses)``. Among the live holders (providers that are up or draining and still hold their
        clone, key holders whose part is live and not found down during this get) an authorized
        subset by :func:`~qclone.analysis.recovery.choose_recovery`: the plain decryption of a
        clone first (the best-ranked provider's, see :meth:`_provider_rank`), else the fewest
        parties. Raises ConflictError (lost) or UnavailableError (not now, with the algebra's
        reason). A corrected retrieval (``mode``) uses every live holder instead, or falls back
        (:func:`~qclone.storage.service.correction.widen` decides and sets ``mode``)."""
        from qclone.analysis.recovery import UnauthorizedSetError, choose_recovery, is_authorized

        live = [c for c in crows if c["state"] == "live"]
        if not live:
            self._mark_lost(row.id, "no live clone left")
            raise ConflictError(f"object {row.name!r} is lost: no live clone of it is left")
        lay = Layout(row.n, qubits=row.k)
        parts_held = self._parts_of(row, prows)
        holders: dict[str, list[int]] = {h: [lay.index_of(x, long=True) for x in labels]
                                         for h, labels in parts_held.items()}
        left = [q for qs in holders.values() for q in qs] + [q for c in live for q in lay.clone(c["j"])]
        if not is_authorized(lay, left):  # even with every holder back: lost for good
            gone = sorted({p["holder_id"] for p in prows if p["state"] == "lost"}) if prows else [VAULT_PARTY]
            reason = ("the vault no longer holds its key" if gone == [VAULT_PARTY]
                      else f"{', '.join(gone)} no longer hold{'s' if len(gone) == 1 else ''} their parts")
            self._mark_lost(row.id, reason)
            raise ConflictError(f"object {row.name!r} is lost: {reason}")
        usable = [c for c in live if c["provider_state"] in ALIVE]
        random.shuffle(usable)  # equal ranks: any of them
        for c in usable:
            holders[c["provider_id"]] = list(lay.clone(c["j"]))
        draining = {c["provider_id"] for c in usable if c["provider_state"] == "draining"}

        def rank(holder: str) -> float:
            return self.load.rank(holder) + (DRAINING_PENALTY if holder in draining else 0.0)

        while True:
            alive = [h for h in holders if h not in down]
            try:
                rec, used = choose_recovery(lay, holders, alive, rank=rank)
            except UnauthorizedSetError as e:
                with self.db.read() as conn:
                    current = self._object_row(conn, tenant, row.name)
                if current.state != ObjectState.STORED:  # a concurrent get won meanwhile: its refusal
                    self._refuse(tenant, current)
                self._write_log(tenant.name, "get.unavailable", tenant_id=tenant.id, object_id=row.id,
                                object_name=row.name, live_clones=len(live), down=sorted(down),
                                reason=e.missing)
                raise UnavailableError(f"object {row.name!r} cannot be retrieved now: the holders that answer "
                                       f"({', '.join(sorted(alive)) or 'none'}) {e.missing}; down or unreachable: "
                                       f"{', '.join(sorted(set(holders) - set(alive))) or 'none'}; try again later") from None
            if mode is not None:
                used = tuple(widen(mode, lay, holders, alive, used, legacy=not prows))
            used_clones = [c for c in usable if c["provider_id"] in used]
            # an object stored with its holders named: each provider's release checks it (step 2)
            missing = [] if prows else [c for c in used_clones if not self._still_holds(c, row.id)]
            if not missing:
                return rec, used_clones, [h for h in used if h in parts_held]
            down.update(c["provider_id"] for c in missing)

    def _still_holds(self, c: Mapping[str, Any], object_id: str) -> bool:
        """Whether the provider of clone row ``c`` answers and still holds that clone (timed: the
        load-sharing rule's latency)."""
        started = time.monotonic()
        try:
            held = self._node(self._clone_provider(c)).holding(object_id)
        except NODE_ERRORS as e:  # an unreachable provider is skipped
            log.warning("provider %s unreachable for %s: %s", c["provider_id"], object_id, e)
            self.load.failed(c["provider_id"])
            return False
        self.load.observe(c["provider_id"], time.monotonic() - started)
        return held is not None and int(held["clone"]) == c["j"]

    def _parts_of(self, row: Any, prows: list[dict[str, Any]]) -> dict[str, list[str]]:
        """Key holder -> the labels of its live part of the object (objects stored before
        placements existed: the vault holds the key their placement names)."""
        if prows:
            return {p["holder_id"]: list(p["labels"]) for p in prows if p["state"] == "live"}
        return {VAULT_PARTY: list((row.placement.get("key") or {}).get("labels") or [])}

    def _retrieve(self, tenant: Tenant, row: Any, crows: list[dict[str, Any]], key: str, basis: str | None,
                  shots: int | None, seed: int | None, requested: str = "plain") -> dict[str, Any]:
        object_id = row.id
        with self.db.read() as conn:
            prows = self._part_rows(conn, object_id)
        down: set[str] = set()
        for _ in range(4):  # a key holder found down or without its part: plan again without it
            mode = Retrieval(requested)
            rec, used_clones, used_keys = self._plan(tenant, row, crows, prows, down, mode)
            result = self._run(tenant, row, crows, prows, key, basis, shots, seed, rec, used_clones, used_keys, down,
                               mode)
            if result is not None:
                return result
            with self.db.read() as conn:
                row = self._object_row(conn, tenant, row.name)
                prows = self._part_rows(conn, object_id)
            if row.state != ObjectState.STORED:
                self._refuse(tenant, row)
        raise UnavailableError(f"object {row.name!r}: its key holders keep failing ({', '.join(sorted(down))}); "
                               "try again later")

    def _run(self, tenant: Tenant, row: Any, crows: list[dict[str, Any]], prows: list[dict[str, Any]], key: str,
             basis: str | None, shots: int | None, seed: int | None, rec: Any, used_clones: list[dict[str, Any]],
             used_keys: list[str], down: set[str], mode: Retrieval | None = None) -> dict[str, Any] | None:
        """One attempt of a get with the planned recovery; None when a key holder turned out to be
        down or without its part (the claim undone, ``down`` updated: plan again)."""
        object_id = row.id
        attempt = uuid.uuid4().hex
        fence = row.fence + 1
        j = rec.plain_clone
        # objects stored before placements: the vault's plain decryption, as it was; else a recovery
        # with the release of every holder it uses, providers included
        plain = not prows
        first = used_clones[0] if used_clones else None
        # 1. claim: the one compare-and-set that lets exactly one get through; it raises the fence
        with self.db.fast_write() as conn:
            won = conn.execute(CLAIM, {"b_id": object_id, "b_fence": row.fence, "b_attempt": attempt, "b_key": key,
                                       "b_lease": self.lease_seconds, "b_clone": j,
                                       "b_now": self._now()}).rowcount
        if won != 1:
            with self.db.read() as conn:
                current = self._object_row(conn, tenant, row.name)
            self._refuse(tenant, current)
        faults.crash_point("get.claim")
        now = self._now()
        elapsed = max(0.0, now - row.stored_at)
        parts_held = self._parts_of(row, prows)
        for c in used_clones:
            self.load.begin(c["provider_id"])
        try:
            try:
                # 2. every key holder the recovery uses releases its part to this attempt
                records = self._holder_records(used_keys)
                grants: dict[str, Any] = {}
                for h in used_keys:
                    try:
                        grants[h] = self._release_part(h, object_id, attempt, records)
                    except NotFoundError:  # the holder lost its part: mark it, plan without it
                        self._rollback(object_id, attempt)
                        if not prows:  # stored before placements: the vault held the whole key
                            self._lose(object_id, "the vault no longer holds its key")
                            raise ConflictError(f"object {row.name!r} is lost: the vault no longer holds its key") from None
                        self._part_lost(row, h)
                        down.add(h)
                        return None
                    except (UnavailableError, OSError, sqlite3.Error) as e:
                        self.load.failed(h)
                        log.warning("key holder %s unavailable for %s: %s", h, object_id, e)
                        self._rollback(object_id, attempt)
                        down.add(h)
                        return None
                for c in used_clones if prows else []:
                    pid = c["provider_id"]
                    started = time.monotonic()
                    try:
                        grants[f"provider:{pid}"] = self._node(self._clone_provider(c)).release(object_id, attempt)
                    except NODE_ERRORS as e:  # unreachable, or it no longer holds the clone: plan without it
                        self.load.failed(pid)
                        log.warning("provider %s cannot release %s: %s", pid, object_id, e)
                        self._rollback(object_id, attempt)
                        down.add(pid)
                        return None
                    self.load.observe(pid, time.monotonic() - started)
                faults.crash_point("get.release")
                # 3. memory noise for the whole storage time (age() counts each qubit's time once)
                if elapsed > 0:
                    for c in used_clones:
                        self.substrate.age(object_id, list(c["labels"]), elapsed, c["t1"], c["t2"])
                    for h in used_keys:
                        self.substrate.age(object_id, list(parts_held[h]), elapsed, *self._holder_times(h, records))
                faults.crash_point("get.age")
            except Exception:  # whatever failed (the decryption never happened): undo the claim, re-raise
                self._rollback(object_id, attempt)
                raise
            # 4. the one recovery (consumes the joint state); refused if a newer attempt raised the fence
            try:
                if plain:
                    assert j is not None, "an object stored before placements has only plain decryptions"
                    out = self.substrate.decrypt(object_id, j, attempt, fence=fence, authorization=grants[VAULT_PARTY])
                else:
                    qubits = [x for c in used_clones for x in c["labels"]] + [x for h in used_keys for x in parts_held[h]]
                    out = self.substrate.recover(object_id, qubits, attempt, fence=fence, authorizations=grants,
                                                 **(mode.substrate_args() if mode is not None else {}))
            except Exception:  # did it happen? recovery looks and finishes or undoes it; re-raise
                self._recover_quietly(object_id)
                raise
        finally:
            for c in used_clones:
                self.load.end(c["provider_id"])
        faults.crash_point("get.decrypt")
        if mode is not None and mode.corrected:  # the recovery over every live holder decrypted this clone
            j = out.get("clone")
            first = next((c for c in used_clones if c["j"] == j), first)
        # 5. the parts used are consumed; 6. the object is delivering (+ audit); 7. the rest is discarded
        for h in used_keys:
            try:
                self._holder_node(h, records).consume(object_id, attempt)
            except UnavailableError as e:
                raise UnavailableError(f"object {row.name!r} was recovered but {h} cannot confirm it now ({e}); "
                                       "get it again once it is back to receive the output") from None
        faults.crash_point("get.consume")
        provider = first["provider_id"] if first is not None else None
        self._finish(object_id, attempt, fence, tenant.name, tenant.id, row.name, j or 0, provider, elapsed,
                     holders=[*(c["provider_id"] for c in used_clones), *used_keys],
                     **({} if mode is None else mode.audit(out)))
        faults.crash_point("get.finish")
        self._discard_clones(object_id, crows)
        self._discard_unused_parts(object_id, prows, used_keys)
        faults.crash_point("get.discard")
        # 8. the output is returned; it stays in the substrate until acknowledged
        result = self._output(row, out, provider, elapsed, basis, shots, seed, key=key, recovered=False)
        if mode is not None and mode.fallback is not None:  # an object decrypted by the vault alone
            result["fallback"] = mode.fallback
        faults.crash_point("get.deliver")
        return result

    def _release_part(self, holder: str, object_id: str, attempt: str,
                      records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
        """Step 2 at one key holder. A part still released to an earlier attempt (rolled back
        while the holder could not be reached) is restored first: this attempt holds the newer
        fence. Returns the holder's one-time authorization (None: an embedded holder)."""
        node = self._holder_node(holder, records)
        try:
            return node.release(object_id, attempt)
        except ConflictError:
            held = node.state(object_id)
            if held is None or held.get("state") != "released" or held.get("attempt") == attempt:
                raise
        node.restore(object_id, held["attempt"])
        return node.release(object_id, attempt)

    def _output(self, row: Any, out: Mapping[str, Any], provider_id: str | None, elapsed: float | None,
                basis: str | None, shots: int | None, seed: int | None, *, key: str, recovered: bool,
                waited: float = 0.0, t1: float | None = None, t2: float | None = None) -> dict[str, Any]:
        """The result of a get; an output that ``waited`` in the substrate is aged by that time at
        its holder's T1/T2 (the fidelity recomputed from the kept reference)."""
        rho = decode_array(out["density_matrix"], name="output") if isinstance(out["density_matrix"], (dict, list)) \
            else np.asarray(out["density_matrix"], dtype=complex)
        fidelity = out.get("fidelity")
        samples = None
        if waited > 0 and t1 is not None and t2 is not None:
            rho = age_output(rho, waited, t1, t2)
            if out.get("reference") is not None:
                fidelity = min(1.0, max(0.0, float(uhlmann_fidelity(decode_array(out["reference"], name="reference"),
                                                                    rho))))
            if basis is not None:
                assert shots is not None, "check_sampling gives a basis its shots"
                samples = sample_state(rho, basis, shots, seed)
        elif basis is not None:
            assert shots is not None, "check_sampling gives a basis its shots"
            samples = self.substrate.sample(row.id, basis, shots, seed)
        if samples is not None:  # Qiskit's bitstrings: qubit 0 is the rightmost character
            samples = [s[::-1] for s in samples]
        clone = out.get("clone")
        reference_bloch = None
        if out.get("reference") is not None:  # the kept input, drawn beside the output (the dashboard)
            ref = out["reference"]
            ref = np.asarray(decode_array(ref, name="reference") if isinstance(ref, (dict, list)) else ref, dtype=complex)
            reference_bloch = per_qubit_bloch(np.outer(ref, ref.conj()) if ref.ndim == 1 else ref)
        return {"name": row.name, "object_id": row.id, "qubits": row.k, "clones": row.n,
                "clone": None if clone is None else int(clone), "provider": provider_id,
                "holders": _key_holders(out), "attempt": out["attempt"], "key": key, **state_summary(rho),
                "retrieval": out.get("retrieval") or "plain", "fallback": out.get("fallback"),
                "fidelity": fidelity, "reference_bloch": reference_bloch, "elapsed": elapsed, "waited": waited,
                "basis": basis,
                "shots": shots if basis is not None else None, "samples": samples, "recovered": recovered}

    def _finish(self, object_id: str, attempt: str, fence: int, actor: str, tenant_id: str | None, name: str, j: int,
                provider_id: str | None, elapsed: float | None, *, action: str = "get",
                holders: list[str] | None = None, **retrieval: Any) -> bool:
        """Step 6: retrieving -> delivering (fenced), clone records discarded (pending where the
        provider is down), audit. Recovery (``action`` ``get.recovered``) keeps the claim's time
        as the decryption's."""
        now = self._now()
        with self.db.fast_write() as conn:
            done = conn.execute(FINISH, {"b_id": object_id, "b_attempt": attempt, "b_fence": fence,
                                         "b_now": None if action == "get.recovered" else now,
                                         "b_retention": self.retention_seconds}).rowcount
            if done != 1:
                return False
            conn.execute(DISCARD_CLONES, {"b_id": object_id})
            self._log(conn, now, actor, action, tenant_id=tenant_id, object_id=object_id, object_name=name,
                      clone=j, provider=provider_id, attempt=attempt, fence=fence, elapsed=elapsed,
                      **({} if holders is None else {"holders": holders}), **retrieval)
        return True

    def _discard_clones(self, object_id: str, crows: list[dict[str, Any]]) -> None:
        """Step 7: tell every provider that held a clone to discard it; remember the ones that missed it."""
        failed = []
        for c in crows:
            if c["state"] != "live" or c["provider_state"] not in ALIVE:
                continue
            if not self._tell_discard(self._clone_provider(c), object_id):
                failed.append(c["provider_id"])
        if failed:
            with self.db.write() as conn:
                conn.execute(update(clone_table).where(clone_table.c.object_id == object_id, clone_table.c.provider_id.in_(failed))
                             .values(discard_pending=True))

    def _deliver_pending(self, tenant: Tenant, row: Any, crows: list[dict[str, Any]], key: str, basis: str | None,
                         shots: int | None, seed: int | None) -> dict[str, Any]:
        """The output waiting for its acknowledgement, again: for a retry with the same key or a
        later get of the tenant (which then holds the delivery: the acknowledgement takes its key)."""
        out = self.substrate.output(row.id)
        if out is None or out.get("attempt") != row.attempt:
            self._output_missing(row)
            raise ConflictError(f"object {row.name!r} is lost: its decrypted output is no longer held")
        if row.get_key != key:
            with self.db.write() as conn:
                taken = conn.execute(update(objects).where(
                    objects.c.id == row.id, objects.c.state == ObjectState.DELIVERING.value,
                    objects.c.attempt == row.attempt).values(get_key=key)).rowcount
                if taken:
                    self._log(conn, self._now(), tenant.name, "get.deliver", tenant_id=tenant.id, object_id=row.id,
                              object_name=row.name, attempt=row.attempt)
            if not taken:  # acknowledged or expired meanwhile
                with self.db.read() as conn:
                    current = self._object_row(conn, tenant, row.name)
                self._refuse(tenant, current)
            faults.crash_point("get.collect")
        holder = next((c for c in crows if out.get("clone") is not None and c["j"] == int(out["clone"])), None)
        waited = max(0.0, self._now() - row.finished_at) if row.finished_at is not None else 0.0
        result = self._output(row, out, holder["provider_id"] if holder else None, None, basis, shots, seed, key=key,
                              recovered=True, waited=waited, t1=holder["t1"] if holder else None,
                              t2=holder["t2"] if holder else None)
        faults.crash_point("get.deliver")
        return result

    def _output_missing(self, row: Any) -> None:
        """A delivering object whose output the substrate no longer holds: lost, with the reason."""
        with self.db.write() as conn:
            lost = conn.execute(transition(ObjectState.DELIVERING, ObjectState.LOST, objects.c.id == row.id,
                                           objects.c.attempt == row.attempt, lease_until=None,
                                           purge_pending=True)).rowcount
            if lost:
                self._log(conn, self._now(), "system", "object.lost", tenant_id=row.tenant_id, object_id=row.id,
                          object_name=row.name, reason="the substrate no longer holds its decrypted output")

    def ack(self, tenant: Tenant, name: str, key: str) -> dict[str, Any]:
        """Acknowledge the output of the get with idempotency key ``key``: the object is
        ``retrieved`` and the output released from the substrate. Idempotent.

        Returns:
            ``{"name", "object_id", "state": "retrieved"}``.

        Raises:
            NotFoundError: no such object. ConflictError: no output waits for this key (another
            get collected it since, or the object is in another state).
        """
        name = check_name(name)
        key = check_key(key)
        with self.db.fast_read() as conn:
            row = self._object_row(conn, tenant, name)
        if row.state == ObjectState.DELIVERING:
            with self.db.fast_write() as conn:
                done = conn.execute(ACK, {"b_id": row.id, "b_key": key}).rowcount
                if done:
                    self._log(conn, self._now(), tenant.name, "get.ack", tenant_id=tenant.id, object_id=row.id,
                              object_name=name, attempt=row.attempt)
            if done:
                faults.crash_point("ack.commit")
                self._release_output(row.id)
                faults.crash_point("ack.release")
                return {"name": name, "object_id": row.id, "state": "retrieved"}
            with self.db.fast_read() as conn:
                row = self._object_row(conn, tenant, name)
        if row.state == ObjectState.RETRIEVED and row.get_key == key:
            return {"name": name, "object_id": row.id, "state": "retrieved"}
        if row.state == ObjectState.DELIVERING:
            raise ConflictError(f"the output of {name!r} was collected by a later get since; acknowledge it with "
                                "that get's key")
        raise ConflictError(f"object {name!r} is {row.state}: no output waits for this key")

    def _release_output(self, object_id: str) -> None:
        """Drop an acknowledged output from the substrate; the reconciler repeats it (and clears the
        object's release mark) in any case, so a failure here only delays it."""
        try:
            self.substrate.release(object_id)
        except NODE_ERRORS as e:
            log.warning("release of the output of %s deferred: %s", object_id, e)

    def _rollback(self, object_id: str, attempt: str) -> bool:
        """Undo a claim whose decryption never happened: the key back to held, the object back to
        stored. The database moves back even when the vault cannot be reached: the next claim
        restores a key still released to this attempt (:meth:`_release_key`)."""
        with self.db.read() as conn:
            holders = [p["holder_id"] for p in self._part_rows(conn, object_id) if p["state"] == "live"] or [VAULT_PARTY]
        records = self._holder_records(holders)
        for h in holders:
            try:
                self._holder_node(h, records).restore(object_id, attempt)
            except NotFoundError:
                pass
            except NODE_ERRORS as e:
                log.warning("rollback of %s: %s: %s (the next claim restores its part)", object_id, h, e)
        with self.db.write() as conn:
            undone = conn.execute(transition(ObjectState.RETRIEVING, ObjectState.STORED, objects.c.id == object_id,
                                             objects.c.attempt == attempt, attempt=None, lease_until=None,
                                             chosen_clone=None, get_key=None, finished_at=None)).rowcount
            if undone:
                self._log(conn, self._now(), "system", "get.rollback", object_id=object_id, attempt=attempt)
        return bool(undone)

    def _recover_quietly(self, object_id: str) -> None:
        try:
            self._recover_object(object_id)
        except RECOVERY_ERRORS as e:  # the reconciler tries again
            log.warning("recovery of %s deferred: %s", object_id, e)

    def _mark_lost(self, object_id: str, reason: str) -> None:
        with self.db.write() as conn:
            row = conn.execute(select(objects.c.tenant_id, objects.c.name).where(objects.c.id == object_id)).first()
            if row is None:  # no such object: nothing to mark lost
                return
            lost = conn.execute(transition(ObjectState.STORED, ObjectState.LOST, objects.c.id == object_id,
                                           finished_at=self._now(), purge_pending=True)).rowcount
            if lost:
                self._log(conn, self._now(), "system", "object.lost", tenant_id=row.tenant_id, object_id=object_id,
                          object_name=row.name, reason=reason)
        if lost:
            self._purge_object(object_id)
