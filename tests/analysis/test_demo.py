import pytest

from qclone.analysis.demo import MAX_DEMO_CLONES, run_demo
from qclone.errors import TooLargeError


@pytest.mark.parametrize("n", [2, 5])
def test_demo_facts_are_computed(n):
    r = run_demo(clones=n, seed=42)
    assert all(s.maximally_mixed for s in r.shares)
    assert all(abs(s.information_bits) < 1e-9 for s in r.shares)
    assert r.decrypted.fidelity == pytest.approx(1)
    assert r.decrypted.information_bits == pytest.approx(2)
    assert abs(r.remainder.information_bits) < 1e-9
    assert all(f == pytest.approx(1) for f in r.remainder.bell_pair_fidelities.values())
    assert r.second_attempt is not None and r.second_attempt.clone != r.decrypted.clone
    assert abs(r.second_attempt.information_bits) < 1e-9
    assert r.to_dict()["decrypted"]["clone"] == r.decrypted.clone


def test_demo_with_one_clone_shows_the_leak():
    r = run_demo(clones=1, seed=3)
    assert r.warnings
    s1 = next(s for s in r.shares if s.name == "clone S1")
    assert s1.information_bits == pytest.approx(1)
    assert r.second_attempt is None


def test_seed_is_reproducible_and_limits():
    assert run_demo(clones=3, seed=9).input_bloch == run_demo(clones=3, seed=9).input_bloch
    with pytest.raises(TooLargeError):
        run_demo(clones=MAX_DEMO_CLONES + 1)


def test_the_core_engine_computes_the_same_demo():
    from qclone.sim.engine import CORE

    dense, core = run_demo(clones=4, seed=5), run_demo(clones=4, seed=5, engine=CORE)
    for a, b in zip(dense.shares, core.shares):
        assert a.name == b.name and a.entropy_bits == pytest.approx(b.entropy_bits, abs=1e-9)
        assert a.information_bits == pytest.approx(b.information_bits, abs=1e-9)
    assert core.decrypted.fidelity == pytest.approx(1) and core.decrypted.bloch == pytest.approx(dense.decrypted.bloch, abs=1e-9)
    assert core.remainder.information_bits == pytest.approx(0, abs=1e-9)
