"""Corrected retrieval in the substrate and the service: the substrate's emulated joint measurement
against the dense engine (encrypted state, the ageing's channels, projective measurement of the live
stabilizers, the decoder's correction, the recovery), the fallback with its reason, exactly once."""

from __future__ import annotations

import numpy as np
import pytest

from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout
from qclone.sim.exact import fidelity, pauli_matrix, random_density_matrix, reverse_qubits
from qclone.sim.noise import twirled_relaxation
from qclone.storage.correction import DEFAULT_RETRIEVAL, check_retrieval, fallback_reason
from qclone.storage.errors import ConflictError
from qclone.storage.inputs import parse_state
from qclone.storage.substrate import Substrate
from qclone.storage.wire import decode_array, encode_array
from tests.analysis.test_corrected import dense_retrieval

from .conftest import Stack

T1, T2 = 3600.0, 2000.0
KEY_T1, KEY_T2 = 900.0, 600.0


def _probs(t: float, t1: float, t2: float) -> list[float]:
    px, py, pz = twirled_relaxation(t, t1, t2)
    return [1 - px - py - pz, px, py, pz]


def _stored(n: int, rho: np.ndarray, t: float, *, k: int = 1) -> tuple[Substrate, Layout]:
    """An object of n clones, each clone at its provider, the key at the vault, aged for t."""
    sub = Substrate(None)
    lay = Layout(n, qubits=k)
    holders = {"vault": [lay.label(q, long=True) for q in lay.keys],
               **{f"provider:p{j}": [lay.label(q, long=True) for q in lay.clone(j)] for j in range(1, n + 1)}}
    # rho in the engines' order (register qubit 0 the first np.kron factor); the service's inputs are Qiskit's
    state = parse_state("density", encode_array(reverse_qubits(rho)))
    sub.create("obj", state, n, keep_reference=True, holders=holders)
    for j in range(1, n + 1):
        sub.age("obj", holders[f"provider:p{j}"], t, T1, T2)
    sub.age("obj", holders["vault"], t, KEY_T1, KEY_T2)
    return sub, lay


def _live_labels(lay: Layout, erased: set[int]) -> list[str]:
    return [lay.label(q, long=True) for q in range(lay.num_qubits) if q not in erased]


@pytest.mark.parametrize(("n", "dead"), [(2, ()), (3, ()), (3, (2,))])
def test_the_substrate_corrected_output_is_the_dense_measurement(n: int, dead: tuple[int, ...]) -> None:
    """A discarded, clones ``dead`` at providers that are down: erasures."""
    rng = np.random.default_rng(7 + n)
    rho = random_density_matrix(1, rng)
    t = 400.0
    sub, lay = _stored(n, rho, t)
    erased = {lay.A(), *(lay.S(j) for j in dead)}
    out = sub.recover("obj", _live_labels(lay, erased), "a1", retrieval="corrected")
    got = decode_array(out["density_matrix"], name="out")
    probs = np.array([[1.0, 0, 0, 0]] + [_probs(t, T1, T2)] * n + [_probs(t, KEY_T1, KEY_T2)] * n)
    want = dense_retrieval(n, rho, probs, erased=tuple(sorted(erased)), clone=None)
    np.testing.assert_allclose(got, want, atol=1e-10)
    assert out["retrieval"] == "corrected" and out["erased"] == [len(erased)]
    assert sorted(out["parties"]) == sorted(["vault", *(f"provider:p{j}" for j in range(1, n + 1) if j not in dead)])
    assert out["fidelity"] == pytest.approx(fidelity(rho, got), abs=1e-12)
    # the plain retrieval of the same (aged) state loses more
    plain_sub, _ = _stored(n, rho, t)
    live_clone = next(j for j in range(1, n + 1) if j not in dead)
    plain = plain_sub.recover("obj", [lay.label(q, long=True) for q in (lay.S(live_clone), *lay.keys)], "a1")
    np.testing.assert_allclose(decode_array(plain["density_matrix"], name="out"),
                               dense_retrieval(n, rho, probs, clone=live_clone, correct=False), atol=1e-10)
    assert plain["retrieval"] == "plain" and plain["fallback"] is None


def _pauli_channel_of(n: int, probs: np.ndarray, erased: tuple[int, ...]) -> np.ndarray:
    """[q_I, q_X, q_Y, q_Z] of the dense corrected retrieval, from how it shrinks the Bloch axes."""
    lam = []
    for axis in "XYZ":
        plus = (np.eye(2) + pauli_matrix(axis)) / 2
        out = dense_retrieval(n, plus, probs, erased=erased, clone=None)
        lam.append(float(np.real(np.trace(pauli_matrix(axis) @ out))))
    x, y, z = lam
    return np.array([1 + x + y + z, 1 + x - y - z, 1 - x + y - z, 1 - x - y + z]) / 4


