"""``qclone storage simulate``: the durability Monte Carlo of encrypted multi-cloud storage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from qclone.cli.options import Json, Qubits, Quiet, Seed, check_clones
from qclone.cli.output import console, print_json, progress, warn_single_clone, wide_console

storage_app = typer.Typer(
    help="Encrypted multi-cloud storage: durability simulation, placement planning, node keys (see docs/storage.md, docs/resilience.md).",
    no_args_is_help=True,
)


def _fmt_loss(row: dict) -> str:
    """The observed loss probability (exactly 0 when nothing was lost)."""
    lost = 1 - row["durability"]
    return "0" if row["lost"] == 0 else f"{lost:.3g}"


@storage_app.command("simulate")
def simulate(
    clones: Annotated[int, typer.Option("--clones", "-n", help="Encrypted clones per object, each at its own provider.")] = 4,
    failure_rate: Annotated[float, typer.Option(
        "--failure-rate", help="P: probability that a provider loses a given clone during the storage period.")] = 0.01,
    objects: Annotated[int, typer.Option("--objects", "-m", help="M: number of simulated objects.")] = 1_000_000,
    vault_failure_rate: Annotated[float, typer.Option("--vault-failure-rate", help="q: probability that the key vault loses a given key.")] = 0.0,
    storage_time: Annotated[float | None, typer.Option("--storage-time", help="Seconds each object is stored: also report the fidelity after storage.")] = None,
    t1: Annotated[float, typer.Option("--t1", help="Memory T1 (seconds) of providers and vault.")] = 3600.0,
    t2: Annotated[float, typer.Option("--t2", help="Memory T2 (seconds) of providers and vault.")] = 3600.0,
    qubits: Qubits = 1,
    seed: Seed = None,
    plot: Annotated[list[Path] | None, typer.Option(
        "--plot", help="Write a plot of loss probability (and fidelity) vs clones: .png, .svg or .pdf (repeat for several).")] = None,
    zones: Annotated[int, typer.Option("--zones", help="Z: zones the providers are spread over, round-robin (0: none); the vault is outside them.")] = 0,
    zone_failure_rate: Annotated[float, typer.Option(
        "--zone-failure-rate", help="r: probability that a zone fails, taking down every provider in it.")] = 0.0,
    compare: Annotated[bool, typer.Option(
        "--compare", help="Instead: every alternative on the same failure model, exactly (single copy, encrypted "
                          "cloning with the vault, keep-A, split key; ((3,5)) and ((2,3)) secret sharing).")] = False,
    custodian_failure_rate: Annotated[float | None, typer.Option(
        "--custodian-failure-rate", help="--compare: probability that the custodian keeping A loses it (default: P).")] = None,
    vaults: Annotated[int, typer.Option("--vaults", help="--compare: vaults the split key is spread over.")] = 2,
    qss_threshold: Annotated[int | None, typer.Option(
        "--qss-threshold", help="--compare: also the ((k,2k-1)) polynomial secret sharing with this k (qudits).")] = None,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Monte Carlo of durability: n encrypted clones vs a single plain copy (and fidelity after --storage-time)."""
    from qclone.analysis.durability import MAX_SIM_CLONES

    check_clones(clones, MAX_SIM_CLONES)
    if compare:
        from qclone.errors import InvalidArgumentError

        if plot or qubits != 1:
            raise InvalidArgumentError("--compare is exact and per input qubit: it takes neither --plot nor --qubits")
        _compare(clones=clones, failure_rate=failure_rate, vault_failure_rate=vault_failure_rate,
                 custodian_failure_rate=custodian_failure_rate, zones=zones, zone_failure_rate=zone_failure_rate,
                 vaults=vaults, qss_threshold=qss_threshold, storage_time=storage_time, t1=t1, t2=t2, json_out=json_out, quiet=quiet)
        warn_single_clone(clones)
        return
    from qclone.analysis.durability import plot_durability, summary_rows
    from qclone.analysis.durability import simulate as run_simulation
    from qclone.protocol.layout import check_register_size

    check_register_size(qubits)  # also when no --storage-time uses it

    with progress(f"simulating {objects:,} objects", quiet=quiet) as bar:
        result = run_simulation(
            clones=clones, failure_rate=failure_rate, objects=objects, vault_failure_rate=vault_failure_rate,
            storage_time=storage_time, t1=t1, t2=t2, qubits=qubits, seed=seed, zones=zones,
            zone_failure_rate=zone_failure_rate,
        )
        bar.update(description="plotting")
        files = [str(p) for p in plot_durability(result, plot)] if plot else []
    warn_single_clone(clones)
    if json_out:
        print_json(result | {"plots": files})
        return
    par = result["parameters"]
    zoned = f", {par['zones']} zones failing with r = {par['zone_failure_rate']:g}" if par["zones"] else ""
    title = (f"Durability of {par['objects']:,} objects: provider loss P = {par['failure_rate']:g}, "
             f"vault loss q = {par['vault_failure_rate']:g}{zoned} (Monte Carlo, Wilson 95 % interval)")
    t = Table(title=title)
    has_fidelity = result["fidelity"] is not None
    cols = ["storage", "providers", "retrievable", "lost", "durability", "95 % CI", "analytic", "loss"]
    if has_fidelity:
        cols += ["avg fidelity", "corrected"]
    for c in cols:
        t.add_column(c, justify="left" if c == "storage" else "right")
    for row in summary_rows(result):
        lo, hi = row["ci"]
        cells = [row["storage"], str(row["providers"]), f"{row['retrievable']:,}", f"{row['lost']:,}",
                 f"{row['durability']:.6f}", f"[{lo:.6f}, {hi:.6f}]", f"{row['analytic']:.6g}", _fmt_loss(row)]
        if has_fidelity:
            corr = row.get("fidelity_corrected")
            cells += [f"{row['fidelity']:.4f}", "-" if corr is None else f"{corr:.4f}"]
        t.add_row(*cells)
    wide_console().print(t)
    if has_fidelity:
        console.print("corrected: average fidelity of get --retrieval corrected with every holder live (A discarded); "
                      "- where it is not computed (n > 8) or the single copy")
        f = result["fidelity"]
        console.print(
            f"fidelity after {f['storage_time']:g} s (T1 = {f['t1']:g} s, T2 = {f['t2']:g} s, k = {f['qubits']}): "
            f"retrieved from {par['clones']} clones {f['encrypted']['average_fidelity']:.4f}, "
            f"single plain copy {f['single_copy']['average_fidelity']:.4f} "
            "(the retrieved state also went through the key's memory)"
        )
    for p in files:
        console.print(f"wrote {p}")


