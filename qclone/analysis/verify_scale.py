"""Exact verification at any n with stabilizer algebra in the Heisenberg picture (no sampling).

An outside reference qubit R is maximally entangled with the input A; every
other qubit starts in |0⟩. The checks (property numbers of docs/protocol.md):

* 4 — decrypting clone j leaves (R, S_j) exactly in |Φ+⟩ (signs included);
* 6 — afterwards nothing but S_j is correlated with R: I(R : everything but
  S_j) = 2 − I(R : S_j), because the state of R and all qubits is pure;
* 2, 3, 5 — after encryption, every checked clone S_j (n ≥ 2) and A are
  maximally mixed and uncorrelated with R (I = 0); for n = 1 the lone clone
  carries exactly the Y component (1 bit);
* 5 — the key N_1..N_n alone is uncorrelated with R: the encryption maps X_A
  and Z_A to operators on A, S_1..S_n only, so I(R : A, S) = 2 and by purity
  I(R : key) = 2 − 2 = 0;
* 8 — for even n, decrypting A leaves (R, A) in |Φ+⟩.

Every number comes from pulling a few Pauli operators back, by one of two methods:

* ``"structured"`` (default): through whole stages — Bell pairs, the two
  parity phases of the encryption, the decryption's fan-outs — as O(1) bit
  updates per operator (:mod:`qclone.sim.structured`), without a gate list:
  time and memory independent of n, linear in the clones checked. The
  builders' gates are cross-checked against those stages gate by gate
  (property 1 of the report): at n itself up to :data:`CROSS_CHECK_UP_TO`,
  beyond that at the largest n' <= CROSS_CHECK_UP_TO of the same parity, and
  the report says which n';
* ``"gates"``: gate by gate through the circuits
  (:mod:`qclone.sim.heisenberg`): memory linear in n, time linear in the
  circuit, no tableau.

For n up to :data:`CHECK_ALL_UP_TO` every clone is checked; beyond, a random
sample of clones (``sample``, default 100, drawn from ``seed``) is checked,
each exactly, and the report lists which.

Examples:
    >>> report = verify_at_scale(50)
    >>> report.passed, report.engine, report.checked_clones is None
    (True, 'structured', True)
    >>> verify_at_scale(50, method="gates").engine
    'heisenberg'
    >>> verify_at_scale(20_000, sample=3, seed=1).checked_clones
    (9463, 10236, 15104)
"""

from __future__ import annotations

import numpy as np

from qclone.analysis.checks import Check
from qclone.analysis.verify import VerificationReport
from qclone.errors import InvalidArgumentError, is_int
from qclone.protocol import Layout, bell_pairs, encryption
from qclone.protocol.build import (
    Depth,
    check_depth,
    clone_decryption,
    empty_circuit,
    input_decryption,
)
from qclone.protocol.layout import single_clone_warning
from qclone.sim import structured
from qclone.sim.heisenberg import (
    PauliBatch,
    bell_pair_columns,
    read_reference_information,
    reference_batch,
)
from qclone.sim.structured import UniformPaulis, protocol_stages

#: Up to this n every clone is checked; beyond, a random sample.
CHECK_ALL_UP_TO = 10_000
#: Default size of the random sample of clones beyond CHECK_ALL_UP_TO.
DEFAULT_SAMPLE = 100
#: The structured method cross-checks the builders' gates at n itself up to this n (beyond: at a smaller n').
CROSS_CHECK_UP_TO = 1_000_000
#: Clones whose operators the structured method handles in one numpy pass (bounds its memory).
STRUCTURED_CHUNK = 1 << 20
#: Verification methods of :func:`verify_at_scale` and the engine name each reports.
METHODS = {"structured": "structured", "gates": "heisenberg"}
#: Clones whose three pulled-back operators share one 64-bit word of a batch.
CLONES_PER_WORD = 21


def clones_to_check(clones: int, *, sample: int = DEFAULT_SAMPLE, seed: int = 0) -> tuple[int, ...] | None:
    """The clones j to check: ``None`` (all of them) up to CHECK_ALL_UP_TO, else a sorted random sample.

    Raises:
        InvalidArgumentError: if ``sample`` < 1.
    """
    if not is_int(sample) or sample < 1:
        raise InvalidArgumentError(f"the sample of clones must be a positive integer, got {sample!r}")
    if clones <= CHECK_ALL_UP_TO or sample >= clones:
        return None
    rng = np.random.default_rng(seed)
    return tuple(sorted(int(j) + 1 for j in rng.choice(clones, size=sample, replace=False)))


