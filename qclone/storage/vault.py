"""The key vault: per object, which key qubits it holds for which tenant, and the key's state.

The key qubits themselves live in the substrate (as every quantum state does);
the vault is the party that holds them and decides who may use them. A key
goes ``held -> released(attempt) -> consumed`` during a retrieval, or back
``released(attempt) -> held`` (:meth:`KeyVault.restore`) when the decryption
never happened. Records persist in ``<data_dir>/vault.sqlite3`` (in memory
without a data dir). The memory of the vault decoheres with ``t1``/``t2``.

Examples:
    >>> v = KeyVault(None)
    >>> v.deposit("t1", "obj", ["N1_1", "N2_1"])
    >>> v.release("obj", "a1"); v.state("obj")["state"], v.state("obj")["attempt"]
    ('released', 'a1')
    >>> v.consume("obj", "a1"); v.state("obj")["state"]
    'consumed'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import ConflictError, NotFoundError
from qclone.storage.localdb import LocalDB

#: Default coherence times of the vault's memory (seconds).
DEFAULT_T1 = 3600.0
DEFAULT_T2 = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    object_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    labels TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('held', 'released', 'consumed')),
    attempt TEXT
)
"""


def check_batch_rows(rows: Any, width: int, what: str, shape: str) -> list[list]:
    """A node's batch argument checked: a list of 1..MAX_BATCH lists of ``width`` items, the
    first a distinct object id (a string)."""
    from qclone.storage.inputs import MAX_BATCH

    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_BATCH:
        raise InvalidArgumentError(f"{what} must be a list of 1..{MAX_BATCH} {shape}")
    seen = set()
    for row in rows:
        if not isinstance(row, list | tuple) or len(row) != width or not isinstance(row[0], str) \
                or not 0 < len(row[0]) <= 128 or not isinstance(row[-2 if width > 2 else 1], list):
            raise InvalidArgumentError(f"each of {what} is {shape}")
        if row[0] in seen:
            raise InvalidArgumentError(f"object {row[0]!r} appears twice in {what}")
        seen.add(row[0])
    return [list(r) for r in rows]


def check_batch_ids(object_ids: Any) -> list[str]:
    """A node's list of object ids checked: 1..MAX_BATCH strings of 1-128 characters."""
    from qclone.storage.inputs import MAX_BATCH

    if not isinstance(object_ids, list) or not 1 <= len(object_ids) <= MAX_BATCH \
            or not all(isinstance(o, str) and 0 < len(o) <= 128 for o in object_ids):
        raise InvalidArgumentError(f"object_ids must be a list of 1..{MAX_BATCH} object ids")
    return list(object_ids)


def check_coherence(t1: float, t2: float) -> tuple[float, float]:
    """Validated coherence times: finite, > 0 and T2 <= 2 T1."""
    try:
        t1, t2 = float(t1), float(t2)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"T1 and T2 must be numbers of seconds, got {t1!r}, {t2!r}") from None
    if not (0 < t1 < float("inf") and 0 < t2 < float("inf")):
        raise InvalidArgumentError(f"T1 and T2 must be finite and > 0 seconds, got T1 = {t1}, T2 = {t2}")
    if t2 > 2 * t1 * (1 + 1e-12):
        raise InvalidArgumentError(f"T2 = {t2} s exceeds 2 T1 = {2 * t1} s, which no physical memory allows")
    return t1, t2