def _compare(*, json_out: bool, quiet: bool, **kwargs: object) -> None:
    from qclone.analysis.planner import compare

    with progress("comparing the alternatives", quiet=quiet):
        result = compare(**kwargs)  # type: ignore[arg-type]  # the options above, by name
    if json_out:
        print_json(result)
        return
    par = result["parameters"]
    zoned = f", {par['zones']} zones failing with r = {par['zone_failure_rate']:g}" if par["zones"] else ""
    t = Table(title=f"Alternatives on one failure model: provider loss P = {par['failure_rate']:g}{zoned}, vault loss "
                    f"q = {par['vault_failure_rate']:g}, custodian loss {par['custodian_failure_rate']:g} (exact)")
    has_fidelity = par["storage_time"] is not None
    cols = ["scheme", "stored", "parties", "needed", "secrecy", "durability", "loss"] + (
        ["avg fidelity", "E[F] plain", "E[F] corrected"] if has_fidelity else [])
    for c in cols:
        t.add_column(c, justify="left" if c == "scheme" else "right")
    for row in result["rows"]:
        unit = {2: "qubit", 3: "qutrit"}.get(row["dimension"], "qudit")
        stored = f"{row['units']} {unit}{'s' if row['units'] != 1 else ''}" + (f" (d = {row['dimension']})" if unit == "qudit" else "")
        cells = [row["scheme"], stored, str(row["parties"]),
                 str(row["needed"]), str(row["secrecy"]), f"{row['durability']:.9f}", f"{row['loss']:.3g}"]
        if has_fidelity:
            ex = row["expected_fidelity"] or {}
            cells += [f"{row['fidelity']:.4f}"] + ["-" if ex.get(k) is None else f"{ex[k]:.4f}" for k in ("plain", "corrected")]
        t.add_row(*cells)
    wide_console().print(t)
    console.print("needed: fewest parties that recover; secrecy: largest c such that every coalition of c parties "
                  "learns nothing")
    if has_fidelity:
        console.print("E[F]: average fidelity given that the object survived, over which holders survived (exact); "
                      "corrected: get --retrieval corrected (- : not computed)")
    if has_fidelity:
        console.print(f"fidelity after {par['storage_time']:g} s (T1 = {par['t1']:g} s, T2 = {par['t2']:g} s); "
                      f"qudits: {par['qudit_noise']}")


