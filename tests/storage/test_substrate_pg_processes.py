"""The substrate on PostgreSQL with OS processes: races between processes and kill -9 at every
crash point.

Each process opens its own :class:`Substrate` on the test's PostgreSQL schema (forked from the test,
so it starts at once; it shares nothing with the test but the schema). Races: four processes
decrypt, recover and discard the same objects at once, one vault authorization handed to all of
them: every object has exactly one output, delivered to exactly one call, no authorization works
twice, and what was stored is what comes out. Kills: a process killed with SIGKILL inside each
write transaction (``QCLONE_CRASH_AT`` names, see :mod:`qclone.storage.faults`) or right after a
decryption's commit: a fresh instance finds the joint state or the output, never both, never neither.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal

import numpy as np
import pytest

from qclone.storage import faults
from qclone.storage.errors import ConflictError, NotFoundError, UnauthorizedError
from qclone.storage.inputs import parse_state
from qclone.storage.rpc.keys import Identity, check_grant, issue_grant
from qclone.storage.substrate import Substrate
from qclone.storage.wire import decode_array
from tests.storage.conftest import _connect

pytestmark = pytest.mark.service

_FORK = multiprocessing.get_context("fork")
VAULT = Identity.generate()
BLOCH = [0.6, 0.0, 0.8]
CLONES = 3


def _authorize(grant, object_id, attempt, party="vault", purpose="decrypt"):
    """Every holder's releases signed with the one key ``VAULT`` (what is checked here is their use)."""
    return check_grant(grant, VAULT.key_id, object_id, attempt, purpose=purpose)


def _rho(bloch) -> np.ndarray:
    x, y, z = bloch
    return np.array([[1 + z, x - 1j * y], [x + 1j * y, 1 - z]]) / 2


def _rows(url: str) -> tuple[set[str], set[str], int]:
    """(object ids with a joint state, with an output, number of used authorizations)."""
    from tests.storage.conftest import SubstrateDB

    with SubstrateDB(None, url).connect() as c:  # type: ignore[arg-type]  # no data dir: PostgreSQL only
        joint = {r[0] for r in c.execute("SELECT object_id FROM joint").fetchall()}
        outputs = {r[0] for r in c.execute("SELECT object_id FROM outputs").fetchall()}
        grants = c.execute("SELECT count(*) FROM grants").fetchone()[0]
    return joint, outputs, grants


# ---------------------------------------------------------------------- the race
def _racer(url: str, me: int, plan: list, grants: dict, barrier, results) -> None:
    """One process: its own instance, every call of ``plan`` in its order; what each returned."""
    sub = Substrate(None, db_url=url, authorize=_authorize, max_connections=2)
    out = []
    barrier.wait()
    for object_id, op in plan:
        try:
            if op == "discard":
                sub.discard(object_id)
                got = "discarded"
            elif op == "fence":  # a recovery taking the retrieval over: what it sees once fenced
                got = sub.fence(object_id, 10)
            elif op == "fenced":  # a retrieval with the old fence
                got = sub.decrypt(object_id, 1 + me % CLONES, f"p{me}", fence=1,
                                  authorization=grants[(object_id, f"p{me}")])
            elif op == "recover":
                got = sub.recover(object_id, ["A0", *[f"S0_{j}" for j in range(1, CLONES + 1)]], f"p{me}")
            elif op == "shared":  # one authorization, handed to every process
                got = sub.decrypt(object_id, 1, "shared", authorization=grants[(object_id, "shared")])
            else:
                got = sub.decrypt(object_id, 1 + me % CLONES, f"p{me}", authorization=grants[(object_id, f"p{me}")])
            out.append((object_id, op, "ok", got))
        except (ConflictError, UnauthorizedError, NotFoundError) as e:
            out.append((object_id, op, type(e).__name__, None))
    sub.close()
    results.put((me, out))


