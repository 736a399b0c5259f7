"""Corrected retrieval's exact channel against the dense engine, step by step.

The reference (:func:`dense_retrieval`) does what a corrected retrieval does, with dense density
matrices only: the input encrypted by the protocol's circuit, every stored qubit's Pauli channel
applied (an erased qubit fully depolarized), every syndrome outcome's projector (the stabilizer
generators with the signs the noiseless encrypted state has), the decoder's correction for that
outcome, the protocol's decryption of a clone, the partial trace; summed over the outcomes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qclone.analysis.code import Decoder, live_code
from qclone.analysis.corrected import (
    MAX_CORRECTED_CLONES,
    corrected_fidelity,
    live_checks,
    logical_channel,
    pauli_probabilities,
)
from qclone.analysis.recovery import find_recovery
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Layout, decryption, protocol_circuit
from qclone.sim.exact import DensityMatrix, circuit_unitary, partial_trace, pauli_matrix, random_density_matrix

_LETTERS = "IXYZ"


def _pauli_label(x: np.ndarray, z: np.ndarray) -> str:
    return "".join("IXZY"[int(a) + 2 * int(b)] for a, b in zip(x, z))


def _generators(n: int, erased: tuple[int, ...]) -> list[np.ndarray]:
    """The stabilizers measured among the live qubits, as dense matrices (signs from the state)."""
    code = live_code(n, frozenset(erased))
    return [pauli_matrix(_pauli_label(x, z)) for x, z in zip(code.gx, code.gz)]


def dense_retrieval(n: int, rho: np.ndarray, probs: np.ndarray, *, erased: tuple[int, ...] = (),
                    clone: int | None = 1, correct: bool = True) -> np.ndarray:
    """The output of a (corrected) retrieval of one qubit, by dense matrices (see the module doc).
    Erased qubits are fully depolarized (whatever they hold, nothing reads them). ``clone``: the
    protocol's decryption of that clone; None: the recovery from the live qubits."""
    lay = Layout(n)
    m = lay.num_qubits
    state = DensityMatrix.from_input(rho, m)
    state.apply_circuit(protocol_circuit(lay))
    clean = state.matrix.copy()
    for q in range(m):
        p = [0.25] * 4 if q in erased else probs[q]
        state.apply_pauli_channel({"X": p[1], "Y": p[2], "Z": p[3]}, [q])
    noisy = state.matrix
    if not correct:
        return _recover(lay, noisy, erased, clone)
    gens = _generators(n, erased)
    signs = [float(np.real(np.trace(g @ clean))) for g in gens]
    assert np.allclose(np.abs(signs), 1), "every generator stabilizes the encrypted state (up to its sign)"
    decoder = Decoder(n, erasures=list(erased))
    total = np.zeros_like(noisy)
    sparse = [_sparse(g) for g in gens]
    for bits in itertools.product((0, 1), repeat=len(gens)):
        branch = noisy  # projected onto this outcome generator by generator (they commute)
        for b, sign, g in zip(bits, signs, sparse):
            s = (-1) ** b * sign
            gb = _left(g, branch)
            branch = (branch + s * gb + s * _right(branch, g) + _right(gb, g)) / 4
        if abs(np.trace(branch)) < 1e-15:
            continue
        cx, cz = _correction(decoder, bits, m)
        c = pauli_matrix(_pauli_label(cx, cz))
        total += c @ branch @ c.conj().T
    return _recover(lay, total, erased, clone)


def _recover(lay: Layout, state: np.ndarray, erased: tuple[int, ...], clone: int | None) -> np.ndarray:
    """The decryption of ``clone``, or (None) the recovery from the live qubits, then the output qubit."""
    m = lay.num_qubits
    if clone is None:
        rec = find_recovery(lay, [q for q in range(m) if q not in erased])
        circuit, target = rec.circuit, rec.targets[0]
    else:
        circuit, target = decryption(lay, clone), lay.S(clone)
    u = circuit_unitary(circuit, list(range(m)))
    return partial_trace(u @ state @ u.conj().T, [target])


