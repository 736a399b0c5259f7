"""A storage provider node: its own record of the clones it holds, its memory's T1/T2, its zone.

The clone qubits live in the substrate; a provider records which clone (object,
j, qubit labels, when it was stored) it holds. Records persist in
``<data_dir>/provider.sqlite3`` (in memory without a data dir).

Examples:
    >>> p = ProviderNode("p1", None, zone="eu", t1=100.0, t2=80.0)
    >>> p.store("obj", 2, ["S2_1"], 5.0)
    >>> p.holding("obj")
    {'clone': 2, 'labels': ['S2_1'], 'stored_at': 5.0}
    >>> p.health()["clones"]
    1
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from qclone.errors import InvalidArgumentError, is_int
from qclone.storage.errors import ConflictError, NotFoundError
from qclone.storage.localdb import LocalDB
from qclone.storage.vault import DEFAULT_T1, DEFAULT_T2, check_batch_ids, check_batch_rows, check_coherence

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clones (
    object_id TEXT PRIMARY KEY,
    clone INTEGER NOT NULL,
    labels TEXT NOT NULL,
    stored_at REAL NOT NULL
)
"""
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: Most records one :meth:`ProviderNode.records` page holds.
MAX_RECORDS_PAGE = 10_000


def check_provider_id(provider_id: str) -> str:
    """A provider id: 1-64 letters, digits, ``_``, ``.``, ``-``, starting with a letter or digit."""
    if not isinstance(provider_id, str) or not _ID.fullmatch(provider_id):
        raise InvalidArgumentError(f"a provider id is 1-64 letters, digits, '_', '.' or '-' (starting with a letter "
                                   f"or digit), got {provider_id!r}")
    return provider_id


