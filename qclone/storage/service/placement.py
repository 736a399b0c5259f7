"""Placement: choosing providers for the clones, storing the clone records, the coalition audit."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from qclone.analysis.leakage import Placement, audit_placement
from qclone.errors import InvalidArgumentError
from qclone.storage.db import JSONDocument
from qclone.storage.errors import UnavailableError
from qclone.storage.models import providers
from qclone.storage.service.common import NODE_ERRORS, VAULT_PARTY, ServiceBase
from qclone.storage.service.statements import Q_UP

log = logging.getLogger(__name__)


def default_max_coalition(clones: int) -> int:
    """Largest coalition the placement audit examines: every coalition up to n = 6, pairs up to
    n = 16, single parties beyond (the audit always checks all clone holders together too)."""
    return clones + 1 if clones <= 6 else (2 if clones <= 16 else 1)


def today_keys(n: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The key holders of the ``today`` placement: the vault holds N_1..N_n."""
    return ((VAULT_PARTY, tuple(f"N{j}" for j in range(1, n + 1))),)


def object_keys(placement: Mapping[str, Any], n: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The key holders of an object from its ``placement`` column (``keys``: ``[[holder, [labels]],
    ...]``); objects stored before placements existed have their key at the vault."""
    keys = placement.get("keys")
    if not keys:
        return today_keys(n)
    return tuple((str(h), tuple(str(x) for x in labels)) for h, labels in keys)


@lru_cache(maxsize=512)
def placement_audit(n: int, k: int, holders: tuple[str, ...], max_coalition: int,
                    keys: tuple[tuple[str, tuple[str, ...]], ...] | None = None) -> tuple[dict, dict]:
    """(summary, full report) of the coalition audit of provider ``holders[j-1]`` holding S_j and
    the key holders ``keys`` (``(holder, register labels)``; default: the vault holding
    N_1..N_n, the input qubits A held by nobody). The intended coalitions are the placement's
    (:meth:`~qclone.storage.placements.ObjectPlacement.intended`); the summary's ``trades`` say
    in plain words what the placement trades."""
    from qclone.storage.placements import ObjectPlacement

    spot = ObjectPlacement("audit", n, today_keys(n) if keys is None else keys)
    # today's placement: the protocol's own access structure is what is intended (as named)
    intended = () if spot.keys == today_keys(n) else spot.intended(holders)
    placement = Placement(spot.parties(holders), intended, name="placement")
    report = audit_placement(n, placement, max_coalition=max_coalition, qubits=k)
    full = report.to_dict()
    summary = {
        "safe": report.safe,
        "complete": report.complete,
        "coalitions_examined": report.examined,
        "max_coalition": max_coalition,
        "learning": [{"coalition": list(f.coalition), "learns": f.learns, "intended": f.intended}
                     for f in report.findings if f.classification.kind == "partial" or not f.intended],
        "warnings": list(report.warnings),
        "notes": list(report.notes),
        "trades": spot.trades(),
    }
    return summary, full


@lru_cache(maxsize=512)
def audit_document(n: int, k: int, holders: tuple[str, ...], max_coalition: int,
                   keys: tuple[tuple[str, tuple[str, ...]], ...] | None = None) -> JSONDocument:
    """The ``audit`` column of an object placed so: ``{"summary", "report"}``, serialised once."""
    summary, full = placement_audit(n, k, holders, max_coalition, keys)
    return JSONDocument(summary=summary, report=full)



def pick_providers(up: list[dict[str, Any]], n: int, policy: str) -> list[dict[str, Any]]:
    """n providers for the clones of one object among those ``up``, at random (spreading the load),
    in distinct zones for ``distinct-zones``; clone j goes to the j-th by id.

    Raises:
        UnavailableError: too few providers (or zones) up.
    """
    if policy == "distinct-providers":
        if len(up) < n:
            raise UnavailableError(f"{n} clones need {n} providers that are up; {len(up)} are"
                                   f"{' (' + ', '.join(sorted(p['id'] for p in up)) + ')' if up else ''}")
        chosen = random.sample(up, n)
    else:
        zones: dict[str, list[dict[str, Any]]] = {}
        for p in up:
            zones.setdefault(p["zone"], []).append(p)
        if len(zones) < n:
            raise UnavailableError(f"{n} clones in distinct zones need {n} zones with a provider that is up; "
                                   f"{len(zones)} have one{' (' + ', '.join(sorted(zones)) + ')' if zones else ''}")
        chosen = [random.choice(zones[z]) for z in random.sample(sorted(zones), n)]
    return sorted(chosen, key=lambda p: p["id"])  # clone j at the j-th provider by id


class PlacementMixin(ServiceBase):
    def _choose_providers(self, conn: Any, n: int, policy: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float]:
        """(n providers for the clones, every provider that is up, the database's clock)."""
        rows = conn.execute(Q_UP).all()
        db_time = rows[0].db_now if rows else 0.0
        up = [self._provider_record(r) for r in rows]
        places = len(up) if policy == "distinct-providers" else len({p["zone"] for p in up})
        if places < n:  # more clones than the service has places at all: the request is wrong, not the service
            known = conn.execute(select(providers.c.id, providers.c.zone)).all()
            places = len(known) if policy == "distinct-providers" else len({r.zone for r in known})
            if n > places:
                raise InvalidArgumentError(f"{n} clones need {n} {'providers' if policy == 'distinct-providers' else 'zones'}"
                                           f"; this service has {places}")
        return pick_providers(up, n, policy), up, db_time

    def _place(self, object_id: str, info: Mapping[str, Any], chosen: list[dict[str, Any]], up: list[dict[str, Any]],
               policy: str, now: float, placed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store clone j's record at provider j; a provider that fails is replaced by another up
        provider that fits the policy (once per failure). Returns the final providers."""
        final = list(chosen)
        spare = [p for p in up if p["id"] not in {c["id"] for c in chosen}]
        random.shuffle(spare)
        for j in range(1, len(final) + 1):
            while True:
                p = final[j - 1]
                try:
                    self._node(p).store(object_id, j, list(info["clone_qubits"][str(j)]), now)
                    placed.append(p)
                    break
                except NODE_ERRORS as e:  # try another provider
                    log.warning("provider %s cannot store clone %d of %s: %s", p["id"], j, object_id, e)
                    zones = {q["zone"] for i, q in enumerate(final) if i != j - 1}
                    fits = [q for q in spare if policy != "distinct-zones" or q["zone"] not in zones]
                    if not fits:
                        raise UnavailableError(f"provider {p['id']} cannot store a clone ({e}) and no other provider "
                                               "that is up can take it") from None
                    final[j - 1] = fits[0]
                    spare.remove(fits[0])
        return final

