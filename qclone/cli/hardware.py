"""``qclone hardware run`` and ``qclone hardware layout``: IBM devices, offline or real."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qclone.cli.options import MAX_SCALE_CLONES, Json, Jsonl, OutputDir, Quiet, check_clones, parse_ints
from qclone.cli.output import check_json_flags, note, print_json, print_jsonl, progress, warn_single_clone, wide_console
from qclone.errors import InvalidArgumentError

hardware_app = typer.Typer(
    name="hardware",
    help="Run encrypted cloning on IBM Heron devices (offline models or, with an account, real hardware).",
    no_args_is_help=True,
)

Backend = Annotated[str, typer.Option("--backend", help=(
    "fake_fez, fake_marrakesh, fake_kingston, fake_aachen, fake_torino, or ibm_<name> (needs an IBM Quantum account)."))]
RUNNERS = ("aer", "sampler")
#: Most clones each offline model holds (qclone.hardware.layout.max_clones; a test keeps the two equal).
#: Kept here as numbers so that ``--help`` needs no device model.
MAX_CLONES = {"fake_fez": 63, "fake_marrakesh": 63, "fake_kingston": 63, "fake_aachen": 63, "fake_torino": 55}
ClonesList = Annotated[str, typer.Option("--clones", "-n", help=(
    "Comma-separated numbers of clones, e.g. 1,2,5, each between 1 and the backend's maximum: 63 on "
    "fake_fez, fake_marrakesh, fake_kingston and fake_aachen (156-qubit Heron r2), 55 on fake_torino "
    "(133-qubit Heron r1); for an ibm_<name> device `qclone hardware layout` reports it (max_clones)."))]
Seed = Annotated[int, typer.Option("--seed", min=0, help=(
    "Seed of the simulator and of the bootstrap resampling: the same seed gives the same numbers "
    "(on a real device only the bootstrap is seeded)."))]


def _runner(name: str, backend, method: str, noise: str = "device", max_bond: int | None = None,  # noqa: ANN001, ANN202 - a qiskit BackendV2, imported lazily
            truncation: float | None = None):
    from qclone.hardware.backends import AerRunner, SamplerRunner
    from qclone.hardware.devices import is_fake

    if name not in RUNNERS:
        raise InvalidArgumentError(f"unknown runner {name!r}; choose one of {', '.join(RUNNERS)}")
    simulated = name == "aer" and is_fake(backend.name if hasattr(backend, "name") else "")
    if not simulated and (noise != "device" or max_bond is not None or truncation is not None or method != "auto"):
        raise InvalidArgumentError("--noise twirled, --method and the MPS options need the Aer runner on a fake backend "
                                   "(the sampler chooses its own method)")
    if not simulated:
        return SamplerRunner(backend)  # a real device always runs through SamplerV2
    return AerRunner(backend, method=method, noise=noise, max_bond_dimension=max_bond, truncation_threshold=truncation)


Runner = Annotated[str, typer.Option("--runner", help=(
    "aer (AerSimulator with the device noise) or sampler (qiskit-ibm-runtime SamplerV2: on an ibm_<name> device "
    "the real hardware, on a fake backend local mode with the same device noise). A real device always uses sampler."))]
Decrypt = Annotated[int, typer.Option("--decrypt", help="Which clone to decrypt.")]
DD = Annotated[bool, typer.Option("--dd/--no-dd", help=(
    "Dynamical decoupling: an X-X pulse pair in every idle window long enough (Qiskit's PadDynamicalDecoupling). "
    "Meant for real devices, where it refocuses low-frequency noise and crosstalk; the offline models' Markovian "
    "T1/T2 cannot show that gain, so on them it only adds the pulses' errors."))]


def _check_dd(dd: bool) -> str | None:
    return "XX" if dd else None


def _clones_and_device(clones: str, decrypt: int, backend: str):  # noqa: ANN202 - (list[int], BackendV2)
    """The parsed ``--clones`` (validated with ``--decrypt``; n = 1 warns) and the device."""
    from qclone.hardware.devices import get_backend

    ns = parse_ints(clones, "--clones", MAX_SCALE_CLONES)
    if any(n < 1 for n in ns):
        raise InvalidArgumentError(f"every number of clones must be >= 1, got {clones!r}")
    if not 1 <= decrypt <= min(ns):
        raise InvalidArgumentError(f"--decrypt {decrypt} must be between 1 and the smallest n ({min(ns)})")
    device = get_backend(backend)  # a bad backend is refused before the n = 1 warning: one line, not two
    warn_single_clone(ns)
    return ns, device


@hardware_app.command("run")
def run(
    backend: Backend,
    clones: ClonesList,
    shots: Annotated[int, typer.Option("--shots", help="Shots per measurement basis and input state.")],
    decrypt: Decrypt = 1,
    output_dir: OutputDir = Path("hardware-results"),
    runner: Runner = "aer",
    method: Annotated[str, typer.Option("--method", help="Aer method: auto, density_matrix (dm), matrix_product_state (mps).")] = "auto",
    noise: Annotated[str, typer.Option("--noise", help="device (Aer's device model) or twirled (its Pauli twirl: ~100x cheaper MPS shots).")] = "device",
    max_bond: Annotated[int | None, typer.Option("--max-bond", help="MPS bond-dimension cap (default: none, exact).")] = None,
    truncation: Annotated[float | None, typer.Option("--truncation", help="MPS truncation threshold (Aer's default 1e-16).")] = None,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap rounds for the confidence intervals.")] = 200,
    confidence: Annotated[float, typer.Option("--confidence", help="Central probability of the intervals.")] = 0.95,
    entangled: Annotated[bool, typer.Option("--entangled/--no-entangled", help="Also measure (R, clone): Bell fidelity and concurrence.")] = True,
    idle_noise: Annotated[bool, typer.Option("--idle-noise/--no-idle-noise", help="Schedule with delays so waiting qubits relax (simulators).")] = True,
    dd: DD = False,
    mitigate: Annotated[bool, typer.Option("--mitigate/--no-mitigate", help=(
        "Also run the local readout calibration of the read-out qubits (2 circuits) and report the readout-error-mitigated "
        "fidelities beside the raw ones."))] = False,
    seed: Seed = 0,
    quiet: Quiet = False,
    json_out: Json = False,
    jsonl: Jsonl = False,
) -> None:
    """Fidelity of the decrypted clone from counts for every n; writes CSV and a PNG plot."""
    from qclone.hardware.experiment import measure_fidelity
    from qclone.hardware.report import plot_results, write_csv

    check_json_flags(json_out, jsonl)
    ns, dev = _clones_and_device(clones, decrypt, backend)
    dd_sequence = _check_dd(dd)
    run_with = _runner(runner, dev, method, noise, max_bond, truncation)
    results = []
    with progress(f"{backend}: n = {ns[0]}", total=len(ns), quiet=quiet) as bar:
        for n in ns:
            bar.update(description=f"{backend}: n = {n}")
            r = measure_fidelity(
                dev, n, shots=shots, runner=run_with, decrypt=decrypt, entangled=entangled,
                bootstrap=bootstrap, confidence=confidence, seed=seed, idle_noise=idle_noise, name=backend,
                mitigate=mitigate, dd=dd_sequence,
            )  # fmt: skip
            bar.advance()
            results.append(r)
            if jsonl:
                print_jsonl(r.to_dict())
            elif not json_out:
                _print_result(r)
    if json_out:
        print_json([r.to_dict() for r in results])
    stem = f"hardware_{backend}"
    csv_path = write_csv(results, output_dir / f"{stem}.csv")
    png_path = plot_results(results, output_dir / f"{stem}.png")
    (note if json_out or jsonl else typer.echo)(f"wrote {csv_path} and {png_path}")  # stdout keeps only the JSON


def _print_result(r) -> None:  # noqa: ANN001 - FidelityResult
    t = Table(title=f"{r.backend}, n = {r.clones}, decrypted clone S{r.decrypt}, {r.shots} shots per basis ({r.runner})")
    for col in ("quantity", "value", f"{r.confidence:.0%} interval"):
        t.add_column(col)
    t.add_row("average fidelity (6 cardinal inputs), raw", f"{r.average_fidelity:.4f}", f"[{r.ci_low:.4f}, {r.ci_high:.4f}]")
    if r.mitigated_fidelity is not None:
        t.add_row("average fidelity, readout-mitigated", f"{r.mitigated_fidelity:.4f}",
                  f"[{r.mitigated_ci_low:.4f}, {r.mitigated_ci_high:.4f}] (tomography counts only)")
    for label, f in r.state_fidelities.items():
        t.add_row(f"  input |{label}>", f"{f:.4f}", "")
    if r.bell_fidelity is not None:
        t.add_row("Bell fidelity of (R, clone), raw", f"{r.bell_fidelity:.4f}", f"[{r.bell_ci_low:.4f}, {r.bell_ci_high:.4f}]")
        if r.mitigated_bell_fidelity is not None:
            t.add_row("Bell fidelity of (R, clone), readout-mitigated", f"{r.mitigated_bell_fidelity:.4f}", "")
        t.add_row("concurrence of (R, clone)", f"{r.concurrence:.4f}", "")
    t.add_row("two-qubit gates / depth / 2q depth", f"{r.two_qubit_gates} / {r.depth} / {r.two_qubit_depth}", "")
    t.add_row("simulation time per shot", f"{r.seconds_per_shot:.4g} s", f"{r.circuits} circuits, {r.run_seconds:.1f} s")
    wide_console().print(t)


@hardware_app.command("layout")
def layout(
    backend: Backend,
    clones: ClonesList,
    decrypt: Decrypt = 1,
    seed: Annotated[int, typer.Option("--seed", min=0, help="seed_transpiler of both compilations.")] = 0,
    quiet: Quiet = False,
    json_out: Json = False,
    jsonl: Jsonl = False,
) -> None:
    """Gate counts of the heavy-hex schedule against Qiskit's preset pass manager (level 3)."""
    from qclone.hardware.check import check_schedule
    from qclone.hardware.compile import compile_protocol, qiskit_baseline
    from qclone.hardware.layout import max_clones

    check_json_flags(json_out, jsonl)
    ns, dev = _clones_and_device(clones, decrypt, backend)
    rows = []
    with progress(f"{backend}: compiling", total=len(ns), quiet=quiet) as bar:
        for n in ns:
            j = decrypt
            comp = compile_protocol(dev, n, j, input="bell", seed=seed, name=backend)
            base = qiskit_baseline(dev, n, j, input="bell", seed=seed)
            rows.append({
                "backend": backend, "clones": n, "decrypt": j, "max_clones": max_clones(dev),
                "physical_qubits": list(comp.layout.path), "schedule_check": check_schedule(comp.schedule).passed,
                "ours": comp.stats.to_dict(), "qiskit_o3": base.to_dict(),
                "two_qubit_reduction": 1 - comp.stats.two_qubit_gates / base.two_qubit_gates,
            })  # fmt: skip
            bar.advance()
            if jsonl:
                print_jsonl(rows[-1])
    if json_out:
        print_json(rows)
    if json_out or jsonl:
        return
    t = Table(title=f"{backend}: heavy-hex schedule vs Qiskit preset pass manager (level 3), native gates")
    for col in ("n", "2q ours", "2q Qiskit", "fewer", "depth ours", "depth Qiskit", "2q depth ours", "2q depth Qiskit", "check"):
        t.add_column(col, justify="right")
    for r in rows:
        o, q = r["ours"], r["qiskit_o3"]
        t.add_row(str(r["clones"]), str(o["two_qubit_gates"]), str(q["two_qubit_gates"]), f"{r['two_qubit_reduction']:.0%}",
                  str(o["depth"]), str(q["depth"]), str(o["two_qubit_depth"]), str(q["two_qubit_depth"]),
                  "pass" if r["schedule_check"] else "FAIL")  # fmt: skip
    wide_console().print(t)


