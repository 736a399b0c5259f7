"""The F2 engine against the dense reference engine, for every subset at small n, and for any Clifford encoding."""

from itertools import combinations

import numpy as np
import pytest

from qclone.analysis.leakage import (
    CliffordEncoding,
    LeakageAnalyzer,
    classify,
    protocol_analyzer,
    protocol_encoding,
    published_classification,
)
from qclone.analysis.leakage.dense import DenseLeakage
from qclone.errors import InvalidArgumentError
from qclone.protocol import Circuit, Layout, protocol_circuit
from qclone.sim.exact import StateVector, pauli_matrix, random_state


def stages(n):
    out = ["encrypted"] + [f"decrypted:{j}" for j in range(1, n + 1)]
    return out + (["decrypted:A"] if n % 2 == 0 else [])


def all_subsets(m):
    for size in range(m + 1):
        yield from combinations(range(m), size)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_every_subset_is_classified_as_the_dense_engine_does(n):
    """Mutual information, entropy and the leaking Bloch components, for every subset and stage."""
    # n = 4 has 512 subsets per stage: check the encrypted stage, one clone and A decrypted
    chosen = stages(n) if n < 4 else ["encrypted", "decrypted:3", "decrypted:A"]
    for stage in chosen:
        enc = protocol_encoding(n, stage=stage)
        fast, dense = LeakageAnalyzer(enc), DenseLeakage(enc)
        for subset in all_subsets(enc.num_qubits):
            got, want = fast.classify(subset), dense.classify(subset)
            assert (got.kind, got.leaked, got.mutual_information_bits) == (want.kind, want.leaked, want.mutual_information_bits), (stage, subset)
            assert fast.entropy(subset) == pytest.approx(dense.entropy(subset), abs=1e-9), (stage, subset)


def random_clifford(m, depth, rng):
    c = Circuit((("q", m),))
    for _ in range(depth):
        if rng.random() < 0.5 and m > 1:
            a, b = rng.choice(m, 2, replace=False)
            c = c.append(str(rng.choice(["CX", "CZ", "SWAP"])), [a, b])
        else:
            c = c.append(str(rng.choice(["H", "S", "S_DAG", "SQRT_X", "X", "Y", "Z"])), [rng.integers(m)])
    return c


@pytest.mark.parametrize("seed", range(6))
def test_random_clifford_encodings_with_one_or_two_inputs_match_dense(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(3, 6))
    k = 1 + seed % 2
    enc = CliffordEncoding(random_clifford(m, 25, rng), inputs=tuple(rng.choice(m, k, replace=False).tolist()))
    fast, dense = LeakageAnalyzer(enc), DenseLeakage(enc)
    for subset in all_subsets(m):
        got, want = fast.classify(subset), dense.classify(subset)
        assert (got.kind, got.leaked, got.mutual_information_bits) == (want.kind, want.leaked, want.mutual_information_bits), subset
        assert fast.entropy(subset) == pytest.approx(dense.entropy(subset), abs=1e-9)


def expectation(state, operator, layout):
    qubits = [layout.index_of(q) for q, _ in operator]
    rho = state.reduced_density_matrix(qubits)
    return float(np.real(np.trace(rho @ pauli_matrix("".join(p for _, p in operator)))))


@pytest.mark.parametrize("n, stage, qubits", [
    (3, "encrypted", ["S1", "S2", "S3"]),
    (3, "encrypted", ["A", "N1", "N2", "N3"]),
    (3, "encrypted", ["S2", "N1", "N3"]),
    (3, "encrypted", ["A", "S2", "N2"]),
    (4, "encrypted", ["S1", "N1", "N2", "S3", "N4"]),
    (4, "encrypted", ["A", "N1", "N2", "N3", "N4"]),
    (1, "encrypted", ["S1"]),
    (3, "decrypted:2", ["S2"]),
    (5, "encrypted", ["S1", "S2", "S3", "N4", "N5"]),
])
def test_witness_operators_reveal_the_input_with_the_stated_sign(n, stage, qubits):
    """<operator> = sign · <P>_psi on the dense state, for random inputs (an independent check of signs)."""
    lay = Layout(n)
    witnesses = protocol_analyzer(n, stage=stage).witnesses(qubits)
    assert {w.logical for w in witnesses} == set(classify(n, qubits, stage=stage).leaked) != set()
    rng = np.random.default_rng(n)
    for _ in range(2):
        psi = random_state(1, rng)
        state = StateVector.from_input(psi, lay.num_qubits)
        state.apply_circuit(protocol_encoding(n, stage=stage).circuit)
        for w in witnesses:
            assert set(q for q, _ in w.operator) <= set(qubits)
            want = w.sign * float(np.real(np.vdot(psi, pauli_matrix(w.logical) @ psi)))
            assert expectation(state, w.operator, lay) == pytest.approx(want, abs=1e-9), str(w)


def test_large_sets_use_the_complement_and_agree_with_the_direct_computation():
    """classify() works on the complement for large sets; witnesses() works on the set itself."""
    rng = np.random.default_rng(5)
    for n in (5, 7, 9):
        a = protocol_analyzer(n)
        labels = Layout(n).labels
        for _ in range(20):
            size = int(rng.integers(n + 1, 2 * n + 2))
            subset = [labels[i] for i in rng.choice(len(labels), size, replace=False)]
            c = a.classify(subset)
            assert tuple(w.logical for w in a.witnesses(subset)) == c.leaked
            complement = [q for q in labels if q not in subset]
            assert a.mutual_information(subset) + a.mutual_information(complement) == 2


