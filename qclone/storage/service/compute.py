"""Compute on encrypted clones: a logical gate applied to a stored object, by its holders.

A logical gate G on a stored object is local (``qclone.protocol.logical.plan``): every holder
applies a one-qubit Clifford to the qubits it holds, each provider to its clone, the vault (and
every other key holder) to its key qubits, a custodian to ``A``. Nobody decrypts anything: the key
holders see that a gate was applied, never the state. The steps of :meth:`ComputeMixin.apply`:

1. **claim** (``apply.claim``): the object moves ``stored -> applying`` by a compare-and-set that
   raises its fence (so no get, delete or other gate runs meanwhile), in one transaction with the
   audit entry ``apply.begin`` (the gate, the register qubits, the whole plan): the durable intent;
2. **age** (``apply.age``): every qubit's memory noise up to now (it happened before the gate);
3. **start** (``apply.start``): the substrate records the gate (nothing is acted on yet: every
   held qubit waits for its holder);
4. **parts** (``apply.holder``, ``apply.part``): each holder records the gate in its own records
   (once per gate; its node signs a one-time receipt) and the substrate applies that holder's local
   gates with the receipt (once);
5. **finish** (``apply.finish``): ``applying -> stored`` with the audit entry ``apply`` (the gate,
   the holders who acted, whether key holders acted).

A holder that does not answer keeps its part pending: the object stays ``applying`` (a get is
refused with 409 meanwhile: its qubits are not the gated code word yet) and the reconciler, or a
retry of the apply with the same idempotency key, finishes the gate as soon as the holder answers.
Every step is idempotent, so a crash anywhere is finished by rolling forward: never some holders
updated and the others forgotten, and never a part applied twice (the substrate counts each
holder's part of a gate once, and applies a gate once).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from qclone.errors import InvalidArgumentError, is_int
from qclone.storage import faults
from qclone.storage.errors import ConflictError
from qclone.storage.inputs import check_name
from qclone.storage.models import audit_log, objects
from qclone.storage.service.common import (
    NODE_ERRORS,
    RECOVERY_ERRORS,
    Tenant,
    check_key,
)
from qclone.storage.service.holders import HoldersMixin
from qclone.storage.service.statements import Q_OBJECT_BY_ID
from qclone.storage.states import ObjectState, transition

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_GATE_ERROR", "MAX_GATES", "ComputeMixin", "KEY_HOLDER_NOTE"]

#: Most logical gates one object may have applied (a budget on the substrate's record).
MAX_GATES = 1000
#: What the result and ``stat`` say when key holders had to act.
KEY_HOLDER_NOTE = "the key holders applied their part: they see that a gate was applied, never the state"


def _default_gate_error() -> float:
    from qclone.sim.noise import noise_model

    return float(noise_model("heron").gate1[0])


#: Depolarizing probability of each local one-qubit gate (the ``heron`` noise preset's one-qubit
#: gate error, :func:`qclone.sim.noise.noise_model`).
DEFAULT_GATE_ERROR = _default_gate_error()


def _plan_gates(gate: Any, k: int, n: int, qubits: Any) -> tuple[str, list[int], dict[str, str]]:
    """The gate's name, the register qubits it acts on and the local gate of every code qubit
    (label -> name; identities left out) from ``qclone.protocol.logical.plan``."""
    from qclone.protocol import Layout
    from qclone.protocol.logical import plan

    if not isinstance(gate, str) or not 0 < len(gate) <= 32:
        raise InvalidArgumentError(f"gate must be the name of a logical gate, got {gate!r}")
    if qubits is None:
        chosen = list(range(k))
    else:
        if not isinstance(qubits, list) or not qubits or len(qubits) > k or \
                any(not is_int(q) or not 0 <= q < k for q in qubits) or len(set(qubits)) != len(qubits):
            raise InvalidArgumentError(f"qubits must be distinct register qubits in 0..{k - 1}, got {qubits!r}")
        chosen = sorted(int(q) for q in qubits)
    local = plan(gate, n)  # InvalidArgumentError: unknown gate, or none local for n (with the ones there are)
    lay = Layout(n, qubits=k)
    gates: dict[str, str] = {}
    for i in chosen:
        for q, name in zip(lay.embedding(i).tolist(), local.local, strict=True):
            if name != "I":
                gates[lay.label(int(q), long=True)] = str(name)
    if not gates:
        raise InvalidArgumentError(f"logical {local.gate} changes nothing: there is no gate to apply")
    return str(local.gate), chosen, gates


class ComputeMixin(HoldersMixin):
    gate_error: float

    def apply(self, tenant: Tenant, name: str, gate: str, *, qubits: list[int] | None = None,
              key: str | None = None) -> dict[str, Any]:
        """Apply the logical gate ``gate`` to the stored object ``name`` (every register qubit, or
        ``qubits``): each holder applies its local part (see the module doc).

        Args:
            gate: a name of ``qclone.protocol.logical.available_gates(n)``.
            qubits: register qubits (Qiskit's order) to act on; None: every one.
            key: the idempotency key (1-64 of ``[A-Za-z0-9._:-]``): a retry with the same key
                returns the same gate's result (and finishes it), never applies it twice.

        Returns:
            ``{"name", "object_id", "gate", "qubits", "op", "key", "complete", "done" (holders that
            applied their part), "pending" (holders that have not yet: the reconciler finishes),
            "key_holders" (key holders that had to act), "note", "gates_applied"}``.

        Raises:
            NotFoundError: no such object. InvalidArgumentError: unknown gate, no local plan for this
            number of clones, bad qubits. ConflictError: the object is not stored (being retrieved,
            retrieved, deleted, lost), another gate is being applied, a clone or key part is lost,
            or it was stored before placements named every holder.
        """
        name = check_name(name)
        key = uuid.uuid4().hex if key is None else check_key(key)
        for _ in range(3):
            with self.db.read() as conn:
                row = self._object_row(conn, tenant, name)
            if row.state == ObjectState.APPLYING:
                if row.get_key == key or self._expired(row):  # a retry of that gate, or one left behind
                    result = self._drive(row.id)
                    if row.get_key == key and result is not None:
                        return {**result, "key": key}
                    continue
                self._refuse_apply(tenant, row, f"object {name!r} has a logical gate being applied right now; "
                                                "try again once it completes")
            if row.state != ObjectState.STORED:
                self._refuse_apply(tenant, row, self._why_not(row))
            done = self._done_with_key(row.id, key)
            if done is not None:
                return done
            return self._begin(tenant, row, gate, qubits, key)
        self._refuse_apply(tenant, row, f"object {name!r} has a logical gate being applied right now")
        raise AssertionError("unreachable")

    @staticmethod
    def _why_not(row: Any) -> str:
        return {
            "retrieving": f"object {row.name!r} is being retrieved right now; no gate can be applied",
            "delivering": f"object {row.name!r} has been decrypted; its output waits for the client: no gate can be "
                          "applied",
            "retrieved": f"object {row.name!r} was retrieved: its clones and key are consumed",
            "deleted": f"object {row.name!r} was deleted",
            "storing": f"object {row.name!r} is being stored right now",
            "lost": f"object {row.name!r} is lost",
        }.get(row.state, f"object {row.name!r} is {row.state}")

    def _refuse_apply(self, tenant: Tenant, row: Any, reason: str) -> None:
        self._write_log(tenant.name, "apply.refused", tenant_id=tenant.id, object_id=row.id, object_name=row.name,
                        state=row.state, reason=reason)
        raise ConflictError(reason)

    def _done_with_key(self, object_id: str, key: str) -> dict[str, Any] | None:
        """The result of a completed gate of this object with idempotency key ``key``, or None."""
        with self.db.read() as conn:
            rows = conn.execute(select(audit_log.c.detail, audit_log.c.object_name).where(
                audit_log.c.object_id == object_id, audit_log.c.action == "apply")).all()
        for detail, name in rows:
            if detail.get("key") == key:
                return self._result(name, object_id, detail, complete=True, pending=[])
        return None

    def _begin(self, tenant: Tenant, row: Any, gate: Any, qubits: Any, key: str) -> dict[str, Any]:
        with self.db.read() as conn:
            prows = self._part_rows(conn, row.id)
            crows = self._clone_rows(conn, row.id)
            count = conn.execute(select(audit_log.c.id).where(audit_log.c.object_id == row.id,
                                                              audit_log.c.action == "apply")).all()
        if not prows:
            self._refuse_apply(tenant, row, f"object {row.name!r} was stored before placements named every holder; "
                                            "logical gates need every holder's part")
        lost = [f"clone {c['j']}" for c in crows if c["state"] != "live"] + \
               [f"the part of {p['holder_id']}" for p in prows if p["state"] != "live"]
        if lost:
            self._refuse_apply(tenant, row, f"object {row.name!r} has lost {', '.join(lost)}: a gate needs every "
                                            "holder's part")
        if len(count) >= MAX_GATES:
            self._refuse_apply(tenant, row, f"object {row.name!r} has had {MAX_GATES} logical gates, the most one "
                                            "object takes")
        gate_name, chosen, gates = _plan_gates(gate, row.k, row.n, qubits)
        op = uuid.uuid4().hex
        now = self._now()
        with self.db.write() as conn:
            won = conn.execute(transition(ObjectState.STORED, ObjectState.APPLYING, objects.c.id == row.id,
                                          objects.c.fence == row.fence, fence=objects.c.fence + 1, attempt=op,
                                          get_key=key, lease_until=_lease(self.lease_seconds))).rowcount
            if won:
                self._log(conn, now, tenant.name, "apply.begin", tenant_id=tenant.id, object_id=row.id,
                          object_name=row.name, gate=gate_name, qubits=chosen, op=op, key=key, gates=gates,
                          by=tenant.name)
        if not won:
            with self.db.read() as conn:
                current = self._object_row(conn, tenant, row.name)
            if current.state == ObjectState.APPLYING and current.get_key == key:
                result = self._drive(current.id)
                if result is not None:
                    return {**result, "key": key}
            self._refuse_apply(tenant, current, self._why_not(current) if current.state != ObjectState.APPLYING
                               else f"object {row.name!r} has a logical gate being applied right now")
        faults.crash_point("apply.claim")
        result = self._drive(row.id)
        if result is None:  # taken over and finished by another gateway meanwhile
            done = self._done_with_key(row.id, key)
            if done is None:
                raise ConflictError(f"object {row.name!r}: the gate was taken over meanwhile; apply again with the "
                                    "same key to see its result")
            return done
        return {**result, "key": key}

    def _intent(self, object_id: str, op: str) -> dict[str, Any] | None:
        """The ``apply.begin`` entry of op ``op`` (the durable intent)."""
        with self.db.read() as conn:
            rows = conn.execute(select(audit_log.c.detail).where(audit_log.c.object_id == object_id,
                                                                 audit_log.c.action == "apply.begin")
                                .order_by(audit_log.c.id.desc())).scalars().all()
        return next((d for d in rows if d.get("op") == op), None)

    def _drive(self, object_id: str) -> dict[str, Any] | None:
        """Run (or finish) the gate an ``applying`` object holds: steps 2-5 of the module doc, each
        idempotent. Returns the result, or None when the object is not applying any more."""
        with self.db.read() as conn:
            row = conn.execute(Q_OBJECT_BY_ID, {"b_id": object_id}).first()
            if row is None or row.state != ObjectState.APPLYING:
                return None
            prows = self._part_rows(conn, object_id)
            crows = self._clone_rows(conn, object_id)
        op = row.attempt
        intent = self._intent(object_id, op)
        if intent is None:  # no intent recorded: the claim's transaction wrote both, so this cannot be
            raise ConflictError(f"object {row.name!r}: the gate being applied has no record")
        gates: dict[str, str] = dict(intent["gates"])
        with self.db.write() as conn:  # this gateway drives it now: a fresh lease
            conn.execute(objects.update().where(objects.c.id == object_id, objects.c.attempt == op,
                                                objects.c.state == ObjectState.APPLYING.value)
                         .values(lease_until=_lease(self.lease_seconds)))
        records = self._holder_records([p["holder_id"] for p in prows])
        # 2. memory noise up to now on every qubit (before the gate); age() counts each qubit's time once
        elapsed = max(0.0, self._now() - row.stored_at)
        if elapsed > 0:
            for c in crows:
                if c["state"] == "live":
                    self.substrate.age(object_id, list(c["labels"]), elapsed, c["t1"], c["t2"])
            for p in prows:
                if p["state"] == "live":
                    self.substrate.age(object_id, list(p["labels"]), elapsed, *self._holder_times(p["holder_id"],
                                                                                                  records))
        faults.crash_point("apply.age")
        # 3. the substrate records the gate (every held qubit waits for its holder)
        status = self.substrate.apply(object_id, op, intent["gate"], gates, [], self.gate_error, None)
        faults.crash_point("apply.start")
        # 4. each holder's part: its record and signed receipt, then the substrate applies it once
        holders: list[tuple[str, Any, list[str]]] = []
        for p in prows:
            if p["state"] == "live":
                holders.append((p["holder_id"], lambda h=p["holder_id"]: self._holder_node(h, records), p["labels"]))
        for c in crows:
            if c["state"] == "live":
                holders.append((f"provider:{c['provider_id']}", lambda c=c: self._node(self._clone_provider(c)),
                                c["labels"]))
        for party, node_of, labels in holders:
            if status["complete"] or party in status["done"]:
                continue
            mine = {x: gates[x] for x in labels if x in gates}
            if not mine:
                continue
            try:
                receipt = node_of().apply(object_id, op, mine)
                faults.crash_point("apply.holder")
                status = self.substrate.apply(object_id, op, intent["gate"], gates, [party], self.gate_error,
                                              None if receipt is None else {party: receipt})
                faults.crash_point("apply.part")
            except NODE_ERRORS as e:  # a holder down: its part stays pending, the reconciler finishes it
                log.warning("logical gate %s on %s: %s's part deferred: %s", op, object_id, party, e)
        if not status["complete"]:
            return self._result(row.name, object_id, intent, complete=False, pending=status["pending"],
                                done=status["done"])
        # 5. finished: stored again, with the audit entry of the gate
        key_holders = sorted({p for p in status["done"] if not p.startswith("provider:")})
        with self.db.write() as conn:
            moved = conn.execute(transition(ObjectState.APPLYING, ObjectState.STORED, objects.c.id == object_id,
                                            objects.c.attempt == op, attempt=None, get_key=None,
                                            lease_until=None)).rowcount
            if moved:
                self._log(conn, self._now(), str(intent.get("by") or "system"), "apply",
                          tenant_id=row.tenant_id, object_id=object_id, object_name=row.name, gate=intent["gate"],
                          qubits=intent["qubits"], op=op, key=intent["key"], parties=status["done"],
                          key_holders=key_holders, gates_applied=status["gates_applied"])
        faults.crash_point("apply.finish")
        detail = {**intent, "parties": status["done"], "key_holders": key_holders,
                  "gates_applied": status["gates_applied"]}
        return self._result(row.name, object_id, detail, complete=True, pending=[])

    @staticmethod
    def _result(name: str, object_id: str, detail: Mapping[str, Any], *, complete: bool, pending: list[str],
                done: list[str] | None = None) -> dict[str, Any]:
        parties = list(detail.get("parties") or done or [])
        key_holders = sorted({p for p in parties if not str(p).startswith("provider:")})
        return {"name": name, "object_id": object_id, "gate": detail["gate"], "qubits": list(detail["qubits"]),
                "op": detail["op"], "key": detail["key"], "complete": complete, "done": sorted(parties),
                "pending": sorted(pending), "key_holders": key_holders,
                "note": KEY_HOLDER_NOTE if key_holders else None,
                "gates_applied": detail.get("gates_applied")}

    def logical_history(self, conn: Any, object_id: str) -> dict[str, Any]:
        """What ``stat`` shows of an object's logical gates (from the audit log, no node is asked):
        ``{"gates": [{"gate", "qubits", "at", "parties", "key_holders"}], "in_progress": None or
        {"gate", "qubits", "since"}, "note"}``."""
        rows = conn.execute(select(audit_log.c.action, audit_log.c.at, audit_log.c.detail).where(
            audit_log.c.object_id == object_id, audit_log.c.action.in_(("apply", "apply.begin")))
            .order_by(audit_log.c.id)).all()
        done = {r.detail.get("op") for r in rows if r.action == "apply"}
        gates = [{"gate": r.detail["gate"], "qubits": r.detail["qubits"], "at": r.at,
                  "parties": r.detail.get("parties", []), "key_holders": r.detail.get("key_holders", [])}
                 for r in rows if r.action == "apply"]
        progress = next(({"gate": r.detail["gate"], "qubits": r.detail["qubits"], "since": r.at}
                         for r in reversed(rows) if r.action == "apply.begin" and r.detail.get("op") not in done), None)
        return {"gates": gates, "in_progress": progress,
                "note": KEY_HOLDER_NOTE if any(g["key_holders"] for g in gates) else None}

    def finish_gates(self, *, expired_only: bool = True) -> int:
        """The reconciler's step: finish every gate whose lease ended (at start-up, ``expired_only``
        False: every one) with the holders that answer now. Returns how many were completed."""
        q = select(objects.c.id).where(objects.c.state == ObjectState.APPLYING.value)
        if expired_only:
            q = q.where(objects.c.lease_until <= _db_now())
        with self.db.read() as conn:
            rows = conn.execute(q).scalars().all()
        finished = 0
        for object_id in rows:
            try:
                result = self._drive(object_id)
            except RECOVERY_ERRORS as e:  # a component is down: next pass
                log.warning("logical gate on %s deferred: %s", object_id, e)
                continue
            if result is not None and result["complete"]:
                finished += 1
        return finished


def _db_now() -> Any:
    from qclone.storage.db import db_now

    return db_now()


def _lease(seconds: float) -> Any:
    return _db_now() + seconds

