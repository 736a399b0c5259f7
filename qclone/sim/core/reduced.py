"""Exact reduced density matrices of a :class:`~qclone.sim.core.CoreState` (see its module doc).

For q qubits Q: the Paulis P on Q whose pull-back C⁻¹PC has no X on a |0⟩
qubit form a group K; everything else has expectation 0. K is found by
eliminating the X bits on |0⟩ qubits from the 2q pulled-back generators
(X_t, Z_t); products are taken with ``stim.PauliString`` so phases stay exact.
K splits into stabilisers (pull-back acts trivially on the core), pairs and
isolated logical operators; Cliffords W (on Q) and V (on the core) built from
them give

    ρ_Q = W · N[ |0⟩⟨0|^a ⊗ D(tr_rest V† ρ_core V) ] ⊗ I/2^f · W†,

where D dephases the isolated qubits and N is the recorded noise, which acts
as a Pauli channel on the bracket (each event's frames, tested against the
generators of K, give its Paulis there).
"""

from __future__ import annotations

import numpy as np
import stim

from qclone.errors import QcloneError
from qclone.sim import gf2
from qclone.sim.core import dense
from qclone.sim.core.blocks import Block, fourier, inverse_fourier
from qclone.sim.core.frame import CoreFrame
from qclone.sim.core.symplectic import tableau_from_images

Pair = list[stim.PauliString]  # [Pauli on Q, its pull-back on the involved blocks]


def _product(rows: list[Pair], combo: np.ndarray) -> Pair:
    """The product (in order) of the rows selected by a GF(2) combination: exact phases via stim."""
    chosen = [rows[i] for i in np.flatnonzero(combo)]
    q, img = chosen[0][0].copy(), chosen[0][1].copy()
    for a, b in chosen[1:]:
        q *= a
        img *= b
    return [q, img]


def _kernel(bits: np.ndarray, rows: list[Pair]) -> list[Pair]:
    """Products of ``rows`` whose ``bits`` cancel: a basis of the kernel (combinations via :mod:`qclone.sim.gf2`)."""
    return [_product(rows, c) for c in gf2.nullspace(bits.T)] if rows else []


def _independent(bits: np.ndarray, rows: list[Pair]) -> list[Pair]:
    """Products of ``rows`` whose ``bits`` form a basis of the span of all rows' bits."""
    n = len(rows)
    if not n:
        return []
    ech = gf2.row_reduce(np.concatenate([bits, np.eye(n, dtype=bool)], axis=1), pivot_columns=bits.shape[1])
    return [_product(rows, row[bits.shape[1]:]) for row, piv in zip(ech.rows, ech.pivots) if piv < bits.shape[1]]


def _symplectic_pairs(rows: list[Pair]) -> tuple[list[tuple[Pair, Pair]], list[Pair]]:
    """Symplectic Gram–Schmidt: (X̄, Z̄) pairs and isolated rows that commute with everything."""
    rows = [list(r) for r in rows]
    pairs: list[tuple[Pair, Pair]] = []
    isolated: list[Pair] = []
    while rows:
        u = rows.pop(0)
        j = next((i for i, w in enumerate(rows) if not w[0].commutes(u[0])), None)
        if j is None:
            isolated.append(u)
            continue
        v = rows.pop(j)
        for w in rows:
            anti_u, anti_v = not w[0].commutes(u[0]), not w[0].commutes(v[0])
            if anti_v:
                w[0] *= u[0]
                w[1] *= u[1]
            if anti_u:
                w[0] *= v[0]
                w[1] *= v[1]
        pairs.append((u, v))
    return pairs, isolated


def _hermitian(row: Pair) -> tuple[stim.PauliString, int]:
    """(the Pauli on Q with sign +1, κ = ±1) such that C⁻¹ P̂ C = κ · (pull-back without its sign)."""
    q, img = row
    eps = q.sign
    kappa = img.sign / eps
    if abs(kappa.imag) > 1e-9 or abs(abs(kappa.real) - 1) > 1e-9:
        raise QcloneError("internal: pull-back of a Hermitian Pauli is not Hermitian")
    return q * (1 / eps), int(round(kappa.real))


