"""Exact verification at any n with stabilizer algebra in the Heisenberg picture (no sampling).

An outside reference qubit R is maximally entangled with the input A; every
other qubit starts in |0⟩. The checks (PROTOCOL.md property numbers):

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

Every number comes from pulling a few Pauli operators back through the
circuits (:mod:`qclone.sim.heisenberg`): memory linear in n, time linear in
the circuit, no tableau. For n up to :data:`CHECK_ALL_UP_TO` every clone is
checked; beyond, a random sample of clones (``sample``, default 100, drawn from
``seed``) is checked, each exactly, and the report lists which.

Examples:
    >>> report = verify_at_scale(50)
    >>> report.passed, report.engine, report.checked_clones is None
    (True, 'stabilizer', True)
    >>> verify_at_scale(20_000, sample=3, seed=1).checked_clones
    (9463, 10236, 15104)
"""

from __future__ import annotations

import numpy as np

from qclone.analysis.verify import Check, VerificationReport
from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout, bell_pairs, encryption
from qclone.protocol.build import check_depth, clone_decryption, input_decryption
from qclone.protocol.layout import single_clone_warning
from qclone.protocol.build import empty_circuit
from qclone.sim.heisenberg import (
    PauliBatch,
    bell_pair_columns,
    read_reference_information,
    reference_batch,
)

#: Up to this n every clone is checked; beyond, a random sample.
CHECK_ALL_UP_TO = 10_000
#: Default size of the random sample of clones beyond CHECK_ALL_UP_TO.
DEFAULT_SAMPLE = 100
#: Clones whose three pulled-back operators share one 64-bit word of a batch.
CLONES_PER_WORD = 21


def clones_to_check(clones: int, *, sample: int = DEFAULT_SAMPLE, seed: int = 0) -> tuple[int, ...] | None:
    """The clones j to check: ``None`` (all of them) up to CHECK_ALL_UP_TO, else a sorted random sample.

    Raises:
        InvalidArgumentError: if ``sample`` < 1.
    """
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise InvalidArgumentError(f"the sample of clones must be a positive integer, got {sample!r}")
    if clones <= CHECK_ALL_UP_TO or sample >= clones:
        return None
    rng = np.random.default_rng(seed)
    return tuple(sorted(int(j) + 1 for j in rng.choice(clones, size=sample, replace=False)))


def verify_at_scale(clones: int, *, sample: int = DEFAULT_SAMPLE, seed: int = 0, depth: str = "linear") -> VerificationReport:
    """Check properties 2–6 (and 8 for even n) exactly for ``clones`` clones; see the module doc.

    Args:
        clones: n >= 1 (a million takes a few seconds).
        sample: how many clones to check when n > CHECK_ALL_UP_TO.
        seed: seed of that sample.
        depth: encryption variant, ``"linear"`` or ``"log"``.
    """
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
        i = s_infos[0]
        items.append(Check(2, "n = 1 exception: the lone clone S_1 carries exactly the Y component",
                           i.leaked == ("Y",) and i.bits == 1, i.bits, 1.0, f"leaked {i.leaked}"))

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
        restored += bell_pair_columns(dec, firsts).tolist()
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
    return VerificationReport(n, seed, tuple(items), (warning,) if warning else (), engine="stabilizer", checked_clones=chosen)
