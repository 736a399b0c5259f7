"""The published classification (docs/leakage.md and docs/protocol.md) as property tests of the exact engine."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qclone.analysis.leakage import classify, enumerate_sets, published_classification
from qclone.protocol import Layout


def same(a, b):
    return (a.kind, a.leaked, a.mutual_information_bits) == (b.kind, b.leaked, b.mutual_information_bits)


def check_every_subset(n, stage):
    count = 0
    for labels, got in enumerate_sets(n, stage=stage):
        assert same(got, published_classification(n, labels, stage=stage)), (n, stage, labels, got)
        count += 1
    assert count == 2 ** (2 * n + 1)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_every_subset_follows_the_published_rules(n):
    check_every_subset(n, "encrypted")


@pytest.mark.slow
def test_every_subset_follows_the_published_rules_n6():
    check_every_subset(6, "encrypted")


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_after_a_decryption_only_the_decrypted_qubit_knows(n):
    for stage in [f"decrypted:{j}" for j in range(1, n + 1)] + (["decrypted:A"] if n % 2 == 0 else []):
        check_every_subset(n, stage)


@st.composite
def protocol_sets(draw, max_clones=12):
    n = draw(st.integers(1, max_clones))
    labels = Layout(n).labels
    subset = draw(st.lists(st.sampled_from(labels), unique=True, max_size=len(labels)))
    return n, subset


@given(protocol_sets())
def test_random_subsets_up_to_n12_follow_the_rules(case):
    n, subset = case
    assert same(classify(n, subset), published_classification(n, subset))


@given(protocol_sets(), st.data())
def test_random_subsets_after_decryption(case, data):
    n, subset = case
    stage = f"decrypted:{data.draw(st.integers(1, n))}"
    assert same(classify(n, subset, stage=stage), published_classification(n, subset, stage=stage))


@given(st.integers(1, 6).map(lambda h: 2 * h), st.data())
def test_for_even_n_no_set_of_storage_qubits_leaks(n, data):
    storage = [q for q in Layout(n).labels if q != "A"]
    subset = data.draw(st.lists(st.sampled_from(storage), unique=True))
    c = classify(n, subset)
    assert c.kind in ("authorized", "none") and c.kind != "partial"


def test_partial_sets_without_a_exist_exactly_for_odd_n():
    for n in range(1, 13):
        clones = [f"S{j}" for j in range(1, n + 1)]
        c = classify(n, clones)
        assert (c.kind, c.leaked) == (("partial", ("Y",)) if n % 2 else ("none", ()))


@pytest.mark.parametrize("n", list(range(1, 13)) + [1000])
def test_a_with_any_whole_pair_is_always_authorized(n):
    for j in sorted({1, 2, (n + 1) // 2, n} & set(range(1, n + 1))):
        assert classify(n, ["A", f"S{j}", f"N{j}"]).kind == "authorized"
        assert classify(n, [f"S{j}", *(f"N{k}" for k in range(1, n + 1))]).kind == "authorized"
