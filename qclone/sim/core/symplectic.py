"""Small symplectic linear algebra over GF(2): Pauli vectors, bases, Clifford tableaux.

A Pauli on ``q`` qubits (phases aside) is a vector ``v = [x | z]`` of ``2q``
bits; two Paulis commute iff their symplectic product
``⟨a, b⟩ = a_x·b_z + a_z·b_x (mod 2)`` is 0. These routines work on the few
dozen vectors that describe a small subsystem, so plain numpy and Python loops
over vectors are fine here; bulk data goes through :mod:`.bits`.

Examples:
    >>> import numpy as np
    >>> xz = np.array([1, 0, 0, 0], dtype=bool)        # X on qubit 0 of 2
    >>> zz = np.array([0, 0, 1, 0], dtype=bool)        # Z on qubit 0
    >>> int(symplectic(xz, zz))
    1
    >>> xs, zs = complete_basis(2, [xz, None], [zz, None])
    >>> all(int(symplectic(xs[i], zs[j])) == (i == j) for i in range(2) for j in range(2))
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import stim

from qclone.errors import QcloneError
from qclone.sim import gf2


def symplectic(a: np.ndarray, b: np.ndarray) -> bool:
    """⟨a, b⟩ for vectors ``[x | z]``."""
    q = a.size // 2
    return bool((np.count_nonzero(a[:q] & b[q:]) + np.count_nonzero(a[q:] & b[:q])) & 1)


def _swap_halves(v: np.ndarray) -> np.ndarray:
    q = v.size // 2
    return np.concatenate([v[q:], v[:q]])


def solve_gf2(rows: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
    """A solution ``v`` of ``rows @ v = rhs`` over GF(2), or ``None`` (via :func:`qclone.sim.gf2.row_reduce`)."""
    a = np.asarray(rows, dtype=bool)
    n = a.shape[1]
    ech = gf2.row_reduce(np.concatenate([a, np.asarray(rhs, dtype=bool)[:, None]], axis=1), pivot_columns=n)
    v = np.zeros(n, dtype=bool)
    for row, piv in zip(ech.rows, ech.pivots):
        if piv >= n:
            return None
        v[piv] = row[n]
    return v


def _project_out(v: np.ndarray, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``v`` made to commute with every complete pair (x_j, z_j)."""
    v = v.copy()
    for x, z in pairs:
        cz, cx = symplectic(v, z), symplectic(v, x)
        if cz:
            v ^= x
        if cx:
            v ^= z
    return v


def complete_basis(
    num_qubits: int,
    xs: Sequence[np.ndarray | None],
    zs: Sequence[np.ndarray | None],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Complete a partial symplectic basis to a full one.

    ``xs[i]`` / ``zs[i]`` are the images of X_i / Z_i where prescribed (else
    ``None``). A prescribed ``xs[i]`` needs ``zs[i]``. The prescribed vectors
    must already satisfy ⟨x_i, z_j⟩ = δ_ij and commute otherwise.

    Raises:
        QcloneError: if the prescribed vectors are inconsistent (a bug in the caller).
    """
    q = num_qubits
    xs = [None if v is None else np.asarray(v, dtype=bool) for v in xs]
    zs = [None if v is None else np.asarray(v, dtype=bool) for v in zs]
    for i, v in enumerate(xs):
        if v is not None and zs[i] is None:
            raise QcloneError("complete_basis: an X image needs its Z image")
    # partners for prescribed Z's without an X
    for i in range(q):
        if zs[i] is None or xs[i] is not None:
            continue
        rows, rhs = [], []
        for j in range(q):
            zj, xj = zs[j], xs[j]
            if zj is not None:
                rows.append(_swap_halves(zj))
                rhs.append(i == j)
            if xj is not None:
                rows.append(_swap_halves(xj))
                rhs.append(False)
        v = solve_gf2(np.array(rows), np.array(rhs))
        if v is None:
            raise QcloneError("complete_basis: prescribed Paulis are not independent")
        xs[i] = v
    pairs = [(x, z) for x, z in zip(xs, zs) if x is not None and z is not None]
    units = np.eye(2 * q, dtype=bool)
    for i in range(q):
        if zs[i] is not None:
            continue
        z = next((w for w in (_project_out(u, pairs) for u in units) if w.any()), None)
        if z is None:
            raise QcloneError("complete_basis: no room left for another qubit")
        x = next((w for w in (_project_out(u, pairs) for u in units) if symplectic(w, z)), None)
        if x is None:
            raise QcloneError("complete_basis: no partner found")
        xs[i], zs[i] = x, z
        pairs.append((x, z))
    done_x = [v for v in xs if v is not None]
    done_z = [v for v in zs if v is not None]
    if len(done_x) != q or len(done_z) != q:
        raise QcloneError("complete_basis: internal: the basis is incomplete")
    return done_x, done_z


def pauli_string(v: np.ndarray, sign: int = 1) -> stim.PauliString:
    """A ``stim.PauliString`` from ``[x | z]`` bits."""
    q = v.size // 2
    return stim.PauliString.from_numpy(xs=np.asarray(v[:q], dtype=bool), zs=np.asarray(v[q:], dtype=bool), sign=sign)


def vector_of(p: stim.PauliString) -> np.ndarray:
    """``[x | z]`` bits of a ``stim.PauliString``."""
    x, z = p.to_numpy()
    return np.concatenate([x, z]).astype(bool)


def tableau_from_images(
    num_qubits: int,
    xs: Sequence[stim.PauliString | None],
    zs: Sequence[stim.PauliString | None],
) -> stim.Tableau:
    """The Clifford mapping X_i → xs[i], Z_i → zs[i] (signs kept), completed where ``None``."""
    xv = [None if p is None else vector_of(p) for p in xs]
    zv = [None if p is None else vector_of(p) for p in zs]
    full_x, full_z = complete_basis(num_qubits, xv, zv)
    out_x = [xs[i] if xs[i] is not None else pauli_string(full_x[i]) for i in range(num_qubits)]
    out_z = [zs[i] if zs[i] is not None else pauli_string(full_z[i]) for i in range(num_qubits)]
    return stim.Tableau.from_conjugated_generators(xs=out_x, zs=out_z)
