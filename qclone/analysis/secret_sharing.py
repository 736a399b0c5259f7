"""Threshold quantum secret sharing, the alternative to encrypted cloning: access structure and fidelity after storage.

Two families, both pure ((k, 2k − 1)) threshold schemes (any k shares recover
the secret, any k − 1 learn nothing about it):

* :func:`five_qubit_code`: ((3, 5)) from the perfect [[5, 1, 3]] code
  (stabilizers the cyclic shifts of XZZXI, logical X̄ = XXXXX, Z̄ = ZZZZZ).
* :func:`polynomial_code`: the Cleve–Gottesman–Lo polynomial code over
  qudits of prime dimension d ≥ 2k − 1: the secret s is the top coefficient
  of a polynomial f of degree k − 1 and share i holds f(x_i) at the points
  x_i = 0, 1, …, 2k − 2,
  ``|s⟩ ↦ d^{-(k-1)/2} Σ_{f: top coefficient s} |f(x_1), …, f(x_{2k−1})⟩``.
  k = 2 is the qutrit ((2, 3)) scheme ``|s⟩ ↦ Σ_r |r, r + s, r + 2s⟩/√3``.

Fidelity after storage. Every stored share suffers a Weyl error X^a Z^b with
a given probability (per share, independent); the secret is decoded from
exactly k shares C (the others are not used). For a pure threshold scheme no
stabilizer is supported on k shares, so the logical operators have exactly
one representative on C, and an error on C is harmless iff it commutes with
both representatives: ``Σ_i (a_i z_i − b_i x_i) = 0 (mod d)`` for each. The
entanglement fidelity F_e is the probability of that event, summed exactly by
a convolution over the shares (O(k d²)); the average fidelity over inputs is
``(d F_e + 1)/(d + 1)``. The tests build the encodings as dense states and
check both the access structure and these fidelities by direct simulation.

Noise for qudits. "The same memory noise" for a qudit is taken to be the
depolarizing channel with the qubit's total error probability
``p = p_x + p_y + p_z`` of the Pauli-twirled T1/T2 channel for the same time:
a stored unit suffers an error with the same probability per unit of time,
and for a qudit that error is a uniformly random non-identity Weyl operator
(:func:`depolarizing_errors`).

Examples:
    >>> code = polynomial_code(2)
    >>> code.name, code.dimension
    ('((2,3)) qutrit', 3)
    >>> round(code.entanglement_fidelity(depolarizing_errors(3, 0.1)), 6)  # 0.9² + 8 harmless error pairs
    0.81125
    >>> round(five_qubit_code().entanglement_fidelity(pauli_errors(0.01, 0.01, 0.01)), 6)  # 0.97³ + harmless errors
    0.913552
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from qclone.errors import InvalidArgumentError, check_int

__all__ = [
    "MAX_THRESHOLD",
    "ThresholdCode",
    "depolarizing_errors",
    "five_qubit_code",
    "pauli_errors",
    "polynomial_code",
]

#: Largest k of a ((k, 2k − 1)) polynomial code.
MAX_THRESHOLD = 16


def _is_prime(d: int) -> bool:
    return d >= 2 and all(d % q for q in range(2, int(d**0.5) + 1))


@dataclass(frozen=True)
class ThresholdCode:
    """A pure ((k, 2k − 1)) threshold scheme given by its logical operators.

    Attributes:
        name: for reports.
        threshold: k.
        dimension: d of a share.
        points: for a polynomial code, the evaluation points (empty for the 5-qubit code).
    """

    name: str
    threshold: int
    dimension: int
    points: tuple[int, ...] = ()

    @property
    def shares(self) -> int:
        return 2 * self.threshold - 1

    @property
    def secrecy(self) -> int:
        """The largest number of shares that learns nothing: k − 1."""
        return self.threshold - 1

    def logical_representatives(self, subset: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """X̄ and Z̄ supported on ``subset`` (k share indices): each ``(x exponents, z exponents)``, shape (2, m)."""
        c = sorted(set(int(i) for i in subset))
        if len(c) != self.threshold or c[0] < 0 or c[-1] >= self.shares:
            raise InvalidArgumentError(f"a recovery uses {self.threshold} distinct shares of 0..{self.shares - 1}, got {list(subset)}")
        if not self.points:
            return self._five_qubit_representatives(c)
        d = self.dimension
        x = np.array(self.points)
        rest = [i for i in range(self.shares) if i not in c]
        lx = np.zeros((2, self.shares), dtype=np.int64)
        lz = np.zeros((2, self.shares), dtype=np.int64)
        for i in c:
            lx[0, i] = int(np.prod([(x[i] - x[j]) % d for j in rest], dtype=np.int64)) % d if rest else 1
            denominator = int(np.prod([(x[i] - x[j]) % d for j in c if j != i], dtype=np.int64)) % d if len(c) > 1 else 1
            lz[1, i] = pow(denominator, d - 2, d)
        return lx, lz

    def _five_qubit_representatives(self, c: list[int]) -> tuple[np.ndarray, np.ndarray]:
        outside = [i for i in range(5) if i not in c]
        out = []
        for logical in (_FIVE_X, _FIVE_Z):
            for g in self._five_qubit_group:
                rep = (logical + g) % 2
                if not rep[:, outside].any():
                    out.append(rep)
                    break
            else:  # pragma: no cover - the [[5,1,3]] code is perfect
                raise RuntimeError("internal error: no logical representative on three qubits")
        return out[0], out[1]

    @cached_property
    def _five_qubit_group(self) -> list[np.ndarray]:
        gens = [np.roll(_XZZXI, s, axis=1) for s in range(4)]
        return [sum((g for g, on in zip(gens, bits) if on), np.zeros((2, 5), dtype=np.int64)) % 2
                for bits in itertools.product((0, 1), repeat=4)]

    def entanglement_fidelity(self, errors: np.ndarray, subset: Sequence[int] | None = None) -> float:
        """F_e of the secret decoded from ``subset`` (default: the first k shares) after every share suffered ``errors``.

        Args:
            errors: ``(d, d)`` probabilities of X^a Z^b per share (index [a, b]), summing to 1;
                or ``(m, d, d)``, one distribution per share.
        """
        d = self.dimension
        err = np.asarray(errors, dtype=float)
        if err.shape == (d, d):
            err = np.broadcast_to(err, (self.shares, d, d))
        if err.shape != (self.shares, d, d) or (err < -1e-15).any() or not np.allclose(err.sum(axis=(1, 2)), 1):
            raise InvalidArgumentError(f"errors must be ({d}, {d}) (or per share ({self.shares}, {d}, {d})) probabilities")
        c = list(range(self.threshold)) if subset is None else sorted(set(int(i) for i in subset))
        lx, lz = self.logical_representatives(c)
        a = np.arange(d)[:, None]
        b = np.arange(d)[None, :]
        dist = np.zeros((d, d))
        dist[0, 0] = 1.0
        for i in c:
            # the error X^a Z^b on share i shifts the two commutation phases by these amounts (mod d)
            ux = (a * lx[1, i] - b * lx[0, i]) % d
            uz = (a * lz[1, i] - b * lz[0, i]) % d
            new = np.zeros_like(dist)
            for ea in range(d):
                for eb in range(d):
                    p = err[i, ea, eb]
                    if p:
                        new += p * np.roll(np.roll(dist, int(ux[ea, eb]), axis=0), int(uz[ea, eb]), axis=1)
            dist = new
        return float(dist[0, 0])

    def average_fidelity(self, errors: np.ndarray, subset: Sequence[int] | None = None) -> float:
        """Haar-average fidelity ``(d F_e + 1)/(d + 1)``."""
        d = self.dimension
        return (d * self.entanglement_fidelity(errors, subset) + 1) / (d + 1)


_XZZXI = np.array([[1, 0, 0, 1, 0], [0, 1, 1, 0, 0]], dtype=np.int64)  # rows: x bits, z bits
_FIVE_X = np.array([[1] * 5, [0] * 5], dtype=np.int64)
_FIVE_Z = np.array([[0] * 5, [1] * 5], dtype=np.int64)


def five_qubit_code() -> ThresholdCode:
    """((3, 5)) from the [[5, 1, 3]] code."""
    return ThresholdCode("((3,5)) [[5,1,3]]", 3, 2)


def polynomial_code(threshold: int, dimension: int | None = None) -> ThresholdCode:
    """The ((k, 2k − 1)) polynomial code over a prime d ≥ 2k − 1 (default: the smallest such prime)."""
    k = check_int(threshold, "threshold k", 2, MAX_THRESHOLD)
    d = dimension
    if d is None:
        d = 2 * k - 1
        while not _is_prime(d):
            d += 1
    d = check_int(d, "dimension", 2, 1009)
    if not _is_prime(d) or d < 2 * k - 1:
        raise InvalidArgumentError(f"a ((k,2k-1)) polynomial code needs a prime dimension d >= 2k - 1 = {2 * k - 1}, got {d}")
    label = {3: "qutrit", 5: "ququint"}.get(d, f"d = {d}")
    return ThresholdCode(f"(({k},{2 * k - 1})) {label}", k, d, tuple(range(2 * k - 1)))


def pauli_errors(px: float, py: float, pz: float) -> np.ndarray:
    """A qubit Pauli channel as ``(2, 2)`` probabilities of X^a Z^b (Y = XZ up to a phase)."""
    p = np.array([[1 - px - py - pz, pz], [px, py]], dtype=float)
    if (p < -1e-15).any():
        raise InvalidArgumentError(f"Pauli probabilities must be >= 0 and sum to at most 1, got {(px, py, pz)}")
    return p


def depolarizing_errors(dimension: int, probability: float) -> np.ndarray:
    """A qudit depolarizing channel: a uniformly random non-identity Weyl error with total ``probability``."""
    d = check_int(dimension, "dimension", 2, 1009)
    if not 0 <= probability <= 1:
        raise InvalidArgumentError(f"the error probability must be in [0, 1], got {probability!r}")
    p = np.full((d, d), probability / (d * d - 1))
    p[0, 0] = 1 - probability
    return p
