"""Encrypted cloning of qudits (dimension d): the operators of the qudit construction.

With the shift and clock operators X|i⟩ = |i+1 mod d⟩, Z|i⟩ = ω^i|i⟩
(ω = e^{2πi/d}), the Weyl operators W_ab = X^a Z^b and
φ(k) = exp(iπ·k·(k + (d mod 2))/d):

    U_enc    = (1/d) Σ_ab φ(a+b) · W_ab(A) ⊗ ⊗_j W_ab†(S_j)
    U_dec(j) = Σ_ab φ(a+b)* · |Φ_ab†⟩⟨Φ_ab†|_{S_j N_j} ⊗ ⊗_{k≠j} W_abᵀ(N_k)

with |Φ_ab†⟩ = (W_ab† ⊗ I)|Φ_d⟩ and every pair (S_j, N_j) starting in
|Φ_d⟩ = Σ_i |ii⟩/√d. (The naive exponentials of clock and shift are not
unitary; this construction is.) Each operator is kept as a short sum of
tensor products (:class:`WeylSum`), so it can be applied to a state without
building its d^{n+1}-dimensional matrix, checked for unitarity *exactly in the
Weyl algebra* for any n (:func:`encryption_unitarity_defect`), and turned into a
dense matrix where that is small.

Which (d, n) the tool accepts: 2 ≤ d ≤ :data:`MAX_QUDIT_DIMENSION` and a dense
verification state (A, n signal and n key qudits, one reference qudit:
d^{2n+2} amplitudes) of at most :data:`MAX_QUDIT_AMPLITUDES`; see
:func:`accepted_pairs`. Every accepted pair is tested for unitarity and
recovery (``tests/protocol/test_qudit.py``, ``tests/analysis/test_qudit_verify.py``).

For d = 2 this is the qubit protocol run backwards: U_enc^{(2)} = e^{iθ}·U_enc†
and U_dec^{(2)}(j) = e^{iθ'}·U_dec(j)† (global phases θ, θ'), equivalently
U_enc^{(2)} = L·U_enc·L† with the fixed local Clifford L = (Y·H)_A ⊗ H^{⊗n}
(tested for every accepted n).

Examples:
    >>> u = encryption_operator(3, 2)
    >>> len(u.terms), u.num_factors
    (9, 3)
    >>> round(encryption_unitarity_defect(3, 2), 12)
    0.0
    >>> (3, 4) in accepted_pairs() and (3, 5) not in accepted_pairs()
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, reduce

import numpy as np

from qclone.errors import InvalidArgumentError, QcloneError, TooLargeError, is_int
from qclone.protocol.layout import check_clones

#: Largest qudit dimension the tool accepts.
MAX_QUDIT_DIMENSION = 8
#: Largest dense verification state (A, S_1..S_n, N_1..N_n and a reference: d^{2n+2} amplitudes).
MAX_QUDIT_AMPLITUDES = 2**19


def check_dimension(d: object) -> int:
    """Validate a qudit dimension (an integer 2..MAX_QUDIT_DIMENSION)."""
    if not is_int(d):
        raise InvalidArgumentError(f"the qudit dimension must be an integer, got {d!r}")
    if not 2 <= d <= MAX_QUDIT_DIMENSION:
        raise InvalidArgumentError(f"the qudit dimension must be in 2..{MAX_QUDIT_DIMENSION}, got {d}")
    return int(d)


def max_qudit_clones(d: int) -> int:
    """The largest n accepted for dimension d (d^{2n+2} <= MAX_QUDIT_AMPLITUDES)."""
    d = check_dimension(d)
    n = 0
    while d ** (2 * (n + 1) + 2) <= MAX_QUDIT_AMPLITUDES:
        n += 1
    return n


def accepted_pairs() -> tuple[tuple[int, int], ...]:
    """Every (d, n) the qudit tools accept."""
    return tuple((d, n) for d in range(2, MAX_QUDIT_DIMENSION + 1) for n in range(1, max_qudit_clones(d) + 1))


def check_qudit_clones(d: int, clones: object) -> int:
    """Validate n for dimension d.

    Raises:
        TooLargeError: if d^{2n+2} exceeds the dense limit (with the largest n that fits).
    """
    d = check_dimension(d)
    n = check_clones(clones)
    top = max_qudit_clones(d)
    if n > top:
        raise TooLargeError(
            f"qudits of dimension {d} are simulated densely for n <= {top} clones "
            f"({d}^(2n+2) amplitudes with a reference must stay <= {MAX_QUDIT_AMPLITUDES}); got n = {n}"
        )
    return n


@cache
def shift(d: int) -> np.ndarray:
    """X|i⟩ = |i + 1 mod d⟩."""
    return np.roll(np.eye(d, dtype=complex), 1, axis=0)


@cache
def clock(d: int) -> np.ndarray:
    """Z|i⟩ = ω^i |i⟩."""
    return np.diag(np.exp(2j * np.pi * np.arange(d) / d))


def weyl(d: int, a: int, b: int) -> np.ndarray:
    """W_ab = X^a Z^b."""
    return np.linalg.matrix_power(shift(d), a % d) @ np.linalg.matrix_power(clock(d), b % d)


def phi(d: int, k: int) -> complex:
    """φ(k) = exp(iπ·k·(k + (d mod 2))/d)."""
    return complex(np.exp(1j * np.pi * k * (k + d % 2) / d))


def max_entangled(d: int) -> np.ndarray:
    """|Φ_d⟩ = Σ_i |ii⟩/√d as a d²-vector."""
    return np.eye(d, dtype=complex).ravel() / np.sqrt(d)


@dataclass(frozen=True, eq=False)
class WeylSum:
    """``Σ_t coeffs[t] · ⊗_i factors[t][i]``: an operator on ``num_factors`` tensor factors.

    ``factors[t][i]`` is a square matrix acting on factor i (a qudit, or a pair of
    qudits for a d² x d² block); the first factor is the most significant.
    """

    d: int
    coeffs: tuple[complex, ...]
    factors: tuple[tuple[np.ndarray, ...], ...]
    #: the first factors are projectors onto orthonormal vectors (U_dec's Bell basis): applied
    #: by one change of basis instead of term by term
    controlled: bool = False

    @property
    def terms(self) -> tuple[tuple[complex, tuple[np.ndarray, ...]], ...]:
        return tuple(zip(self.coeffs, self.factors))

    @property
    def num_factors(self) -> int:
        return len(self.factors[0])

    @property
    def dimension(self) -> int:
        return int(np.prod([f.shape[0] for f in self.factors[0]]))

    def matrix(self, *, limit: int = 4096) -> np.ndarray:
        """The dense matrix (refused above ``limit`` rows)."""
        if self.dimension > limit:
            raise TooLargeError(f"a {self.dimension} x {self.dimension} matrix exceeds the limit of {limit} rows")
        return np.asarray(sum(c * reduce(np.kron, fs) for c, fs in self.terms), dtype=complex)


def encryption_operator(d: int, n: int) -> WeylSum:
    """U_enc on (A, S_1..S_n), as a sum of d² tensor products."""
    d = check_dimension(d)
    n = check_clones(n)
    coeffs, factors = [], []
    for a in range(d):
        for b in range(d):
            w = weyl(d, a, b)
            coeffs.append(phi(d, a + b) / d)
            factors.append((w,) + (w.conj().T,) * n)
    return WeylSum(d, tuple(coeffs), tuple(factors))


def bell_vector(d: int, a: int, b: int) -> np.ndarray:
    """|Φ_ab†⟩ = (W_ab† ⊗ I)|Φ_d⟩ on (S_j, N_j)."""
    return np.kron(weyl(d, a, b).conj().T, np.eye(d)) @ max_entangled(d)


def bell_projector(d: int, a: int, b: int) -> np.ndarray:
    """|Φ_ab†⟩⟨Φ_ab†|."""
    v = bell_vector(d, a, b)
    return np.outer(v, v.conj())


def decryption_operator(d: int, n: int) -> WeylSum:
    """U_dec(j) on ((S_j, N_j) as one d²-dimensional factor, then N_k for k ≠ j in increasing k)."""
    d = check_dimension(d)
    n = check_clones(n)
    coeffs, factors = [], []
    for a in range(d):
        for b in range(d):
            coeffs.append(np.conj(phi(d, a + b)))
            factors.append((bell_projector(d, a, b),) + (weyl(d, a, b).T,) * (n - 1))
    return WeylSum(d, tuple(coeffs), tuple(factors), controlled=True)


def _weyl_product(d: int, p: tuple[int, int, int], q: tuple[int, int, int]) -> tuple[int, int, int]:
    """(ω-exponent, a, b) of ω^e1 X^a1 Z^b1 · ω^e2 X^a2 Z^b2 (Z X = ω X Z)."""
    e1, a1, b1 = p
    e2, a2, b2 = q
    return ((e1 + e2 + b1 * a2) % d, (a1 + a2) % d, (b1 + b2) % d)


def _dagger(d: int, p: tuple[int, int, int]) -> tuple[int, int, int]:
    """(ω^e X^a Z^b)† = ω^{-e} Z^{-b} X^{-a} = ω^{-e + ab} X^{-a} Z^{-b}."""
    e, a, b = p
    return ((-e + a * b) % d, (-a) % d, (-b) % d)


def encryption_unitarity_defect(d: int, n: int) -> float:
    """max |(U_enc† U_enc − I)| coefficient in the Weyl basis, computed exactly in the Weyl algebra.

    Zero means U_enc is unitary; see :func:`weyl_unitarity_defect`.
    """
    d = check_dimension(d)
    return weyl_unitarity_defect(d, check_clones(n), {(a, b): phi(d, a + b) / d for a in range(d) for b in range(d)})


def weyl_unitarity_defect(d: int, n: int, coeffs: dict[tuple[int, int], complex]) -> float:
    """For U = Σ_ab coeffs[a, b] · W_ab ⊗ (W_ab†)^{⊗n}: the largest coefficient of U†U − I in the Weyl basis.

    Every term is a Weyl operator on the first factor times the same Weyl
    operator on each of the n others, so U†U is a sum of d⁴ products, grouped
    by the resulting (first, other) operators and compared with the identity;
    exact up to rounding, O(d⁴) whatever n is.
    """
    omega = np.exp(2j * np.pi / d)
    totals: dict[tuple[int, int, int, int], complex] = {}
    for a in range(d):
        for b in range(d):
            ca = coeffs.get((a, b), 0)
            ta = (0, a, b)  # W_ab on A
            ts = _dagger(d, ta)  # W_ab† on each S
            for a2 in range(d):
                for b2 in range(d):
                    cb = coeffs.get((a2, b2), 0)
                    ua = (0, a2, b2)
                    us = _dagger(d, ua)
                    ea, xa, za = _weyl_product(d, _dagger(d, ta), ua)
                    es, xs, zs = _weyl_product(d, _dagger(d, ts), us)
                    key = (xa, za, xs, zs)
                    totals[key] = totals.get(key, 0) + np.conj(ca) * cb * omega ** ((ea + n * es) % d)
    defect = 0.0
    for key, value in totals.items():
        target = 1.0 if key == (0, 0, 0, 0) else 0.0
        defect = max(defect, abs(value - target))
    return float(defect)


def apply_weyl_sum(state: np.ndarray, op: WeylSum, axes: list[list[int]]) -> np.ndarray:
    """``op`` applied to a state tensor (one axis of size d per qudit).

    ``axes[i]`` lists the tensor axes factor i acts on (one axis, or two for a pair factor).
    """
    if op.controlled:
        return _apply_controlled(state, op, axes)
    out = np.zeros_like(state)
    for c, fs in op.terms:
        t = state
        for f, ax in zip(fs, axes):
            m = len(ax)
            mono = _monomial(f) if m == 1 else None
            if mono is not None:
                # a Weyl operator permutes basis states and multiplies phases: no contraction needed
                perm, phases = mono
                shape = [1] * t.ndim
                shape[ax[0]] = -1
                t = np.take(t, perm, axis=ax[0]) * phases.reshape(shape)
                continue
            v = _rank_one(f)
            if v is not None:
                # |v⟩⟨v|: contract with ⟨v| over the factor's axes, then put |v⟩ back
                vt = v.reshape((op.d,) * m)
                inner = np.tensordot(vt.conj(), t, axes=(list(range(m)), ax))
                t = np.moveaxis(np.multiply.outer(vt, inner), list(range(m)), ax)
                continue
            u = f.reshape((op.d,) * (2 * m))
            t = np.moveaxis(np.tensordot(u, t, axes=(list(range(m, 2 * m)), ax)), list(range(m)), ax)
        out += c * t
    return out


def _rank_one(f: np.ndarray) -> np.ndarray | None:
    """v with f = |v⟩⟨v| (a rank-one projector), or None."""
    i = int(np.argmax(np.abs(np.diag(f))))
    if f[i, i].real <= 1e-12:
        return None
    v = f[:, i] / np.sqrt(f[i, i].real)
    return v if np.allclose(np.outer(v, v.conj()), f, atol=1e-12) else None


def _apply_factors(t: np.ndarray, fs: tuple[np.ndarray, ...], axes: list[list[int]]) -> np.ndarray:
    for f, ax in zip(fs, axes):
        monomial = _monomial(f)
        if monomial is None:
            raise QcloneError("internal: a Weyl factor is not a monomial matrix")
        perm, phases = monomial
        shape = [1] * t.ndim
        shape[ax[0]] = -1
        t = np.take(t, perm, axis=ax[0]) * phases.reshape(shape)
    return t


def _apply_controlled(state: np.ndarray, op: WeylSum, axes: list[list[int]]) -> np.ndarray:
    """Σ_t c_t |v_t⟩⟨v_t| ⊗ R_t with orthonormal v_t: amplitudes in the v basis, R_t on each, back."""
    first = axes[0]
    m = len(first)
    vecs = np.array([_rank_one(fs[0]) for fs in op.factors])  # rows v_t
    moved = np.moveaxis(state, first, list(range(m)))
    flat = moved.reshape(op.d**m, -1)
    amps = (vecs.conj() @ flat).reshape((len(vecs),) + moved.shape[m:])
    # the remaining factors act on the other axes, which shift down by m once the pair is removed
    rest_axes = [[a - sum(1 for f in first if f < a) for a in ax] for ax in axes[1:]]
    done = np.stack([c * _apply_factors(amps[t], fs[1:], rest_axes) for t, (c, fs) in enumerate(op.terms)])
    back = (vecs.T @ done.reshape(len(vecs), -1)).reshape(moved.shape)
    return np.moveaxis(back, list(range(m)), first)


def _monomial(f: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(perm, phases) with f[r, perm[r]] = phases[r] the only nonzeros, or None."""
    nz = np.abs(f) > 1e-12
    if not np.all(nz.sum(axis=1) == 1):
        return None
    perm = np.argmax(nz, axis=1)
    return perm, f[np.arange(f.shape[0]), perm]
