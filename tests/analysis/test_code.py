"""The code view and its decoder, checked against independent computations.

* stim's tableau of the protocol's own encryption circuit (``PauliString.after/before``) decides
  what a stabilizer or a residual error is, independently of the closed form in ``code.py``.
* The dense engine (``qclone.sim.exact``) runs encryption, an error, the decoder's correction and
  the decryption on random inputs for small n.
* The leakage engine (``LeakageAnalyzer``) decides what syndrome ancillas learn and which small sets
  hold a logical operator (the distance), by its own GF(2) elimination.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import stim

from qclone.analysis.code import (
    Decoder,
    code_qubit_labels,
    decode_logical,
    distance,
    encode_pauli,
    live_code,
    logical_x,
    logical_z,
    pullback_pauli,
    stabilizer_bits,
    stabilizers,
    syndrome_of,
)
from qclone.analysis.leakage import CliffordEncoding, LeakageAnalyzer, protocol_analyzer
from qclone.analysis.recovery import find_recovery
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Layout, bell_pairs, encryption, to_stim
from qclone.sim.exact import GATE_MATRICES, StateVector, fidelity


def _enc(n: int) -> stim.Circuit:
    return to_stim(encryption(Layout(n)))


def _pulled(n: int, xs: np.ndarray, zs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """U† P U through the circuit (stim), for one Pauli."""
    p = stim.PauliString.from_numpy(xs=xs, zs=zs).before(_enc(n))
    return p.to_numpy()


def _is_trivial(n: int, xs: np.ndarray, zs: np.ndarray) -> bool:
    """Whether a Pauli acts trivially on the encrypted state (a stabilizer up to sign): its pull-back
    through the circuit is identity on A and equal letters on every Bell pair."""
    px, pz = _pulled(n, xs, zs)
    return (not px[0] and not pz[0] and np.array_equal(px[1 : n + 1], px[n + 1 :])
            and np.array_equal(pz[1 : n + 1], pz[n + 1 :]))


def _trivial_many(n: int, xs: np.ndarray, zs: np.ndarray) -> np.ndarray:
    """:func:`_is_trivial` for many rows at once, through the numpy form of stim's inverse tableau."""
    padded = _enc(n) + stim.Circuit(f"I {2 * n}")  # the key qubits are untouched: make the tableau cover them
    x2x, x2z, z2x, z2z, _, _ = stim.Tableau.from_circuit(padded).inverse().to_numpy()
    xi, zi = xs.astype(np.int64), zs.astype(np.int64)
    px = (xi @ x2x.astype(np.int64) + zi @ z2x.astype(np.int64)) % 2 == 1
    pz = (xi @ x2z.astype(np.int64) + zi @ z2z.astype(np.int64)) % 2 == 1
    out: np.ndarray = (~px[:, 0] & ~pz[:, 0] & (px[:, 1 : n + 1] == px[:, n + 1 :]).all(axis=1)
                       & (pz[:, 1 : n + 1] == pz[:, n + 1 :]).all(axis=1))
    return out


