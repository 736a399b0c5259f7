"""The stabilizer engine (stim): noisy fidelity estimates at any n, and a tableau state for moderate n.

Figure of merit. An outside reference qubit R is prepared in |Φ+⟩ with the
input A (ideally: R is a mathematical device, not hardware), the noisy
protocol runs, and the two Bell-stabilizer observables X_R X_S and Z_R Z_S of
the decrypted clone S = S_j are measured (with the readout flips of the
noise model). Both are +1 without noise (qclone verify proves it); the four
outcomes are the four Bell states, so the decrypted clone's channel, twirled
to a Pauli channel, has

* p_I = P(both +1): the **entanglement fidelity** F_e,
* p_X = P(only Z_R Z_S flips), p_Z = P(only X_R X_S flips), p_Y = P(both flip),

and the **average fidelity** over pure inputs is F = (2·F_e + 1)/3. The
classical limit (measure and prepare) is F = 2/3, i.e. F_e = 1/2.

:func:`estimate_fidelity` samples shots with stim; :func:`exact_pauli_channel`
reads the same probabilities off stim's detector error model (no sampling;
exact for depolarizing, independent Pauli flips and readout flips).

Examples:
    >>> from qclone.sim.noise import noise_model
    >>> est = estimate_fidelity(10, noise=noise_model("depolarizing", p=1e-3), shots=20_000, seed=1)
    >>> 0.9 < est.entanglement_fidelity < 0.97 and est.ci_low < est.average_fidelity < est.ci_high
    True
    >>> round(exact_pauli_channel(fidelity_circuit(20, noise=noise_model("memory", p=1e-3)))["p_I"], 4)
    0.9793
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import stim

from qclone.errors import InvalidArgumentError, TooLargeError, UnsupportedError, is_int
from qclone.protocol import Layout, bell_pairs, decryption, encryption
from qclone.protocol.build import check_depth
from qclone.protocol.circuit import Circuit
from qclone.protocol.layout import DecryptTarget
from qclone.protocol.render import to_stim
from qclone.sim import gf2
from qclone.sim.exact import listed_order
from qclone.sim.noise import NoiseModel, noisy_stim_text

#: z of a two-sided 95 % interval.
Z95 = 1.959963984540054
PAULI_KEYS = ("p_I", "p_X", "p_Y", "p_Z")
#: (flip of X_R X_S, flip of Z_R Z_S) -> the Pauli on the decrypted clone
_OUTCOME = {(False, False): "p_I", (False, True): "p_X", (True, True): "p_Y", (True, False): "p_Z"}


def wilson_interval(successes: int, trials: int, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Examples:
        >>> [round(v, 4) for v in wilson_interval(90, 100)]
        [0.8256, 0.9448]
    """
    if trials <= 0:
        raise InvalidArgumentError("a confidence interval needs at least one shot")
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def average_fidelity(entanglement_fidelity: float) -> float:
    """F = (2·F_e + 1)/3 for a qubit channel."""
    return (2 * entanglement_fidelity + 1) / 3


@dataclass(frozen=True)
class FidelityEstimate:
    """Fidelity of the decrypted clone from ``shots`` Bell-stabilizer measurements.

    ``errors`` counts shots where either observable flipped (1 − F_e); the
    interval (Wilson, 95 %) is on the average fidelity.
    """

    shots: int
    errors: int
    entanglement_fidelity: float
    average_fidelity: float
    ci_low: float
    ci_high: float
    pauli_channel: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, counts: dict[str, int]) -> FidelityEstimate:
        """From shot counts keyed by ``p_I``, ``p_X``, ``p_Y``, ``p_Z``."""
        shots = int(sum(counts.get(k, 0) for k in PAULI_KEYS))
        if shots <= 0:
            raise InvalidArgumentError("a fidelity estimate needs at least one shot")
        good = int(counts.get("p_I", 0))
        lo, hi = wilson_interval(good, shots)
        fe = good / shots
        return cls(shots, shots - good, fe, average_fidelity(fe), average_fidelity(lo), average_fidelity(hi),
                   {k: counts.get(k, 0) / shots for k in PAULI_KEYS})

    @property
    def standard_error(self) -> float:
        """Binomial standard error of the entanglement fidelity."""
        f = self.entanglement_fidelity
        return math.sqrt(max(f * (1 - f), 1 / self.shots) / self.shots)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shots": self.shots,
            "errors": self.errors,
            "entanglement_fidelity": self.entanglement_fidelity,
            "average_fidelity": self.average_fidelity,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            **self.pauli_channel,
        }


