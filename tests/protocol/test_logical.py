"""Local plans of logical gates, checked against stim tableaux (an independent engine)."""

import numpy as np
import pytest
import stim

from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, bell_pairs, encryption, to_stim
from qclone.protocol.logical import (
    GATES,
    VOCABULARY,
    NoLocalPlanError,
    available_gates,
    local_unitary,
    plan,
)


def encoder(n: int, k: int = 1) -> stim.Tableau:
    lay = Layout(n, qubits=k)
    return stim.Tableau.from_circuit(to_stim(encryption(lay, circuit=bell_pairs(lay))))


def logical_tableau(n: int, local: tuple[str, ...]) -> stim.Tableau | None:
    """The logical action of a local Clifford tuple, or None if it does not preserve the code (signs included)."""
    t = encoder(n)
    lt = stim.Tableau(2 * n + 1)
    for q, name in enumerate(local):
        lt.append(stim.Tableau.from_named_gate(name), [q])
    m = t.then(lt).then(t.inverse())  # encoded-frame action
    for q in range(1, 2 * n + 1):
        p = m.z_output(q)
        x, _ = p.to_numpy()
        if p.sign != 1 or p[0] != 0 or x.any():
            return None
    xs, zs = m.x_output(0), m.z_output(0)
    a, b = stim.PauliString("IXYZ"[xs[0]]), stim.PauliString("IXYZ"[zs[0]])
    a.sign, b.sign = xs.sign, zs.sign
    return stim.Tableau.from_conjugated_generators(xs=[a], zs=[b])


@pytest.mark.parametrize("name", VOCABULARY)
def test_local_unitary_matches_stim_up_to_phase(name):
    mine = local_unitary(name)
    ref = stim.Tableau.from_named_gate(name).to_unitary_matrix(endian="little")
    assert abs(abs(np.trace(mine.conj().T @ ref)) - 2) < 1e-6  # stim answers complex64
    assert np.allclose(mine @ mine.conj().T, np.eye(2))


NS = [1, 2, 3, 4, 5, 6, 7, 8] + sorted(np.random.default_rng(18).integers(9, 51, size=4).tolist())


@pytest.mark.parametrize("n", NS)
def test_every_plan_is_its_logical_gate_exactly(n):
    gates = available_gates(n)
    assert {"I", "X", "Y", "Z"} <= set(gates)
    for g in gates:
        p = plan(g, n)
        assert len(p.local) == 2 * n + 1
        got = logical_tableau(n, p.local)
        assert got is not None, (g, n)
        assert got == stim.Tableau.from_named_gate(g), (g, n, got)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10])
def test_plan_circuit_is_the_local_tuple(n):
    k = 2
    lay = Layout(n, qubits=k)
    for g in available_gates(n):
        p = plan(g, n)
        c = p.circuit(lay, register_qubit=1)
        got = stim.Tableau(lay.num_qubits)
        sc = to_stim(c)
        if sc.num_qubits:
            got.append(stim.Tableau.from_circuit(sc), list(range(sc.num_qubits)))
        want = stim.Tableau(lay.num_qubits)
        qs = [lay.A(1)] + [lay.S(j, 1) for j in range(1, n + 1)] + [lay.N(j, 1) for j in range(1, n + 1)]
        for q, name in zip(qs, p.local, strict=True):
            want.append(stim.Tableau.from_named_gate(name), [q])
        assert got == want


def test_known_facts_of_the_issue():
    for n in (3, 5, 9):
        assert plan("H", n).local == ("H",) * (2 * n + 1)
        assert "S" not in available_gates(n)
    for n in (2, 4, 6):
        assert "H" not in available_gates(n)
        assert "C_XYZ" in available_gates(n) and plan("F", n).gate == "C_XYZ"
        assert "S" not in available_gates(n)
    for n in range(1, 9):
        for g in "XYZ":
            assert not plan(g, n).needs_key


def test_errors_are_one_line_value_errors():
    with pytest.raises(NoLocalPlanError, match="no local plan") as e:
        plan("S", 4)
    assert isinstance(e.value, ValueError) and "\n" not in str(e.value)
    with pytest.raises(InvalidArgumentError, match="unknown gate"):
        plan("T", 3)
    with pytest.raises(InvalidArgumentError):
        plan("H", 0)
    assert set(available_gates(3)) <= set(GATES)


XXZZ = "CX 0 1\nS 1\nCX 0 1\nH 0 1\nCX 0 1\nS 1\nCX 0 1\nH 0 1"


def _two_object_logical(n: int, gate: str) -> stim.Tableau | None:
    """The logical action of a two-object plan (or, for ``CX``/``CZ``, of that gate qubit-wise), or None."""
    from qclone.protocol import Circuit
    from qclone.protocol.logical import two_object_plan

    lay = Layout(n, qubits=2)
    t = encoder(n, 2)
    nq = lay.num_qubits
    if len(t) < nq:
        full = stim.Tableau(nq)
        full.append(t, list(range(len(t))))
        t = full
    if gate in ("CX", "CZ"):  # every party applies it to its pair: first object controls
        qa = [lay.A(0)] + [lay.S(j, 0) for j in range(1, n + 1)] + [lay.N(j, 0) for j in range(1, n + 1)]
        qb = [lay.A(1)] + [lay.S(j, 1) for j in range(1, n + 1)] + [lay.N(j, 1) for j in range(1, n + 1)]
        c = Circuit(lay.registers).append(gate, np.stack([qa, qb], axis=1).ravel())
    else:
        c = two_object_plan(gate, n).circuit(lay, 0, 1)
    sc = to_stim(c)
    lt = stim.Tableau(nq)
    lt.append(stim.Tableau.from_circuit(sc), list(range(sc.num_qubits)))
    m = t.then(lt).then(t.inverse())
    ins = (lay.A(0), lay.A(1))
    for q in range(nq):
        if q in ins:
            continue
        p = m.z_output(q)
        x, _ = p.to_numpy()
        if p.sign != 1 or x.any() or p[ins[0]] or p[ins[1]]:
            return None

    def restrict(ps):
        s = stim.PauliString(2)
        s[0], s[1] = ps[ins[0]], ps[ins[1]]
        s.sign = ps.sign
        return s

    return stim.Tableau.from_conjugated_generators(
        xs=[restrict(m.x_output(q)) for q in ins], zs=[restrict(m.z_output(q)) for q in ins])


_RANDOM_N = sorted(int(v) for parity in (0, 1)
                   for v in np.random.default_rng(18).choice(np.arange(22 + parity, 51, 2), size=2, replace=False))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 15, 21, *_RANDOM_N])
def test_two_object_plans_exact(n):
    from qclone.protocol.logical import available_two_object_gates

    gates = available_two_object_gates(n)
    assert ("XXZZ" in gates) == (n % 2 == 1)
    for g in gates:
        want = stim.Tableau.from_circuit(stim.Circuit(XXZZ if g == "XXZZ" else "SWAP 0 1"))
        assert _two_object_logical(n, g) == want, (n, g)
    if n % 2 == 0:
        with pytest.raises(NoLocalPlanError):
            from qclone.protocol.logical import two_object_plan

            two_object_plan("XXZZ", n)


@pytest.mark.parametrize("n", [1, 2, 3, *_RANDOM_N])
def test_qubitwise_cx_cz_are_not_logical(n):
    # negative control of the checker above: it rejects gates that break the joint code
    for g in ("CX", "CZ"):
        assert _two_object_logical(n, g) is None, (n, g)
