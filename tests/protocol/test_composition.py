"""Compositions of modules: structure, schedules (interleaved == sequential), enforced decryption order, recovery."""

import numpy as np
import pytest
import stim

from qclone.errors import InvalidArgumentError, UnsupportedError
from qclone.protocol import (
    Circuit,
    Composition,
    Layout,
    Module,
    parallel_composition,
    protocol_circuit,
    series_composition,
    to_stim,
)
from qclone.protocol.composition import DecryptionState, interleave, remap, sequence
from qclone.sim.exact import (
    StateVector,
    circuit_unitary,
    equal_up_to_global_phase,
    fidelity,
    random_state,
)

SMALL = {
    "series on a clone": series_composition(1, 2, 2, references=1),
    "series on the key": series_composition(1, 2, 2, target="key", references=1),
    "three levels": series_composition(1, 2, 3, references=1),
    "parallel registers": parallel_composition([1, 1], [2, 3], references=2),
    "register in series": series_composition(2, 1, 2, references=2),
}


def test_layout_of_a_series_and_labels_round_trip():
    comp = series_composition(2, 3, 3)
    assert [m.inputs for m in comp.modules] == [("I0", "I1"), ("m1.S0_1", "m1.S1_1"), ("m2.S0_1", "m2.S1_1")]
    assert comp.num_qubits == 2 + 3 * 2 * 3 * 2
    assert [comp.index_of(lab) for lab in comp.labels] == list(range(comp.num_qubits))
    assert [name for name, _ in comp.registers] == ["I", "m1_S", "m1_N", "m2_S", "m2_N", "m3_S", "m3_N"]
    assert [comp.depth(m.name) for m in comp.modules] == [0, 1, 2]
    key = series_composition(1, 2, 2, target="key")
    assert key.modules[1].inputs == ("m1.N0_1", "m1.N0_2") and key.modules[1].qubits == 2


@pytest.mark.parametrize("name", sorted(SMALL))
def test_interleaved_schedule_is_the_sequential_unitary(name):
    comp = SMALL[name]
    refs = list(comp.reference_qubits)
    spectator = Circuit(comp.registers).append("H", refs[:1]).append("S", refs[-1:])
    if len(refs) > 1:
        spectator = spectator.append("CX", refs[:2])
    seq = comp.encryption_circuit(schedule="sequential", spectator=spectator)
    inter = comp.encryption_circuit(schedule="interleaved", spectator=spectator)
    assert str(seq) != str(inter)
    assert to_stim(seq).to_tableau() == to_stim(inter).to_tableau()
    for depth in ("linear", "log"):
        assert to_stim(comp.encryption_circuit(depth=depth)).to_tableau() == to_stim(
            comp.encryption_circuit(schedule="interleaved", depth=depth)).to_tableau()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_recovery_path_restores_the_entangled_data_exactly(name):
    comp = SMALL[name]
    k = comp.inputs
    refs = list(comp.reference_qubits)
    psi = random_state(2 * k, np.random.default_rng(len(name)))
    enc = comp.encryption_circuit(schedule="interleaved")
    paths = comp.recovery_paths
    total_clones = sum(m.clones for m in comp.modules)
    assert len(paths) >= total_clones - (len(comp.modules) - 1)
    for path in paths:
        st = StateVector.from_input(psi, comp.num_qubits, input_qubits=list(comp.data_qubits) + refs)
        st.apply_circuit(enc + comp.decryption_circuit(path))
        out = list(comp.output_qubits(path))
        assert fidelity(st.reduced_density_matrix(out + refs), psi) == pytest.approx(1, abs=1e-9), path
        rest = [q for q in range(comp.num_qubits) if q not in out and q not in refs]
        assert st.mutual_information(refs, rest) == pytest.approx(0, abs=1e-9)


def test_the_decryption_order_is_enforced():
    comp = series_composition(1, 3, 2)
    with pytest.raises(UnsupportedError, match="decrypt module m2 first"):
        comp.decryption_circuit([("m1", 1)])
    comp.decryption_circuit([("m1", 2)])  # clone 2 was not re-cloned: direct decryption is fine
    with pytest.raises(UnsupportedError, match="already decrypted"):
        comp.decryption_circuit([("m2", 1), ("m2", 2)])
    key = series_composition(1, 2, 2, target="key")
    for j in (1, 2):
        with pytest.raises(UnsupportedError, match="decrypt module m2 first"):
            key.decryption_circuit([("m1", j)])
    state = DecryptionState.start(key).after("m2", 2)
    # m1's key now lives on m2's clone 2
    assert state.where[key.index_of("m1.N0_1")] == key.index_of("m2.S0_2")
    assert state.where[key.index_of("m1.N0_2")] == key.index_of("m2.S1_2")
    with pytest.raises(UnsupportedError):
        key.output_qubits([("m2", 1)])  # the data itself is not decrypted yet


