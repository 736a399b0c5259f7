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
