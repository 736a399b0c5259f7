"""``qclone hardware run`` and ``qclone hardware layout``: IBM devices, offline or real."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qclone.cli.options import Json, Seed
from qclone.cli.output import print_json, warn
from qclone.cli.scale import ClonesList, _ints, _warn_n1, _wide
from qclone.errors import InvalidArgumentError

hardware_app = typer.Typer(
    name="hardware",
    help="Run encrypted cloning on IBM Heron devices (offline models or, with an account, real hardware).",
    no_args_is_help=True,
)

Backend = Annotated[str, typer.Option("--backend", help="fake_fez, fake_marrakesh, fake_kingston, fake_aachen, fake_torino, or ibm_<name> (needs an IBM Quantum account).")]
RUNNERS = ("aer", "sampler")


def _runner(name: str, backend, method: str):  # noqa: ANN001, ANN202
    from qclone.hardware.backends import AerRunner, SamplerRunner
    from qclone.hardware.devices import is_fake

    if name not in RUNNERS:
        raise InvalidArgumentError(f"unknown runner {name!r}; choose one of {', '.join(RUNNERS)}")
    if not is_fake(backend.name if hasattr(backend, "name") else "") and name == "aer":
        return SamplerRunner(backend)  # a real device always runs through SamplerV2
    return AerRunner(backend, method=method) if name == "aer" else SamplerRunner(backend)


Decrypt = Annotated[int, typer.Option("--decrypt", help="Which clone to decrypt.")]


def _clones_and_device(clones: str, decrypt: int, backend: str):  # noqa: ANN202 - (list[int], BackendV2)
    """The parsed ``--clones`` (validated with ``--decrypt``; n = 1 warns) and the device."""
    from qclone.hardware.devices import get_backend

    ns = _ints(clones, "--clones")
    if any(n < 1 for n in ns):
        raise InvalidArgumentError(f"every number of clones must be >= 1, got {clones!r}")
    if not 1 <= decrypt <= min(ns):
        raise InvalidArgumentError(f"--decrypt {decrypt} must be between 1 and the smallest n ({min(ns)})")
    _warn_n1(ns)
    return ns, get_backend(backend)


@hardware_app.command("run")
def run(
    backend: Backend,
    clones: ClonesList,
    shots: Annotated[int, typer.Option("--shots", help="Shots per measurement basis and input state.")],
    decrypt: Decrypt = 1,
    out: Annotated[Path, typer.Option("--out", help="Directory for the CSV and the plot.")] = Path("hardware-results"),
    runner: Annotated[str, typer.Option("--runner", help="aer (AerSimulator.from_backend) or sampler (qiskit-ibm-runtime SamplerV2).")] = "aer",
    method: Annotated[str, typer.Option("--method", help="Aer method: auto, density_matrix, matrix_product_state.")] = "auto",
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap rounds for the confidence intervals.")] = 200,
    confidence: Annotated[float, typer.Option("--confidence", help="Central probability of the intervals.")] = 0.95,
    entangled: Annotated[bool, typer.Option("--entangled/--no-entangled", help="Also measure (R, clone): Bell fidelity and concurrence.")] = True,
    idle_noise: Annotated[bool, typer.Option("--idle-noise/--no-idle-noise", help="Schedule with delays so waiting qubits relax (simulators).")] = True,
    seed: Seed = 0,
    json_out: Json = False,
) -> None:
    """Fidelity of the decrypted clone from counts for every n; writes CSV and a PNG plot."""
    from qclone.hardware.experiment import measure_fidelity
    from qclone.hardware.report import plot_results, write_csv

    ns, dev = _clones_and_device(clones, decrypt, backend)
    run_with = _runner(runner, dev, method)
    results = []
    for n in ns:
        r = measure_fidelity(
            dev, n, shots=shots, runner=run_with, decrypt=decrypt, entangled=entangled,
            bootstrap=bootstrap, confidence=confidence, seed=seed, idle_noise=idle_noise, name=backend,
        )  # fmt: skip
        results.append(r)
        if json_out:
            print_json(r.to_dict())
        else:
            _print_result(r)
    stem = f"hardware_{backend}"
    csv_path = write_csv(results, out / f"{stem}.csv")
    png_path = plot_results(results, out / f"{stem}.png")
    (warn if json_out else typer.echo)(f"wrote {csv_path} and {png_path}")


def _print_result(r) -> None:  # noqa: ANN001 - FidelityResult
    t = Table(title=f"{r.backend}, n = {r.clones}, decrypted clone S{r.decrypt}, {r.shots} shots per basis ({r.runner})")
    for col in ("quantity", "value", f"{r.confidence:.0%} interval"):
        t.add_column(col)
    t.add_row("average fidelity (6 cardinal inputs)", f"{r.average_fidelity:.4f}", f"[{r.ci_low:.4f}, {r.ci_high:.4f}]")
    for label, f in r.state_fidelities.items():
        t.add_row(f"  input |{label}>", f"{f:.4f}", "")
    if r.bell_fidelity is not None:
        t.add_row("Bell fidelity of (R, clone)", f"{r.bell_fidelity:.4f}", f"[{r.bell_ci_low:.4f}, {r.bell_ci_high:.4f}]")
        t.add_row("concurrence of (R, clone)", f"{r.concurrence:.4f}", "")
    t.add_row("two-qubit gates / depth / 2q depth", f"{r.two_qubit_gates} / {r.depth} / {r.two_qubit_depth}", "")
    _wide().print(t)


@hardware_app.command("layout")
def layout(
    backend: Backend,
    clones: ClonesList,
    decrypt: Decrypt = 1,
    seed: Annotated[int, typer.Option("--seed", help="seed_transpiler of both compilations.")] = 0,
    json_out: Json = False,
) -> None:
    """Gate counts of the heavy-hex schedule against Qiskit's preset pass manager (level 3)."""
    from qclone.hardware.check import check_schedule
    from qclone.hardware.compile import compile_protocol, qiskit_baseline
    from qclone.hardware.layout import max_clones

    ns, dev = _clones_and_device(clones, decrypt, backend)
    rows = []
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
    if json_out:
        for row in rows:
            print_json(row)
        return
    t = Table(title=f"{backend}: heavy-hex schedule vs Qiskit preset pass manager (level 3), native gates")
    for col in ("n", "2q ours", "2q Qiskit", "fewer", "depth ours", "depth Qiskit", "2q depth ours", "2q depth Qiskit", "check"):
        t.add_column(col, justify="right")
    for r in rows:
        o, q = r["ours"], r["qiskit_o3"]
        t.add_row(str(r["clones"]), str(o["two_qubit_gates"]), str(q["two_qubit_gates"]), f"{r['two_qubit_reduction']:.0%}",
                  str(o["depth"]), str(q["depth"]), str(o["two_qubit_depth"]), str(q["two_qubit_depth"]),
                  "pass" if r["schedule_check"] else "FAIL")  # fmt: skip
    _wide().print(t)


