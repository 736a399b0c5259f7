"""``--qubits``, ``--series`` and ``--dim`` for ``qclone circuit`` and ``qclone verify``.

Registers (k qubits, each with its own clones and key), modules in series and
qudits. ``qclone/cli/protocol.py`` hands over to these functions when one of
the options asks for more than one qubit, one module or qubits of dimension 2
with the qubit circuits; every combination that means nothing is a one-line
error (exit status 2).
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from qclone.analysis.composition import MAX_EXACT_QUBITS, CompositionReport, verify_composition
from qclone.analysis.qudit_verify import QUDIT_PROPERTY_TITLES, QuditReport, verify_qudit
from qclone.analysis.verify_scale import DEFAULT_SAMPLE
from qclone.cli.output import console, print_json, warn_single_clone
from qclone.errors import InvalidArgumentError, is_int
from qclone.protocol import DecryptTarget, Layout, protocol_circuit, render, series_composition
from qclone.protocol.build import check_depth
from qclone.protocol.composition import SCHEDULES, SERIES_TARGETS
from qclone.protocol.layout import check_register_size
from qclone.sim.engine import CORE, DENSE, Engine


def wants_composition(qubits: int, series: int, series_target: str | None, schedule: str | None) -> bool:
    """Whether the options ask for a register or a series composition (else the one-qubit path)."""
    check_register_size(qubits)
    if not is_int(series) or series < 1:
        raise InvalidArgumentError(f"--series must be an integer >= 1, got {series!r}")
    if series_target is not None and series == 1:
        raise InvalidArgumentError("--series-target needs --series M with M >= 2")
    if schedule is not None and series == 1:
        raise InvalidArgumentError("--schedule applies to series compositions (--series M >= 2); "
                                   "the modules of a register always run side by side")
    return qubits > 1 or series > 1


def register_or_series_circuit(
    clones: int, qubits: int, series: int, series_target: str | None, schedule: str | None,
    decrypt: DecryptTarget | None, depth: str, fmt: str, json_out: bool,
) -> None:
    """``qclone circuit`` for a register (``--qubits``) or a series composition (``--series``)."""
    depth = check_depth(depth)
    target = series_target or "clone"
    if target not in SERIES_TARGETS:
        raise InvalidArgumentError(f"--series-target must be one of {', '.join(SERIES_TARGETS)}, got {target!r}")
    sched = schedule or "sequential"
    if sched not in SCHEDULES:
        raise InvalidArgumentError(f"unknown schedule {sched!r}; choose one of {', '.join(SCHEDULES)}")
    info: dict = {"clones": clones, "qubits": qubits, "series": series, "decrypt": decrypt}
    if series == 1:
        lay = Layout(clones, qubits=qubits)
        circ = protocol_circuit(lay, decrypt=decrypt, depth=depth)
        outputs = [] if decrypt is None else [lay.label(q, long=True) for q in lay.output_qubits(decrypt)]
    else:
        comp = series_composition(qubits, clones, series, target=target)
        if decrypt == "A":
            raise InvalidArgumentError("--decrypt A needs --series 1: in a series the data comes back on a clone of the last level")
        circ = comp.encryption_circuit(schedule=sched, depth=depth)
        steps: tuple = ()
        if decrypt is not None:
            steps = comp.unwind(comp.modules[-1].name, decrypt)
            circ = circ + comp.decryption_circuit(steps, depth=depth)
        outputs = [] if decrypt is None else [comp.labels[q] for q in comp.output_qubits(steps)]
        info |= {"series_target": target, "schedule": sched,
                 "modules": [{"name": m.name, "clones": m.clones, "inputs": list(m.inputs)} for m in comp.modules],
                 "decryption_steps": [list(s) for s in steps]}
    warn_single_clone(clones)
    text = render(circ, fmt)
    if json_out:
        print_json(info | {
            "depth_variant": depth, "format": fmt, "num_qubits": circ.num_qubits,
            "two_qubit_gates": circ.num_two_qubit_gates, "depth": circ.depth, "two_qubit_depth": circ.two_qubit_depth,
            "output_qubits": outputs, "circuit": text,
        })
        return
    typer.echo(text)


def verify_register_or_series(
    clones: int, qubits: int, series: int, series_target: str | None, engine: Engine[Any] | None, seed: int,
    sample: int | None, depth: str, json_out: bool,
) -> None:
    """``qclone verify`` for a register or a series composition: recovery, marginals, leakage, schedules.

    ``engine=None`` picks the dense engine while the composition and its reference fit
    :data:`~qclone.analysis.composition.MAX_EXACT_QUBITS` qubits, the core engine beyond.
    """
    target = series_target or "clone"
    comp = series_composition(qubits, clones, series, target=target)
    if engine is None:
        engine = DENSE if comp.num_qubits + comp.inputs <= MAX_EXACT_QUBITS else CORE
    warn_single_clone(clones)
    # --sample's default belongs to the one-qubit engine; compositions keep their own unless it is given
    kwargs = {} if sample in (None, DEFAULT_SAMPLE) else {"max_paths": sample, "max_marginals": sample}
    report = verify_composition(comp, engine=engine, seed=seed, depth=check_depth(depth), **kwargs)
    if json_out:
        print_json(report.to_dict() | {"clones": clones, "qubits": qubits, "series": series, "series_target": target})
    else:
        _print_composition(report)
    if not report.passed:
        raise typer.Exit(1)


def verify_qudits(clones: int, dim: int, *, qubits: int, series: int, depth: str, seed: int, json_out: bool) -> None:
    """``qclone verify --dim D``: the qudit protocol on the dense qudit engine."""
    if qubits != 1 or series != 1:
        raise InvalidArgumentError("--dim is for one qudit and one module; drop --qubits/--series")
    if depth != "linear":
        raise InvalidArgumentError("--depth selects a qubit circuit; qudit operators are dense")
    warn_single_clone(clones, dimension=dim)
    report = verify_qudit(dim, clones, seed=seed)
    if json_out:
        print_json(report.to_dict())
    else:
        _print_qudit(report)
    if not report.passed:
        raise typer.Exit(1)


def _print_checks(title: str, rows: list[tuple[str, str, float | None, float | None, bool]]) -> None:
    t = Table(title=title)
    for col in ("", "check", "value", "expected", "result"):
        t.add_column(col)
    for tag, name, value, expected, ok in rows:
        t.add_row(tag, name, "" if value is None else f"{value:.12g}", "" if expected is None else f"{expected:.12g}",
                  "pass" if ok else "[red]FAIL[/red]")
    console.print(t)


def _print_composition(report: CompositionReport) -> None:
    rows = [(str(c.group), c.name + (f" [{c.detail}]" if c.detail else ""), c.value, c.expected, c.passed) for c in report.checks]
    _print_checks(f"Composition ({report.num_qubits} qubits, {report.engine} engine, seed {report.seed}): {report.description}", rows)
    for line in report.skipped:
        console.print(f"skipped: {line}")
    console.print("all checks passed" if report.passed else f"[red]{len(report.failures)} check(s) failed[/red]")


def _print_qudit(report: QuditReport) -> None:
    rows = [(str(c.group), c.name + (f" [{c.detail}]" if c.detail else ""), c.value, c.expected, c.passed) for c in report.checks]
    _print_checks(f"Qudit encrypted cloning, d = {report.dimension}, n = {report.clones} (dense qudit engine, seed {report.seed})", rows)
    for k, title in QUDIT_PROPERTY_TITLES.items():
        mine = [c for c in report.checks if c.group == k]
        if mine:
            console.print(f"property {k}: {title}: {'pass' if all(c.passed for c in mine) else 'FAIL'}")
    console.print("all checks passed" if report.passed else f"[red]{len(report.failures)} check(s) failed[/red]")
