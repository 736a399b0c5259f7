"""``qclone audit`` and ``qclone classify``: who learns what from which qubits (thin layer over
:mod:`qclone.analysis.leakage`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from qclone.analysis.leakage import (
    BUILTIN_POLICIES,
    KINDS,
    STAGE_HELP,
    AuditReport,
    SubsetCensus,
    audit_placement,
    canonical_stage,
    enumerate_sets,
    expand_label,
    placement_from_option,
    protocol_analyzer,
    protocol_label_index,
    protocol_labels,
    subset_census,
)
from qclone.analysis.leakage.analyzer import abbreviate
from qclone.analysis.leakage.census import METHODS
from qclone.cli.exits import CHECK_FAILED
from qclone.cli.options import MAX_SCALE_CLONES, Clones, Json, Qubits, Quiet, check_clones
from qclone.cli.output import console, print_json, progress, warn, warn_single_clone
from qclone.errors import InvalidArgumentError
from qclone.protocol import Layout

#: Placements with more parties are shown abbreviated in the human output (JSON has them all).
MAX_PARTIES_SHOWN = 12

Stage = Annotated[str, typer.Option("--stage", help=f"Point of the lifecycle: {STAGE_HELP}.")]


def _line(text: str) -> None:
    """One plain line (no markup, no wrapping: scripts and docs match it exactly)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _bits(x: float) -> str:
    return f"{x:g} bit{'' if x == 1 else 's'}"