class KeyVault:
    """The tenants' key vault (see the module docstring)."""

    def __init__(self, data_dir: Path | str | None = None, *, t1: float = DEFAULT_T1, t2: float = DEFAULT_T2,
                 issuer: Any = None) -> None:
        """``issuer``: the vault node's :class:`~qclone.storage.rpc.keys.Identity`; with it,
        :meth:`release` returns a decryption authorization signed with it (the substrate node
        decrypts only with one)."""
        self.t1, self.t2 = check_coherence(t1, t2)
        self._issuer = issuer
        from qclone.storage.gates import GATE_TABLE

        self._db = LocalDB(data_dir, [_SCHEMA, GATE_TABLE], filename="vault.sqlite3")

    def deposit(self, tenant: str, object_id: str, labels: list[str]) -> None:
        """Hold the key qubits ``labels`` of ``object_id`` for ``tenant`` (idempotent).

        Raises:
            ConflictError: if the object already has a different key here.
        """
        labels = [str(x) for x in labels]
        while not self._db.execute("INSERT INTO keys VALUES (?, ?, ?, 'held', NULL) ON CONFLICT (object_id) DO NOTHING",
                                   (object_id, tenant, json.dumps(labels))):
            rows = self._db.query("SELECT tenant, labels FROM keys WHERE object_id = ?", (object_id,))
            if rows and (rows[0][0], json.loads(rows[0][1])) != (tenant, labels):
                raise ConflictError(f"the vault already holds a different key for object {object_id}")
            if rows:
                return  # the same key: nothing to do (else it was destroyed meanwhile: insert again)

    def deposit_many(self, tenant: str, keys: list[list]) -> None:
        """:meth:`deposit` of a batch in one transaction: ``keys`` is a list of at most
        :data:`~qclone.storage.inputs.MAX_BATCH` ``[object_id, labels]`` (idempotent; a key held
        already must be the same).

        Raises:
            ConflictError: an object already has a different key here (nothing is written).
        """
        rows = check_batch_rows(keys, 2, "keys", "[object_id, labels]")
        want = {str(o): (str(tenant), json.dumps([str(x) for x in labels])) for o, labels in rows}
        with self._db.tx() as c:
            before = c.total_changes
            c.executemany("INSERT INTO keys VALUES (?, ?, ?, 'held', NULL) ON CONFLICT (object_id) DO NOTHING",
                          [(o, t, lab) for o, (t, lab) in want.items()])
            if c.total_changes - before == len(want):
                return  # every key is new: nothing to compare
            marks = ",".join("?" * len(want))
            for o, t, lab in c.execute(f"SELECT object_id, tenant, labels FROM keys WHERE object_id IN ({marks})",
                                       list(want)).fetchall():
                if (t, lab) != want[o] and (t, json.loads(lab)) != (want[o][0], json.loads(want[o][1])):
                    raise ConflictError(f"the vault already holds a different key for object {o}")

    def _move(self, object_id: str, attempt: str, allowed: dict[tuple[str, bool], str | None], verb: str) -> None:
        for (state, same), target in allowed.items():  # the transition, as one statement
            if target is not None and self._db.execute(
                    f"UPDATE keys SET state = ?, attempt = ? WHERE object_id = ? AND state = ? "
                    f"AND attempt IS {'' if same else 'NOT '}?",
                    (target, None if target == "held" else attempt, object_id, state, attempt)):
                return
        with self._db.tx() as c:  # no transition: a repeat (a no-op), or an error to explain
            row = c.execute("SELECT state, attempt FROM keys WHERE object_id = ?", (object_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"the vault holds no key for object {object_id}")
            state, held_for = row
            key = (state, held_for == attempt)
            if key not in allowed:
                shown = state if held_for is None else f"{state} (attempt {held_for})"
                raise ConflictError(f"cannot {verb} the key of object {object_id} for attempt {attempt}: it is {shown}")
            target = allowed[key]
            if target is not None:
                c.execute("UPDATE keys SET state = ?, attempt = ? WHERE object_id = ?",
                          (target, None if target == "held" else attempt, object_id))

    def release(self, object_id: str, attempt: str) -> dict[str, Any] | None:
        """``held -> released(attempt)``; releasing again for the same attempt is a no-op.

        Returns:
            With an issuer: the one-time authorization to decrypt ``object_id`` for ``attempt``
            (:func:`~qclone.storage.rpc.keys.issue_grant`; a fresh one on each call). Else None.

        Raises:
            NotFoundError: no key for the object. ConflictError: released for another attempt, or consumed.
        """
        self._move(object_id, attempt, {("held", False): "released", ("released", True): None}, "release")
        if self._issuer is None:
            return None
        from qclone.storage.rpc.keys import issue_grant

        return issue_grant(self._issuer, object_id, attempt)

    def consume(self, object_id: str, attempt: str) -> None:
        """``released(attempt) -> consumed`` (the decryption used the key); again for the same attempt: no-op."""
        self._move(object_id, attempt, {("released", True): "consumed", ("consumed", True): None}, "consume")

    def restore(self, object_id: str, attempt: str) -> None:
        """``released(attempt) -> held`` (the decryption never happened); a held key stays held."""
        self._move(object_id, attempt, {("released", True): "held", ("held", False): None}, "restore")

    def state(self, object_id: str) -> dict[str, Any] | None:
        """``{"tenant", "object_id", "labels", "state", "attempt"}`` of the object's key, or None."""
        rows = self._db.query("SELECT tenant, labels, state, attempt FROM keys WHERE object_id = ?", (object_id,))
        if not rows:
            return None
        tenant, labels, state, attempt = rows[0]
        return {"tenant": tenant, "object_id": object_id, "labels": json.loads(labels), "state": state, "attempt": attempt}

    def destroy(self, object_id: str) -> None:
        """Forget the object's key (idempotent)."""
        self._db.delete_objects(("keys", "gates"), (object_id,))

    def destroy_many(self, object_ids: list[str]) -> None:
        """:meth:`destroy` of a batch of at most :data:`~qclone.storage.inputs.MAX_BATCH` objects,
        in one transaction (idempotent)."""
        self._db.delete_objects(("keys", "gates"), check_batch_ids(object_ids))

    def apply(self, object_id: str, op: str, gates: dict[str, str]) -> dict[str, Any] | None:
        """Its part of logical gate ``op``: the local gates ``gates`` (label -> name) on the key
        qubits (or ``A``) it holds, recorded once (:func:`qclone.storage.gates.record_gate`); only
        while the key is held (not released to a retrieval, not consumed). It sees which gate is
        applied, never the state. With an issuer, returns a one-time receipt signed by this node
        (the substrate applies its part only with it); else None.

        Raises:
            NotFoundError: no key for the object. ConflictError: the key is released or consumed, or
            the gate was recorded with other local gates. InvalidArgumentError: a qubit it does not hold.
        """
        from qclone.storage.gates import record_gate

        key = self.state(object_id)
        if key is None:
            raise NotFoundError(f"the vault holds no key for object {object_id}")
        if key["state"] != "held":
            raise ConflictError(f"the key of object {object_id} is {key['state']}: no gate can be applied")
        digest = record_gate(self._db, "the vault", object_id, op, gates, list(key["labels"]))
        if self._issuer is None:
            return None
        from qclone.storage.rpc.keys import issue_grant

        return issue_grant(self._issuer, object_id, f"{op}:{digest}", purpose="apply")

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "keys": {state: count}, "t1", "t2"}``."""
        counts = dict(self._db.query("SELECT state, count(*) FROM keys GROUP BY state"))
        return {"status": "ok", "keys": {s: counts.get(s, 0) for s in ("held", "released", "consumed")},
                "t1": self.t1, "t2": self.t2}

    def close(self) -> None:
        self._db.close()
