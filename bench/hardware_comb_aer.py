"""The comb (``tree``) near the threshold: Aer's counts beside the scheduled stim model.

For each ``device:n``, the decrypted clone's six-input average fidelity from Aer's counts
(:func:`qclone.hardware.variants.measure_variant`: each cardinal input on A, the clone alone read
out in three bases, the circuit scheduled ALAP with its idle delays; Aer's stabilizer method with the
device's Pauli-twirled noise model, an engine independent of stim) with its 95 % bootstrap interval,
beside the model's exact value (:func:`qclone.hardware.predict.predict`) on the same placement. Prints
a Markdown table (``--json FILE`` also writes the rows) with the seconds Aer took per shot.

Run: ``nice -n 10 .venv/bin/python bench/hardware_comb_aer.py --points fake_fez:15,fake_fez:16 --shots 3000 --jobs 2``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qclone.hardware.backends import AerRunner  # noqa: E402 - after the checkout is on the path
from qclone.hardware.devices import get_backend  # noqa: E402 - after the checkout is on the path
from qclone.hardware.predict import predict  # noqa: E402 - after the checkout is on the path
from qclone.hardware.variants import measure_variant  # noqa: E402 - after the checkout is on the path


def row(device: str, n: int, shots: int, seed: int) -> dict:
    be = get_backend(device)
    t0 = time.perf_counter()
    model = predict(be, n, variant="tree").average_fidelity
    r = measure_variant(be, "tree", n, shots=shots, runner=AerRunner(be, method="stabilizer", noise="twirled"),
                        bootstrap=200, seed=seed)
    return {"device": device, "clones": n, "shots": shots, "aer": r.average_fidelity, "ci_low": r.ci_low,
            "ci_high": r.ci_high, "model": model, "model_inside": r.ci_low <= model <= r.ci_high,
            "aer_above_two_thirds": r.ci_low > 2 / 3, "aer_below_two_thirds": r.ci_high < 2 / 3,
            "seconds_per_shot": r.seconds_per_shot, "wall_seconds": time.perf_counter() - t0}


def markdown(rows: list[dict]) -> str:
    lines = ["| device | n | shots per basis and input | Aer, stabilizer, twirled [95 %] | stim model | model inside | "
             "Aer vs 2/3 | Aer s per shot |", "|---|---:|---:|---|---:|---|---|---:|"]
    for r in rows:
        side = "above" if r["aer_above_two_thirds"] else "below" if r["aer_below_two_thirds"] else "undecided"
        lines.append(f"| {r['device']} | {r['clones']} | {r['shots']} | {r['aer']:.4f} [{r['ci_low']:.4f}, "
                     f"{r['ci_high']:.4f}] | {r['model']:.4f} | {'yes' if r['model_inside'] else 'no'} | {side} | "
                     f"{r['seconds_per_shot']:.4f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", default="fake_fez:15,fake_fez:16", help="device:n, comma-separated")
    parser.add_argument("--shots", type=int, default=3000, help="shots per basis and input")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="points measured at once (one process each)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--markdown", type=Path, default=None, help="measure nothing: print the table of this JSON")
    args = parser.parse_args()
    if args.markdown is not None:
        print(markdown(json.loads(args.markdown.read_text())["rows"]))
        return 0
    points = [(d, int(n)) for d, n in (p.split(":") for p in args.points.split(","))]
    with ProcessPoolExecutor(max(1, args.jobs)) as pool:
        rows = list(pool.map(row, *zip(*points, strict=True), [args.shots] * len(points), [args.seed] * len(points)))
    if args.json is not None:
        cmd = " ".join(["nice -n 10 .venv/bin/python bench/hardware_comb_aer.py", *sys.argv[1:]])
        args.json.write_text(json.dumps({"command": cmd, "rows": rows}, indent=1) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
