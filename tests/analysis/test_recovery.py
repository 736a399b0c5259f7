"""Recovery from any authorized set, checked against independent computations.

* The dense engine (``qclone.sim.exact``) runs the protocol's encryption and then the recovery
  on random pure inputs, random mixed inputs (purified by a reference) and inputs entangled with
  a reference, and compares the output with the input.
* stim tableaux do the same at larger n for stabilizer inputs (|0⟩, |+⟩, |+i⟩, and a Bell pair
  with a reference).
* The leakage engine's GF(2) elimination (``LeakageAnalyzer``) decides authorization and what
  a set learns, independently of the closed form the recovery module uses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import stim

from qclone.analysis import recovery as recovery_module
from qclone.analysis.leakage import CliffordEncoding, LeakageAnalyzer, protocol_analyzer
from qclone.analysis.recovery import (
    UnauthorizedSetError,
    authorized_many,
    choose_recovery,
    classify_set,
    find_recovery,
    is_authorized,
    output_images,
    plain_recovery,
)
from qclone.errors import InvalidArgumentError
from qclone.protocol import Circuit, Layout, decryption, protocol_circuit, to_stim
from qclone.sim.exact import (
    StateVector,
    fidelity,
    pauli_matrix,
    purification,
    random_density_matrix,
    random_state,
)


def subsets(m):
    for size in range(m + 1):
        yield from combinations(range(m), size)


def with_references(layout: Layout, circuit: Circuit) -> Circuit:
    """The same gates on the layout with references appended (qubit indices do not change)."""
    return Circuit(layout.registers, circuit.instructions)


# --- the dense engine ---------------------------------------------------------------------------------


INPUT_KINDS = ("pure", "mixed", "entangled")


class Dense:
    """One random input of the given kind, encrypted by the dense engine; recoveries applied to copies.

    The input register A (k qubits) has k reference qubits R. ``pure``: a random pure state on A,
    R in |0⟩ (the check compares the targets alone with it). ``mixed``: a random full-rank density
    matrix on A, purified by R (the check compares the targets alone with it). ``entangled``: a
    random pure state of A and R together (the check compares targets and R with it).
    """

    def __init__(self, n: int, k: int, kind: str, seed: int) -> None:
        self.kind = kind
        self.layout = Layout(n, qubits=k, references=k)
        self.plain = Layout(n, qubits=k)
        rng = np.random.default_rng(seed)
        if kind == "pure":
            self.expected = random_state(k, rng)
            joint = np.kron(self.expected, np.eye(2**k)[0])
        elif kind == "mixed":
            self.expected = random_density_matrix(k, rng)
            joint = purification(self.expected)
        else:
            joint = random_state(2 * k, rng)
            self.expected = joint
        lay = self.layout
        sv = StateVector.from_input(joint, lay.num_qubits, input_qubits=[*lay.inputs, *lay.reference_qubits])
        sv.apply_circuit(protocol_circuit(lay))
        self.encrypted = sv

    def run(self, circuit: Circuit, before: tuple[int, str] | None = None) -> StateVector:
        sv = self.encrypted.copy()
        if before is not None:
            q, letter = before
            sv.apply(pauli_matrix(letter), [q])
        sv.apply_circuit(with_references(self.layout, circuit))
        return sv

    def output(self, sv: StateVector, targets) -> np.ndarray:
        keep = [*targets, *self.layout.reference_qubits] if self.kind == "entangled" else list(targets)
        return sv.reduced_density_matrix(keep)


def check_every_authorized_set(n: int, k: int, kind: str, seed: int, *, every: int = 1) -> int:
    dense = Dense(n, k, kind, seed)
    refs = list(dense.layout.reference_qubits)
    m = (2 * n + 1) * k
    count = 0
    for index, subset in enumerate(s for s in subsets(m) if is_authorized(dense.plain, s)):
        if index % every:
            continue
        rec = find_recovery(dense.plain, subset)
        assert set(rec.qubits) <= set(subset) and rec.circuit.qubits_touched() <= set(rec.qubits)
        sv = dense.run(rec.circuit)
        assert fidelity(dense.expected, dense.output(sv, rec.targets)) == pytest.approx(1, abs=1e-9), subset
        if kind != "pure":  # exactly once: everything but the output is independent of the input
            rest = [q for q in range(m) if q not in rec.targets]
            assert sv.mutual_information(refs, rest) == pytest.approx(0, abs=1e-9), subset
        count += 1
    return count


@pytest.mark.parametrize("kind", INPUT_KINDS)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_every_authorized_set_recovers_the_input_exactly(n, kind):
    count = check_every_authorized_set(n, 1, kind, seed=10 * n + INPUT_KINDS.index(kind))
    # a set is authorized iff its complement learns nothing: exactly half of all sets for even n
    assert count > 0 and (n % 2 or count == 2 ** (2 * n))


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_n6_a_sample_of_the_authorized_sets_recovers_the_input(kind):
    assert check_every_authorized_set(6, 1, kind, seed=60 + INPUT_KINDS.index(kind), every=97) == 43


@pytest.mark.slow
def test_n6_every_authorized_set_recovers_the_input():
    # the reference-entangled input alone: recovering it exactly makes the recovery channel the
    # identity, which covers pure and mixed inputs (sampled for every kind in the fast group above)
    kind = "entangled"
    assert check_every_authorized_set(6, 1, kind, seed=600 + INPUT_KINDS.index(kind)) == 2**12


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_a_two_qubit_register_recovers_from_every_authorized_set(kind):
    # authorized for the register = authorized for both copies: 3 of 8 sets per copy for n = 1
    assert check_every_authorized_set(1, 2, kind, seed=71) == 3**2


def test_a_two_qubit_register_n2_recovers_from_a_sample_of_the_authorized_sets():
    assert check_every_authorized_set(2, 2, "entangled", seed=72, every=9) == 29


@pytest.mark.slow
@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_a_two_qubit_register_n2_recovers_from_every_authorized_set(kind):
    assert check_every_authorized_set(2, 2, kind, seed=73) == 16**2


def test_a_two_qubit_register_n3_on_random_authorized_sets():
    dense = Dense(3, 2, "entangled", seed=5)
    rng = np.random.default_rng(5)
    for subset in random_authorized(dense.plain, rng, 9):
        rec = find_recovery(dense.plain, subset)
        out = dense.output(dense.run(rec.circuit), rec.targets)
        assert fidelity(dense.expected, out) == pytest.approx(1, abs=1e-9), subset


# --- stim tableaux at larger n ------------------------------------------------------------------------------


def stim_recovers(layout: Layout, rec) -> None:
    """Run encryption and the recovery with stim on |0⟩, |+⟩, |+i⟩ and a Bell pair with a reference
    (register qubit i's input on A_i; a reference qubit after the protocol's qubits); every target's
    Pauli expectations must be the input's."""
    m = layout.num_qubits
    ref = m
    encrypt = to_stim(protocol_circuit(layout))
    recover = to_stim(rec.circuit)
    for prep, paulis in (("", {"Z": 1}), ("H", {"X": 1}), ("H S", {"Y": 1})):
        sim = stim.TableauSimulator()
        sim.set_num_qubits(m + 1)
        for gate in prep.split():
            sim.do(stim.Circuit(f"{gate} {' '.join(map(str, layout.inputs))}"))
        sim.do(encrypt)
        sim.do(recover)
        for t in rec.targets:
            for letter, value in {"X": 0, "Y": 0, "Z": 0, **paulis}.items():
                p = stim.PauliString(m + 1)
                p[t] = letter
                assert sim.peek_observable_expectation(p) == value, (prep, letter, t)
    for i, t in enumerate(rec.targets):  # Bell pair (A_i, R): must end on (target i, R)
        sim = stim.TableauSimulator()
        sim.set_num_qubits(m + 1)
        sim.h(ref)
        sim.cnot(ref, layout.A(i))
        sim.do(encrypt)
        sim.do(recover)
        for letter, value in (("X", 1), ("Z", 1), ("Y", -1)):
            p = stim.PauliString(m + 1)
            p[t], p[ref] = letter, letter
            assert sim.peek_observable_expectation(p) == value, (i, letter)