def _protocol(lay: Layout, decrypt: DecryptTarget, depth: str) -> tuple[Circuit, int]:
    variant = check_depth(depth)
    enc = encryption(lay, depth=variant, circuit=bell_pairs(lay))
    return decryption(lay, decrypt, depth=variant, circuit=enc), len(enc.instructions)


def fidelity_circuit(clones: int, *, noise: NoiseModel, decrypt: DecryptTarget = 1, depth: str = "linear") -> stim.Circuit:
    """The noisy stim circuit behind :func:`estimate_fidelity`.

    R (qubit 2n + 1) is put in |Φ+⟩ with A without noise; Bell pairs and
    encryption follow with gate noise, then the storage period (idle noise on
    every qubit but R), the decryption of ``decrypt`` (a clone 1..n, or ``"A"``
    for even n) with gate noise, and the measurement of X_R X_S (observable 0)
    and Z_R Z_S (observable 1) with the readout flips.

    Examples:
        >>> from qclone.sim.noise import noise_model
        >>> c = fidelity_circuit(3, noise=noise_model("readout", p=0.01))
        >>> c.num_observables, c.num_qubits
        (2, 8)
    """
    lay = Layout(clones, references=1)
    depth = check_depth(depth)
    target = lay.check_target(decrypt)
    circ, storage_after = _protocol(lay, target, depth)
    r, s = lay.R(), lay.output_qubit(target)
    q = noise.readout_flip
    head = f"H {r}\nCX {r} {lay.A()}"
    body = noisy_stim_text(circ, noise, storage_after=storage_after)
    mpp = f"MPP({q!r})" if q > 0 else "MPP"
    tail = f"{mpp} X{r}*X{s} Z{r}*Z{s}\nOBSERVABLE_INCLUDE(0) rec[-2]\nOBSERVABLE_INCLUDE(1) rec[-1]"
    return stim.Circuit("\n".join((head, body, tail)))


def count_outcomes(observable_flips: np.ndarray) -> dict[str, int]:
    """Shot counts p_I..p_Z from an array (shots, 2) of observable flips."""
    flips = np.asarray(observable_flips, dtype=bool)
    if flips.ndim != 2 or flips.shape[1] != 2:
        raise InvalidArgumentError("expected observable flips of shape (shots, 2)")
    code = flips[:, 0].astype(np.int64) * 2 + flips[:, 1]
    tally = np.bincount(code, minlength=4)
    return {_OUTCOME[(bool(c >> 1), bool(c & 1))]: int(tally[c]) for c in range(4)}


def sample_counts(circuit: stim.Circuit, shots: int, *, seed: int | None = None) -> dict[str, int]:
    """Sample ``shots`` shots of a fidelity circuit and count the four outcomes."""
    if not is_int(shots) or shots < 1:
        raise InvalidArgumentError(f"shots must be a positive integer, got {shots!r}")
    sampler = circuit.compile_detector_sampler(seed=seed)
    _, obs = sampler.sample(int(shots), separate_observables=True)
    return count_outcomes(obs)


def estimate_fidelity(
    clones: int,
    *,
    noise: NoiseModel,
    shots: int,
    decrypt: DecryptTarget = 1,
    depth: str = "linear",
    seed: int | None = None,
) -> FidelityEstimate:
    """Sample the decrypted clone's fidelity with stim (see the module doc)."""
    return FidelityEstimate.from_counts(sample_counts(fidelity_circuit(clones, noise=noise, decrypt=decrypt, depth=depth), shots, seed=seed))


