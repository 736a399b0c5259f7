"""Exact durability against independent computations: the dense engine, the analyzer set by set, closed forms."""

import itertools
import math

import numpy as np
import pytest

from qclone.analysis.leakage import Placement, builtin_placement, protocol_analyzer, protocol_encoding
from qclone.analysis.leakage.dense import DenseLeakage
from qclone.analysis.resilience import (
    FailureModel,
    Party,
    coalition_information,
    encrypted_scheme,
    exact_durability,
    load_model,
    max_secret_coalition,
    min_recovering_coalition,
    monte_carlo_durability,
    naive_durability,
    pair_class_table,
    threshold_scheme,
)
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Layout


def _pair_class(n, qubits):
    held = set(qubits)
    both = sum(f"S{j}" in held and f"N{j}" in held for j in range(1, n + 1))
    s_only = sum(f"S{j}" in held and f"N{j}" not in held for j in range(1, n + 1))
    n_only = sum(f"N{j}" in held and f"S{j}" not in held for j in range(1, n + 1))
    return int("A" in held), both, s_only, n_only


@pytest.mark.parametrize("n", [1, 2, 3])
def test_class_table_matches_the_dense_engine_on_every_subset(n):
    dense = DenseLeakage(protocol_encoding(n))
    table = pair_class_table(n)
    labels = Layout(n).labels
    for size in range(len(labels) + 1):
        for subset in itertools.combinations(labels, size):
            bits = dense.mutual_information(subset) if subset else 0.0
            assert table[_pair_class(n, subset)] == pytest.approx(bits, abs=1e-6), subset


@pytest.mark.parametrize("n", [4, 5, 6])
def test_class_table_matches_the_leakage_analyzer_on_every_class(n):
    analyzer = protocol_analyzer(n)
    table = pair_class_table(n)
    for a, c, s, t in itertools.product((0, 1), range(n + 1), range(n + 1), range(n + 1)):
        if c + s + t > n:
            assert table[a, c, s, t] == -1
            continue
        qubits = (["A"] if a else []) + [f"S{j}" for j in range(n - c - s + 1, n + 1)]  # other representatives
        qubits += [f"N{j}" for j in range(n - c + 1, n + 1)] + [f"N{j}" for j in range(1, t + 1)]
        assert _pair_class(n, qubits) == (a, c, s, t)
        assert table[a, c, s, t] == analyzer.mutual_information(qubits), (a, c, s, t)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_pairs_are_interchangeable(n):
    """The reduction to classes rests on this symmetry: swapping (S_j, N_j) with (S_j+1, N_j+1) fixes the state."""
    a = protocol_analyzer(n)
    for j in range(1, n):
        perm = list(range(2 * n + 1))
        perm[j], perm[j + 1] = j + 1, j
        perm[n + j], perm[n + j + 1] = n + j + 1, n + j
        assert a.invariant_under(perm)


def test_facts_of_the_access_structure():
    t2 = pair_class_table(2)
    labels = Layout(2).labels  # n = 2: any 3 of the 5 qubits recover, any 2 learn nothing
    for size, want in ((2, 0), (3, 2)):
        assert {int(t2[_pair_class(2, c)]) for c in itertools.combinations(labels, size)} == {want}
    for n in range(1, 7):
        t = pair_class_table(n)
        assert t[1, 0, n, 0] == 2   # {A, S_1..S_n}: authorized for every n
        assert t[0, 0, 0, n] == 0   # the key alone learns nothing


def _brute_force(model, placement, n):
    """Sum over every pattern of parties and zones; each survivor set classified by the analyzer itself."""
    analyzer = protocol_analyzer(n)
    parties = list(placement.party_names)
    zones = sorted({model.parties[model.index(p)].zone for p in parties} - {None})
    total = 0.0
    for fail in itertools.product((False, True), repeat=len(parties)):
        for zdown in itertools.product((False, True), repeat=len(zones)):
            w = 1.0
            alive = []
            for p, f in zip(parties, fail):
                party = model.parties[model.index(p)]
                w *= party.failure if f else 1 - party.failure
                if not f and not (party.zone and zdown[zones.index(party.zone)]):
                    alive.append(p)
            for z, down in zip(zones, zdown):
                w *= model.zones[z] if down else 1 - model.zones[z]
            held = placement.qubits_of(alive)
            if w and held and analyzer.classify(held).kind == "authorized":
                total += w
    return total