def test_large_n_small_sets_and_small_complements_follow_the_rules():
    for n in (1000, 10_000):
        everything = Layout(n).labels
        for qubits in (["A", "S7", "N7"], ["S1", "S2", "N3"], [q for q in everything if q not in ("A", "S5", "N9")],
                       [q for q in everything if q not in ("S1", "N2")]):
            assert classify(n, qubits) == published_classification(n, qubits), (n, qubits[:3])
    n = 1001
    assert classify(n, [f"S{j}" for j in range(1, n + 1)]).leaked == ("Y",)
    half = [f"S{j}" for j in range(1, 501)] + [f"N{j}" for j in range(501, 1002)]
    assert classify(n, half) == published_classification(n, half)


def test_parallel_composition_adds_the_information_of_its_parts():
    one = protocol_encoding(3)
    two = LeakageAnalyzer(CliffordEncoding.parallel([one, one]))
    single = LeakageAnalyzer(one)
    rng = np.random.default_rng(2)
    for _ in range(30):
        sets = [list(rng.choice(one.labels, int(rng.integers(0, 7)), replace=False)) for _ in range(2)]
        qubits = [f"{q}@0" for q in sets[0]] + [f"{q}@1" for q in sets[1]]
        assert two.mutual_information(qubits) == single.mutual_information(sets[0]) + single.mutual_information(sets[1])
    # S1 S2 S3 of both copies: Y of each input and their product YY
    c = two.classify([f"S{j}@{i}" for j in (1, 2, 3) for i in (0, 1)])
    assert c.leaked == ("IY", "YI", "YY") and c.mutual_information_bits == 2 and c.kind == "partial"


def test_stim_circuits_are_accepted_and_checked():
    import stim

    from qclone.protocol import to_stim
    enc = CliffordEncoding(to_stim(protocol_circuit(Layout(3))), inputs=(0,))
    assert LeakageAnalyzer(enc).classify(["q1", "q2", "q3"]).leaked == ("Y",)
    with pytest.raises(InvalidArgumentError, match="unitary"):
        CliffordEncoding(stim.Circuit("H 0\nM 0"), inputs=(0,))


def test_pair_symmetry_check():
    a = protocol_analyzer(3)
    assert a.invariant_under([0, 2, 1, 3, 5, 4, 6])      # swap pairs 1 and 2
    assert not a.invariant_under([0, 4, 2, 3, 1, 5, 6])  # swap S1 with N1
    d = protocol_analyzer(3, stage="decrypted:1")
    assert not d.invariant_under([0, 2, 1, 3, 5, 4, 6]) and d.invariant_under([0, 1, 3, 2, 4, 6, 5])
    with pytest.raises(InvalidArgumentError, match="fix the input"):
        a.invariant_under([1, 0, 2, 3, 4, 5, 6])
    with pytest.raises(InvalidArgumentError, match="permutation"):
        a.invariant_under([0, 0, 2, 3, 4, 5, 6])


def test_minimal_sets():
    # c = 1 and t = n: every one of the four is needed
    assert protocol_analyzer(3).minimal_sets(["S1", "S2", "S3", "N1"]) == (("S1", "S2", "S3", "N1"),)
    assert protocol_analyzer(3).minimal_sets(["S3", "S1", "S2"]) == (("S1", "S2", "S3"),)
    assert protocol_analyzer(3).minimal_sets(["S1", "S2"]) == ()
    # n = 2 is a perfect [[5,1,3]] code: any three of the five qubits recover the state
    assert protocol_analyzer(2).minimal_sets(["A", "S1", "N1", "S2"]) == (("A", "S1", "S2"), ("A", "S1", "N1"), ("A", "S2", "N1"), ("S1", "S2", "N1"))


@pytest.mark.parametrize("call, fragment", [
    (lambda: classify(3, ["S4"]), "unknown qubit"),
    (lambda: classify(3, "S1"), "collection"),
    (lambda: classify(0, ["A"]), "at least 1"),
    (lambda: classify(3, ["A"], stage="stored"), "unknown stage"),
    (lambda: classify(3, ["A"], stage="decrypted:4"), "1..3"),
    (lambda: classify(3, ["A"], stage="decrypted:A"), "even"),
    (lambda: CliffordEncoding(protocol_circuit(Layout(2)), inputs=()), "at least one input"),
    (lambda: CliffordEncoding(protocol_circuit(Layout(2)), inputs=(0, 9)), "distinct indices"),
    (lambda: CliffordEncoding(protocol_circuit(Layout(2)), inputs=(0,), labels=("a",) * 5), "distinct"),
    (lambda: LeakageAnalyzer(protocol_encoding(2)).classify([7]), "outside"),
])
def test_bad_input_raises_a_qclone_error(call, fragment):
    with pytest.raises(Exception) as info:
        call()
    from qclone.errors import QcloneError
    assert isinstance(info.value, QcloneError) and fragment in str(info.value)


def test_label_spellings_and_repeats():
    assert classify(3, ["s_1", "S2", " s3 ", "S1"]).leaked == ("Y",)
    assert classify(3, []).kind == "none"
    assert classify(3, ["A", "S1", "S2", "S3", "N1", "N2", "N3"]).kind == "authorized"
