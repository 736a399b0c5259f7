"""Modules on hardware: the routed device circuits are the logical compositions (dense engine,
qiskit Statevector), noiseless runs recover the data exactly, noisy ones land in a sane range."""

import numpy as np
import pytest
from qiskit.quantum_info import Statevector, partial_trace

from qclone.analysis.scaling import CLASSICAL_LIMIT
from qclone.errors import InvalidArgumentError
from qclone.hardware.backends import AerRunner, active_qubits, renumber
from qclone.hardware.composition import compile_modules, measure_modules, module_circuits
from qclone.protocol import Circuit
from qclone.sim.exact import StateVector


def _random_qubit(rng):
    v = rng.normal(size=2) + 1j * rng.normal(size=2)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("kind, clones", [("parallel", 2), ("series", 2), ("interleaved", 2)])
def test_device_circuit_is_the_logical_composition(fez, kind, clones):
    """Full final state of the routed ISA circuit (qiskit) = the logical composition's (dense engine),
    every qubit where the transpiler's final layout says, spare qubits back in |0>; the data
    register holds the random input again."""
    rng = np.random.default_rng(7)
    comp, enc, dec, steps = module_circuits(kind, clones)
    inputs = [_random_qubit(rng) for _ in comp.data_qubits]
    # dense engine on the logical circuit (qubit 0 most significant)
    data = inputs[0]
    for v in inputs[1:]:
        data = np.kron(data, v)
    logical = StateVector.from_input(data, comp.num_qubits, input_qubits=list(comp.data_qubits))
    for stage in enc + dec:
        logical.apply_circuit(stage)
    # the device circuit, restricted to the qubits it uses, with the inputs prepared on the data qubits
    compiled = compile_modules(fez, kind, clones)
    active = list(active_qubits([compiled.circuit]))
    active += [q for q in compiled.initial_physical if q not in active]
    small = renumber(compiled.circuit, active)
    pos = {p: i for i, p in enumerate(active)}
    prep = small.copy_empty_like()
    for q, v in zip(comp.data_qubits, inputs):
        prep.initialize(v, [pos[compiled.initial_physical[q]]])
    state = Statevector(prep.compose(small))
    final = compiled.circuit.layout.final_index_layout()
    # expected: virtual qubit q on position pos[final[q]], the spare qubits in |0>
    v, m = comp.num_qubits, len(active)
    taken = [pos[final[q]] for q in range(v)]
    rest = [i for i in range(m) if i not in taken]
    source = Statevector(logical.vector)  # qiskit qubit i: virtual v-1-i
    if m > v:
        source = source.expand(Statevector.from_label("0" * (m - v)))
    target_pos = [taken[v - 1 - i] for i in range(v)] + rest
    moved = np.moveaxis(source.data.reshape((2,) * m), [m - 1 - i for i in range(m)], [m - 1 - t for t in target_pos])
    assert abs(np.vdot(moved.ravel(), state.data)) == pytest.approx(1, abs=1e-9)
    # and the data register is back on the output qubits
    for p, vec in zip(compiled.output_physical, inputs):
        red = partial_trace(state, [j for j in range(m) if j != pos[p]]).data
        assert np.real(np.vdot(vec, red @ vec)) == pytest.approx(1, abs=1e-9)


@pytest.mark.parametrize("kind", ["parallel", "series", "interleaved"])
def test_noiseless_run_gives_one(fez, kind):
    r = measure_modules(fez, kind, 1, shots=100, runner=AerRunner(method="statevector"), inputs=("0", "-", "+i"), bootstrap=5, seed=3)
    assert r.fidelity == pytest.approx(1, abs=1e-9) and r.ci_low == pytest.approx(1, abs=1e-9)
    assert all(f == pytest.approx(1, abs=1e-9) for f in r.qubit_fidelities)
    assert len(r.qubit_fidelities) == (1 if kind == "series" else 2)


def test_noisy_modules_are_in_a_sane_range(fez):
    results = {k: measure_modules(fez, k, 1, shots=300, runner=AerRunner(fez), inputs=("0", "+", "+i"), bootstrap=20, seed=4)
               for k in ("series", "interleaved")}  # fmt: skip
    for r in results.values():
        assert CLASSICAL_LIMIT < r.ci_low <= r.fidelity <= r.ci_high < 1
        assert all(CLASSICAL_LIMIT < f < 1 for f in r.qubit_fidelities)
        assert r.runner == "aer:fake_fez"


def test_interleaving_shortens_the_parallel_modules(fez):
    seq = compile_modules(fez, "parallel", 2)
    inter = compile_modules(fez, "interleaved", 2)
    assert inter.stats.depth < seq.stats.depth
    assert len(seq.output_physical) == len(inter.output_physical) == 2


def test_bad_arguments(fez):
    with pytest.raises(InvalidArgumentError):
        module_circuits("braided", 2)
    with pytest.raises(InvalidArgumentError):
        module_circuits("series", 2, levels=1)
    with pytest.raises(InvalidArgumentError):
        module_circuits("parallel", 2, decrypt=3)
    with pytest.raises(InvalidArgumentError):
        compile_modules(fez, "series", 2, input="2")
    assert isinstance(module_circuits("series", 2, levels=3)[1][0], Circuit)


def test_module_circuits_carry_stage_barriers_and_metadata(fez):
    for kind, stages in (("parallel", 4), ("series", 4), ("interleaved", 2)):
        c = compile_modules(fez, kind, 2, input="+")
        md = c.circuit.metadata
        assert md["kind"] == kind and md["n"] == 2 and md["decrypt"] == 1 and md["input"] == "+"
        assert len(md["stages"]) == stages and md["device"] == "fake_fez"
        assert md["k"] == len(c.composition.data_qubits) and md["levels"] == (2 if kind == "series" else 1)
        # a barrier after the input and after every stage
        assert c.circuit.count_ops()["barrier"] == stages + 1
