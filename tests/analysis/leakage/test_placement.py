"""Placements: built-in policies, YAML/JSON files, patterns, and every malformed input."""

import json

import pytest

from qclone.analysis.leakage import BUILTIN_POLICIES, Placement, builtin_placement, expand_label, load_placement, placement_from_option
from qclone.errors import InvalidArgumentError


def test_builtin_policies_place_every_qubit_once():
    for name in BUILTIN_POLICIES:
        for n in (1, 2, 5):
            if name == "split-key" and n == 1:  # a key of one qubit cannot be split
                with pytest.raises(InvalidArgumentError, match="2 <= V <= n"):
                    builtin_placement(name, n)
                continue
            p = builtin_placement(name, n)
            held = [q for qs in p.parties.values() for q in qs]
            assert len(held) == len(set(held))
    p = builtin_placement("providers", 3)
    assert dict(p.parties) == {"provider-1": {"S1"}, "provider-2": {"S2"}, "provider-3": {"S3"},
                               "vault": {"N1", "N2", "N3"}, "client": {"A"}}
    with pytest.raises(InvalidArgumentError, match="built-in policies: today, keep-A, split-key, providers"):
        builtin_placement("cloudy", 3)


def test_the_service_placements_are_audit_policies_too():
    """today, keep-A and split-key(:V) mean the same layout for audit / storage plan as for put."""
    assert dict(builtin_placement("today", 3).parties) == dict(builtin_placement("providers-without-client", 3).parties)
    assert dict(builtin_placement("keep-A", 2).parties) == {"provider-1": {"S1"}, "provider-2": {"S2"},
                                                            "vault": {"N1", "N2"}, "custodian": {"A"}}
    assert dict(builtin_placement("split-key", 5).parties) == {**{f"provider-{j}": {f"S{j}"} for j in range(1, 6)},
                                                               "vault": {"N1", "N2"}, "vault-2": {"N3", "N4", "N5"}}
    three = builtin_placement("split-key:3", 6)
    assert [three.parties[v] for v in ("vault", "vault-2", "vault-3")] == [{"N1", "N2"}, {"N3", "N4"}, {"N5", "N6"}]
    assert placement_from_option("split-key:2", 4).name == "split-key:2"
    for bad in ("split-key:1", "split-key:0", "split-key:7", "split-key:x"):
        with pytest.raises(InvalidArgumentError, match="split-key:V"):
            builtin_placement(bad, 6)


def test_patterns():
    assert expand_label("S*", 2) == ("S1", "S2")
    assert expand_label("n2-n4", 5) == ("N2", "N3", "N4")
    assert expand_label("S_2..3", 3) == ("S2", "S3")
    for bad, fragment in (("S0..S2", "within"), ("S3..S1", "low end"), ("Q1", "unknown qubit"), ("S9", "unknown qubit")):
        with pytest.raises(InvalidArgumentError, match=fragment):
            expand_label(bad, 3)


YAML = """
name: three providers
clones: 3
parties:
  provider-1: [S1]
  provider-2: S2
  provider-3: ["s_3"]
  vault: [N*]
  client: A
intended:
  - [vault, provider-1]
"""


def test_yaml_and_json_files(tmp_path):
    y = tmp_path / "p.yaml"
    y.write_text(YAML)
    p = load_placement(y)
    assert p.name == "three providers" and p.resolved_for == 3
    assert p.parties["vault"] == {"N1", "N2", "N3"} and p.parties["provider-3"] == {"S3"}
    assert p.intended == (frozenset({"vault", "provider-1"}),)
    j = tmp_path / "p.json"
    j.write_text(json.dumps({"parties": {"a": ["S1", "N1..N2"], "b": ["S2"]}}))
    q = load_placement(j)
    assert q.name == "p" and q.resolve(2).holder_of("N2") == "a" and q.resolve(2).holder_of("A") is None
    assert placement_from_option(str(j), 2).parties["a"] == {"S1", "N1", "N2"}
    assert placement_from_option("paired", 2).parties["provider-1"] == {"S1", "N1"}


@pytest.mark.parametrize("text, fragment", [
    ("parties: [S1]", "'parties' must map"),
    ("[1, 2]", "expected a mapping"),
    ("clones: 3", "missing 'parties'"),
    ("partys: {a: [S1]}", "unknown key"),
    ("parties: {a: [S1], b: [S1]}", "held by both"),
    ("parties: {a: [S1..S3], b: [S2]}", "held by both"),
    ("parties: {a: [S7]}", "unknown qubit"),
    ("parties: {a: [3]}", "qubit labels"),
    ("parties: {}", "at least one party"),
    ("parties: {a: [S1]}\nintended: [[b]]", "unknown parties"),
    ("parties: {a: [S1]}\nintended: a", "list of coalitions"),
    ("parties: {a: [S1]}\nclones: 5", "written for n = 5"),
    ("parties: {a: [S1]\n  b: : :", "not valid YAML"),
])
def test_malformed_files_are_one_clear_error(tmp_path, text, fragment):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(InvalidArgumentError, match=fragment):
        placement_from_option(str(f), 3)


def test_missing_files_and_unknown_names(tmp_path):
    with pytest.raises(InvalidArgumentError, match="not found"):
        load_placement(tmp_path / "nope.yaml")
    with pytest.raises(InvalidArgumentError, match="not found"):
        placement_from_option(str(tmp_path / "nope.json"), 3)
    with pytest.raises(InvalidArgumentError, match="neither a placement file nor a built-in policy"):
        placement_from_option("cloudy", 3)
    bad = tmp_path / "bad.json"
    bad.write_text("{parties: ")
    with pytest.raises(InvalidArgumentError, match="not valid JSON"):
        load_placement(bad)


def test_placement_values():
    p = Placement({"a": ["S1"], "b": "N1, N2"})
    assert p == Placement({"a": {"S1"}, "b": ["N1", "N2"]}) and hash(p) == hash(Placement({"a": {"S1"}, "b": ["N1", "N2"]}))
    assert p.qubits_of(["a", "b"]) == {"S1", "N1", "N2"}
    with pytest.raises(InvalidArgumentError, match="unknown party"):
        p.qubits_of(["c"])
    with pytest.raises(InvalidArgumentError, match="non-empty name"):
        Placement({" ": ["S1"]})
    with pytest.raises(TypeError):
        p.parties["c"] = frozenset()  # read-only