@hardware_app.command("compare")
def compare(
    csv: Annotated[list[Path] | None, typer.Option("--csv", help="Results of `qclone hardware run` to compare (repeat for several columns).")] = None,
    clones: Annotated[str | None, typer.Option("--clones", "-n", help="Also predict these n (stim only).")] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="Also predict the routed circuit with idle relaxation over this device's whole schedule.")] = None,
    quiet: Quiet = False,
    json_out: Json = False,
    jsonl: Jsonl = False,
) -> None:
    """Measured fidelities against the Pauli-twirled stim model (heron preset): textbook and routed circuit."""
    from qclone.hardware.prediction import device_prediction
    from qclone.hardware.report import read_csv

    check_json_flags(json_out, jsonl)
    if not csv and clones is None:
        raise InvalidArgumentError("give --csv (results to compare) and/or --clones (n to predict)")
    columns: list[tuple[str, dict[int, dict[str, str]]]] = []
    for path in csv or []:
        if not path.is_file():
            raise InvalidArgumentError(f"no such results file: {path}")
        rows_of = read_csv(path)
        label = rows_of[0]["runner"] if rows_of else str(path)
        shown = f"{label} ({path.parent.name}/{path.name})" if len(csv or []) > 1 else label
        columns.append((shown, {int(row["clones"]): row for row in rows_of}))
    ns = sorted({n for _, col in columns for n in col} | set(parse_ints(clones, "--clones", MAX_SCALE_CLONES) if clones else []))
    dev = None
    if backend is not None:
        from qclone.hardware.devices import get_backend

        dev = get_backend(backend)
    rows = []
    with progress("predicting", total=len(ns), quiet=quiet) as bar:
        for n in ns:
            found = [col[n] for _, col in columns if n in col]
            j = int(found[0]["decrypt"]) if found else 1
            t = device_prediction(n, decrypt=j, backend=dev)
            row: dict = {"clones": n, "decrypt": j, "stim_routed": t.routed, "stim_textbook": t.textbook,
                         "stim_routed_idle": t.routed_idle, "duration": t.duration, "sources": []}  # fmt: skip
            for label, col in columns:
                m = col.get(n)
                aer = float(m["average_fidelity"]) if m else None
                row["sources"].append({
                    "source": label, "average_fidelity": aer,
                    "ci_low": float(m["ci_low"]) if m else None, "ci_high": float(m["ci_high"]) if m else None,
                    "seconds_per_shot": float(m["seconds_per_shot"]) if m and m.get("seconds_per_shot") else None,
                    "minus_stim_routed": None if aer is None else aer - t.routed,
                    "minus_stim_routed_idle": None if aer is None or t.routed_idle is None else aer - t.routed_idle,
                })  # fmt: skip
            first = row["sources"][0] if row["sources"] else {}  # the first --csv, also flat (one-file output)
            row |= {"backend": (columns[0][1].get(n) or {}).get("backend") if columns else None,
                    "measured": first.get("average_fidelity"), "ci_low": first.get("ci_low"), "ci_high": first.get("ci_high"),
                    "measured_minus_stim_routed": first.get("minus_stim_routed")}  # fmt: skip
            rows.append(row)
            bar.advance()
            if jsonl:
                print_jsonl(row)
    if json_out:
        print_json(rows)
    if json_out or jsonl:
        return
    table = Table(title="Average fidelity: measured (from counts) vs Pauli-twirled stim model (heron medians)")
    table.add_column("n", justify="right")
    for label, _ in columns:
        table.add_column(f"{label} [interval]", justify="right")
        table.add_column("− routed", justify="right")
    table.add_column("stim, routed", justify="right")
    table.add_column("stim, textbook", justify="right")
    if dev is not None:
        table.add_column(f"stim, routed + idle ({backend} schedule)", justify="right")
    for r in rows:
        cells = [str(r["clones"])]
        for m in r["sources"]:
            if m["average_fidelity"] is None:
                cells += ["—", ""]
            else:
                cells += [f"{m['average_fidelity']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}]", f"{m['minus_stim_routed']:+.4f}"]
        idle = [f"{r['stim_routed_idle']:.4f} ({r['duration'] * 1e6:.1f} µs)"] if dev is not None else []
        table.add_row(*cells, f"{r['stim_routed']:.4f}", f"{r['stim_textbook']:.4f}", *idle)
    wide_console().print(table)