def test_processes_racing_decrypt_recover_and_discard(pg_schema_url):
    url, procs = pg_schema_url, 4
    raced = [f"r{i}" for i in range(12)]     # decrypted and recovered by every process at once
    discarded = [f"d{i}" for i in range(4)]  # and these discarded by process 0 meanwhile
    fenced = [f"f{i}" for i in range(24)]    # fenced by process 1 while the others decrypt with the old fence
    setup = Substrate(None, db_url=url)
    for object_id in raced + discarded + fenced:
        setup.create(object_id, parse_state("bloch", BLOCH), CLONES, keep_reference=True)
    setup.close()
    grants = {(o, a): issue_grant(VAULT, o, a) for o in raced + discarded + fenced
              for a in ["shared", *map("p{}".format, range(procs))]}
    rng = random.Random(20)
    plans = []
    for me in range(procs):
        plan = [(o, op) for o in raced + discarded for op in ("own" if me % 2 else "recover", "shared")]
        plan += [(o, "discard") for o in discarded] if me == 0 else []
        plan += [(o, "fence" if me == 1 else "fenced") for o in fenced]
        rng.shuffle(plan)
        plans.append(plan)
    barrier, results = _FORK.Barrier(procs), _FORK.Queue()
    workers = [_FORK.Process(target=_racer, args=(url, me, plans[me], grants, barrier, results)) for me in range(procs)]
    for w in workers:
        w.start()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    calls = [c for me in range(procs) for c in outcomes[me]]
    joint, outputs, used = _rows(url)
    assert joint <= set(fenced)  # every other object was decrypted (or discarded): no joint state stays
    check = Substrate(None, db_url=url)
    for object_id in raced:
        won = [c for c in calls if c[0] == object_id and c[2] == "ok"]
        assert len(won) == 1, won  # exactly one call got the output, whichever the process
        assert check.output(object_id) == won[0][3]  # and it is the one stored
        np.testing.assert_allclose(decode_array(won[0][3]["density_matrix"]), _rho(BLOCH), atol=1e-10)
        shared = [c for c in calls if c[0] == object_id and c[1] == "shared"]
        assert len(shared) == procs
        assert sum(c[2] == "ok" for c in shared) <= 1  # the shared authorization worked once at most
    for object_id in discarded:
        won = [c for c in calls if c[0] == object_id and c[2] == "ok" and c[1] != "discard"]
        assert len(won) <= 1
    for object_id in fenced:
        seen = next(c[3] for c in calls if c[0] == object_id and c[1] == "fence")
        won = [c for c in calls if c[0] == object_id and c[1] == "fenced" and c[2] == "ok"]
        assert len(won) <= 1
        # what the fence saw stays true: a live object without an output is never decrypted by an old attempt
        if seen["output_attempt"] is None:
            assert seen["exists"] and not won and object_id in joint
        else:
            assert won and won[0][3]["attempt"] == seen["output_attempt"] and object_id in outputs
    assert outputs - set(fenced) == set(raced)  # the discarded objects' outputs went with them
    # every authorization a decryption used is recorded once (a replay finds it there)
    assert used == sum(1 for c in calls if c[2] == "ok" and c[1] in ("own", "shared", "fenced"))


# ---------------------------------------------------------------------- kill -9
def _killed_at(url: str, point: str, action: str) -> int:
    """A forked process that runs ``action`` on its own instance and SIGKILLs itself at ``point``
    (a crash point, or ``test.returned``: right after the call returned); its exit status."""

    def run() -> None:
        faults.crash_point = lambda name: os.kill(os.getpid(), signal.SIGKILL) if name == point else None
        sub = Substrate(None, db_url=url, authorize=_authorize)
        oid = action.split(":")[1]
        if action.startswith("create"):
            sub.create(oid, parse_state("bloch", BLOCH), CLONES, keep_reference=True, holders={"vault": [
                f"N0_{j}" for j in range(1, CLONES + 1)], "custodian": ["A0"]})
        elif action.startswith("decrypt"):
            sub.decrypt(oid, 2, "first", authorization=issue_grant(VAULT, oid, "first"))
        elif action.startswith("recover"):
            sub.recover(oid, ["A0", "S0_1", "S0_2", "S0_3"], "first",
                        authorizations={"custodian": issue_grant(VAULT, oid, "first")})
        elif action.startswith("age"):
            sub.age(oid, ["S0_2", "N0_1", "N0_2", "N0_3"], 500.0, 1000.0, 1000.0)
        elif action.startswith("apply"):
            from qclone.protocol import Layout
            from qclone.protocol.logical import plan
            from qclone.storage.gates import gates_digest

            lay = Layout(CLONES)
            gates = {lay.label(int(q), long=True): g for q, g in zip(lay.embedding(0).tolist(), plan("H", CLONES).local,
                                                                       strict=True) if g != "I"}
            mine = {x: gates[x] for x in [f"N0_{j}" for j in range(1, CLONES + 1)] if x in gates}
            sub.apply(oid, "op1", "H", gates, ["vault"], authorizations={
                "vault": issue_grant(VAULT, oid, f"op1:{gates_digest(mine)}", purpose="apply")})
        faults.crash_point("test.returned")
        os._exit(0)

    proc = _FORK.Process(target=run)
    proc.start()
    proc.join(timeout=120)
    return proc.exitcode