def reduced_density_matrix(frame: CoreFrame, qs: np.ndarray) -> np.ndarray:
    """ρ of the qubits ``qs`` (valid, distinct; first = most significant) of the state ``frame`` represents."""
    q = int(qs.size)
    if q == 0:
        return np.ones((1, 1), dtype=complex)
    frame.ensure_blocks(qs)
    order: list[int] = []
    for bid in frame.block_of[qs].tolist():
        if bid not in order:
            order.append(int(bid))
    blocks = [frame.blocks[b] for b in order]
    for b in blocks:
        b.flush()
    offsets = np.cumsum([0] + [b.size for b in blocks])
    total = int(offsets[-1])
    rest = np.concatenate([b.rest_mask() for b in blocks])
    core_pos = np.concatenate([b.core_local + o for b, o in zip(blocks, offsets[:-1])]).astype(np.int64)
    core_idx = np.concatenate([b.core_index for b in blocks]).astype(np.int64)
    k = frame.num_core_qubits

    # pulled-back generators X_t, Z_t of every qubit of Q, on the concatenated blocks
    rows: list[Pair] = []
    for i, t in enumerate(qs.tolist()):
        pos = order.index(int(frame.block_of[t]))
        b = blocks[pos]
        before, after = stim.PauliString(int(offsets[pos])), stim.PauliString(total - int(offsets[pos + 1]))
        for letter in "XZ":
            qside = stim.PauliString(q)
            qside[i] = letter
            rows.append([qside, before + b.pull(int(frame.local[t]), letter) + after])
    restx = np.array([r[1].to_numpy()[0] & rest for r in rows])
    group = _kernel(restx, rows)

    def core_bits(img: stim.PauliString) -> np.ndarray:
        x, z = img.to_numpy()
        out = np.zeros(2 * k, dtype=bool)
        out[core_idx] = x[core_pos]
        out[k + core_idx] = z[core_pos]
        return out

    lbits = np.array([core_bits(r[1]) for r in group]).reshape(len(group), 2 * k)
    stabs = _kernel(lbits, group)
    pairs, isolated = _symplectic_pairs(_independent(lbits, group))
    a, p, c = len(stabs), len(pairs), len(isolated)
    f = q - a - p - c
    w = a + p + c

    # W on Q: standard qubits = stabilisers | pairs | isolated | free
    xs_w: list[stim.PauliString | None] = [None] * q
    zs_w: list[stim.PauliString | None] = [None] * q
    gens: list[tuple[int, str, stim.PauliString]] = []  # (standard qubit, role of the generator, pull-back)
    for i, row in enumerate(stabs):
        hat, kappa = _hermitian(row)
        zs_w[i] = hat * kappa
        gens.append((i, "Z", row[1]))
    xs_v: list[stim.PauliString | None] = [None] * k
    zs_v: list[stim.PauliString | None] = [None] * k

    def core_pauli(row: Pair, kappa: int) -> stim.PauliString:
        bits = core_bits(row[1])
        return stim.PauliString.from_numpy(xs=bits[:k], zs=bits[k:], sign=kappa)

    for t, (rx, rz) in enumerate(pairs):
        (hx, kx), (hz, kz) = _hermitian(rx), _hermitian(rz)
        xs_w[a + t], zs_w[a + t] = hx, hz
        xs_v[t], zs_v[t] = core_pauli(rx, kx), core_pauli(rz, kz)
        gens += [(a + t, "X", rx[1]), (a + t, "Z", rz[1])]
    for t, row in enumerate(isolated):
        h, kappa = _hermitian(row)
        zs_w[a + p + t] = h
        zs_v[p + t] = core_pauli(row, kappa)
        gens.append((a + p + t, "Z", row[1]))
    w_tab = tableau_from_images(q, xs_w, zs_w)
    w_circuit = None if w_tab == stim.Tableau(q) else w_tab.to_circuit("elimination")
    v_circuit = None
    if k:
        v_tab = tableau_from_images(k, xs_v, zs_v)
        if v_tab != stim.Tableau(k):
            v_circuit = v_tab.inverse().to_circuit("elimination")

    channels = _noise_on_standard_frame(blocks, offsets, gens, w)
    other_factors = np.ones(len(frame.terms))
    for bid, b in frame.blocks.items():
        if bid not in order:
            other_factors *= b.noise_factors(None)

    zero_a = np.zeros((2**a, 2**a), dtype=complex)
    zero_a[0, 0] = 1
    result = np.zeros((2**q, 2**q), dtype=complex)
    for t, core in enumerate(frame.terms):
        m = core if v_circuit is None else dense.apply_clifford(core, v_circuit)
        sigma = dense.dephase(dense.reduce(m, p + c), range(p, p + c))
        sigma = np.kron(zero_a, sigma)
        sigma = _apply_channels(sigma, channels, t) * other_factors[t]
        full = np.kron(sigma, np.eye(2**f) / 2**f) if f else sigma
        result += full if w_circuit is None else dense.apply_clifford(full, w_circuit)
    return result