@hardware_app.command("modules")
def modules(
    backend: Backend,
    shots: Annotated[int, typer.Option("--shots", help="Shots per measurement basis and input state.")],
    kind: Annotated[str, typer.Option("--kind", help="Comma-separated: parallel, series, interleaved.")] = "parallel,series,interleaved",
    clones: Annotated[int, typer.Option("--clones", "-n", help="Clones per module.")] = 2,
    levels: Annotated[int, typer.Option("--levels", help="Modules in the series (clone 1 re-cloned levels - 1 times).")] = 2,
    decrypt: Decrypt = 1,
    output_dir: OutputDir = Path("hardware-results"),
    runner: Runner = "aer",
    method: Annotated[str, typer.Option("--method", help="Aer method: auto, density_matrix (dm), matrix_product_state (mps), statevector.")] = "auto",
    noise: Annotated[str, typer.Option("--noise", help="device (Aer's device model) or twirled (its Pauli twirl).")] = "device",
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap rounds for the confidence intervals.")] = 200,
    confidence: Annotated[float, typer.Option("--confidence", help="Central probability of the intervals.")] = 0.95,
    idle_noise: Annotated[bool, typer.Option("--idle-noise/--no-idle-noise", help="Schedule with delays so waiting qubits relax (simulators).")] = True,
    seed: Seed = 0,
    quiet: Quiet = False,
    json_out: Json = False,
    jsonl: Jsonl = False,
) -> None:
    """Parallel, series and interleaved modules on the device: fidelity of the decrypted data from counts."""
    import csv as csv_module

    from qclone.hardware.composition import check_kind, measure_modules
    from qclone.hardware.devices import get_backend

    check_json_flags(json_out, jsonl)
    kinds = [check_kind(k) for k in (t.strip() for t in kind.split(",")) if k]
    if not kinds:
        raise InvalidArgumentError("--kind is empty")
    check_clones(clones, MAX_SCALE_CLONES)
    dev = get_backend(backend)  # a bad backend is refused before the n = 1 warning
    warn_single_clone(clones)
    run_with = _runner(runner, dev, method, noise)
    results = []
    with progress(f"{backend}: modules", total=len(kinds), quiet=quiet) as bar:
        for k in kinds:
            bar.update(description=f"{backend}: {k} modules")
            r = measure_modules(dev, k, clones, shots=shots, runner=run_with, levels=levels, decrypt=decrypt, bootstrap=bootstrap,
                                confidence=confidence, seed=seed, idle_noise=idle_noise, name=backend)  # fmt: skip
            bar.advance()
            results.append(r)
            if jsonl:
                print_jsonl(r.to_dict())
    if json_out:
        print_json([r.to_dict() for r in results])
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"modules_{backend}.csv"
    fields = ["backend", "runner", "kind", "clones", "levels", "decrypt", "data_qubits", "qubits", "shots", "fidelity", "ci_low",
              "ci_high", "confidence", "qubit_fidelities", "two_qubit_gates", "depth", "two_qubit_depth", "seconds"]  # fmt: skip
    with path.open("w", newline="") as fh:
        w = csv_module.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in results:
            d = r.to_dict()
            d["qubit_fidelities"] = " ".join(f"{x:.4f}" for x in r.qubit_fidelities)
            w.writerow({f: d[f] for f in fields})
    if not json_out and not jsonl:
        t = Table(title=f"{backend}: modules, n = {clones} per module, decrypted data from counts ({results[0].runner})")
        for col in ("kind", "qubits", "2q gates", "depth", "fidelity (data register)", f"{confidence:.0%} interval", "per data qubit"):
            t.add_column(col, justify="right")
        for r in results:
            t.add_row(r.kind if r.kind != "series" else f"series ({r.levels} levels)", str(r.qubits), str(r.two_qubit_gates), str(r.depth),
                      f"{r.fidelity:.4f}", f"[{r.ci_low:.4f}, {r.ci_high:.4f}]", ", ".join(f"{x:.4f}" for x in r.qubit_fidelities))  # fmt: skip
        wide_console().print(t)
    (note if json_out or jsonl else typer.echo)(f"wrote {path}")