def audit(
    clones: Clones,
    placement: Annotated[str | None, typer.Option(
        "--placement", help=f"A YAML/JSON placement file or a built-in policy ({', '.join(BUILTIN_POLICIES)}); "
                            "default: providers.")] = None,
    max_coalition: Annotated[int, typer.Option(
        "--max-coalition", help="Examine coalitions of up to K parties (0: none by size, only all clone holders together).")] = 2,
    qubits: Qubits = 1,
    stage: Stage = "encrypted",
    all_subsets: Annotated[bool, typer.Option(
        "--all-subsets", help="Instead of a placement: count authorized / partial / none sets over all subsets.")] = False,
    list_kind: Annotated[str | None, typer.Option(
        "--list", help=f"With --all-subsets: also list every set of this kind ({', '.join(KINDS)}); n <= 8.")] = None,
    method: Annotated[str, typer.Option("--method", help=f"With --all-subsets: {', '.join(METHODS)}.")] = "auto",
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Report every coalition of parties that can recover or partly learn the stored state; exit status 1 if the placement is not safe."""
    check_clones(clones, MAX_SCALE_CLONES)
    if max_coalition < 0:
        raise InvalidArgumentError(f"--max-coalition must be at least 0, got {max_coalition}")
    Layout(clones)
    stage = canonical_stage(clones, stage)
    if all_subsets:
        if placement is not None or qubits != 1:
            raise InvalidArgumentError("--all-subsets counts sets of qubits; it takes no --placement or --qubits")
        _census(clones, stage, method, list_kind, json_out, quiet)
        return
    if list_kind is not None or method != "auto":
        raise InvalidArgumentError("--list and --method go with --all-subsets")
    chosen = placement_from_option(placement or "providers", clones)
    with progress("examining coalitions", quiet=quiet):
        report = audit_placement(clones, chosen, max_coalition=max_coalition, qubits=qubits, stage=stage)
    for w in report.warnings:
        warn(w)
    if json_out:
        print_json(report.to_dict())
    else:
        _print_audit(report)
    if not report.safe:
        raise typer.Exit(CHECK_FAILED)


def _print_audit(r: AuditReport) -> None:
    p = r.placement
    register = f", a register of {r.qubits} qubits" if r.qubits > 1 else ""
    _line(f"Leakage audit: placement {p.name!r}, n = {r.clones} clones, stage {r.stage}{register}, "
          f"coalitions of up to {min(r.max_coalition, len(p.parties))} of {len(p.parties)} parties ({r.examined} examined)")
    order = {label: i for i, label in enumerate(Layout(r.clones).labels)}
    shown = list(p.parties.items())
    if len(shown) > MAX_PARTIES_SHOWN:
        shown = shown[:MAX_PARTIES_SHOWN - 2] + [("...", frozenset())] + shown[-2:]
    for party, held in shown:
        if party == "..." and not held:
            _line(f"  ... ({len(p.parties) - MAX_PARTIES_SHOWN + 2} more parties)")
            continue
        _line(f"  {party}: {abbreviate(sorted(held, key=order.__getitem__), limit=12, sep=' ') or '(nothing)'}")
    if r.findings:
        t = Table(title="Coalitions that learn something (* = minimal: every smaller part learns less)")
        for col in ("coalition", "qubits", "verdict", "learns", "I(R:C)", "intended"):
            t.add_column(col)
        for f in r.findings:
            t.add_row(("* " if f.minimal else "  ") + abbreviate(f.coalition), abbreviate(f.qubits, limit=12, sep=" "), f.classification.kind,
                      f.learns, _bits(f.classification.mutual_information_bits), "yes" if f.intended else "[red]NO[/red]")
        console.print(t)
        for f in r.findings:
            for w in f.witnesses:
                _line(f"{abbreviate(f.coalition)} measures {w.text(limit=12)}")
    else:
        _line("No coalition examined learns anything about the state.")
    if r.clone_holders_classification is not None:
        c = r.clone_holders_classification
        learns = "everything" if c.kind == "authorized" else (", ".join(c.leaked) or "nothing")
        _line(f"All clone holders together ({abbreviate(r.clone_holders)}): {c.kind}, learn {learns}, "
              f"{_bits(c.mutual_information_bits)}.")
    for note in r.notes:
        _line(f"note: {note}")
    _line("verdict: safe (only intended coalitions learn anything)" if r.safe else "verdict: NOT SAFE (see the warnings)")


def _census(clones: int, stage: str, method: str, list_kind: str | None, json_out: bool, quiet: bool) -> None:
    if list_kind is not None and list_kind not in KINDS:
        raise InvalidArgumentError(f"--list takes one of {', '.join(KINDS)}, got {list_kind!r}")
    listing = enumerate_sets(clones, stage=stage, kind=list_kind) if list_kind else iter(())
    with progress(f"classifying the subsets of {2 * clones + 1} qubits", quiet=quiet):
        census = subset_census(clones, stage=stage, method=method)
        listed = list(listing)
    warn_single_clone(clones)
    if json_out:
        d = census.to_dict()
        if list_kind:
            d["sets"] = [{"qubits": list(labels), **c.to_dict()} for labels, c in listed]
        print_json(d)
        return
    _print_census(census)
    if list_kind:
        _line(f"{len(listed)} {list_kind} set(s):")
        for labels, c in listed:
            leaked = f"  leaks {', '.join(c.leaked)}" if c.kind == "partial" else ""
            _line(f"  {{{', '.join(labels)}}}{leaked}")


def _print_census(c: SubsetCensus) -> None:
    how = "every subset" if c.method == "enumeration" else "one query per orbit of the pair symmetry, checked"
    _line(f"All subsets of A, S1..S{c.clones}, N1..N{c.clones} (n = {c.clones}, stage {c.stage}; exact, {how}, "
          f"{c.queries} queries):")
    for name, k in (("without A", c.without_input), ("with A", c.with_input)):
        leaks = f" ({', '.join(f'{leak}: {count}' for leak, count in k.partial_leaks)})" if k.partial_leaks else ""
        _line(f"  {name + ':':<10} {k.authorized} authorized, {k.partial} partial{leaks}, {k.none} none, {k.total} total")


def classify(
    qubits: Annotated[list[str], typer.Argument(
        help="Qubit labels A, S1.., N1.. (commas also separate); patterns S*, N*, S1..S4.", show_default=False)],
    clones: Clones,
    stage: Stage = "encrypted",
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Classify one set of qubits: authorized, partial (and what leaks) or none, with I(R:set)."""
    check_clones(clones, MAX_SCALE_CLONES)
    Layout(clones)
    index = protocol_label_index(clones)
    labels = tuple(sorted(protocol_labels(clones, [label for arg in qubits for q in arg.split(",") if q.strip()
                                                   for label in expand_label(q, clones)]), key=index.__getitem__))
    if not labels:
        raise InvalidArgumentError("give at least one qubit label")
    with progress(f"classifying {len(labels)} qubit(s)", quiet=quiet):
        analyzer = protocol_analyzer(clones, stage=stage)
        c = analyzer.classify(labels)
        witnesses = analyzer.witnesses(labels) if c.kind != "none" else ()
    warn_single_clone(clones)
    if json_out:
        print_json({"clones": clones, "stage": canonical_stage(clones, stage), "qubits": list(labels), **c.to_dict(),
                    "witnesses": [w.to_dict() for w in witnesses]})
        return
    leaks = {"authorized": "the whole state can be recovered", "none": "independent of the input"}.get(
        c.kind, f"leaks {', '.join(c.leaked)}")
    _line(f"{{{abbreviate(labels, limit=12, sep=', ')}}}: {c.kind} ({leaks}), I(R:set) = {_bits(c.mutual_information_bits)}")
    for w in witnesses:
        _line(f"  {w.text(limit=12)}")
