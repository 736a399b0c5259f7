"""Counts over all subsets: enumeration, orbits and the published rules agree."""

from collections import Counter

import pytest

from qclone.analysis.leakage import enumerate_sets, published_classification, subset_census
from qclone.analysis.leakage.census import MAX_CENSUS_CLONES
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.protocol import Layout


def rule_counts(n, stage):
    """Counts predicted by the published rules, by enumerating every subset."""
    from itertools import combinations
    labels = Layout(n).labels
    out = {True: Counter(), False: Counter()}
    for size in range(len(labels) + 1):
        for subset in combinations(labels, size):
            out["A" in subset][published_classification(n, subset, stage=stage).kind] += 1
    return out


@pytest.mark.parametrize("n, stage", [(1, "encrypted"), (2, "encrypted"), (3, "encrypted"), (4, "encrypted"),
                                      (5, "encrypted"), (3, "decrypted:2"), (4, "decrypted:A")])
def test_orbits_and_enumeration_give_the_published_counts(n, stage):
    enum = subset_census(n, stage=stage, method="enumeration")
    orbits = subset_census(n, stage=stage, method="orbits")
    assert (enum.with_input, enum.without_input) == (orbits.with_input, orbits.without_input)
    assert orbits.queries <= enum.queries == 2 ** (2 * n + 1)
    want = rule_counts(n, stage)
    for with_a, counts in ((True, enum.with_input), (False, enum.without_input)):
        assert (counts.authorized, counts.partial, counts.none) == tuple(want[with_a][k] for k in ("authorized", "partial", "none"))
        assert counts.total == 4**n


def test_n3_partial_sets_are_the_eight_published_ones():
    partial = [labels for labels, _ in enumerate_sets(3, kind="partial")]
    assert partial == [("S1", "S2", "S3"), ("S1", "N2", "N3"), ("S2", "N1", "N3"), ("S3", "N1", "N2"),
                       ("A", "S1", "S2", "N3"), ("A", "S1", "S3", "N2"), ("A", "S2", "S3", "N1"), ("A", "N1", "N2", "N3")]
    assert subset_census(3).with_input.partial_leaks == (("Y", 4),)


def test_larger_n_by_orbits_matches_a_closed_form():
    """For even n nothing is partial; the sets without A that are authorized number 3^n - 2^n (t = n, c >= 1)."""
    for n in (8, 9, 12):
        c = subset_census(n)
        assert c.method == "orbits"
        assert c.without_input.authorized == 3**n - 2**n
        assert (c.without_input.partial == 0) == (n % 2 == 0)
        # complement duality: C is authorized iff its complement learns nothing
        assert c.with_input.authorized == c.without_input.none


def test_limits_and_errors():
    with pytest.raises(TooLargeError):
        subset_census(MAX_CENSUS_CLONES + 1)
    with pytest.raises(TooLargeError):
        list(enumerate_sets(9))
    with pytest.raises(InvalidArgumentError, match="method"):
        subset_census(3, method="guess")
    with pytest.raises(InvalidArgumentError, match="kind"):
        list(enumerate_sets(2, kind="leaky"))
