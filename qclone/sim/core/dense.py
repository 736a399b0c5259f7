"""Dense operations on the small core: Pauli strings, projectors, Clifford circuits.

The core of a :class:`~qclone.sim.core.CoreState` is a state vector of shape
``(2^k,)`` or an operator of shape ``(2^k, 2^k)``; core qubit ``c`` is bit
``k - 1 - c`` of an index (the first core qubit is the most significant, as in
:mod:`qclone.sim.exact`). A Pauli string on the core is a pair of boolean
arrays ``(x, z)``; with ``Y = i·X·Z`` the string is ``i^{#Y} X^x Z^z``.

Examples:
    >>> import numpy as np
    >>> plus = np.array([1, 1]) / np.sqrt(2)
    >>> round(expectation(plus, np.array([True]), np.array([False])).real, 12)
    1.0
"""

from __future__ import annotations

from functools import cache

import numpy as np
import stim

from qclone.sim.exact import apply_matrix_to_tensor, partial_trace


def _masks(x: np.ndarray, z: np.ndarray) -> tuple[int, int, complex]:
    k = x.size
    weights = 1 << np.arange(k - 1, -1, -1, dtype=np.int64)
    xm = int(np.sum(weights[np.asarray(x, dtype=bool)]))
    zm = int(np.sum(weights[np.asarray(z, dtype=bool)]))
    ny = int(np.count_nonzero(np.asarray(x, dtype=bool) & np.asarray(z, dtype=bool)))
    return xm, zm, 1j**ny


def _coefficients(k: int, zm: int, phase: complex) -> np.ndarray:
    idx = np.arange(2**k, dtype=np.int64)
    sign = 1 - 2 * (np.bitwise_count(idx & zm).astype(np.int64) & 1)
    return phase * sign


def apply_pauli(core: np.ndarray, x: np.ndarray, z: np.ndarray, *, side: str = "left") -> np.ndarray:
    """``P·v`` for a vector, ``P·M`` (``side="left"``) or ``M·P`` (``side="right"``) for a matrix."""
    k = x.size
    xm, zm, phase = _masks(x, z)
    coeff = _coefficients(k, zm, phase)
    idx = np.arange(2**k, dtype=np.int64)
    if core.ndim == 1:
        out = np.empty_like(core)
        out[idx ^ xm] = coeff * core
        return out
    if side == "left":
        out = np.empty_like(core)
        out[idx ^ xm, :] = coeff[:, None] * core
        return out
    return core[:, idx ^ xm] * coeff[None, :]


def expectation(core: np.ndarray, x: np.ndarray, z: np.ndarray) -> complex:
    """⟨ψ|P|ψ⟩ for a vector, tr(M·P) for an operator."""
    k = x.size
    xm, zm, phase = _masks(x, z)
    coeff = _coefficients(k, zm, phase)
    idx = np.arange(2**k, dtype=np.int64)
    if core.ndim == 1:
        return complex(np.vdot(core[idx ^ xm], coeff * core))
    return complex(np.sum(core[idx, idx ^ xm] * coeff))


def trace(core: np.ndarray) -> float:
    """tr M, or ⟨ψ|ψ⟩ for a vector."""
    return float(np.real(np.vdot(core, core))) if core.ndim == 1 else float(np.real(np.trace(core)))


def project(core: np.ndarray, x: np.ndarray, z: np.ndarray, sign: int) -> np.ndarray:
    """Π v or Π M Π with Π = (I + sign·P)/2 (unnormalised)."""
    if core.ndim == 1:
        return 0.5 * (core + sign * apply_pauli(core, x, z))
    pm = apply_pauli(core, x, z, side="left")
    mp = apply_pauli(core, x, z, side="right")
    pmp = apply_pauli(pm, x, z, side="right")
    return 0.25 * (core + sign * (pm + mp) + pmp)


def as_operator(core: np.ndarray) -> np.ndarray:
    """The operator |ψ⟩⟨ψ| of a vector (a matrix is returned unchanged)."""
    return np.outer(core, core.conj()) if core.ndim == 1 else core


_EXACT_PARTS = np.array([0.0, 0.5, 1 / np.sqrt(2), 1.0])


def _snap(values: np.ndarray) -> np.ndarray:
    """Round single-precision entries to the exact values Clifford matrices use (0, ½, 1/√2, 1)."""
    mag = np.abs(values)
    nearest = _EXACT_PARTS[np.argmin(np.abs(mag[..., None] - _EXACT_PARTS), axis=-1)]
    return np.sign(values) * nearest


@cache
def _gate_matrix(name: str) -> np.ndarray:
    # stim returns complex64 matrices; snap them to exact double precision
    raw = np.asarray(stim.gate_data(name).unitary_matrix, dtype=complex)
    u = _snap(raw.real) + 1j * _snap(raw.imag)
    if u.shape == (4, 4):
        # stim writes two-qubit matrices little-endian (first target = least significant bit)
        perm = [0, 2, 1, 3]
        u = u[np.ix_(perm, perm)]
    return u


def apply_clifford(core: np.ndarray, circuit: stim.Circuit) -> np.ndarray:
    """U·v or U·M·U† for the unitary of a stim circuit on the k core qubits (qubit c = axis c)."""
    k = int(round(np.log2(core.shape[0])))
    if core.ndim == 1:
        t = core.reshape((2,) * k) if k else core
        offset = None
    else:
        t = core.reshape((2,) * (2 * k)) if k else core
        offset = k
    for ins in circuit.flattened():
        u = _gate_matrix(ins.name)
        arity = 2 if u.shape == (4, 4) else 1
        targets = [tgt.value for tgt in ins.targets_copy()]
        for g in range(0, len(targets), arity):
            axes = targets[g : g + arity]
            t = apply_matrix_to_tensor(t, u, axes)
            if offset is not None:
                t = apply_matrix_to_tensor(t, u.conj(), [a + offset for a in axes])
    return t.reshape(core.shape)


def reduce(core: np.ndarray, keep: int) -> np.ndarray:
    """Operator on the first ``keep`` core qubits with the rest traced out."""
    k = int(round(np.log2(core.shape[0])))
    if core.ndim == 1:
        m = core.reshape(2**keep, 2 ** (k - keep))
        return m @ m.conj().T
    if keep == k:
        return core
    return partial_trace(core, list(range(keep))) if keep else np.array([[np.trace(core)]], dtype=complex)


def dephase(rho: np.ndarray, qubits: range | list[int]) -> np.ndarray:
    """Remove every coherence between different Z values of ``qubits`` (first qubit most significant)."""
    w = int(round(np.log2(rho.shape[0])))
    if not len(qubits):
        return rho
    idx = np.arange(2**w, dtype=np.int64)
    mask = 0
    for q in qubits:
        mask |= 1 << (w - 1 - q)
    keep = (idx[:, None] & mask) == (idx[None, :] & mask)
    return np.where(keep, rho, 0)


def conjugate_pauli(rho: np.ndarray, x_mask: int, z_mask: int) -> np.ndarray:
    """P ρ P† for the Pauli X^x Z^z given by integer masks (the phase cancels)."""
    w = int(round(np.log2(rho.shape[0])))
    idx = np.arange(2**w, dtype=np.int64)
    src = idx ^ x_mask
    sign = 1 - 2 * (np.bitwise_count(src & z_mask).astype(np.int64) & 1)
    return rho[np.ix_(src, src)] * sign[:, None] * sign[None, :]
