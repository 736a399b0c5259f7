"""The planner's front against an independent search; the comparison against closed forms."""

import itertools
import math

import pytest

from qclone.analysis import resilience
from qclone.analysis.leakage import Placement, audit_placement, protocol_analyzer
from qclone.analysis.planner import MAX_CANDIDATES, Trust, compare, evaluate, plan, plot_front
from qclone.analysis.resilience import FailureModel, Party, encrypted_scheme, naive_durability
from qclone.errors import InvalidArgumentError, TooLargeError

MODEL = FailureModel(
    (Party("eu-1", 0.1, "eu"), Party("eu-2", 0.1, "eu"), Party("us-1", 0.2, "us"), Party("us-2", 0.2, "us"),
     Party("vault-a", 0.02, None, "vault"), Party("vault-b", 0.02, None, "vault"), Party("tenant", 0.05, None, "custodian")),
    {"eu": 0.05, "us": 0.01})


def _independent_front(model, c, budget, named=()):
    """Every subset of providers, every key option, every place for A; secrecy by the audit, durability by enumeration."""
    providers = [p.name for p in model.of_kind("provider")]
    vaults = [p.name for p in model.of_kind("vault")]
    best = {}
    for n in range(1, budget // 2 + 1):
        for chosen in itertools.combinations(providers, n):
            keys = [[v] * n for v in vaults] + [list(chosen)]
            for pair in itertools.combinations(vaults, 2) if n >= 2 else ():
                keys += [[pair[(j - 1) % 2] for j in range(1, n + 1)], [pair[0]] * (n // 2) + [pair[1]] * (n - n // 2)]
            for key, a in itertools.product(keys, [None, "tenant"]):
                if 2 * n + (a is not None) > budget:
                    continue
                parties = {}
                for j, (s, k) in enumerate(zip(chosen, key), start=1):
                    parties.setdefault(s, []).append(f"S{j}")
                    parties.setdefault(k, []).append(f"N{j}")
                if a:
                    parties["tenant"] = ["A"]
                placement = Placement(parties).resolve(n)
                if c and audit_placement(n, placement, max_coalition=min(c, len(parties))).findings:
                    continue
                if any(protocol_analyzer(n).classify(placement.qubits_of(g & set(parties))).kind != "none"
                       for g in named if g & set(parties)):
                    continue
                used = 2 * n + (a is not None)
                d = naive_durability(encrypted_scheme(placement, n, model), model)
                best[used] = max(best.get(used, 0.0), d)
    front, top = [], -1.0
    for used in sorted(best):
        if best[used] > top:
            front.append((used, best[used]))
            top = best[used]
    return front


@pytest.mark.parametrize(("c", "budget", "named"), [(1, 9, ()), (2, 9, ()), (1, 7, (frozenset({"vault-a", "tenant"}),))])
def test_front_equals_an_independent_search(c, budget, named):
    r = plan(MODEL, Trust(c, named), budget)
    got = [(e["qubits"], e["durability"]) for e in r["front"]]
    want = _independent_front(MODEL, c, budget, named)
    assert [u for u, _ in got] == [u for u, _ in want]
    for (_, d1), (_, d2) in zip(got, want):
        assert d1 == pytest.approx(d2, abs=1e-12)
    for e in r["front"]:
        assert e["audit"]["learn_nothing"] and e["method"] == "exact"
    assert r["best"] == r["front"][-1]


def test_fidelity_and_plot(tmp_path):
    r = plan(MODEL, Trust(1), 5, storage_time=600.0, t1=3600.0, t2=3000.0)
    for e in r["front"]:
        f = e["fidelity"]
        assert 0.5 < f["average_fidelity"] < 1 and 1 <= f["decrypted_clone"] <= e["clones"]
    out = tmp_path / "front.png"
    assert plot_front(r, [out]) == [out] and out.stat().st_size > 1000


def test_monte_carlo_beyond_the_exact_limit(monkeypatch):
    monkeypatch.setattr(resilience, "MAX_EXACT_BITS", 0)
    r = plan(MODEL, Trust(1), 5, samples=20_000, seed=3)
    e = r["front"][-1]
    assert e["method"] == "monte carlo" and e["samples"] == 20_000
    monkeypatch.undo()
    placement = Placement(e["placement"]).resolve(e["clones"])
    exact = naive_durability(encrypted_scheme(placement, e["clones"], MODEL), MODEL)
    assert abs(e["durability"] - exact) <= 5 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-9


def test_limits_and_bad_input(monkeypatch):
    with pytest.raises(InvalidArgumentError, match="provider"):
        plan(FailureModel((Party("v", 0.1, None, "vault"),), {}), Trust(1), 5)
    with pytest.raises(InvalidArgumentError, match="budget"):
        plan(MODEL, Trust(1), 1)
    with pytest.raises(InvalidArgumentError, match="max_coalition"):
        Trust.from_dict({"max_coalition": -1}, MODEL)
    with pytest.raises(InvalidArgumentError, match="unknown party"):
        Trust.from_dict({"coalitions": [["nobody"]]}, MODEL)
    monkeypatch.setattr("qclone.analysis.planner.MAX_CANDIDATES", 3)
    with pytest.raises(TooLargeError, match="candidate"):
        plan(MODEL, Trust(1), 9)
    assert MAX_CANDIDATES > 3


@pytest.mark.parametrize("n", [3, 4])
def test_compare_against_closed_forms(n):
    p, q, c = 0.1, 0.03, 0.07
    r = compare(clones=n, failure_rate=p, vault_failure_rate=q, custodian_failure_rate=c)
    rows = {row["scheme"]: row for row in r["rows"]}
    assert rows["single copy"]["durability"] == pytest.approx(1 - p)
    assert rows["encrypted, vault"]["durability"] == pytest.approx((1 - q) * (1 - p**n))
    # vault up: a clone, or (even n) A alone with the whole key; vault down: A and every clone
    key_and_a = c if n % 2 == 0 else 1.0
    want = (1 - q) * (1 - p**n * key_and_a) + q * (1 - c) * (1 - p) ** n
    assert rows["encrypted, keep-A"]["durability"] == pytest.approx(want)
    binom = lambda k, m: sum(math.comb(m, u) * (1 - p) ** u * p ** (m - u) for u in range(k, m + 1))  # noqa: E731 - a formula
    assert rows["((3,5)) [[5,1,3]]"]["durability"] == pytest.approx(binom(3, 5))
    assert rows["((2,3)) qutrit"]["durability"] == pytest.approx(binom(2, 3))
    # split key, odd n: vault-2 (N2, N3) and provider-1 (S1) hold one qubit of every pair, one S: Y leaks
    split = 2 if n % 2 == 0 else 1
    assert [(row["secrecy"], row["needed"]) for row in r["rows"]] == [(0, 1), (1, 2), (1, 2), (split, 3), (2, 3), (1, 2)]
    assert [row["units"] for row in r["rows"]] == [1, 2 * n, 2 * n + 1, 2 * n, 5, 3]


def test_compare_with_zones_and_fidelity():
    r = compare(clones=2, failure_rate=0.1, zones=2, zone_failure_rate=0.05, storage_time=600.0, qss_threshold=3)
    rows = {row["scheme"]: row for row in r["rows"]}
    assert rows["single copy"]["durability"] == pytest.approx(0.95 * 0.9)
    assert "((3,5)) ququint" in rows and rows["((3,5)) ququint"]["dimension"] == 5
    assert all(0.3 < row["fidelity"] < 1 for row in r["rows"])
    with pytest.raises(InvalidArgumentError, match="zones"):
        compare(zone_failure_rate=0.1)


def test_secrecy_check_has_a_budget(monkeypatch):
    monkeypatch.setattr("qclone.analysis.planner.MAX_SECRECY_CHECKS", 2)
    with pytest.raises(TooLargeError, match="max_coalition"):
        plan(MODEL, Trust(2), 7)


def test_progress_callback():
    calls = []
    r = plan(MODEL, Trust(1), 9, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (r["evaluated"], r["evaluated"])
    assert all(total is None for _, total in calls[:-1]) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_evaluate_one_placement():
    placement = Placement({"eu-1": ["S1"], "us-1": ["S2"], "vault-a": ["N*"], "tenant": ["A"]})
    r = evaluate(MODEL, placement, 2, Trust(1), storage_time=300.0)
    e = r["placement"]
    assert e["durability"] == pytest.approx(naive_durability(encrypted_scheme(placement, 2, MODEL), MODEL), abs=1e-12)
    assert e["qubits"] == 5 and e["method"] == "exact"
    assert e["audit"]["learn_nothing"] and 0.5 < e["fidelity"]["average_fidelity"] < 1
    # n = 2 is a perfect code: the vault (two qubits) and one clone holder hold three qubits and recover
    worse = evaluate(MODEL, placement, 2, Trust(2))["placement"]["audit"]
    assert not worse["learn_nothing"] and ["eu-1", "vault-a"] in worse["coalitions_that_learn"]
    assert ["eu-1", "us-1"] not in worse["coalitions_that_learn"]
    with pytest.raises(InvalidArgumentError, match="unknown party"):
        evaluate(MODEL, Placement({"mars": ["S1"]}), 2, Trust(1))


def test_compare_names_the_holders():
    rows = {row["scheme"]: row for row in compare(clones=2)["rows"]}
    assert rows["encrypted, keep-A"]["holders"] == ["custodian", "provider-1", "vault-1", "provider-2"]
    assert rows["((2,3)) qutrit"]["holders"] == ["provider-1", "provider-2", "provider-3"]


@pytest.mark.parametrize(("kwargs", "message"), [({"qubits": 0}, "qubits"), ({"samples": 0}, "samples"),
                                                 ({"storage_time": -1.0}, "storage time")])
def test_plan_checks_its_arguments(kwargs, message):
    with pytest.raises(InvalidArgumentError, match=message):
        plan(MODEL, Trust(1), 5, **kwargs)