@hardware_app.command("predict")
def predict_command(
    backend: Backend,
    variant: Annotated[str | None, typer.Option("--variant", help=(
        "Comma-separated circuit variants (today and those of qclone.hardware.variants); default: all of them."))] = None,
    timing: Annotated[str, typer.Option("--timing", help=(
        "Comma-separated scheduling policies, each with the device's gate durations: alap (as late as possible, what "
        "`hardware run` uses) and/or asap."))] = "alap",
    dd: DD = False,
    clones: Annotated[str | None, typer.Option("--clones", "-n", help=(
        "Predict these n only (comma-separated) instead of searching the largest n above 2/3."))] = None,
    max_clones: Annotated[int | None, typer.Option("--max-clones", min=1, help=(
        "Largest n searched (default: the most clones the backend's path holds)."))] = None,
    error_scale: Annotated[float, typer.Option("--error-scale", min=0.0, help=(
        "Multiply every error probability and 1/T1, 1/T2 of the device by this (1: as calibrated), "
        "e.g. 0.5 for a device twice as good."))] = 1.0,
    quiet: Quiet = False,
    json_out: Json = False,
    jsonl: Jsonl = False,
) -> None:
    """Largest n above the classical limit 2/3 per technique, from the scheduled stim model (exact, seconds per n).

    The model: the device circuit scheduled with the device's durations, the twirled error of every gate
    of the device's Aer model, twirled T1/T2 relaxation in every idle window, the clone's readout error;
    its number is exact (no sampling). docs/hardware.md compares it with Aer.
    """
    import math

    from qclone.hardware.devices import get_backend, is_fake
    from qclone.hardware.idle import SCHEDULES
    from qclone.hardware.layout import max_clones as path_max
    from qclone.hardware.predict import largest_clones, predict, variant_names

    check_json_flags(json_out, jsonl)
    if not math.isfinite(error_scale):
        raise InvalidArgumentError(f"--error-scale must be a finite number, got {error_scale}")
    known = variant_names()
    variants = [v.strip() for v in (variant or ",".join(known)).split(",") if v.strip()]
    for v in variants:
        if v not in known:
            raise InvalidArgumentError(f"unknown --variant {v!r}; choose among {', '.join(known)}")
    timings = [tm.strip() for tm in timing.split(",") if tm.strip()]
    for tm in timings:
        if tm not in SCHEDULES:
            raise InvalidArgumentError(f"unknown --timing {tm!r}; choose among {', '.join(SCHEDULES)}")
    if not variants or not timings:
        raise InvalidArgumentError("--variant and --timing need at least one value each")
    sequence = _check_dd(dd)
    if not is_fake(backend):
        raise InvalidArgumentError("hardware predict needs an offline device model (fake_...): it reads the calibration "
                                   "from the model, never from an account")
    dev = get_backend(backend)
    top = path_max(dev)
    if max_clones is not None and max_clones > top:
        raise InvalidArgumentError(f"--max-clones {max_clones} is more than {backend} holds ({top})")
    ns = parse_ints(clones, "--clones", top) if clones else None
    if ns is not None and any(n < 1 or n > top for n in ns):
        raise InvalidArgumentError(f"every number of clones must be between 1 and {top} on {backend}")
    rows: list[dict[str, Any]] = []
    combos = [(v, tm) for v in variants for tm in timings]
    with progress(f"{backend}: predicting", total=len(combos), quiet=quiet) as bar:
        for v, tm in combos:
            bar.update(description=f"{backend}: {v}, {tm}")
            if ns is not None:
                for n in ns:
                    p = predict(dev, n, variant=v, policy=tm, dd=sequence, scale=error_scale, name=backend)
                    row: dict[str, Any] = {"backend": backend, "variant": v, "timing": tm, "dd": sequence, "error_scale": error_scale, "clones": n,
                           "average_fidelity": p.average_fidelity, "above_classical": p.above_classical,
                           "two_qubit_gates": p.stats.two_qubit_gates, "two_qubit_depth": p.stats.two_qubit_depth,
                           "duration": p.stats.idle.duration, "idle_qubit_seconds": p.stats.idle.idle_qubit_seconds,
                           "dd_pulses": p.stats.idle.dd_pulses, "seconds": p.seconds}  # fmt: skip
                    rows.append(row)
                    if jsonl:
                        print_jsonl(row)
            else:
                found = largest_clones(dev, variant=v, policy=tm, dd=sequence, scale=error_scale, limit=max_clones, name=backend)
                row = {"backend": backend, "variant": v, "timing": tm, "dd": sequence, "error_scale": error_scale,
                       "largest_clones": found.clones, "fidelity": found.fidelity, "next_fidelity": found.next_fidelity,
                       "max_clones": found.limit, "points": {str(k): f for k, f in sorted(found.points.items())},
                       "seconds": found.seconds}  # fmt: skip
                rows.append(row)
                if jsonl:
                    print_jsonl(row)
            bar.advance()
    if json_out:
        print_json(rows)
    if json_out or jsonl:
        return
    extra = ", DD X-X (pulse errors only)" if sequence else ""
    scale_note = "" if error_scale == 1 else f", errors × {error_scale:g}"
    if ns is not None:
        table = Table(title=f"{backend}: scheduled stim model (exact){extra}{scale_note}")
        for col in ("variant", "timing", "n", "average fidelity", "> 2/3", "2q gates", "2q depth", "duration µs", "idle µs (summed)"):
            table.add_column(col, justify="right")
        for r in rows:
            table.add_row(r["variant"], r["timing"], str(r["clones"]), f"{r['average_fidelity']:.4f}", "yes" if r["above_classical"] else "no",
                      str(r["two_qubit_gates"]), str(r["two_qubit_depth"]), f"{r['duration'] * 1e6:.2f}",
                      f"{r['idle_qubit_seconds'] * 1e6:.2f}")  # fmt: skip
    else:
        table = Table(title=f"{backend}: largest n with average fidelity > 2/3, scheduled stim model (exact, no sampling){extra}{scale_note}")
        for col in ("variant", "timing", "largest n", "F(n)", "F(n + 1)", "model s"):
            table.add_column(col, justify="right")
        for r in rows:
            f = "—" if r["fidelity"] is None else f"{r['fidelity']:.4f}"
            g = "—" if r["next_fidelity"] is None else f"{r['next_fidelity']:.4f}"
            table.add_row(r["variant"], r["timing"], str(r["largest_clones"]), f, g, f"{r['seconds']:.1f}")
    wide_console().print(table)
