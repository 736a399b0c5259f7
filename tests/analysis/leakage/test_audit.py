"""Coalition audits of placements."""

import json

import pytest

from qclone.analysis.leakage import CliffordEncoding, LeakageAnalyzer, Placement, audit_placement, builtin_placement, protocol_encoding
from qclone.analysis.leakage.dense import DenseLeakage
from qclone.errors import InvalidArgumentError, TooLargeError


def by_coalition(report):
    return {f.coalition: f for f in report.findings}


def test_providers_with_odd_n_leak_y_to_the_providers_and_to_vault_plus_client():
    r = audit_placement(3, "providers")
    found = by_coalition(r)
    assert set(found) == {("provider-1", "vault"), ("provider-2", "vault"), ("provider-3", "vault"), ("vault", "client")}
    assert all(found[(f"provider-{j}", "vault")].intended for j in (1, 2, 3))
    vc = found[("vault", "client")]
    assert (vc.classification.kind, vc.learns, vc.intended) == ("partial", "Y", False)
    assert [w.logical for w in vc.witnesses] == ["Y"]
    assert not r.safe and r.examined == 15 and not r.complete
    assert r.clone_holders == ("provider-1", "provider-2", "provider-3")
    assert r.clone_holders_classification.leaked == ("Y",)
    loud = [w for w in r.warnings if w.startswith("LEAK")]
    assert len(loud) == 1 and "Y component" in loud[0] and "even number of clones" in loud[0]
    coalition, classification = r.findings[0]  # findings unpack as (coalition, Classification)
    assert coalition == ("provider-1", "vault") and classification.kind == "authorized"


def test_providers_with_even_n_are_safe():
    r = audit_placement(4, builtin_placement("providers", 4), max_coalition=3)
    assert r.safe and r.warnings == ()
    assert all(f.intended and f.classification.kind == "authorized" for f in r.findings)
    # vault + client is intended for even n: A is one more clone
    assert by_coalition(r)[("vault", "client")].minimal
    assert not by_coalition(r)[("provider-1", "provider-2", "vault")].minimal


def test_without_the_client_only_the_provider_coalition_leaks():
    r = audit_placement(5, "providers-without-client", max_coalition=1)
    assert r.findings == () and not r.safe
    assert any(w.startswith("LEAK: the 5 parties holding clones") for w in r.warnings)
    assert r.unplaced == ("A",)


def test_paired_providers_let_the_client_decrypt_with_any_one_provider():
    r = audit_placement(4, "paired")
    unintended = [f.coalition for f in r.findings if not f.intended]
    assert unintended == [(f"provider-{j}", "client") for j in range(1, 5)]
    assert not r.safe and any("not meant to decrypt" in w for w in r.warnings)


def test_explicit_intended_coalitions(tmp_path):
    p = Placement(builtin_placement("providers", 4).parties, intended=(frozenset({"vault", "provider-1"}),))
    r = audit_placement(4, p)
    assert {f.coalition for f in r.findings if not f.intended} == {("provider-2", "vault"), ("provider-3", "vault"),
                                                                   ("provider-4", "vault"), ("vault", "client")}
    q = Placement({"a": ["S1"], "b": ["N1"]}, intended=(frozenset({"a"}),))
    r = audit_placement(2, q)
    assert any("intended coalition a cannot recover" in w for w in r.warnings)
    assert any("even all parties together cannot recover" in w for w in r.warnings)


def test_after_decryption_only_the_holder_of_the_clone_knows():
    r = audit_placement(3, "providers", stage="decrypted:2", max_coalition=5)
    assert r.complete and r.safe
    assert all("provider-2" in f.coalition and f.intended for f in r.findings)
    assert len(r.findings) == 2**4  # every coalition containing provider-2


@pytest.mark.parametrize("k", [2, 3])
def test_registers_scale_the_information_as_the_general_engine_computes(k):
    """The k-qubit register audit against the explicit parallel composition of k encodings."""
    n = 3
    placement = builtin_placement("providers", n)
    r = audit_placement(n, placement, qubits=k, max_coalition=3)
    register = LeakageAnalyzer(CliffordEncoding.parallel([protocol_encoding(n)] * k))
    for f in r.findings:
        qubits = [f"{q}@{i}" for q in f.qubits for i in range(k)]
        assert register.mutual_information(qubits) == f.classification.mutual_information_bits
        assert f.classification.mutual_information_bits == k * (2 if f.classification.kind == "authorized" else 1)
    assert r.clone_holders_classification.mutual_information_bits == k
    if k == 2:  # the register is small enough for the dense engine (2·7 system + 2 reference qubits)
        dense = DenseLeakage(CliffordEncoding.parallel([protocol_encoding(n)] * k))
        assert dense.mutual_information([f"S{j}@{i}" for j in (1, 2, 3) for i in (0, 1)]) == pytest.approx(2)


def test_report_is_json_ready_and_n1_warns():
    r = audit_placement(1, "providers")
    d = json.loads(json.dumps(r.to_dict()))
    assert d["clones"] == 1 and d["placement"]["parties"]["vault"] == ["N1"]
    assert any("Y component" in w for w in r.warnings)
    assert d["findings"][0]["coalition"] == ["provider-1"]  # the lone clone leaks Y


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="max_coalition"):
        audit_placement(3, "providers", max_coalition=-1)
    with pytest.raises(InvalidArgumentError, match="register size"):
        audit_placement(3, "providers", qubits=0)
    with pytest.raises(InvalidArgumentError, match="Placement or a policy"):
        audit_placement(3, {"a": ["S1"]})
    with pytest.raises(TooLargeError, match="max-coalition"):
        audit_placement(400, "providers", max_coalition=3)
    with pytest.raises(InvalidArgumentError, match="unknown stage"):
        audit_placement(3, "providers", stage="later")


@pytest.mark.parametrize(("n", "held"), [(4, ("N3", "N4")), (4, ("N1", "N2", "N3")), (4, ("N4",)), (4, ("A",)),
                                         (3, ("N1",)), (3, ("A",)), (4, ("N1", "N2", "N3", "N4")), (3, ())])
def test_fewest_clones_is_the_smallest_authorized_set_by_the_dense_engine(n, held):
    """Every set of clones, classified by the dense reference engine: the smallest that recovers the
    state with ``held`` has the size fewest_clones finds, and its answer recovers it."""
    from itertools import combinations

    from qclone.analysis.leakage import fewest_clones

    ref = DenseLeakage(protocol_encoding(n))
    clones = [f"S{j}" for j in range(1, n + 1)]
    smallest = next((m for m in range(n + 1) for extra in combinations(clones, m)
                     if ref.classify([*held, *extra]).kind == "authorized"), None)
    got = fewest_clones(n, held)
    if smallest is None:
        assert got is None
    else:
        assert got is not None and len(got) == smallest and ref.classify([*held, *got]).kind == "authorized"
