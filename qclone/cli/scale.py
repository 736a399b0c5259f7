"""``qclone sweep``, ``qclone plot`` and ``qclone scaling``: noisy figures at scale (thin layers over qclone.analysis)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qclone.analysis.code_sim import check_retrieval
from qclone.analysis.plot import FidelitySeries, exact_series, plot_fidelity, plot_paths, series_from_results
from qclone.analysis.scaling import CLASSICAL_LIMIT, scaling_table
from qclone.analysis.sweep import grid, read_results, run_sweep
from qclone.cli.options import (
    MAX_SCALE_CLONES,
    ErrorRates,
    Json,
    Jsonl,
    OutputFiles,
    Quiet,
    check_clones,
    parse_floats,
    parse_ints,
    split_list,
)
from qclone.cli.output import check_json_flags, console, print_json, print_jsonl, progress, warn_single_clone, wide_console
from qclone.errors import InvalidArgumentError, check_int

#: n of exact curves when --clones is not given: 1..10^4, about 8 per decade
DEFAULT_PLOT_CLONES = sorted({int(round(10 ** (k / 8))) for k in range(33)})


ClonesList = Annotated[str, typer.Option("--clones", "-n", help="Comma-separated numbers of clones, e.g. 10,100,1000.")]
NoiseList = Annotated[str, typer.Option("--noise", help="Comma-separated noise models: depolarizing, readout, memory, heron; a+b adds models.")]
DepthList = Annotated[str, typer.Option("--depth", help="Comma-separated encryption variants: linear, log.")]
RetrievalList = Annotated[str, typer.Option(
    "--retrieval", help="Comma-separated retrieval modes: plain (decrypt as stored) or corrected (measure the stabilizers, "
    "correct, then decrypt; see docs/error-correction.md).")]
Rounds = Annotated[int, typer.Option("--rounds", help="Syndrome-extraction rounds of corrected retrieval (circuit-level noise).")]


def sweep(
    clones: ClonesList,
    noise: NoiseList,
    shots: Annotated[int, typer.Option("--shots", help="Shots per grid point (sinter's max_shots).")],
    p: ErrorRates = None,
    decrypt: Annotated[str, typer.Option("--decrypt", help="Comma-separated decrypted clones: a number, first, middle, last or A.")] = "first",
    depth: DepthList = "linear",
    max_errors: Annotated[int | None, typer.Option("--max-errors", help="Stop a grid point after this many errors.")] = None,
    retrieval: RetrievalList = "plain",
    rounds: Rounds = 1,
    workers: Annotated[int, typer.Option("--workers", help="sinter worker processes.")] = 2,
    csv: Annotated[Path | None, typer.Option("--csv", help="Resumable results file (sinter's CSV format).")] = None,
    dask_scheduler: Annotated[str | None, typer.Option("--dask-scheduler", help="Run on the Dask cluster at this address (tcp://host:port).")] = None,
    quiet: Quiet = False,
    json_out: Json = False,
    jsonl: Jsonl = False,
) -> None:
    """Sample the decrypted clone's fidelity over a grid with sinter (--json: one array; --jsonl: one object per point)."""
    check_json_flags(json_out, jsonl)
    if shots < 1:
        raise InvalidArgumentError(f"--shots must be at least 1, got {shots}")
    if csv is not None and csv.exists() and (not csv.is_file() or csv.stat().st_size):
        read_results(csv)  # a file that is not a sweep CSV is refused before any sampling
    ns = parse_ints(clones, "--clones", MAX_SCALE_CLONES)
    points = grid(clones=ns, noise=split_list(noise), p=parse_floats(p, "--error-rate"), decrypt=split_list(decrypt), depth=split_list(depth),
                  retrieval=split_list(retrieval), rounds=rounds)
    warn_single_clone(ns)
    with progress(f"sampling {len(points)} grid point(s)", quiet=quiet) as bar:
        results = run_sweep(points, max_shots=shots, max_errors=max_errors, workers=workers, csv=csv,
                            progress=False, dask_scheduler=dask_scheduler, on_progress=bar.as_callback)
    if json_out:
        print_json([r.to_dict() for r in results])
        return
    if jsonl:
        for r in results:
            print_jsonl(r.to_dict())
        return
    t = Table(title="Decrypted clone: fidelity over the grid (Wilson 95 % interval on the average fidelity)")
    for col in ("clones", "noise", "p", "decrypt", "depth", "retrieval", "shots", "errors", "F_e", "F_avg", "95 % CI", "p_X", "p_Y", "p_Z"):
        t.add_column(col)
    for r in results:
        e, pt = r.estimate, r.point
        mode = pt.retrieval if pt.retrieval == "plain" else f"{pt.retrieval} ({pt.rounds} round{'s' if pt.rounds > 1 else ''})"
        t.add_row(str(pt.clones), pt.noise, "-" if pt.p is None else f"{pt.p:g}", str(pt.decrypt), pt.depth, mode, str(e.shots),
                  str(e.errors), f"{e.entanglement_fidelity:.4f}", f"{e.average_fidelity:.4f}",
                  f"[{e.ci_low:.4f}, {e.ci_high:.4f}]",
                  *(f"{e.pauli_channel[k]:.4f}" for k in ("p_X", "p_Y", "p_Z")))
    wide_console().print(t)
    console.print(f"classical limit: average fidelity {CLASSICAL_LIMIT:.4f}" + (f"; results saved in {csv}" if csv else ""))


