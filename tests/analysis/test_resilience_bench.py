"""bench/resilience_planner.py runs from a clean checkout (a short form: correctness only, no timings)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_planner_benchmark_short_form():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "resilience_planner.py"), "--candidates", "150",
                           "--every", "15", "--samples", "4000", "--large-clones", "6", "--providers", "6", "--json"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["candidates"] == 150 and out["family"] > 150 and out["agree"]
    assert out["naive_enumeration"]["max_abs_difference"] <= 1e-12
    assert 0.9 < out["large"]["durability"] < 1