class ProviderNode:
    """One provider (see the module docstring)."""

    def __init__(self, provider_id: str, data_dir: Path | str | None = None, *, zone: str = "default",
                 t1: float = DEFAULT_T1, t2: float = DEFAULT_T2, issuer: Any = None) -> None:
        """``issuer``: the provider node's :class:`~qclone.storage.rpc.keys.Identity`; with it,
        :meth:`release` returns a one-time release of its clone signed with it."""
        self.id = check_provider_id(provider_id)
        self._issuer = issuer
        if not isinstance(zone, str) or not zone.strip():
            raise InvalidArgumentError(f"a zone is a non-empty name, got {zone!r}")
        self.zone = zone.strip()
        self.t1, self.t2 = check_coherence(t1, t2)
        from qclone.storage.gates import GATE_TABLE

        self._db = LocalDB(data_dir, [_SCHEMA, GATE_TABLE], filename="provider.sqlite3")

    def store(self, object_id: str, clone: int, labels: list[str], stored_at: float) -> None:
        """Record that this provider holds clone ``clone`` of ``object_id`` (idempotent).

        Raises:
            ConflictError: if it already holds a different clone of that object.
        """
        labels = [str(x) for x in labels]
        while not self._db.execute("INSERT INTO clones VALUES (?, ?, ?, ?) ON CONFLICT (object_id) DO NOTHING",
                                   (object_id, int(clone), json.dumps(labels), float(stored_at))):
            rows = self._db.query("SELECT clone, labels FROM clones WHERE object_id = ?", (object_id,))
            if rows and (rows[0][0], json.loads(rows[0][1])) != (int(clone), labels):
                raise ConflictError(f"provider {self.id} already holds clone {rows[0][0]} of object {object_id}")
            if rows:
                return  # the same clone: nothing to do (else it was discarded meanwhile: insert again)

    def store_many(self, records: list[list]) -> None:
        """:meth:`store` of a batch in one transaction: ``records`` is a list of at most
        :data:`~qclone.storage.inputs.MAX_BATCH` ``[object_id, clone, labels, stored_at]``
        (idempotent; a clone held already must be the same).

        Raises:
            ConflictError: it already holds a different clone of one of them (nothing is written).
        """
        rows = check_batch_rows(records, 4, "records", "[object_id, clone, labels, stored_at]")
        try:
            want = {str(o): (int(j), json.dumps([str(x) for x in labels]), float(t)) for o, j, labels, t in rows}
        except (TypeError, ValueError):
            raise InvalidArgumentError("each record is [object_id, clone, labels, stored_at]") from None
        with self._db.tx() as c:
            before = c.total_changes
            c.executemany("INSERT INTO clones VALUES (?, ?, ?, ?) ON CONFLICT (object_id) DO NOTHING",
                          [(o, j, lab, t) for o, (j, lab, t) in want.items()])
            if c.total_changes - before == len(want):
                return  # every record is new: nothing to compare
            marks = ",".join("?" * len(want))
            for o, j, lab in c.execute(f"SELECT object_id, clone, labels FROM clones WHERE object_id IN ({marks})",
                                       list(want)).fetchall():
                if (j, lab) != want[o][:2] and (j, json.loads(lab)) != (want[o][0], json.loads(want[o][1])):
                    raise ConflictError(f"provider {self.id} already holds clone {j} of object {o}")

    def release(self, object_id: str, attempt: str) -> dict[str, Any] | None:
        """Release the clone of ``object_id`` to the retrieval ``attempt``: with an issuer, a one-time
        release signed by this node (the substrate recovers from its clone only with it; each is
        accepted once); else None.

        Raises:
            NotFoundError: it holds no clone of the object.
        """
        if self.holding(object_id) is None:
            raise NotFoundError(f"provider {self.id} holds no clone of object {object_id}")
        if self._issuer is None:
            return None
        from qclone.storage.rpc.keys import issue_grant

        return issue_grant(self._issuer, object_id, attempt)

    def discard(self, object_id: str) -> None:
        """Drop the clone of ``object_id`` (idempotent)."""
        self._db.delete_objects(("clones", "gates"), (object_id,))

    def discard_many(self, object_ids: list[str]) -> None:
        """:meth:`discard` of a batch of at most :data:`~qclone.storage.inputs.MAX_BATCH` objects,
        in one transaction (idempotent)."""
        self._db.delete_objects(("clones", "gates"), check_batch_ids(object_ids))

    def apply(self, object_id: str, op: str, gates: dict[str, str]) -> dict[str, Any] | None:
        """Its part of logical gate ``op``: the local gates ``gates`` (label -> name) on its clone's
        qubits, recorded once (:func:`qclone.storage.gates.record_gate`). With an issuer, returns a
        one-time receipt signed by this node for this object, gate and local gates (the substrate
        applies its part only with it); else None.

        Raises:
            NotFoundError: it holds no clone of the object. InvalidArgumentError: a qubit it does not
            hold. ConflictError: the gate was recorded with other local gates.
        """
        from qclone.storage.gates import record_gate

        held = self.holding(object_id)
        if held is None:
            raise NotFoundError(f"provider {self.id} holds no clone of object {object_id}")
        digest = record_gate(self._db, f"provider {self.id}", object_id, op, gates, list(held["labels"]))
        if self._issuer is None:
            return None
        from qclone.storage.rpc.keys import issue_grant

        return issue_grant(self._issuer, object_id, f"{op}:{digest}", purpose="apply")

    def holding(self, object_id: str) -> dict[str, Any] | None:
        """``{"clone", "labels", "stored_at"}`` of the clone of ``object_id`` held here, or None."""
        rows = self._db.query("SELECT clone, labels, stored_at FROM clones WHERE object_id = ?", (object_id,))
        if not rows:
            return None
        clone, labels, stored_at = rows[0]
        return {"clone": clone, "labels": json.loads(labels), "stored_at": stored_at}

    def records(self, after: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The clones held: ``{"object_id", "clone", "labels", "stored_at"}``, by object id; those
        after the object id ``after`` only, at most ``limit`` (1..:data:`MAX_RECORDS_PAGE`) of them
        (a page: the next one starts after the last id of this one); every one without ``limit``."""
        if after is not None and (not isinstance(after, str) or len(after) > 128):
            raise InvalidArgumentError("after is an object id")
        if limit is not None and (not is_int(limit) or not 1 <= limit <= MAX_RECORDS_PAGE):
            raise InvalidArgumentError(f"limit must be an integer in 1..{MAX_RECORDS_PAGE}")
        sql, params = "SELECT object_id, clone, labels, stored_at FROM clones", list[Any]()
        if after is not None:
            sql, params = sql + " WHERE object_id > ?", [after]
        sql += " ORDER BY object_id"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, int(limit)]
        rows = self._db.query(sql, tuple(params))
        return [{"object_id": o, "clone": j, "labels": json.loads(lab), "stored_at": t} for o, j, lab, t in rows]

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", "id", "zone", "t1", "t2", "clones": count}``."""
        count = self._db.query("SELECT count(*) FROM clones")[0][0]
        return {"status": "ok", "id": self.id, "zone": self.zone, "t1": self.t1, "t2": self.t2, "clones": count}

    def close(self) -> None:
        self._db.close()
