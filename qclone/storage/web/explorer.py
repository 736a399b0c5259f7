"""The dashboard's Protocol explorer and Durability pages (``/explorer``, ``/durability``).

A thin layer over the functions the CLI commands call, never a second implementation:

* Explorer: the circuit of :func:`qclone.protocol.protocol_circuit` (``qclone circuit``) drawn
  by :func:`qclone.protocol.svg.circuit_svg`, its gate counts; the leakage census of every
  qubit set (:func:`qclone.analysis.leakage.census.subset_census`, ``qclone classify
  --census``); "how many clones can I afford?" (:func:`qclone.analysis.scaling.largest_clones`,
  ``qclone scaling``) with the exact fidelity curve (:func:`qclone.analysis.plot.exact_series`).
* Durability: the Monte Carlo of :func:`qclone.analysis.durability.simulate` (``qclone storage
  simulate``) and the exact comparison with secret sharing of
  :func:`qclone.analysis.planner.compare` (``storage simulate --compare``), as plots.

Every page is also JSON (``?format=json``) with the numbers those functions return. Query
parameters are parsed here with budgets (each value at most :data:`MAX_PARAM` characters; n,
k and the other sizes capped so the worst page costs a few seconds) and bad input is a 400
(HTML page or JSON error) with one line naming the parameter. Results are cached
(:data:`CACHE_SIZE` parameter sets per computation) and at most :data:`CONCURRENT` heavy
computations run at a time; a request that waits more than :data:`WAIT` seconds for its turn
is a 503 ("busy, try again").

Mounted by the dashboard app under ``/ui`` behind its sign-in: :func:`make_router` takes its
templates (``explorer.html`` and ``durability.html`` extend its ``base.html``). GET only: no
state changes, so no CSRF token.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from qclone.errors import InvalidArgumentError, QcloneError, check_int, check_real
from qclone.storage.errors import UnavailableError, error_headers, http_status

if TYPE_CHECKING:
    from qclone.protocol import DecryptTarget

#: Longest query parameter value accepted (characters).
MAX_PARAM = 32
#: Largest n for the gate counts (the circuit is built in bulk; its depth is O(gates)).
MAX_EXPLORER_CLONES = 10_000
#: Largest register size k.
MAX_EXPLORER_QUBITS = 8
#: Largest n whose leakage census the page computes (orbits of the pair symmetry: ~2 s at n = 10).
MAX_CENSUS_CLONES = 10
#: Up to this n the census enumerates every subset one by one (2^(2n+1) sets).
ENUMERATION_CLONES = 3
#: The "how many clones?" search stops here (about 3 s at p = 1e-4).
MAX_SCALING_CLONES = 2_000
#: Most simulated objects of the durability Monte Carlo on a page.
MAX_PAGE_OBJECTS = 1_000_000
#: Cached results per computation, heavy computations at once, seconds to wait for a turn.
CACHE_SIZE = 64
CONCURRENT = 1
WAIT = 30.0

_turn = threading.BoundedSemaphore(CONCURRENT)


def _heavy(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` (cached by the caller) once a slot is free."""
    if not _turn.acquire(timeout=WAIT):
        raise UnavailableError("the explorer is busy with other computations; try again in a moment", retry_after=WAIT)
    try:
        return fn(*args)
    finally:
        _turn.release()


# ---------------------------------------------------------------------------- parameters
def _raw(params: Mapping[str, str], name: str, default: str) -> str:
    value = params.get(name)
    if value is None or value.strip() == "":
        return default
    if len(value) > MAX_PARAM:
        raise InvalidArgumentError(f"{name}: at most {MAX_PARAM} characters")
    return value.strip()


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _raw(params, name, str(default))
    try:
        number = int(value)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be an integer, got {value!r}") from None
    return check_int(number, name, low, high)


def _real(params: Mapping[str, str], name: str, default: float | None, low: float, high: float) -> float | None:
    value = _raw(params, name, "" if default is None else repr(default))
    if value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}") from None
    return check_real(number, name, low, high)


