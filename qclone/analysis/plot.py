"""Plots of fidelity against the number of clones (matplotlib; PNG, SVG or PDF by file suffix).

Every figure marks the classical limit 2/3 (measure and prepare), named in
the legend: above it the decrypted clone carries quantum information that no
classical copy could. The n axis reads at every range (:func:`clone_axis`):
integer ticks for a few clones, log ticks with plain numbers for wide ranges. Curves come from :class:`FidelitySeries`: exact values
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
from typing import Any

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
        if not p.parent.is_dir():
            raise InvalidArgumentError(f"cannot write {str(p)!r}: directory {str(p.parent)!r} does not exist")
    return paths


def save_figure(fig: object, paths: Iterable[pathlib.Path]) -> None:
    """Write ``fig`` to every file (SVGs without a date, so reruns are identical)."""
    for p in paths:
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
    """Group sampled sweep results into one curve per (noise, p, depth, retrieval); split by decrypted clone when n repeats."""
    groups: dict[tuple, list[SweepResult]] = {}
    for r in results:
        groups.setdefault((r.point.noise, r.point.p, r.point.depth, r.point.retrieval, r.point.rounds), []).append(r)
    out = []
    for (noise, p, depth, retrieval, rounds), rs in groups.items():
        mode = "" if retrieval == "plain" else f", corrected ({rounds} round{'s' if rounds > 1 else ''})"
        repeated = len({r.point.clones for r in rs}) < len(rs)
        parts: dict[object, list[SweepResult]] = {}
        for r in rs:
            parts.setdefault(r.point.decrypt if repeated else None, []).append(r)
        for dec, part in parts.items():
            part = sorted(part, key=lambda r: r.point.clones)
            out.append(FidelitySeries(
                _label(noise, p, depth, dec) + mode + " (sampled)",
                tuple(r.point.clones for r in part),
                tuple(r.estimate.average_fidelity for r in part),
                tuple(r.estimate.ci_low for r in part),
                tuple(r.estimate.ci_high for r in part),
            ))
    return out


#: Up to this many clones (and a ratio max/min up to this) the n axis is linear with integer ticks.
LINEAR_AXIS_MAX = 20


def plain_number(value: float) -> str:
    """A tick label without exponents: ``1``, ``20``, ``5000``, ``1 000 000`` (thin-space groups above 9999).

    Examples:
        >>> [plain_number(v) for v in (1, 20.0, 5000, 10**4, 10**6)]
        ['1', '20', '5000', '10\u2009000', '1\u2009000\u2009000']
    """
    n = int(round(value))
    text = str(n)
    if n < 10_000:
        return text
    return f"{n:,}".replace(",", "\u2009")


def clone_ticks(lo: int, hi: int) -> tuple[str, list[int]]:
    """The scale (``"linear"`` or ``"log"``) and major tick positions for an n axis from ``lo`` to ``hi``.

    A few clones, or a narrow range (``hi <= LINEAR_AXIS_MAX`` or ``hi < 10·lo``): linear, at
    multiples of the smallest 1-2-5 step that gives at most ten intervals. Wider ranges: log, at
    1-2-5 × 10^k over at most three decades, at powers of ten beyond. The ends of the range get
    a tick too where there is room beside their neighbour (half a step; a factor 1.5 on a log axis).

    Examples:
        >>> clone_ticks(1, 5)
        ('linear', [1, 2, 3, 4, 5])
        >>> clone_ticks(1, 63)
        ('log', [1, 2, 5, 10, 20, 50])
        >>> clone_ticks(3, 63)
        ('log', [3, 5, 10, 20, 50])
        >>> clone_ticks(1, 10**6)
        ('log', [1, 10, 100, 1000, 10000, 100000, 1000000])
    """
    if lo < 1 or hi < lo:
        raise InvalidArgumentError(f"an n axis needs 1 <= min <= max, got {lo}..{hi}")
    if hi <= LINEAR_AXIS_MAX or hi < 10 * lo:
        step = 1
        while (hi - lo) / step > 10:
            step = step * 5 // 2 if str(step)[0] == "2" else step * 2  # 1, 2, 5, 10, 20, 50, ...
        ticks = list(range(-(-lo // step) * step, hi + 1, step))
        if not ticks or ticks[0] - lo >= step / 2:
            ticks.insert(0, lo)
        if hi - ticks[-1] >= step / 2:
            ticks.append(hi)
        return "linear", ticks
    k_lo, k_hi = int(np.floor(np.log10(lo))), int(np.floor(np.log10(hi)))
    mantissas = (1, 2, 5) if k_hi - k_lo < 3 else (1,)
    ticks = [m * 10**k for k in range(k_lo, k_hi + 1) for m in mantissas if lo <= m * 10**k <= hi]
    if not ticks or ticks[0] / lo >= 1.5:
        ticks.insert(0, lo)
    if hi / ticks[-1] >= 1.5:
        ticks.append(hi)
    return "log", ticks


def clone_axis(ax: object, clones: Iterable[int], *, label: str = "number of encrypted clones n") -> None:
    """Scale, ticks, plain tick labels and label of a matplotlib x axis that counts clones.

    See :func:`clone_ticks`; minor ticks of a log axis carry no label, so no two
    labels collide (a log axis over n = 1..5 would print "2×10⁰ 3×10⁰ ...").
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ns = [int(n) for n in clones]
    scale, ticks = clone_ticks(min(ns), max(ns))
    ax.set_xscale(scale)  # type: ignore[attr-defined]  # a matplotlib Axes, typed loosely so the module imports without matplotlib
    xaxis = ax.xaxis  # type: ignore[attr-defined]  # as above
    xaxis.set_major_locator(FixedLocator(ticks))
    xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: plain_number(v)))
    xaxis.set_minor_formatter(NullFormatter())
    if scale == "linear":
        ax.set_xlim(min(ns) - 0.5, max(ns) + 0.5)  # type: ignore[attr-defined]  # as above
    else:
        ax.set_xlim(min(ns) / 1.25, max(ns) * 1.25)  # type: ignore[attr-defined]  # as above
    ax.set_xlabel(label)  # type: ignore[attr-defined]  # as above


