"""The main job of ``qclone demo``: encrypt, look at every share, decrypt once, fail twice.

Every number in a :class:`DemoResult` is computed on the exact engine. Two
copies of the protocol run side by side on the same circuit: one with a random
pure input |ψ⟩ (for Bloch vectors and fidelities) and one with the input qubit
A maximally entangled with an outside reference R (for information: the mutual
information I(R : X) is 0 bits when the qubits X know nothing about the input
and 2 bits when they hold all of it).

Examples:
    >>> r = run_demo(clones=3, seed=7)
    >>> round(r.decrypted.fidelity, 9)
    1.0
    >>> round(r.second_attempt.information_bits, 9)
    0.0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from qclone.errors import TooLargeError
from qclone.protocol import Layout, bell_pairs, bell_state, encryption
from qclone.protocol.build import clone_decryption
from qclone.protocol.layout import single_clone_warning
from qclone.sim.engine import DENSE, Engine
from qclone.sim.exact import bloch_vector, fidelity, random_state

#: Largest n the demo simulates exactly (2n + 2 qubits).
MAX_DEMO_CLONES = 10


@dataclass(frozen=True)
class ShareView:
    """What one qubit (or group of qubits) holds after encryption."""

    name: str
    qubits: tuple[str, ...]
    bloch: tuple[float, float, float] | None
    entropy_bits: float
    max_entropy_bits: float
    information_bits: float

    @property
    def maximally_mixed(self) -> bool:
        return abs(self.entropy_bits - self.max_entropy_bits) < 1e-9


@dataclass(frozen=True)
class Decryption:
    clone: int
    bloch: tuple[float, float, float]
    fidelity: float
    information_bits: float


@dataclass(frozen=True)
class Remainder:
    """What is left outside the decrypted clone."""

    information_bits: float
    bell_pair_fidelities: dict[str, float]


@dataclass(frozen=True)
class DemoResult:
    clones: int
    seed: int
    input_bloch: tuple[float, float, float]
    shares: tuple[ShareView, ...]
    decrypted: Decryption
    remainder: Remainder
    second_attempt: Decryption | None
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        for s, share in zip(d["shares"], self.shares):
            s["maximally_mixed"] = share.maximally_mixed
        return d


def _b(rho: np.ndarray) -> tuple[float, float, float]:
    x, y, z = (round(v, 12) + 0.0 for v in bloch_vector(rho))  # + 0.0 turns -0.0 into 0.0
    return x, y, z


def run_demo(*, clones: int = 5, seed: int | None = None, engine: Engine = DENSE) -> DemoResult:
    """Run the demo for ``clones`` clones; ``seed`` fixes the input and the clone decrypted.

    ``engine`` computes every number (the dense engine by default; any engine of
    :mod:`qclone.sim.engine` gives the same figures).
    """
    lay = Layout(clones, references=1)
    n = lay.clones
    if n > MAX_DEMO_CLONES:
        raise TooLargeError(f"the demo simulates n <= {MAX_DEMO_CLONES} clones exactly (got {n})")
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    rng = np.random.default_rng(seed)
    psi = random_state(1, rng)
    j = int(rng.integers(1, n + 1))
    k = None if n == 1 else int(rng.choice([c for c in range(1, n + 1) if c != j]))

    R, A = lay.R(), lay.A()
    pure = engine.prepare(lay.num_qubits, np.kron(psi, [1, 0]), [A, R])
    ent = engine.prepare(lay.num_qubits, bell_state(0), [A, R])
    enc = encryption(lay, circuit=bell_pairs(lay))
    engine.apply(pure, enc)
    engine.apply(ent, enc)

    def view(name: str, qubits: list[int]) -> ShareView:
        return ShareView(
            name=name,
            qubits=tuple(lay.labels[q] for q in qubits),
            bloch=_b(pure.reduced_density_matrix(qubits)) if len(qubits) == 1 else None,
            entropy_bits=pure.entropy(qubits),
            max_entropy_bits=float(len(qubits)),
            information_bits=ent.mutual_information([R], qubits),
        )

    shares = [view("A", [A])]
    shares += [view(f"clone S{c}", [lay.S(c)]) for c in range(1, n + 1)]
    shares += [view(f"key qubit N{c}", [lay.N(c)]) for c in range(1, n + 1)]
    shares.append(view(f"key N1..N{n}", list(lay.keys)))

    dec = clone_decryption(lay, j)
    engine.apply(pure, dec)
    engine.apply(ent, dec)
    s = lay.S(j)
    decrypted = Decryption(j, _b(pure.reduced_density_matrix([s])), fidelity(pure.reduced_density_matrix([s]), psi),
                           ent.mutual_information([R], [s]))
    rest = [q for q in range(lay.num_qubits) if q not in (s, R)]
    phi = bell_state(0)
    pairs = {f"A,N{j}": [A, lay.N(j)]}
    pairs.update({f"S{c},N{c}": [lay.S(c), lay.N(c)] for c in range(1, n + 1) if c != j})
    remainder = Remainder(ent.mutual_information([R], rest),
                          {name: fidelity(pure.reduced_density_matrix(q), phi) for name, q in pairs.items()})

    second = None
    if k is not None:
        dec2 = clone_decryption(lay, k)
        engine.apply(pure, dec2)
        engine.apply(ent, dec2)
        sk = lay.S(k)
        second = Decryption(k, _b(pure.reduced_density_matrix([sk])), fidelity(pure.reduced_density_matrix([sk]), psi),
                            ent.mutual_information([R], [sk]))
    w = single_clone_warning(n)
    return DemoResult(n, seed, _b(np.outer(psi, psi.conj())), tuple(shares), decrypted, remainder, second,
                      (w,) if w else ())
