"""Corrected retrieval simulated with stim: syndrome extraction between storage and decryption, then decoding.

Plain retrieval is :func:`qclone.sim.stabilizer.fidelity_circuit`: R entangled with A, Bell
pairs and encryption with gate noise, the storage period (idle noise on every stored qubit), the
decryption of one clone with gate noise, and ``X_R X_S`` / ``Z_R Z_S`` measured with readout
flips (observables 0 and 1). Corrected retrieval (:func:`corrected_circuit`) is the same circuit
with the stabilizers of :mod:`qclone.analysis.code` measured between storage and decryption:

* **ideal extraction** when the noise model has no gate and no readout noise (``memory``): one
  noiseless ``MPP`` of every generator, the detectors in :func:`~qclone.analysis.code.stabilizers`
  order, decoded by :class:`~qclone.analysis.code.Decoder` (exact maximum likelihood for the
  storage channel, or lookup);
* **circuit-level extraction** otherwise: ``rounds`` rounds, one ancilla per generator (reset,
  H, the controlled Paulis one after another, H, measure), with the model's gate noise after every
  gate and its readout flip on every ancilla measurement; detectors compare each round with the one
  before. Decoded by :class:`DemLookup`: the most likely single fault of stim's detector error model
  for each detection pattern (the circuit-level lookup decoder; patterns no single fault explains
  get no correction).

The correction is a Pauli frame: it is not applied in the circuit, the decoder's predicted flips of
the two observables are XORed onto the measured ones. Shots count the four Bell outcomes like
plain retrieval (``p_I`` is the entanglement fidelity).

Examples:
    >>> from qclone.sim.noise import noise_model
    >>> c = corrected_circuit(3, noise=noise_model("memory", p=0.01))
    >>> c.num_detectors, c.num_observables
    (6, 2)
    >>> s = CorrectedSampler(c, {"clones": 3, "decrypt": 1, "noise": "memory", "p": 0.01})
    >>> s.mode
    'ideal'
"""

from __future__ import annotations

import collections
import functools
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import sinter
import stim

from qclone.analysis.code import Decoder, stabilizers
from qclone.errors import InvalidArgumentError, check_int
from qclone.protocol import DecryptTarget, Layout, bell_pairs, decryption, encryption, to_stim
from qclone.protocol.build import check_depth
from qclone.sim.noise import NoiseModel, noisy_stim_text, parse_noise
from qclone.sim.stabilizer import count_outcomes

__all__ = [
    "DECODERS", "MAX_ROUNDS", "RETRIEVALS", "CorrectedSampler", "DemLookup", "check_retrieval", "corrected_circuit",
    "extraction_is_ideal", "output_representatives",
]

#: The retrieval modes: decrypt one clone as stored, or measure the stabilizers, correct, then decrypt.
RETRIEVALS: tuple[str, ...] = ("plain", "corrected")
#: Decoders for ideal extraction (circuit-level extraction always uses :class:`DemLookup`).
DECODERS: tuple[str, ...] = ("ml", "lookup")
#: At most this many syndrome rounds.
MAX_ROUNDS = 25


def check_retrieval(value: object) -> str:
    """A retrieval mode name, validated.

    Examples:
        >>> check_retrieval("corrected")
        'corrected'
    """
    text = str(value).strip().lower()
    if text not in RETRIEVALS:
        raise InvalidArgumentError(f"unknown retrieval {value!r}; choose one of {', '.join(RETRIEVALS)}")
    return text


def extraction_is_ideal(noise: NoiseModel) -> bool:
    """Whether syndrome extraction is noiseless under ``noise`` (no gate noise, no readout flips)."""
    return not (any(p > 0 for p in noise.gate1) or any(p > 0 for p in noise.gate2) or noise.readout_flip > 0)


def _letters(clones: int) -> list[str]:
    return [g[1:] for g in stabilizers(clones)]


def _extraction_text(n: int, noise: NoiseModel, rounds: int) -> str:  # noise: the extraction's
    """Syndrome extraction: noiseless MPP (ideal) or ``rounds`` rounds with ancillas (circuit-level)."""
    gens = _letters(n)
    m = len(gens)
    if extraction_is_ideal(noise):
        products = ["*".join(f"{ch}{q}" for q, ch in enumerate(g) if ch != "I") for g in gens]
        return "\n".join([f"MPP {' '.join(products)}", *(f"DETECTOR rec[{-m + i}]" for i in range(m))])
    anc0 = 2 * n + 2  # after the code qubits and R
    ancillas = " ".join(str(anc0 + i) for i in range(m))
    p1 = [p for p in noise.gate1 if p > 0]
    p2 = [p for p in noise.gate2 if p > 0]
    q = noise.readout_flip
    one = "\n".join(f"DEPOLARIZE1({p!r}) {ancillas}" for p in p1)
    lines: list[str] = []
    body: list[str] = []
    for i, g in enumerate(gens):
        a = anc0 + i
        for qb, ch in enumerate(g):
            if ch != "I":
                body.append(f"C{ch} {a} {qb}")
                body.extend(f"DEPOLARIZE2({p!r}) {a} {qb}" for p in p2)
    gates = "\n".join(body)
    measure = f"M({q!r}) {ancillas}" if q > 0 else f"M {ancillas}"
    for r in range(rounds):
        lines += [f"R {ancillas}", f"H {ancillas}", one, gates, f"H {ancillas}", one, measure]
        if r == 0:
            lines += [f"DETECTOR rec[{-m + i}]" for i in range(m)]
        else:
            lines += [f"DETECTOR rec[{-m + i}] rec[{-2 * m + i}]" for i in range(m)]
    return "\n".join(x for x in lines if x)