#: The legend entry of the classical limit line.
CLASSICAL_LIMIT_LABEL = "classical limit 2/3 (measure and prepare)"


def plot_fidelity(series: Sequence[FidelitySeries], outputs: Sequence[str | pathlib.Path], *, title: str | None = None) -> list[pathlib.Path]:
    """Draw the curves with the 2/3 line and write every file in ``outputs``.

    Raises:
        InvalidArgumentError: for no series, no output or an unknown suffix.
    """
    if not series:
        raise InvalidArgumentError("nothing to plot")
    paths = plot_paths(outputs)
    save_figure(fidelity_figure(series, title=title), paths)  # a pyplot-free Figure: nothing to close
    return paths


def fidelity_figure(series: Sequence[FidelitySeries], *, title: str | None = None) -> Any:
    """The matplotlib ``Figure`` of :func:`plot_fidelity` (to show inline, e.g. in a notebook, or to save).

    Examples:
        >>> fig = fidelity_figure([exact_series("memory", 1e-3, [1, 2, 3, 4, 5])])
        >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
        ['1', '2', '3', '4', '5']
        >>> fig.axes[0].get_legend_handles_labels()[1][-1]
        'classical limit 2/3 (measure and prepare)'
    """
    if not series:
        raise InvalidArgumentError("nothing to plot")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for s in series:
        x = np.asarray(s.clones)
        y = np.asarray(s.fidelity)
        if s.low is not None and s.high is not None:
            ax.errorbar(x, y, yerr=[y - np.asarray(s.low), np.asarray(s.high) - y], marker="o", ms=3, capsize=2, label=s.label)
        else:
            ax.plot(x, y, marker="o", ms=2.5, label=s.label)
    ax.axhline(CLASSICAL_LIMIT, color="black", ls="--", lw=1, label=CLASSICAL_LIMIT_LABEL)
    clone_axis(ax, [n for s in series for n in s.clones])
    ax.set_ylabel("average fidelity F of the decrypted clone\n(dimensionless; 1 = exact, 1/2 = fully mixed)")
    ax.set_ylim(0.45, 1.005)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(title or "Decrypted clone vs number of clones")
    fig.tight_layout()
    return fig
