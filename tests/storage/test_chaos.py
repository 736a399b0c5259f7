"""The chaos run, short form: a few kill -9 of the server during a stream of puts and gets.

The long form (>= 100 kills, SQLite and PostgreSQL, the embedded server and every role of a
deployment) is ``make chaos``; ``docs/design/storage-notes.md`` reports its figures.
"""

from __future__ import annotations

import pytest

from qclone.storage.chaos import ChaosReport, run

pytestmark = pytest.mark.service


def _check(report: ChaosReport) -> None:
    print("\n".join(report.lines()))
    assert report.kills >= 3
    assert report.acknowledged_puts > 0
    assert (report.lost, report.decrypted_twice, report.stuck) == (0, 0, 0), report.problems
    assert report.retrieved_exactly_once == report.acknowledged_puts, report.problems


def test_chaos_embedded_sqlite(tmp_path) -> None:
    _check(run(tmp_path, kills=3, seed=11, log=None))


def test_chaos_embedded_postgresql(tmp_path, pg_schema_url) -> None:
    _check(run(tmp_path, db_url=pg_schema_url, kills=3, seed=12, log=None))


def test_chaos_deployment_every_role(tmp_path) -> None:
    _check(run(tmp_path, mode="deployment", kills=4, seed=13, log=None))


def test_chaos_deployment_keep_a_vault_and_custodian_killed(tmp_path) -> None:
    """Every object keeps A with a custodian node; the vault, the custodian, a provider and the
    gateway are killed (kill -9) while clients put and get: exactly once still holds."""
    report = run(tmp_path, mode="deployment", kills=4, seed=14, log=None, placement="keep-A",
                 targets=["vault", "c1", "p2", "gateway"])
    assert report.killed == {"vault": 1, "c1": 1, "p2": 1, "gateway": 1}
    _check(report)