def corrected_circuit(clones: int, *, noise: NoiseModel, rounds: int = 1, decrypt: DecryptTarget = 1,
                      depth: str = "linear", extraction_noise: NoiseModel | None = None) -> stim.Circuit:
    """The plain fidelity circuit with syndrome extraction between storage and decryption (see the module doc).

    Qubits: the protocol's ``A, S, N`` (0..2n), R (2n + 1), then one ancilla per generator
    (circuit-level extraction only). ``rounds`` is ignored for ideal extraction (one noiseless
    round is all there is to learn). ``extraction_noise`` (default: ``noise``) is the noise of the
    extraction alone, to study it apart from the protocol's own gates.
    """
    n = check_int(clones, "the number of clones", 2)
    rounds = check_int(rounds, "rounds", 1, MAX_ROUNDS)
    lay = Layout(n, references=1)
    target = lay.check_target(decrypt)
    depth = check_depth(depth)
    enc = encryption(lay, depth=depth, circuit=bell_pairs(lay))
    r, s = lay.R(), lay.output_qubit(target)
    q = noise.readout_flip
    head = f"H {r}\nCX {r} {lay.A()}"
    stored = noisy_stim_text(enc, noise, storage_after=len(enc.instructions))
    extract = _extraction_text(n, noise if extraction_noise is None else extraction_noise, rounds)
    dec = noisy_stim_text(decryption(lay, target, depth=depth), noise)
    mpp = f"MPP({q!r})" if q > 0 else "MPP"
    tail = f"{mpp} X{r}*X{s} Z{r}*Z{s}\nOBSERVABLE_INCLUDE(0) rec[-2]\nOBSERVABLE_INCLUDE(1) rec[-1]"
    return stim.Circuit("\n".join(x for x in (head, stored, extract, dec, tail) if x))


