"""Recovery from any authorized set, checked against independent computations.

The dense engine (qclone.sim.exact) runs encryption then the recovery on random
inputs entangled with a reference; stim tableaux do the same at larger n; the
leakage engine's GF(2) elimination (LeakageAnalyzer) decides authorization
independently of the closed form the recovery module uses.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from qclone.analysis.leakage import protocol_analyzer
from qclone.analysis.recovery import (
    UnauthorizedSetError,
    choose_recovery,
    classify_set,
    find_recovery,
    is_authorized,
    output_images,
    plain_recovery,
)
from qclone.protocol import Layout, protocol_circuit
from qclone.sim.exact import StateVector, fidelity, random_state


def subsets(m):
    for size in range(m + 1):
        yield from combinations(range(m), size)


class Dense:
    """The encrypted state of one random input entangled with references, recovered by the dense engine."""

    def __init__(self, n: int, k: int, seed: int) -> None:
        self.layout = Layout(n, qubits=k, references=k)
        self.plain = Layout(n, qubits=k)
        rng = np.random.default_rng(seed)
        self.input = random_state(2 * k, rng)  # A_0..A_k-1 then R_0..R_k-1: a mixed marginal on A
        lay = self.layout
        sv = StateVector.from_input(self.input, lay.num_qubits,
                                    input_qubits=[*lay.inputs, *lay.reference_qubits])
        sv.apply_circuit(protocol_circuit(lay))
        self.encrypted = sv

    def recover(self, qubits) -> tuple[StateVector, tuple[int, ...]]:
        rec = find_recovery(self.plain, qubits)
        assert set(rec.qubits) <= set(qubits)
        assert rec.circuit.qubits_touched() <= set(rec.qubits)
        sv = self.encrypted.copy()
        sv.apply_circuit(_on(self.layout, rec.circuit))
        return sv, rec.targets

    def fidelity(self, sv: StateVector, targets) -> float:
        out = sv.reduced_density_matrix([*targets, *self.layout.reference_qubits])
        return fidelity(self.input, out)


def _on(layout: Layout, circuit):
    """The same gates on a layout with references (the qubit indices do not change)."""
    from qclone.protocol import Circuit

    return Circuit(layout.registers, circuit.instructions)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_every_authorized_set_recovers_a_reference_entangled_input_exactly(n):
    dense = Dense(n, 1, seed=n)
    refs = dense.layout.reference_qubits
    count = 0
    for subset in subsets(2 * n + 1):
        if not is_authorized(dense.plain, subset):
            continue
        count += 1
        sv, targets = dense.recover(subset)
        assert dense.fidelity(sv, targets) == pytest.approx(1, abs=1e-9), subset
        # exactly once: everything but the output is independent of the input
        rest = [q for q in range(2 * n + 1) if q not in targets]
        assert sv.mutual_information(list(refs), rest) == pytest.approx(0, abs=1e-9), subset
    assert count > 0


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_authorization_agrees_with_the_leakage_engine_on_every_set(n):
    analyzer = protocol_analyzer(n)
    lay = Layout(n)
    for subset in subsets(2 * n + 1):
        exact = analyzer.classify(subset)
        mine = classify_set(lay, subset)[0]
        assert (mine.kind, mine.leaked) == (exact.kind, exact.leaked), subset
        assert is_authorized(lay, subset) == (exact.kind == "authorized")


def test_unauthorized_sets_are_refused_with_the_reason():
    with pytest.raises(UnauthorizedSetError) as err:
        find_recovery(Layout(3), [1, 2, 3])
    assert err.value.missing == "the set holds no logical X or Z (it learns only the Y component)"
    with pytest.raises(UnauthorizedSetError) as err:
        find_recovery(Layout(4), Layout(4).keys)
    assert err.value.missing == "the set learns nothing about the state"


def test_plain_decryption_and_choose_recovery():
    lay = Layout(3)
    rec = find_recovery(lay, [lay.S(2), *lay.keys])
    assert rec.plain_clone == 2 and rec.targets == (lay.S(2),)
    holders = {"client": [lay.A()], "vault": list(lay.keys), **{f"p{j}": [lay.S(j)] for j in (1, 2, 3)}}
    rec, used = choose_recovery(lay, holders, ["client", "p1", "p2", "p3"], rank=lambda h: 0)
    assert used == ("client", "p1", "p2", "p3") and rec.plain_clone is None
    with pytest.raises(UnauthorizedSetError):
        choose_recovery(lay, holders, ["p1", "p2", "p3"])


def test_output_images_of_the_plain_decryption_match_the_gates():
    lay = Layout(2)
    images = output_images(plain_recovery(lay, 1))
    assert set(images) == {lay.S(1), *lay.keys}