def verify_at_scale(clones: int, *, sample: int = DEFAULT_SAMPLE, seed: int = 0, depth: str = "linear",
                    method: str = "structured") -> VerificationReport:
    """Check properties 2–6 (and 8 for even n) exactly for ``clones`` clones; see the module doc.

    Args:
        clones: n >= 1 (a million takes a few seconds gate by gate, well under one stage by stage).
        sample: how many clones to check when n > CHECK_ALL_UP_TO.
        seed: seed of that sample.
        depth: encryption variant, ``"linear"`` or ``"log"``.
        method: ``"structured"`` (stage by stage, plus the cross-check of the
            builders' gates as property 1) or ``"gates"`` (gate by gate).
    """
    if method not in METHODS:
        raise InvalidArgumentError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "structured":
        return _verify_structured(clones, sample=sample, seed=seed, depth=depth)
    lay = Layout(clones)
    n = lay.clones
    depth = check_depth(depth)
    chosen = clones_to_check(n, sample=sample, seed=seed)
    js = list(range(1, n + 1)) if chosen is None else list(chosen)
    enc = encryption(lay, depth=depth, circuit=bell_pairs(lay))
    m = lay.num_qubits
    items: list[Check] = []

    # After encryption: A and every checked clone, one bit-parallel pull-back
    sets = [[lay.A()]] + [[lay.S(j)] for j in js]
    batch, slices = reference_batch(m, sets)
    batch.pull_back(enc)
    infos = read_reference_information(batch, sets, slices)
    a_info, s_infos = infos[0], infos[1:]
    items.append(Check(3, "A is maximally mixed after encryption", a_info.maximally_mixed))
    items.append(Check(5, "I(R : A) in bits", a_info.bits == 0, a_info.bits, 0.0))
    if n >= 2:
        mixed = sum(i.maximally_mixed for i in s_infos)
        items.append(Check(2, "each checked clone S_j is maximally mixed after encryption", mixed == len(js),
                           detail=f"{mixed}/{len(js)} clones"))
        worst = max(i.bits for i in s_infos)
        items.append(Check(5, "I(R : S_j) in bits, worst checked clone", worst == 0, worst, 0.0))
    else:
        lone = s_infos[0]
        items.append(Check(2, "n = 1 exception: the lone clone S_1 carries exactly the Y component",
                           lone.leaked == ("Y",) and lone.bits == 1, lone.bits, 1.0, f"leaked {lone.leaked}"))

    # The key alone: X_A and Z_A are carried by A, S_1..S_n only, so I(R : A, S) = 2
    logical = PauliBatch.from_letters(m, [{lay.A(): "X"}, {lay.A(): "Z"}])
    logical.conjugate_by(enc)
    on_key = logical.any_support(np.arange(n + 1, 2 * n + 1))
    info_as = 2.0 if not on_key.any() else float("nan")
    items.append(Check(5, "I(R : key N_1..N_n) in bits (= 2 - I(R : A, S_1..S_n), purity)", not on_key.any(),
                       2.0 - info_as, 0.0, "X_A and Z_A encrypt onto A, S_1..S_n only" if not on_key.any() else
                       "an encrypted logical operator reaches the key"))

    # Decrypting each checked clone: X, Z, Y of S_j pulled back through U_dec(j), then, 21 clones
    # (63 operators, one 64-bit word) at a time, through the shared encryption
    restored: list[bool] = []
    after = []
    for start in range(0, len(js), CLONES_PER_WORD):
        chunk = js[start : start + CLONES_PER_WORD]
        dec = PauliBatch(m, 3 * len(chunk))
        for i, j in enumerate(chunk):
            b, _ = reference_batch(m, [[lay.S(j)]])
            b.pull_back(clone_decryption(lay, j, circuit=empty_circuit(lay)))
            # U_dec(j) acts on S_j and the key only, so that is where the pulled-back operators live
            dec.place(b, 3 * i, rows=(slice(lay.S(j), lay.S(j) + 1), slice(n + 1, 2 * n + 1)))
        dec.pull_back(enc)
        firsts = np.arange(0, 3 * len(chunk), 3)
        restored += bell_pair_columns(dec, firsts.tolist()).tolist()
        after += read_reference_information(dec, [[lay.S(j)] for j in chunk], [slice(int(c), int(c) + 3) for c in firsts])
    bad = [j for j, ok in zip(js, restored) if not ok]
    items.append(Check(4, "(R, S_j) is exactly |Phi+> after decrypting S_j, every checked j", not bad,
                       detail=f"{len(js) - len(bad)}/{len(js)} clones" + (f"; failed: {bad[:10]}" if bad else "")))
    rest = max(2.0 - i.bits for i in after)
    items.append(Check(6, "after decrypting S_j: I(R : every qubit but S_j) in bits (= 2 - I(R : S_j)), worst j",
                       rest == 0, rest, 0.0))

    if n % 2 == 0:
        b, _ = reference_batch(m, [[lay.A()]])
        b.pull_back(input_decryption(lay, depth=depth, circuit=empty_circuit(lay)))
        b.pull_back(enc)
        ok = bool(bell_pair_columns(b, [0])[0])
        items.append(Check(8, "even n: (R, A) is exactly |Phi+> after decrypting A", ok))

    warning = single_clone_warning(n)
    return VerificationReport(checks=tuple(items), clones=n, seed=seed, engine="heisenberg", checked_clones=chosen,
                              warnings=(warning,) if warning else ())


