"""``qclone demo``, ``qclone circuit`` and ``qclone verify``: thin layers over the library."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer
from rich.table import Table

from qclone.analysis.composition import MAX_EXACT_QUBITS
from qclone.analysis.demo import DemoResult, run_demo
from qclone.analysis.verify import (
    MAX_VERIFY_CLONES,
    PROPERTY_TITLES,
    VerificationReport,
    verify_protocol,
)
from qclone.analysis.verify_scale import (
    CHECK_ALL_UP_TO,
    DEFAULT_SAMPLE,
    verify_at_scale,
)
from qclone.cli.exits import CHECK_FAILED, extra_message, has_extra
from qclone.cli.options import (
    MAX_SCALE_CLONES,
    Clones,
    Depth,
    Dim,
    Json,
    Qubits,
    Quiet,
    Schedule,
    Seed,
    Series,
    SeriesTarget,
    check_clones,
)
from qclone.cli.output import console, print_json, progress, warn, warn_single_clone
from qclone.cli.protocol_variants import (
    register_or_series_circuit,
    verify_qudits,
    verify_register_or_series,
    wants_composition,
)
from qclone.errors import InvalidArgumentError
from qclone.protocol import FORMATS, DecryptTarget, Layout, protocol_circuit, render, to_text
from qclone.protocol.build import check_depth
from qclone.protocol.render import check_drawable, check_drawable_size, write
from qclone.sim.core import MAX_CORE_QUBITS
from qclone.sim.engine import DENSE, get_engine

#: The circuit picture is drawn for n up to this size.
MAX_PICTURE_CLONES = 6
#: verify's largest n: the structured engine's time does not grow with n (10^9 clones in about 2 s), the
#: heisenberg engine's memory grows linearly (10^6 clones take about 0.6 GB).
MAX_VERIFY_SCALE_CLONES = 10**9
MAX_HEISENBERG_CLONES = 10**6


def _fmt_vec(v: tuple[float, ...] | None) -> str:
    return "—" if v is None else "(" + ",".join(f"{x:+.3f}" for x in v) + ")"


def demo(
    clones: Clones = 5,
    seed: Seed = None,
    json_out: Json = False,
    picture: Annotated[bool, typer.Option("--picture/--no-picture", help="Draw the circuit (n <= 6).")] = True,
    storage: Annotated[bool, typer.Option("--storage/--no-storage", help="Also run the storage part.")] = True,
    storage_clones: Annotated[int, typer.Option("--storage-clones", help="Clones (and providers) of the storage part.")] = 4,
    quiet: Quiet = False,
) -> None:
    """Encrypt a random qubit into n clones, inspect every share, decrypt one clone, then try a second;
    then store a state at providers, lose all but one, retrieve it once and fail the second time."""
    warn_single_clone(clones)
    if storage and not has_extra("storage"):
        warn(f"the storage part is skipped: {extra_message('storage')}")
        storage = False
    with progress(f"encrypting into {clones} clones", quiet=quiet) as bar:
        result = run_demo(clones=clones, seed=seed)
        stored = None
        if storage:
            from qclone.storage.demo import MAX_DEMO_CLONES, storage_demo

            if not 1 <= storage_clones <= MAX_DEMO_CLONES:
                raise InvalidArgumentError(f"--storage-clones must be between 1 and {MAX_DEMO_CLONES}, got {storage_clones}")
            bar.update(description="the storage service")
            stored = storage_demo(clones=storage_clones, seed=seed)
    if json_out:
        d = result.to_dict()
        if picture and clones <= MAX_PICTURE_CLONES:
            d["circuit_text"] = to_text(protocol_circuit(Layout(clones), decrypt=result.decrypted.clone))
        if stored is not None:
            d["storage"] = stored
        print_json(d)
        return
    _print_demo(result, picture=picture)
    if stored is not None:
        _print_storage(stored)


def _print_storage(s: dict) -> None:
    n = s["clones"]
    console.print(f"\n[bold]Encrypted multi-cloud storage[/bold]: a random qubit {_fmt_vec(tuple(s['input_bloch']))} "
                  f"stored as {n} encrypted clones at providers {', '.join(s['providers'])}, the key in the vault.")
    a = s["audit"]
    verdict = "safe" if a["safe"] else "[red]NOT safe[/red]"
    console.print(f"Coalition audit of the placement ({a['coalitions_examined']} coalitions): {verdict}")
    for w in a["warnings"]:
        console.print(f"  [yellow]{w}[/yellow]")
    p = s["peek"]
    console.print(f"Provider {p['provider']} reads its clone S{p['clone']}: Bloch vector {_fmt_vec(tuple(p['bloch'][0]))} "
                  f"({'maximally mixed: it learns nothing' if p['maximally_mixed'] else 'NOT maximally mixed'})")
    lg = s.get("gate")
    if lg is not None:
        providers = [d.removeprefix("provider:") for d in lg["done"] if d.startswith("provider:")]
        console.print(f"Logical gate {lg['gate']} applied to the stored clones without decrypting: providers "
                      f"{', '.join(providers)} and the key holders {', '.join(lg['key_holders']) or 'none'} each apply "
                      f"a one-qubit gate to what they hold ({lg['note'] or 'no key holder had to act'}). "
                      f"Expected after decryption: {lg['gate']}|psi>, Bloch vector {_fmt_vec(tuple(lg['expected_bloch']))}")
    g = s["get"]
    console.print(f"After {s['storage_time']:g} s of storage, providers {', '.join(s['killed']) or 'none'} are killed; "
                  f"get decrypts clone S{g['clone']} from {g['provider']}: Bloch vector {_fmt_vec(tuple(g['bloch']))}, "
                  f"fidelity {g['fidelity']:.6f} with {lg['gate'] if lg else ''}|psi> (memory and gate noise of the "
                  "clone and the key)")
    r = s["second_get"]
    outcome = f"refused with HTTP {r['status']}: {r['message']}" if r["refused"] else "[red]ACCEPTED[/red]"
    console.print(f"A second get: {outcome}. The object is now {s['state_after']}.")
    v = s.get("vault_lost")
    if v is None:
        return
    console.print(f"\n[bold]The vault is lost[/bold]: a second random qubit {_fmt_vec(tuple(v['input_bloch']))} was stored "
                  f"with the {v['placement']} placement (a custodian keeps A). Its audit: "
                  f"{'safe' if v['safe'] else '[red]NOT safe[/red]'}; what it trades:")
    for t in v["trades"]:
        console.print(f"  {t}")
    sets = "; ".join("{" + ", ".join(x) + "}" for x in v["retrievable_from"]) or "none"
    console.print(f"Then the vault loses every key it holds. Still retrievable from: {sets}")
    g = v["get"]
    console.print(f"get recovers it from the key holders {', '.join(g['holders'] or [])} with the providers: "
                  f"Bloch vector {_fmt_vec(tuple(g['bloch']))}, fidelity {g['fidelity']:.6f}")
    r = v["second_get"]
    outcome = f"refused with HTTP {r['status']}: {r['message']}" if r["refused"] else "[red]ACCEPTED[/red]"
    console.print(f"A second get: {outcome}.")


def _print_demo(r: DemoResult, *, picture: bool) -> None:
    n = r.clones
    console.print(f"[bold]Encrypted cloning demo[/bold]: {n} clones, seed {r.seed}")
    console.print(f"Input |psi>: random pure state, Bloch vector {_fmt_vec(r.input_bloch)}\n")
    t = Table(title="After encryption: what each share holds (computed)")
    for col in ("share", "Bloch (x,y,z)", "entropy/max", "I(R:share)", "mixed?"):
        t.add_column(col, no_wrap=True)
    for s in r.shares:
        t.add_row(s.name, _fmt_vec(s.bloch), f"{s.entropy_bits:.4f}/{s.max_entropy_bits:.0f}",
                  f"{abs(s.information_bits):.2e}", "yes" if s.maximally_mixed else "[red]NO[/red]")
    console.print(t)
    console.print("entropy/max: von Neumann entropy in bits and its maximum (equal = maximally mixed). I(R:share): mutual information in bits "
                  "with a reference qubit R entangled with the input (0 = knows nothing, 2 = holds the state).\n")
    d = r.decrypted
    console.print(f"[bold]Decrypt clone S{d.clone}[/bold] with the key N1..N{n}: Bloch vector {_fmt_vec(d.bloch)}, "
                  f"fidelity with |psi> = {d.fidelity:.12f}, I(R : S{d.clone}) = {d.information_bits:.6f} bits")
    pairs = ", ".join(f"({k}) {v:.6f}" for k, v in r.remainder.bell_pair_fidelities.items())
    console.print(f"Left behind: I(R : every other qubit) = {abs(r.remainder.information_bits):.2e} bits; "
                  f"fidelity with |Phi+> of {pairs}  -> the key is consumed.")
    if r.second_attempt is not None:
        second = r.second_attempt
        console.print(f"[bold]Try to decrypt clone S{second.clone} as well[/bold]: Bloch vector {_fmt_vec(second.bloch)}, "
                      f"fidelity with |psi> = {second.fidelity:.6f}, I(R : S{second.clone}) = {abs(second.information_bits):.2e} bits "
                      "-> nothing about the input is left: only one clean copy ever exists.")
    if picture and n <= MAX_PICTURE_CLONES:
        console.print(f"\nCircuit (Bell pairs, encryption, decryption of S{d.clone}; the state ends on S[{d.clone - 1}]):")
        console.print(to_text(protocol_circuit(Layout(n), decrypt=d.clone), fold=console.width or 100),
                      markup=False, crop=False, overflow="ignore")


def _parse_decrypt(value: str | None) -> DecryptTarget | None:
    if value is None:
        return None
    if value.strip().upper() == "A":
        return "A"
    try:
        return int(value)
    except ValueError:
        raise InvalidArgumentError(f"--decrypt takes a clone number or A, got {value!r}") from None


def circuit(
    clones: Clones,
    decrypt: Annotated[str | None, typer.Option("--decrypt", help="Append decryption of clone J (1..n) or of A (even n).")] = None,
    depth: Depth = "linear",
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")] = "text",
    json_out: Json = False,
    qubits: Qubits = 1,
    series: Series = 1,
    series_target: SeriesTarget = None,
    schedule: Schedule = None,
    dim: Dim = None,
) -> None:
    """Print the protocol circuit (Bell pairs, encryption, optional decryption)."""
    if fmt != "text":  # a text drawing is refused by its own, smaller limit, which names the qubits it would need
        check_clones(clones, MAX_SCALE_CLONES)
    if fmt not in FORMATS:
        raise InvalidArgumentError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if dim is not None:
        raise InvalidArgumentError("--dim: the qudit protocol is dense operators, not a gate circuit; use qclone verify --clones N --dim D")
    if wants_composition(qubits, series, series_target, schedule):
        register_or_series_circuit(clones, qubits, series, series_target, schedule, _parse_decrypt(decrypt), depth, fmt, json_out)
        return
    lay = Layout(clones)
    target = _parse_decrypt(decrypt)
    if fmt == "text":
        check_drawable_size(lay.num_qubits)  # before building: 10^8 clones would be gigabytes of gates
    circ = protocol_circuit(lay, decrypt=target, depth=check_depth(depth))
    warn_single_clone(clones)
    if not json_out:
        if fmt == "text":
            check_drawable(circ)  # before any output: a refusal is one line on stderr
        sys.stdout.flush()
        write(circ, fmt, sys.stdout.buffer)  # streamed: no string of the whole circuit
        sys.stdout.buffer.write(b"\n")
        sys.stdout.buffer.flush()
        return
    print_json({
        "clones": clones,
        "decrypt": target,
        "depth_variant": depth,
        "format": fmt,
        "num_qubits": circ.num_qubits,
        "two_qubit_gates": circ.num_two_qubit_gates,
        "depth": circ.depth,
        "two_qubit_depth": circ.two_qubit_depth,
        "output_qubit": None if target is None else lay.labels[lay.output_qubit(target)],
        "circuit": render(circ, fmt),
    })


#: ``qclone verify --engine`` values: ``auto`` and what computes the checks (see _ENGINE_HELP).
VERIFY_ENGINES = ("auto", "dense", "structured", "heisenberg", "core")
#: The two Heisenberg-picture methods of :func:`verify_at_scale`, by engine value.
AT_SCALE = {"structured": "structured", "heisenberg": "gates"}
_ENGINE_HELP = (
    f"What computes the checks. auto (default): dense for one qubit up to n = {MAX_VERIFY_CLONES}, structured beyond; "
    f"dense up to {MAX_EXACT_QUBITS} qubits for --qubits/--series, core beyond. "
    f"dense: state vectors, one qubit n <= {MAX_VERIFY_CLONES} (all 8 properties), "
    f"--qubits/--series up to {MAX_EXACT_QUBITS} qubits with the reference, --dim. "
    "structured: Pauli operators pulled back stage by stage (Heisenberg picture), one qubit, any n, "
    "time independent of n (10^8 clones in seconds); the builders' gates are cross-checked gate by gate. "
    "heisenberg: the same checks with Pauli pull-backs gate by gate, one qubit, any n, time and memory linear in n. "
    f"core: a Clifford on a dense core, one qubit n <= {MAX_VERIFY_CLONES} or --qubits/--series of any size "
    f"(k <= {MAX_CORE_QUBITS // 2}). Properties 2-6 and 8 at any n; beyond {CHECK_ALL_UP_TO} clones a --sample of them."
)


def verify(
    clones: Clones,
    seed: Annotated[int | None, typer.Option(
        "--seed", min=0, help="Seed of the random inputs (dense, core) or of the sample of clones (structured, heisenberg); "
                              "default: fresh randomness. The report prints the seed it used: give it to repeat a run.")] = None,
    engine: Annotated[str, typer.Option("--engine", help=_ENGINE_HELP)] = "auto",
    sample: Annotated[int, typer.Option(
        "--sample", help=f"structured and heisenberg engines, n > {CHECK_ALL_UP_TO}: how many random clones to check (n: all).")] = DEFAULT_SAMPLE,
    depth: Depth = "linear",
    json_out: Json = False,
    qubits: Qubits = 1,
    series: Series = 1,
    series_target: SeriesTarget = None,
    dim: Dim = None,
    quiet: Quiet = False,
) -> None:
    """Check the protocol's properties (docs/protocol.md) for n clones by computation; exit status 1 on any failure."""
    if seed is None:
        seed = secrets.randbits(32)  # fresh, and printed in the report so that the run can be repeated
    with progress(f"verifying n = {clones}", quiet=quiet):
        _verify(clones, seed, engine, sample, depth, json_out, qubits, series, series_target, dim)


