"""Property checks of encrypted cloning (the properties 1–8 of docs/protocol.md) on the dense engine (or another engine).

Users call :func:`verify_protocol` to check the construction for a given n;
the test suite calls the same function for n = 1..8. Every number is computed
by the dense reference engine from the circuits (and, for property 1, from the
PRL's independent dense formulas).

Inputs used for each n (all random from ``seed``):

* ``pure``: a Haar-random |ψ⟩ on A, the reference R in |0⟩;
* ``mixed``: a random full-rank ρ on A, purified with R (checked on S_j alone);
* ``entangled``: the same purification, checked on the pair (R, S_j);
* ``bell``: A maximally entangled with R, for information measures
  (I(R : X) = 0 bits means X knows nothing of the input, 2 bits everything).

Examples:
    >>> report = verify_protocol(2, seed=1)
    >>> report.passed
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qclone.analysis.checks import TOL, CheckList, Report
from qclone.errors import TooLargeError
from qclone.protocol import Layout, bell_pairs, bell_state, encryption, encryption_exponential, encryption_sum, protocol_circuit
from qclone.protocol.build import clone_decryption, input_decryption
from qclone.protocol.layout import single_clone_warning
from qclone.protocol.operators import MAX_DENSE_CLONES, clone_decryption_projector, input_decryption_exponential
from qclone.sim.engine import DENSE, Engine, SimState
from qclone.sim.exact import (
    DensityMatrix,
    StateVector,
    bloch_vector,
    circuit_unitary,
    equal_up_to_global_phase,
    fidelity,
    is_unitary,
    purification,
    random_density_matrix,
    random_state,
)

#: Largest n the exact verification accepts (2n + 2 qubits in one state vector).
MAX_VERIFY_CLONES = 8

PROPERTY_TITLES = {
    1: "U_enc and U_dec are unitary; the exponential, sum and gate-level forms agree",
    2: "every single clone S_j is maximally mixed after encryption (n >= 2)",
    3: "A is maximally mixed after encryption",
    4: "decrypting any clone recovers the input exactly (pure, mixed, entangled)",
    5: "one clone alone (and the key alone) carries no information about the input",
    6: "after one decryption the other qubits are independent of the input (key consumed)",
    7: "coherent information of encrypt-then-decrypt is 1 at t = pi/4",
    8: "for even n, {A, N_1..N_n} is authorized and A decrypts; for odd n it is partial",
}


@dataclass(frozen=True)
class VerificationReport(Report):
    clones: int
    seed: int
    #: which engine computed the checks (a name of :data:`qclone.sim.engine.ENGINES`)
    engine: str = "dense"
    #: the clones j whose checks ran; None means every clone 1..n
    checked_clones: tuple[int, ...] | None = None

    def to_dict(self) -> dict:
        return {
            "clones": self.clones,
            "seed": self.seed,
            "engine": self.engine,
            "checked_clones": "all" if self.checked_clones is None else list(self.checked_clones),
            "properties": {str(k): v for k, v in PROPERTY_TITLES.items()},
        } | self.checks_dict()


def _worst(values: Sequence[float], expected: float) -> float:
    """The value furthest from ``expected`` (what a check reports)."""
    return max(values, key=lambda v: abs(v - expected))


def _encrypted(engine: Engine, lay: Layout, input_ar: np.ndarray) -> SimState:
    """Bell pairs and encryption applied to a two-qubit input on (A, R)."""
    state = engine.prepare(lay.num_qubits, input_ar, [lay.A(), lay.R()])
    engine.apply(state, encryption(lay, circuit=bell_pairs(lay)))
    return state


def _check_dense_forms(c: CheckList, lay: Layout) -> None:
    n = lay.clones
    exp_form = encryption_exponential(n)
    sum_form = encryption_sum(n)
    c.truth(1, "U_enc (exponential form) is unitary", is_unitary(exp_form.matrix))
    c.truth(1, "U_enc sum form equals exponential form", np.allclose(exp_form.matrix, sum_form.matrix, atol=TOL))
    for depth in ("linear", "log"):
        u = circuit_unitary(encryption(lay, depth=depth), exp_form.qubits)
        c.truth(1, f"{depth}-depth encryption circuit equals U_enc up to global phase", equal_up_to_global_phase(u, exp_form.matrix))
    dec_ok = []
    circ_ok = []
    for j in range(1, n + 1):
        d = clone_decryption_projector(n, j)
        dec_ok.append(is_unitary(d.matrix))
        circ_ok.append(equal_up_to_global_phase(circuit_unitary(clone_decryption(lay, j), d.qubits), d.matrix))
    c.truth(1, "U_dec(j) (projector form) is unitary for every j", all(dec_ok))
    c.truth(1, "decryption circuit of clone j equals U_dec(j) up to global phase, every j", all(circ_ok),
            f"{sum(circ_ok)}/{n} clones agree")
    if n % 2 == 0:
        d = input_decryption_exponential(n)
        u = circuit_unitary(input_decryption(lay), d.qubits)
        c.truth(1, "decryption circuit of A equals its exponential form up to global phase", equal_up_to_global_phase(u, d.matrix))


def _coherent_information(lay: Layout, t: float) -> float:
    """I_c = S(B) − S(RB) of A → B = (S_1, N_1..N_n), the decrypter's qubits.

    A is maximally entangled with R; encryption is exp(−it X..X)·exp(−it Z..Z)
    and U_dec(1) is applied (a unitary on B, so it does not change I_c; at
    t = π/4 all of it ends on S_1 alone). The encryption at t ≠ π/4 is not a Clifford, so this runs on
    dense state vectors whatever engine the other checks use.
    """
    state = StateVector.from_input(bell_state(0), lay.num_qubits, input_qubits=[lay.A(), lay.R()])
    state.apply_circuit(bell_pairs(lay))
    enc = encryption_exponential(lay.clones, t)
    state.apply(enc.matrix, enc.qubits)
    state.apply_circuit(clone_decryption(lay, 1))
    out = [lay.S(1), *lay.keys]
    return state.entropy(out) - state.entropy([lay.R(), *out])


def coherent_information_formula(t: float) -> float:
    """H(λ) − 1 with λ = (cos⁴t, sin²t cos²t, sin⁴t, sin²t cos²t)."""
    c2, s2 = np.cos(t) ** 2, np.sin(t) ** 2
    lam = np.array([c2 * c2, s2 * c2, s2 * s2, s2 * c2])
    lam = lam[lam > 1e-15]
    return float(-np.sum(lam * np.log2(lam)) - 1)


def verify_protocol(
    clones: int, *, seed: int = 0, coherent_ts: Sequence[float] = (0.3, 0.6, 1.1), engine: Engine = DENSE,
) -> VerificationReport:
    """Check the protocol's properties 1–8 (docs/protocol.md) for ``clones`` clones with random inputs.

    ``engine`` evolves the states the checks read (the dense engine by
    default; the core engine gives the same verdicts). Property 1's operator
    forms and property 7's non-Clifford encryption are always dense.

    Raises:
        TooLargeError: if ``clones`` exceeds :data:`MAX_VERIFY_CLONES`.
    """
    lay = Layout(clones, references=1)
    n = lay.clones
    if n > MAX_VERIFY_CLONES:
        raise TooLargeError(
            f"the full verification needs n <= {MAX_VERIFY_CLONES} clones (2n + 2 qubits in one state vector); "
            f"got {n}: for larger n use --engine auto or structured (qclone.analysis.verify_scale)"
        )
    rng = np.random.default_rng(seed)
    c = CheckList()
    if n <= MAX_DENSE_CLONES:
        _check_dense_forms(c, lay)

    psi = random_state(1, rng)
    rho = random_density_matrix(1, rng)
    inputs = {
        "pure": np.kron(psi, [1, 0]),
        "mixed": purification(rho),
        "bell": bell_state(0),
    }
    enc = {name: _encrypted(engine, lay, v) for name, v in inputs.items()}
    R, A = lay.R(), lay.A()
    signals, keys = list(lay.signals), list(lay.keys)
    mixed_half = np.eye(2) / 2

    # Property 2 and the n = 1 exception
    if n >= 2:
        dev = [fidelity(enc[k].reduced_density_matrix([s]), mixed_half) for k in inputs for s in signals]
        c.value(2, "each clone S_j is maximally mixed (fidelity with I/2), all inputs", _worst(dev, 1.0), 1.0)
    else:
        b = bloch_vector(enc["pure"].reduced_density_matrix([lay.S(1)]))
        want = (0.0, bloch_vector(psi)[1], 0.0)
        c.truth(2, "n = 1 exception: the lone clone S_1 carries exactly the Y Bloch component",
                bool(np.allclose(b, want, atol=TOL)),
                f"S_1 Bloch vector {tuple(round(x, 6) for x in b)}, input <Y> = {want[1]:.6f}")
    # Property 3
    dev = [fidelity(enc[k].reduced_density_matrix([A]), mixed_half) for k in inputs]
    c.value(3, "A is maximally mixed (fidelity with I/2), all inputs", _worst(dev, 1.0), 1.0)

    # Property 4: recovery from every clone, and where everything ends
    phi = bell_state(0)
    f_pure, f_mixed, f_ent, f_bell, f_rest = [], [], [], [], []
    for j in range(1, n + 1):
        s, t = lay.S(j), lay.N(j)
        outs = {}
        for name in inputs:
            st = engine.copy(enc[name])
            engine.apply(st, clone_decryption(lay, j))
            outs[name] = st
        f_pure.append(fidelity(outs["pure"].reduced_density_matrix([s]), psi))
        f_mixed.append(fidelity(outs["mixed"].reduced_density_matrix([s]), rho))
        f_ent.append(fidelity(outs["mixed"].reduced_density_matrix([s, R]), inputs["mixed"]))
        f_bell.append(fidelity(outs["bell"].reduced_density_matrix([s, R]), phi))
        pairs = [(A, t)] + [(lay.S(k), lay.N(k)) for k in range(1, n + 1) if k != j]
        f_rest.append(min(fidelity(outs["pure"].reduced_density_matrix(list(p)), phi) for p in pairs))
        # Property 6 on the Bell input: nothing but S_j is correlated with R
        rest = [q for q in range(lay.num_qubits) if q not in (s, R)]
        mi_rest = outs["bell"].mutual_information([R], rest)
        c.value(6, f"after decrypting S{j}: I(R : all qubits but S{j}) in bits", mi_rest, 0.0)
        if n >= 2:
            k = j % n + 1
            second = engine.copy(outs["bell"])
            engine.apply(second, clone_decryption(lay, k))
            c.value(6, f"second decryption (S{k} after S{j}): I(R : S{k}) in bits", second.mutual_information([R], [lay.S(k)]), 0.0)
    c.value(4, "pure input recovered on S_j, every j (worst fidelity)", min(f_pure), 1.0)
    c.value(4, "mixed input recovered on S_j, every j (worst fidelity)", min(f_mixed), 1.0)
    c.value(4, "entanglement with R restored on (R, S_j), every j (worst fidelity)", min(f_ent), 1.0)
    c.value(4, "maximal entanglement with R restored, every j (worst fidelity)", min(f_bell), 1.0)
    c.value(4, "(A, N_j) and every other (S_k, N_k) end in |Phi+>, every j (worst fidelity)", min(f_rest), 1.0)
    if n <= 3:
        # an independent path: a genuinely mixed input evolved as a density matrix
        dm = DensityMatrix.from_input(rho, 2 * n + 1)
        dm.apply_circuit(protocol_circuit(Layout(n), decrypt=n))
        c.value(4, "density-matrix engine: mixed input recovered on S_n", fidelity(dm.reduced_density_matrix([lay.S(n)]), rho), 1.0)

    # Property 5: single clones and the key alone know nothing
    bell = enc["bell"]
    if n >= 2:
        per_clone = [bell.mutual_information([R], [s]) for s in signals]
        c.value(5, "I(R : S_j) in bits, worst clone", _worst(per_clone, 0.0), 0.0)
    else:
        lone = bell.mutual_information([R], [lay.S(1)])
        c.truth(5, "n = 1 exception: I(R : S_1) > 0 (the lone clone leaks)", lone > 0.5, f"I(R : S_1) = {lone:.6f} bits")
    c.value(5, "I(R : key N_1..N_n) in bits", bell.mutual_information([R], keys), 0.0)
    c.value(5, "I(R : A) in bits", bell.mutual_information([R], [A]), 0.0)

    # Property 7: coherent information
    if n <= MAX_DENSE_CLONES:
        c.value(7, "coherent information at t = pi/4 (bits)", _coherent_information(lay, np.pi / 4), 1.0)
        for when in coherent_ts:
            c.value(7, f"coherent information at t = {when} matches H(lambda) - 1", _coherent_information(lay, when),
                    coherent_information_formula(when))

    # Property 8: A as one more clone
    mi_an = bell.mutual_information([R], [A, *keys])
    if n % 2 == 0:
        c.value(8, "I(R : A, N_1..N_n) in bits (2 = authorized)", mi_an, 2.0)
        st = engine.copy(enc["mixed"])
        engine.apply(st, input_decryption(lay))
        c.value(8, "decrypting A recovers the entangled input on (R, A)", fidelity(st.reduced_density_matrix([A, R]), inputs["mixed"]), 1.0)
        worst_pair = min(fidelity(st.reduced_density_matrix([lay.S(k), lay.N(k)]), phi) for k in range(1, n + 1))
        c.value(8, "after decrypting A every pair (S_k, N_k) is back in |Phi+>", worst_pair, 1.0)
    else:
        c.truth(8, "odd n: {A, N_1..N_n} is partially informative (0 < I < 2 bits)", TOL < mi_an < 2 - TOL,
                f"I(R : A, N_1..N_n) = {mi_an:.6f} bits")

    warning = single_clone_warning(n)
    return VerificationReport(checks=tuple(c.items), clones=n, seed=seed, engine=engine.name,
                              warnings=(warning,) if warning else ())