def exact_pauli_channel(circuit: stim.Circuit) -> dict[str, float]:
    """p_I..p_Z of a fidelity circuit from stim's detector error model, without sampling.

    The model lists independent error mechanisms and which observables each
    flips; combining them gives the outcome distribution. Exact when every
    noise channel converts exactly (depolarizing, X/Y/Z flips, readout flips;
    :mod:`qclone.sim.noise` writes idle channels as independent flips for this).

    Raises:
        UnsupportedError: if the circuit has a channel stim can only approximate.
    """
    try:
        dem = circuit.detector_error_model()
    except ValueError as e:
        raise UnsupportedError(f"the circuit's noise has no exact error model: {' '.join(str(e).split())[:200]}") from None
    dist = np.array([1.0, 0.0, 0.0, 0.0])  # index = 2·flip(obs 0) + flip(obs 1)
    for ins in dem.flattened():
        if ins.type != "error":
            continue
        p = ins.args_copy()[0]
        mask = 0
        for t in ins.targets_copy():
            if t.is_logical_observable_id():
                mask ^= 2 if t.val == 0 else 1
        if mask:
            dist = (1 - p) * dist + p * dist[np.arange(4) ^ mask]
    return {_OUTCOME[(bool(c >> 1), bool(c & 1))]: float(dist[c]) for c in range(4)}


# --- the stabilizer engine (a tableau state for moderate n) ------------------------------

#: Largest number of qubits a tableau state holds (entropies need O(m^3/64) bit operations).
MAX_TABLEAU_QUBITS = 2_001
#: Largest set of qubits whose reduced density matrix is built (4^k Pauli expectations).
MAX_RDM_QUBITS = 8


def gf2_rank(matrix: np.ndarray) -> int:
    """Rank over GF(2) of a 0/1 matrix (see :mod:`qclone.sim.gf2`).

    Examples:
        >>> gf2_rank(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]]))
        2
    """
    return gf2.rank(np.asarray(matrix, dtype=bool))


class StabilizerState:
    """A stabilizer state of up to :data:`MAX_TABLEAU_QUBITS` qubits (stim's tableau simulator)."""

    def __init__(self, simulator: stim.TableauSimulator, num_qubits: int) -> None:
        self._sim = simulator
        self.num_qubits = num_qubits

    def _check(self, qubits: Sequence[int]) -> list[int]:
        qs = [int(q) for q in qubits]
        if len(set(qs)) != len(qs) or any(not 0 <= q < self.num_qubits for q in qs):
            raise InvalidArgumentError(f"qubits must be distinct and in 0..{self.num_qubits - 1}, got {qs}")
        return qs

    def apply_circuit(self, circuit: Circuit) -> None:
        """Apply ``circuit`` (Clifford gates) in place."""
        if circuit.num_qubits > self.num_qubits:
            raise InvalidArgumentError(f"a circuit of {circuit.num_qubits} qubits on a state of {self.num_qubits}")
        self._sim.do(to_stim(circuit))

    def copy(self) -> StabilizerState:
        return StabilizerState(self._sim.copy(), self.num_qubits)

    def expectation(self, pauli: str | stim.PauliString) -> float:
        p = stim.PauliString(pauli) if isinstance(pauli, str) else pauli
        return float(self._sim.peek_observable_expectation(p))

    def reduced_density_matrix(self, qubits: Sequence[int]) -> np.ndarray:
        """ρ of ``qubits`` (first listed = most significant) from the 4^k Pauli expectations."""
        qs = self._check(qubits)
        k = len(qs)
        if k > MAX_RDM_QUBITS:
            raise TooLargeError(f"reduced density matrices are built for at most {MAX_RDM_QUBITS} qubits, got {k}")
        single = {"I": np.eye(2), "X": np.array([[0, 1], [1, 0]]), "Y": np.array([[0, -1j], [1j, 0]]), "Z": np.diag([1, -1])}
        rho = np.zeros((2**k, 2**k), dtype=complex)
        for code in range(4**k):
            letters = ["IXYZ"[(code >> (2 * i)) & 3] for i in range(k)]
            p = stim.PauliString(self.num_qubits)
            mat = np.ones((1, 1), dtype=complex)
            for q, letter in zip(qs, letters):
                if letter != "I":
                    p[q] = letter
                mat = np.kron(mat, single[letter])
            e = self.expectation(p)
            if e:
                rho += e * mat
        return rho / 2**k

    def entropy(self, qubits: Sequence[int]) -> float:
        """S(qubits) in bits: rank of the stabilizer generators restricted to the qubits, minus their number."""
        qs = self._check(qubits)
        if not qs:
            return 0.0
        gens = self._sim.canonical_stabilizers()
        xs = np.zeros((len(gens), len(qs)), dtype=bool)
        zs = np.zeros_like(xs)
        for i, g in enumerate(gens):
            x, z = g.to_numpy()
            xs[i], zs[i] = x[qs], z[qs]
        return float(gf2_rank(np.concatenate([xs, zs], axis=1)) - len(qs))

    def mutual_information(self, a: Sequence[int], b: Sequence[int]) -> float:
        return self.entropy(a) + self.entropy(b) - self.entropy(list(a) + list(b))