def _noise_on_standard_frame(
    blocks: list[Block], offsets: np.ndarray, gens: list[tuple[int, str, stim.PauliString]], w: int,
) -> list[tuple[Block, np.ndarray, np.ndarray]]:
    """Per involved event: its X and Z frames as Paulis on the w standard qubits (as integer masks)."""
    out = []
    if not gens:
        imgs = []
    else:
        imgs = [g[2].to_numpy() for g in gens]
    for pos, b in enumerate(blocks):
        if not b.num_events:
            continue
        lo, hi = int(offsets[pos]), int(offsets[pos + 1])
        gx = np.zeros((b.num_events, 2), dtype=np.int64)
        gz = np.zeros((b.num_events, 2), dtype=np.int64)
        for (std, role, _), (ix, iz) in zip(gens, imgs):
            chi = b.commutation(ix[lo:hi], iz[lo:hi]).astype(np.int64)
            bit = 1 << (w - 1 - std)
            # a frame anticommuting with W(Z_i) flips standard qubit i (X bit); with W(X_i), a Z bit
            if role == "Z":
                gx |= chi * bit
            else:
                gz |= chi * bit
        out.append((b, gx, gz))
    return out


def _apply_channels(sigma: np.ndarray, channels: list[tuple[Block, np.ndarray, np.ndarray]], term: int) -> np.ndarray:
    for b, gx, gz in channels:
        keys = np.stack([gx[:, 0], gz[:, 0], gx[:, 1], gz[:, 1]], axis=1)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        f = fourier(b.probs)  # (E, 4): f(c)
        sig = b.sigma[term]
        shift = 2 * sig[:, 0].astype(np.int64) + sig[:, 1]
        signed = f[np.arange(f.shape[0])[:, None], np.arange(4)[None, :] ^ shift[:, None]]
        prod = np.ones((uniq.shape[0], 4))
        np.multiply.at(prod, inv.ravel(), signed)
        weights = inverse_fourier(prod)
        for (x0, z0, x1, z1), wt in zip(uniq.tolist(), weights):
            if not (x0 or z0 or x1 or z1):
                sigma = sigma * prod_total(wt)
                continue
            out = wt[0] * sigma
            for (xm, zm), wmu in (((x0, z0), wt[1]), ((x0 ^ x1, z0 ^ z1), wt[2]), ((x1, z1), wt[3])):
                if wmu:
                    out = out + wmu * dense.conjugate_pauli(sigma, xm, zm)
            sigma = out
    return sigma


def prod_total(weights: np.ndarray) -> float:
    """The overall factor of a channel whose Paulis are all trivial."""
    return float(np.sum(weights))
