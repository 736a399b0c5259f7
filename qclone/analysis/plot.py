"""Plots of fidelity against the number of clones (matplotlib; PNG, SVG or PDF by file suffix).

Every figure marks the classical limit F = 2/3 (measure and prepare): above
it the decrypted clone carries quantum information that no classical copy
could. Curves come from :class:`FidelitySeries`: exact values
(:func:`exact_series`, from stim's error analysis) or sampled sweep results
with their Wilson intervals (:func:`series_from_results`).

Examples:
    >>> import tempfile, pathlib
    >>> s = exact_series("memory", 1e-3, [1, 10, 100])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "f.svg"
    >>> plot_fidelity([s], [out])[0].stat().st_size > 1000
    True
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from qclone.analysis.scaling import CLASSICAL_LIMIT, exact_average_fidelity
from qclone.analysis.sweep import SweepResult
from qclone.errors import InvalidArgumentError

#: File suffixes matplotlib writes for us.
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def plot_paths(outputs: Iterable[str | pathlib.Path]) -> list[pathlib.Path]:
    """The plot files to write, checked before anything is drawn.

    Raises:
        InvalidArgumentError: for no file or a suffix not in :data:`PLOT_SUFFIXES`.
    """
    paths = [pathlib.Path(o) for o in outputs]
    if not paths:
        raise InvalidArgumentError("give at least one output file (.png, .svg or .pdf)")
    for p in paths:
        if p.suffix.lower() not in PLOT_SUFFIXES:
            raise InvalidArgumentError(f"cannot write {p.name!r}: use one of {', '.join(PLOT_SUFFIXES)}")
    return paths


def save_figure(fig: object, paths: Iterable[pathlib.Path]) -> None:
    """Write ``fig`` to every file (parents created; SVGs without a date, so reruns are identical)."""
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=110, metadata={"Date": None} if p.suffix.lower() == ".svg" else None)  # type: ignore[attr-defined]  # matplotlib's stubs miss Figure.savefig's keywords


@dataclass(frozen=True)
class FidelitySeries:
    """One curve: average fidelity against n, with an optional interval."""

    label: str
    clones: tuple[int, ...]
    fidelity: tuple[float, ...]
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None


def exact_series(noise: str, p: float | None, clones: Sequence[int], *, depth: str = "linear") -> FidelitySeries:
    """Exact average fidelity for every n in ``clones``."""
    ns = tuple(sorted(set(int(n) for n in clones)))
    f = tuple(exact_average_fidelity(n, noise, p, depth=depth) for n in ns)
    return FidelitySeries(_label(noise, p, depth), ns, f)


def _label(noise: str, p: float | None, depth: str, decrypt: object = None) -> str:
    parts = [noise] + ([f"p = {p:g}"] if p is not None else []) + [f"{depth} depth"]
    if decrypt not in (None, 1):
        parts.append(f"decrypt {decrypt}")
    return ", ".join(parts)


def series_from_results(results: Iterable[SweepResult]) -> list[FidelitySeries]:
    """Group sampled sweep results into one curve per (noise, p, depth); split by decrypted clone when n repeats."""
    groups: dict[tuple, list[SweepResult]] = {}
    for r in results:
        groups.setdefault((r.point.noise, r.point.p, r.point.depth), []).append(r)
    out = []
    for (noise, p, depth), rs in groups.items():
        repeated = len({r.point.clones for r in rs}) < len(rs)
        parts: dict[object, list[SweepResult]] = {}
        for r in rs:
            parts.setdefault(r.point.decrypt if repeated else None, []).append(r)
        for dec, part in parts.items():
            part = sorted(part, key=lambda r: r.point.clones)
            out.append(FidelitySeries(
                _label(noise, p, depth, dec) + " (sampled)",
                tuple(r.point.clones for r in part),
                tuple(r.estimate.average_fidelity for r in part),
                tuple(r.estimate.ci_low for r in part),
                tuple(r.estimate.ci_high for r in part),
            ))
    return out


def plot_fidelity(series: Sequence[FidelitySeries], outputs: Sequence[str | pathlib.Path], *, title: str | None = None) -> list[pathlib.Path]:
    """Draw the curves (log n axis) with the 2/3 line and write every file in ``outputs``.

    Raises:
        InvalidArgumentError: for no series, no output or an unknown suffix.
    """
    if not series:
        raise InvalidArgumentError("nothing to plot")
    paths = plot_paths(outputs)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        for s in series:
            x = np.asarray(s.clones)
            y = np.asarray(s.fidelity)
            if s.low is not None and s.high is not None:
                ax.errorbar(x, y, yerr=[y - np.asarray(s.low), np.asarray(s.high) - y], marker="o", ms=3, capsize=2, label=s.label)
            else:
                ax.plot(x, y, marker="o", ms=2.5, label=s.label)
        ax.axhline(CLASSICAL_LIMIT, color="black", ls="--", lw=1)
        ax.text(min(min(s.clones) for s in series), CLASSICAL_LIMIT + 0.005,
                "classical limit 2/3", fontsize=8, va="bottom")
        ax.set_xscale("log")
        ax.set_xlabel("number of encrypted clones n")
        ax.set_ylabel("average fidelity of the decrypted clone")
        ax.set_ylim(0.45, 1.005)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
        ax.set_title(title or "Decrypted clone vs number of clones")
        fig.tight_layout()
        save_figure(fig, paths)
    finally:
        plt.close(fig)
    return paths
