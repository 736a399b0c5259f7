"""Durability of encrypted multi-cloud storage: a Monte Carlo against a single stored copy.

Model (one storage period, e.g. a year):

* M objects, each stored as n encrypted clones at n distinct providers plus
  its key in the tenant's key vault.
* Every provider loses a given clone during the period with probability P
  (``failure_rate``: a per-object-lifetime probability, not a rate per unit
  time), independently of the other providers and objects; the vault loses a
  given key with probability q (``vault_failure_rate``, default 0).
* An object is retrievable iff its key survives and at least one of its
  clones does, so its durability is (1 − q)(1 − Pⁿ).
* Correlated failures (optional): the providers are spread round-robin over
  Z zones (provider j in zone (j − 1) mod Z), and each zone fails with
  probability r (``zone_failure_rate``), taking down every provider in it;
  the vault is outside the zones. Then the durability is
  (1 − q)(1 − Π_z (r + (1 − r) P^{m_z})), m_z the clones in zone z.
* The comparison is a single plain copy at one provider (in the first zone):
  durability (1 − r)(1 − P).

Placements beyond these (keys split over vaults, a custodian for A, parties
with their own probabilities) are in :mod:`qclone.analysis.resilience`.

The Monte Carlo draws every provider and vault outcome of every object
(vectorised numpy, in chunks of objects) and reports the retrievable fraction
with a Wilson interval beside the analytic value, for 1, 2, …, n clones (the
first m providers of the same draws, so the curve is monotone) and for the
single copy.

Fidelity after a storage time T (optional): every stored qubit decoheres
under T1/T2 memory noise, Pauli-twirled (:func:`qclone.sim.noise.twirled_relaxation`,
the channel the substrate applies). The retrieved state went through the
clone's *and* the key's memory, so its fidelity is lower than a single copy
kept for the same time. It is computed exactly with the Clifford + core engine
(:func:`retrieved_fidelity`): the input register is maximally entangled with
k reference qubits, encrypted, every clone and key qubit is aged for T, clone 1
is decrypted, and the entanglement fidelity F_e with the references gives the
Haar-average fidelity F = (d·F_e + 1)/(d + 1), d = 2^k, of every input.

Examples:
    >>> r = simulate(clones=3, failure_rate=0.1, objects=100_000, seed=1)
    >>> r["encrypted"]["analytic"], r["single_copy"]["analytic"]
    (0.999, 0.9)
    >>> lo, hi = r["encrypted"]["ci"]
    >>> lo <= 0.999 <= hi
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qclone.analysis.corrected import MAX_CORRECTED_CLONES
from qclone.analysis.plot import PLOT_SUFFIXES, clone_axis, plot_paths, save_figure
from qclone.errors import InvalidArgumentError, check_int, is_real
from qclone.protocol import Layout, decryption, protocol_circuit
from qclone.sim.core import CoreState
from qclone.sim.noise import twirled_relaxation
from qclone.sim.stabilizer import wilson_interval

__all__ = [
    "MAX_OBJECTS",
    "MAX_SIM_CLONES",
    "MAX_FIDELITY_QUBITS",
    "PLOT_SUFFIXES",
    "plot_durability",
    "retrieved_fidelity",
    "simulate",
    "single_copy_fidelity",
    "summary_rows",
]

#: Most objects of one Monte Carlo run.
MAX_OBJECTS = 1_000_000_000
#: Most clones per object.
MAX_SIM_CLONES = 64
#: Largest register for the fidelity (the core holds the register and its k references).
MAX_FIDELITY_QUBITS = 6
#: Random draws per chunk (objects × providers).
_CHUNK_DRAWS = 4_000_000


def _probability(value: object, what: str) -> float:
    if not is_real(value) or not math.isfinite(value) or not 0 <= value <= 1:
        raise InvalidArgumentError(f"{what} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _estimate(survivors: int, objects: int, analytic: float, providers: int) -> dict:
    lo, hi = wilson_interval(survivors, objects)
    return {
        "providers": providers,
        "retrievable": int(survivors),
        "lost": int(objects - survivors),
        "durability": survivors / objects,
        "ci": [lo, hi],
        "analytic": analytic,
        "analytic_in_ci": bool(lo <= analytic <= hi),
    }


def _entanglement_fidelity(rho: np.ndarray, d: int) -> float:
    """⟨Φ|ρ|Φ⟩ for Φ = Σ_i |i⟩|i⟩/√d on (system, reference)."""
    idx = np.arange(d) * d + np.arange(d)
    return float(np.real(rho[np.ix_(idx, idx)].sum()) / d)


def _max_entangled(k: int) -> np.ndarray:
    d = 2**k
    v = np.zeros(d * d, dtype=complex)
    v[np.arange(d) * d + np.arange(d)] = 1 / math.sqrt(d)
    return v


def retrieved_fidelity(
    qubits: int,
    clones: int,
    storage_time: float,
    t1: float,
    t2: float,
    *,
    key_t1: float | Sequence[float] | None = None,
    key_t2: float | Sequence[float] | None = None,
    decrypt: int = 1,
) -> dict:
    """Fidelity of an object retrieved after ``storage_time`` (exact, Clifford + core engine).

    Every clone qubit decoheres with (t1, t2) and every key qubit with (key_t1, key_t2)
    (default: the same; a sequence gives key qubit N_j its own value) for ``storage_time``;
    clone ``decrypt`` (default 1) is decrypted.

    Returns:
        ``{"entanglement_fidelity": F_e, "average_fidelity": (d F_e + 1)/(d + 1)}``.
    """
    k = check_int(qubits, "qubits", 1, MAX_FIDELITY_QUBITS)
    n = check_int(clones, "clones", 1, MAX_SIM_CLONES)
    j = check_int(decrypt, "decrypted clone", 1, n)
    kt1 = _per_key(t1 if key_t1 is None else key_t1, n, "key T1")
    kt2 = _per_key(t2 if key_t2 is None else key_t2, n, "key T2")
    p_clone = twirled_relaxation(storage_time, t1, t2)
    p_key = [twirled_relaxation(storage_time, a, b) for a, b in zip(kt1, kt2)]
    lay = Layout(n, qubits=k, references=k)
    st = CoreState.from_input(lay.num_qubits, _max_entangled(k), list(lay.inputs) + list(lay.reference_qubits))
    st.apply(protocol_circuit(lay))
    for q in lay.signals:
        st.apply_pauli_channel(q, *p_clone)
    for jj in range(1, n + 1):
        for q in lay.key(jj):
            st.apply_pauli_channel(q, *p_key[jj - 1])
    st.apply(decryption(lay, j))
    rho = st.reduced_density_matrix(list(lay.clone(j)) + list(lay.reference_qubits))
    d = 2**k
    fe = _entanglement_fidelity(rho, d)
    return {"entanglement_fidelity": fe, "average_fidelity": (d * fe + 1) / (d + 1)}


def corrected_retrieval_fidelity(qubits: int, clones: int, storage_time: float, t1: float, t2: float) -> float | None:
    """Average fidelity of a corrected retrieval with every provider and the vault live and A discarded
    (:func:`qclone.analysis.corrected.logical_channel`; every register qubit's block has the same
    Pauli channel, so F_e is the k-th power of one block's); None above
    :data:`~qclone.analysis.corrected.MAX_CORRECTED_CLONES` clones or when nothing can be measured."""
    from qclone.analysis.corrected import live_checks, logical_channel

    if clones > MAX_CORRECTED_CLONES or live_checks(clones, [0]) == 0:
        return None
    px, py, pz = twirled_relaxation(storage_time, t1, t2)
    probs = np.tile([1 - px - py - pz, px, py, pz], (2 * clones + 1, 1))
    fe = float(logical_channel(clones, probs, erased=[0])[0]) ** qubits
    d = 2**qubits
    return (d * fe + 1) / (d + 1)


def _per_key(value: float | Sequence[float], n: int, what: str) -> list[float]:
    if isinstance(value, Sequence):
        if len(value) != n:
            raise InvalidArgumentError(f"{what}: one value per key qubit ({n}), got {len(value)}")
        return [float(v) for v in value]
    return [value] * n


def single_copy_fidelity(qubits: int, storage_time: float, t1: float, t2: float) -> dict:
    """Fidelity of a plain k-qubit copy kept for ``storage_time`` (every qubit: the same memory channel).

    F_e is the probability that no qubit suffered a Pauli error, (1 − p_x − p_y − p_z)^k.
    """
    k = check_int(qubits, "qubits", 1, MAX_FIDELITY_QUBITS)
    fe = (1 - sum(twirled_relaxation(storage_time, t1, t2))) ** k
    d = 2**k
    return {"entanglement_fidelity": fe, "average_fidelity": (d * fe + 1) / (d + 1)}


def simulate(
    *,
    clones: int,
    failure_rate: float,
    objects: int,
    vault_failure_rate: float = 0.0,
    storage_time: float | None = None,
    t1: float = 3600.0,
    t2: float = 3600.0,
    qubits: int = 1,
    seed: int | None = None,
    zones: int = 0,
    zone_failure_rate: float = 0.0,
) -> dict:
    """Monte Carlo of durability (see the module doc); fidelity after ``storage_time`` if given.

    Args:
        clones: n, clones per object (at n distinct providers).
        failure_rate: P, probability that a provider loses a given clone during the period.
        objects: M, number of simulated objects.
        vault_failure_rate: q, probability that the vault loses a given key.
        storage_time: seconds each object is stored before retrieval (fidelity only).
        t1: memory relaxation time T1 (seconds) of providers and vault.
        t2: memory dephasing time T2 (seconds) of providers and vault.
        qubits: k, qubits per object (fidelity only).
        seed: random seed (``None``: fresh entropy).
        zones: Z, zones the providers are spread over (0: no correlated failures).
        zone_failure_rate: r, probability that a zone fails (taking its providers down).

    Returns:
        A JSON-ready dict: ``parameters``, ``encrypted`` and ``single_copy`` (each with
        ``durability``, Wilson 95 % ``ci``, ``analytic``, ``lost``), ``by_clones`` (the same for
        1..n clones), ``fidelity`` (None without ``storage_time``).
    """
    n = check_int(clones, "clones", 1, MAX_SIM_CLONES)
    p = _probability(failure_rate, "failure rate")
    q = _probability(vault_failure_rate, "vault failure rate")
    m = check_int(objects, "objects", 1, MAX_OBJECTS)
    nz = check_int(zones, "zones", 0, MAX_SIM_CLONES)
    r = _probability(zone_failure_rate, "zone failure rate")
    if nz == 0 and r > 0:
        raise InvalidArgumentError("a zone failure rate needs at least one zone")
    zone_of = np.arange(n) % max(nz, 1)
    if seed is not None:
        check_int(seed, "seed", 0, 2**63 - 1)
    if storage_time is not None:
        twirled_relaxation(storage_time, t1, t2)  # validates
        check_int(qubits, "qubits", 1, MAX_FIDELITY_QUBITS)
    rng = np.random.default_rng(seed)

    survivors = np.zeros(n, dtype=np.int64)  # survivors[i]: objects retrievable with the first i+1 clones
    single = 0
    chunk = max(1, _CHUNK_DRAWS // (n + 2))
    done = 0
    while done < m:
        size = min(chunk, m - done)
        lost = rng.random((size, n)) < p                    # provider i lost its clone of the object
        zone_down = rng.random((size, nz)) < r if nz else np.zeros((size, 1), dtype=bool)
        lost |= zone_down[:, zone_of]                        # a zone failure takes its providers down
        all_lost = np.logical_and.accumulate(lost, axis=1)  # column i: the first i+1 clones all lost
        vault_ok = rng.random(size) >= q
        survivors += np.count_nonzero(~all_lost & vault_ok[:, None], axis=0)
        single += int(np.count_nonzero((rng.random(size) >= p) & ~zone_down[:, 0]))
        done += size

    by_clones = [
        {"clones": i + 1, **_estimate(int(survivors[i]), m, (1 - q) * (1 - _all_lost(p, r, zone_of[: i + 1], nz)), i + 1)}
        for i in range(n)
    ]
    fidelity: dict[str, Any] | None = None
    if storage_time is not None:
        for row in by_clones:
            row["fidelity"] = retrieved_fidelity(qubits, row["clones"], storage_time, t1, t2)["average_fidelity"]
            row["fidelity_corrected"] = corrected_retrieval_fidelity(qubits, row["clones"], storage_time, t1, t2)
        enc = retrieved_fidelity(qubits, n, storage_time, t1, t2)
        one = single_copy_fidelity(qubits, storage_time, t1, t2)
        fidelity = {
            "storage_time": float(storage_time),
            "t1": float(t1),
            "t2": float(t2),
            "qubits": int(qubits),
            "encrypted": enc,
            "single_copy": one,
            "encrypted_corrected": by_clones[-1]["fidelity_corrected"],
            "model": "Pauli-twirled T1/T2 memory noise on every clone and key qubit; clone 1 decrypted; "
                     "Haar-average fidelity from the entanglement fidelity (exact, Clifford + core engine); "
                     "corrected: the stabilizers among every clone and the key measured (A discarded), the lookup "
                     f"decoder's correction, then decryption (exact, n <= {MAX_CORRECTED_CLONES}; None beyond)",
        }
    return {
        "parameters": {
            "clones": n,
            "failure_rate": p,
            "vault_failure_rate": q,
            "objects": m,
            "seed": seed,
            "confidence": 0.95,
            "zones": nz,
            "zone_failure_rate": r,
            "model": "independent provider losses with probability P per object lifetime"
                     + (", providers round-robin over the zones, a zone failure takes its providers down"
                        if nz else "")
                     + "; retrievable iff the key and at least one clone survive",
        },
        "encrypted": by_clones[-1],
        "single_copy": {"clones": 1, **_estimate(single, m, (1 - r) * (1 - p), 1)}
        | ({} if fidelity is None else {"fidelity": fidelity["single_copy"]["average_fidelity"]}),
        "by_clones": by_clones,
        "fidelity": fidelity,
    }


def _all_lost(p: float, r: float, zone_of: np.ndarray, zones: int) -> float:
    """Probability that every one of the given providers is down (zone failures included)."""
    if zones == 0:
        return float(p ** len(zone_of))
    sizes = np.bincount(zone_of, minlength=zones)
    return float(np.prod(r + (1 - r) * p**sizes))


def plot_durability(result: dict, outputs: Sequence[str | Path], *, title: str | None = None) -> list[Path]:
    """Loss probability (1 − durability, log scale) against the number of clones.

    Monte Carlo points with their Wilson intervals, the analytic curve, and the single plain
    copy. A point with no loss is drawn at the interval's upper end (an open triangle).
    """
    paths = plot_paths(outputs)
    save_figure(durability_figure(result, title=title), paths)  # a pyplot-free Figure: nothing to close
    return paths


def durability_figure(result: dict, *, title: str | None = None) -> Any:
    """The matplotlib ``Figure`` of :func:`plot_durability` (to show inline or to save)."""
    from matplotlib.figure import Figure

    rows = result["by_clones"]
    par = result["parameters"]
    m = par["objects"]
    x = np.array([r["clones"] for r in rows])
    loss = np.array([1 - r["durability"] for r in rows])
    lo = np.array([1 - r["ci"][1] for r in rows])
    hi = np.array([1 - r["ci"][0] for r in rows])
    floor = 0.3 / m  # below anything the Monte Carlo can resolve
    fid = result.get("fidelity")
    fig = Figure(figsize=(7, 4.5) if fid is None else (11, 4.5))
    ax, *more = fig.subplots(1, 1 if fid is None else 2, squeeze=False)[0]
    fax = more[0] if more else None
    seen = loss > 0
    if seen.any():
        ax.errorbar(x[seen], loss[seen], yerr=[loss[seen] - np.maximum(lo[seen], floor), hi[seen] - loss[seen]],
                    fmt="o", ms=4, capsize=3, label=f"Monte Carlo, {m:,} objects (95 % Wilson)")
    if (~seen).any():
        ax.plot(x[~seen], hi[~seen], "v", mfc="none", ms=6, color="C0", label="no loss seen: 95 % upper bound")
    q, p = par["vault_failure_rate"], par["failure_rate"]
    ax.plot(x, np.maximum(1 - np.array([row["analytic"] for row in rows]), floor * 0.1), "-", color="C1",
            label=r"analytic $1-(1-q)(1-P^n)$" if not par.get("zones") else "analytic (zones included)")
    single = result["single_copy"]
    ax.axhline(max(1 - single["durability"], floor), color="C2", ls="--",
               label=f"single plain copy: loss {1 - single['durability']:.3g}")
    ax.set_yscale("log")
    clone_axis(ax, x, label="number of encrypted clones n (distinct providers)")
    ax.set_ylabel("probability an object is lost\n(per object lifetime)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(title or f"Durability: provider loss P = {p:g}, vault loss q = {q:g}")
    if fid is not None and fax is not None:
        fax.plot(x, [r["fidelity"] for r in rows], "o-", ms=4, label="retrieved from n encrypted clones")
        fax.axhline(fid["single_copy"]["average_fidelity"], color="C2", ls="--", label="single plain copy")
        limit = 2 / (2 ** fid["qubits"] + 1)  # measure and prepare, d = 2^k
        fax.axhline(limit, color="black", ls=":", lw=1, label=f"classical limit 2/(d+1) = {limit:.3g}")
        clone_axis(fax, x)
        fax.set_ylabel("average fidelity after storage\n(dimensionless; 1 = exact)")
        fax.set_ylim(0, 1.02)
        fax.grid(True, alpha=0.3)
        fax.legend(fontsize=7, loc="lower left")
        fax.set_title(f"After {fid['storage_time']:g} s, T1 = {fid['t1']:g} s, T2 = {fid['t2']:g} s, "
                      f"k = {fid['qubits']}", fontsize=9)
    fig.tight_layout()
    return fig


def summary_rows(result: dict) -> list[dict[str, Any]]:
    """Rows of the CLI table: the single copy, then 1..n clones."""
    rows = [{"storage": "single plain copy", **result["single_copy"]}]
    rows += [{"storage": f"{r['clones']} encrypted clone{'s' if r['clones'] > 1 else ''}", **r}
             for r in result["by_clones"]]
    return rows
