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
        rt, ls = point["round_trips"], point["listing"]
        assert rt["put"]["p50_ms"] <= rt["put"]["p99_ms"] and rt["get"]["n"] == 3
        assert ls["listed"] >= point["objects"] and ls["deep_page"] is not None
    assert set(out["flatness"]) >= {"put_p99", "get_p99", "ls_first_p99", "ls_deep_p99"}
    assert all(v > 0 for v in out["bytes_per_object"].values() if not isinstance(v, dict))
    rec = out["recovery"]
    assert rec["killed_mid_batch"] and not rec["killed_batch_answered"]
    assert rec["retry_created"] + rec["retry_earlier"] == 1000 and rec["seconds_to_first_get"] > 0