@hardware_app.command("compare")
def compare(
    csv: Annotated[Path | None, typer.Option("--csv", help="Results of `qclone hardware run` (Aer or hardware) to compare.")] = None,
    clones: Annotated[str | None, typer.Option("--clones", "-n", help="Also predict these n (stim only).")] = None,
    json_out: Json = False,
) -> None:
    """Measured fidelities against the Pauli-twirled stim model (heron preset): textbook and routed circuit."""
    from qclone.hardware.report import read_csv
    from qclone.hardware.twirl import twirled_prediction

    if csv is None and clones is None:
        raise InvalidArgumentError("give --csv (results to compare) and/or --clones (n to predict)")
    measured: dict[int, dict[str, str]] = {}
    if csv is not None:
        if not csv.is_file():
            raise InvalidArgumentError(f"no such results file: {csv}")
        measured = {int(row["clones"]): row for row in read_csv(csv)}
    ns = sorted(set(measured) | set(_ints(clones, "--clones") if clones else []))
    rows = []
    for n in ns:
        m = measured.get(n)
        j = int(m["decrypt"]) if m else 1
        t = twirled_prediction(n, decrypt=j)
        aer = float(m["average_fidelity"]) if m else None
        rows.append({
            "clones": n, "decrypt": j, "backend": m["backend"] if m else None,
            "measured": aer, "ci_low": float(m["ci_low"]) if m else None, "ci_high": float(m["ci_high"]) if m else None,
            "stim_routed": t.routed, "stim_textbook": t.textbook,
            "measured_minus_stim_routed": None if aer is None else aer - t.routed,
        })  # fmt: skip
    if json_out:
        for row in rows:
            print_json(row)
        return
    t = Table(title="Average fidelity: measured (from counts) vs Pauli-twirled stim model (heron medians)")
    for col in ("n", "measured", "interval", "stim, routed", "stim, textbook", "measured − routed"):
        t.add_column(col, justify="right")
    for r in rows:
        has = r["measured"] is not None
        t.add_row(str(r["clones"]), f"{r['measured']:.4f}" if has else "—", f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}]" if has else "",
                  f"{r['stim_routed']:.4f}", f"{r['stim_textbook']:.4f}", f"{r['measured_minus_stim_routed']:+.4f}" if has else "")  # fmt: skip
    _wide().print(t)
