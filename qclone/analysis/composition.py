"""Verify a composition of modules like the single module: recovery, marginals, leakage, schedules.

:func:`verify_composition` takes a :class:`~qclone.protocol.Composition`
(one module on a k-qubit register, parallel modules, modules in series) and
checks, by computation:

* **schedule** — the interleaved schedule (with a spectator circuit on the
  reference qubits, which no module touches) is the same unitary as the
  sequential one: stim tableaux compared exactly (up to 3000 qubits), or 64
  random Paulis propagated through both circuits beyond that.
* **recovery** — for every place the data can be recovered
  (:meth:`~qclone.protocol.Composition.recovery_paths`; a sample of them
  when there are many), the decryption steps bring the data register back
  exactly: fidelity 1 of (outputs, R) with the input, where the data register
  starts in a random pure state entangled with a reference R of the same size.
  Afterwards nothing else carries anything about (data, R): the key is consumed.
* **marginal** — every clone register and every key register of every module
  is maximally mixed (n ≥ 2; for n = 1 the lone clone leaks, as the protocol
  says) and uncorrelated with R.
* **leakage** — the exact F2 classification of characteristic sets by
  :mod:`qclone.analysis.leakage` (the exact classifier): one clone register and one
  key register alone learn nothing; the qubits a recovery path needs are
  authorized; the same set without the key of the module it decrypts first
  is not. (Dropping a single key qubit is not enough in general: with an odd
  number of clones a partially informative part can complete a set.) For sets up to
  :data:`MAX_CROSSCHECK_SET` qubits the result is compared with an independent
  implementation (:meth:`qclone.sim.core.CoreState.information`).

Engines (:mod:`qclone.sim.engine`): the core engine (any size; the default) or
the dense engine (up to :data:`MAX_EXACT_QUBITS` qubits).

Examples:
    >>> from qclone.protocol import series_composition
    >>> report = verify_composition(series_composition(qubits=1, clones=2, levels=2), seed=1)
    >>> report.passed, sorted({c.group for c in report.checks})
    (True, ['leakage', 'marginal', 'recovery', 'schedule'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import stim

from qclone.analysis.checks import TOL, Check, Report
from qclone.analysis.leakage import CliffordEncoding, LeakageAnalyzer
from qclone.errors import TooLargeError
from qclone.protocol import Circuit, Composition, DecryptTarget, to_stim
from qclone.protocol.build import Depth
from qclone.protocol.layout import single_clone_warning
from qclone.sim.core import MAX_CORE_QUBITS, CoreState
from qclone.sim.engine import CORE, Engine
from qclone.sim.exact import fidelity, random_state

#: Largest composition (qubits, references included) the dense engine verifies.
MAX_EXACT_QUBITS = 20
#: Largest composition whose schedules are compared as full tableaux.
MAX_TABLEAU_QUBITS = 3000
#: Sets up to this size are classified (larger ones are listed as skipped).
MAX_LEAKAGE_SET = 4096
#: Sets up to this size are also checked with CoreState.information.
MAX_CROSSCHECK_SET = 600


@dataclass(frozen=True)
class CompositionReport(Report):
    description: str
    num_qubits: int
    engine: str
    seed: int
    skipped: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "description": self.description,
            "num_qubits": self.num_qubits,
            "engine": self.engine,
            "seed": self.seed,
            "skipped": list(self.skipped),
        } | self.checks_dict()


def describe(comp: Composition) -> str:
    """A one-line description, e.g. ``m1: 2 qubits -> 5 clones; m2 re-clones m1.S*_1 -> 5 clones``."""
    parts = []
    for m in comp.modules:
        src = ", ".join(m.inputs) if len(m.inputs) <= 3 else f"{m.inputs[0]} .. {m.inputs[-1]} ({len(m.inputs)} qubits)"
        parts.append(f"{m.name}: {src} -> {m.clones} clone{'s' if m.clones > 1 else ''}")
    return "; ".join(parts)


def _sample(items: list, limit: int, rng: np.random.Generator) -> tuple[list, bool]:
    if len(items) <= limit:
        return items, False
    keep = {0, len(items) - 1} | set(rng.choice(len(items), limit - 2, replace=False).tolist())
    return [items[i] for i in sorted(keep)], True


def _schedule_checks(comp: Composition, spectator: Circuit, rng: np.random.Generator, depth: Depth) -> list[Check]:
    seq = to_stim(comp.encryption_circuit(schedule="sequential", spectator=spectator, depth=depth))
    inter = to_stim(comp.encryption_circuit(schedule="interleaved", spectator=spectator, depth=depth))
    m = comp.num_qubits
    if m <= MAX_TABLEAU_QUBITS:
        same = seq.to_tableau() == inter.to_tableau()
        detail = "stim tableaux equal" if same else "stim tableaux differ"
    else:
        same = True
        for _ in range(64):
            p = stim.PauliString(m)
            for q in rng.choice(m, 4, replace=False).tolist():
                p[q] = "XYZ"[int(rng.integers(3))]
            same &= p.after(seq) == p.after(inter)
        detail = "64 random Paulis propagate identically"
    return [Check("schedule", "interleaved schedule (with spectator computation) equals the sequential one",
                  bool(same), detail=detail)]


def verify_composition(
    comp: Composition,
    *,
    engine: Engine = CORE,
    seed: int = 0,
    max_paths: int = 16,
    max_marginals: int = 24,
    depth: Depth = "linear",
) -> CompositionReport:
    """Verify ``comp`` (recovery, marginals, leakage, schedules); see the module doc.

    Raises:
        TooLargeError: if the engine cannot hold the composition (data and reference together more than
            12 qubits; the dense engine: more than :data:`MAX_EXACT_QUBITS` qubits).
    """
    k = comp.inputs
    if 2 * k > MAX_CORE_QUBITS:
        raise TooLargeError(
            f"verification entangles the {k}-qubit data register with a {k}-qubit reference; "
            f"the dense core holds at most {MAX_CORE_QUBITS} qubits, so at most {MAX_CORE_QUBITS // 2} data qubits"
        )
    full = Composition(comp.inputs, comp.modules, references=k)
    m = full.num_qubits
    if engine.max_qubits is not None and m > min(engine.max_qubits, MAX_EXACT_QUBITS):
        raise TooLargeError(
            f"the {engine.name} engine verifies compositions of at most {min(engine.max_qubits, MAX_EXACT_QUBITS)} "
            f"qubits with the reference (this one has {m}); use the core engine"
        )
    rng = np.random.default_rng(seed)
    refs = list(full.reference_qubits)
    data = list(full.data_qubits)
    psi = random_state(2 * k, rng)
    checks: list[Check] = []
    skipped: list[str] = []
    warnings = sorted({w for mod in comp.modules if (w := single_clone_warning(mod.clones))})

    # schedules: a spectator (random Clifford on the references) runs alongside
    spectator = Circuit(full.registers)
    for _ in range(4 * k):
        spectator = spectator.append(str(rng.choice(["H", "S", "SQRT_X"])), [int(rng.choice(refs))])
        if k > 1:
            a, b = rng.choice(refs, 2, replace=False)
            spectator = spectator.append("CX", [int(a), int(b)])
    checks += _schedule_checks(full, spectator, rng, depth)

    enc = full.encryption_circuit(schedule="interleaved", depth=depth)
    state = engine.prepare(m, psi, data + refs)
    engine.apply(state, enc)

    # recovery along every (sampled) path; decryption is undone afterwards (Clifford inverse)
    paths, sampled = _sample(list(full.recovery_paths), max_paths, rng)
    worst, worst_rest = 1.0, 0.0
    for path in paths:
        dec = full.decryption_circuit(path, depth=depth)
        out = full.output_qubits(path)
        engine.apply(state, dec)
        worst = min(worst, fidelity(state.reduced_density_matrix(list(out) + refs), psi))
        rest = [q for q in range(m) if q not in out and q not in refs]
        # the state is pure, so I(R : rest) = S(R) + S(out, R) - S(out): small sets whatever the size
        worst_rest = max(worst_rest, state.mutual_information(refs, rest) if rest else 0.0)
        engine.apply(state, dec.inverse())
    how = f"{len(paths)} of {len(full.recovery_paths)} paths (sampled)" if sampled else f"all {len(paths)} paths"
    checks.append(Check("recovery", "data register entangled with R restored exactly (worst fidelity)",
                        abs(worst - 1) <= TOL, worst, 1.0, how))
    checks.append(Check("recovery", "after decryption nothing else holds anything about (data, R) (bits)",
                        worst_rest <= TOL, worst_rest, 0.0, how))

    # marginals of every (sampled) clone and key register
    regs = []
    for mod in full.modules:
        lay = mod.layout
        base = full.index_of(f"{mod.name}.S0_1")
        for j in range(1, mod.clones + 1):
            regs.append((mod, "clone", j, [base + q - lay.qubits for q in lay.clone(j)]))
            regs.append((mod, "key", j, [base + q - lay.qubits for q in lay.key(j)]))
    regs, sampled = _sample(regs, max_marginals, rng)
    dev_mixed, dev_info, exceptions = 0.0, 0.0, []
    for mod, what, j, qs in regs:
        rho = state.reduced_density_matrix(qs)
        dev = float(np.abs(rho - np.eye(2 ** len(qs)) / 2 ** len(qs)).max())
        joint = state.reduced_density_matrix(qs + refs)
        info = float(np.abs(joint - np.kron(rho, state.reduced_density_matrix(refs))).max())
        if what == "clone" and mod.clones == 1:
            # the lone clone leaks part of its module's input: the data for a module on data qubits
            # (unless re-cloned: then it holds the next module's input)
            if not full.parents(mod.name) and j not in full._clone_children[mod.name]:
                exceptions.append((mod.name, dev, info))
            continue
        dev_mixed, dev_info = max(dev_mixed, dev), max(dev_info, info)
    how = f"{len(regs)} registers (sampled)" if sampled else f"all {len(regs)} registers"
    checks.append(Check("marginal", "every clone and key register is maximally mixed (max deviation)",
                        dev_mixed <= TOL, dev_mixed, 0.0, how))
    checks.append(Check("marginal", "every clone and key register is uncorrelated with R (max |rho_XR - rho_X rho_R|)",
                        dev_info <= TOL, dev_info, 0.0, how))
    for name, _, info in exceptions:
        checks.append(Check("marginal", f"n = 1 exception: the lone clone of {name} carries part of the input",
                            info > 1e-3, info, None, "as property 2 says for n = 1"))

    checks += _leakage_checks(comp, rng, skipped)
    return CompositionReport(checks=tuple(checks), description=describe(comp), num_qubits=comp.num_qubits, engine=engine.name,
                             seed=seed, warnings=tuple(warnings), skipped=tuple(skipped))


def _needed_set(comp: Composition, path: tuple[tuple[str, DecryptTarget], ...]) -> list[str]:
    """Labels a recovery path reads in the encrypted state (re-cloned qubits come from their children)."""
    needed: list[str] = []
    for name, target in path:
        mod = comp.module(name)
        lay = mod.layout
        needed += [f"{name}.{lay.label(q, long=True)}" for q in lay.keys]
        needed += list(mod.inputs) if target == "A" else [f"{name}.{lay.label(q, long=True)}" for q in lay.clone(int(target))]
    used_as_input = {lab for name, _ in path for lab in comp.module(name).inputs}
    return [lab for lab in dict.fromkeys(needed) if lab not in used_as_input]


def _leakage_checks(comp: Composition, rng: np.random.Generator, skipped: list[str]) -> list[Check]:
    enc = CliffordEncoding(comp.encryption_circuit(), inputs=comp.data_qubits, labels=comp.labels, name="composition")
    analyzer = LeakageAnalyzer(enc)
    core = CoreState.from_input(comp.num_qubits, np.eye(2**comp.inputs)[0], comp.data_qubits)
    core.apply(comp.encryption_circuit())
    k = comp.inputs
    sets: list[tuple[str, list[str], str]] = []
    for mod in comp.modules:
        lay = mod.layout
        j = int(rng.integers(1, mod.clones + 1))
        if mod.clones >= 2:
            sets.append((f"clone {j} of {mod.name}", [f"{mod.name}.{lay.label(q, long=True)}" for q in lay.clone(j)], "none"))
        sets.append((f"whole key of {mod.name}", [f"{mod.name}.{lay.label(q, long=True)}" for q in lay.keys], "none"))
    paths, _ = _sample(list(comp.recovery_paths), 4, rng)
    for path in paths:
        needed = _needed_set(comp, path)
        desc = " then ".join(f"{n}:{t}" for n, t in path)
        sets.append((f"qubits read by the path {desc}", needed, "authorized"))
        # without the key of the module decrypted first, its content (and so the data) is out of reach
        # (with n = 1 somewhere a lone clone leaks, so this is only a theorem when every n >= 2)
        inner = path[0][0]
        if all(m.clones >= 2 for m in comp.modules):
            sets.append((f"the same without the key of {inner}", [lab for lab in needed if not lab.startswith(f"{inner}.N")],
                         "not authorized"))
    out = []
    for name, labels, expected in sets:
        if len(labels) > MAX_LEAKAGE_SET:
            skipped.append(f"leakage of {name}: {len(labels)} qubits exceed {MAX_LEAKAGE_SET}")
            continue
        c = analyzer.classify(labels)
        ok = c.kind != "authorized" if expected == "not authorized" else c.kind == expected
        detail = f"{c.kind}" + (f", leaks {', '.join(c.leaked[:4])}" if c.kind == "partial" else "")
        if len(labels) <= MAX_CROSSCHECK_SET:
            other = core.information([comp.index_of(lab) for lab in labels])
            agree = other.bits == c.mutual_information_bits and other.kind == c.kind
            ok = ok and agree
            detail += "; CoreState.information agrees" if agree else f"; CoreState.information says {other.kind} ({other.bits} bits)"
        out.append(Check("leakage", f"{name}: {expected}", ok, c.mutual_information_bits,
                         None if expected == "not authorized" else (2.0 * k if expected == "authorized" else 0.0), detail))
    return out
