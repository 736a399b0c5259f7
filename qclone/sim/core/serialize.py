"""A safe, versioned binary format for :class:`~qclone.sim.core.CoreState`.

Layout (all integers little-endian)::

    b"QCLONE-CORESTATE"            16 bytes, the magic
    uint32 version                 FORMAT_VERSION
    uint32 n, then n bytes         UTF-8 JSON header (sizes, kinds, counts)
    then, for every array in the order the header lists them:
    uint64 n, then n bytes         one array written by numpy.save (no pickle)

The arrays are the core terms, and per block its qubits, its gate history as
stim text (stim's parser, never ``eval``), its noise events and their sign
bits. Loading replays the history into a fresh simulator (much faster than
rebuilding a large tableau from bits) and validates every field: shapes,
dtypes, index ranges, that the history holds only unitary gates on the
block, probabilities, normalisation. Pickles are refused (``allow_pickle=False``).

Version history: 1 — first format.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import stim

from qclone.errors import InvalidArgumentError
from qclone.sim.core.bits import words_for
from qclone.sim.core.blocks import Block, fourier, gate_text
from qclone.sim.core.frame import MAX_CORE_QUBITS, CoreFrame

MAGIC = b"QCLONE-CORESTATE"
FORMAT_VERSION = 1


def _array_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    data = buf.getvalue()
    return struct.pack("<Q", len(data)) + data


def dump(frame: CoreFrame) -> bytes:
    """Serialise the state ``frame`` represents (pending noise is pulled back first)."""
    blocks = sorted(frame.blocks.items())
    for _, b in blocks:
        b.flush()
    header = {
        "format": "qclone.sim.core.CoreState",
        "num_qubits": frame.num_qubits,
        "core_qubits": frame.core_qubits.tolist(),
        "terms": [("vector" if t.ndim == 1 else "matrix") for t in frame.terms],
        "blocks": [{"size": b.size, "events": b.num_events} for _, b in blocks],
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    parts = [MAGIC, struct.pack("<I", FORMAT_VERSION), struct.pack("<I", len(head)), head]
    parts += [_array_bytes(np.asarray(t, dtype=np.complex128)) for t in frame.terms]
    for _, b in blocks:
        parts.append(_array_bytes(b.qubits))
        # stim's own printing is canonical (adjacent instructions fused), so bytes round-trip exactly
        text = str(stim.Circuit(gate_text(b.history))) if b.history else ""
        parts.append(_array_bytes(np.frombuffer(text.encode(), dtype=np.uint8)))
        parts += [_array_bytes(b.fx), _array_bytes(b.fzc), _array_bytes(b.probs), _array_bytes(b.sigma)]
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.buf = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise InvalidArgumentError("core state data is truncated")
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def array(self, dtype: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        (n,) = struct.unpack("<Q", self.take(8))
        try:
            a = np.load(io.BytesIO(self.take(n)), allow_pickle=False)
        except ValueError as e:
            raise InvalidArgumentError(f"core state data holds an invalid array ({' '.join(str(e).split())})") from None
        if a.dtype != np.dtype(dtype):
            raise InvalidArgumentError(f"core state array has dtype {a.dtype}, expected {dtype}")
        if shape is not None and a.shape != shape:
            raise InvalidArgumentError(f"core state array has shape {a.shape}, expected {shape}")
        return a


def _history(text: str, size: int) -> list[tuple[str, np.ndarray]]:
    try:
        circuit = stim.Circuit(text)
    except ValueError as e:
        raise InvalidArgumentError(f"core state holds an invalid gate history ({' '.join(str(e).split())[:200]})") from None
    if circuit.num_qubits > size:
        raise InvalidArgumentError("core state gate history addresses a qubit outside its block")
    items: list[tuple[str, np.ndarray]] = []
    for ins in circuit.flattened():
        gd = stim.gate_data(ins.name)
        targets = ins.targets_copy()
        if not gd.is_unitary or not all(t.is_qubit_target for t in targets):
            raise InvalidArgumentError(f"core state gate history holds a non-unitary instruction {ins.name}")
        items.append((gd.name, np.array([t.value for t in targets], dtype=np.int64)))
    return items


def load(data: bytes) -> CoreFrame:
    """Parse and validate bytes written by :func:`dump` (any supported version)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidArgumentError("CoreState.from_bytes takes bytes")
    r = _Reader(bytes(data))
    if r.take(len(MAGIC)) != MAGIC:
        raise InvalidArgumentError("not a qclone core state (bad magic)")
    (version,) = struct.unpack("<I", r.take(4))
    if version != FORMAT_VERSION:
        raise InvalidArgumentError(f"core state format version {version} is not supported (this qclone reads {FORMAT_VERSION})")
    (hlen,) = struct.unpack("<I", r.take(4))
    try:
        header = json.loads(r.take(hlen).decode())
        m = int(header["num_qubits"])
        core = np.asarray(header["core_qubits"], dtype=np.int64).reshape(-1)
        kinds = list(header["terms"])
        block_info = [(int(b["size"]), int(b["events"])) for b in header["blocks"]]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise InvalidArgumentError(f"core state header is invalid ({e})") from None
    k = core.size
    if m < 1 or k > MAX_CORE_QUBITS or (k and (core.min() < 0 or core.max() >= m)) or np.unique(core).size != k:
        raise InvalidArgumentError("core state header has invalid qubit counts")
    if not kinds or any(kd not in ("vector", "matrix") for kd in kinds) or ("vector" in kinds and len(kinds) != 1):
        raise InvalidArgumentError("core state header has invalid terms")
    terms = [r.array("complex128", (2**k,) if kd == "vector" else (2**k, 2**k)) for kd in kinds]
    if not all(np.all(np.isfinite(t)) for t in terms):
        raise InvalidArgumentError("core state terms hold non-finite numbers")
    frame = CoreFrame(m, core, terms)
    num_terms = len(terms)
    for size, events in block_info:
        qubits = r.array("int64")
        if qubits.ndim != 1 or qubits.size != size or size < 1 or qubits.min() < 0 or qubits.max() >= m:
            raise InvalidArgumentError("core state block has invalid qubits")
        if np.unique(qubits).size != size or np.any(frame.block_of[qubits] >= 0):
            raise InvalidArgumentError("core state blocks overlap")
        text = r.array("uint8").tobytes().decode("utf-8", errors="strict")
        pos = frame.core_pos[qubits]
        local = np.flatnonzero(pos >= 0)
        b = Block(qubits, local, pos[local], num_terms)
        b.run(_history(text, size))
        fx = r.array("uint64", (events, 2, words_for(size)))
        fzc = r.array("bool", (events, 2, local.size))
        probs = r.array("float64", (events, 4))
        sigma = r.array("bool", (num_terms, events, 2))
        spare = words_for(size) * 64 - size
        if events and spare and np.any(fx[:, :, -1] >> np.uint64(64 - spare)):
            raise InvalidArgumentError("core state noise frames have bits outside their block")
        if events and (not np.all(np.isfinite(probs)) or np.any(probs < -1e-12) or np.any(np.abs(probs.sum(axis=1) - 1) > 1e-9)):
            raise InvalidArgumentError("core state noise probabilities are invalid")
        b.fx, b.fzc, b.probs, b.sigma = fx, fzc, probs, sigma
        frame.add_block(b)
    if r.pos != len(r.buf):
        raise InvalidArgumentError("core state data has trailing bytes")
    if k and np.any(frame.block_of[core] < 0):
        raise InvalidArgumentError("core state data misses the block of a core qubit")
    total = 0.0
    for t, term in enumerate(terms):
        factor = 1.0
        for b in frame.blocks.values():
            if b.num_events:
                f = fourier(b.probs)
                idx = 2 * b.sigma[t, :, 0].astype(np.int64) + b.sigma[t, :, 1]
                factor *= float(np.prod(f[np.arange(b.num_events), idx]))
        total += factor * (float(np.real(np.vdot(term, term))) if term.ndim == 1 else float(np.real(np.trace(term))))
    if abs(total - 1) > 1e-6:
        raise InvalidArgumentError(f"core state is not normalised (trace {total:.6g})")
    return frame
