"""The capacity model of the storage service: throughput from what one round trip costs.

A round trip (put, get, acknowledge) costs CPU seconds in each role (gateway, substrate, the
other nodes, PostgreSQL, the client) and work in PostgreSQL (statements, commits, WAL bytes).
:func:`predict` gives the throughput of processes sharing ``cores``: the cores divided by the
CPU seconds of one round trip, capped where a role's processes are saturated (a Python process
uses at most one core: ``processes[role] / cpu[role]``). :func:`scale_out` gives it for machines
that each run gateways and substrate workers, against one PostgreSQL (or ``shards`` of them)
whose write capacity (:class:`DatabaseCapacity`) is measured with ``pgbench``.
:func:`report` turns the benchmark's figures (``bench/storage_scaleout.py``) into the tables of
``docs/scaling-storage.md``.

Examples:
    >>> p = predict({"gateway": 0.004, "postgres": 0.001}, cores=2, processes={"gateway": 1})
    >>> round(p.throughput, 1), p.bound      # 2 / 0.005 = 400 > 1 / 0.004 = 250
    (250.0, 'gateway')
    >>> p = predict({"gateway": 0.004, "postgres": 0.001}, cores=2, processes={"gateway": 2})
    >>> round(p.throughput, 1), p.bound
    (400.0, 'cores')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qclone.errors import InvalidArgumentError, check_int, is_real

__all__ = ["DatabaseCapacity", "DatabaseDemand", "Prediction", "ScaleOut", "database_limit", "machines_at_limit",
           "million_report", "predict", "report", "scale_out", "shards_for"]


def _positive(value: float, what: str, *, zero: bool = False) -> float:
    if not is_real(value) or not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise InvalidArgumentError(f"{what} must be a finite number {'>= 0' if zero else '> 0'}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Prediction:
    """Round trips per second, what bounds them (``cores`` or a role), the CPU seconds of one."""

    throughput: float
    bound: str
    cpu_seconds: float


def predict(cpu: Mapping[str, float], cores: float, processes: Mapping[str, int] | None = None) -> Prediction:
    """Round trips per second of processes sharing ``cores``.

    Args:
        cpu: CPU seconds one round trip costs in each role (every process of the role together).
        cores: cores the roles share (those other work leaves them).
        processes: for the roles whose processes use at most one core each (Python's GIL), how
            many there are; a role not named here is not capped (PostgreSQL's one backend per
            connection).
    """
    cores = _positive(cores, "cores")
    costs = {role: _positive(c, f"the CPU seconds of {role}", zero=True) for role, c in cpu.items()}
    total = sum(costs.values())
    if total <= 0:
        raise InvalidArgumentError("a round trip costs some CPU: every role's CPU seconds are 0")
    best, bound = cores / total, "cores"
    for role, n in (processes or {}).items():
        check_int(n, f"processes of {role}", 1)
        c = costs.get(role, 0.0)
        if c > 0 and n / c < best:
            best, bound = n / c, role
    return Prediction(best, bound, total)


@dataclass(frozen=True)
class DatabaseCapacity:
    """What one PostgreSQL sustains: statements and commits per second (small write
    transactions), WAL bytes per second (large rows), measured with ``pgbench``, and its
    ``cores`` (the CPU seconds per second its backends can use)."""

    statements_per_second: float
    commits_per_second: float
    wal_bytes_per_second: float
    cores: float


@dataclass(frozen=True)
class DatabaseDemand:
    """What one round trip asks of PostgreSQL: statements, commits, WAL bytes, CPU seconds of its
    backends."""

    statements: float
    commits: float
    wal_bytes: float
    cpu_seconds: float


def database_limit(demand: DatabaseDemand, capacity: DatabaseCapacity) -> tuple[float, str]:
    """Round trips per second one PostgreSQL takes, and which of its capacities runs out first
    (``statements``, ``commits``, ``WAL bytes`` or ``CPU``)."""
    limits = {}
    for what, need, have in (("statements", demand.statements, capacity.statements_per_second),
                             ("commits", demand.commits, capacity.commits_per_second),
                             ("WAL bytes", demand.wal_bytes, capacity.wal_bytes_per_second),
                             ("CPU", demand.cpu_seconds, capacity.cores)):
        if _positive(need, f"{what} per round trip", zero=True) > 0:
            limits[what] = _positive(have, f"{what} per second") / need
    if not limits:
        raise InvalidArgumentError("a round trip asks something of the database: every demand is 0")
    what = min(limits, key=limits.__getitem__)
    return limits[what], what


@dataclass(frozen=True)
class ScaleOut:
    """The throughput of ``machines`` machines against ``shards`` PostgreSQL shards."""

    machines: int
    shards: int
    throughput: float
    machines_limit: float
    database_limit: float
    bound: str


def scale_out(app_cpu: float, cores_per_machine: float, machines: int, demand: DatabaseDemand,
              capacity: DatabaseCapacity, shards: int = 1) -> ScaleOut:
    """Round trips per second of ``machines`` machines of ``cores_per_machine`` cores each, whose
    gateways and substrate workers spend ``app_cpu`` CPU seconds per round trip, against
    ``shards`` PostgreSQL (objects spread evenly over them by tenant or object id)."""
    check_int(machines, "machines", 1)
    check_int(shards, "shards", 1)
    app = machines * _positive(cores_per_machine, "cores per machine") / _positive(app_cpu, "the CPU per round trip")
    db, what = database_limit(demand, capacity)
    db *= shards
    if app <= db:
        return ScaleOut(machines, shards, app, app, db, "machines")
    return ScaleOut(machines, shards, db, app, db, f"PostgreSQL {what}")


def machines_at_limit(app_cpu: float, cores_per_machine: float, demand: DatabaseDemand,
                      capacity: DatabaseCapacity) -> float:
    """How many machines saturate one PostgreSQL (beyond it, more machines add nothing)."""
    db, _ = database_limit(demand, capacity)
    return db * _positive(app_cpu, "the CPU per round trip") / _positive(cores_per_machine, "cores per machine")


def shards_for(machines: int, app_cpu: float, cores_per_machine: float, demand: DatabaseDemand,
               capacity: DatabaseCapacity) -> int:
    """The fewest PostgreSQL shards that keep up with ``machines`` machines."""
    needed = machines / machines_at_limit(app_cpu, cores_per_machine, demand, capacity)
    return max(1, math.ceil(needed - 1e-9))  # 15.000000000002 shards (rounding) are 15


# ---------------------------------------------------------------------- the documentation's tables
def _si(x: float, unit: str = "") -> str:
    for factor, prefix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(x) >= factor:
            return f"{x / factor:.3g}{prefix}{unit}"
    return f"{x:.3g}{' ' + unit if unit else ''}"


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.2f}"


_STORES = {"postgresql": "PostgreSQL (metadata, joint states)", "substrate": "the substrate node's files",
           "providers": "the providers' files", "vault": "the vault's files"}


def report(figures: Mapping[str, Any], machines: tuple[int, ...] = (1, 10, 100)) -> str:
    """The Markdown tables of ``docs/scaling-storage.md`` from the benchmark's figures (the JSON
    that ``bench/storage_scaleout.py --write-docs`` writes), in sections the page includes
    (``costs``, ``scale``, ``storage``)."""
    runs = figures["runs"]
    cores = figures["cores"]
    lines = ["--8<-- [start:costs]", "| service | processes | round trips/s | p50 ms | p99 ms | predicted/s | error | CPU ms per round trip: "
             "gateway (peer) · substrate · other nodes · PostgreSQL · client | statements | transactions | "
             "commits that wrote | WAL bytes | bytes to/from PostgreSQL |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind in ("qclone", "peer"):
        for p, r in sorted(runs[kind].items(), key=lambda kv: int(kv[0])):
            cpu = r["cpu_per_round_trip"]
            cpu = {"gateway": cpu.get("peer", 0.0), **cpu}
            roles = " · ".join(_ms(cpu.get(role, 0.0)) for role in ("gateway", "substrate", "nodes", "postgres", "client"))
            pred = r["prediction"]
            lines.append(f"| {kind} | {p} | {r['per_second']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                         f"{pred['throughput']:.0f} | {100 * pred['error']:+.0f} % | {roles} | "
                         f"{r['statements_per_round_trip']:.1f} | {r['transactions_per_round_trip']:.1f} | "
                         f"{r['commits_per_round_trip']:.2f} | "
                         f"{_si(r['wal_bytes_per_round_trip'], 'B')} | {_si(r['wire_bytes_per_round_trip'], 'B')} |")
    lines.append("--8<-- [end:costs]")
    one = runs["qclone"][min(runs["qclone"], key=int)]
    cpu = one["cpu_per_round_trip"]
    app_cpu = sum(cpu.get(role, 0.0) for role in ("gateway", "substrate", "nodes"))
    demand = DatabaseDemand(one["statements_per_round_trip"], one["commits_per_round_trip"],
                            one["wal_bytes_per_round_trip"], cpu.get("postgres", 0.0))
    cap = figures["pgbench"]["capacity"]
    capacity = DatabaseCapacity(cap["statements_per_second"], cap["commits_per_second"], cap["wal_bytes_per_second"],
                                cap["cores"])
    db, what = database_limit(demand, capacity)
    at = machines_at_limit(app_cpu, cores, demand, capacity)
    lines += ["", "--8<-- [start:scale]", "| one PostgreSQL of " f"{capacity.cores:g} cores | capacity | a round trip asks | round trips/s |",
              "|---|---|---|---|"]
    for name, have, need, unit in (("statements", capacity.statements_per_second, demand.statements, "/s"),
                                   ("commits", capacity.commits_per_second, demand.commits, "/s"),
                                   ("WAL bytes", capacity.wal_bytes_per_second, demand.wal_bytes, "B/s"),
                                   ("CPU", capacity.cores, demand.cpu_seconds, "s/s")):
        asked = f"{_ms(need)} ms" if name == "CPU" else _si(need, "B" if name == "WAL bytes" else "")
        lines.append(f"| {name} | {_si(have, unit)} | {asked} | {have / need:.0f} |" if need > 0 else
                     f"| {name} | {_si(have, unit)} | 0 | - |")
    lines += ["", f"One PostgreSQL takes **{db:.0f} round trips/s** ({what}: the first of its capacities to run out). "
                  "A machine of "
                  f"{cores:g} cores running gateways and substrate workers does **{cores / app_cpu:.0f} round trips/s** "
                  f"({_ms(app_cpu)} ms of CPU per round trip in gateway, substrate and the other nodes), so "
                  f"**{at:.1f} machines** saturate one PostgreSQL.", "",
              "| machines | round trips/s, one PostgreSQL | bound | PostgreSQL shards needed | round trips/s with them |",
              "|---|---|---|---|---|"]
    for m in machines:
        single = scale_out(app_cpu, cores, m, demand, capacity)
        k = shards_for(m, app_cpu, cores, demand, capacity)
        sharded = scale_out(app_cpu, cores, m, demand, capacity, shards=k)
        lines.append(f"| {m} | {single.throughput:.0f} | {single.bound} | {k} | {sharded.throughput:.0f} |")
    lines.append("--8<-- [end:scale]")
    storage = figures.get("storage")
    if storage:
        per = storage["bytes_per_object"]
        total = sum(per.values())
        lines += ["", "--8<-- [start:storage]", f"Bytes per stored object (n = 4 clones of one qubit; {storage['source']}):", "",
                  "| where | bytes per object | 10⁶ objects | 10⁸ objects | per machine at 10⁸ objects, 10 machines | "
                  "per machine, 100 machines |", "|---|---|---|---|---|---|"]
        for where, b in [*((w, b) for w, b in per.items() if b > 0), ("total", total)]:
            shared = where == "postgresql"  # one PostgreSQL (or its shards), not spread over the machines
            lines.append(f"| {_STORES.get(where, where)} | {b:.0f} | {_si(b * 1e6, 'B')} | {_si(b * 1e8, 'B')} | "
                         f"{'(in PostgreSQL)' if shared else _si(b * 1e8 / 10, 'B')} | "
                         f"{'(in PostgreSQL)' if shared else _si(b * 1e8 / 100, 'B')} |")
        lines.append("--8<-- [end:storage]")
    return "\n".join(lines) + "\n"


def _objects(count: int) -> str:
    exponent = round(math.log10(count)) if count > 0 else 0
    return f"10{str(exponent).translate(str.maketrans('0123456789', '⁰¹²³⁴⁵⁶⁷⁸⁹'))}" if count == 10 ** exponent \
        else f"{count:,}"


def million_report(figures: Mapping[str, Any], target: float = 2.0) -> str:
    """The Markdown of ``docs/scaling-storage.md``'s section on many objects in one tenant, from the
    JSON that ``bench/storage_million.py --write-docs`` writes (section ``million``)."""
    lines = ["--8<-- [start:million]",
             "Latency at each size, p50 / p99 in ms, and in brackets each over the same figure of the "
             "reference store (loaded with 10³ objects; the round trips measured on it add theirs) measured request "
             "by request in turn with it:", "",
             "| objects | when | put | get | `ls` first page | `ls` middle page |", "|---|---|---|---|---|---|"]
    for point in figures["checkpoints"]:
        for phase, label in (("after_load", "right after the load"), ("maintained", "after VACUUM (ANALYZE)")):
            m = point[phase]
            big, ratios = m["big"], m["ratios"]
            cells = []
            for what, fig in (("put", big["round_trips"]["put"]), ("get", big["round_trips"]["get"]),
                              ("ls_first", big["listing"]["first_page"]), ("ls_deep", big["listing"]["deep_page"])):
                cells.append("-" if not fig else
                             f"{fig['p50_ms']:.1f} / {fig['p99_ms']:.1f} "
                             f"({ratios[what + '_p50']:.2f}× / {ratios[what + '_p99']:.2f}×)")
            lines.append(f"| {_objects(point['objects'])} | {label} | " + " | ".join(cells) + " |")
    last = figures["checkpoints"][-1]
    worst = max(figures["flatness"], key=lambda k: figures["flatness"][k])
    verdict = "flat" if figures["flat_within_2x"] else "**not** flat"
    vac = ", ".join(f"{p['vacuum_analyze_seconds']:.1f} s at {_objects(p['objects'])}" for p in figures["checkpoints"]
                    if "vacuum_analyze_seconds" in p)
    per = figures["bytes_per_object"]
    rec = figures["recovery"]
    lines += ["", f"At {_objects(last['objects'])} objects, maintained, the latency is **{verdict} within {target:g}×** "
                  f"of the reference's (the largest ratio: {worst.replace('_', ' ')}, "
                  f"{figures['flatness'][worst]:.2f}×). `VACUUM (ANALYZE)` after the load took {vac}.", "",
              f"Bulk load through the batch route: **{figures['load_per_second']:.0f} objects/s** "
              f"({figures['batch']} objects a request, {figures['loaders']} requests in flight), "
              f"{figures['bulk_to_single_put']:.0f}× the rate of single puts one at a time.", "",
              "| where | bytes per stored object |", "|---|---|"]
    in_pg = str(figures.get("substrate", "")).startswith("postgresql")
    labels = {"substrate": "the substrate's joint states (its PostgreSQL tables)" if in_pg else "the substrate's file",
              "vault": "the vault's file (the key)", "providers": "the providers' files (four clones)",
              "metadata": "the whole PostgreSQL database (metadata, audit log"
                          + (", joint states)" if in_pg else ")")}
    for where, label in labels.items():
        if where in per:
            lines.append(f"| {label} | {per[where]:.0f} |")
    lines += ["", f"Recovery after a kill -9 during a batch at {_objects(last['objects'])} objects: the server ready "
                  f"{rec['seconds_to_ready']:.1f} s after its start, the first get answered after "
                  f"{rec['seconds_to_first_get']:.1f} s, peak memory {rec['peak_rss_mb']:.0f} MB; the killed batch, "
                  f"sent again with its key: {rec['retry_created']} objects created, {rec['retry_earlier']} found "
                  "stored before the kill, none twice.",
              "--8<-- [end:million]"]
    return "\n".join(lines) + "\n"