def _sparse(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Pauli matrix as (column of each row's one entry, that entry): a signed permutation, an involution."""
    cols = np.argmax(np.abs(g), axis=1)
    return cols, g[np.arange(g.shape[0]), cols]


def _left(g: tuple[np.ndarray, np.ndarray], rho: np.ndarray) -> np.ndarray:
    cols, vals = g
    return vals[:, None] * rho[cols, :]


def _right(rho: np.ndarray, g: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    cols, vals = g  # (ρ g)[:, b] = ρ[:, c(b)] g[c(b), b] and c is its own inverse
    return rho[:, cols] * vals[cols][None, :]


def _correction(decoder: Decoder, bits: tuple[int, ...], m: int) -> tuple[np.ndarray, np.ndarray]:
    out = decoder.decode(np.array([bits], dtype=bool))
    return np.asarray(out.x, dtype=bool)[0], np.asarray(out.z, dtype=bool)[0]


def _apply(q: np.ndarray, rho: np.ndarray) -> np.ndarray:
    return sum(p * pauli_matrix(letter) @ rho @ pauli_matrix(letter) for p, letter in zip(q, _LETTERS))


def _noise(n: int, rng: np.random.Generator, scale: float = 0.06) -> np.ndarray:
    p = rng.uniform(0, scale, size=(2 * n + 1, 3))
    return np.column_stack([1 - p.sum(axis=1), p])


@pytest.mark.parametrize(("n", "erased", "clone"), [
    (2, (), 1), (2, (0,), 2), (2, (0, 1), 2), (3, (0,), 1),
    pytest.param(3, (), 3, marks=pytest.mark.slow), pytest.param(3, (0, 2), 1, marks=pytest.mark.slow),
    pytest.param(3, (0, 4), None, marks=pytest.mark.slow), pytest.param(3, (0, 3), 1, marks=pytest.mark.slow),
])
def test_corrected_channel_matches_dense_measurement(n: int, erased: tuple[int, ...], clone: int | None) -> None:
    rng = np.random.default_rng(100 * n + len(erased))
    rho = random_density_matrix(1, rng)
    probs = _noise(n, rng)
    want = dense_retrieval(n, rho, probs, erased=erased, clone=clone)
    got = _apply(logical_channel(n, probs, erased=erased), rho)
    np.testing.assert_allclose(got, want, atol=1e-10)


@pytest.mark.parametrize("n", [2, 3])
def test_plain_channel_matches_dense_decryption(n: int) -> None:
    rng = np.random.default_rng(n)
    rho = random_density_matrix(1, rng)
    probs = _noise(n, rng)
    got = _apply(logical_channel(n, probs, correct=False), rho)
    np.testing.assert_allclose(got, dense_retrieval(n, rho, probs, correct=False), atol=1e-10)


def test_correction_beats_plain_and_a_single_error_is_corrected() -> None:
    n = 4
    p = 1e-3
    probs = np.tile([1 - 3 * p, p, p, p], (2 * n + 1, 1))
    plain = logical_channel(n, probs, correct=False)[0]
    full = logical_channel(n, probs)[0]
    a_gone = logical_channel(n, probs, erased=[0])[0]
    # plain: an error on S_1 or a key qubit reaches the output, about (n + 1) 3p in all
    assert 1 - plain == pytest.approx(3 * p * (n + 1), rel=0.05)
    # every single error is corrected with all 2n + 1 qubits: the failure is second order in p
    tenth = logical_channel(n, np.tile([1 - 0.3 * p, p / 10, p / 10, p / 10], (2 * n + 1, 1)))[0]
    assert (1 - full) / (1 - tenth) > 80
    assert 1 - full < 0.1 * (1 - plain)
    assert 1 - a_gone < 1 - plain
    # one error anywhere, nothing else: certainly corrected
    for q in range(2 * n + 1):
        for letter in (1, 2, 3):
            one = np.tile([1.0, 0, 0, 0], (2 * n + 1, 1))
            one[q] = 0
            one[q, letter] = 1
            assert logical_channel(n, one)[0] == pytest.approx(1.0)


def test_live_checks_and_limits() -> None:
    assert live_checks(3, ()) == 6
    assert live_checks(3, [0]) < 6
    with pytest.raises(TooLargeError):
        logical_channel(MAX_CORRECTED_CLONES + 1, np.tile([1.0, 0, 0, 0], (2 * MAX_CORRECTED_CLONES + 3, 1)))
    with pytest.raises(InvalidArgumentError):
        logical_channel(2, np.ones((5, 4)))
    with pytest.raises(InvalidArgumentError):
        logical_channel(2, np.tile([1.0, 0, 0, 0], (5, 1)), erased=[3], correct=False, clone=1)  # N_1 gone: no plain decryption
    with pytest.raises(InvalidArgumentError):
        logical_channel(2, np.tile([1.0, 0, 0, 0], (5, 1)), erased=[0, 3, 4])  # S_1, S_2 alone recover nothing
    f = corrected_fidelity(2, np.tile([1.0, 0, 0, 0], (5, 1)))
    assert f == {"entanglement_fidelity": pytest.approx(1.0), "average_fidelity": pytest.approx(1.0)}


def test_pauli_probabilities_compose() -> None:
    # X then Y is Z; two channels compose as the product distribution
    assert pauli_probabilities([(1, 0, 0), (0, 1, 0)]).tolist() == [0, 0, 0, 1]
    p = pauli_probabilities([(0.1, 0.0, 0.0), (0.1, 0.0, 0.0)])
    assert p == pytest.approx([0.82, 0.18, 0, 0])


# ---------------------------------------------------------------------- durability with fidelity
def _naive_expected(parties: dict[str, list[int]], zone_of: dict[str, str | None], failure: dict[str, float],
                    zone_rate: float, n: int, probs: np.ndarray) -> tuple[float, float, float]:
    """(survival, E[F] plain, E[F] corrected) by every state of every zone and party, the dense engine's
    retrieval (entanglement fidelity with a reference, from the output of the Bell-basis inputs)."""
    from qclone.analysis.recovery import is_authorized

    zones = sorted({z for z in zone_of.values() if z is not None})
    names = list(parties)
    survival = plain = corrected = 0.0
    seen: dict[tuple[int, ...], tuple[float, float]] = {}
    for zone_up in itertools.product((True, False), repeat=len(zones)):
        pz = np.prod([1 - zone_rate if up else zone_rate for up in zone_up])
        up_zone = dict(zip(zones, zone_up))
        for own in itertools.product((True, False), repeat=len(names)):
            prob = pz * np.prod([1 - failure[h] if a else failure[h] for h, a in zip(names, own)])
            live = sorted({q for h, a in zip(names, own) if a and up_zone.get(zone_of[h], True) for q in parties[h]})
            if not is_authorized(Layout(n), live):
                continue
            erased = tuple(q for q in range(2 * n + 1) if q not in live)
            if erased not in seen:
                fe_plain = _dense_fe(n, probs, erased, correct=False)
                fe_corr = fe_plain if live_checks(n, erased) == 0 else _dense_fe(n, probs, erased, correct=True)
                seen[erased] = (fe_plain, fe_corr)
            survival += prob
            plain += prob * seen[erased][0]
            corrected += prob * seen[erased][1]
    return survival, (2 * plain / survival + 1) / 3, (2 * corrected / survival + 1) / 3


def _dense_fe(n: int, probs: np.ndarray, erased: tuple[int, ...], *, correct: bool) -> float:
    """Entanglement fidelity of a Pauli channel, from its action on |0⟩, |+⟩, |+i⟩ (dense engine)."""
    lam = []
    for axis in "XYZ":
        plus = (np.eye(2) + pauli_matrix(axis)) / 2
        out = dense_retrieval(n, plus, probs, erased=erased, clone=None, correct=correct)
        lam.append(float(np.real(np.trace(pauli_matrix(axis) @ out))))
    return (1 + sum(lam)) / 4


def test_compare_gives_survival_and_expected_fidelity_for_plain_and_corrected() -> None:
    from qclone.analysis.planner import compare
    from qclone.sim.noise import twirled_relaxation

    n, t = 2, 300.0
    r = compare(clones=n, failure_rate=0.1, vault_failure_rate=0.05, custodian_failure_rate=0.02, zones=2,
                zone_failure_rate=0.03, storage_time=t, t1=3600.0, t2=2000.0)
    px, py, pz = twirled_relaxation(t, 3600.0, 2000.0)
    probs = np.tile([1 - px - py - pz, px, py, pz], (2 * n + 1, 1))
    rows = {row["scheme"]: row for row in r["rows"]}
    zone_of = {"provider-1": "zone-1", "provider-2": "zone-2", "vault-1": None, "vault-2": None, "custodian": None}
    failure = {"provider-1": 0.1, "provider-2": 0.1, "vault-1": 0.05, "vault-2": 0.05, "custodian": 0.02}
    layouts = {
        "encrypted, vault": {"provider-1": [1], "provider-2": [2], "vault-1": [3, 4]},
        "encrypted, keep-A": {"provider-1": [1], "provider-2": [2], "vault-1": [3, 4], "custodian": [0]},
        "encrypted, key split over 2 vaults": {"provider-1": [1], "provider-2": [2], "vault-1": [3], "vault-2": [4]},
    }
    for scheme, parties in layouts.items():
        survival, plain, corrected = _naive_expected(parties, zone_of, failure, 0.03, n, probs)
        row = rows[scheme]
        assert row["durability"] == pytest.approx(survival, abs=1e-12), scheme
        assert row["expected_fidelity"]["plain"] == pytest.approx(plain, abs=1e-10), scheme
        assert row["expected_fidelity"]["corrected"] == pytest.approx(corrected, abs=1e-10), scheme
    keep = rows["encrypted, keep-A"]["expected_fidelity"]
    assert keep["corrected"] > keep["plain"]  # with A kept every single error is corrected
    assert rows["((3,5)) [[5,1,3]]"]["expected_fidelity"] == {"plain": rows["((3,5)) [[5,1,3]]"]["fidelity"],
                                                              "corrected": None, "corrected_share": None}
    assert compare(clones=n, failure_rate=0.1)["rows"][1]["expected_fidelity"] is None  # no storage time


@pytest.mark.slow
def test_simulate_reports_the_corrected_fidelity_beside_the_plain_one() -> None:
    from qclone.analysis.durability import simulate
    from qclone.sim.noise import twirled_relaxation

    r = simulate(clones=3, failure_rate=0.01, objects=1000, seed=1, storage_time=300.0, t1=3600.0, t2=2000.0)
    px, py, pz = twirled_relaxation(300.0, 3600.0, 2000.0)
    probs = np.tile([1 - px - py - pz, px, py, pz], (7, 1))
    fe = _dense_fe(3, probs, (0,), correct=True)
    assert r["by_clones"][2]["fidelity_corrected"] == pytest.approx((2 * fe + 1) / 3, abs=1e-10)
    assert r["fidelity"]["encrypted_corrected"] == r["by_clones"][2]["fidelity_corrected"]
    assert r["by_clones"][0]["fidelity_corrected"] is None  # n = 1: no stabilizer without A


@pytest.mark.slow
def test_the_planner_gives_each_placement_its_expected_fidelities_with_each_holders_memory() -> None:
    from qclone.analysis.leakage import Placement
    from qclone.analysis.planner import Trust, evaluate
    from qclone.analysis.resilience import FailureModel, Party
    from qclone.sim.noise import twirled_relaxation

    n, t = 2, 300.0
    model = FailureModel((Party("p1", 0.1, "eu"), Party("p2", 0.2, None),
                          Party("v", 0.05, None, "vault", 1800.0, 900.0), Party("c", 0.1, None, "custodian")),
                         {"eu": 0.04})
    placement = Placement({"p1": frozenset({"S1"}), "p2": frozenset({"S2"}), "v": frozenset({"N1", "N2"}),
                           "c": frozenset({"A"})}, name="mine")
    entry = evaluate(model, placement, n, Trust(), storage_time=t, t1=3600.0, t2=2000.0)["placement"]
    fast, slow = twirled_relaxation(t, 3600.0, 2000.0), twirled_relaxation(t, 1800.0, 900.0)
    probs = np.array([[1 - sum(p), *p] for p in (fast, fast, fast, slow, slow)])
    survival, plain, corrected = _naive_expected(
        {"p1": [1], "p2": [2], "v": [3, 4], "c": [0]}, {"p1": "eu", "p2": None, "v": None, "c": None},
        {"p1": 0.1, "p2": 0.2, "v": 0.05, "c": 0.1}, 0.04, n, probs)
    got = entry["fidelity"]["expected"]
    assert entry["durability"] == pytest.approx(survival, abs=1e-12)
    assert got["survival"] == pytest.approx(survival, abs=1e-12)
    assert got["plain"] == pytest.approx(plain, abs=1e-10) and got["corrected"] == pytest.approx(corrected, abs=1e-10)
