"""Placement planner and the side-by-side comparison with threshold quantum secret sharing.

:func:`plan` searches placements of the encrypted state (n clones; where A,
each S_j and each N_j go) over a failure model's parties, keeps those that
meet the trust requirement (every coalition of up to c parties, and every
named coalition, learns nothing) within a qubit budget, and returns the
Pareto front of durability against qubits stored, durability exact
(:func:`qclone.analysis.resilience.exact_durability`; the Monte Carlo with a
Wilson interval beyond its limit). Every placement on the front is then
audited again with the coalition audit
(:func:`qclone.analysis.leakage.audit_placement`) and gets its fidelity after
the storage time (:func:`qclone.analysis.durability.retrieved_fidelity`,
clone and key memories as their holders' T1/T2).

Candidates. Providers with the same failure probability, zone and memory are
interchangeable, so a candidate chooses how many clones go to each such class
(not which provider), then where the key goes (one vault of each class; split
over every choice of v = 2 … vaults up to the same interchangeability, in
contiguous blocks as the service's ``split-key:V`` or round-robin, N_j to the
((j − 1) mod v)-th; or N_j beside S_j,
"paired") and where A goes (discarded, or a custodian of each class). The
front is optimal within this family; other assignments (a vault holding some
clones, a provider holding two) are evaluated by giving the placement itself
to :func:`qclone.analysis.resilience.exact_durability`.

:func:`compare` puts the alternatives on one failure model: a single stored
copy; encrypted cloning with the vault, with keep-A, with a split key; the
((3, 5)) scheme of the [[5, 1, 3]] code and the qutrit ((2, 3)) scheme
(optionally any ((k, 2k − 1)) polynomial code). Storage providers are spread
round-robin over the zones; vaults and the custodian fail independently.

Examples:
    >>> r = compare(clones=2, failure_rate=0.1, vault_failure_rate=0.01)
    >>> [(row["scheme"], row["secrecy"], row["needed"]) for row in r["rows"]][:3]
    [('single copy', 0, 1), ('encrypted, vault', 1, 2), ('encrypted, keep-A', 1, 2)]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qclone.analysis.durability import retrieved_fidelity, single_copy_fidelity
from qclone.analysis.leakage import Placement, audit_placement, builtin_placement, is_builtin_name, placement_from_option, protocol_analyzer
from qclone.analysis.leakage.audit import MAX_REGISTER_QUBITS
from qclone.analysis.plot import clone_axis, plot_paths, save_figure
from qclone.analysis.resilience import (
    MAX_SAMPLES,
    MAX_TABLE_CLONES,
    FailureModel,
    Party,
    Scheme,
    coalition_information,
    encrypted_scheme,
    exact_durability,
    max_secret_coalition,
    min_recovering_coalition,
    monte_carlo_durability,
    threshold_scheme,
)
from qclone.analysis.secret_sharing import depolarizing_errors, five_qubit_code, pauli_errors, polynomial_code
from qclone.errors import InvalidArgumentError, TooLargeError, check_int, is_int
from qclone.sim.noise import twirled_relaxation

__all__ = ["MAX_CANDIDATES", "MAX_EXPECTED_CLONES", "Trust", "candidate_placements", "compare", "evaluate",
           "expected_fidelities", "front_figure", "placement_on_model", "plan", "plot_front"]

#: Most candidate placements one plan evaluates.
MAX_CANDIDATES = 200_000
#: Monte Carlo samples when a placement is beyond the exact limit.
DEFAULT_SAMPLES = 1_000_000


@dataclass(frozen=True)
class Trust:
    """Which coalitions must learn nothing: every coalition of up to ``max_coalition`` parties, and ``coalitions``."""

    max_coalition: int = 1
    coalitions: tuple[frozenset[str], ...] = ()

    @classmethod
    def from_dict(cls, data: Any, model: FailureModel) -> Trust:
        if data is None:
            return cls()
        if not isinstance(data, Mapping) or set(map(str, data)) - {"max_coalition", "coalitions"}:
            raise InvalidArgumentError("'trust' has keys max_coalition (an integer >= 0) and coalitions (lists of party names)")
        c = data.get("max_coalition", 1)
        if not is_int(c) or not 0 <= c <= len(model.parties):
            raise InvalidArgumentError(f"trust: max_coalition must be an integer in 0..{len(model.parties)}, got {c!r}")
        groups = data.get("coalitions") or []
        if not isinstance(groups, list) or len(groups) > 1000:
            raise InvalidArgumentError("trust: coalitions is a list (at most 1000) of lists of party names")
        out = []
        for g in groups:
            if not isinstance(g, list) or not g:
                raise InvalidArgumentError(f"trust: a coalition is a non-empty list of party names, got {g!r}")
            for name in g:
                model.index(str(name))
            out.append(frozenset(map(str, g)))
        return cls(int(c), tuple(out))

    def to_dict(self) -> dict[str, Any]:
        return {"max_coalition": self.max_coalition, "coalitions": [sorted(c) for c in self.coalitions]}


def _klass(p: Party) -> tuple[float, str | None, float | None, float | None]:
    return (p.failure, p.zone, p.t1, p.t2)


def _classes(parties: Sequence[Party]) -> list[list[Party]]:
    groups: dict[tuple[float, str | None, float | None, float | None], list[Party]] = {}
    for p in parties:
        groups.setdefault(_klass(p), []).append(p)
    return list(groups.values())


def _compositions(n: int, limits: Sequence[int]) -> Iterable[tuple[int, ...]]:
    if not limits:
        if n == 0:
            yield ()
        return
    for first in range(min(n, limits[0]), -1, -1):
        for rest in _compositions(n - first, limits[1:]):
            yield (first, *rest)


def _blocks(n: int, vaults: Sequence[str]) -> list[str]:
    """The holder of each N_j when the key is split in contiguous blocks (as the service's ``split-key:V``)."""
    v = len(vaults)
    return [vaults[i] for i in range(v) for _ in range(i * n // v + 1, (i + 1) * n // v + 1)]


def candidate_placements(model: FailureModel, budget: int) -> Iterable[tuple[int, Placement]]:
    """``(n, placement)`` for every candidate within ``budget`` stored qubits (see the module docstring)."""
    providers = _classes(model.of_kind("provider"))
    vaults = sorted(model.of_kind("vault"), key=lambda p: (p.failure, p.name))
    vault_classes = _classes(vaults)
    custodians = [None, *(c[0].name for c in _classes(model.of_kind("custodian")))]
    most = min(sum(len(c) for c in providers), budget // 2, MAX_TABLE_CLONES)
    for n in range(1, most + 1):
        for counts in _compositions(n, [len(c) for c in providers]):
            clone_holders = [p.name for c, k in zip(providers, counts) for p in c[:k]]
            keys: list[tuple[str, list[str]]] = [(f"vault {c[0].name}", [c[0].name] * n) for c in vault_classes]
            for v in range(2, min(len(vaults), n) + 1):
                for picks in _compositions(v, [len(c) for c in vault_classes]):
                    chosen = [p.name for c, k in zip(vault_classes, picks) for p in c[:k]]
                    blocks = _blocks(n, chosen)
                    keys.append((f"key split over {', '.join(chosen)} in blocks", blocks))
                    cyclic = [chosen[(j - 1) % v] for j in range(1, n + 1)]
                    if cyclic != blocks:
                        keys.append((f"key split over {', '.join(chosen)} round-robin", cyclic))
            keys.append(("paired", clone_holders))
            for (key_name, key_holders), a_holder in itertools.product(keys, custodians):
                if 2 * n + (a_holder is not None) > budget:
                    continue
                parties: dict[str, list[str]] = {}
                for j, (s, k) in enumerate(zip(clone_holders, key_holders), start=1):
                    parties.setdefault(s, []).append(f"S{j}")
                    parties.setdefault(k, []).append(f"N{j}")
                if a_holder is not None:
                    parties.setdefault(a_holder, []).append("A")
                name = f"n={n}, {key_name}" + (f", A at {a_holder}" if a_holder else ", A discarded")
                yield n, Placement({p: frozenset(q) for p, q in parties.items()}, name=name).resolve(n)


#: Most coalitions one candidate's secrecy check examines.
MAX_SECRECY_CHECKS = 100_000


def _secret(scheme: Scheme, model: FailureModel, trust: Trust) -> bool:
    """Whether every coalition of up to c holders, and every named coalition, learns nothing.

    What a coalition learns only grows with its qubits, so coalitions of exactly
    min(c, holders) parties decide the first part.
    """
    holders = scheme.holders
    size = min(trust.max_coalition, len(holders))
    if math.comb(len(holders), size) > MAX_SECRECY_CHECKS:
        raise TooLargeError(f"checking every coalition of {size} of {len(holders)} parties exceeds "
                            f"{MAX_SECRECY_CHECKS} coalitions; lower max_coalition")
    if size and any(coalition_information(scheme, c) for c in itertools.combinations(holders, size)):
        return False
    return all(not coalition_information(scheme, [model.index(p) for p in group]) for group in trust.coalitions)


def _fidelity(model: FailureModel, n: int, placement: Placement, storage_time: float, t1: float, t2: float,
              qubits: int) -> dict[str, Any]:
    def memory(name: str | None) -> tuple[float, float]:
        p = model.parties[model.index(name)] if name else None
        return (p.t1 or t1, p.t2 or t2) if p else (t1, t2)

    keys = [memory(placement.holder_of(f"N{j}")) for j in range(1, n + 1)]
    best: dict[str, Any] | None = None
    seen: set[tuple[float, float]] = set()
    for j in range(1, n + 1):
        mem = memory(placement.holder_of(f"S{j}"))
        if mem in seen:
            continue
        seen.add(mem)
        f = retrieved_fidelity(qubits, n, storage_time, mem[0], mem[1], key_t1=[k[0] for k in keys],
                               key_t2=[k[1] for k in keys], decrypt=j)
        if best is None or f["average_fidelity"] > best["average_fidelity"]:
            best = {**f, "decrypted_clone": j}
    if best is None:  # pragma: no cover - n >= 1 clones always give one
        raise RuntimeError("internal error: no clone to decrypt")
    return best


def _durability(scheme: Scheme, model: FailureModel, samples: int, seed: int | None) -> dict[str, Any]:
    try:
        return {"durability": exact_durability(scheme, model), "method": "exact"}
    except TooLargeError:
        mc = monte_carlo_durability(scheme, model, samples, seed=seed)
        return {"durability": mc["durability"], "method": "monte carlo", "ci": mc["ci"], "samples": mc["samples"]}


def plan(model: FailureModel, trust: Trust, budget: int, *, storage_time: float | None = None, t1: float = 3600.0,
         t2: float = 3600.0, qubits: int = 1, samples: int = DEFAULT_SAMPLES, seed: int | None = None,
         progress: Callable[[float, float | None], None] | None = None) -> dict[str, Any]:
    """The Pareto front of durability against stored qubits under the trust requirement (see the module docstring).

    ``progress(done, None)`` is called every 256 candidates and at the end, if given.

    Returns:
        A JSON-ready dict: ``front`` (placements, fewest qubits first: n, qubits, parties, durability,
        loss, method, placement, audit, fidelity), ``best`` (the most durable), ``evaluated``,
        ``rejected_secrecy``, ``trust``, ``budget``.

    Raises:
        InvalidArgumentError: for a bad budget or a model without providers or vaults/keys.
        TooLargeError: above :data:`MAX_CANDIDATES` candidates.
    """
    b = check_int(budget, "qubit budget", 2, 4 * MAX_TABLE_CLONES + 1)
    check_int(qubits, "qubits", 1, MAX_REGISTER_QUBITS)
    check_int(samples, "samples", 1, MAX_SAMPLES)
    if not model.of_kind("provider"):
        raise InvalidArgumentError("the model has no party of kind 'provider' to hold clones")
    if storage_time is not None:
        twirled_relaxation(storage_time, t1, t2)  # validates
    best_at: dict[int, tuple[float, int, int, Placement, Scheme, dict[str, Any]]] = {}
    evaluated = rejected = 0
    for n, placement in candidate_placements(model, b):
        evaluated += 1
        if progress is not None and evaluated % 256 == 0:
            progress(evaluated, None)
        if evaluated > MAX_CANDIDATES:
            raise TooLargeError(f"more than {MAX_CANDIDATES} candidate placements; lower the budget or give "
                                "interchangeable providers the same failure probability, zone and memory")
        scheme = encrypted_scheme(placement, n, model, name=placement.name)
        if not _secret(scheme, model, trust):
            rejected += 1
            continue
        d = _durability(scheme, model, samples, seed)
        key = (d["durability"], -len(scheme.holders))
        used = scheme.units
        if used not in best_at or key > (best_at[used][0], best_at[used][1]):
            best_at[used] = (d["durability"], -len(scheme.holders), n, placement, scheme, d)
    if progress is not None:
        progress(evaluated, evaluated)
    front = []
    top = -1.0
    for used in sorted(best_at):
        dur, _, n, placement, scheme, d = best_at[used]
        if dur <= top:
            continue
        top = dur
        entry = _entry(model, trust, n, placement, scheme, d, qubits, storage_time, t1, t2)
        if not entry["audit"]["learn_nothing"]:
            raise RuntimeError(f"internal error: the audit disagrees with the class table on {placement.name!r}")
        front.append(entry)
    return {
        "budget": b, "register_qubits": qubits, "trust": trust.to_dict(), "evaluated": evaluated,
        "rejected_secrecy": rejected, "front": front, "best": front[-1] if front else None,
        "storage_time": storage_time, "t1": t1, "t2": t2,
    }


def _entry(model: FailureModel, trust: Trust, n: int, placement: Placement, scheme: Scheme, d: Mapping[str, Any],
           qubits: int, storage_time: float | None, t1: float, t2: float) -> dict[str, Any]:
    """One placement's row: durability, the coalition audit of the trust requirement, fidelity."""
    # the same rule as `qclone audit --max-coalition`: 0 examines no coalition by size
    report = audit_placement(n, placement, max_coalition=min(trust.max_coalition, len(placement.parties)))
    named = {" + ".join(sorted(c)): protocol_analyzer(n).classify(placement.qubits_of(c & set(placement.parties))).kind
             if c & set(placement.parties) else "none" for c in trust.coalitions}
    learning = [list(f.coalition) for f in report.findings]
    learning += [name.split(" + ") for name, kind in named.items() if kind != "none"]
    return {
        "name": placement.name, "clones": n, "qubits": scheme.units * qubits, "parties": len(scheme.holders),
        "durability": d["durability"], "loss": 1 - d["durability"], **{k: v for k, v in d.items() if k != "durability"},
        "placement": placement.to_dict()["parties"],
        "audit": {"max_coalition": report.max_coalition, "coalitions_examined": report.examined,
                  "learn_nothing": not learning, "coalitions_that_learn": learning, "warnings": list(report.warnings)},
        "fidelity": None if storage_time is None else {
            **_fidelity(model, n, placement, storage_time, t1, t2, qubits),
            "expected": None if qubits != 1 else expected_fidelities(placement.parties, n, model, _memory(model, storage_time, t1, t2)),
        },
    }


def _memory(model: FailureModel, storage_time: float, t1: float, t2: float) -> Callable[[str], tuple[float, float, float]]:
    """A holder's memory channel for ``storage_time`` (its own T1/T2, else the defaults)."""
    def channel(name: str) -> tuple[float, float, float]:
        p = model.parties[model.index(name)]
        return twirled_relaxation(storage_time, p.t1 or t1, p.t2 or t2)
    return channel


def evaluate(model: FailureModel, placement: Placement, clones: int, trust: Trust, *, storage_time: float | None = None,
             t1: float = 3600.0, t2: float = 3600.0, qubits: int = 1, samples: int = DEFAULT_SAMPLES,
             seed: int | None = None) -> dict[str, Any]:
    """One given placement, as :func:`plan` reports a placement on its front (its secrecy is reported, not required).

    Raises:
        InvalidArgumentError: for a party the model does not know or an invalid placement.
    """
    n = check_int(clones, "clones", 1, MAX_TABLE_CLONES)
    check_int(qubits, "qubits", 1, MAX_REGISTER_QUBITS)
    check_int(samples, "samples", 1, MAX_SAMPLES)
    if storage_time is not None:
        twirled_relaxation(storage_time, t1, t2)  # validates
    resolved = placement.resolve(n)
    scheme = encrypted_scheme(resolved, n, model, name=resolved.name)
    entry = _entry(model, trust, n, resolved, scheme, _durability(scheme, model, samples, seed), qubits, storage_time, t1, t2)
    return {"trust": trust.to_dict(), "register_qubits": qubits, "storage_time": storage_time, "t1": t1, "t2": t2,
            "placement": entry}


def plot_front(result: Mapping[str, Any], outputs: Sequence[str | Path]) -> list[Path]:
    """Loss probability (log scale) against qubits stored, for the placements on the front."""
    paths = plot_paths(outputs)
    save_figure(front_figure(result), paths)  # a pyplot-free Figure: nothing to close
    return paths


def front_figure(result: Mapping[str, Any]) -> Any:
    """The matplotlib ``Figure`` of :func:`plot_front` (to show inline or to save)."""
    from matplotlib.figure import Figure

    front = result["front"]
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    if front:
        x = [e["qubits"] for e in front]
        loss = [max(e["loss"], 1e-18) for e in front]
        ax.plot(x, loss, "o-", ms=5, drawstyle="steps-post", label="most durable placement with at most this many qubits")
        for e in front:
            ax.annotate(f"n={e['clones']}", (e["qubits"], max(e["loss"], 1e-18)), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
        ax.set_yscale("log")
        clone_axis(ax, x, label="qubits stored per input qubit (count)")
        ax.legend(fontsize=8)
    else:
        ax.set_xlabel("qubits stored per input qubit (count)")
    ax.set_ylabel("probability an object is lost\n(1 − durability, per object lifetime)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"Placement plan: trust c = {result['trust']['max_coalition']}, budget {result['budget']} qubits")
    fig.tight_layout()
    return fig


# --- the side-by-side comparison -----------------------------------------------------------


def _compare_model(shares: int, failure_rate: float, vault_failure_rate: float, custodian_failure_rate: float,
                   zones: int, zone_failure_rate: float, vaults: int) -> FailureModel:
    zone_names = [f"zone-{z}" for z in range(1, zones + 1)]
    parties = [Party(f"provider-{i}", failure_rate, zone_names[(i - 1) % zones] if zones else None)
               for i in range(1, shares + 1)]
    parties += [Party(f"vault-{v}", vault_failure_rate, None, "vault") for v in range(1, vaults + 1)]
    parties.append(Party("custodian", custodian_failure_rate, None, "custodian"))
    return FailureModel(tuple(parties), {z: zone_failure_rate for z in zone_names})


def compare(*, clones: int = 4, failure_rate: float = 0.01, vault_failure_rate: float = 0.0,
            custodian_failure_rate: float | None = None, zones: int = 0, zone_failure_rate: float = 0.0,
            vaults: int = 2, qss_threshold: int | None = None, storage_time: float | None = None,
            t1: float = 3600.0, t2: float = 3600.0) -> dict[str, Any]:
    """Every alternative on one failure model (see the module docstring); a JSON-ready dict with ``rows``.

    Each row: ``scheme``, ``units`` (qubits or qudits stored), ``dimension``, ``parties``,
    ``needed`` (fewest parties that recover), ``secrecy`` (largest c such that every coalition
    of c parties learns nothing), ``durability`` (exact), ``loss``, ``fidelity`` (average, after
    ``storage_time``; None without it).
    """
    n = check_int(clones, "clones", 1, MAX_TABLE_CLONES)
    v = check_int(vaults, "vaults", 2, n if n >= 2 else 2)
    z = check_int(zones, "zones", 0, 64)
    if z == 0 and zone_failure_rate:
        raise InvalidArgumentError("a zone failure rate needs --zones >= 1")
    k = None if qss_threshold is None else check_int(qss_threshold, "QSS threshold k", 2, 8)
    shares = max(n, 5, 2 * k - 1 if k else 0)
    cust = failure_rate if custodian_failure_rate is None else custodian_failure_rate
    model = _compare_model(shares, failure_rate, vault_failure_rate, cust, z, zone_failure_rate, v)
    pauli = twirled_relaxation(storage_time, t1, t2) if storage_time is not None else None
    provider = [f"provider-{i}" for i in range(1, shares + 1)]

    layouts: dict[str, dict[str, list[str]]] = {}

    def enc(parties: dict[str, list[str]], name: str) -> Scheme:
        layouts[name] = parties
        return encrypted_scheme(Placement({p: frozenset(q) for p, q in parties.items()}, name=name), n, model, name=name)

    clones_at = {provider[j - 1]: [f"S{j}"] for j in range(1, n + 1)}
    schemes: list[tuple[Scheme, Any]] = [
        (threshold_scheme(1, provider[:1], model, dimension=2, name="single copy"), "single"),
        (enc({**clones_at, "vault-1": ["N*"]}, "encrypted, vault"), "enc"),
        (enc({**clones_at, "vault-1": ["N*"], "custodian": ["A"]}, "encrypted, keep-A"), "enc"),
    ]
    if n >= 2:
        split: dict[str, list[str]] = {**clones_at}
        for j, vault in enumerate(_blocks(n, [f"vault-{i}" for i in range(1, v + 1)]), start=1):
            split.setdefault(vault, []).append(f"N{j}")
        schemes.append((enc(split, f"encrypted, key split over {v} vaults"), "enc"))
    codes = [five_qubit_code(), polynomial_code(2)]
    if k is not None and k != 2:
        codes.append(polynomial_code(k))
    for code in codes:
        schemes.append((threshold_scheme(code.threshold, provider[:code.shares], model, dimension=code.dimension,
                                         name=code.name), code))
    rows = []
    for scheme, what in schemes:
        dur = exact_durability(scheme, model)
        fid: float | None = None
        expected: dict[str, Any] | None = None
        if pauli is not None and what == "enc":
            expected = expected_fidelities(layouts[scheme.name], n, model, pauli)
        if pauli is not None and storage_time is not None:
            if what == "single":
                fid = single_copy_fidelity(1, storage_time, t1, t2)["average_fidelity"]
            elif what == "enc":
                fid = retrieved_fidelity(1, n, storage_time, t1, t2)["average_fidelity"]
            else:
                errors = pauli_errors(*pauli) if what.dimension == 2 else depolarizing_errors(what.dimension, sum(pauli))
                fid = what.average_fidelity(errors)
        rows.append({
            "scheme": scheme.name, "units": scheme.units, "dimension": scheme.dimension, "parties": len(scheme.holders),
            "holders": [model.parties[i].name for i in scheme.holders],
            "needed": min_recovering_coalition(scheme), "secrecy": max_secret_coalition(scheme),
            "durability": dur, "loss": 1 - dur, "fidelity": fid,
            # given survival, averaged over which holders survived: plain and corrected retrieval side by side
            "expected_fidelity": None if pauli is None else {
                "plain": expected["plain"] if expected else fid,
                "corrected": expected["corrected"] if expected else None,
                "corrected_share": expected["corrected_share"] if expected else None,
            },
        })
    return {
        "parameters": {
            "clones": n, "failure_rate": failure_rate, "vault_failure_rate": vault_failure_rate,
            "custodian_failure_rate": cust, "zones": z, "zone_failure_rate": zone_failure_rate, "vaults": v,
            "storage_time": storage_time, "t1": t1, "t2": t2,
            "model": "providers fail independently with P and with their zone (providers spread round-robin over the "
                     "zones); vaults fail with q and the custodian with its own rate, independently; durability = "
                     "probability that the survivors are authorized (exact)",
            "qudit_noise": "a stored qudit suffers a uniformly random non-identity Weyl error with the probability "
                           "p_x + p_y + p_z that a stored qubit suffers a Pauli error in the same time",
            "expected_fidelity": "average fidelity given that the object survived, over which holders survived "
                                 "(exact): plain retrieval, and corrected retrieval (the stabilizers among the live "
                                 "holders measured, the lookup decoder's correction; plain where none can be "
                                 f"measured), encrypted schemes with n <= {MAX_EXPECTED_CLONES}; the secret-sharing rows "
                                 "give their recovery's fidelity (the same from every authorized set) and no "
                                 "corrected figure",
        },
        "rows": rows,
        "model": model.to_dict(),
    }


#: Most clones for which :func:`compare` gives the expected fidelities (every pattern of the holders is visited).
MAX_EXPECTED_CLONES = 6


def _unit_index(label: str, n: int) -> list[int]:
    """Local code indices (A = 0, S_j = j, N_j = n + j) of a placement label (``A``, ``S3``, ``N2``, ``N*``)."""
    if label == "A":
        return [0]
    if label in ("N*", "S*"):
        return list(range(n + 1, 2 * n + 1)) if label == "N*" else list(range(1, n + 1))
    return [int(label[1:]) + (n if label[0] == "N" else 0)]


def expected_fidelities(parties: Mapping[str, Iterable[str]], n: int, model: FailureModel,
                        pauli: tuple[float, float, float] | Callable[[str], tuple[float, float, float]]) -> dict[str, Any] | None:
    """The average fidelity a retrieval delivers, given that the object survived, for plain and for
    corrected retrieval (:func:`qclone.analysis.corrected.retrieval_fidelities`), exactly: every
    pattern of the holders that are alive (zone failures included) is visited, its probability
    multiplied by the fidelity of a retrieval from what it leaves; the qubits of the holders that are
    gone (and A when nobody keeps it) are erasures. Every stored qubit has the Pauli channel ``pauli``
    (or ``pauli(holder)``: its holder's memory).

    Returns:
        ``{"survival", "plain", "corrected", "corrected_share"}`` (``corrected_share``: the probability,
        given survival, that a corrected retrieval had stabilizers to measure), or None above
        :data:`MAX_EXPECTED_CLONES` clones.
    """
    from qclone.analysis.corrected import retrieval_fidelities
    from qclone.analysis.recovery import is_authorized
    from qclone.protocol import Layout

    if n > MAX_EXPECTED_CLONES:
        return None
    names = list(parties)
    held = {h: {q for label in parties[h] for q in _unit_index(label, n)} for h in names}
    info = [model.parties[model.index(h)] for h in names]
    probs = np.tile([1.0, 0.0, 0.0, 0.0], (2 * n + 1, 1))
    for h in names:
        px, py, pz = pauli(h) if callable(pauli) else pauli
        probs[sorted(held[h])] = [1 - px - py - pz, px, py, pz]
    lay = Layout(n)
    survival = plain = corrected = measured = 0.0
    cache: dict[tuple[int, ...], dict[str, Any]] = {}
    for alive in itertools.product((True, False), repeat=len(names)):
        prob = 1.0
        for zone in {p.zone for p in info}:
            members = [a for a, p in zip(alive, info) if p.zone == zone]
            own = math.prod((1 - p.failure) if a else p.failure for a, p in zip(alive, info) if p.zone == zone)
            if zone is None:
                prob *= own
            else:
                r = float(model.zones[zone])
                prob *= (1 - r) * own + (r if not any(members) else 0.0)
        live = sorted({q for a, h in zip(alive, names) if a for q in held[h]})
        if prob == 0.0 or not is_authorized(lay, live):
            continue
        erased = tuple(q for q in range(2 * n + 1) if q not in live)
        if erased not in cache:
            cache[erased] = retrieval_fidelities(n, probs, erased)
        f = cache[erased]
        survival += prob
        plain += prob * f["plain"]
        corrected += prob * f["corrected"]
        measured += 0.0 if f["fallback"] else prob
    if survival == 0.0:
        return {"survival": 0.0, "plain": None, "corrected": None, "corrected_share": None}
    return {"survival": survival, "plain": (2 * plain / survival + 1) / 3, "corrected": (2 * corrected / survival + 1) / 3,
            "corrected_share": measured / survival}


def placement_on_model(value: str, clones: int, model: FailureModel) -> Placement:
    """``--placement`` of ``qclone storage plan``: a placement file (its parties are the model's), or a
    built-in name (:data:`~qclone.analysis.leakage.placement.BUILTIN_POLICIES`, ``split-key:V``) laid on
    the model's parties: ``provider-j`` on its j-th provider, ``vault``, ``vault-2``, ... on its vaults
    and a custodian or client keeping A on its first custodian, all in the file's order.

    Raises:
        InvalidArgumentError: the model has too few parties of a kind the built-in placement needs.
    """
    if Path(value).is_file() or not is_builtin_name(value):
        return placement_from_option(value, clones)
    generic = builtin_placement(value, clones)
    kinds = {kind: [p.name for p in model.of_kind(kind)] for kind in ("provider", "vault", "custodian")}
    used = {"provider": 0, "vault": 0, "custodian": 0}
    parties: dict[str, frozenset[str]] = {}
    for party, held in generic.parties.items():
        kind = "provider" if party.startswith("provider-") else "vault" if party.startswith("vault") else "custodian"
        if used[kind] >= len(kinds[kind]):
            raise InvalidArgumentError(f"placement {value!r} with n = {clones} needs more parties of kind {kind} than the "
                                       f"model has ({len(kinds[kind])})")
        parties[kinds[kind][used[kind]]] = held
        used[kind] += 1
    return Placement(parties, name=value).resolve(clones)