class StabilizerEngine:
    """stim's tableau simulator behind the common :class:`~qclone.sim.engine.Engine` interface.

    A tableau costs O(m²) memory, so this engine is for moderate sizes and
    stabilizer inputs; exact checks at a million clones use the Heisenberg
    engine (:mod:`qclone.sim.heisenberg`), and noisy figures :func:`estimate_fidelity`.
    """

    name = "stabilizer"
    summary = f"stim's tableau simulator: Clifford circuits, stabilizer inputs, at most {MAX_TABLEAU_QUBITS} qubits"
    max_qubits: int | None = MAX_TABLEAU_QUBITS

    def prepare(self, num_qubits: int, input_state: np.ndarray, input_qubits: Sequence[int]) -> StabilizerState:
        """A stabilizer state vector on ``input_qubits`` (first = most significant), |0⟩ elsewhere."""
        if num_qubits > MAX_TABLEAU_QUBITS:
            raise TooLargeError(
                f"{num_qubits} qubits exceed the tableau limit of {MAX_TABLEAU_QUBITS}; "
                "use the heisenberg or core engine, or estimate_fidelity for noisy figures"
            )
        qs = [int(q) for q in input_qubits]
        if len(set(qs)) != len(qs) or any(not 0 <= q < num_qubits for q in qs):
            raise InvalidArgumentError(f"input qubits must be distinct and in 0..{num_qubits - 1}, got {qs}")
        v = listed_order(input_state)
        if v.shape != (2 ** len(qs),):
            raise InvalidArgumentError(f"the stabilizer engine takes a state vector of {2 ** len(qs)} amplitudes, got shape {v.shape}")
        sim = stim.TableauSimulator()
        sim.set_num_qubits(num_qubits)
        if qs:
            v = v / np.linalg.norm(v)
            try:
                tableau = stim.Tableau.from_state_vector(v, endian="big")
            except ValueError:
                tableau = None
            # stim does not reject every non-stabilizer vector (e.g. some of one qubit): compare back
            if tableau is None or abs(abs(np.vdot(tableau.to_state_vector(endian="big"), v)) - 1) > 1e-6:  # stim gives complex64
                raise UnsupportedError("the stabilizer engine needs a stabilizer state as input")
            sim.do_tableau(tableau, qs)
        return StabilizerState(sim, num_qubits)

    def apply(self, state: StabilizerState, circuit: Circuit) -> None:
        state.apply_circuit(circuit)

    def copy(self, state: StabilizerState) -> StabilizerState:
        return state.copy()
