"""The chaos run, short form: a few kill -9 of the server during a stream of puts and gets.

``make test`` kills 2 times in each run, in a deployment a seeded sample of the roles
(``tests/sampling.py``: every role over a few runs, the seed printed); ``QCLONE_FULL=1`` (the
first step of ``make chaos``) kills 3-4 times, every role named. The long form (>= 100 kills,
SQLite and PostgreSQL, the embedded server and every role of a deployment) is the rest of ``make
chaos``; ``docs/design/storage-notes.md`` reports its figures.
"""

from __future__ import annotations

import pytest

from qclone.storage.chaos import ChaosReport, run
from tests.sampling import full

pytestmark = pytest.mark.service

#: kills of an embedded server in one run
EMBEDDED_KILLS = 3 if full() else 2
#: the roles of a deployment of 4 providers
ROLES = ["substrate", "vault", "p1", "p2", "p3", "p4", "gateway"]


def _check(report: ChaosReport, kills: int) -> None:
    print("\n".join(report.lines()))
    assert report.kills == kills
    assert report.acknowledged_puts > 0
    assert (report.lost, report.decrypted_twice, report.stuck) == (0, 0, 0), report.problems
    assert report.retrieved_exactly_once == report.acknowledged_puts, report.problems


@pytest.mark.sampled
def test_chaos_embedded_sqlite(tmp_path) -> None:
    _check(run(tmp_path, kills=EMBEDDED_KILLS, seed=11, log=None), EMBEDDED_KILLS)


@pytest.mark.sampled
def test_chaos_embedded_postgresql(tmp_path, pg_schema_url) -> None:
    _check(run(tmp_path, db_url=pg_schema_url, kills=EMBEDDED_KILLS, seed=12, log=None), EMBEDDED_KILLS)


def test_chaos_deployment_every_role(tmp_path, sample) -> None:
    """Each role of the sample killed once (kill -9) while clients put and get; ``QCLONE_FULL=1``:
    4 kills of roles drawn at random."""
    if full():
        _check(run(tmp_path, mode="deployment", kills=4, seed=13, log=None), 4)
        return
    targets = sample(ROLES, 2)
    report = run(tmp_path, mode="deployment", kills=len(targets), seed=13, log=None, targets=targets)
    assert report.killed == dict.fromkeys(targets, 1)
    _check(report, len(targets))


def test_chaos_deployment_keep_a_vault_and_custodian_killed(tmp_path, sample) -> None:
    """Every object keeps A with a custodian node; the vault, the custodian, a provider and the
    gateway are killed (kill -9) while clients put and get (``make test``: two of them, a key
    holder among them): exactly once still holds."""
    targets = sample(["vault", "c1", "p2", "gateway"], 2)
    report = run(tmp_path, mode="deployment", kills=len(targets), seed=14, log=None, placement="keep-A",
                 targets=targets)
    assert report.killed == dict.fromkeys(targets, 1)
    _check(report, len(targets))
