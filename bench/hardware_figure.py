"""The figure that matters: the largest n above 2/3 on FakeFez and FakeTorino, per technique, and what 100 / 1000 need.

Everything comes from the scheduled stim model (:mod:`qclone.hardware.predict`:
the device circuit's own ALAP/ASAP schedule with the device's durations, the
twirled error of every gate of the device's Aer model, twirled T1/T2 relaxation
in every idle window, the clone's readout; exact, no sampling), checked against
Aer where Aer runs:

1. **techniques** (per device): every circuit variant of
   ``qclone.hardware.variants`` with ALAP timing, today's circuit with ASAP
   timing, and with X-X dynamical decoupling; the largest n with average
   fidelity > 2/3 and F at that n and the next; and **combined**: the comb
   layout (``tree``) with whichever timing (ALAP, ASAP) and decoupling (none,
   X-X) gives the largest n (ties: the larger F(n));
2. **curves** F(n) for the plot (``--plot``);
3. **validation**: the model without readout against Aer's exact density
   matrix with the same twirled device errors (n = 1, 2, 3 on FakeFez), and
   the model with readout against Aer's tomography from counts with the
   device's own (untwirled) noise, read from the result CSVs named by
   ``--aer-csv`` (each with its bootstrap interval and its simulation cost
   in seconds per shot);
4. **error budget** (``--budget``): F(n) of a variant with everything, without
   the idle windows' relaxation, and without the gate errors (readout kept), to
   say what dominates;
5. **placements** (``--placements``): how the comb's placement is chosen, the model's F of the cheap
   score's first spine, of the first window of the long path, and of the model's choice;
6. **beyond the chip**: a line of 2n + 2 qubits with FakeFez's median
   calibration; the factor on every error probability and 1/T1, 1/T2 at
   which n clones reach 2/3 (``--solve``), and the gate errors a perfect
   memory would need.

Run: .venv/bin/python bench/hardware_figure.py [--devices fake_fez,fake_torino] [--curve 1,2,...]
     [--solve 10,20,63,100,1000] [--aer-csv docs/img/hardware_fake_fez.csv ...] [--json out.json] [--plot out.png]
     [--budget today:9,tree:13,tree:15] [--placements 14,15,16]
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import time
from pathlib import Path

import numpy as np

from qclone.errors import TooLargeError
from qclone.hardware.devices import get_backend
from qclone.hardware.predict import (
    CLASSICAL_LIMIT,
    LineBackend,
    device_circuit,
    largest_clones,
    median_calibration,
    predict,
    solve_scale,
    variant_names,
)

DEFAULT_CURVE = "1,2,3,4,5,6,7,8,9,10,11,12,14,16,18,20,24"


def techniques() -> list[tuple[str, str, str, str | None]]:
    """(label, variant, timing, dd) for every technique of the table."""
    out = [(v if v != "today" else "today (ALAP)", v, "alap", None) for v in variant_names()]
    out.insert(1, ("today, ASAP", "today", "asap", None))
    out.insert(2, ("today + DD (X-X)", "today", "alap", "XX"))
    return out


#: The combined row: the comb layout with each timing and decoupling; the best is reported.
COMBINED_VARIANT = "tree"
COMBINED_OPTIONS: tuple[tuple[str, str | None], ...] = (("alap", None), ("asap", None), ("alap", "XX"), ("asap", "XX"))


def _row(be, name: str, label: str, variant: str, timing: str, dd: str | None) -> dict:  # noqa: ANN001 - a BackendV2
    r = largest_clones(be, variant=variant, policy=timing, dd=dd, name=name)
    at = predict(be, max(r.clones, 1), variant=variant, policy=timing, dd=dd, name=name)
    return {"device": name, "technique": label, "variant": variant, "timing": timing, "dd": dd,
            "largest_clones": r.clones, "fidelity": r.fidelity, "next_fidelity": r.next_fidelity,
            "two_qubit_gates": at.stats.two_qubit_gates, "two_qubit_depth": at.stats.two_qubit_depth,
            "duration_us": at.stats.idle.duration * 1e6, "idle_us": at.stats.idle.idle_qubit_seconds * 1e6,
            "search_seconds": r.seconds, "points": {str(k): v for k, v in sorted(r.points.items())}}


def _show(row: dict) -> None:
    nxt = row["next_fidelity"] if row["next_fidelity"] is not None else float("nan")
    print(f"{row['device']:12s} {row['technique']:36s} largest n = {row['largest_clones']:3d}  F(n) = {row['fidelity']:.4f}  "
          f"F(n+1) = {nxt:.4f}  ({row['search_seconds']:.1f} s)", flush=True)


def technique_table(devices: list[str], only: set[str] | None = None) -> list[dict]:
    """Every technique's row (``only``: just those variants, and the combined row if it names ``combined``)."""
    rows = []
    for name in devices:
        be = get_backend(name)
        for label, variant, timing, dd in techniques():
            if only is not None and variant not in only:
                continue
            rows.append(_row(be, name, label, variant, timing, dd))
            _show(rows[-1])
        if only is not None and "combined" not in only:
            continue
        tried = [_row(be, name, "", COMBINED_VARIANT, timing, dd) for timing, dd in COMBINED_OPTIONS]
        best = max(tried, key=lambda r: (r["largest_clones"], r["fidelity"] or 0.0))
        dd_text = " + DD (X-X)" if best["dd"] else ""
        best["technique"] = f"combined: {COMBINED_VARIANT}, {best['timing'].upper()}{dd_text}"
        best["tried"] = [{"timing": r["timing"], "dd": r["dd"], "largest_clones": r["largest_clones"], "fidelity": r["fidelity"]}
                         for r in tried]
        rows.append(best)
        _show(best)
    return rows


