"""The numpy Heisenberg propagator against stim's own Pauli-string conjugation, and its exact questions
against the dense engine."""

import numpy as np
import pytest
import stim
from hypothesis import given
from hypothesis import strategies as st

from qclone.errors import InvalidArgumentError
from qclone.protocol import Circuit, Layout, bell_pairs, encryption, protocol_circuit, to_stim
from qclone.protocol.circuit import ONE_QUBIT_GATES
from qclone.protocol.operators import bell_state
from qclone.sim.exact import StateVector
from qclone.sim.heisenberg import (
    PauliBatch,
    bell_pair_restored,
    reference_information,
    reference_information_many,
)


@st.composite
def instructions(draw, m: int):
    """Random instructions of every shape the propagator distinguishes."""
    kind = draw(st.sampled_from(["one", "disjoint", "fanout", "ladder", "ladder_back", "shared_target", "any"]))
    if kind == "one":
        name = draw(st.sampled_from(sorted(ONE_QUBIT_GATES)))
        qs = draw(st.lists(st.integers(0, m - 1), min_size=1, max_size=m + 2))
        return name, qs
    name = draw(st.sampled_from(["CX", "CZ", "SWAP"]))
    perm = draw(st.permutations(range(m)))
    if kind == "disjoint":
        k = draw(st.integers(1, m // 2))
        return name, list(perm[: 2 * k])
    if kind == "fanout":
        c = perm[0]
        ts = perm[1 : 1 + draw(st.integers(1, m - 1))]
        pairs = [(c, t) for t in ts]
    elif kind == "shared_target":
        t = perm[0]
        cs = perm[1 : 1 + draw(st.integers(1, m - 1))]
        pairs = [(c, t) for c in cs]
    elif kind in ("ladder", "ladder_back"):
        q = perm[: draw(st.integers(2, m))]
        pairs = list(zip(q[:-1], q[1:]))
        if kind == "ladder_back":
            pairs = pairs[::-1]
    else:
        pairs = []
        for _ in range(draw(st.integers(1, 2 * m))):
            a, b = draw(st.lists(st.integers(0, m - 1), min_size=2, max_size=2, unique=True))
            pairs.append((a, b))
    return name, [q for p in pairs for q in p]


@st.composite
def circuits(draw):
    m = draw(st.integers(2, 9))
    c = Circuit((("q", m),))
    for _ in range(draw(st.integers(1, 8))):
        name, qs = draw(instructions(m))
        c = c.append(name, qs)
    return c


@st.composite
def pauli_lists(draw, m: int):
    k = draw(st.integers(1, 70))  # more than one 64-bit word of columns
    return [
        {q: draw(st.sampled_from("XYZ")) for q in draw(st.lists(st.integers(0, m - 1), unique=True, max_size=m))}
        for _ in range(k)
    ]


def as_stim(p: dict[int, str], m: int) -> stim.PauliString:
    s = stim.PauliString(m)
    for q, letter in p.items():
        s[q] = letter
    return s


@given(circ=circuits(), data=st.data())
def test_conjugation_and_pull_back_match_stim_signs_included(circ, data):
    m = circ.num_qubits
    paulis = data.draw(pauli_lists(m))
    sc = to_stim(circ)
    fwd = PauliBatch.from_letters(m, paulis)
    fwd.conjugate_by(circ)
    back = PauliBatch.from_letters(m, paulis)
    back.pull_back(circ)
    signs = back.signs()
    for c, p in enumerate(paulis):
        ps = as_stim(p, m)
        assert fwd.to_stim(c) == ps.after(sc)
        assert back.to_stim(c) == ps.before(sc)
        assert signs[c] == back.to_stim(c).sign


def test_big_ladder_and_fanout_take_the_bulk_paths_and_still_match_stim():
    n = 3000
    lay = Layout(n)
    circ = protocol_circuit(lay, decrypt=1234)
    sc = to_stim(circ)
    paulis = [{lay.S(1234): "X"}, {lay.S(1234): "Z"}, {lay.N(7): "Y", lay.A(): "X"}]
    b = PauliBatch.from_letters(circ.num_qubits, paulis)
    b.pull_back(circ)
    for c, p in enumerate(paulis):
        assert b.to_stim(c) == as_stim(p, circ.num_qubits).before(sc)


def test_bad_input_is_refused():
    with pytest.raises(InvalidArgumentError):
        PauliBatch.from_letters(2, [{0: "W"}])
    with pytest.raises(InvalidArgumentError):
        PauliBatch.from_letters(2, [{5: "X"}])
    with pytest.raises(InvalidArgumentError):
        PauliBatch(0, 1)
    with pytest.raises(InvalidArgumentError):
        reference_information(protocol_circuit(Layout(2)), [])
    with pytest.raises(InvalidArgumentError):
        reference_information(protocol_circuit(Layout(2)), [1, 1])
    b = PauliBatch.from_letters(2, [{0: "X"}])
    with pytest.raises(InvalidArgumentError):
        b.conjugate_by(Circuit((("q", 3),)).append("CX", [0, 2]))


def dense_information(circ: Circuit, qubits: list[int]) -> float:
    """I(R : qubits) from the dense engine, with R as an extra last qubit."""
    m = circ.num_qubits
    state = StateVector.from_input(bell_state(0), m + 1, input_qubits=[0, m])
    state.apply_circuit(Circuit(((*circ.registers, ("R", 1))), circ.instructions))
    return state.mutual_information([m], qubits)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("depth", ["linear", "log"])
def test_reference_information_agrees_with_the_dense_engine(n, depth):
    lay = Layout(n)
    enc = encryption(lay, depth=depth, circuit=bell_pairs(lay))
    sets = [[q] for q in range(lay.num_qubits)] + [[lay.S(1), lay.N(1)], [lay.A(), *lay.keys][:4], [lay.S(1), lay.S(n)] if n > 1 else [lay.S(1)]]
    got = reference_information_many(enc, sets)
    for qs, info in zip(sets, got):
        assert info.bits == pytest.approx(dense_information(enc, qs), abs=1e-9), qs


def test_n1_lone_clone_leaks_exactly_y():
    lay = Layout(1)
    info = reference_information(encryption(lay, circuit=bell_pairs(lay)), [lay.S(1)])
    assert info.bits == 1.0 and info.leaked == ("Y",) and not info.maximally_mixed


def test_bell_pair_check_can_fail():
    lay = Layout(3)
    good = protocol_circuit(lay, decrypt=2)
    assert bell_pair_restored(good, lay.S(2))
    assert not bell_pair_restored(good, lay.S(1))
    # a Pauli error on the output: still a Bell pair up to that Pauli, but not |Phi+>
    assert not bell_pair_restored(good.append("Z", [lay.S(2)]), lay.S(2))
    assert not bell_pair_restored(good.append("X", [lay.S(2)]), lay.S(2))
    # wrong phase gate in the encryption
    enc = encryption(lay, circuit=bell_pairs(lay))
    broken = Circuit(enc.registers, tuple(i if i.name != "S" else type(i)("S_DAG", i.targets) for i in enc.instructions))
    from qclone.protocol.build import clone_decryption
    assert not bell_pair_restored(clone_decryption(lay, 2, circuit=broken), lay.S(2))


@given(sizes=st.lists(st.integers(1, 130), min_size=1, max_size=5), seed=st.integers(0, 2**32 - 1))
def test_stack_keeps_every_operator(sizes, seed):
    rng = np.random.default_rng(seed)
    m = 5
    lists = [[{int(q): "XYZ"[rng.integers(3)] for q in rng.choice(m, rng.integers(1, m + 1), replace=False)} for _ in range(k)] for k in sizes]
    circ = protocol_circuit(Layout(2), decrypt=1)
    batches = []
    for ps in lists:
        b = PauliBatch.from_letters(m, ps)
        b.pull_back(circ)
        batches.append(b)
    stacked = PauliBatch.stack(batches)
    flat = [(b, c) for b in batches for c in range(b.size)]
    assert stacked.size == len(flat)
    for i, (b, c) in enumerate(flat):
        assert stacked.to_stim(i) == b.to_stim(c)
