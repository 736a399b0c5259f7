"""Object states and the allowed transitions, in one place.

Every change of an object's state in the metadata database is an ``UPDATE``
built by :func:`transition`, which refuses a move the table below does not
allow; ``tests/storage/test_states.py`` checks that the service changes an
object's state nowhere else. The compare-and-set is the ``WHERE state = ...``
clause: of two concurrent moves out of one state, exactly one matches a row.

Examples:
    >>> ObjectState.STORED.can_go_to(ObjectState.RETRIEVING)
    True
    >>> ObjectState.DELIVERING.can_go_to(ObjectState.STORED)
    False
    >>> print(transition(ObjectState.STORED, ObjectState.LOST, finished_at=1.0))  # doctest: +NORMALIZE_WHITESPACE
    UPDATE objects SET state=:state, finished_at=:finished_at WHERE objects.state = :state_1
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import Update, update

from qclone.storage.models import objects


class ObjectState(str, Enum):
    """The state of a stored object (the ``objects.state`` column holds the value)."""

    #: a put holds the name (with a lease) while the substrate, vault and providers do their parts
    STORING = "storing"
    #: n clones at providers, the key held in the vault
    STORED = "stored"
    #: one get holds the object (attempt, fence, lease, chosen clone)
    RETRIEVING = "retrieving"
    #: a logical gate is being applied by the holders (its op in ``attempt``, fence, lease)
    APPLYING = "applying"
    #: decrypted once (the key consumed, the clones discarded); the output waits in the substrate
    #: until the client acknowledges it or its retention ends
    DELIVERING = "delivering"
    #: delivered and acknowledged; the output released
    RETRIEVED = "retrieved"
    #: no live clone (or no key, or no output) is left
    LOST = "lost"
    #: clones, key and joint state destroyed by the tenant
    DELETED = "deleted"

    def can_go_to(self, other: ObjectState) -> bool:
        return other in TRANSITIONS[self]

    def __str__(self) -> str:
        return self.value


S = ObjectState
#: state -> the states it may move to (a put that never committed is removed, not moved).
TRANSITIONS: dict[ObjectState, frozenset[ObjectState]] = {
    S.STORING: frozenset({S.STORED}),
    S.STORED: frozenset({S.RETRIEVING, S.APPLYING, S.LOST, S.DELETED}),
    S.APPLYING: frozenset({S.STORED, S.LOST}),
    S.RETRIEVING: frozenset({S.DELIVERING, S.STORED, S.LOST}),
    S.DELIVERING: frozenset({S.RETRIEVED, S.LOST}),
    S.RETRIEVED: frozenset(),
    S.LOST: frozenset({S.DELETED}),
    S.DELETED: frozenset(),
}
del S


class TransitionError(ValueError):
    """A move the state machine does not allow (a programming error, never a client's)."""


def check(source: ObjectState, target: ObjectState) -> None:
    """Raise :class:`TransitionError` unless ``source -> target`` is allowed."""
    if not ObjectState(source).can_go_to(ObjectState(target)):
        raise TransitionError(f"an object cannot go from {source} to {target}")


def transition(source: ObjectState | tuple[ObjectState, ...], target: ObjectState, *where: Any,
               **values: Any) -> Update:
    """``UPDATE objects SET state = target, **values WHERE state IN source AND *where``.

    ``source`` is one state or several (each must be allowed to go to ``target``); ``where``
    adds conditions (the object id, the attempt, a fence), ``values`` the other columns to set
    (SQLAlchemy values or ``bindparam``s).
    """
    sources = source if isinstance(source, tuple) else (source,)
    for s in sources:
        check(s, target)
    state_is = objects.c.state == sources[0].value if len(sources) == 1 else \
        objects.c.state.in_([s.value for s in sources])
    return update(objects).where(state_is, *where).values(state=target.value, **values)


__all__ = ["TRANSITIONS", "ObjectState", "TransitionError", "check", "transition"]
