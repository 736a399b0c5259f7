"""Noise sweeps with sinter: a grid over clones, noise model, error rate, decrypted clone and depth variant.

Each grid point is a :class:`SweepPoint`; its :meth:`~SweepPoint.task` is a
``sinter.Task`` whose circuit is :func:`qclone.sim.stabilizer.fidelity_circuit`
and whose metadata names the point, so the task's strong id is a hash of
*what* is computed. Shots are taken by :class:`BellSampler`, a sinter sampler
that counts the four Bell outcomes (errors = shots where either
Bell-stabilizer observable flipped; custom counts ``p_X``, ``p_Y``, ``p_Z``).

:func:`run_sweep` runs the grid with ``sinter.collect`` (worker processes,
``max_shots`` / ``max_errors`` stopping, a resumable CSV in sinter's format,
sinter's progress display), or, given ``dask_scheduler``, the same tasks on a
Dask cluster, written to the same CSV format. Either way an interrupted sweep
resumes from its CSV without redoing or double-counting shots.

Scripts that call :func:`run_sweep` with worker processes need an
``if __name__ == "__main__":`` guard (sinter starts processes with spawn).

Examples:
    >>> pts = grid(clones=[2, 3], noise=["depolarizing"], p=[0.01])
    >>> [(pt.clones, pt.p, pt.decrypt) for pt in pts]
    [(2, 0.01, 1), (3, 0.01, 1)]
    >>> rows = run_sweep(pts, max_shots=2000, workers=1, progress=False)
    >>> [r.shots for r in rows]
    [2000, 2000]
"""

from __future__ import annotations

import collections
import pathlib
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import sinter
import stim

from qclone.analysis.code_sim import MAX_ROUNDS, CorrectedSampler, check_retrieval, corrected_circuit
from qclone.errors import InvalidArgumentError, check_int, is_int
from qclone.protocol import DecryptTarget, Layout
from qclone.protocol.build import check_depth
from qclone.sim.noise import NoiseModel, parse_noise
from qclone.sim.stabilizer import FidelityEstimate, count_outcomes, fidelity_circuit

