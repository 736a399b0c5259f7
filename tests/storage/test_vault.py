"""The key vault: held -> released(attempt) -> consumed, restore, persistence."""

from __future__ import annotations

import threading

import pytest

from qclone.errors import InvalidArgumentError
from qclone.storage.errors import ConflictError, NotFoundError
from qclone.storage.vault import KeyVault


@pytest.fixture(params=["memory", "file"])
def vault(request: pytest.FixtureRequest, tmp_path) -> KeyVault:
    return KeyVault(None if request.param == "memory" else tmp_path / "vault", t1=100.0, t2=50.0)


def test_release_consume(vault: KeyVault) -> None:
    vault.deposit("t", "o", ["N0_1", "N0_2"])
    vault.deposit("t", "o", ["N0_1", "N0_2"])  # idempotent
    assert vault.state("o") == {"tenant": "t", "object_id": "o", "labels": ["N0_1", "N0_2"], "state": "held", "attempt": None}
    vault.release("o", "a1")
    vault.release("o", "a1")  # same attempt: no-op
    with pytest.raises(ConflictError, match="attempt a1"):
        vault.release("o", "a2")
    with pytest.raises(ConflictError):
        vault.consume("o", "a2")
    vault.consume("o", "a1")
    vault.consume("o", "a1")
    assert vault.state("o")["state"] == "consumed"
    for op in (vault.release, vault.restore):
        with pytest.raises(ConflictError, match="consumed"):
            op("o", "a1")


def test_restore_returns_the_key(vault: KeyVault) -> None:
    vault.deposit("t", "o", ["N0_1"])
    vault.restore("o", "a1")  # held stays held
    vault.release("o", "a1")
    with pytest.raises(ConflictError):
        vault.restore("o", "a2")
    vault.restore("o", "a1")
    assert vault.state("o")["state"] == "held"
    vault.release("o", "a2")
    assert vault.state("o")["attempt"] == "a2"


def test_unknown_and_conflicting_keys(vault: KeyVault) -> None:
    with pytest.raises(NotFoundError):
        vault.release("nope", "a")
    assert vault.state("nope") is None
    vault.deposit("t", "o", ["N0_1"])
    with pytest.raises(ConflictError):
        vault.deposit("u", "o", ["N0_1"])
    vault.destroy("o")
    vault.destroy("o")
    assert vault.state("o") is None


def test_concurrent_releases_one_wins(vault: KeyVault) -> None:
    vault.deposit("t", "o", ["N0_1"])
    wins: list[str] = []

    def grab(attempt: str) -> None:
        try:
            vault.release("o", attempt)
            wins.append(attempt)
        except ConflictError:
            pass

    threads = [threading.Thread(target=grab, args=(f"a{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and vault.state("o")["attempt"] == wins[0]


def test_health_and_coherence(vault: KeyVault) -> None:
    vault.deposit("t", "o", ["N0_1"])
    assert vault.health() == {"status": "ok", "keys": {"held": 1, "released": 0, "consumed": 0}, "t1": 100.0, "t2": 50.0}
    with pytest.raises(InvalidArgumentError, match="2 T1"):
        KeyVault(None, t1=1.0, t2=3.0)
    with pytest.raises(InvalidArgumentError):
        KeyVault(None, t1=0.0)


def test_records_survive_a_restart(tmp_path) -> None:
    v = KeyVault(tmp_path / "v")
    v.deposit("t", "o", ["N0_1"])
    v.release("o", "a")
    v.close()
    again = KeyVault(tmp_path / "v")
    assert again.state("o")["state"] == "released" and again.state("o")["attempt"] == "a"
