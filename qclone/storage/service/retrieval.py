"""Retrieval: the steps of a get, delivery of an interrupted retrieval's output, rollback."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import or_, select, update

from qclone.storage import faults
from qclone.storage.errors import ConflictError, NotFoundError, UnavailableError
from qclone.storage.models import clones as clone_table
from qclone.storage.models import objects
from qclone.storage.service.common import (
    ALIVE,
    NODE_ERRORS,
    RECOVERY_ERRORS,
    ServiceBase,
    Tenant,
    check_name,
    check_sampling,
    state_summary,
)
from qclone.storage.service.statements import CLAIM, DISCARD_CLONES, FINISH
from qclone.storage.states import ObjectState, transition
from qclone.storage.wire import decode_array

log = logging.getLogger(__name__)


class RetrievalMixin(ServiceBase):
    def get(self, tenant: Tenant, name: str, *, basis: str | None = None, shots: int | None = None,
            seed: int | None = None) -> dict[str, Any]:
        """Retrieve a state, once: decrypt one live clone with the key (consumed) and discard the rest.

        Args:
            basis, shots, seed: also measure the output ``shots`` times in basis X, Y or Z.

        Returns:
            ``{"name", "object_id", "qubits", "clones", "clone", "provider", "attempt", "density_matrix"
            (numpy array), "bloch" (per qubit), "purity", "maximally_mixed", "fidelity" (None without a kept
            reference), "elapsed" (seconds stored), "basis", "shots", "samples" (None without a basis),
            "recovered" (True when the output of an interrupted retrieval is delivered)}``.

        Raises:
            NotFoundError: no such object. ConflictError: already retrieved, being retrieved, deleted or
            lost. UnavailableError: no provider holding a live clone is up, or the vault/substrate is down.
        """
        name = check_name(name)
        basis, shots, seed = check_sampling(basis, shots, seed)  # before anything is decrypted
        for _ in range(3):
            now = self._now()
            with self.db.fast_read() as conn:
                row = self._object_row(conn, tenant, name)
                crows = self._clone_rows(conn, row.id) if row.state == "stored" else []
            if row.state == "stored":
                return self._retrieve(tenant, row, crows, now, basis, shots, seed)
            if row.state == "retrieving" and row.lease_until is not None and row.lease_until <= now:
                self._recover_object(row.id)
                continue
            if row.state == "retrieved" and (row.lease_until is None or row.lease_until <= now):
                delivered = self._deliver_pending(tenant, row, now, basis, shots, seed)
                if delivered is not None:
                    return delivered
            break
        self._refuse(tenant, row)
        raise AssertionError("unreachable")

    def _refuse(self, tenant: Tenant, row: Any) -> None:
        reason = {
            "retrieving": f"object {row.name!r} is being retrieved right now; a state can be retrieved only once",
            "retrieved": f"object {row.name!r} was already retrieved: decryption consumed its key, so it cannot be "
                         "retrieved again",
            "deleted": f"object {row.name!r} was deleted",
            "storing": f"object {row.name!r} is being stored right now",
            "lost": f"object {row.name!r} is lost: no live clone of it is left",
        }.get(row.state, f"object {row.name!r} is {row.state}")
        self._write_log(tenant.name, "get.refused", tenant_id=tenant.id, object_id=row.id, object_name=row.name,
                        state=row.state)
        raise ConflictError(reason)

    def _retrieve(self, tenant: Tenant, row: Any, crows: list[dict[str, Any]], now: float, basis: str | None,
                  shots: int | None, seed: int | None) -> dict[str, Any]:
        object_id = row.id
        live = [c for c in crows if c["state"] == "live"]
        candidates = [c for c in live if c["provider_state"] in ALIVE]
        if not live:
            self._mark_lost(object_id, "no live clone left")
            raise ConflictError(f"object {row.name!r} is lost: no live clone of it is left")
        random.shuffle(candidates)
        candidates.sort(key=lambda c: c["provider_state"] != "up")
        chosen = None
        for c in candidates:
            record = {"id": c["provider_id"], "name": c["name"], "zone": c["zone"], "url": c["url"],
                      "state": c["provider_state"], "t1": c["t1"], "t2": c["t2"],
                      "public_key": c["public_key"]}
            try:
                held = self._node(record).holding(object_id)
            except NODE_ERRORS as e:  # an unreachable provider is skipped
                log.warning("provider %s unreachable for %s: %s", c["provider_id"], object_id, e)
                continue
            if held is not None and int(held["clone"]) == c["j"]:
                chosen = c
                break
        if chosen is None:
            # a concurrent get may have won meanwhile (and told every provider to discard): then the
            # refusal is that one's (409), not unavailability
            with self.db.read() as conn:
                current = self._object_row(conn, tenant, row.name)
            if current.state != "stored":
                self._refuse(tenant, current)
            self._write_log(tenant.name, "get.unavailable", tenant_id=tenant.id, object_id=object_id,
                            object_name=row.name, live_clones=len(live))
            raise UnavailableError(f"object {row.name!r}: no provider holding one of its {len(live)} live clone(s) "
                                   f"is reachable ({', '.join(sorted(c['provider_id'] for c in live))}); try again later")
        attempt = uuid.uuid4().hex
        # 1. claim: the one compare-and-set that lets exactly one get through
        with self.db.fast_write() as conn:
            won = conn.execute(CLAIM, {"b_id": object_id, "b_attempt": attempt, "b_lease": now + self.lease_seconds,
                                        "b_clone": chosen["j"]}).rowcount
        if won != 1:
            with self.db.read() as conn:
                row = self._object_row(conn, tenant, row.name)
            self._refuse(tenant, row)
        faults.crash_point("get.claim")
        key_labels = row.placement["key"]["labels"]
        released = False
        try:
            # 2. the vault releases the key to this attempt
            grant = self.vault.release(object_id, attempt)  # the vault's one-time authorization (or None)
            released = True
            faults.crash_point("get.release")
            # 3. memory noise for the whole storage time (age() counts each qubit's time once)
            elapsed = max(0.0, now - row.stored_at)
            if elapsed > 0:
                self.substrate.age(object_id, list(chosen["labels"]), elapsed, chosen["t1"], chosen["t2"])
                self.substrate.age(object_id, list(key_labels), elapsed, *self._vault_times())
            faults.crash_point("get.age")
        except Exception as e:
            # a release that never reached the vault (breaker open, refused) left the key held
            self._rollback(object_id, attempt, restore_key=released or not getattr(e, "unsent", False))
            raise
        # 4. the one decryption (consumes the joint state)
        try:
            out = self.substrate.decrypt(object_id, chosen["j"], attempt, grant)
        except Exception:
            self._recover_quietly(object_id)
            raise
        faults.crash_point("get.decrypt")
        # 5. the key is consumed; 6. the object is retrieved (+ audit); 7. the other providers discard
        try:
            self.vault.consume(object_id, attempt)
        except UnavailableError as e:
            raise UnavailableError(f"object {row.name!r} was decrypted but the vault cannot confirm it now ({e}); "
                                   "get it again once the vault is back to receive the output") from None
        faults.crash_point("get.consume")
        self._finish(object_id, attempt, tenant.name, tenant.id, row.name, chosen["j"], chosen["provider_id"],
                     elapsed, lease_until=now + self.lease_seconds)
        faults.crash_point("get.finish")
        self._discard_clones(object_id, crows)
        faults.crash_point("get.discard")
        # 8. the output is returned and released
        result = self._output(row, out, chosen["provider_id"], elapsed, basis, shots, seed, recovered=False)
        faults.crash_point("get.deliver")
        self.substrate.release(object_id)
        return result

    def _output(self, row: Any, out: Mapping[str, Any], provider_id: str | None, elapsed: float | None,
                basis: str | None, shots: int | None, seed: int | None, *, recovered: bool) -> dict[str, Any]:
        rho = decode_array(out["density_matrix"], name="output") if isinstance(out["density_matrix"], (dict, list)) \
            else np.asarray(out["density_matrix"], dtype=complex)
        samples = None
        if basis is not None:
            samples = self.substrate.sample(row.id, basis, shots, seed)
        return {"name": row.name, "object_id": row.id, "qubits": row.k, "clones": row.n, "clone": int(out["clone"]),
                "provider": provider_id, "attempt": out["attempt"], **state_summary(rho),
                "fidelity": out.get("fidelity"), "elapsed": elapsed, "basis": basis,
                "shots": shots if basis is not None else None, "samples": samples, "recovered": recovered}

    def _finish(self, object_id: str, attempt: str, actor: str, tenant_id: str | None, name: str, j: int,
                provider_id: str | None, elapsed: float | None, *, lease_until: float | None, action: str = "get") -> bool:
        """Step 6: retrieving -> retrieved, clone records discarded (pending where the provider is down), audit."""
        now = self._now()
        with self.db.fast_write() as conn:
            done = conn.execute(FINISH, {"b_id": object_id, "b_attempt": attempt, "b_now": now,
                                          "b_lease": lease_until}).rowcount
            if done != 1:
                return False
            conn.execute(DISCARD_CLONES, {"b_id": object_id})
            self._log(conn, now, actor, action, tenant_id=tenant_id, object_id=object_id, object_name=name,
                      clone=j, provider=provider_id, attempt=attempt, elapsed=elapsed)
        return True

    def _discard_clones(self, object_id: str, crows: list[dict[str, Any]]) -> None:
        """Step 7: tell every provider that held a clone to discard it; remember the ones that missed it."""
        failed = []
        for c in crows:
            if c["state"] != "live" or c["provider_state"] not in ALIVE:
                continue
            record = {"id": c["provider_id"], "name": c["name"], "zone": c["zone"], "url": c["url"],
                      "state": c["provider_state"], "t1": c["t1"], "t2": c["t2"],
                      "public_key": c["public_key"]}
            if not self._tell_discard(record, object_id):
                failed.append(c["provider_id"])
        if failed:
            with self.db.write() as conn:
                conn.execute(update(clone_table).where(clone_table.c.object_id == object_id, clone_table.c.provider_id.in_(failed))
                             .values(discard_pending=True))

    def _deliver_pending(self, tenant: Tenant, row: Any, now: float, basis: str | None, shots: int | None,
                         seed: int | None) -> dict[str, Any] | None:
        """The output of a retrieval that a crash interrupted after the decryption, delivered once."""
        out = self.substrate.output(row.id)
        if out is None or out.get("attempt") != row.attempt:
            return None
        with self.db.write() as conn:
            won = conn.execute(update(objects).where(
                objects.c.id == row.id, objects.c.state == "retrieved", objects.c.attempt == row.attempt,
                or_(objects.c.lease_until.is_(None), objects.c.lease_until <= now))
                .values(lease_until=now + self.lease_seconds)).rowcount
            if won == 1:
                self._log(conn, now, tenant.name, "get.deliver", tenant_id=tenant.id, object_id=row.id,
                          object_name=row.name, attempt=row.attempt)
        if won != 1:
            return None
        provider = None
        with self.db.read() as conn:
            provider = conn.execute(select(clone_table.c.provider_id).where(clone_table.c.object_id == row.id,
                                                                      clone_table.c.j == out["clone"])).scalar()
        result = self._output(row, out, provider, None, basis, shots, seed, recovered=True)
        faults.crash_point("get.deliver")
        self.substrate.release(row.id)
        return result

    def _rollback(self, object_id: str, attempt: str, *, restore_key: bool = True) -> None:
        """Undo a claim whose decryption never happened: the key back to held (unless ``restore_key``
        is False: it was never released), the object back to stored."""
        try:
            if restore_key:
                self.vault.restore(object_id, attempt)
        except NotFoundError:
            pass
        except NODE_ERRORS as e:  # leave the object retrieving: recovery finishes the rollback
            log.warning("rollback of %s: vault: %s", object_id, e)
            return
        with self.db.write() as conn:
            undone = conn.execute(transition(ObjectState.RETRIEVING, ObjectState.STORED, objects.c.id == object_id,
                                             objects.c.attempt == attempt, attempt=None, lease_until=None,
                                             chosen_clone=None)).rowcount
            if undone:
                self._log(conn, self._now(), "system", "get.rollback", object_id=object_id, attempt=attempt)

    def _recover_quietly(self, object_id: str) -> None:
        try:
            self._recover_object(object_id)
        except RECOVERY_ERRORS as e:  # recovery runs again at the next start or lease expiry
            log.warning("recovery of %s deferred: %s", object_id, e)

    def _mark_lost(self, object_id: str, reason: str) -> None:
        with self.db.write() as conn:
            row = conn.execute(select(objects.c.tenant_id, objects.c.name).where(objects.c.id == object_id)).first()
            lost = conn.execute(transition(ObjectState.STORED, ObjectState.LOST, objects.c.id == object_id,
                                           finished_at=self._now(), purge_pending=True)).rowcount
            if lost:
                self._log(conn, self._now(), "system", "object.lost", tenant_id=row.tenant_id, object_id=object_id,
                          object_name=row.name, reason=reason)
        if lost:
            self._purge_object(object_id)