#: The sampler's name in sinter's CSV ``decoder`` column.
SAMPLER_NAME = "qclone-bell"


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: n, noise name (``a+b`` for a sum), error rate, decrypted clone, depth variant,
    retrieval (``plain``, or ``corrected``: :mod:`qclone.analysis.code_sim`) and its syndrome rounds."""

    clones: int
    noise: str
    p: float | None
    decrypt: int | str = 1
    depth: str = "linear"
    retrieval: str = "plain"
    rounds: int = 1

    def __post_init__(self) -> None:
        lay = Layout(self.clones)
        lay.check_target(self.decrypt)
        check_depth(self.depth)
        self.noise_model()  # validates the name and p
        object.__setattr__(self, "retrieval", check_retrieval(self.retrieval))
        object.__setattr__(self, "rounds", check_int(self.rounds, "--rounds", 1, MAX_ROUNDS))
        if self.retrieval == "corrected" and self.clones < 2:
            raise InvalidArgumentError("corrected retrieval needs at least 2 clones (with n = 1 the code has distance 1)")

    def noise_model(self) -> NoiseModel:
        return parse_noise(self.noise, self.p)

    def metadata(self) -> dict:
        meta = {"clones": self.clones, "noise": self.noise, "p": self.p, "decrypt": self.decrypt, "depth": self.depth}
        if self.retrieval != "plain":  # plain points keep the metadata (and strong ids) they always had
            meta.update(retrieval=self.retrieval, rounds=self.rounds)
        return meta

    @classmethod
    def from_metadata(cls, meta: dict) -> SweepPoint:
        try:
            return cls(int(meta["clones"]), str(meta["noise"]), None if meta["p"] is None else float(meta["p"]),
                       meta["decrypt"], str(meta["depth"]), str(meta.get("retrieval", "plain")), int(meta.get("rounds", 1)))
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidArgumentError(f"not a qclone sweep record: {meta!r} ({e})") from None

    def circuit(self) -> stim.Circuit:
        decrypt: DecryptTarget = "A" if self.decrypt == "A" else int(self.decrypt)
        if self.retrieval == "corrected":
            return corrected_circuit(self.clones, noise=self.noise_model(), rounds=self.rounds, decrypt=decrypt, depth=self.depth)
        return fidelity_circuit(self.clones, noise=self.noise_model(), decrypt=decrypt, depth=self.depth)

    def task(self) -> sinter.Task:
        circuit = self.circuit()
        return sinter.Task(circuit=circuit, decoder=SAMPLER_NAME, json_metadata=self.metadata(),
                           detector_error_model=circuit.detector_error_model(approximate_disjoint_errors=True))


def resolve_decrypt(token: str | int, clones: int) -> int | str:
    """A decrypted-clone token for n clones: a number, ``first``, ``middle``, ``last`` or ``A``.

    Examples:
        >>> [resolve_decrypt(t, 10) for t in ("first", "middle", "last", "3", "A")]
        [1, 5, 10, 3, 'A']
    """
    t = str(token).strip().lower()
    named = {"first": 1, "middle": max(1, clones // 2), "last": clones}
    if t in named:
        return named[t]
    if t == "a":
        return "A"
    try:
        return int(t)
    except ValueError:
        raise InvalidArgumentError(f"decrypted clone must be a number, first, middle, last or A, got {token!r}") from None


def grid(
    *,
    clones: Iterable[int],
    noise: Iterable[str],
    p: Iterable[float | None] = (None,),
    decrypt: Iterable[str | int] = (1,),
    depth: Iterable[str] = ("linear",),
    retrieval: Iterable[str] = ("plain",),
    rounds: int = 1,
) -> list[SweepPoint]:
    """Every combination; clones vary fastest, then decrypt, depth, retrieval, p and noise."""
    out = []
    for nz in noise:
        for pv in p:
            for rt in retrieval:
                for dp in depth:
                    for dec in decrypt:
                        for n in clones:
                            out.append(SweepPoint(int(n), nz, pv, resolve_decrypt(dec, int(n)), dp, rt, rounds))
    if not out:
        raise InvalidArgumentError("the sweep grid is empty")
    return out


# --- the sinter sampler --------------------------------------------------------------------


class CompiledBellSampler(sinter.CompiledSampler):
    """Samples one fidelity circuit and counts the Bell outcomes."""

    def __init__(self, circuit: stim.Circuit, seed: int | None = None) -> None:
        self._sampler = circuit.compile_detector_sampler(seed=seed)

    def sample(self, suggested_shots: int) -> sinter.AnonTaskStats:
        shots = max(1, int(suggested_shots))
        t0 = time.monotonic()
        _, obs = self._sampler.sample(shots, separate_observables=True)
        counts = count_outcomes(obs)
        return sinter.AnonTaskStats(
            shots=shots,
            errors=shots - counts["p_I"],
            seconds=time.monotonic() - t0,
            custom_counts=collections.Counter({k: v for k, v in counts.items() if k != "p_I" and v}),
        )


class BellSampler(sinter.Sampler):
    """sinter sampler for qclone's fidelity circuits (no decoder: the observables are read directly)."""

    def compiled_sampler_for_task(self, task: sinter.Task) -> sinter.CompiledSampler:
        meta = task.json_metadata if isinstance(task.json_metadata, dict) else {}
        if meta.get("retrieval") == "corrected":
            return CorrectedSampler(task.circuit, meta)
        return CompiledBellSampler(task.circuit)


def sample_chunk(circuit_text: str, shots: int, seed: int | None = None,
                 meta: dict | None = None) -> tuple[int, int, dict[str, int], float]:
    """One batch of shots (what a Dask worker runs): shots, errors, custom counts, seconds."""
    circuit = stim.Circuit(circuit_text)
    sampler: sinter.CompiledSampler = (CorrectedSampler(circuit, meta, seed=seed) if meta and meta.get("retrieval") == "corrected"
                                       else CompiledBellSampler(circuit, seed=seed))
    stats = sampler.sample(shots)
    return stats.shots, stats.errors, dict(stats.custom_counts), stats.seconds


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    """A grid point and its fidelity estimate."""

    point: SweepPoint
    estimate: FidelityEstimate
    seconds: float = 0.0

    @property
    def shots(self) -> int:
        return self.estimate.shots

    @classmethod
    def from_stats(cls, stats: sinter.TaskStats) -> SweepResult:
        c = stats.custom_counts
        counts = {"p_I": stats.shots - stats.errors, "p_X": c.get("p_X", 0), "p_Y": c.get("p_Y", 0), "p_Z": c.get("p_Z", 0)}
        if sum(counts.values()) != stats.shots:
            raise InvalidArgumentError(f"inconsistent counts in the sweep record for {stats.json_metadata!r}")
        return cls(SweepPoint.from_metadata(stats.json_metadata), FidelityEstimate.from_counts(counts), stats.seconds)

    def to_dict(self) -> dict:
        return {**self.point.metadata(), "retrieval": self.point.retrieval, "rounds": self.point.rounds,
                **self.estimate.to_dict(), "seconds": self.seconds}