def plot(
    output: OutputFiles,
    csv: Annotated[list[Path] | None, typer.Option("--csv", help="Plot sampled results from sweep CSV file(s).")] = None,
    clones: Annotated[str | None, typer.Option("--clones", "-n", help="Exact curves: comma-separated n (default 1..10^4, log-spaced).")] = None,
    noise: Annotated[str | None, typer.Option("--noise", help="Exact curves: comma-separated noise models.")] = None,
    p: ErrorRates = None,
    depth: DepthList = "linear",
    title: Annotated[str | None, typer.Option("--title", help="Figure title.")] = None,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Draw average fidelity against clones with the classical limit 2/3: sampled (--csv) and/or exact curves (--noise)."""
    plot_paths(output)  # a wrong suffix or a missing directory is refused before any computing
    series: list[FidelitySeries] = []
    if csv:
        series += series_from_results(read_results(csv))
    curves = []
    if noise:
        ns = parse_ints(clones, "--clones", MAX_SCALE_CLONES) if clones else DEFAULT_PLOT_CLONES
        curves = [(nz, pv, d) for nz in split_list(noise) for pv in parse_floats(p, "--error-rate") for d in split_list(depth)]
    if not series and not curves:
        raise InvalidArgumentError("nothing to plot: give --csv FILE and/or --noise NAME (with --error-rate)")
    with progress("exact curves", total=len(curves) + 1, quiet=quiet) as bar:
        for nz, pv, d in curves:
            series.append(exact_series(nz, pv, ns, depth=d))
            bar.advance()
        bar.update(description="drawing")
        paths = plot_fidelity(series, output, title=title)
    if curves and clones:  # the default range starts at n = 1 for the curve's shape: only a chosen n = 1 warns
        warn_single_clone(ns)
    if json_out:
        print_json({"files": [str(x) for x in paths],
                    "series": [{"label": s.label, "clones": list(s.clones), "average_fidelity": list(s.fidelity)} for s in series]})
    else:
        for x in paths:
            console.print(f"wrote {x}")


def scaling(
    noise: Annotated[str, typer.Option("--noise", help="Comma-separated noise models.")] = "depolarizing,memory",
    p: Annotated[str, typer.Option("--error-rate", "-p", help="Comma-separated error probabilities of the noise models.")] = "1e-4,1e-3,3e-3",
    depth: DepthList = "linear,log",
    max_clones: Annotated[int, typer.Option("--max-clones", help="Stop the search at this n.")] = 100_000,
    retrieval: RetrievalList = "plain",
    shots: Annotated[int, typer.Option("--shots", help="Shots per probed n of corrected retrieval (sampled; plain is exact).")] = 20_000,
    rounds: Rounds = 1,
    quiet: Quiet = False,
    json_out: Json = False,
    jsonl: Jsonl = False,
) -> None:
    """The largest n whose average fidelity stays above 2/3: exactly for plain retrieval (stim's error analysis,
    no sampling), sampled for corrected retrieval (searched up to n = 2048)."""
    check_json_flags(json_out, jsonl)
    check_clones(max_clones, MAX_SCALE_CLONES, "--max-clones")
    modes = [check_retrieval(r) for r in split_list(retrieval)]
    check_int(shots, "--shots", 1, 10_000_000)
    with progress("largest n per noise model", quiet=quiet) as bar:
        rows = scaling_table(split_list(noise), [v for v in parse_floats(p, "--error-rate") if v is not None], split_list(depth),
                             max_clones=max_clones, progress=bar.as_callback, retrievals=modes, shots=shots, rounds=rounds)
    warn_single_clone(max_clones)  # --max-clones 1: the search looks at n = 1 only
    if json_out:
        print_json([r.to_dict() for r in rows])
        return
    if jsonl:
        for r in rows:
            print_jsonl(r.to_dict())
        return
    t = Table(title="Largest number of clones with average fidelity > 2/3 (plain: exact; corrected: sampled)")
    for col in ("retrieval", "noise", "p", "depth", "largest n", "F at n", "F at n+1", "law (n+1)p < 1/2", "law, compounded"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.retrieval if r.shots is None else f"{r.retrieval} ({r.shots} shots)", r.noise, "-" if r.p is None else f"{r.p:g}", r.depth,
                  "none" if r.largest_clones is None else (f">= {r.largest_clones}" if r.capped else str(r.largest_clones)),
                  "-" if r.fidelity_at_largest is None else f"{r.fidelity_at_largest:.5f}",
                  "-" if r.fidelity_after is None else f"{r.fidelity_after:.5f}",
                  "-" if r.linear_law is None else str(r.linear_law), "-" if r.compounded_law is None else str(r.compounded_law))
    wide_console().print(t)
