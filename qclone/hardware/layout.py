"""Where the protocol's qubits sit on a heavy-hex device.

The layout is one simple path of the coupling map, read as

    R, A, S_p1, N_p1, S_p2, N_p2, ..., S_pn, N_pn

so the reference sits next to the input, every Bell pair (S_k, N_k) is a
coupling edge, and the pair to be decrypted (``p_n = decrypt``) sits at the far
end. :mod:`qclone.hardware.schedule` turns that into a gate schedule that needs
only nearest-neighbour gates.

Why a path, and why that is the largest n: heavy-hex is bipartite and every
Bell pair is a coupling edge, so the pairs (plus the pair R, A) form a
matching. On a 156-qubit Heron r2 the largest matching has 64 edges, so at most
63 clones fit (128 qubits in use); on the 133-qubit Heron r1 at most 55. The
path found here (a snake through the rows) reaches exactly those bounds, so no
layout with adjacent Bell pairs holds more clones. :func:`max_clones` reports
it per device.

The path is found once per device by a greedy search that never cuts off
unvisited qubits (always step to the neighbour that keeps the most qubits
reachable). Of the windows of the right length along it, the one with the
smallest summed two-qubit-gate error plus readout error of the measured qubits
is used.

Examples:
    >>> from qclone.hardware.devices import get_backend
    >>> lay = device_layout(get_backend("fake_fez"), clones=3, decrypt=2)
    >>> lay.pair_order, len(lay.path)
    ((1, 3, 2), 8)
    >>> max_clones(get_backend("fake_fez")), max_clones(get_backend("fake_torino"))
    (63, 55)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from qiskit.providers import BackendV2

from qclone.errors import InvalidArgumentError, TooLargeError, is_int
from qclone.protocol.layout import check_clones

Adjacency = tuple[tuple[int, ...], ...]


def coupling_adjacency(backend: BackendV2) -> Adjacency:
    """Undirected neighbour lists of the backend's coupling map."""
    n = backend.num_qubits
    nbrs: list[set[int]] = [set() for _ in range(n)]
    for a, b in backend.coupling_map.get_edges():
        nbrs[a].add(b)
        nbrs[b].add(a)
    return tuple(tuple(sorted(s)) for s in nbrs)


def _reachable(adj: Adjacency, start: int, blocked: set[int]) -> int:
    stack, seen = [start], {start}
    while stack:
        u = stack.pop()
        for w in adj[u]:
            if w not in blocked and w not in seen:
                seen.add(w)
                stack.append(w)
    return len(seen)


def _greedy_path(adj: Adjacency, start: int) -> list[int]:
    path, used = [start], {start}
    while True:
        cand = [v for v in adj[path[-1]] if v not in used]
        if not cand:
            return path
        # keep the most qubits reachable; among equals take the one with fewest free neighbours
        v = min(cand, key=lambda v: (-_reachable(adj, v, used), sum(w not in used for w in adj[v]), v))
        path.append(v)
        used.add(v)


@lru_cache(maxsize=16)
def long_path(adj: Adjacency) -> tuple[int, ...]:
    """A long simple path of the graph (deterministic; the longest over all greedy starts)."""
    best: list[int] = []
    for s in range(len(adj)):
        p = _greedy_path(adj, s)
        if len(p) > len(best):
            best = p
    return tuple(best)


def max_clones(backend: BackendV2) -> int:
    """The largest n this layout places on the device: (path length − 2) // 2."""
    return max(0, (len(long_path(coupling_adjacency(backend))) - 2) // 2)


@dataclass(frozen=True)
class DeviceLayout:
    """Physical qubits of R, A and every pair, in path order.

    Args:
        device: backend name.
        clones: n.
        decrypt: the clone that will be decrypted (its pair is last on the path).
        path: ``2n + 2`` physical qubits: R, A, then the pairs in ``pair_order``.
        pair_order: logical pair numbers along the path; the last one is ``decrypt``.
    """

    device: str
    clones: int
    decrypt: int
    path: tuple[int, ...]
    pair_order: tuple[int, ...]

    @property
    def R(self) -> int:  # noqa: N802 - physics notation
        return self.path[0]

    @property
    def A(self) -> int:  # noqa: N802 - register names are physics notation
        return self.path[1]

    def slot_of_pair(self, k: int) -> int:
        """Path index of S_k (N_k is the next one)."""
        return 2 + 2 * self.pair_order.index(k)

    def S(self, k: int) -> int:  # noqa: N802 - physics notation
        return self.path[self.slot_of_pair(k)]

    def N(self, k: int) -> int:  # noqa: N802 - physics notation
        return self.path[self.slot_of_pair(k) + 1]

    @property
    def physical(self) -> Mapping[str, int]:
        """Label (``R``, ``A``, ``S3``, ``N3``) → physical qubit before any gate."""
        out = {"R": self.R, "A": self.A}
        for k in sorted(self.pair_order):
            out[f"S{k}"] = self.S(k)
            out[f"N{k}"] = self.N(k)
        return out


def _window_score(backend: BackendV2, window: Sequence[int]) -> float:
    target = backend.target
    two_q = next((g for g in ("cz", "ecr", "cx") if g in target.operation_names), None)
    score = 0.0
    for a, b in zip(window, window[1:]):
        props = None
        if two_q is not None:
            props = target[two_q].get((a, b)) or target[two_q].get((b, a))
        score += (props.error or 0.0) if props is not None else 0.0
    if "measure" in target.operation_names:
        # the reference and the decrypted clone (slot 2 for n = 1, else slot 3) are measured
        for q in (window[0], window[2 if len(window) == 4 else 3]):
            props = target["measure"].get((q,))
            score += (props.error or 0.0) if props is not None else 0.0
    return score


def device_layout(backend: BackendV2, clones: int, decrypt: int = 1, *, name: str | None = None) -> DeviceLayout:
    """Place n clones, their keys, A and R on the device.

    Raises:
        InvalidArgumentError: for n < 1 or a clone index outside 1..n.
        TooLargeError: if n exceeds :func:`max_clones` for the device.
    """
    n = check_clones(clones)
    if not is_int(decrypt) or not 1 <= decrypt <= n:
        raise InvalidArgumentError(f"the decrypted clone must be in 1..{n}, got {decrypt!r}")
    path = long_path(coupling_adjacency(backend))
    length = 2 * n + 2
    device = str(name or getattr(backend, "name", "device"))
    if length > len(path):
        raise TooLargeError(
            f"{n} clones need {length} qubits on a path of adjacent Bell pairs; {device} holds at most "
            f"{max_clones(backend)} clones this way (its coupling map has no larger matching)"
        )
    windows = [path[i : i + length] for i in range(len(path) - length + 1)]
    windows += [w[::-1] for w in windows]
    best = min(windows, key=lambda w: (_window_score(backend, w), w))
    order = tuple(k for k in range(1, n + 1) if k != decrypt) + (decrypt,)
    return DeviceLayout(device=device, clones=n, decrypt=decrypt, path=tuple(best), pair_order=order)