def _holds_one(url: str, object_id: str) -> str:
    """"joint" or "output": what the object has now (asserting it has exactly one of them)."""
    joint, outputs, _ = _rows(url)
    assert (object_id in joint) != (object_id in outputs), (object_id, joint, outputs)
    return "joint" if object_id in joint else "output"


def test_a_process_killed_at_every_crash_point(pg_schema_url):
    url, killed = pg_schema_url, -signal.SIGKILL
    fresh = Substrate(None, db_url=url, authorize=_authorize)
    # inside the create transaction: nothing was acknowledged, nothing is there; created again
    assert _killed_at(url, "substrate.create.tx", "create:a") == killed
    assert _rows(url)[:2] == (set(), set())
    for oid in "abcdef":
        assert _killed_at(url, "none", f"create:{oid}") == 0
        assert _holds_one(url, oid) == "joint"
    # inside a decryption's or a recovery's transaction: the joint state stays, decryptable once
    assert _killed_at(url, "substrate.decrypt.tx", "decrypt:a") == killed
    assert _killed_at(url, "substrate.decrypt.tx", "recover:b") == killed
    for oid in "ab":
        assert _holds_one(url, oid) == "joint"
        out = fresh.decrypt(oid, 1, "second", authorization=issue_grant(VAULT, oid, "second"))
        assert out["fidelity"] == pytest.approx(1.0, abs=1e-9)
        assert _holds_one(url, oid) == "output"
    # right after a decryption returned: the output, for that attempt only
    assert _killed_at(url, "test.returned", "decrypt:c") == killed
    assert _holds_one(url, "c") == "output"
    with pytest.raises(ConflictError, match="another attempt"):
        fresh.decrypt("c", 1, "second", authorization=issue_grant(VAULT, "c", "second"))
    assert fresh.decrypt("c", 2, "first", authorization=issue_grant(VAULT, "c", "first"))["clone"] == 2
    # inside the ageing's write (a shared substrate writes it) and a gate's: the state as before
    assert _killed_at(url, "substrate.age.tx", "age:d") == killed
    assert _killed_at(url, "substrate.apply.tx", "apply:e") == killed
    assert _holds_one(url, "d") == _holds_one(url, "e") == "joint"
    assert fresh.gate_state("e") == {"applied": [], "in_progress": None}
    out = fresh.decrypt("d", 2, "x", authorization=issue_grant(VAULT, "d", "x"))
    assert out["fidelity"] == pytest.approx(1.0, abs=1e-9)  # no ageing was written
    # an ageing that committed: the next process decrypts the aged state
    assert _killed_at(url, "test.returned", "age:f") == killed
    aged = fresh.decrypt("f", 2, "x", authorization=issue_grant(VAULT, "f", "x"))
    reference = Substrate(None)
    reference.create("f", parse_state("bloch", BLOCH), CLONES, keep_reference=True)
    reference.age("f", ["S0_2", "N0_1", "N0_2", "N0_3"], 500.0, 1000.0, 1000.0)
    assert aged["fidelity"] == pytest.approx(reference.decrypt("f", 2, "x")["fidelity"], abs=1e-12) and aged["fidelity"] < 0.99
    joint, outputs, _ = _rows(url)
    assert joint == {"e"} and outputs == set("abcdf")


# ---------------------------------------------------------------------- start-up
def _starter(url: str, me: int, barrier, results) -> None:
    barrier.wait()
    try:
        sub = Substrate(None, db_url=url)
        sub.create(f"s{me}", parse_state("bloch", BLOCH), 2, keep_reference=False)
        results.put((me, "ok"))
    except Exception as e:  # noqa: BLE001 - reported to the test
        results.put((me, f"{type(e).__name__}: {e}"))


def test_processes_starting_at_once_on_an_empty_database(pg_schema_url):
    """Four processes open the store on a schema with no tables at the same moment: the tables are
    created once (under an advisory lock), and every process works."""
    url = pg_schema_url.replace("%3D", "%3Dfresh_", 1)  # a schema that does not exist yet
    barrier, results = _FORK.Barrier(4), _FORK.Queue()
    workers = [_FORK.Process(target=_starter, args=(url, me, barrier, results)) for me in range(4)]
    for w in workers:
        w.start()
    try:
        assert dict(results.get(timeout=120) for _ in workers) == {me: "ok" for me in range(4)}
        assert _rows(url)[0] == {"s0", "s1", "s2", "s3"}
    finally:
        for w in workers:
            w.join(timeout=60)
        from qclone.storage.pgstore import schema_of

        with _connect(pg_schema_url) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema_of(url)}" CASCADE')