def _cross_check_clones(n: int) -> int:
    """The n' at which the builders' gates are cross-checked against the stages."""
    if n <= CROSS_CHECK_UP_TO:
        return n
    return CROSS_CHECK_UP_TO - (CROSS_CHECK_UP_TO - n) % 2  # same parity as n


def _cross_check(n: int, js: list[int], depth: Depth) -> Check:
    """Property 1 at scale: the builders' gates act as the stages (random uniform Paulis, gate by gate)."""
    nc = _cross_check_clones(n)
    lay = Layout(nc)
    enc = encryption(lay, depth=depth, circuit=bell_pairs(lay))
    # operators of random clones, clone 1 and clone n' among them, backwards and forwards
    js_enc = np.random.default_rng(nc).integers(1, nc + 1, size=64)
    js_enc[:2] = (1, nc)
    ok = all(structured.agrees_with_circuit(nc, protocol_stages(lay, depth=depth), enc, j=js_enc, seed=int(fwd), forward=fwd)
             for fwd in (False, True))
    # the decryption of a few clones: the first checked ones (when n' = n), and the first and last
    dec_js = sorted({1, nc, *(js[:4] if nc == n else [])})
    bad = [j for j in dec_js if not structured.agrees_with_circuit(
        nc, (structured.CloneDecryption(),), clone_decryption(lay, j, circuit=empty_circuit(lay)), j=j, seed=j)]
    if nc % 2 == 0:
        ok &= structured.agrees_with_circuit(nc, structured.input_decryption_stages(depth),
                                             input_decryption(lay, depth=depth, circuit=empty_circuit(lay)), j=1)
    where = f"at n = {nc}" + ("" if nc == n else f" (n = {n}: stages only)")
    parts = f"Bell pairs, encryption ({depth}), decryption of clones {', '.join(map(str, dec_js))}" + (" and of A" if nc % 2 == 0 else "")
    return Check(1, "the builders' gates act as the stages (64 random Paulis, gate by gate)", ok and not bad,
                 detail=f"{where}: {parts}" + (f"; differ for clones {bad}" if bad else ""))


def _single(n: int, slot: str, js: np.ndarray, letters: tuple[str, ...]) -> UniformPaulis:
    """For each clone j of ``js``: the operators ``letters`` on its slot, columns in that order."""
    k = len(letters)
    return UniformPaulis.single(n, slot, np.repeat(js, k), np.tile(np.asarray(letters), js.size))  # type: ignore[arg-type]  # an array of letters serves as their sequence