def test_a_two_qubit_register_is_corrected_block_by_block_in_qiskit_order() -> None:
    n, t = 3, 600.0
    rng = np.random.default_rng(3)
    rho = random_density_matrix(2, rng)  # entangled between the two register qubits in general
    sub, lay = _stored(n, rho, t, k=2)
    # register qubit 1's clone 1 is gone: only its block has that erasure
    erased = {lay.A(0), lay.A(1), lay.S(1, 1)}
    out = sub.recover("obj", _live_labels(lay, erased), "a1", retrieval="corrected")
    got = decode_array(out["density_matrix"], name="out")
    probs = np.array([[1.0, 0, 0, 0]] + [_probs(t, T1, T2)] * n + [_probs(t, KEY_T1, KEY_T2)] * n)
    q0, q1 = _pauli_channel_of(n, probs, (0,)), _pauli_channel_of(n, probs, (0, 1))
    letters = "IXYZ"
    want = sum(a * b * np.kron(pauli_matrix(la), pauli_matrix(lb)) @ rho @ np.kron(pauli_matrix(la), pauli_matrix(lb))
               for a, la in zip(q0, letters) for b, lb in zip(q1, letters))
    np.testing.assert_allclose(got, want, atol=1e-10)  # register qubit 0 is the first np.kron factor here
    assert out["erased"] == [1, 2]


def test_retrieval_modes_are_checked_and_the_fallback_has_a_reason() -> None:
    assert check_retrieval(None) == DEFAULT_RETRIEVAL == "plain"
    assert check_retrieval("corrected") == "corrected"
    with pytest.raises(InvalidArgumentError, match="plain, corrected"):
        check_retrieval("best")
    lay = Layout(2)
    assert fallback_reason(1, 2, [lay.S(1), lay.S(2), *lay.keys]) is None
    assert "too few holders" in fallback_reason(1, 2, [lay.S(2), *lay.keys])
    assert "exactly up to 8 clones" in fallback_reason(1, 9, range(Layout(9).num_qubits))
    sub, lay = _stored(2, np.eye(2) / 2, 10.0)
    with pytest.raises(InvalidArgumentError, match="too few holders"):
        sub.recover("obj", [lay.label(q, long=True) for q in (lay.S(2), *lay.keys)], "a1", retrieval="corrected")
    assert sub.exists("obj")  # refused before anything was consumed
    with pytest.raises(InvalidArgumentError, match="retrieval"):
        sub.recover("obj", _live_labels(lay, {lay.A()}), "a1", retrieval="ideal")


# ---------------------------------------------------------------------- the service
TILTED = parse_state("bloch", [0.6, 0.0, 0.8])


def _entries(stack: Stack, name: str, action: str = "get") -> list[dict]:
    return [e for e in stack.service.audit_log(stack.alice) if e["object_name"] == name and e["action"] == action]


def test_a_corrected_get_uses_every_live_holder_once(stack: Stack) -> None:
    svc = stack.service
    svc.put(stack.alice, "psi", TILTED, clones=3, keep_reference=True)
    svc.put(stack.alice, "twin", TILTED, clones=3, keep_reference=True)
    stack.clock.advance(900.0)
    out = svc.get(stack.alice, "psi", key="k1", retrieval="corrected")
    assert out["retrieval"] == "corrected" and out["fallback"] is None
    entry = _entries(stack, "psi")[0]["detail"]
    held = sorted(c["provider"] for c in svc.stat(stack.alice, "psi")["placement"])
    assert entry["retrieval"] == "corrected" and sorted(entry["holders"]) == [*held, "vault"]
    where = {c["clone"]: c["provider"] for c in svc.stat(stack.alice, "psi")["placement"]}
    assert entry["clone"] == out["clone"] and out["provider"] == where[out["clone"]] == entry["provider"]
    again = svc.get(stack.alice, "psi", key="k1", retrieval="corrected")  # a retry: the same output
    assert again["attempt"] == out["attempt"] and again["retrieval"] == "corrected"
    np.testing.assert_allclose(again["density_matrix"], out["density_matrix"], atol=1e-12)
    svc.ack(stack.alice, "psi", "k1")
    with pytest.raises(ConflictError, match="already retrieved"):
        svc.get(stack.alice, "psi", retrieval="corrected")
    plain = svc.get(stack.alice, "twin", ack=True)
    assert plain["retrieval"] == "plain" and plain["fallback"] is None
    assert _entries(stack, "twin")[0]["detail"]["retrieval"] == "plain"
    # the same storage time, the same memories: the corrected output is the better one
    assert out["fidelity"] > plain["fidelity"]
    assert stack.substrate.health()["objects"] == 0


def test_a_corrected_get_falls_back_with_its_reason(stack: Stack) -> None:
    svc = stack.service
    svc.put(stack.alice, "pair", TILTED, clones=2, keep_reference=True)
    providers = [c["provider"] for c in svc.stat(stack.alice, "pair")["placement"]]
    svc.providers_kill(providers[0])
    stack.clock.advance(100.0)
    out = svc.get(stack.alice, "pair", retrieval="corrected", ack=True)
    assert out["retrieval"] == "plain" and "too few holders are live" in out["fallback"]
    entry = _entries(stack, "pair")[0]["detail"]
    assert entry["retrieval"] == "plain" and entry["fallback"] == out["fallback"]
    with pytest.raises(ConflictError):
        svc.get(stack.alice, "pair", retrieval="corrected")
