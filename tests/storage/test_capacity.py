"""The capacity model's arithmetic against cases computed by hand."""

from __future__ import annotations

import pytest

from qclone.errors import InvalidArgumentError
from qclone.storage.capacity import (
    DatabaseCapacity,
    DatabaseDemand,
    database_limit,
    machines_at_limit,
    predict,
    scale_out,
    shards_for,
)

CPU = {"gateway": 0.004, "substrate": 0.002, "postgres": 0.002, "client": 0.0005}  # 8.5 ms per round trip
ONE = {"gateway": 1, "substrate": 1, "client": 1}


def test_cores_bound_when_no_process_is_saturated() -> None:
    p = predict(CPU, 2, ONE)
    # 2 cores / 0.0085 s = 235.29/s; the gateway alone could do 1 / 0.004 = 250/s
    assert p.throughput == pytest.approx(235.294, rel=1e-4)
    assert p.bound == "cores" and p.cpu_seconds == pytest.approx(0.0085)


def test_a_saturated_python_process_caps_the_throughput() -> None:
    p = predict(CPU, 4, ONE)  # 4 / 0.0085 = 470.6/s, but one gateway process gives at most 1 / 0.004 = 250/s
    assert p.throughput == pytest.approx(250.0) and p.bound == "gateway"
    p = predict(CPU, 4, {**ONE, "gateway": 2})  # two gateways: 500/s; the substrate's 1 / 0.002 = 500/s; cores 470.6
    assert p.throughput == pytest.approx(470.588, rel=1e-4) and p.bound == "cores"
    p = predict(CPU, 8, {**ONE, "gateway": 4})  # cores 941; gateways 1000; substrate 500: the substrate
    assert p.throughput == pytest.approx(500.0) and p.bound == "substrate"


def test_roles_not_named_are_not_capped() -> None:
    assert predict({"postgres": 0.01}, 2).throughput == pytest.approx(200.0)
    assert predict({"postgres": 0.01}, 2, {"gateway": 1}).bound == "cores"  # a role that costs nothing caps nothing


DEMAND = DatabaseDemand(statements=30, commits=20, wal_bytes=15_000, cpu_seconds=0.006)
CAPACITY = DatabaseCapacity(statements_per_second=30_000, commits_per_second=10_000, wal_bytes_per_second=30e6, cores=2)


def test_database_limit_is_the_first_capacity_to_run_out() -> None:
    # statements 30000/30 = 1000; commits 10000/20 = 500; WAL 30e6/15000 = 2000; CPU 2/0.006 = 333.3
    limit, what = database_limit(DEMAND, CAPACITY)
    assert limit == pytest.approx(333.333, rel=1e-4) and what == "CPU"
    limit, what = database_limit(DatabaseDemand(30, 20, 15_000, 0.0), CAPACITY)  # no CPU asked: commits
    assert limit == pytest.approx(500.0) and what == "commits"


def test_scale_out_machines_then_postgresql() -> None:
    # a machine of 2 cores at 40 ms per round trip: 50/s; one PostgreSQL: 333.3/s, so 6.67 machines saturate it
    assert machines_at_limit(0.04, 2, DEMAND, CAPACITY) == pytest.approx(6.6667, rel=1e-4)
    five = scale_out(0.04, 2, 5, DEMAND, CAPACITY)
    assert five.throughput == pytest.approx(250.0) and five.bound == "machines"
    ten = scale_out(0.04, 2, 10, DEMAND, CAPACITY)
    assert ten.throughput == pytest.approx(333.333, rel=1e-4) and ten.bound == "PostgreSQL CPU"
    assert ten.machines_limit == pytest.approx(500.0)
    assert shards_for(10, 0.04, 2, DEMAND, CAPACITY) == 2  # ceil(10 / 6.67)
    assert shards_for(100, 0.04, 2, DEMAND, CAPACITY) == 15  # ceil(100 / 6.67)
    assert shards_for(1, 0.04, 2, DEMAND, CAPACITY) == 1
    hundred = scale_out(0.04, 2, 100, DEMAND, CAPACITY, shards=15)
    assert hundred.throughput == pytest.approx(5000.0) and hundred.database_limit == pytest.approx(5000.0)


@pytest.mark.parametrize("call", [
    lambda: predict(CPU, 0),
    lambda: predict({"gateway": -1.0}, 2),
    lambda: predict({"gateway": 0.0}, 2),
    lambda: predict(CPU, 2, {"gateway": 0}),
    lambda: predict(CPU, 2, {"gateway": True}),
    lambda: predict({"gateway": float("nan")}, 2),
    lambda: database_limit(DatabaseDemand(0, 0, 0, 0), CAPACITY),
    lambda: scale_out(0.04, 2, 0, DEMAND, CAPACITY),
    lambda: scale_out(0.04, 2, 1, DEMAND, CAPACITY, shards=0),
    lambda: scale_out(0.0, 2, 1, DEMAND, CAPACITY),
])
def test_bad_arguments_are_refused(call) -> None:  # noqa: ANN001 - a lambda
    with pytest.raises(InvalidArgumentError):
        call()