def _random_case(rng, n):
    zones = {f"z{i}": float(rng.uniform(0, 0.3)) for i in range(int(rng.integers(0, 3)))}
    count = int(rng.integers(2, 6))
    parties = tuple(Party(f"p{i}", float(rng.uniform(0, 0.5)),
                          None if not zones or rng.random() < 0.3 else str(rng.choice(list(zones))))
                    for i in range(count))
    model = FailureModel(parties, zones)
    held: dict[str, list[str]] = {}
    for label in Layout(n).labels:
        if rng.random() < 0.9:  # a few qubits discarded
            held.setdefault(f"p{int(rng.integers(count))}", []).append(label)
    return model, Placement(held or {"p0": ["A"]}).resolve(n)


@pytest.mark.parametrize("seed", range(12))
def test_exact_equals_brute_force_on_random_placements(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4))
    model, placement = _random_case(rng, n)
    scheme = encrypted_scheme(placement, n, model)
    want = _brute_force(model, placement, n)
    assert exact_durability(scheme, model) == pytest.approx(want, abs=1e-12)
    assert naive_durability(scheme, model) == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize(("n", "zones"), [(4, 2), (5, 3), (6, 1)])
def test_zones_closed_form(n, zones):
    """Providers round-robin over zones, an independent vault: (1 − q)(1 − Π_z (r + (1 − r) P^{m_z}))."""
    p, q, r = 0.2, 0.05, 0.1
    model = FailureModel(
        tuple(Party(f"provider-{j}", p, f"z{(j - 1) % zones}") for j in range(1, n + 1))
        + (Party("vault", q, None, "vault"),), {f"z{i}": r for i in range(zones)})
    scheme = encrypted_scheme(builtin_placement("providers-without-client", n), n, model)
    sizes = [len(range(i, n, zones)) for i in range(zones)]
    want = (1 - q) * (1 - math.prod(r + (1 - r) * p**m for m in sizes))
    assert exact_durability(scheme, model) == pytest.approx(want, abs=1e-12)
    mc = monte_carlo_durability(scheme, model, 200_000, seed=3)
    assert abs(mc["durability"] - want) <= 5 * math.sqrt(want * (1 - want) / 200_000)
    assert mc["ci"][0] <= mc["durability"] <= mc["ci"][1]


def test_zones_with_a_vault_and_a_custodian():
    """12 of 30 providers in 4 zones + a vault + a custodian: 2^18 patterns enumerated, or 2^6 hub and zone patterns."""
    n = 12
    model = FailureModel(
        tuple(Party(f"provider-{j}", 0.3, f"z{j % 4}") for j in range(1, 31))
        + (Party("vault", 0.01, None, "vault"), Party("tenant", 0.1, None, "custodian")),
        {f"z{i}": 0.05 for i in range(4)})
    parties = {f"provider-{j}": [f"S{j}"] for j in range(1, n + 1)} | {"vault": ["N*"], "tenant": ["A"]}
    scheme = encrypted_scheme(Placement(parties), n, model)
    got = exact_durability(scheme, model)
    sizes = [len([j for j in range(1, n + 1) if j % 4 == z]) for z in range(4)]
    some = 1 - math.prod(0.05 + 0.95 * 0.3**m for m in sizes)
    every = math.prod(0.95 * 0.7**m for m in sizes)
    # the vault and a clone, or the vault and A (the whole key and A recover for even n);
    # without the vault: A and every clone
    assert got == pytest.approx(0.99 * (some + (1 - some) * 0.9) + 0.01 * 0.9 * every, abs=1e-12)
    assert naive_durability(scheme, model) == pytest.approx(got, abs=1e-12)


def test_exact_limit_is_reported(monkeypatch):
    model = FailureModel(tuple(Party(f"provider-{j}", 0.1, f"z{j}") for j in range(1, 4))
                         + (Party("vault", 0.0, "z1", "vault"),), {f"z{j}": 0.01 for j in range(1, 4)})
    scheme = encrypted_scheme(builtin_placement("providers-without-client", 3).resolve(3), 3, model)
    exact = exact_durability(scheme, model)
    monkeypatch.setattr("qclone.analysis.resilience.MAX_EXACT_BITS", 1)  # the vault and its zone: 2 bits
    with pytest.raises(TooLargeError, match="Monte Carlo"):
        exact_durability(scheme, model)
    mc = monte_carlo_durability(scheme, model, 50_000, seed=1)
    assert mc["ci"][0] <= mc["durability"] <= mc["ci"][1]
    assert abs(mc["durability"] - exact) <= 5 * math.sqrt(exact * (1 - exact) / 50_000)


