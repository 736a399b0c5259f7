"""Sweeps: sinter collection, stopping rules, resumable CSV, and the same sweep on a local Dask cluster."""

import math

import pytest
import sinter

from qclone.analysis.sweep import SAMPLER_NAME, SweepPoint, grid, read_results, resolve_decrypt, run_sweep
from qclone.errors import InvalidArgumentError, QcloneError
from qclone.sim.stabilizer import exact_pauli_channel


def within(result, sigmas=4.0):
    exact = exact_pauli_channel(result.point.circuit())["p_I"]
    return abs(result.estimate.entanglement_fidelity - exact) <= sigmas * math.sqrt(exact * (1 - exact) / result.shots)


def test_grid_covers_every_axis():
    pts = grid(clones=[4, 6], noise=["depolarizing", "memory"], p=[1e-3, 1e-2], decrypt=["first", "last"], depth=["linear", "log"])
    assert len(pts) == 2 * 2 * 2 * 2 * 2 and len(set(pts)) == len(pts)
    assert {pt.decrypt for pt in pts if pt.clones == 6} == {1, 6}
    assert grid(clones=[2], noise=["heron"])[0].p is None
    for bad in (dict(clones=[2], noise=["nope"], p=[0.1]), dict(clones=[0], noise=["readout"], p=[0.1]),
                dict(clones=[3], noise=["readout"], p=[0.1], decrypt=["A"]), dict(clones=[3], noise=["readout"], p=[0.1], depth=["cubic"]),
                dict(clones=[3], noise=["readout"], p=[0.1], decrypt=["x"]), dict(clones=[], noise=["readout"], p=[0.1])):
        with pytest.raises(QcloneError):
            grid(**bad)
    assert resolve_decrypt("middle", 7) == 3


@pytest.mark.service
def test_sweep_with_worker_processes_resumes_from_its_csv(tmp_path):
    csv = tmp_path / "sweep.csv"
    pts = grid(clones=[3, 10], noise=["depolarizing"], p=[0.01], depth=["linear", "log"])
    first = run_sweep(pts, max_shots=4000, workers=2, csv=csv, progress=False)
    assert [r.point for r in first] == pts and all(r.shots >= 4000 for r in first)
    assert csv.read_text().splitlines()[0].strip() == sinter.CSV_HEADER.strip()
    again = run_sweep(pts, max_shots=6000, workers=2, csv=csv, progress=False)
    on_disk = {r.point: r for r in read_results(csv)}
    for r in again:
        # resumed: the total is the larger budget, not the sum of both runs
        assert 6000 <= r.shots < 10_000 and on_disk[r.point].shots == r.shots
        assert within(r)
        p = r.estimate.pauli_channel
        assert sum(p.values()) == pytest.approx(1)


def test_max_errors_stops_early_and_one_worker_runs_in_process_order(tmp_path):
    pts = [SweepPoint(5, "depolarizing", 0.05)]
    res = run_sweep(pts, max_shots=10**7, max_errors=200, workers=1, progress=False)
    assert res[0].estimate.errors >= 200 and res[0].shots < 10**5
    assert within(res[0])


def test_bad_arguments():
    pts = grid(clones=[2], noise=["readout"], p=[0.1])
    for kw in (dict(max_shots=0), dict(max_shots=10, max_errors=0), dict(max_shots=10, workers=0)):
        with pytest.raises(InvalidArgumentError):
            run_sweep(pts, **kw)
    with pytest.raises(InvalidArgumentError):
        run_sweep(pts + pts, max_shots=10)
    with pytest.raises(InvalidArgumentError):
        read_results("/nonexistent/sweep.csv")
    with pytest.raises(InvalidArgumentError):
        SweepPoint.from_metadata({"clones": 3})


@pytest.mark.service
def test_the_same_sweep_on_a_local_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    csv = tmp_path / "dask.csv"
    pts = grid(clones=[2, 8], noise=["depolarizing+readout"], p=[0.01])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        res = run_sweep(pts, max_shots=6000, csv=csv, progress=False, dask_scheduler=cluster.scheduler_address, dask_batch=1500)
        assert [r.point for r in res] == pts and all(r.shots == 6000 for r in res)
        assert all(within(r) for r in res)
        # resumable in the same format: a larger budget only adds the difference
        more = run_sweep(pts, max_shots=9000, csv=csv, progress=False, dask_scheduler=cluster.scheduler_address, dask_batch=1500)
        assert all(r.shots == 9000 for r in more)
    stats = sinter.read_stats_from_csv_files(csv)
    assert {s.decoder for s in stats} == {SAMPLER_NAME} and sorted(s.shots for s in stats) == [9000, 9000]
    # sinter reads the same task ids sinter.collect would use
    assert {s.strong_id for s in stats} == {pt.task().strong_id() for pt in pts}
    with pytest.raises(InvalidArgumentError):
        run_sweep(pts, max_shots=10, dask_scheduler="tcp://127.0.0.1:1", progress=False, dask_timeout=2)
