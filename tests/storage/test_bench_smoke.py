"""The storage benchmarks run from a clean checkout (correctness only: tiny runs, no timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.service
def test_storage_throughput_benchmark_runs_both_services() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "storage_throughput.py"), "--seconds", "1",
                           "--warmup", "0.5", "--clients", "2", "--workers", "1", "--json"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    for kind in ("qclone", "peer"):
        assert out[kind]["errors"] == 0 and out[kind]["round_trips"] > 0, out[kind]
        assert out[kind]["p50_ms"] <= out[kind]["p99_ms"]
    assert out["ratio_qclone_to_peer"] == pytest.approx(out["qclone"]["per_second"] / out["peer"]["per_second"])
    assert out["meets_target"] == (out["qclone"]["per_second"] >= out["target_per_second"])


@pytest.mark.slow
def test_storage_inprocess_benchmark_runs() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "storage_inprocess.py"), "--rounds", "5",
                           "--threads", "2", "--seconds", "0.5"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "db statements" in done.stdout and "0 errors" in done.stdout, done.stdout


@pytest.mark.service
def test_storage_scaleout_benchmark_reports_costs_and_the_model(postgres_server: str) -> None:
    from qclone.storage.capacity import predict

    done = subprocess.run([sys.executable, str(ROOT / "bench" / "storage_scaleout.py"), "--db", postgres_server,
                           "--seconds", "1", "--warmup", "0.3", "--clients", "2", "--processes", "1", "--no-check",
                           "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    roles = {"qclone": ("gateway", "substrate", "nodes", "postgres", "client"), "peer": ("peer", "postgres", "client")}
    for kind, expected in roles.items():
        r = out["runs"][kind]["1"]
        assert r["errors"] == 0 and r["round_trips"] > 0 and r["p50_ms"] <= r["p99_ms"], r
        assert all(r["cpu_per_round_trip"][role] > 0 for role in expected), r["cpu_per_round_trip"]
        # every round trip writes: statements, commits, WAL of its own database, bytes both ways
        for key in ("statements_per_round_trip", "commits_per_round_trip", "wal_bytes_per_round_trip",
                    "wire_bytes_to_postgres_per_round_trip", "wire_bytes_from_postgres_per_round_trip"):
            assert r[key] > 0, (kind, key, r[key])
        assert r["statements_per_round_trip"] == pytest.approx(
            sum(s["statements"] for s in r["statements_by_role"].values()))
        # the prediction is the model's, from the one-process costs on the cores other users left
        pred = predict(r["cpu_per_round_trip"], r["cores_available"],
                       {role: r["caps"].get(role, 1) for role in ("gateway", "peer", "substrate", "client")
                        if role in r["cpu_per_round_trip"]})
        assert r["prediction"]["throughput"] == pytest.approx(pred.throughput)
        assert r["prediction"]["error"] == pytest.approx((pred.throughput - r["per_second"]) / r["per_second"])
    q, p = out["runs"]["qclone"]["1"], out["runs"]["peer"]["1"]
    # the peer's put is one INSERT, its get a SELECT and a DELETE; qclone's round trip does more (the claim, the ack)
    assert p["statements_by_role"]["peer"]["insert"] == pytest.approx(1.0, rel=0.3)
    assert q["statements_per_round_trip"] > p["statements_per_round_trip"]
    assert out["model_ok"] == all(abs(r["prediction"]["error"]) <= out["tolerance"] for r in out["runs"]["qclone"].values())


@pytest.mark.service
def test_storage_million_benchmark_runs_its_short_form(postgres_server) -> None:
    """2,000 objects through the batch route, the checkpoints, the sizes and a kill -9 during a batch:
    every figure present and consistent (correctness only)."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "storage_million.py"), "--objects", "2000",
                           "--samples", "3", "--json", "--db", postgres_server],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["ok"] and out["metadata"] == "postgresql" and out["substrate"].startswith("postgresql")
    assert [p["objects"] for p in out["checkpoints"]] == [1000, 2000]
    for point in out["checkpoints"]:
        assert point["listed"] >= point["objects"] and point["vacuum_analyze_seconds"] > 0
        for phase in ("after_load", "maintained"):
            for store in ("big", "reference"):
                rt, ls = point[phase][store]["round_trips"], point[phase][store]["listing"]
                assert rt["put"]["p50_ms"] <= rt["put"]["p99_ms"] and rt["get"]["n"] == 3
                assert ls["deep_page"] is not None and ls["first_page"]["n"] == 3
            ratios, big, ref = point[phase]["ratios"], point[phase]["big"], point[phase]["reference"]
            assert ratios["get_p99"] == pytest.approx(big["round_trips"]["get"]["p99_ms"]
                                                      / ref["round_trips"]["get"]["p99_ms"])
    assert set(out["flatness"]) == {f"{w}_{q}" for w in ("put", "get", "ls_first", "ls_deep") for q in ("p50", "p99")}
    assert out["flatness"] == out["checkpoints"][-1]["maintained"]["ratios"]
    assert out["flat_within_2x"] == all(v <= 2 for v in out["flatness"].values())
    assert all(v > 0 for v in out["bytes_per_object"].values() if not isinstance(v, dict))
    rec = out["recovery"]
    assert rec["killed_mid_batch"] and not rec["killed_batch_answered"]
    assert rec["retry_created"] + rec["retry_earlier"] == 1000 and rec["seconds_to_first_get"] > 0