@functools.lru_cache(maxsize=64)
def output_representatives(clones: int, decrypt: DecryptTarget = 1, depth: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """What the two observables read on the stored qubits: ``(x, z)`` bits ``(2, 2n + 1)``, row 0 the
    pull-back of ``X`` on the output through the (noiseless) decryption, row 1 that of ``Z``."""
    lay = Layout(clones)
    target = lay.check_target(decrypt)
    dec = to_stim(decryption(lay, target, depth=check_depth(depth)))
    t = lay.output_qubit(target)
    m = 2 * clones + 1
    rows = []
    for letter in "XZ":
        p = stim.PauliString(m)
        p[t] = letter
        rows.append(p.before(dec).to_numpy())
    xs = np.stack([rows[0][0], rows[1][0]])
    zs = np.stack([rows[0][1], rows[1][1]])
    return xs, zs


def _storage_prior(noise: NoiseModel) -> np.ndarray:
    """Per-qubit (I, X, Y, Z) probabilities of the storage channel (idle channels composed)."""
    px = np.array([1.0, 0.0, 0.0, 0.0])
    for ch in noise.idle:
        step = np.array([1 - sum(ch), *ch])
        # compose two Pauli channels: letters multiply (index by x bit + 2 z bit)
        idx = np.array([0, 1, 3, 2])  # (I, X, Y, Z) -> x + 2z
        a = np.zeros(4)
        b = np.zeros(4)
        a[idx] = px
        b[idx] = step
        c = np.zeros(4)
        for i in range(4):
            for j in range(4):
                c[i ^ j] += a[i] * b[j]
        px = c[idx]
    if px[0] >= 1.0:  # no storage noise: any small symmetric prior gives the same lowest-weight choices
        px = np.array([1 - 3e-4, 1e-4, 1e-4, 1e-4])
    return px


class DemLookup:
    """The circuit-level lookup decoder: for each detection pattern, the observable flips of the most
    likely single fault in stim's detector error model (``approximate_disjoint_errors``).

    Examples:
        >>> c = stim.Circuit("X_ERROR(0.1) 0\\nM 0\\nDETECTOR rec[-1]\\nOBSERVABLE_INCLUDE(0) rec[-1]")
        >>> DemLookup(c.detector_error_model()).predict(np.array([[1], [0]], dtype=np.uint8)).astype(int).tolist()
        [[1], [0]]
    """

    def __init__(self, dem: stim.DetectorErrorModel) -> None:
        self.num_detectors = dem.num_detectors
        self.num_observables = dem.num_observables
        weights: dict[tuple[bytes, int], float] = collections.defaultdict(float)
        for inst in dem.flattened():
            if inst.type != "error":
                continue
            p = float(inst.args_copy()[0])
            dets = np.zeros(self.num_detectors, dtype=bool)
            obs = 0
            for t in inst.targets_copy():
                if t.is_relative_detector_id():
                    dets[t.val] ^= True
                elif t.is_logical_observable_id():
                    obs ^= 1 << t.val
            key = np.packbits(dets, bitorder="little").tobytes()
            weights[(key, obs)] += p
        best: dict[bytes, tuple[float, int]] = {}
        for (key, obs), w in weights.items():
            if key not in best or w > best[key][0]:
                best[key] = (w, obs)
        # no detection event: no fault is by far the likeliest (a fault seen by no detector, such as a
        # gate error in the decryption, is not something a decoder can act on)
        best[bytes(len(np.packbits(np.zeros(self.num_detectors, dtype=bool))))] = (1.0, 0)
        self.table = {k: v[1] for k, v in best.items()}

    def predict(self, packed_detectors: np.ndarray) -> np.ndarray:
        """Observable flips ``(shots, num_observables)`` for bit-packed (little-endian) detection events."""
        dets = np.asarray(packed_detectors, dtype=np.uint8)
        shots = dets.shape[0]
        out = np.zeros((shots, self.num_observables), dtype=bool)
        if shots == 0:
            return out
        uniq, inverse = np.unique(dets, axis=0, return_inverse=True)
        masks = np.array([self.table.get(u.tobytes(), 0) for u in uniq], dtype=np.int64)[inverse.reshape(-1)]
        for k in range(self.num_observables):
            out[:, k] = (masks >> k) & 1 == 1
        return out


class CorrectedSampler(sinter.CompiledSampler):
    """Samples a corrected-retrieval circuit, decodes, and counts the Bell outcomes (sinter sampler).

    Args:
        circuit: from :func:`corrected_circuit`.
        meta: the grid point's metadata: ``clones``, ``decrypt``, ``noise``, ``p`` and optionally
            ``depth`` and ``decoder`` (``"ml"`` or ``"lookup"``, ideal extraction only).
        seed: stim's seed.
        noise, extraction_noise: the models the circuit was built with, when not named in ``meta``
            (the storage channel is the decoder's prior; the extraction's decides ideal or circuit-level).
    """

    def __init__(self, circuit: stim.Circuit, meta: Mapping[str, Any], seed: int | None = None, *,
                 noise: NoiseModel | None = None, extraction_noise: NoiseModel | None = None) -> None:
        self.circuit = circuit
        n = int(meta["clones"])
        if noise is None:
            noise = parse_noise(str(meta["noise"]), None if meta.get("p") is None else float(meta["p"]))
        self.mode = "ideal" if extraction_is_ideal(noise if extraction_noise is None else extraction_noise) else "circuit"
        self._sampler = circuit.compile_detector_sampler(seed=seed)
        decrypt = meta.get("decrypt", 1)
        target: DecryptTarget = "A" if decrypt == "A" else int(decrypt)
        if self.mode == "ideal":
            method = str(meta.get("decoder", "ml"))
            if method not in DECODERS:
                raise InvalidArgumentError(f"unknown decoder {method!r}; choose one of {', '.join(DECODERS)}")
            self._decoder: Decoder | None = Decoder(n, method=method, noise=_storage_prior(noise))
            self._reps = output_representatives(n, target, str(meta.get("depth", "linear")))
            self._lookup: DemLookup | None = None
        else:
            self._decoder = None
            self._lookup = DemLookup(circuit.detector_error_model(approximate_disjoint_errors=True))

    def predict(self, dets: np.ndarray) -> np.ndarray:
        """Predicted observable flips for unpacked (ideal) or bit-packed (circuit-level) detection events."""
        if self._decoder is not None:
            c = self._decoder.decode(dets)
            xs, zs = self._reps
            return ((c.x.astype(np.int64) @ zs.T.astype(np.int64)) + (c.z.astype(np.int64) @ xs.T.astype(np.int64))) % 2 == 1
        if self._lookup is None:
            raise RuntimeError("internal error: no decoder")
        return self._lookup.predict(dets)

    def sample(self, suggested_shots: int) -> sinter.AnonTaskStats:
        shots = max(1, int(suggested_shots))
        t0 = time.monotonic()
        packed = self._decoder is None
        dets, obs = self._sampler.sample(shots, separate_observables=True, bit_packed=packed)
        if packed:
            obs = np.unpackbits(obs, axis=1, bitorder="little", count=2).astype(bool)
        residual = np.asarray(obs, dtype=bool) ^ self.predict(dets)
        counts = count_outcomes(residual)
        return sinter.AnonTaskStats(
            shots=shots, errors=shots - counts["p_I"], seconds=time.monotonic() - t0,
            custom_counts=collections.Counter({k: v for k, v in counts.items() if k != "p_I" and v}))