def read_results(paths: str | pathlib.Path | Sequence[str | pathlib.Path]) -> list[SweepResult]:
    """Aggregate sweep CSVs (sinter's format) into one result per grid point."""
    if isinstance(paths, (str, pathlib.Path)):
        paths = [paths]
    for p in paths:
        if pathlib.Path(p).is_dir():
            raise InvalidArgumentError(f"{str(p)!r} is a directory, not a sweep file")
        if not pathlib.Path(p).is_file():
            raise InvalidArgumentError(f"no such sweep file: {p}")
    try:
        stats = sinter.read_stats_from_csv_files(*paths)
    except Exception as e:  # sinter raises several types on malformed files
        raise InvalidArgumentError(f"not a sinter CSV: {' '.join(str(e).split())[:200]}") from None
    return [SweepResult.from_stats(s) for s in stats if s.decoder == SAMPLER_NAME and s.shots]


def _order(results: Iterable[SweepResult], points: Sequence[SweepPoint]) -> list[SweepResult]:
    by_point = {r.point: r for r in results}
    return [by_point[p] for p in points if p in by_point]


def run_sweep(
    points: Sequence[SweepPoint],
    *,
    max_shots: int,
    max_errors: int | None = None,
    workers: int = 2,
    csv: str | pathlib.Path | None = None,
    progress: bool = True,
    dask_scheduler: str | None = None,
    dask_batch: int = 10_000,
    dask_timeout: float = 30.0,
    on_progress: Callable[[int, int], object] | None = None,
) -> list[SweepResult]:
    """Run the grid and return one result per point, in grid order.

    Args:
        points: the grid (see :func:`grid`).
        max_shots: shots per point (stop when reached).
        max_errors: stop a point early after this many errors (``None``: no limit).
        workers: sinter worker processes.
        csv: resumable results file in sinter's CSV format; points already in it
            count toward their budget.
        progress: print sinter's progress display (or, with Dask, one line per batch) on stderr.
        dask_scheduler: address of a Dask scheduler (``tcp://host:port``) to run on instead.
        dask_batch: shots per Dask batch.
        dask_timeout: seconds to wait for the Dask scheduler to answer.
        on_progress: called as ``on_progress(shots_done, shots_at_most)`` as batches land (shots of this
            run; ``shots_at_most`` is ``max_shots`` per point, reached unless ``max_errors`` stops a point early).
    """
    if not is_int(max_shots) or max_shots < 1:
        raise InvalidArgumentError(f"max_shots must be a positive integer, got {max_shots!r}")
    if max_errors is not None and (not is_int(max_errors) or max_errors < 1):
        raise InvalidArgumentError(f"max_errors must be a positive integer, got {max_errors!r}")
    if dask_batch < 1:
        raise InvalidArgumentError(f"dask_batch must be at least 1, got {dask_batch}")
    if workers < 1:
        raise InvalidArgumentError(f"workers must be at least 1, got {workers}")
    if len(set(points)) != len(points):
        raise InvalidArgumentError("the sweep grid repeats a point")
    tasks = [pt.task() for pt in points]
    done = [0]

    def count(shots: int) -> None:
        if on_progress is not None and shots:
            done[0] += shots
            on_progress(done[0], max_shots * len(tasks))

    if dask_scheduler is not None:
        stats = _run_dask(tasks, dask_scheduler, max_shots=max_shots, max_errors=max_errors, csv=csv,
                          progress=progress, batch=dask_batch, timeout=dask_timeout, count=count)
    else:
        stats = sinter.collect(
            num_workers=workers,
            tasks=tasks,
            decoders=[SAMPLER_NAME],
            custom_decoders={SAMPLER_NAME: BellSampler()},
            max_shots=max_shots,
            max_errors=max_errors,
            save_resume_filepath=csv,
            print_progress=progress,
            progress_callback=None if on_progress is None else lambda prog: count(sum(st.shots for st in prog.new_stats)),
        )
    mine = {t.strong_id() for t in tasks}
    return _order((SweepResult.from_stats(s) for s in stats if s.strong_id in mine and s.shots), points)


