"""Results of hardware runs as CSV and as a plot of fidelity against the number of clones.

The CSV has one row per n with the columns of :data:`CSV_FIELDS`; the plot
(:func:`qclone.analysis.plot.plot_fidelity`, which marks the classical limit
2/3) shows the average fidelity with its bootstrap interval and, where
measured, the Bell fidelity of (R, decrypted clone) converted to an average
fidelity, (2F + 1)/3 for comparison on the same axis.

Examples:
    >>> CSV_FIELDS[:5]
    ('backend', 'runner', 'clones', 'decrypt', 'shots')
"""

from __future__ import annotations

import csv
import pathlib
from collections.abc import Sequence

from qclone.analysis.plot import FidelitySeries, plot_fidelity
from qclone.hardware.experiment import FidelityResult

CSV_FIELDS: tuple[str, ...] = (
    "backend", "runner", "clones", "decrypt", "shots", "average_fidelity", "ci_low", "ci_high", "confidence",
    "bell_fidelity", "bell_ci_low", "bell_ci_high", "concurrence", "two_qubit_gates", "depth", "two_qubit_depth",
    "seconds", "circuits", "run_seconds", "seconds_per_shot", "mitigated_fidelity", "mitigated_ci_low", "mitigated_ci_high",
    "mitigated_bell_fidelity", "dd",
)  # fmt: skip


def write_csv(results: Sequence[FidelityResult], path: str | pathlib.Path) -> pathlib.Path:
    """Write one row per result (overwrites ``path``)."""
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in results:
            d = r.to_dict()
            w.writerow({k: d[k] for k in CSV_FIELDS})
    return out


def read_csv(path: str | pathlib.Path) -> list[dict[str, str]]:
    with pathlib.Path(path).open(newline="") as fh:
        return list(csv.DictReader(fh))


def plot_results(results: Sequence[FidelityResult], path: str | pathlib.Path, *, title: str | None = None) -> pathlib.Path:
    """Fidelity against n with the classical limit (PNG, SVG or PDF by suffix)."""
    rs = sorted(results, key=lambda r: r.clones)
    label = rs[0].backend if rs else "device"
    series = [
        FidelitySeries(
            f"{label}: average fidelity (6 cardinal inputs, tomography)",
            tuple(r.clones for r in rs),
            tuple(r.average_fidelity for r in rs),
            # a percentile interval of a small sample may miss the estimate; error bars cannot be negative
            tuple(min(r.ci_low, r.average_fidelity) for r in rs),
            tuple(max(r.ci_high, r.average_fidelity) for r in rs),
        )
    ]
    # (n, F, interval) of the runs that measured the Bell pair
    bell = [(r.clones, r.bell_fidelity, r.bell_ci_low, r.bell_ci_high) for r in rs
            if r.bell_fidelity is not None and r.bell_ci_low is not None and r.bell_ci_high is not None]
    if bell:
        series.append(
            FidelitySeries(
                f"{label}: from Bell fidelity of (R, clone), (2F+1)/3",
                tuple(n for n, _, _, _ in bell),
                tuple((2 * f + 1) / 3 for _, f, _, _ in bell),
                tuple((2 * min(lo, f) + 1) / 3 for _, f, lo, _ in bell),
                tuple((2 * max(hi, f) + 1) / 3 for _, f, _, hi in bell),
            )
        )
    return plot_fidelity(series, [path], title=title or f"Decrypted clone on {label} (from counts)")[0]