def _random_paulis(rng: np.random.Generator, shots: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.random((shots, m)) < 0.3, rng.random((shots, m)) < 0.3


# --- the generators ---------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 12, 40])
def test_stabilizers_stabilize_the_encrypted_state(n: int) -> None:
    sim = stim.TableauSimulator()
    sim.do(to_stim(encryption(Layout(n), circuit=bell_pairs(Layout(n)))))
    gens = stabilizers(n)
    assert len(gens) == 2 * n
    for g in gens:
        assert sim.peek_observable_expectation(stim.PauliString(g.replace("I", "_"))) == 1
    # independent and commuting
    gx, gz = stabilizer_bits(n)
    sym = (gx.astype(int) @ gz.T.astype(int) + gz.astype(int) @ gx.T.astype(int)) % 2
    assert not sym.any()
    from qclone.sim import gf2
    assert gf2.rank(np.concatenate([gx, gz], axis=1)) == 2 * n


@pytest.mark.parametrize("n", [2, 3, 4, 9])
def test_generator_weights(n: int) -> None:
    w = [sum(ch != "I" for ch in g[1:]) for g in stabilizers(n)]
    assert w[: 2 * n - 2] == [4] * (2 * n - 2)
    assert w[2 * n - 2 :] == [n + 2, n + 2]


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_no_generating_set_is_lighter(n: int) -> None:
    """Brute force over the whole stabilizer group: every element outside the even subgroup has
    weight >= n + 1 (n + 1 only for odd n), and the group's minimum weight is 4 (n >= 2)."""
    gx, gz = stabilizer_bits(n)
    coeffs = np.array(list(itertools.product((0, 1), repeat=2 * n)), dtype=np.int64)[1:]
    ex = (coeffs @ gx.astype(np.int64)) % 2 == 1
    ez = (coeffs @ gz.astype(np.int64)) % 2 == 1
    weight = np.count_nonzero(ex | ez, axis=1)
    odd = (coeffs[:, -2:] != 0).any(axis=1)  # uses one of the two encrypted-Bell generators
    assert weight.min() == 4
    assert weight[odd].min() == (n + 1 if n % 2 else n + 2)
    assert weight[~odd].min() == 4


def test_stabilizer_strings_small() -> None:
    assert stabilizers(2) == ["+IXXXX", "+IZZZZ", "-YZYXI", "-XYXZI"]
    assert code_qubit_labels(2) == ("A", "S1", "S2", "N1", "N2")


@pytest.mark.parametrize("n", [1, 2, 3, 6, 15])
def test_logicals_act_as_the_inputs_paulis(n: int) -> None:
    """Pulled back through the circuit, X̄ and Z̄ are X_A and Z_A times Bell stabilizers, with sign +."""
    for text, letter in ((logical_x(n), "X"), (logical_z(n), "Z")):
        p = stim.PauliString(text.replace("I", "_"))
        back = p.before(_enc(n))
        want = stim.PauliString(2 * n + 1)
        want[0] = letter
        rest = back * want  # Bell stabilizer part: equal letters on every pair
        xs, zs = rest.to_numpy()
        assert not xs[0] and not zs[0]
        assert np.array_equal(xs[1 : n + 1], xs[n + 1 :]) and np.array_equal(zs[1 : n + 1], zs[n + 1 :])
        if n >= 2:
            assert sum(ch != "I" for ch in text[1:]) == 3
    # sign: measured on the encrypted |+>/|0> inputs
    for prep, text in (("H 0", logical_x(n)), ("", logical_z(n))):
        sim = stim.TableauSimulator()
        sim.do(stim.Circuit(prep))
        sim.do(to_stim(encryption(Layout(n), circuit=bell_pairs(Layout(n)))))
        assert sim.peek_observable_expectation(stim.PauliString(text.replace("I", "_"))) == 1


@pytest.mark.parametrize("n", [1, 2, 5, 33])
def test_closed_form_encryption_map_matches_the_circuit(n: int) -> None:
    rng = np.random.default_rng(n)
    xs, zs = _random_paulis(rng, 20, 2 * n + 1)
    ex, ez = encode_pauli(xs, zs, n)
    bx, bz = pullback_pauli(ex, ez, n)
    assert np.array_equal(bx, xs) and np.array_equal(bz, zs)
    for i in range(20):
        after = stim.PauliString.from_numpy(xs=xs[i], zs=zs[i]).after(_enc(n)).to_numpy()
        assert np.array_equal(after[0], ex[i]) and np.array_equal(after[1], ez[i])


@pytest.mark.parametrize("n", [1, 2, 3, 8, 21])
def test_syndrome_of_is_the_symplectic_product(n: int) -> None:
    rng = np.random.default_rng(7 + n)
    xs, zs = _random_paulis(rng, 64, 2 * n + 1)
    gens = [stim.PauliString(g.replace("I", "_")) for g in stabilizers(n)]
    got = syndrome_of(xs, zs, n)
    for i in range(64):
        e = stim.PauliString.from_numpy(xs=xs[i], zs=zs[i])
        want = [not e.commutes(g) for g in gens]
        assert got[i].tolist() == want


# --- distance ----------------------------------------------------------------------------------------


def test_distance_is_three_up_to_fifty() -> None:
    assert distance(1) == 1
    assert [distance(n) for n in range(2, 51)] == [3] * 49


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_distance_matches_the_leakage_engine(n: int) -> None:
    """The distance is the size of the smallest set of qubits holding a logical operator: the leakage
    engine's own elimination, over every set of up to 3 qubits."""
    an = protocol_analyzer(n)
    labels = code_qubit_labels(n)
    smallest = None
    for size in (1, 2, 3):
        if any(an.classify([labels[q] for q in c]).kind != "none" for c in itertools.combinations(range(2 * n + 1), size)):
            smallest = size
            break
    assert smallest == distance(n)


def test_distance_refuses_huge_n() -> None:
    with pytest.raises(TooLargeError):
        distance(401)
    with pytest.raises(InvalidArgumentError):
        stabilizers(0)


# --- decoding single errors ---------------------------------------------------------------------------


def _single_errors(m: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.zeros((3 * m, m), dtype=bool)
    zs = np.zeros_like(xs)
    for q in range(m):
        for i, (bx, bz) in enumerate(((1, 0), (1, 1), (0, 1))):
            xs[3 * q + i, q], zs[3 * q + i, q] = bx, bz
    return xs, zs


@pytest.mark.parametrize("n", range(2, 13))
def test_every_single_qubit_pauli_is_corrected_lookup(n: int) -> None:
    m = 2 * n + 1
    xs, zs = _single_errors(m)
    dec = Decoder(n)
    corr = dec.decode(syndrome_of(xs, zs, n))
    for i in range(3 * m):
        assert _is_trivial(n, xs[i] ^ corr.x[i], zs[i] ^ corr.z[i]), (n, i)
    assert not decode_logical(dec, xs, zs).any()


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_every_single_qubit_pauli_is_corrected_ml(n: int) -> None:
    m = 2 * n + 1
    xs, zs = _single_errors(m)
    dec = Decoder(n, method="ml", noise=np.array([0.97, 0.01, 0.01, 0.01]))
    corr = dec.decode(syndrome_of(xs, zs, n))
    for i in range(3 * m):
        assert _is_trivial(n, xs[i] ^ corr.x[i], zs[i] ^ corr.z[i]), (n, i)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_ml_is_at_least_as_good_as_lookup_on_random_errors(n: int) -> None:
    """Exact ML minimises the logical error rate for the noise it is told: against sampled i.i.d.
    depolarizing errors it never loses to lookup beyond sampling noise (and the check is against
    stim's pull-back, not the decoder's own bookkeeping)."""
    rng = np.random.default_rng(11 * n)
    p = 0.06
    m, shots = 2 * n + 1, 4000
    letter = rng.choice(4, size=(shots, m), p=[1 - p, p / 3, p / 3, p / 3])
    xs, zs = np.isin(letter, (1, 2)), np.isin(letter, (2, 3))
    fails = {}
    for method in ("lookup", "ml"):
        dec = Decoder(n, method=method, noise=np.array([1 - p, p / 3, p / 3, p / 3]))
        corr = dec.decode(syndrome_of(xs, zs, n))
        fails[method] = int((~_trivial_many(n, xs ^ corr.x, zs ^ corr.z)).sum())
    assert fails["ml"] <= fails["lookup"] + 3 * np.sqrt(fails["lookup"] + 1)


@pytest.mark.parametrize("n", [2, 3])
def test_dense_engine_error_correct_decrypt(n: int) -> None:
    """Random input entangled with a reference; a single Pauli on any stored qubit; the decoder's
    correction; the plain decryption of clone 1: the reference and S_1 are back in the input's
    entangled state exactly."""
    lay = Layout(n, references=1)
    m = 2 * n + 1
    rng = np.random.default_rng(n)
    v = rng.normal(size=4) + 1j * rng.normal(size=4)
    v /= np.linalg.norm(v)  # an entangled input (A, R), A the first factor
    dec = Decoder(n)
    rec = find_recovery(Layout(n), range(m), plain=True)
    base = StateVector.from_input(v, m + 1, input_qubits=[lay.A(), lay.R()])
    base.apply_circuit(encryption(lay, circuit=bell_pairs(lay)))
    want = v.reshape(2, 2)
    for q in range(m):
        for letter in "XYZ":
            sv = base.copy()
            sv.apply(GATE_MATRICES[letter], [q])
            ex = np.zeros((1, m), bool)
            ez = np.zeros((1, m), bool)
            ex[0, q], ez[0, q] = letter in "XY", letter in "YZ"
            corr = dec.decode(syndrome_of(ex, ez, n))
            for p in range(m):
                cx, cz = bool(corr.x[0, p]), bool(corr.z[0, p])
                if cx or cz:
                    sv.apply(GATE_MATRICES["Y" if cx and cz else "X" if cx else "Z"], [p])
            sv.apply_circuit(rec.circuit.instructions)
            t = rec.targets[0]
            rho = sv.reduced_density_matrix([t, lay.R()])
            assert fidelity(rho, np.outer(want.ravel(), want.ravel().conj())) == pytest.approx(1.0, abs=1e-9)


# --- erasures ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5, 7])
def test_every_pair_of_erasures_is_recovered(n: int) -> None:
    """Every pair of lost qubits leaves an authorized set: the live code decodes, a zero syndrome needs
    no correction, and random errors on the erased qubits alone never reach the output (their
    letters pulled back through the circuit and read against the live logical representatives)."""
    m = 2 * n + 1
    rng = np.random.default_rng(n)
    for pair in itertools.combinations(range(m), 2):
        dec = Decoder(n, erasures=frozenset(pair))
        corr = dec.decode(np.zeros((1, dec.num_checks), bool))
        assert not corr.x.any() and not corr.z.any()
        # the live logical representatives avoid the erased qubits and are logical X and Z
        for row, letter in ((0, "X"), (1, "Z")):
            lx, lz = dec.code.lx[row], dec.code.lz[row]
            assert not (lx | lz)[list(pair)].any()
            back = stim.PauliString.from_numpy(xs=lx, zs=lz).before(_enc(n))
            want = stim.PauliString(m)
            want[0] = letter
            bx, bz = (back * want).to_numpy()
            assert not bx[0] and not bz[0]
            assert np.array_equal(bx[1 : n + 1], bx[n + 1 :]) and np.array_equal(bz[1 : n + 1], bz[n + 1 :])
        xs, zs = _random_paulis(rng, 16, m)
        keep = np.zeros(m, bool)
        keep[list(pair)] = True
        assert not decode_logical(dec, xs & keep, zs & keep).any()


@pytest.mark.parametrize("n", [2, 3])
def test_dense_engine_two_erasures(n: int) -> None:
    """Lose two qubits (fully depolarize them), measure nothing more, recover from the live set:
    the input's entangled state comes back exactly, for every pair."""
    lay = Layout(n, references=1)
    m = 2 * n + 1
    rng = np.random.default_rng(3 + n)
    v = rng.normal(size=4) + 1j * rng.normal(size=4)
    v /= np.linalg.norm(v)
    base = StateVector.from_input(v, m + 1, input_qubits=[lay.A(), lay.R()])
    base.apply_circuit(encryption(lay, circuit=bell_pairs(lay)))
    want = np.outer(v, v.conj())
    for pair in itertools.combinations(range(m), 2):
        code = live_code(n, frozenset(pair))
        rec = find_recovery(Layout(n), np.flatnonzero(code.live).tolist(), plain=False)
        assert not set(rec.qubits) & set(pair)
        sv = base.copy()
        sv.apply_circuit(rec.circuit.instructions)
        rho = sv.reduced_density_matrix([rec.targets[0], lay.R()])
        assert fidelity(rho, want) == pytest.approx(1.0, abs=1e-9)


def test_erasing_an_unauthorized_complement_is_refused() -> None:
    n = 3
    with pytest.raises(InvalidArgumentError, match="cannot be decoded"):
        Decoder(n, erasures=frozenset({0, 1, 2, 3}))  # only the key is left


@pytest.mark.parametrize("n", [3, 4])
def test_one_erasure_and_one_error(n: int) -> None:
    """Beyond the guarantee (2t + e = 3 = d): with one qubit lost, some single errors are ambiguous;
    exact ML picks, per syndrome, the class most single errors share, so it corrects at least as many
    as lookup's first-found choice."""
    m = 2 * n + 1
    xs, zs = _single_errors(m)
    for lost in range(m):
        live = np.ones(m, bool)
        live[lost] = False
        ex, ez = xs & live, zs & live
        res = {}
        for method in ("lookup", "ml"):
            dec = Decoder(n, erasures=frozenset({lost}), method=method, noise=np.array([0.97, 0.01, 0.01, 0.01]))
            res[method] = ~decode_logical(dec, ex, ez).any(axis=1)
        assert res["ml"].sum() >= res["lookup"].sum()
        assert res["lookup"].sum() >= 1


# --- the syndrome reveals nothing ------------------------------------------------------------------


def _extraction(n: int, error: str | None = None) -> tuple[stim.Circuit, list[str]]:
    """Encryption, an optional Pauli error, then every generator copied onto its own ancilla
    (H, controlled Pauli, H): a unitary circuit whose ancillas hold the syndrome."""
    m = 2 * n + 1
    c = to_stim(encryption(Layout(n), circuit=bell_pairs(Layout(n))))
    if error:
        c += stim.Circuit(error)
    for i, g in enumerate(stabilizers(n)):
        anc = m + i
        c.append("H", [anc])
        for q, ch in enumerate(g[1:]):
            if ch != "I":
                c.append(f"C{ch}", [anc, q])
        c.append("H", [anc])
    labels = [*code_qubit_labels(n), *(f"s{i}" for i in range(2 * n))]
    return c, labels


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("error", [None, "X 1", "Y 0\nZ 3"])
def test_syndrome_reveals_nothing_leakage_engine(n: int, error: str | None) -> None:
    circuit, labels = _extraction(n, error)
    an = LeakageAnalyzer(CliffordEncoding(circuit, inputs=(0,), labels=tuple(labels)))
    anc = labels[2 * n + 1 :]
    assert an.classify(anc).kind == "none"
    base = protocol_analyzer(n)
    # adding the syndrome to any set of stored qubits changes nothing about what it learns
    for sets in (["S1"], ["N1", f"N{n}"], ["A", "S1"], ["S1", "S2"], [f"N{j}" for j in range(1, n + 1)]):
        assert an.classify([*sets, *anc]).kind == base.classify(sets).kind


@pytest.mark.parametrize("n", [2, 3])
def test_syndrome_reveals_nothing_dense(n: int) -> None:
    """The ancillas' reduced state is the same for random inputs (dense engine)."""
    circuit, labels = _extraction(n, "Y 2")
    rng = np.random.default_rng(0)
    gates = {**GATE_MATRICES, "CY": np.kron(np.diag([1, 0]), np.eye(2)) + np.kron(np.diag([0, 1]), GATE_MATRICES["Y"])}
    states = []
    total = len(labels)
    for _ in range(2):
        v = rng.normal(size=2) + 1j * rng.normal(size=2)
        v /= np.linalg.norm(v)
        sv = StateVector.from_input(v, total, input_qubits=[0])
        for inst in circuit.flattened():
            name = inst.name
            targets = [t.value for t in inst.targets_copy()]
            arity = 2 if name.startswith("C") else 1
            for k in range(0, len(targets), arity):
                sv.apply(gates[name], targets[k : k + arity])
        states.append(sv.reduced_density_matrix(list(range(2 * n + 1, total))))
    assert np.allclose(states[0], states[1], atol=1e-9)


# --- the structured maximum-likelihood decoder ---------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_structured_ml_agrees_with_enumeration(n: int) -> None:
    """The O(n) structured ML and the brute-force coset enumeration pick the same logical class
    (corrections differ by a stabilizer) for every syndrome, under uneven per-qubit noise."""
    m = 2 * n + 1
    rng = np.random.default_rng(100 + n)
    probs = rng.dirichlet([30, 1, 1, 1], size=m)
    syn = rng.random((300, 2 * n)) < 0.5
    a = Decoder(n, method="ml", noise=probs, ml_route="structured").decode(syn)
    b = Decoder(n, method="ml", noise=probs, ml_route="enumerate").decode(syn)
    assert not syndrome_of(a.x ^ b.x, a.z ^ b.z, n).any()
    assert _trivial_many(n, a.x ^ b.x, a.z ^ b.z).all()


@pytest.mark.parametrize("n", [2, 6, 12, 30])
def test_structured_ml_corrects_single_errors(n: int) -> None:
    m = 2 * n + 1
    xs, zs = _single_errors(m)
    dec = Decoder(n, method="ml", noise=np.array([0.99, 0.01 / 3, 0.01 / 3, 0.01 / 3]))
    assert dec.ml_route == "structured"
    corr = dec.decode(syndrome_of(xs, zs, n))
    assert _trivial_many(n, xs ^ corr.x, zs ^ corr.z).all()


def test_structured_ml_beats_lookup_at_larger_n() -> None:
    """At n = 10 and 2 % depolarizing storage noise, lookup fails on most double errors; exact ML
    fails far less (stim's pull-back judges)."""
    n, p, shots = 10, 0.02, 20000
    m = 2 * n + 1
    rng = np.random.default_rng(5)
    letter = rng.choice(4, size=(shots, m), p=[1 - p, p / 3, p / 3, p / 3])
    xs, zs = np.isin(letter, (1, 2)), np.isin(letter, (2, 3))
    syn = syndrome_of(xs, zs, n)
    fails = {}
    for method in ("lookup", "ml"):
        c = Decoder(n, method=method, noise=np.array([1 - p, p / 3, p / 3, p / 3])).decode(syn)
        fails[method] = int((~_trivial_many(n, xs ^ c.x, zs ^ c.z)).sum())
    assert fails["ml"] < 0.6 * fails["lookup"]
