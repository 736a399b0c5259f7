"""The Protocol explorer and Durability pages, in-process (HTML and JSON).

Their numbers are checked against independent computations: gate counts against Qiskit's
``count_ops`` of the rendered circuit, the leakage census against the dense state-vector
engine classifying every subset one by one, the scaling answer and curve against the closed
form of memory noise, and the durability figures against the binomial formulas written out
here.
"""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.templating import Jinja2Templates
from fastapi.testclient import TestClient
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

import qclone.storage.web.explorer as explorer
from qclone.storage.web.explorer import make_router

TEMPLATES = Path(explorer.__file__).parent / "templates"
TEST_BASE = Path(__file__).parent  # a minimal base.html; the dashboard ships the real one


@pytest.fixture(scope="module")
def client() -> TestClient:
    env = Environment(loader=ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(TEST_BASE)]), autoescape=True)
    app = FastAPI()
    app.include_router(make_router(Jinja2Templates(env=env)), prefix="/ui")
    return TestClient(app, raise_server_exceptions=False)


class _Form(HTMLParser):
    """Inputs and selects, the labels' targets, and whether a raw <script> appeared."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str | None] = []
        self.labelled: set[str] = set()
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("input", "select"):
            self.fields.append(a.get("id"))
        elif tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))
        elif tag == "script":
            self.scripts += 1


def _form(html: str) -> _Form:
    f = _Form()
    f.feed(html)
    return f


@pytest.mark.slow  # draws the plots (matplotlib); the JSON tests below check the same numbers
def test_explorer_page_html(client: TestClient) -> None:
    r = client.get("/ui/explorer", params={"n": 3, "decrypt": "2", "depth": "log", "noise": "memory", "p": "0.01"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "<svg" in html and 'class="gate"' in html and "data:image/svg+xml;base64," in html
    assert "Number of qubit sets of each kind" in html and "n = 81" in html  # memory p = 0.01: 81 clones
    form = _form(html)
    assert form.fields and all(f in form.labelled for f in form.fields)  # every input has its label
    assert form.scripts == 0
    assert re.search(r'href="\?[^"]*format=json"', html)
    assert 'value="0.01"' in html and 'id="ex-n"' in html  # the form keeps what was asked
    big = client.get("/ui/explorer", params={"n": 40, "p": "0.01"}).text
    assert "Not drawn:" in big and 'class="gate"' not in big and "Not computed:" in big


@pytest.mark.slow  # draws the plots (matplotlib)
def test_durability_page_html(client: TestClient) -> None:
    html = client.get("/ui/durability", params={"n": 3, "failure_rate": 0.2, "objects": 1000, "storage_time": 60}).text
    assert html.count("data:image/svg+xml;base64,") == 2 and "Every alternative" in html and "average fidelity" in html
    form = _form(html)
    assert all(f in form.labelled for f in form.fields) and form.scripts == 0


def _gate_counts_from_qiskit(n: int, k: int, decrypt, depth: str) -> dict[str, int]:
    from qclone.protocol import Layout
    from qclone.protocol.render import protocol_to_qiskit

    ops = protocol_to_qiskit(Layout(n, qubits=k), decrypt=decrypt, depth=depth).count_ops()
    names = {"h": "H", "cx": "CX", "cz": "CZ", "s": "S", "sdg": "S_DAG", "x": "X", "y": "Y", "z": "Z", "swap": "SWAP",
             "sx": "SQRT_X", "sxdg": "SQRT_X_DAG"}
    return {names[g]: c for g, c in ops.items() if g != "barrier"}


@pytest.mark.parametrize(("n", "k", "decrypt", "depth"), [(1, 1, "1", "linear"), (3, 1, "2", "log"), (4, 1, "A", "linear"),
                                                          (5, 2, "none", "log"), (8, 3, "3", "linear")])
def test_gate_counts_match_qiskit(client: TestClient, n: int, k: int, decrypt: str, depth: str) -> None:
    r = client.get("/ui/explorer", params={"n": n, "k": k, "decrypt": decrypt, "depth": depth, "p": "0.01", "format": "json"})
    assert r.status_code == 200, r.text
    c = r.json()["circuit"]
    target = None if decrypt == "none" else ("A" if decrypt == "A" else int(decrypt))
    want = _gate_counts_from_qiskit(n, k, target, depth)
    assert c["gates"] == want
    assert c["num_gates"] == sum(want.values())
    assert c["two_qubit_gates"] == want.get("CX", 0) + want.get("CZ", 0) + want.get("SWAP", 0)
    assert c["num_qubits"] == (2 * n + 1) * k
    assert "svg" not in c  # the JSON carries numbers, not drawings


def _dense_census(n: int, stage: str) -> dict[str, dict[str, int]]:
    """Every subset classified by the dense state-vector engine, counted by kind."""
    from qclone.analysis.leakage.dense import DenseLeakage
    from qclone.analysis.leakage.stages import protocol_encoding
    from qclone.protocol import Layout

    ref = DenseLeakage(protocol_encoding(n, stage=stage))
    labels = Layout(n).labels
    counts = {"with_A": {"authorized": 0, "partial": 0, "none": 0}, "without_A": {"authorized": 0, "partial": 0, "none": 0}}
    for size in range(len(labels) + 1):
        for chosen in combinations(labels, size):
            kind = ref.classify(list(chosen)).kind
            counts["with_A" if "A" in chosen else "without_A"][kind] += 1
    return counts


@pytest.mark.parametrize(("n", "decrypt", "stage"), [(1, "none", "encrypted"), (2, "A", "decrypted:A"),
                                                     (3, "none", "encrypted"), (3, "2", "decrypted:2")])
def test_census_matches_the_dense_engine(client: TestClient, n: int, decrypt: str, stage: str) -> None:
    r = client.get("/ui/explorer", params={"n": n, "decrypt": decrypt, "p": "0.01", "format": "json"})
    assert r.status_code == 200, r.text
    census = r.json()["census"]
    assert census["stage"] == stage and census["clones"] == n
    want = _dense_census(n, stage)
    for side in ("with_A", "without_A"):
        got = {kind: census[side][kind] for kind in ("authorized", "partial", "none")}
        assert got == want[side], side
        assert census[side]["total"] == 2 ** (2 * n)


def test_census_by_orbits_and_its_limits(client: TestClient) -> None:
    doc = client.get("/ui/explorer", params={"n": 5, "p": "0.01", "format": "json"}).json()
    assert doc["census"]["method"] == "orbits" and doc["census"]["with_A"]["total"] == 2**10
    big = client.get("/ui/explorer", params={"n": 40, "p": "0.01", "format": "json"}).json()
    assert big["census"] is None and "up to n = 10" in big["census_note"]
    assert big["circuit"]["not_drawn"] and big["circuit"]["num_qubits"] == 81
    reg = client.get("/ui/explorer", params={"n": 2, "k": 2, "p": "0.01", "format": "json"}).json()
    assert reg["census"] is None and "k = 1" in reg["census_note"]


def _memory_fidelity(n: int, p: float) -> float:
    """Average fidelity of the decrypted clone under depolarizing storage noise p, closed form."""
    lam = 1 - 4 * p / 3
    fe = (1 + 3 * lam ** (n + 1)) / 4 if n % 2 == 0 else (1 + lam**n * (2 * lam + 1)) / 4
    return (2 * fe + 1) / 3


def test_scaling_matches_the_memory_closed_form(client: TestClient) -> None:
    p = 0.004
    doc = client.get("/ui/explorer", params={"n": 2, "noise": "memory", "p": p, "format": "json"}).json()
    curve = doc["scaling"]["curve"]
    for n, f in zip(curve["clones"], curve["average_fidelity"], strict=True):
        assert f == pytest.approx(_memory_fidelity(n, p), abs=1e-9), n
    largest = max(n for n in range(1, 2000) if all(_memory_fidelity(m, p) > 2 / 3 for m in range(1, n + 1)))
    assert doc["scaling"]["answer"]["largest_clones"] == largest
    assert "plot" not in doc["scaling"]


def _binomial_at_least(k: int, m: int, survive: float) -> float:
    return sum(math.comb(m, i) * survive**i * (1 - survive) ** (m - i) for i in range(k, m + 1))


def test_durability_numbers(client: TestClient) -> None:
    P, q, n, m = 0.2, 0.05, 3, 40_000
    r = client.get("/ui/durability", params={"n": n, "failure_rate": P, "vault_failure_rate": q, "objects": m,
                                             "seed": 7, "format": "json"})
    assert r.status_code == 200, r.text
    doc = r.json()
    sim = doc["simulation"]
    for row in sim["by_clones"]:
        exact = (1 - q) * (1 - P ** row["clones"])
        assert row["analytic"] == pytest.approx(exact, rel=1e-12)
        sigma = math.sqrt(exact * (1 - exact) / m)
        assert abs(row["durability"] - exact) < 5 * sigma  # the Monte Carlo agrees with the formula
    assert sim["single_copy"]["analytic"] == pytest.approx(1 - P)
    rows = {row["scheme"]: row for row in doc["comparison"]["rows"]}
    assert rows["single copy"]["durability"] == pytest.approx(1 - P, abs=1e-12)
    assert rows["encrypted, vault"]["durability"] == pytest.approx((1 - q) * (1 - P**n), abs=1e-12)
    five = next(row for row in rows.values() if row["units"] == 5 and row["needed"] == 3 and row["dimension"] == 2)
    assert five["durability"] == pytest.approx(_binomial_at_least(3, 5, 1 - P), abs=1e-12)  # ((3,5)): any 3 of 5
    assert "plots" not in doc


@pytest.mark.parametrize(("path", "params", "words"), [
    ("/ui/explorer", {"n": "0"}, "n"),
    ("/ui/explorer", {"n": "three"}, "n must be an integer"),
    ("/ui/explorer", {"n": "10001"}, "n"),
    ("/ui/explorer", {"n": "3", "decrypt": "A"}, "even"),
    ("/ui/explorer", {"n": "3", "decrypt": "7"}, "1..3"),
    ("/ui/explorer", {"depth": "quadratic"}, "depth must be one of"),
    ("/ui/explorer", {"p": "2"}, "p must be"),
    ("/ui/explorer", {"p": "nan"}, "p must be"),
    ("/ui/explorer", {"noise": "<script>alert(1)</script>"}, "noise must be one of"),
    ("/ui/explorer", {"noise": "<b>x</b>"}, "noise must be one of"),
    ("/ui/explorer", {"k": "9"}, "k"),
    ("/ui/explorer", {"n": "9" * 5000}, "at most 32 characters"),
    ("/ui/durability", {"n": "65"}, "n"),
    ("/ui/durability", {"failure_rate": "-0.1"}, "failure_rate"),
    ("/ui/durability", {"objects": "0"}, "objects"),
    ("/ui/durability", {"n": "3", "vaults": "5"}, "vaults"),
    ("/ui/durability", {"zone_failure_rate": "0.1"}, "zone"),
])
def test_bad_input_is_a_400_with_one_line(client: TestClient, path: str, params: dict, words: str) -> None:
    r = client.get(path, params=params | {"format": "json"})
    assert r.status_code == 400, (r.status_code, r.text)
    message = r.json()["error"]["message"]
    assert words in message and "\n" not in message
    page = client.get(path, params=params)
    assert page.status_code == 400 and 'role="alert"' in page.text
    assert "<script>" not in page.text and "<b>x</b>" not in page.text  # the user's input is escaped
    assert "Traceback" not in page.text


def test_busy_is_a_503(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explorer, "WAIT", 0.05)
    explorer.circuit_facts.cache_clear()
    assert explorer._turn.acquire(timeout=5)
    try:
        r = client.get("/ui/explorer", params={"n": 2, "p": "0.01", "format": "json"})
    finally:
        explorer._turn.release()
    assert r.status_code == 503 and "busy" in r.json()["error"]["message"]
    assert client.get("/ui/explorer", params={"n": 2, "p": "0.01", "format": "json"}).status_code == 200