@storage_app.command("plan")
def plan(
    parties: Annotated[Path, typer.Argument(help="YAML/JSON file: zones, parties (failure, zone, kind, t1, t2), trust, budget.")],
    budget: Annotated[int | None, typer.Option("--budget", help="Most qubits stored per input qubit (default: the file's 'budget').")] = None,
    max_coalition: Annotated[int | None, typer.Option(
        "--max-coalition", help="Every coalition of up to this many parties must learn nothing (default: the file's trust).")] = None,
    storage_time: Annotated[float | None, typer.Option("--storage-time", help="Seconds stored: also the fidelity after storage.")] = None,
    t1: Annotated[float, typer.Option("--t1", help="Memory T1 (seconds) of parties that do not give their own.")] = 3600.0,
    t2: Annotated[float, typer.Option("--t2", help="Memory T2 (seconds) of parties that do not give their own.")] = 3600.0,
    qubits: Qubits = 1,
    samples: Annotated[int, typer.Option(
        "--objects", "-m", min=1, help="Simulated objects (Monte Carlo) for a placement beyond the exact limit.")] = 1_000_000,
    seed: Seed = None,
    plot: Annotated[list[Path] | None, typer.Option(
        "--plot", help="Write a plot of loss probability against qubits stored: .png, .svg or .pdf (repeat for several).")] = None,
    placement: Annotated[str | None, typer.Option(
        "--placement", help="Instead of searching: evaluate this placement (a YAML/JSON file or a built-in policy name) "
                            "with --clones.")] = None,
    clones: Annotated[int | None, typer.Option("--clones", "-n", help="--placement: the number of clones n.")] = None,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """The placements that maximize durability under the trust requirement and a qubit budget (Pareto front)."""
    from qclone.analysis.planner import Trust, plot_front
    from qclone.analysis.planner import plan as run_plan
    from qclone.analysis.resilience import load_model
    from qclone.errors import InvalidArgumentError
    from qclone.protocol.layout import check_register_size

    check_register_size(qubits)
    model, doc = load_model(parties)
    trust = Trust.from_dict(doc.get("trust"), model)
    if max_coalition is not None:
        trust = Trust.from_dict({"max_coalition": max_coalition, "coalitions": [sorted(c) for c in trust.coalitions]}, model)
    if placement is not None or clones is not None:
        if placement is None or clones is None or plot:
            raise InvalidArgumentError("evaluating one placement takes --placement and --clones (and no --plot)")
        from qclone.analysis.resilience import MAX_TABLE_CLONES

        check_clones(clones, MAX_TABLE_CLONES)
        _evaluate(model, trust, placement, clones, storage_time=storage_time, t1=t1, t2=t2, qubits=qubits,
                  samples=samples, seed=seed, json_out=json_out)
        return
    chosen = budget if budget is not None else doc.get("budget")
    if chosen is None:
        raise InvalidArgumentError("give a qubit budget: --budget or 'budget' in the parties file")
    with progress("evaluating candidate placements", quiet=quiet) as bar:
        result = run_plan(model, trust, chosen, storage_time=storage_time, t1=t1, t2=t2, qubits=qubits,
                          samples=samples, seed=seed, progress=bar.as_callback)
        bar.update(description="plotting")
        files = [str(p) for p in plot_front(result, plot)] if plot else []
    if json_out:
        print_json(result | {"plots": files})
        return
    tr = result["trust"]
    t = Table(title=f"Placements: {_requirement(tr)}, "
                    f"at most {result['budget']} qubits ({result['evaluated']:,} candidates, "
                    f"{result['rejected_secrecy']:,} rejected for secrecy)")
    has_fidelity = storage_time is not None
    cols = ["qubits", "n", "parties", "durability", "loss", "method"] + (["avg fidelity"] if has_fidelity else []) + ["placement"]
    for c in cols:
        t.add_column(c, justify="left" if c == "placement" else "right")
    for e in result["front"]:
        t.add_row(*_plan_cells(e, has_fidelity))
    wide_console().print(t)
    if not result["front"]:
        console.print("no placement meets the trust requirement within the budget")
    for p in files:
        console.print(f"wrote {p}")


def _plan_cells(e: dict, has_fidelity: bool) -> list[str]:
    where = " ".join(f"{party}:{','.join(labels)}" for party, labels in e["placement"].items())
    durability = f"{e['durability']:.9f}"
    if e["method"] != "exact":
        lo, hi = e["ci"]
        durability = f"{e['durability']:.6f} [{lo:.6f}, {hi:.6f}]"
    cells = [str(e["qubits"]), str(e["clones"]), str(e["parties"]), durability, f"{e['loss']:.3g}", e["method"]]
    if has_fidelity:
        cells.append(f"{e['fidelity']['average_fidelity']:.4f}")
    return [*cells, where]


def _requirement(trust: dict, named: str | None = None) -> str:
    """The trust requirement in words: max_coalition 0 asks nothing of coalitions by size (as
    ``qclone audit --max-coalition 0`` examines none by size), only of the named ones."""
    c, coalitions = trust["max_coalition"], trust["coalitions"]
    named = named or f"{len(coalitions)} named coalition(s)"
    if c == 0:
        return (f"{named} learns nothing (none by size: max-coalition 0)" if coalitions
                else "no secrecy requirement (max-coalition 0)")
    return (f"every coalition of up to {c} part{'y' if c == 1 else 'ies'}" + (f" and {named}" if coalitions else "")
            + " learns nothing")


def _evaluate(model: object, trust: object, value: str, clones: int, *, json_out: bool, **kwargs: object) -> None:
    from qclone.analysis.planner import evaluate, placement_on_model
    from qclone.cli.exits import CHECK_FAILED

    result = evaluate(model, placement_on_model(value, clones, model), clones, trust, **kwargs)  # type: ignore[arg-type]  # the options above, by name
    if json_out:
        print_json(result)
    else:
        _print_evaluation(result)
    if not result["placement"]["audit"]["learn_nothing"]:
        raise typer.Exit(CHECK_FAILED)  # like audit: the report says which coalitions learn something


def _print_evaluation(result: dict) -> None:
    e = result["placement"]
    has_fidelity = result["storage_time"] is not None
    t = Table(title=f"Placement {e['name']!r} with n = {e['clones']} clones")
    cols = ["qubits", "n", "parties", "durability", "loss", "method"] + (["avg fidelity"] if has_fidelity else []) + ["placement"]
    for c in cols:
        t.add_column(c, justify="left" if c == "placement" else "right")
    t.add_row(*_plan_cells(e, has_fidelity))
    wide_console().print(t)
    audit = e["audit"]
    tr = result["trust"]
    if audit["learn_nothing"]:
        console.print(f"trust met: {_requirement(tr, named='every named coalition')}")
    else:
        shown = "; ".join(" + ".join(c) for c in audit["coalitions_that_learn"][:5])
        console.print(f"trust NOT met: {len(audit['coalitions_that_learn'])} coalition(s) learn something: {shown}"
                      f"{' ...' if len(audit['coalitions_that_learn']) > 5 else ''}")
    for w in audit["warnings"]:
        console.print(f"audit: {w}")


@storage_app.command("rotate-key")
def rotate_key(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The node's data directory.")],
    role: Annotated[str, typer.Option("--role", help="The node's role: substrate, vault or provider.")],
    json_out: Json = False,
) -> None:
    """Give a stopped node a new key pair and join token; it must then be enrolled with the gateway again."""
    from qclone.cli.storage_client import check_node_dir
    from qclone.errors import InvalidArgumentError
    from qclone.storage.rpc.keys import NODE_ROLES, NodeKeys

    if role not in NODE_ROLES:
        raise InvalidArgumentError(f"--role is one of {', '.join(NODE_ROLES)}, got {role!r}")
    check_node_dir(data_dir, role)  # a mistyped directory never gets a new key and join token
    token = str(NodeKeys.rotate(data_dir, role))
    if json_out:
        print_json({"role": role, "join_token": token})
    else:
        typer.echo(token)
