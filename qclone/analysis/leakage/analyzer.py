"""Exact leakage of a Clifford encoding: F2 symplectic linear algebra on its stabilizer description.

Setting. A Clifford ``U`` acts on ``m`` qubits; ``k`` of them are inputs,
each maximally entangled with a reference qubit ``R_i`` outside, and the
others start in |0⟩. The state of (R, system) is a stabilizer state, so every
question about a set ``C`` of system qubits is linear algebra over GF(2):

* A Pauli ``P`` on the system pulls back to ``U† P U``. It is a stabilizer of
  the encoding times a logical operator iff its pull-back has no X or Y on a
  non-input qubit (those qubits start in |0⟩); its logical class is the
  pull-back's part on the inputs.
* ``L_C``, the logical Paulis with a representative supported inside ``C``,
  is the image of that kernel for the Paulis on ``C``. ``C`` is
  *authorized* iff ``L_C`` is everything (dimension ``2k``), *non-informative*
  iff it is trivial, *partial* otherwise; ``I(R : C) = dim L_C`` bits (0, 1
  or 2 for one input).
* The entropy of ``C`` is ``|C| − dim S_C`` with ``S_C`` the stabilizers
  supported in ``C``.

Cost. Pull-backs come from one run of stim's bit-parallel ``FlipSimulator``
over ``U†`` (one simulation instance per Pauli ``X_q``, ``Z_q``, q ∈ C), in
the orientation the elimination needs (qubits × Paulis). The kernel is one
Gauss–Jordan elimination whose Python loop runs over the ``2|C|`` Paulis
only: ``O(|C|² · m / 64)`` word operations. When ``C`` is more than half of
the qubits the analysis runs on the complement ``D`` instead: the whole state
with the references is pure, so ``L_C`` is the symplectic complement of
``L_D`` (logical operators on disjoint supports commute, and
``I(R:C) + I(R:D) = 2k``) and ``S(C) = S(D ∪ R)``.

Examples:
    >>> from qclone.analysis.leakage.stages import protocol_encoding
    >>> a = LeakageAnalyzer(protocol_encoding(3))
    >>> a.classify(["S1", "S2", "S3"])
    Classification(kind='partial', leaked=('Y',), mutual_information_bits=1.0, generators=('Y',))
    >>> a.classify(["A", "S2", "N2"]).kind
    'authorized'
    >>> print(a.witnesses(["S1", "S2", "S3"])[0])
    <Y(S1) Y(S2) Y(S3)> = -<Y>
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from typing import Any, Literal

import numpy as np
import stim

from qclone.analysis.leakage.encoding import CliffordEncoding
from qclone.errors import InvalidArgumentError
from qclone.sim import gf2

Kind = Literal["authorized", "partial", "none"]
KINDS: tuple[str, ...] = ("authorized", "partial", "none")
#: ``Classification.leaked`` lists every leaking logical Pauli up to this dimension of L_C
#: (at most 2^8 − 1 = 255 names); above it, only the generators.
MAX_ENUMERATED_DIMENSION = 8

_LETTERS = {(False, False): "I", (True, False): "X", (True, True): "Y", (False, True): "Z"}


def pauli_name(vector: np.ndarray, num_inputs: int) -> str:
    """Name of a logical Pauli given as ``(x_1..x_k, z_1..z_k)`` bits: one letter per input.

    Examples:
        >>> pauli_name(np.array([1, 1], dtype=bool), 1), pauli_name(np.array([0, 1, 1, 0], dtype=bool), 2)
        ('Y', 'ZX')
    """
    v = np.asarray(vector, dtype=bool)
    return "".join(_LETTERS[(bool(v[i]), bool(v[num_inputs + i]))] for i in range(num_inputs))


def abbreviate(names: Iterable[str], *, limit: int = 8, sep: str = " + ") -> str:
    """Join names, keeping long lists readable: the first and last few around ``... (k more)``.

    Examples:
        >>> abbreviate([f"p{i}" for i in range(1, 21)], limit=4)
        'p1 + p2 + ... (17 more) + p20'
    """
    items = list(names)
    if len(items) <= limit:
        return sep.join(items)
    head = items[: limit - 1 - (limit - 1) // 3]
    tail = items[len(items) - (limit - 1) // 3:]
    return sep.join([*head, f"... ({len(items) - len(head) - len(tail)} more)", *tail])


def _name_key(name: str) -> tuple[int, str]:
    return (sum(ch != "I" for ch in name), name)


@dataclass(frozen=True)
class Classification:
    """What a set of qubits learns about the input.

    Attributes:
        kind: ``"authorized"`` (the whole input can be recovered from the
            set), ``"partial"`` (its state depends on the input, but not
            fully) or ``"none"`` (its state is independent of the input).
        leaked: the logical Paulis (for one input qubit: the Bloch components
            ``"X"``, ``"Y"``, ``"Z"``) whose expectation value the set holds,
            e.g. ``("Y",)``; all of them when authorized. For k inputs each is
            a string of k letters (input 0 first), and when more than
            :data:`MAX_ENUMERATED_DIMENSION` independent ones leak, only the
            generators are listed (every product of them leaks too).
        mutual_information_bits: ``I(R : set)`` with a reference ``R``
            maximally entangled with the input: 0, 1 or 2 bits per input qubit.
        generators: a basis of the leaking logical Paulis (reduced echelon form).
    """

    kind: str
    leaked: tuple[str, ...]
    mutual_information_bits: float
    generators: tuple[str, ...] = ()

    @property
    def informative(self) -> bool:
        return self.kind != "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "leaked": list(self.leaked),
            "mutual_information_bits": self.mutual_information_bits,
            "generators": list(self.generators),
        }


@dataclass(frozen=True)
class Witness:
    """A Pauli operator supported in the set whose expectation reveals a logical Pauli.

    ``⟨operator⟩ = sign · ⟨logical⟩_input`` for every input state: whoever
    holds the qubits can estimate the input's ``logical`` component by
    measuring ``operator``.
    """

    logical: str
    operator: tuple[tuple[str, str], ...]
    sign: int

    def text(self, *, limit: int | None = None) -> str:
        """``<operator> = ±<logical>``; with ``limit``, long operators are abbreviated."""
        factors = [f"{p}({q})" for q, p in self.operator]
        shown = abbreviate(factors, limit=limit, sep=" ") if limit else " ".join(factors)
        return f"<{shown}> = {'-' if self.sign < 0 else '+'}<{self.logical}>"

    def __str__(self) -> str:
        return self.text()

    def to_dict(self) -> dict[str, Any]:
        return {"logical": self.logical, "operator": dict(self.operator), "sign": self.sign, "text": str(self)}


@dataclass(frozen=True, eq=False)
class LogicalSubspace:
    """The logical Paulis with a representative supported in a set ``C`` (``L_C``).

    Attributes:
        num_inputs: k.
        basis: booleans ``(dimension, 2k)`` in reduced row echelon form, each
            row ``(x_1..x_k, z_1..z_k)``.
    """

    num_inputs: int
    basis: np.ndarray

    @property
    def dimension(self) -> int:
        return int(self.basis.shape[0])

    @property
    def kind(self) -> Kind:
        if self.dimension == 0:
            return "none"
        return "authorized" if self.dimension == 2 * self.num_inputs else "partial"

    def elements(self) -> np.ndarray:
        """Every non-identity element, booleans ``(2^dimension − 1, 2k)``."""
        d = self.dimension
        coeffs = ((np.arange(1, 2**d)[:, None] >> np.arange(d)) & 1).astype(bool)
        return gf2.matmul(coeffs, self.basis) if d else np.zeros((0, 2 * self.num_inputs), dtype=bool)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted((pauli_name(v, self.num_inputs) for v in self.elements()), key=_name_key))

    def classification(self) -> Classification:
        k = self.num_inputs
        generators = tuple(pauli_name(v, k) for v in self.basis)
        leaked = self.names() if self.dimension <= MAX_ENUMERATED_DIMENSION else generators
        return Classification(self.kind, leaked, float(self.dimension), generators)


@dataclass(frozen=True)
class _Kernel:
    """For the Paulis X_q, Z_q (q in a set D): the combinations that are stabilizer × logical."""

    combinations: np.ndarray  # (nullity, 2|D|) bool: rows over X_q.. then Z_q..
    logicals: np.ndarray  # (nullity, 2k) bool: logical part of each combination

    @cached_property
    def logical_basis(self) -> np.ndarray:
        return gf2.row_reduce(self.logicals).rows

    @property
    def stabilizer_dimension(self) -> int:
        return int(self.combinations.shape[0]) - int(self.logical_basis.shape[0])


class LeakageAnalyzer:
    """Answers, exactly, what any set of qubits of a Clifford encoding learns about its inputs.

    Args:
        encoding: the circuit, its inputs and qubit labels.

    Qubits are given by label (or index). A repeated qubit counts once.
    """

    def __init__(self, encoding: CliffordEncoding) -> None:
        self.encoding = encoding
        self._inverse = encoding.inverse_stim_circuit()
        self._forward: stim.Circuit | None = None
        m = encoding.num_qubits
        self._inputs = np.asarray(encoding.inputs, dtype=np.int64)
        is_input = np.zeros(m, dtype=bool)
        is_input[self._inputs] = True
        self._ancillas = np.flatnonzero(~is_input)

    @property
    def num_qubits(self) -> int:
        return self.encoding.num_qubits

    @property
    def num_inputs(self) -> int:
        return self.encoding.num_inputs

    # --- the linear algebra ---------------------------------------------------------------

    def _pullbacks(self, qubits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """X and Z bits of U† X_q U, U† Z_q U for q in ``qubits``: packed ``(m, words)`` each.

        Column ``i < d`` belongs to X of ``qubits[i]``, column ``d + i`` to Z.
        """
        d = qubits.size
        m = self.num_qubits
        sim = stim.FlipSimulator(batch_size=2 * d, num_qubits=m, disable_stabilizer_randomization=True)
        for i, q in enumerate(qubits.tolist()):
            sim.set_pauli_flip("X", qubit_index=q, instance_index=i)
            sim.set_pauli_flip("Z", qubit_index=q, instance_index=d + i)
        # frames propagate forward (P -> V P V†); through V = U† that is the pull-back U† P U
        sim.do(self._inverse)
        xs, zs = sim.to_numpy(output_xs=True, output_zs=True, bit_packed=True)[:2]
        return self._clean(xs, 2 * d), self._clean(zs, 2 * d)

    @staticmethod
    def _clean(packed: np.ndarray, columns: int) -> np.ndarray:
        words = gf2.packed_from_bytes(packed).copy()
        tail = columns % 64
        if tail:  # bits past the last instance are not ours
            words[:, -1] &= np.uint64((1 << tail) - 1)
        return words

    def _kernel(self, qubits: np.ndarray) -> _Kernel:
        d = qubits.size
        k = self.num_inputs
        if d == 0:
            return _Kernel(np.zeros((0, 0), dtype=bool), np.zeros((0, 2 * k), dtype=bool))
        xs, zs = self._pullbacks(qubits)
        # a combination is stabilizer × logical iff no X/Y is left on a qubit that starts in |0⟩
        combos = gf2.nullspace_packed(xs[self._ancillas], 2 * d)
        logical_rows = np.concatenate([gf2.unpack_rows(xs[self._inputs], 2 * d),
                                       gf2.unpack_rows(zs[self._inputs], 2 * d)])
        return _Kernel(combos, gf2.matmul(combos, logical_rows.T))

    def _split(self, qubits: Iterable[str | int]) -> tuple[np.ndarray, np.ndarray, bool]:
        """The set, its complement, and whether the set is the smaller side."""
        chosen = self.encoding.indices(qubits)
        outside = np.ones(self.num_qubits, dtype=bool)
        outside[chosen] = False
        rest = np.flatnonzero(outside)
        return chosen, rest, chosen.size <= rest.size

    # --- public queries ------------------------------------------------------------------

    def logical_subspace(self, qubits: Iterable[str | int]) -> LogicalSubspace:
        """``L_C``: the logical Paulis with a representative supported inside ``qubits``."""
        chosen, rest, small = self._split(qubits)
        k = self.num_inputs
        if small:
            return LogicalSubspace(k, self._kernel(chosen).logical_basis)
        other = self._kernel(rest).logical_basis
        # symplectic complement: v with x(v)·z(u) + z(v)·x(u) = 0 for every u in L_D
        swapped = np.concatenate([other[:, k:], other[:, :k]], axis=1)
        return LogicalSubspace(k, gf2.row_reduce(gf2.nullspace(swapped)).rows)

    def classify(self, qubits: Iterable[str | int]) -> Classification:
        """Authorized, partial (with what leaks) or none, and I(R : qubits) in bits."""
        return self.logical_subspace(qubits).classification()

    def mutual_information(self, qubits: Iterable[str | int]) -> int:
        """``I(R : qubits)`` in bits, R the references of all inputs (0 .. 2k)."""
        return self.logical_subspace(qubits).dimension

    def entropy(self, qubits: Iterable[str | int]) -> int:
        """Von Neumann entropy in bits of ``qubits`` (inputs maximally entangled with R)."""
        chosen, rest, small = self._split(qubits)
        if small:
            kern = self._kernel(chosen)
            return chosen.size - kern.stabilizer_dimension
        kern = self._kernel(rest)
        # S(C) = S(D ∪ R); the stabilizers of the whole state inside D ∪ R are S_D and L_D ⊗ (R part)
        return rest.size + self.num_inputs - kern.stabilizer_dimension - int(kern.logical_basis.shape[0])

    def witnesses(self, qubits: Iterable[str | int]) -> tuple[Witness, ...]:
        """One operator inside ``qubits`` per leaking logical Pauli, with its sign.

        Computed on the set itself (not its complement), so this costs
        ``O(|C|² · m / 64)`` even for large sets. When more than
        :data:`MAX_ENUMERATED_DIMENSION` independent Paulis leak, witnesses
        are given for the generators only.
        """
        chosen = self.encoding.indices(qubits)
        kern = self._kernel(chosen)
        k2 = 2 * self.num_inputs
        if kern.combinations.shape[0] == 0:
            return ()
        ech = gf2.row_reduce(np.concatenate([kern.logicals, kern.combinations], axis=1), pivot_columns=k2)
        gen = [i for i, p in enumerate(ech.pivots) if p < k2]
        logicals = ech.rows[gen, :k2]
        combos = ech.rows[gen, k2:]
        dim = len(gen)
        if dim <= MAX_ENUMERATED_DIMENSION:
            coeffs = ((np.arange(1, 2**dim)[:, None] >> np.arange(dim)) & 1).astype(bool)
            logicals, combos = gf2.matmul(coeffs, logicals), gf2.matmul(coeffs, combos)
        out = [self._witness(chosen, v, a) for v, a in zip(logicals, combos)]
        return tuple(sorted(out, key=lambda w: _name_key(w.logical)))

    def _witness(self, chosen: np.ndarray, logical: np.ndarray, combo: np.ndarray) -> Witness:
        d = chosen.size
        m = self.num_qubits
        xs = np.zeros(m, dtype=bool)
        zs = np.zeros(m, dtype=bool)
        xs[chosen] = combo[:d]
        zs[chosen] = combo[d:]
        if self._forward is None:
            self._forward = self.encoding.stim_circuit()
        back = stim.PauliString.from_numpy(xs=xs, zs=zs).before(self._forward)
        bx, bz = back.to_numpy()
        name = pauli_name(logical, self.num_inputs)
        if bx[self._ancillas].any() or pauli_name(np.concatenate([bx[self._inputs], bz[self._inputs]]), self.num_inputs) != name:
            raise RuntimeError("internal error: a witness does not pull back to its logical operator")
        labels = self.encoding.labels
        operator = tuple((labels[q], _LETTERS[(bool(x), bool(z))]) for q, x, z in zip(chosen.tolist(), combo[:d], combo[d:]) if x or z)
        return Witness(name, operator, int(back.sign.real))

    def invariant_under(self, permutation: Sequence[int]) -> bool:
        """Whether relabelling qubit ``q`` as ``permutation[q]`` leaves the encoded state unchanged.

        The state is that of the system with every input maximally entangled
        with its reference, so invariance means every question about a set of
        qubits has the same answer for the permuted set. The permutation must
        fix the inputs.

        Examples:
            >>> from qclone.analysis.leakage.stages import protocol_encoding
            >>> a = LeakageAnalyzer(protocol_encoding(2))   # qubits A S1 S2 N1 N2
            >>> a.invariant_under([0, 2, 1, 4, 3]), a.invariant_under([0, 3, 2, 1, 4])
            (True, False)
        """
        m = self.num_qubits
        perm = np.asarray(permutation, dtype=np.int64)
        if perm.shape != (m,) or not np.array_equal(np.sort(perm), np.arange(m)):
            raise InvalidArgumentError(f"a permutation of the {m} qubits is a sequence holding each of 0..{m - 1} once")
        if np.any(perm[self._inputs] != self._inputs):
            raise InvalidArgumentError("the permutation must fix the input qubits")
        stabilizers = self._stabilizers_with_references()
        moved = []
        for p in stabilizers:
            xs, zs = p.to_numpy()
            nx, nz = xs.copy(), zs.copy()
            nx[perm], nz[perm] = xs[:m], zs[:m]
            moved.append(stim.PauliString.from_numpy(xs=nx, zs=nz, sign=p.sign))
        canonical = stim.Tableau.from_stabilizers(moved).to_stabilizers(canonicalize=True)
        return canonical == stabilizers

    def _stabilizers_with_references(self) -> list[stim.PauliString]:
        """Canonical stabilizers of (system, references); reference ``i`` is qubit ``m + i``."""
        m = self.num_qubits
        sim = stim.TableauSimulator()
        sim.set_num_qubits(m + self.num_inputs)
        for i, q in enumerate(self.encoding.inputs):
            sim.h(m + i)
            sim.cnot(m + i, q)
        if self._forward is None:
            self._forward = self.encoding.stim_circuit()
        sim.do(self._forward)
        return stim.Tableau.from_stabilizers(sim.canonical_stabilizers()).to_stabilizers(canonicalize=True)

    def minimal_sets(self, qubits: Iterable[str | int], *, max_size: int | None = None) -> tuple[tuple[str, ...], ...]:
        """The smallest subsets of ``qubits`` that already learn everything ``qubits`` learn.

        Exhaustive over subsets in increasing size (meant for small sets).
        """
        chosen = self.encoding.indices(qubits)
        target = self.logical_subspace(chosen)
        if target.dimension == 0:
            return ()
        labels = self.encoding.labels
        for size in range(1, (chosen.size if max_size is None else min(max_size, chosen.size)) + 1):
            found = tuple(tuple(labels[q] for q in sub) for sub in combinations(chosen.tolist(), size)
                          if self.mutual_information(sub) == target.dimension)
            if found:
                return found
        return ()