def _verify(clones: int, seed: int, engine: str, sample: int, depth: str, json_out: bool, qubits: int, series: int,
            series_target: str | None, dim: int | None) -> None:
    if engine not in VERIFY_ENGINES:
        raise InvalidArgumentError(f"unknown engine {engine!r}; choose one of {', '.join(VERIFY_ENGINES)}")
    check_clones(clones, MAX_HEISENBERG_CLONES if engine == "heisenberg" else MAX_VERIFY_SCALE_CLONES)
    chosen = None if engine in ("auto", *AT_SCALE) else get_engine(engine)
    if dim is not None:
        if engine not in ("auto", "dense"):
            raise InvalidArgumentError("--dim runs on the dense qudit engine; drop --engine")
        verify_qudits(clones, dim, qubits=qubits, series=series, depth=depth, seed=seed, json_out=json_out)
        return
    if wants_composition(qubits, series, series_target, None):
        if engine in AT_SCALE:
            raise InvalidArgumentError("--qubits and --series are verified by the core engine (any size) or the dense one (small)")
        verify_register_or_series(clones, qubits, series, series_target, chosen, seed, sample, depth, json_out)
        return
    Layout(clones)
    check_depth(depth)
    if engine == "auto":
        engine = "dense" if clones <= MAX_VERIFY_CLONES and depth == "linear" else "structured"
        chosen = DENSE if engine == "dense" else None
    warn_single_clone(clones)
    if chosen is None:
        report = verify_at_scale(clones, sample=sample, seed=seed, depth=depth, method=AT_SCALE[engine])
    else:
        if depth != "linear":
            raise InvalidArgumentError(f"the {engine} engine checks both encryption variants itself; "
                                       "--depth is for --engine structured or heisenberg")
        report = verify_protocol(clones, seed=seed, engine=chosen)
    if json_out:
        print_json(report.to_dict())
    else:
        _print_report(report)
    if not report.passed:
        raise typer.Exit(CHECK_FAILED)


