"""Stage-by-stage pull-backs: against stim's PauliString.before and the gate-by-gate engine, faults caught."""

import numpy as np
import pytest
import stim
from hypothesis import given, settings
from hypothesis import strategies as st

from qclone.errors import InvalidArgumentError, UnsupportedError
from qclone.protocol import Layout, bell_pairs, encryption, to_stim
from qclone.protocol.build import clone_decryption, empty_circuit, input_decryption
from qclone.protocol.circuit import Circuit, Instruction
from qclone.sim import structured as s


def as_stim(ops: s.UniformPaulis, c: int) -> stim.PauliString:
    x, z = ops.dense([c])
    ys = int(np.count_nonzero(x[:, 0] & z[:, 0]))
    e = int((ops.phase[c] - ys) % 4)
    return stim.PauliString.from_numpy(xs=x[:, 0], zs=z[:, 0], sign=(1, 1j, -1, -1j)[e])


def full_circuit(lay: Layout, depth: str, j: int | str) -> Circuit:
    c = encryption(lay, depth=depth, circuit=bell_pairs(lay))
    if j == "A":
        return input_decryption(lay, depth=depth, circuit=c)
    return clone_decryption(lay, j, circuit=c)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), depth=st.sampled_from(["linear", "log"]), seed=st.integers(0, 10**6), data=st.data())
def test_pull_back_equals_stims_before(n, depth, seed, data):
    """Random uniform Paulis pulled back through the whole protocol: stages here, stim on the gates."""
    lay = Layout(n)
    target = data.draw(st.sampled_from(["A", *range(1, n + 1)]) if n % 2 == 0 else st.integers(1, n))
    j = 1 if target == "A" else target
    ops = s.random_uniform(n, 8, seed, j=np.full(8, j))
    before = [as_stim(ops, c) for c in range(8)]
    ops.pull_back(s.protocol_stages(lay, depth=depth, decrypt="A" if target == "A" else "clone"))
    circ = to_stim(full_circuit(lay, depth, target))
    for c in range(8):
        assert before[c].before(circ) == as_stim(ops, c)


@pytest.mark.parametrize("n", [1, 2, 3, 6, 11, 64, 65, 130])
@pytest.mark.parametrize("depth", ["linear", "log"])
def test_stages_agree_with_the_builders_gate_by_gate(n, depth):
    lay = Layout(n)
    enc = encryption(lay, depth=depth, circuit=bell_pairs(lay))
    stages = s.protocol_stages(lay, depth=depth)
    for forward in (False, True):
        assert s.agrees_with_circuit(n, stages, enc, size=130, seed=n, forward=forward)
    for j in sorted({1, (n + 1) // 2, n}):
        dec = clone_decryption(lay, j, circuit=empty_circuit(lay))
        for forward in (False, True):
            assert s.agrees_with_circuit(n, (s.CloneDecryption(),), dec, j=j, seed=j, forward=forward)
    if n % 2 == 0:
        dec_a = input_decryption(lay, depth=depth, circuit=empty_circuit(lay))
        assert s.agrees_with_circuit(n, s.input_decryption_stages(depth), dec_a)


def _edit(c: Circuit, fn) -> Circuit:
    return Circuit(c.registers, tuple(x for ins in c.instructions for x in fn(ins)))


@pytest.mark.parametrize("n", [2, 5, 8])
def test_injected_faults_disagree(n):
    lay = Layout(n)
    j = n // 2 + 1
    dec = clone_decryption(lay, j, circuit=empty_circuit(lay))
    dropped = lay.N(1 if j != 1 else 2)

    def drop_key_qubit(ins):  # one key qubit left out of both fan-outs
        pairs = ins.targets.reshape(-1, ins.arity)
        keep = ~np.any(pairs == dropped, axis=1)
        if keep.any():
            yield Instruction(ins.name, pairs[keep].ravel())

    def s_for_s_dag(ins):
        yield Instruction("S_DAG", ins.targets) if ins.name == "S" else ins

    faults = {"dropped key qubit": _edit(dec, drop_key_qubit), "S for S_DAG": _edit(dec, s_for_s_dag)}
    for name, bad in faults.items():
        assert not s.agrees_with_circuit(n, (s.CloneDecryption(),), bad, j=j), name

    enc = encryption(lay, circuit=bell_pairs(lay))
    first = next(i for i, ins in enumerate(enc.instructions) if ins.name == "CX" and ins.bounds[0] == 0)

    def missing_cx(ins, _seen=[]):  # noqa: B006 - counts instructions across calls of one edit
        _seen.append(ins)
        if len(_seen) - 1 == first:
            yield Instruction("CX", ins.targets[2:]) if ins.size > 1 else Instruction("H", [0])
        else:
            yield ins

    assert not s.agrees_with_circuit(n, s.protocol_stages(lay), _edit(enc, missing_cx))
    # and the gates as built agree
    assert s.agrees_with_circuit(n, (s.CloneDecryption(),), dec, j=j)


def test_readouts_of_one_decrypted_clone_at_a_billion_clones():
    n = 10**9
    ops = s.UniformPaulis.single(n, "j", [n, n, n, 7, 7, 7], ["X", "Z", "Y"] * 2)
    ops.pull_back(s.protocol_stages(Layout(n), decrypt="clone"))
    assert s.bell_pair_restored(ops, x_columns=np.array([0, 3])).tolist() == [True, True]
    info = s.single_qubit_information(ops)
    assert info.bits.tolist() == [2.0, 2.0] and not info.maximally_mixed.any()
    enc_only = s.UniformPaulis.single(n, "j", [3, 3, 3], ["X", "Z", "Y"])
    enc_only.pull_back(s.protocol_stages(Layout(n)))
    assert s.single_qubit_information(enc_only).maximally_mixed.tolist() == [True]


def test_one_clone_leaks_y():
    ops = s.UniformPaulis.single(1, "j", [1, 1, 1], ["X", "Z", "Y"])
    ops.pull_back(s.protocol_stages(Layout(1)))
    info = s.single_qubit_information(ops)
    assert info.bits.tolist() == [1.0] and s.leaked_letters(int(info.leaked[0])) == ("Y",)


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError):
        s.UniformPaulis(0, np.array([1]))
    with pytest.raises(InvalidArgumentError):
        s.UniformPaulis(3, np.array([4]))
    with pytest.raises(InvalidArgumentError):
        s.UniformPaulis.single(3, "S", [1], ["X"])
    with pytest.raises(InvalidArgumentError):
        s.UniformPaulis.single(3, "j", [1], ["W"])
    with pytest.raises(UnsupportedError):
        s.protocol_stages(Layout(3), decrypt="A")
    with pytest.raises(InvalidArgumentError):
        s.protocol_stages(Layout(3), decrypt="B")  # type: ignore[arg-type]  # deliberately wrong
    with pytest.raises(InvalidArgumentError):
        s.single_qubit_information(s.UniformPaulis(3, np.array([1, 1])))