def test_threshold_scheme_is_binomial():
    model = FailureModel(tuple(Party(f"s{i}", 0.2, None) for i in range(5)), {})
    scheme = threshold_scheme(3, [f"s{i}" for i in range(5)], model, dimension=2)
    want = sum(math.comb(5, u) * 0.8**u * 0.2 ** (5 - u) for u in range(3, 6))
    assert exact_durability(scheme, model) == pytest.approx(want, abs=1e-12)
    assert (max_secret_coalition(scheme), min_recovering_coalition(scheme)) == (2, 3)


def test_coalitions_of_the_builtin_placements():
    model = FailureModel(tuple(Party(f"provider-{j}", 0.1) for j in range(1, 5))
                         + (Party("vault", 0.01, kind="vault"), Party("client", 0.1, kind="custodian")), {})
    scheme = encrypted_scheme(builtin_placement("providers", 4), 4, model)
    vault, p1 = model.index("vault"), model.index("provider-1")
    assert coalition_information(scheme, [vault]) == 0
    assert coalition_information(scheme, [vault, p1]) == 2
    assert max_secret_coalition(scheme) == 1 and min_recovering_coalition(scheme) == 2


def test_model_file(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("zones: {eu: 0.01}\nparties:\n  a: {failure: 0.1, zone: eu}\n  v: {failure: 0.0, kind: vault}\n"
                 "trust: {max_coalition: 1}\nbudget: 5\n")
    model, doc = load_model(f)
    assert model.names == ("a", "v") and model.parties[0].zone == "eu" and doc["budget"] == 5


@pytest.mark.parametrize(("data", "message"), [
    ({"parties": {"a": {"failure": 1.5}}}, "probability"),
    ({"parties": {"a": {"failure": 0.1, "zone": "x"}}}, "not declared"),
    ({"parties": {"a": {"failure": 0.1, "kind": "oracle"}}}, "kind"),
    ({"parties": {"a": {"failure": 0.1, "color": "red"}}}, "unknown key"),
    ({"parties": {"a": {}}}, "failure"),
    ({"parties": {}}, "parties"),
    ({"parties": {"a": 0.1}, "extra": 1}, "unknown key"),
    ([1, 2], "mapping"),
])
def test_bad_models(data, message):
    with pytest.raises(InvalidArgumentError, match=message):
        FailureModel.from_dict(data)


def test_file_errors_do_not_echo_content(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("parties: [unclosed\nsecret-token-123")
    with pytest.raises(InvalidArgumentError) as e:
        load_model(f)
    assert "secret-token-123" not in str(e.value)
    with pytest.raises(InvalidArgumentError, match="not found"):
        load_model(tmp_path / "missing.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("#" * 2_000_000)
    with pytest.raises(TooLargeError):
        load_model(big)
    many = {"parties": {f"p{i}": 0.1 for i in range(300)}}
    with pytest.raises(TooLargeError):
        FailureModel.from_dict(many)


def test_unknown_party_in_placement():
    model = FailureModel((Party("a", 0.1),), {})
    with pytest.raises(InvalidArgumentError, match="unknown party"):
        encrypted_scheme(Placement({"b": ["S1"]}), 2, model)


@pytest.mark.parametrize("k", [2, 3])
def test_threshold_scheme_with_zones(k):
    m = 2 * k - 1
    model = FailureModel(tuple(Party(f"s{i}", 0.1 + 0.05 * i, f"z{i % 2}") for i in range(m)), {"z0": 0.05, "z1": 0.1})
    scheme = threshold_scheme(k, [f"s{i}" for i in range(m)], model, dimension=3)
    want = 0.0  # by hand: zone states, then every pattern of the shares
    for z0, z1 in itertools.product((0, 1), repeat=2):
        wz = (0.95 if z0 else 0.05) * (0.9 if z1 else 0.1)
        for up in itertools.product((0, 1), repeat=m):
            w = wz * math.prod((0.9 - 0.05 * i) if u else (0.1 + 0.05 * i) for i, u in enumerate(up))
            alive = sum(u and (z0 if i % 2 == 0 else z1) for i, u in enumerate(up))
            want += w * (alive >= k)
    assert exact_durability(scheme, model) == pytest.approx(want, abs=1e-12)