def _run_dask(
    tasks: Sequence[sinter.Task],
    address: str,
    *,
    max_shots: int,
    max_errors: int | None,
    csv: str | pathlib.Path | None,
    progress: bool,
    batch: int,
    timeout: float,
    count: Callable[[int], None] | None = None,
) -> list[sinter.TaskStats]:
    """The same tasks on a Dask cluster: batches of shots as futures, stats appended to the CSV as they land."""
    from distributed import Client, as_completed  # the [dask] extra: its absence is an ImportError naming the module
    totals: dict[str, sinter.TaskStats] = {}
    for t in tasks:
        totals[t.strong_id()] = sinter.TaskStats(strong_id=t.strong_id(), decoder=SAMPLER_NAME, json_metadata=t.json_metadata)
    path = pathlib.Path(csv) if csv is not None else None
    if path is not None and path.exists() and path.stat().st_size:
        for s in sinter.read_stats_from_csv_files(path):
            if s.strong_id in totals and s.decoder == SAMPLER_NAME:
                totals[s.strong_id] = totals[s.strong_id] + s
    out = None
    if path is not None:
        new = not path.exists() or not path.stat().st_size
        out = path.open("a")
        if new:
            print(sinter.CSV_HEADER, file=out, flush=True)
    texts = {t.strong_id(): str(t.circuit) for t in tasks}
    meta = {t.strong_id(): t.json_metadata for t in tasks}

    def remaining(sid: str) -> int:
        s = totals[sid]
        if max_errors is not None and s.errors >= max_errors:
            return 0
        return max(0, max_shots - s.shots)

    try:
        client = Client(address, timeout=timeout)
    except Exception as e:  # connection failures come as OSError, TimeoutError, ...
        raise InvalidArgumentError(f"cannot reach the Dask scheduler at {address!r}: {' '.join(str(e).split())[:200]}") from None
    try:
        in_flight: dict[str, int] = collections.defaultdict(int)
        futures = as_completed()
        rng = np.random.default_rng()

        def submit(sid: str) -> bool:
            left = remaining(sid) - in_flight[sid]
            if left <= 0:
                return False
            shots = min(batch, left)
            fut = client.submit(sample_chunk, texts[sid], shots, int(rng.integers(2**63)), meta[sid], pure=False)
            fut.qclone_sid = sid  # type: ignore[attr-defined]  # our tag on the dask future
            in_flight[sid] += shots
            futures.add(fut)
            return True

        slots = max(2, 2 * len(client.nthreads() or {0: 1}))
        queue = [sid for sid in texts]
        while queue and futures.count() < slots:
            sid = queue.pop(0)
            if submit(sid):
                queue.append(sid)
        for fut in futures:
            sid = fut.qclone_sid
            shots, errors, custom, seconds = fut.result()
            in_flight[sid] -= shots
            got = sinter.TaskStats(strong_id=sid, decoder=SAMPLER_NAME, json_metadata=meta[sid], shots=shots,
                                   errors=errors, seconds=seconds, custom_counts=collections.Counter(custom))
            totals[sid] = totals[sid] + got
            if out is not None:
                print(got.to_csv_line(), file=out, flush=True)
            if count is not None:
                count(shots)
            if progress:
                s = totals[sid]
                sys.stderr.write(f"dask: {meta[sid]} shots {s.shots}/{max_shots} errors {s.errors}\n")
            for other in [sid, *queue]:
                if futures.count() >= slots:
                    break
                submit(other)
    finally:
        client.close()
        if out is not None:
            out.close()
    return list(totals.values())