def random_authorized(layout: Layout, rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Random authorized sets of every kind: dense ones, and sparse ones (A with one pair, one qubit
    per pair plus one whole pair, ...)."""
    n, k = layout.clones, layout.qubits
    m = (2 * n + 1) * k
    out: list[np.ndarray] = []
    while len(out) < count:
        style = len(out) % 3
        if style == 0:
            mask = rng.random(m) < rng.uniform(0.5, 0.95)
        else:
            grid = np.zeros((2 * n + 1, k), dtype=bool)
            for i in range(k):
                pick_n = rng.random(n) < 0.5
                grid[1 : n + 1, i] = ~pick_n
                grid[n + 1 :, i] = pick_n
                j = rng.integers(n)
                grid[1 + j, i] = grid[n + 1 + j, i] = style == 1 or bool(rng.random() < 0.5)
                grid[0, i] = style == 2 or bool(rng.random() < 0.3)
            mask = grid.ravel()
        if authorized_many(layout, mask[None, :])[0]:
            out.append(np.flatnonzero(mask))
    return out


@pytest.mark.parametrize("n", [7, 12, 25, 50])
def test_random_authorized_sets_recover_with_stim(n):
    lay = Layout(n)
    rng = np.random.default_rng(n)
    analyzer = protocol_analyzer(n)
    for subset in random_authorized(lay, rng, 12):
        assert analyzer.classify(subset).kind == "authorized"  # the independent GF(2) engine agrees
        for route in ("structured", "generic"):
            rec = find_recovery(lay, subset, route=route, plain=False)
            assert set(rec.qubits) <= set(subset.tolist())
            stim_recovers(lay, rec)


def test_register_of_three_qubits_random_sets_recover_with_stim():
    lay = Layout(10, qubits=3)
    rng = np.random.default_rng(3)
    for subset in random_authorized(lay, rng, 10):
        stim_recovers(lay, find_recovery(lay, subset))


@pytest.mark.parametrize(("n", "every"), [(1, 1), (2, 1), (3, 1), (4, 1), (5, 7)])
def test_both_routes_agree_on_every_set(n, every):
    """The structured route and the generic elimination accept the same sets, and both recover
    (n = 5: every 7th set)."""
    lay = Layout(n)
    for subset in list(subsets(2 * n + 1))[::every]:
        outcomes = []
        for route in ("structured", "generic"):
            try:
                rec = find_recovery(lay, subset, route=route, plain=False)
            except UnauthorizedSetError as err:
                outcomes.append(err.missing)
                continue
            stim_recovers(lay, rec)
            outcomes.append("recovered")
        assert outcomes[0] == outcomes[1], subset


# --- authorization, against the leakage engine ------------------------------------------------------------


def check_authorization_on_every_set(n: int) -> None:
    analyzer = protocol_analyzer(n)
    lay = Layout(n)
    masks = np.zeros((2 ** (2 * n + 1), 2 * n + 1), dtype=bool)
    kinds = []
    for row, subset in enumerate(subsets(2 * n + 1)):
        masks[row, list(subset)] = True
        exact = analyzer.classify(subset)
        mine = classify_set(lay, subset)[0]
        assert (mine.kind, mine.leaked) == (exact.kind, exact.leaked), subset
        kinds.append(exact.kind)
    assert np.array_equal(authorized_many(lay, masks), np.array(kinds) == "authorized")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_authorization_agrees_with_the_leakage_engine_on_every_set(n):
    check_authorization_on_every_set(n)


@pytest.mark.slow
def test_authorization_agrees_with_the_leakage_engine_on_every_set_n6():
    check_authorization_on_every_set(6)


@pytest.mark.parametrize("n", [9, 16, 33, 50])
def test_authorization_agrees_with_the_leakage_engine_on_random_sets(n):
    analyzer = protocol_analyzer(n)
    lay = Layout(n)
    rng = np.random.default_rng(n)
    for _ in range(40):
        subset = np.flatnonzero(rng.random(2 * n + 1) < rng.uniform(0.2, 0.9))
        exact = analyzer.classify(subset)
        mine = classify_set(lay, subset)[0]
        assert (mine.kind, mine.leaked) == (exact.kind, exact.leaked), subset.tolist()


def test_register_classification_names_the_register_qubit():
    lay = Layout(3, qubits=2)
    # register qubit 0: its three clones only (Y leaks); register qubit 1: everything
    held = [lay.S(j, 0) for j in (1, 2, 3)] + [q * 2 + 1 for q in range(7)]
    assert [c.kind for c in classify_set(lay, held)] == [protocol_analyzer(3).classify(["S1", "S2", "S3"]).kind,
                                                         "authorized"]
    with pytest.raises(UnauthorizedSetError) as err:
        find_recovery(lay, held)
    assert err.value.missing == "register qubit 0: the set holds no logical X or Z (it learns only the Y component)"


# --- the code's facts, re-derived ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7])
def test_the_code_has_distance_3_so_everything_but_any_two_qubits_recovers(n):
    analyzer = protocol_analyzer(n)
    lay = Layout(n)
    m = 2 * n + 1
    for pair in combinations(range(m), 2):
        assert analyzer.classify(pair).kind == "none"  # no 2 qubits learn anything
        assert classify_set(lay, pair)[0].kind == "none"
        rest = [q for q in range(m) if q not in pair]
        assert analyzer.classify(rest).kind == "authorized" and is_authorized(lay, rest)
    assert analyzer.classify(["A", "S1", "N1"]).kind == "authorized"  # and some 3 qubits recover: d = 3
    for rest in ([q for q in range(m) if q not in pair] for pair in [(0, 1), (1, n + 1), (n, 2 * n)]):
        stim_recovers(lay, find_recovery(lay, rest, plain=False))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 31, 50])
def test_A_with_every_clone_and_everything_but_one_key_qubit_recover(n):
    lay = Layout(n)
    analyzer = protocol_analyzer(n)
    sets = [[lay.A(), *lay.signals]] + [[q for q in range(2 * n + 1) if q != lay.N(j)] for j in {1, n}]
    for subset in sets:
        assert is_authorized(lay, subset)
        assert analyzer.classify(subset).kind == "authorized"
        stim_recovers(lay, find_recovery(lay, subset))


def test_A_with_every_clone_is_authorized_at_any_size():
    for n in (100, 1001, 10**4):
        lay = Layout(n)
        assert is_authorized(lay, [lay.A(), *lay.signals])
        assert not is_authorized(lay, lay.signals) and not is_authorized(lay, [lay.A(), *lay.keys[:-1]])


def test_n2_is_a_3_of_5_threshold_scheme():
    lay = Layout(2)
    for subset in subsets(5):
        assert is_authorized(lay, subset) == (len(subset) >= 3)
        assert classify_set(lay, subset)[0].kind == ("authorized" if len(subset) >= 3 else "none")
    dense = Dense(2, 1, "entangled", seed=35)
    for subset in combinations(range(5), 3):
        rec = find_recovery(lay, subset, plain=False)
        out = dense.output(dense.run(rec.circuit), rec.targets)
        assert fidelity(dense.expected, out) == pytest.approx(1, abs=1e-9)


@pytest.mark.parametrize("n", [3, 8, 20])
def test_exactly_once_the_rest_learns_nothing_after_a_recovery(n):
    """After a recovery, nothing but its output depends on the input: the leakage engine, run on the
    encryption followed by the recovery, finds every other qubit together non-informative."""
    lay = Layout(n)
    rng = np.random.default_rng(n)
    for subset in random_authorized(lay, rng, 6):
        rec = find_recovery(lay, subset)
        after = LeakageAnalyzer(CliffordEncoding(protocol_circuit(lay) + rec.circuit, inputs=lay.inputs))
        rest = [q for q in range(lay.num_qubits) if q not in rec.targets]
        assert after.classify(rest).kind == "none"
        assert after.classify(list(rec.targets)).kind == "authorized"
        outside = [q for q in range(lay.num_qubits) if q not in set(subset.tolist())]
        assert after.classify(outside).kind == "none"


# --- refusals ------------------------------------------------------------------------------------------------


def test_unauthorized_sets_are_refused_with_the_reason():
    with pytest.raises(UnauthorizedSetError) as err:
        find_recovery(Layout(3), [1, 2, 3])
    assert err.value.missing == "the set holds no logical X or Z (it learns only the Y component)"
    assert err.value.classifications[0].leaked == ("Y",)
    with pytest.raises(UnauthorizedSetError) as err:
        find_recovery(Layout(4), Layout(4).keys)
    assert err.value.missing == "the set learns nothing about the state"
    for route in ("structured", "generic"):  # both routes give the same reason
        with pytest.raises(UnauthorizedSetError) as err:
            find_recovery(Layout(5), [0, 6, 7, 8, 9, 10], route=route)
        assert "only the Y component" in err.value.missing
    assert isinstance(err.value, InvalidArgumentError)


@pytest.mark.parametrize("bad", [[-1], [5], [1.5], [True, 2], "A S1", [[1, 2]]])
def test_bad_qubits_are_refused(bad):
    with pytest.raises(InvalidArgumentError):
        find_recovery(Layout(2), bad)
    with pytest.raises(InvalidArgumentError):
        is_authorized(Layout(2), bad)


def test_reference_qubits_are_not_survivors_and_routes_are_checked():
    lay = Layout(2, references=1)
    with pytest.raises(InvalidArgumentError):
        find_recovery(lay, [0, 1, 2, 5])
    with pytest.raises(InvalidArgumentError):
        find_recovery(lay, [0, 1, 2], route="fast")  # type: ignore[arg-type]  # an invalid route on purpose


# --- the plain decryption and the choice among holders -------------------------------------------------------


def test_plain_decryption_is_the_protocols_own():
    lay = Layout(3, qubits=2)
    rec = find_recovery(lay, [*lay.clone(2), *lay.clone(3), *lay.keys])
    assert rec.plain_clone == 2 and rec.targets == lay.clone(2) and rec.route == "plain"
    assert rec.circuit == decryption(lay, 2)
    stim_recovers(lay, rec)
    assert find_recovery(lay, [*lay.clone(2), *lay.keys], plain=False).plain_clone is None


def providers(lay: Layout) -> dict[str, list[int]]:
    return {"client": list(lay.inputs), "vault": list(lay.keys),
            **{f"p{j}": list(lay.clone(j)) for j in range(1, lay.clones + 1)}}


def test_choose_prefers_the_plain_decryption_of_the_best_ranked_clone():
    lay = Layout(4)
    holders = providers(lay)
    ranks = {"p1": 3.0, "p2": 1.0, "p3": 0.5, "p4": 2.0, "vault": 0.0, "client": 0.0}
    rec, used = choose_recovery(lay, holders, holders, rank=ranks.__getitem__)
    assert (rec.plain_clone, used) == (3, ("vault", "p3"))
    rec, used = choose_recovery(lay, holders, ["vault", "p1", "p4", "client"], rank=ranks.__getitem__)
    assert (rec.plain_clone, used) == (4, ("vault", "p4"))


def test_choose_without_the_vault_uses_the_custodian_and_every_provider():
    lay = Layout(4)
    holders = providers(lay)
    live = ["client", "p1", "p2", "p3", "p4"]
    rec, used = choose_recovery(lay, holders, live)
    assert used == ("client", "p1", "p2", "p3", "p4") and rec.plain_clone is None
    stim_recovers(lay, rec)
    with pytest.raises(UnauthorizedSetError) as err:
        choose_recovery(lay, holders, ["client", "p1", "p2", "p3"])
    assert err.value.missing == "the set learns nothing about the state"


def test_choose_finds_the_fewest_parties():
    lay = Layout(3)
    # N3 is held by nobody, so no plain decryption is possible
    holders = {"a": [lay.A()], "pair2": [lay.S(2), lay.N(2)], "s1": [lay.S(1)], "s3": [lay.S(3)],
               "n1": [lay.N(1)], "big": [lay.S(1), lay.S(3), lay.N(1)]}
    rec, used = choose_recovery(lay, holders, holders)
    assert used == ("a", "pair2")  # {A, S2, N2}: two parties
    assert set(rec.qubits) <= {lay.A(), lay.S(2), lay.N(2)}
    stim_recovers(lay, rec)
    rec, used = choose_recovery(lay, holders, ["pair2", "s1", "s3", "n1", "big", "unknown"])
    assert used == ("pair2", "big")  # one qubit of every pair plus a whole pair
    stim_recovers(lay, rec)


def test_choose_with_a_split_key_and_a_lost_shard_uses_the_custodian_and_one_pair():
    lay = Layout(20)
    holders = {"client": [lay.A()], **{f"p{j}": [lay.S(j)] for j in range(1, 21)},
               **{f"v{v}": [lay.N(j) for j in range(5 * v - 4, 5 * v + 1)] for v in range(1, 5)}}
    live = [h for h in holders if h != "v2"]
    rec, used = choose_recovery(lay, holders, live, rank=lambda h: 1.0 if h.startswith("p1") else 0.0)
    assert rec.plain_clone is None and len(used) == 3 and used[0] == "client"
    assert used[1] == "p2" and used[2] == "v1"  # the best-ranked whole pair: p1 ranks worse than p2
    assert set(rec.qubits) == {lay.A(), lay.S(2), lay.N(2)}
    stim_recovers(lay, rec)


def test_choose_finds_the_fewest_cheapest_holders_as_a_brute_force_search_does():
    """Random overlapping holders; the reference answer comes from every subset of holders, judged
    by the leakage engine's elimination (not by the recovery module's rule)."""
    lay = Layout(3)
    analyzer = protocol_analyzer(3)
    rng = np.random.default_rng(11)
    checked = 0
    while checked < 25:
        holders = {f"h{i}": sorted(set(rng.choice(7, size=rng.integers(1, 4)).tolist())) for i in range(6)}
        ranks = {h: float(rng.integers(0, 3)) for h in holders}
        names = list(holders)
        good = [sub for size in range(1, 7) for sub in combinations(names, size)
                if analyzer.classify(sorted({q for h in sub for q in holders[h]})).kind == "authorized"]
        if not good:
            with pytest.raises(UnauthorizedSetError):
                choose_recovery(lay, holders, names, rank=ranks.__getitem__)
            continue
        rec, used = choose_recovery(lay, holders, names, rank=ranks.__getitem__)
        held = sorted({q for h in used for q in holders[h]})
        assert analyzer.classify(held).kind == "authorized" and set(rec.qubits) <= set(held)
        if rec.plain_clone is None:  # no whole clone with the whole key among the live holders
            fewest = min(len(sub) for sub in good)
            cheapest = min(sum(ranks[h] for h in sub) for sub in good if len(sub) == fewest)
            assert len(used) == fewest and sum(ranks[h] for h in used) == cheapest, (holders, ranks, used)
        stim_recovers(lay, rec)
        checked += 1


def test_choose_beyond_the_subset_budget_returns_an_inclusion_minimal_set(monkeypatch):
    monkeypatch.setattr(recovery_module, "MAX_HOLDER_SUBSETS", 10)
    lay = Layout(6)
    holders = {f"q{q}": [q] for q in range(13)}
    rec, used = choose_recovery(lay, holders, holders, rank=lambda h: -int(h[1:]))
    chosen = [int(h[1:]) for h in used]
    assert is_authorized(lay, chosen)
    assert all(not is_authorized(lay, [q for q in chosen if q != drop]) for drop in chosen)
    stim_recovers(lay, rec)


# --- output images --------------------------------------------------------------------------------------------


def image_matrix(mask_x: int, mask_z: int, k: int) -> np.ndarray:
    """X^x Z^z on the k targets (bit i = target i) as a matrix on (targets in order)."""
    return pauli_matrix("".join("IXZY"[((mask_x >> i) & 1) + 2 * ((mask_z >> i) & 1)] for i in range(k)))


@pytest.mark.parametrize(("n", "k"), [(2, 1), (3, 1), (2, 2)])
def test_output_images_match_the_dense_engine_with_pauli_errors(n, k):
    dense = Dense(n, k, "entangled", seed=100 + n + k)
    rng = np.random.default_rng(n + k)
    lay = dense.plain
    m = (2 * n + 1) * k
    recs = [plain_recovery(lay, 1)] + [find_recovery(lay, s, plain=False) for s in random_authorized(lay, rng, 4)]
    expected_state = np.outer(dense.expected, dense.expected.conj())
    for rec in recs:
        images = output_images(rec)
        assert set(images) == set(rec.qubits)
        for q in rng.choice(m, size=min(m, 8), replace=False).tolist():
            for letter, column in (("X", 0), ("Z", 1)):
                sv = dense.run(rec.circuit, before=(q, letter))
                out = dense.output(sv, rec.targets)
                mx, mz = images.get(q, ((0, 0), (0, 0)))[column]
                p = np.kron(image_matrix(mx, mz, k), np.eye(2**k))  # the references untouched
                want = p @ expected_state @ p.conj().T
                assert fidelity(want, out) == pytest.approx(1, abs=1e-9), (rec.route, q, letter)


# --- the benchmark ----------------------------------------------------------------------------------------------


BENCH = Path(__file__).resolve().parents[2] / "bench" / "recovery.py"


def run_bench(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), "--clones", "20", "60", "--repeat", "1", *extra],
                          capture_output=True, text=True, timeout=300, cwd=BENCH.parents[1])


def test_the_recovery_benchmark_runs_both_routes_and_checks_every_result():
    done = run_bench("--json")
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["failures"] == [] and len(out["rows"]) == 6
    assert all("generic_cpu_s" in row and "structured_cpu_s" in row for row in out["rows"])


def test_the_recovery_benchmark_exits_non_zero_on_a_wrong_recovery():
    done = run_bench("--corrupt")
    assert done.returncode == 1 and "WRONG" in done.stdout, done.stdout + done.stderr