def checked_clones_line(report: VerificationReport) -> str:
    """Which clones the checks covered, in words."""
    if report.checked_clones is None:
        return f"clones checked: all {report.clones}"
    listed = ", ".join(map(str, report.checked_clones))
    return (f"clones checked: a random sample of {len(report.checked_clones)} of {report.clones} "
            f"(seed {report.seed}), each exactly: {listed}")


def _print_report(report: VerificationReport) -> None:
    t = Table(title=f"Encrypted cloning, n = {report.clones}: property checks ({report.engine} engine, seed {report.seed})")
    for col in ("#", "check", "value", "expected", "result"):
        t.add_column(col)
    for c in report.checks:
        value = "" if c.value is None else f"{c.value:.12g}"
        expected = "" if c.expected is None else f"{c.expected:.12g}"
        name = c.name + (f" [{c.detail}]" if c.detail else "")
        t.add_row(str(c.group), name, value, expected, "pass" if c.passed else "[red]FAIL[/red]")
    console.print(t)
    for k, title in PROPERTY_TITLES.items():
        mine = [c for c in report.checks if c.group == k]
        if mine:
            console.print(f"property {k}: {title}: {'pass' if all(c.passed for c in mine) else 'FAIL'}")
    console.print(checked_clones_line(report))
    console.print("all checks passed" if report.passed else f"[red]{len(report.failures)} check(s) failed[/red]")
