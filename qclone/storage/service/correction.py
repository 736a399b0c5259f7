"""The retrieval mode of one get: which holders a corrected retrieval uses, and when it falls back.

A corrected retrieval asks every live holder for its release (the code's stabilizers are
measured among all their qubits, :mod:`qclone.storage.correction`); the rest of the get (claim,
releases, ageing, the one recovery, settle, audit, discard) is the plain get's, unchanged. When a
corrected retrieval would correct nothing it runs as the plain one (the fewest holders), and the
reason goes into the result and the audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qclone.protocol import Layout
from qclone.storage.correction import fallback_reason

__all__ = ["LEGACY_FALLBACK", "Retrieval", "widen"]

#: Why an object stored before holders released their parts is always decrypted plainly.
LEGACY_FALLBACK = ("the object was stored before every holder released its own part: only the vault's plain "
                   "decryption applies to it")


@dataclass
class Retrieval:
    """What a get was asked for (``requested``) and what it runs: ``corrected`` once :func:`widen`
    found the live holders enough, else plain with ``fallback`` (the reason) when a corrected one
    was asked for."""

    requested: str = "plain"
    corrected: bool = False
    fallback: str | None = None

    def substrate_args(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`~qclone.storage.substrate.Substrate.recover`."""
        if self.corrected:
            return {"retrieval": "corrected"}
        return {"fallback": self.fallback} if self.fallback is not None else {}

    def audit(self, out: Mapping[str, Any]) -> dict[str, Any]:
        """The audit entry's fields: the mode that ran and, for a fallback, its reason."""
        ran = "corrected" if self.corrected else "plain"
        return {"retrieval": ran, **({"fallback": self.fallback} if self.fallback is not None else {})}


def widen(mode: Retrieval, layout: Layout, holders: Mapping[str, Sequence[int]], alive: Sequence[str],
          fewest: Sequence[str], *, legacy: bool = False) -> Sequence[str]:
    """The holders a get uses: ``fewest`` (the plain choice) unless ``mode`` asks for a corrected
    retrieval and the live holders' qubits carry a stabilizer of every register qubit's code; then
    every live holder. Sets ``mode.corrected`` / ``mode.fallback``."""
    mode.corrected, mode.fallback = False, None
    if mode.requested != "corrected":
        return fewest
    if legacy:
        mode.fallback = LEGACY_FALLBACK
        return fewest
    live = [h for h in holders if h in set(alive)]
    why = fallback_reason(layout.k, layout.n, {q for h in live for q in holders[h]})
    if why is not None:
        mode.fallback = why
        return fewest
    mode.corrected = True
    return tuple(live)