def _verify_structured(clones: int, *, sample: int, seed: int, depth: str) -> VerificationReport:
    lay = Layout(clones)
    n = lay.clones
    depth = check_depth(depth)
    chosen = clones_to_check(n, sample=sample, seed=seed)
    items: list[Check] = [_cross_check(n, list(chosen) if chosen is not None else [1, n], depth)]
    enc = protocol_stages(lay, depth=depth)
    dec = protocol_stages(lay, depth=depth, decrypt="clone")

    # After encryption: A, then every checked clone (X, Z, Y of each, the order of reference_batch)
    a_ops = _single(n, "A", np.ones(1, dtype=np.int64), ("X", "Z", "Y"))
    a_ops.pull_back(enc)
    a_info = structured.single_qubit_information(a_ops)
    items.append(Check(3, "A is maximally mixed after encryption", bool(a_info.maximally_mixed[0])))
    a_bits = float(a_info.bits[0])
    items.append(Check(5, "I(R : A) in bits", a_bits == 0, a_bits, 0.0))

    count = n if chosen is None else len(chosen)
    mixed, worst, rest, failed = 0, 0.0, 0.0, 0
    failed_js: list[int] = []
    leaked_one: tuple[tuple[str, ...], float] | None = None
    for start in range(0, count, STRUCTURED_CHUNK):
        stop = min(count, start + STRUCTURED_CHUNK)
        js = np.arange(start + 1, stop + 1, dtype=np.int64) if chosen is None else np.asarray(chosen[start:stop], dtype=np.int64)
        ops = _single(n, "j", js, ("X", "Z", "Y"))
        ops.pull_back(enc)
        info = structured.single_qubit_information(ops)
        mixed += int(info.maximally_mixed.sum())
        worst = max(worst, float(info.bits.max()))
        if n == 1:
            leaked_one = (structured.leaked_letters(int(info.leaked[0])), float(info.bits[0]))
        # decrypting each clone j: X, Z, Y of S_j pulled back through U_dec(j), the encryption and the Bell pairs
        ops = _single(n, "j", js, ("X", "Z", "Y"))
        ops.pull_back(dec)
        ok = structured.bell_pair_restored(ops, x_columns=np.arange(0, ops.size, 3))
        failed += int((~ok).sum())
        failed_js += js[~ok][: 10 - len(failed_js)].tolist()
        rest = max(rest, float((2.0 - structured.single_qubit_information(ops).bits).max()))

    if n >= 2:
        items.append(Check(2, "each checked clone S_j is maximally mixed after encryption", mixed == count,
                           detail=f"{mixed}/{count} clones"))
        items.append(Check(5, "I(R : S_j) in bits, worst checked clone", worst == 0, worst, 0.0))
    elif leaked_one is not None:
        letters, bits = leaked_one
        items.append(Check(2, "n = 1 exception: the lone clone S_1 carries exactly the Y component",
                           letters == ("Y",) and bits == 1, bits, 1.0, f"leaked {letters}"))

    # The key alone: X_A and Z_A encrypt onto A, S_1..S_n only, so I(R : A, S) = 2 and by purity I(R : key) = 0
    logical = UniformPaulis.single(n, "A", np.ones(2, dtype=np.int64), ["X", "Z"])
    logical.conjugate_by(enc)
    on_key = bool(logical.any_support_on_key().any())
    items.append(Check(5, "I(R : key N_1..N_n) in bits (= 2 - I(R : A, S_1..S_n), purity)", not on_key,
                       0.0 if not on_key else float("nan"), 0.0, "X_A and Z_A encrypt onto A, S_1..S_n only" if not on_key else
                       "an encrypted logical operator reaches the key"))

    items.append(Check(4, "(R, S_j) is exactly |Phi+> after decrypting S_j, every checked j", failed == 0,
                       detail=f"{count - failed}/{count} clones" + (f"; failed: {failed_js}" if failed else "")))
    items.append(Check(6, "after decrypting S_j: I(R : every qubit but S_j) in bits (= 2 - I(R : S_j)), worst j",
                       rest == 0, rest, 0.0))
    if n % 2 == 0:
        b = UniformPaulis.single(n, "A", np.ones(2, dtype=np.int64), ["X", "Z"])
        b.pull_back(protocol_stages(lay, depth=depth, decrypt="A"))
        items.append(Check(8, "even n: (R, A) is exactly |Phi+> after decrypting A", bool(structured.bell_pair_restored(b)[0])))

    warning = single_clone_warning(n)
    return VerificationReport(checks=tuple(items), clones=n, seed=seed, engine="structured", checked_clones=chosen,
                              warnings=(warning,) if warning else ())
