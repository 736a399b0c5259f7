"""Property checks of the qudit protocol (dimension d) on the dense qudit engine.

:func:`verify_qudit` checks, by computation, for one accepted (d, n)
(:func:`qclone.protocol.qudit.accepted_pairs`):

1. U_enc is unitary (exactly, in the Weyl algebra, for this n; and as a dense
   matrix where it has at most 4096 rows); U_dec(j) is unitary (its Bell
   projectors are orthonormal and complete, its phases have modulus 1; dense
   where small); for d = 2 the operators are the adjoints of the qubit
   operators up to a global phase, and U_enc^{(2)} = L U_enc L† with
   L = (Y·H)_A ⊗ H^{⊗n}.
2. Every clone S_j is maximally mixed after encryption (n ≥ 2); for n = 1 the
   lone clone carries part of the input.
3. A is maximally mixed after encryption.
4. Decrypting any clone j restores the input exactly: a random state of
   (A, R) and the maximally entangled state (fidelity of (S_j, R)).
5. One clone, the key alone and A alone carry no information (their state
   with R is a product, n ≥ 2); sets with one qudit of every pair follow the gcd rule of Bai, Zhou
   and Luo (non-informative iff gcd(d, p(q+1) − 1) = 1 with p signal and q
   key qudits; every such set for n ≤ 4).
6. After decrypting clone j, everything but S_j is independent of the input.

Examples:
    >>> r = verify_qudit(3, 2, seed=1)
    >>> r.passed, r.dimension
    (True, 3)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from qclone.analysis.checks import TOL, CheckList, Report
from qclone.protocol import Layout, encryption
from qclone.protocol.layout import single_clone_warning
from qclone.protocol.operators import MAX_DENSE_CLONES, clone_decryption_projector, encryption_exponential, kron_all
from qclone.protocol.qudit import (
    bell_vector,
    check_qudit_clones,
    decryption_operator,
    encryption_operator,
    encryption_unitarity_defect,
    max_entangled,
)
from qclone.sim.exact import GATE_MATRICES, circuit_unitary, equal_up_to_global_phase, fidelity, is_unitary
from qclone.sim.qudit import QuditState

#: Dense unitarity checks for matrices up to this many rows.
MAX_DENSE_ROWS = 4096
#: The gcd rule is checked on every one-qudit-per-pair set up to this n (2^n sets).
MAX_RULE_CLONES = 4

QUDIT_PROPERTY_TITLES = {
    1: "U_enc and U_dec are unitary (Weyl algebra and dense); for d = 2 they match the qubit protocol",
    2: "every single clone S_j is maximally mixed after encryption (n >= 2)",
    3: "A is maximally mixed after encryption",
    4: "decrypting any clone recovers the input exactly (random entangled and maximally entangled inputs)",
    5: "one clone, the key or A alone carries no information; one-qudit-per-pair sets follow the gcd rule",
    6: "after one decryption the other qudits are independent of the input (key consumed)",
}


@dataclass(frozen=True)
class QuditReport(Report):
    dimension: int
    clones: int
    seed: int

    def to_dict(self) -> dict:
        return {
            "dimension": self.dimension,
            "clones": self.clones,
            "seed": self.seed,
            "engine": "qudit-dense",
            "properties": {str(k): v for k, v in QUDIT_PROPERTY_TITLES.items()},
        } | self.checks_dict()


def _random_state(dim: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=dim) + 1j * rng.normal(size=dim)
    return v / np.linalg.norm(v)


def qubit_correspondence(n: int) -> tuple[bool, bool, bool]:
    """For d = 2: (U_enc^{(2)} ∝ U_enc†, U_enc^{(2)} = L U_enc L†, U_dec^{(2)} ∝ U_dec(1)†)."""
    q_enc = encryption_operator(2, n).matrix()
    q_dec = decryption_operator(2, n).matrix()
    enc = encryption_exponential(n).matrix
    dec = clone_decryption_projector(n, 1).matrix
    yh = GATE_MATRICES["Y"] @ GATE_MATRICES["H"]
    local = kron_all(yh, *[GATE_MATRICES["H"]] * n)
    return (equal_up_to_global_phase(q_enc, enc.conj().T),
            equal_up_to_global_phase(q_enc, local @ enc @ local.conj().T),
            equal_up_to_global_phase(q_dec, dec.conj().T))


def verify_qudit(d: int, clones: int, *, seed: int = 0) -> QuditReport:
    """Check the qudit protocol for dimension d and n clones (see the module doc).

    Raises:
        InvalidArgumentError, TooLargeError: for a (d, n) the tool does not accept.
    """
    n = check_qudit_clones(d, clones)
    rng = np.random.default_rng(seed)
    checks = CheckList()
    value, truth = checks.value, checks.truth

    enc = encryption_operator(d, n)
    dec = decryption_operator(d, n)
    value(1, "U_enc unitarity defect, exact in the Weyl algebra", encryption_unitarity_defect(d, n), 0.0)
    if enc.dimension <= MAX_DENSE_ROWS:
        truth(1, "U_enc is unitary as a dense matrix", is_unitary(enc.matrix(limit=MAX_DENSE_ROWS)), f"{enc.dimension} rows")
        truth(1, "U_dec(j) is unitary as a dense matrix", is_unitary(dec.matrix(limit=MAX_DENSE_ROWS)), f"{dec.dimension} rows")
    # rank-one projectors |v⟩⟨v|: orthonormal and complete iff the matrix of the vectors is unitary
    vectors = np.array([bell_vector(d, a, b) for a in range(d) for b in range(d)])
    truth(1, "the Bell projectors of U_dec are orthonormal and complete and its phases have modulus 1 (so U_dec is unitary)",
          is_unitary(vectors) and np.allclose(np.abs(dec.coeffs), 1, atol=TOL))
    if d == 2 and n <= MAX_DENSE_CLONES:
        adj, local, dec_adj = qubit_correspondence(n)
        truth(1, "d = 2: U_enc equals the qubit U_enc† up to a global phase", adj)
        truth(1, "d = 2: U_enc equals L U_enc L† for the qubit U_enc, L = (Y H)_A (x) H on every S", local)
        truth(1, "d = 2: U_dec(j) equals the qubit U_dec(j)† up to a global phase", dec_adj)
        lay = Layout(n)
        gates = circuit_unitary(encryption(lay).inverse(), (lay.A(), *lay.signals))
        truth(1, "d = 2: U_enc equals the inverse of the gate-level qubit encryption circuit up to a global phase",
              equal_up_to_global_phase(enc.matrix(), gates))

    A, R = 0, 2 * n + 1
    S = list(range(1, n + 1))
    N = list(range(n + 1, 2 * n + 1))
    inputs = {"random": _random_state(d * d, rng), "bell": max_entangled(d)}

    def encrypted(v: np.ndarray) -> QuditState:
        st = QuditState.from_input(d, v, 2 * n + 2, input_qudits=[A, R])
        for s, t in zip(S, N):
            st.prepare_pair(s, t)
        st.apply(enc, [A] + S)
        return st

    def decrypt(st: QuditState, j: int) -> QuditState:
        out = st.copy()
        out.apply(dec, [(S[j - 1], N[j - 1])] + [N[k] for k in range(n) if k != j - 1])
        return out

    def dependence(st: QuditState, qs: list[int]) -> float:
        """max |ρ_XR − ρ_X ⊗ ρ_R|: zero iff X is independent of the reference (no eigenvalues needed)."""
        joint = st.reduced_density_matrix(qs + [R])
        return float(np.abs(joint - np.kron(st.reduced_density_matrix(qs), st.reduced_density_matrix([R]))).max())

    states = {name: encrypted(v) for name, v in inputs.items()}
    mixed = np.eye(d) / d
    if n >= 2:
        dev = max(float(np.abs(st.reduced_density_matrix([s]) - mixed).max()) for st in states.values() for s in S)
        value(2, "every clone S_j is maximally mixed (max deviation from I/d)", dev, 0.0)
    else:
        mi = states["bell"].mutual_information([R], [S[0]])
        truth(2, "n = 1 exception: the lone clone carries part of the input (I(R : S_1) > 0)", mi > 1e-3,
              f"I(R : S_1) = {mi:.6f} bits")
    dev = max(float(np.abs(st.reduced_density_matrix([A]) - mixed).max()) for st in states.values())
    value(3, "A is maximally mixed (max deviation from I/d)", dev, 0.0)

    worst = {name: 1.0 for name in inputs}
    worst_rest = 0.0
    for j in range(1, n + 1):
        for name, st in states.items():
            out = decrypt(st, j)
            worst[name] = min(worst[name], fidelity(out.reduced_density_matrix([S[j - 1], R]), inputs[name]))
            if name == "bell":
                rest = [q for q in range(2 * n + 1) if q != S[j - 1]]
                worst_rest = max(worst_rest, out.mutual_information([R], rest))
    value(4, "random entangled input restored on (S_j, R), every j (worst fidelity)", worst["random"], 1.0)
    value(4, "maximally entangled input restored on (S_j, R), every j (worst fidelity)", worst["bell"], 1.0)
    value(6, "after decrypting S_j: I(R : every qudit but S_j) in bits, worst j", worst_rest, 0.0)

    bell = states["bell"]
    if n >= 2:
        value(5, "S_j independent of R: max |rho_SR - rho_S (x) rho_R|, worst clone", max(dependence(bell, [s]) for s in S), 0.0)
    value(5, "key N_1..N_n independent of R: max |rho_NR - rho_N (x) rho_R|", dependence(bell, N), 0.0)
    value(5, "A independent of R: max |rho_AR - rho_A (x) rho_R|", dependence(bell, [A]), 0.0)
    if n <= MAX_RULE_CLONES:
        agree, total = 0, 0
        for choice in itertools.product([0, 1], repeat=n):
            qs = [S[j] if c == 0 else N[j] for j, c in enumerate(choice)]
            p = choice.count(0)
            q = n - p
            informative = dependence(bell, qs) > 1e-9
            agree += informative == (math.gcd(d, p * (q + 1) - 1) != 1)
            total += 1
        truth(5, "one-qudit-per-pair sets: non-informative iff gcd(d, p(q+1) - 1) = 1 (Bai, Zhou, Luo)",
              agree == total, f"{agree}/{total} sets agree")
    warning = single_clone_warning(n, dimension=d)
    return QuditReport(checks=tuple(checks.items), dimension=d, clones=n, seed=seed, warnings=(warning,) if warning else ())