def _choice(params: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _raw(params, name, default)
    if value not in choices:
        raise InvalidArgumentError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def explorer_params(params: Mapping[str, str]) -> dict[str, Any]:
    """The explorer's query parameters, validated: ``n``, ``k``, ``decrypt`` (``none``, a clone
    number or ``A``), ``depth``, ``noise`` and ``p`` (None for the heron preset)."""
    from qclone.protocol import DEPTHS, Layout
    from qclone.sim.noise import NOISE_MODELS

    n = _int(params, "n", 3, 1, MAX_EXPLORER_CLONES)
    k = _int(params, "k", 1, 1, MAX_EXPLORER_QUBITS)
    decrypt = _raw(params, "decrypt", "1")
    target = None if decrypt.lower() == "none" else Layout(n, qubits=k).check_target(decrypt)
    depth = _choice(params, "depth", "linear", DEPTHS)
    noise = _choice(params, "noise", "memory", tuple(m for m in NOISE_MODELS if m != "readout"))
    p = None if noise == "heron" else _real(params, "p", 1e-3, 1e-4, 0.25)  # the preset has its own rates
    return {"n": n, "k": k, "decrypt": target, "depth": depth, "noise": noise, "p": p}


def durability_params(params: Mapping[str, str]) -> dict[str, Any]:
    """The durability page's query parameters, validated (the options of ``qclone storage simulate``)."""
    from qclone.analysis.durability import MAX_SIM_CLONES

    out: dict[str, Any] = {
        "clones": _int(params, "n", 4, 1, MAX_SIM_CLONES),
        "failure_rate": _real(params, "failure_rate", 0.01, 0.0, 1.0),
        "vault_failure_rate": _real(params, "vault_failure_rate", 0.0, 0.0, 1.0),
        "zones": _int(params, "zones", 0, 0, MAX_SIM_CLONES),
        "zone_failure_rate": _real(params, "zone_failure_rate", 0.0, 0.0, 1.0),
        "objects": _int(params, "objects", 100_000, 1, MAX_PAGE_OBJECTS),
        "seed": _int(params, "seed", 1, 0, 2**63 - 1),
        "storage_time": _real(params, "storage_time", None, 0.0, 1e9),
        "t1": _real(params, "t1", 3600.0, 1e-9, 1e12),
        "t2": _real(params, "t2", 3600.0, 1e-9, 1e12),
        "vaults": _int(params, "vaults", 2, 2, MAX_SIM_CLONES),
        "qss_threshold": None if _raw(params, "qss_threshold", "") == "" else _int(params, "qss_threshold", 2, 2, 8),
    }
    return out


# ---------------------------------------------------------------------------- computations
def _svg_data_uri(fig: Any) -> str:
    """A matplotlib figure as a ``data:`` URI (an ``<img>``: its ids never clash with the page's)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


@lru_cache(maxsize=CACHE_SIZE)
def circuit_facts(n: int, k: int, decrypt: DecryptTarget | None, depth: str) -> dict[str, Any]:
    """Size, gate counts and (when small enough to draw) the SVG of the protocol circuit."""
    from qclone.protocol import Layout, protocol_circuit
    from qclone.protocol.build import check_depth
    from qclone.protocol.circuit import ONE_QUBIT_GATES, TWO_QUBIT_GATES
    from qclone.protocol.render import MAX_DRAWING_DEPTH, MAX_DRAWING_QUBITS
    from qclone.protocol.svg import circuit_svg

    lay = Layout(n, qubits=k)
    circ = protocol_circuit(lay, decrypt=decrypt, depth=check_depth(depth))
    gates = {g: circ.count(g) for g in (*ONE_QUBIT_GATES, *sorted(TWO_QUBIT_GATES)) if circ.count(g)}
    drawable = circ.num_qubits <= MAX_DRAWING_QUBITS and circ.depth <= MAX_DRAWING_DEPTH
    return {
        "num_qubits": circ.num_qubits,
        "gates": gates,
        "num_gates": circ.num_gates,
        "two_qubit_gates": circ.num_two_qubit_gates,
        "depth": circ.depth,
        "two_qubit_depth": circ.two_qubit_depth,
        "output_qubits": None if decrypt is None else [lay.labels[q] for q in lay.output_qubits(decrypt)],
        "svg": circuit_svg(circ, lay.labels) if drawable else None,
        "not_drawn": None if drawable else (f"drawn up to {MAX_DRAWING_QUBITS} qubits and depth {MAX_DRAWING_DEPTH}; "
                                            f"this circuit has {circ.num_qubits} qubits, depth {circ.depth}"),
    }


@lru_cache(maxsize=CACHE_SIZE)
def census_facts(n: int, decrypt: DecryptTarget | None) -> dict[str, Any]:
    """The leakage census of every subset of the bare protocol's qubits at that stage."""
    from qclone.analysis.leakage.census import subset_census
    from qclone.analysis.leakage.stages import stage_name

    method = "enumeration" if n <= ENUMERATION_CLONES else "orbits"
    return subset_census(n, stage=stage_name(decrypt), method=method).to_dict()


@lru_cache(maxsize=CACHE_SIZE)
def scaling_facts(noise: str, p: float | None, depth: str) -> dict[str, Any]:
    """The largest affordable n (exact) and the exact fidelity curve around it."""
    import numpy as np

    from qclone.analysis.plot import exact_series
    from qclone.analysis.scaling import largest_clones

    answer = largest_clones(noise, p, depth=depth, max_clones=MAX_SCALING_CLONES)
    top = min(MAX_SCALING_CLONES, 2 * (answer.largest_clones or 1) + 2)
    ns = sorted({int(v) for v in np.unique(np.geomspace(1, top, 14).round())}
                | ({answer.largest_clones, answer.largest_clones + 1} if answer.largest_clones else set()))
    series = exact_series(noise, p, [v for v in ns if v <= MAX_SCALING_CLONES], depth=depth)
    return {"answer": answer.to_dict(),
            "curve": {"label": series.label, "clones": list(series.clones), "average_fidelity": list(series.fidelity)}}


@lru_cache(maxsize=CACHE_SIZE)
def scaling_plot(noise: str, p: float | None, depth: str) -> str:
    """The curve of :func:`scaling_facts` drawn by :func:`qclone.analysis.plot.fidelity_figure` (a data URI)."""
    from qclone.analysis.plot import FidelitySeries, fidelity_figure

    curve = scaling_facts(noise, p, depth)["curve"]
    series = FidelitySeries(curve["label"], tuple(curve["clones"]), tuple(curve["average_fidelity"]))
    title = f"How many clones can {noise}" + ("" if p is None else f" p = {p:g}") + f" ({depth} depth) afford?"
    return _svg_data_uri(fidelity_figure([series], title=title))


@lru_cache(maxsize=CACHE_SIZE)
def _durability(items: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    from qclone.analysis.durability import simulate
    from qclone.analysis.planner import compare

    par = dict(items)
    sim = simulate(clones=par["clones"], failure_rate=par["failure_rate"], objects=par["objects"],
                   vault_failure_rate=par["vault_failure_rate"], storage_time=par["storage_time"], t1=par["t1"],
                   t2=par["t2"], seed=par["seed"], zones=par["zones"], zone_failure_rate=par["zone_failure_rate"])
    cmp = compare(clones=par["clones"], failure_rate=par["failure_rate"], vault_failure_rate=par["vault_failure_rate"],
                  zones=par["zones"], zone_failure_rate=par["zone_failure_rate"], vaults=par["vaults"],
                  qss_threshold=par["qss_threshold"], storage_time=par["storage_time"], t1=par["t1"], t2=par["t2"])
    return {"simulation": sim, "comparison": cmp}


@lru_cache(maxsize=CACHE_SIZE)
def _durability_plots(items: tuple[tuple[str, Any], ...]) -> dict[str, str]:
    from qclone.analysis.durability import durability_figure

    facts = _durability(items)
    return {"simulation": _svg_data_uri(durability_figure(facts["simulation"])),
            "comparison": _svg_data_uri(compare_figure(facts["comparison"]))}


def durability_facts(par: Mapping[str, Any], *, plots: bool = False) -> dict[str, Any]:
    """The storage Monte Carlo and the exact comparison with secret sharing (``plots``: and their plots)."""
    items = tuple(sorted(par.items()))
    return _durability(items) | ({"plots": _durability_plots(items)} if plots else {})


def compare_figure(result: Mapping[str, Any]) -> Any:
    """The loss probability (log scale) of every scheme of :func:`qclone.analysis.planner.compare`."""
    from matplotlib.figure import Figure

    rows = result["rows"]
    par = result["parameters"]
    fig = Figure(figsize=(7, 0.45 * len(rows) + 1.6))
    ax = fig.add_subplot()
    floor = 1e-18  # an exact loss of 0 has no place on a log axis: drawn at the floor, labelled
    losses = [max(r["loss"], floor) for r in rows]
    labels = [f"{r['scheme']} ({r['units']} × d={r['dimension']})" for r in rows]
    ax.barh(range(len(rows)), losses, color="C0")
    for i, r in enumerate(rows):
        ax.text(losses[i], i, f"  {r['loss']:.3g}", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("probability that the state is lost (exact)")
    ax.set_title(f"Alternatives: provider loss P = {par['failure_rate']:g}, vault loss q = {par['vault_failure_rate']:g}",
                 fontsize=9)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- pages
def explorer_page(params: Mapping[str, str], *, plots: bool = True) -> dict[str, Any]:
    """The explorer's document: the validated parameters and every number shown (``plots``: and the
    drawings; the JSON has none)."""
    from qclone.protocol.layout import single_clone_warning

    par = explorer_params(params)
    n, k, target = par["n"], par["k"], par["decrypt"]
    out: dict[str, Any] = {"parameters": par, "warning": single_clone_warning(n) if k == 1 else None}
    out["circuit"] = _heavy(circuit_facts, n, k, target, par["depth"])
    if k != 1:
        out["census"], out["census_note"] = None, "the census counts the sets of the one-qubit protocol (k = 1)"
    elif n > MAX_CENSUS_CLONES:
        out["census"], out["census_note"] = None, (f"computed here up to n = {MAX_CENSUS_CLONES}; "
                                                   "qclone classify --census counts larger n")
    else:
        out["census"], out["census_note"] = _heavy(census_facts, n, target), None
    out["scaling"] = _heavy(scaling_facts, par["noise"], par["p"], par["depth"])
    if plots:
        out["scaling"] = out["scaling"] | {"plot": _heavy(scaling_plot, par["noise"], par["p"], par["depth"])}
    else:
        out["circuit"] = {key: v for key, v in out["circuit"].items() if key != "svg"}
    return out


def durability_page(params: Mapping[str, str], *, plots: bool = True) -> dict[str, Any]:
    """The durability page's document: parameters, the simulation and the comparison (``plots``: and
    their plots)."""
    par = durability_params(params)
    return {"parameters": par, **_heavy(lambda: durability_facts(par, plots=plots))}


def make_router(templates: Any) -> APIRouter:
    """The two pages as a FastAPI router (``templates``: the dashboard's ``Jinja2Templates``)."""
    router = APIRouter()

    def render(request: Request, template: str, build: Callable[..., dict[str, Any]],
               form: Callable[[Mapping[str, str]], dict[str, Any]]) -> Response:
        params = dict(request.query_params)
        as_json = params.pop("format", "html") == "json"
        try:
            doc = build(params, plots=not as_json)
        except QcloneError as exc:
            status = http_status(exc)
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if status < 500:
                status = 400
            headers = error_headers(exc) or None
            if as_json:
                return JSONResponse({"error": {"type": type(exc).__name__, "message": message}}, status_code=status,
                                    headers=headers)
            return templates.TemplateResponse(request, template, {"error": message, "doc": None, "form": form(params)},
                                              status_code=status, headers=headers)
        if as_json:
            return JSONResponse(doc)
        return templates.TemplateResponse(request, template, {"error": None, "doc": doc, "form": form(params)})

    def echo(params: Mapping[str, str]) -> dict[str, str]:
        # what the user typed, to refill the form (autoescaped by the template; each value bounded)
        return {k: v[:MAX_PARAM] for k, v in params.items() if isinstance(v, str)}

    @router.get("/explorer", name="explorer")
    def explorer(request: Request) -> Response:
        """The protocol explorer (``?format=json``: its numbers)."""
        return render(request, "explorer.html", explorer_page, echo)

    @router.get("/durability", name="durability")
    def durability(request: Request) -> Response:
        """Durability of the storage and the comparison with secret sharing (``?format=json``)."""
        return render(request, "durability.html", durability_page, echo)

    return router
