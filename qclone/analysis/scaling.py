"""How many clones can an error rate afford? Exact answers from stim's error analysis (no sampling).

The decrypted clone's Pauli channel is read off the detector error model of
:func:`qclone.sim.stabilizer.fidelity_circuit` (exact for the depolarizing,
memory and readout models), so the largest n whose average fidelity stays
above the classical limit 2/3 (F_e > 1/2) is found by bisection on n without
statistical error. F decreases with n (each clone adds gates and stored
qubits); :func:`largest_clones` checks the bracket it returns.

The memory model has a closed form to compare with (the published linear
law, made exact in ``tests/sim/test_stabilizer.py``): depolarizing storage
noise p per qubit reaches the decrypted clone from n + 1 qubits (n + 2/3 for
odd n), so 1 − F_e ≈ (n + 1)·p and F > 2/3 while n < 1/(2p) − 1 to first
order; composed exactly, F_e = (1 + 3λ^{n+1})/4 with λ = 1 − 4p/3.

With ``retrieval="corrected"`` (the stabilizers measured, the error corrected, then the clone
decrypted: :mod:`qclone.analysis.code_sim`) the decoder makes the channel nonlinear in the noise,
so the fidelity at each probed n is *sampled* (``shots`` shots, a fixed seed) and the search stops
at :data:`CORRECTED_MAX_CLONES`; the answer says so (``shots`` is set, ``capped`` when it stopped).

Examples:
    >>> a = largest_clones("memory", 1e-2)
    >>> a.largest_clones, a.linear_law, a.compounded_law
    (81, 48, 81)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from qclone.analysis.code_sim import CorrectedSampler, check_retrieval, corrected_circuit
from qclone.errors import InvalidArgumentError, check_int
from qclone.sim.noise import parse_noise
from qclone.sim.stabilizer import average_fidelity, exact_pauli_channel, fidelity_circuit

#: The classical (measure-and-prepare) limit of the average fidelity.
CLASSICAL_LIMIT = 2 / 3
#: Corrected retrieval is sampled: the search for the largest n stops here.
CORRECTED_MAX_CLONES = 2048
#: Default shots per probed n for corrected retrieval.
CORRECTED_SHOTS = 20_000


def exact_average_fidelity(clones: int, noise: str, p: float | None, *, depth: str = "linear", decrypt: int = 1) -> float:
    """Average fidelity of the decrypted clone, exactly (see the module doc)."""
    ch = exact_pauli_channel(fidelity_circuit(clones, noise=parse_noise(noise, p), decrypt=decrypt, depth=depth))
    return average_fidelity(ch["p_I"])


def sampled_corrected_fidelity(clones: int, noise: str, p: float | None, *, shots: int = CORRECTED_SHOTS,
                               depth: str = "linear", rounds: int = 1, seed: int = 0) -> float:
    """Average fidelity of corrected retrieval of clone 1, sampled (``shots`` shots, stim's ``seed``)."""
    circuit = corrected_circuit(clones, noise=parse_noise(noise, p), rounds=rounds, depth=depth)
    stats = CorrectedSampler(circuit, {"clones": clones, "noise": noise, "p": p, "decrypt": 1, "depth": depth},
                             seed=seed).sample(shots)
    return average_fidelity(1 - stats.errors / stats.shots)


@dataclass(frozen=True)
class ScalingAnswer:
    """The largest n with average fidelity above 2/3, for one noise model, rate and depth variant.

    ``largest_clones`` is None when even n = 1 is below the limit, and equals
    ``max_clones`` (with ``capped``) when the search stopped there.
    ``linear_law`` and ``compounded_law`` are the published memory-noise law
    (first order, and composed exactly) for the same p, for comparison.
    """

    noise: str
    p: float | None
    depth: str
    largest_clones: int | None
    fidelity_at_largest: float | None
    fidelity_after: float | None
    capped: bool
    linear_law: int | None
    compounded_law: int | None
    retrieval: str = "plain"
    shots: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def linear_law_clones(p: float) -> int:
    """Largest n with (n + 1)·p < 1/2 (the first-order memory law)."""
    return math.ceil(1 / (2 * p) - 1) - 1


def compounded_law_clones(p: float) -> int:
    """Largest n with F_e > 1/2 for depolarizing storage noise p, composed exactly (even/odd n as in the module doc)."""
    lam = 1 - 4 * p / 3

    def fe(n: int) -> float:
        return (1 + 3 * lam ** (n + 1)) / 4 if n % 2 == 0 else (1 + lam**n * (2 * lam + 1)) / 4

    n = max(0, int(math.log(1 / 3) / math.log(lam)) - 3)
    while fe(n + 1) > 0.5:
        n += 1
    return n


def largest_clones(
    noise: str,
    p: float | None,
    *,
    depth: str = "linear",
    threshold: float = CLASSICAL_LIMIT,
    max_clones: int = 100_000,
    retrieval: str = "plain",
    shots: int = CORRECTED_SHOTS,
    rounds: int = 1,
) -> ScalingAnswer:
    """Largest n whose average fidelity stays above ``threshold`` (bisection on n; exact for plain
    retrieval, sampled for corrected retrieval, see the module doc)."""
    if not 1 / 3 < threshold < 1:
        raise InvalidArgumentError(f"threshold must be in (1/3, 1), got {threshold}")
    if max_clones < 1:
        raise InvalidArgumentError(f"max_clones must be at least 1, got {max_clones}")
    retrieval = check_retrieval(retrieval)
    corrected = retrieval == "corrected"
    if corrected:
        shots = check_int(shots, "--shots", 1)
        max_clones = min(max_clones, CORRECTED_MAX_CLONES)
    first = 2 if corrected else 1  # corrected retrieval needs a code of distance 3
    f = {}

    def fid(n: int) -> float:
        if n not in f:
            f[n] = (sampled_corrected_fidelity(n, noise, p, shots=shots, depth=depth, rounds=rounds) if corrected
                    else exact_average_fidelity(n, noise, p, depth=depth))
        return f[n]

    laws: tuple[int | None, int | None] = (None, None)
    if noise == "memory" and p:
        laws = (linear_law_clones(p), compounded_law_clones(p))
    tail = (retrieval, shots if corrected else None)
    if max_clones < first or fid(first) <= threshold:
        return ScalingAnswer(noise, p, depth, None, None, fid(first) if max_clones >= first else None, False, *laws, *tail)
    lo, hi = first, 2 * first
    while hi <= max_clones and fid(hi) > threshold:
        lo, hi = hi, 2 * hi
    if hi > max_clones:
        if fid(max_clones) > threshold:
            return ScalingAnswer(noise, p, depth, max_clones, fid(max_clones), None, True, *laws, *tail)
        hi = max_clones
    while hi - lo > 1:  # fid(lo) > threshold >= fid(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fid(mid) > threshold else (lo, mid)
    return ScalingAnswer(noise, p, depth, lo, fid(lo), fid(hi), False, *laws, *tail)


def scaling_table(
    noises: Sequence[str] = ("depolarizing", "memory"),
    ps: Sequence[float] = (1e-4, 1e-3, 3e-3),
    depths: Sequence[str] = ("linear", "log"),
    *,
    max_clones: int = 100_000,
    progress: Callable[[int, int], object] | None = None,
    retrievals: Sequence[str] = ("plain",),
    shots: int = CORRECTED_SHOTS,
    rounds: int = 1,
) -> list[ScalingAnswer]:
    """:func:`largest_clones` for every combination (the heron preset takes no p).

    ``progress(done, total)``, when given, is called after each combination.
    """
    combos = [(nz, p, d, r) for r in retrievals for nz in noises for p in ((None,) if nz == "heron" else ps) for d in depths]
    out = []
    for nz, p, d, r in combos:
        out.append(largest_clones(nz, p, depth=d, max_clones=max_clones, retrieval=r, shots=shots, rounds=rounds))
        if progress is not None:
            progress(len(out), len(combos))
    return out