def test_unwinding_picks_the_clone_that_holds_the_content():
    comp = series_composition(1, 3, 3)
    assert comp.unwind("m3", 3) == (("m3", 3), ("m2", 1), ("m1", 1))
    assert comp.unwind("m2", 2) == (("m2", 2), ("m1", 1))
    assert comp.unwind("m1", 3) == (("m1", 3),)
    assert comp.output_qubits(comp.unwind("m3", 3)) == (comp.index_of("m3.S0_3"),)
    with pytest.raises(InvalidArgumentError):
        comp.unwind("m3", 4)
    with pytest.raises(InvalidArgumentError):
        comp.unwind("m9", 1)


def test_bad_compositions_raise():
    with pytest.raises(InvalidArgumentError, match="not encrypted"):
        Composition(2, (Module("m1", 2, ("I0",)),))
    with pytest.raises(InvalidArgumentError, match="both"):
        Composition(1, (Module("m1", 2, ("I0",)), Module("m2", 2, ("I0",))))
    with pytest.raises(InvalidArgumentError, match="earlier module"):
        Composition(1, (Module("m1", 2, ("I0",)), Module("m2", 2, ("m3.S0_1",))))
    with pytest.raises(InvalidArgumentError, match="earlier module"):
        Composition(1, (Module("m1", 2, ("I0", "m1.S0_1")),))
    with pytest.raises(InvalidArgumentError, match="names"):
        Module("M1", 2, ("I0",))
    with pytest.raises(InvalidArgumentError):
        series_composition(1, 2, 0)
    with pytest.raises(InvalidArgumentError):
        series_composition(1, 2, 2, target="pair")
    with pytest.raises(InvalidArgumentError):
        parallel_composition([1, 0], 2)
    comp = series_composition(1, 2, 2)
    with pytest.raises(InvalidArgumentError, match="schedule"):
        comp.encryption_circuit(schedule="random")
    with pytest.raises(InvalidArgumentError, match="belongs to a module"):
        comp.encryption_circuit(spectator=Circuit(comp.registers).append("H", [0]))


def test_large_series_builds_in_bulk():
    comp = series_composition(2, 2000, 3)
    c = comp.encryption_circuit(schedule="interleaved")
    assert c.num_qubits == 2 + 3 * 2 * 2000 * 2
    assert c.num_two_qubit_gates == 3 * 2 * 5 * 2000
    assert len(comp.recovery_paths) == 3 * 2000 - 2
    assert isinstance(to_stim(c), stim.Circuit)


# ---------------------------------------------------------------- circuit tools (remap, interleave, sequence)
def test_interleave_of_disjoint_circuits_equals_sequence():
    rng = np.random.default_rng(3)
    regs = (("q", 6),)
    parts = []
    for qs in ([0, 1, 2], [3, 4], [5]):
        c = Circuit(regs)
        for _ in range(8):
            if len(qs) > 1 and rng.random() < 0.5:
                a, b = rng.choice(qs, 2, replace=False)
                c = c.append(rng.choice(["CX", "CZ", "SWAP"]), [a, b])
            else:
                c = c.append(rng.choice(["H", "S", "X", "SQRT_X"]), [rng.choice(qs)])
        parts.append(c)
    mixed = interleave(parts)
    assert mixed.num_gates == sum(p.num_gates for p in parts)
    assert len(mixed.instructions) <= sum(len(p.instructions) for p in parts)
    u_seq = circuit_unitary(sequence(parts), range(6))
    assert equal_up_to_global_phase(circuit_unitary(mixed, range(6)), u_seq)


def test_interleave_refuses_shared_qubits_and_different_registers():
    regs = (("q", 3),)
    a = Circuit(regs).append("H", [0])
    b = Circuit(regs).append("CX", [0, 1])
    with pytest.raises(InvalidArgumentError, match="both act on qubit 0"):
        interleave([a, b])
    with pytest.raises(InvalidArgumentError):
        interleave([a, Circuit((("r", 3),)).append("H", [2])])
    with pytest.raises(InvalidArgumentError):
        interleave([])


def test_remap_moves_a_protocol_and_checks_the_mapping():
    c = protocol_circuit(Layout(2), decrypt=1)
    mapping = np.array([7, 1, 3, 5, 0])
    moved = remap(c, mapping, (("q", 8),))
    assert moved.num_qubits == 8 and moved.num_two_qubit_gates == c.num_two_qubit_gates
    u = circuit_unitary(c, range(5))
    assert equal_up_to_global_phase(circuit_unitary(moved, list(mapping)), u)
    with pytest.raises(InvalidArgumentError):
        remap(c, [0, 0, 1, 2, 3], (("q", 8),))
    with pytest.raises(InvalidArgumentError):
        remap(c, [0, 1], (("q", 8),))
    with pytest.raises(InvalidArgumentError):
        remap(c, [0, 1, 2, 3, 9], (("q", 8),))