def budget(devices: list[str], points: list[tuple[str, int]]) -> list[dict]:
    """F(n) with every error, without the idle windows' relaxation, and without the gate errors (the readout
    stays): an ablation of the model's noise (its ``DeviceNoise`` with one kind of error emptied)."""
    import qclone.hardware.predict as model

    real = model.device_noise

    def ablated(kind: str):  # noqa: ANN202 - a device_noise replacement
        def build(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - device_noise's own signature
            noise = copy.copy(real(*args, **kwargs))  # the cached model stays whole
            empty = lambda *_a, **_k: ()  # noqa: E731 - one error kind switched off
            object.__setattr__(noise, "relaxation" if kind == "idle" else "gate", empty)
            return noise

        return build

    rows = []
    for name in devices:
        be = get_backend(name)
        for variant, n in points:
            try:
                dc = device_circuit(be, n, variant=variant)
            except TooLargeError as exc:
                print(f"{name:12s} {variant:10s} n = {n:3d}  ({exc})", flush=True)
                continue
            row = {"device": name, "variant": variant, "clones": n}
            for kind in ("all", "idle", "gates"):
                model.device_noise = real if kind == "all" else ablated(kind)
                try:
                    row["without_" + kind if kind != "all" else "all"] = predict(be, n, variant=variant, name=name, circuit=dc).average_fidelity
                finally:
                    model.device_noise = real
            rows.append(row)
            print(f"{name:12s} {variant:10s} n = {n:3d}  F = {row['all']:.4f}  without idle relaxation {row['without_idle']:.4f}  "
                  f"without gate errors {row['without_gates']:.4f}", flush=True)
    return rows


def placements(devices: list[str], ns: list[int]) -> list[dict]:
    """How the comb's placement is chosen (:func:`qclone.hardware.tree.tree_candidates`): the model's F of the
    cheap score's first spine, of the first window of the device's long path, and of the model's choice
    (with its rank by the score)."""
    from qclone.hardware.tree import ranked_spines, tree_candidates

    rows = []
    for name in devices:
        be = get_backend(name)
        for n in ns:
            found = tree_candidates(be, n)
            windows = ranked_spines(be, n, spines="windows")
            window = windows[0][1] if windows else None  # None: no window of the long path holds n clones
            best = max(range(len(found)), key=lambda i: found[i].fidelity)
            row = {"device": name, "clones": n, "candidates": len(found), "score_first": found[0].fidelity,
                   "first_window": next((c.fidelity for c in found if window and c.layout.spine[1:] == window[1:]), None),
                   "chosen": found[best].fidelity, "chosen_rank": best + 1, "chosen_spine": list(found[best].layout.spine),
                   "chosen_is_window": window is not None and found[best].layout.spine[1:] == window[1:]}
            rows.append(row)
            shown = "none fits" if row["first_window"] is None else f"{row['first_window']:.4f}"
            print(f"{name:12s} n = {n:3d}  score's first {row['score_first']:.4f}  first window {shown}  "
                  f"model's choice {row['chosen']:.4f} (rank {best + 1} of {len(found)})", flush=True)
    return rows


def curves(devices: list[str], ns: list[int]) -> list[dict]:
    from qclone.hardware.variants import variant_max_clones

    rows = []
    for name in devices:
        be = get_backend(name)
        for label, variant, timing, dd in techniques():
            top = variant_max_clones(variant, be) if variant != "today" else max(ns)
            for n in (n for n in ns if n <= top):
                dc = device_circuit(be, n, variant=variant)
                p = predict(be, n, variant=variant, policy=timing, dd=dd, name=name, circuit=dc)
                rows.append({"device": name, "technique": label, "clones": n, "average_fidelity": p.average_fidelity,
                             "model_seconds": p.seconds})
        print(f"{name}: curves done", flush=True)
    return rows


def validation(aer_csvs: list[Path], *, with_exact: bool = True) -> tuple[list[dict], list[dict]]:
    """(exact twirled density matrix vs model, Aer tomography CSVs vs model)."""
    from qiskit_aer import AerSimulator

    from qclone.hardware.backends import RestrictedBackend, ordered_active_qubits, renumber
    from qclone.hardware.compile import CARDINAL_STATES, cardinal_vector, compile_protocol
    from qclone.hardware.idle import schedule
    from qclone.hardware.pauli_noise import twirl_delays, twirled_noise_model
    from qclone.hardware.predict import device_noise, scheduled_stim_circuit
    from qclone.sim.stabilizer import average_fidelity, exact_pauli_channel

    be = get_backend("fake_fez")
    exact = []
    for n in (1, 2, 3) if with_exact else ():
        started = time.perf_counter()
        fids = []
        for label in CARDINAL_STATES:
            comp = compile_protocol(be, n, 1, input=label)
            sched = schedule(comp.circuit, be.target)
            qubits = ordered_active_qubits([sched], comp.layout.path)
            sub = RestrictedBackend(be, qubits)
            small = twirl_delays([renumber(sched, qubits)], sub.target)[0]
            small.save_density_matrix([qubits.index(comp.clone_qubit)])
            rho = AerSimulator(method="density_matrix", noise_model=twirled_noise_model(sub)).run(small).result().data(0)["density_matrix"]
            v = cardinal_vector(label)
            fids.append(float(np.real(v.conj() @ np.asarray(rho) @ v)))
        aer_seconds = time.perf_counter() - started
        started = time.perf_counter()
        dc = device_circuit(be, n)
        circ, _, _ = scheduled_stim_circuit(schedule(dc.circuit, be.target), device_noise(be, compile_protocol(be, n).layout.path),
                                            reference=dc.reference, input_qubit=dc.input_qubit, clone=dc.clone, readout=False)
        ours = average_fidelity(exact_pauli_channel(circ)["p_I"])
        exact.append({"clones": n, "aer_density_matrix": float(np.mean(fids)), "model": ours,
                      "difference": float(np.mean(fids)) - ours, "aer_seconds": aer_seconds,
                      "model_seconds": time.perf_counter() - started})
        print(f"exact check n = {n}: Aer {np.mean(fids):.6f}  model {ours:.6f}", flush=True)
    counted = []
    for path in aer_csvs:
        with path.open() as fh:
            for row in csv.DictReader(fh):
                be_name, n = row["backend"], int(row["clones"])
                p = predict(get_backend(be_name), n, name=be_name)
                f, lo, hi = float(row["average_fidelity"]), float(row["ci_low"]), float(row["ci_high"])
                counted.append({"source": str(path), "device": be_name, "runner": row["runner"], "clones": n,
                                "shots": int(row["shots"]), "aer": f, "ci_low": lo, "ci_high": hi, "model": p.average_fidelity,
                                "inside": lo <= p.average_fidelity <= hi, "aer_seconds_per_shot": float(row.get("seconds_per_shot") or "nan"),
                                "model_seconds": p.seconds})  # fmt: skip
                print(f"{be_name} n = {n}: Aer {f:.4f} [{lo:.4f}, {hi:.4f}] ({row['runner']}, {row['shots']} shots)  "
                      f"model {p.average_fidelity:.4f}", flush=True)
    return exact, counted


def shots_to_decide(fidelity: float, z: float = 1.959963984540054) -> int:
    """Shots per basis and input that make the 95 % half-width of the six-input average smaller than its distance to 2/3.

    F_avg is the mean of six binomial proportions (each input's fidelity is the frequency of the right outcome in its
    own basis), so Var ≤ F(1 − F) / (6 N): N = z² F (1 − F) / (6 δ²) with δ = |F − 2/3|.
    """
    delta = abs(fidelity - CLASSICAL_LIMIT)
    return int(math.ceil(z * z * fidelity * (1 - fidelity) / (6 * delta * delta))) if delta > 0 else -1


def solves(ns: list[int]) -> list[dict]:
    cal = median_calibration(get_backend("fake_fez"))
    rows = []
    for n in ns:
        line = LineBackend(2 * n + 2, cal)
        both = solve_scale(line, n)
        gates = solve_scale(line, n, coherence=False)
        rows.append({"clones": n, "qubits_on_path": 2 * n + 2, "scale": both.scale, "cz_error": both.cz_error,
                     "sx_error": both.sx_error, "readout_error": both.readout_error, "t1": both.t1, "t2": both.t2,
                     "gates_only_scale": gates.scale, "gates_only_cz_error": gates.cz_error,
                     "seconds": both.seconds + gates.seconds})
        print(f"n = {n}: scale {both.scale:.3g} (CZ {both.cz_error:.2e}, T1 {both.t1 * 1e3:.3g} ms, T2 {both.t2 * 1e3:.3g} ms); "
              f"perfect memory: CZ {gates.cz_error:.2e}  ({both.seconds + gates.seconds:.0f} s)", flush=True)
    return rows


def plot(curve_rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    devices = sorted({r["device"] for r in curve_rows})
    fig, axes = plt.subplots(1, len(devices), figsize=(5.2 * len(devices), 3.8), sharey=True, squeeze=False)
    for ax, dev in zip(axes[0], devices):
        for tech in dict.fromkeys(r["technique"] for r in curve_rows if r["device"] == dev):
            pts = sorted((r["clones"], r["average_fidelity"]) for r in curve_rows if r["device"] == dev and r["technique"] == tech)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, lw=1.2, label=tech)
        ax.axhline(CLASSICAL_LIMIT, color="k", ls="--", lw=0.8, label="classical limit 2/3")
        ax.set_title(f"{dev}: scheduled stim model")
        ax.set_xlabel("clones n")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("average fidelity of the decrypted clone")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def markdown(out: dict) -> str:
    """The tables of docs/hardware.md from a ``--json`` document."""
    lines = ["| device | technique | largest n | F(n) | F(n + 1) | 2q gates | 2q depth | duration µs | idle µs (summed) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in out.get("techniques", []):
        nxt = "—" if r["next_fidelity"] is None else f"{r['next_fidelity']:.4f}"
        lines.append(f"| {r['device']} | {r['technique']} | {r['largest_clones']} | {r['fidelity']:.4f} | {nxt} | "
                     f"{r['two_qubit_gates']} | {r['two_qubit_depth']} | {r['duration_us']:.2f} | {r['idle_us']:.2f} |")
    if out.get("budget"):
        lines = ["| device | variant | n | F (every error) | without idle relaxation | without gate errors |",
                 "|---|---|---:|---:|---:|---:|"]
        for r in out["budget"]:
            lines.append(f"| {r['device']} | {r['variant']} | {r['clones']} | {r['all']:.4f} | {r['without_idle']:.4f} | "
                         f"{r['without_gates']:.4f} |")
    if out.get("placements"):
        lines = ["| device | n | score's first spine | first window of the long path | model's choice | its rank by the score |",
                 "|---|---:|---:|---:|---:|---:|"]
        for r in out["placements"]:
            window = "— (none holds n)" if r["first_window"] is None else f"{r['first_window']:.4f}"
            lines.append(f"| {r['device']} | {r['clones']} | {r['score_first']:.4f} | {window} | {r['chosen']:.4f} | "
                         f"{r['chosen_rank']} of {r['candidates']} |")
    if out.get("exact_check"):
        lines += ["", "| n | Aer density matrix, twirled device errors (exact) | stim model, same errors (exact) | difference |",
                  "|---:|---:|---:|---:|"]
        for r in out["exact_check"]:
            lines.append(f"| {r['clones']} | {r['aer_density_matrix']:.6f} | {r['model']:.6f} | {r['difference']:+.6f} |")
    if out.get("aer_check"):
        lines += ["", "| device | n | Aer runner | shots | Aer from counts [95 %] | stim model | inside | Aer s per shot | model s |",
                  "|---|---:|---|---:|---|---:|---|---:|---:|"]
        for r in out["aer_check"]:
            lines.append(f"| {r['device']} | {r['clones']} | {r['runner']} | {r['shots']} | {r['aer']:.4f} [{r['ci_low']:.4f}, "
                         f"{r['ci_high']:.4f}] | {r['model']:.4f} | {'yes' if r['inside'] else 'no'} | "
                         f"{'—' if math.isnan(r['aer_seconds_per_shot']) else format(r['aer_seconds_per_shot'], '.3g')} | "
                         f"{r['model_seconds']:.1f} |")
    if out.get("solves"):
        lines += ["", "| n | qubits on the path | error scale | CZ error | √X error | readout error | T1 µs | T2 µs | "
                  "CZ error with perfect memory |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in out["solves"]:
            lines.append(f"| {r['clones']} | {r['qubits_on_path']} | {r['scale']:.3g} | {r['cz_error']:.2e} | {r['sx_error']:.2e} | "
                         f"{r['readout_error']:.2e} | {r['t1'] * 1e6:.0f} | {r['t2'] * 1e6:.0f} | {r['gates_only_cz_error']:.2e} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="fake_fez,fake_torino")
    ap.add_argument("--curve", default=DEFAULT_CURVE, help="n of the curves (empty: none)")
    ap.add_argument("--solve", default="10,20,63,100", help="n of the error-scale solves on the median line (empty: none)")
    ap.add_argument("--aer-csv", type=Path, action="append", default=[], help="Aer results (qclone hardware run) to compare")
    ap.add_argument("--no-exact", action="store_true", help="skip the exact density-matrix check")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--markdown", type=Path, help="print the tables of a --json document written earlier, and stop")
    ap.add_argument("--budget", default="", help="variant:n points of the error budget, e.g. today:9,tree:15 (then stop)")
    ap.add_argument("--placements", default="", help="n of the comb's placement table, e.g. 14,15,16 (then stop)")
    ap.add_argument("--techniques", default="", help="only these variants' rows (and 'combined'), e.g. tree,combined")
    ap.add_argument("--no-techniques", action="store_true", help="skip the technique table")
    args = ap.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    devices = [d for d in args.devices.split(",") if d]
    if args.budget:
        points = [(p.split(":")[0], int(p.split(":")[1])) for p in args.budget.split(",") if p]
        rows = budget(devices, points)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"budget": rows}, indent=1, default=float))
        return
    if args.placements:
        rows = placements(devices, [int(x) for x in args.placements.split(",") if x])
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"placements": rows}, indent=1, default=float))
        return
    only = {t for t in args.techniques.split(",") if t} or None
    out: dict = {"techniques": [] if args.no_techniques else technique_table(devices, only)}
    out["curves"] = curves(devices, [int(x) for x in args.curve.split(",") if x]) if args.curve else []
    if not args.no_exact or args.aer_csv:
        exact, counted = validation(args.aer_csv, with_exact=not args.no_exact)
        out["exact_check"] = exact
        out["aer_check"] = counted
        for row in counted:
            row["shots_to_decide"] = shots_to_decide(row["model"])
    out["solves"] = solves([int(x) for x in args.solve.split(",") if x]) if args.solve else []
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1, default=float))
    if args.plot and out["curves"]:
        plot(out["curves"], args.plot)


if __name__ == "__main__":
    main()
