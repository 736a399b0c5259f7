"""The SDK (``qclone.Client``) against a real ``qclone serve`` process: every accepted form of a
state (Qiskit objects, lists, OpenQASM, Bloch vectors) gives back, qubit by qubit, the Bloch
vectors ``qiskit.quantum_info`` computes for the input; typed results; the environment; clear
errors for names with '/' and for circuits that are not state preparations."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import DensityMatrix, Statevector

from qclone import Client
from qclone.errors import InvalidArgumentError, TooLargeError
from qclone.storage.client import DEFAULT_URL, connection, state_spec
from qclone.storage.results import AuditEntry, ObjectSummary, Provider, Retrieved, StoredObject

from .procs import Server, free_port, read_token
from .reference import qiskit_bloch

pytestmark = pytest.mark.service

_names = count()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One embedded server for the module; a settable clock nobody moves: no memory noise."""
    data_dir = tmp_path_factory.mktemp("sdk")
    srv = Server(["--data-dir", str(data_dir), "--settable-clock"], free_port(), data_dir / "server.log").start()
    srv.data_dir = data_dir
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def client(server):
    with Client(server.url, read_token(server.data_dir), admin_token=read_token(server.data_dir, "admin-token")) as c:
        yield c


def fresh(prefix: str = "sdk") -> str:
    return f"{prefix}-{next(_names)}"


# ---------------------------------------------------------------------- every form, property-tested
angles = st.floats(-np.pi, np.pi, allow_nan=False, allow_infinity=False)


@st.composite
def preparations(draw: st.DrawFn) -> tuple[QuantumCircuit, float]:
    """A random k-qubit preparation circuit (k = 1..3: layers of u gates and a CNOT between two
    drawn qubits) and a mixing weight (0: the pure state it prepares)."""
    k = draw(st.integers(1, 3))
    qc = QuantumCircuit(k)
    for _ in range(draw(st.integers(1, 2))):
        for q in range(k):
            qc.u(draw(angles), draw(angles), draw(angles), q)
        if k > 1:
            a, b = draw(st.permutations(range(k)))[:2]
            qc.cx(a, b)
    return qc, draw(st.sampled_from([0.0, 0.35]))


def forms(qc: QuantumCircuit, mix: float) -> tuple[Statevector | DensityMatrix, dict[str, dict]]:
    """The state (a Qiskit object) and every way the SDK accepts it (``put`` keyword arguments)."""
    psi = Statevector(qc)
    if mix:
        # a mixed state: the prepared one mixed with qubit 0 flipped (still different per qubit)
        flipped = QuantumCircuit(qc.num_qubits)
        flipped.x(0)
        rho = DensityMatrix(psi) * (1 - mix) + DensityMatrix(psi.evolve(flipped)) * mix
        out: dict[str, dict] = {"DensityMatrix": {"state": rho}, "nested density matrix": {"density": rho.data.tolist()},
                                "density array": {"density": rho.data}}
        if qc.num_qubits == 1:
            out["bloch"] = {"bloch": qiskit_bloch(rho)[0]}
        return rho, out
    out = {
        "Statevector": {"state": psi},
        "DensityMatrix": {"state": DensityMatrix(psi)},
        "QuantumCircuit": {"state": qc},
        "QuantumCircuit as qasm": {"qasm": qc},
        "list of amplitudes": {"statevector": psi.data.tolist()},
        "nested density matrix": {"density": DensityMatrix(psi).data.tolist()},
        "OpenQASM 3": {"qasm": qasm3.dumps(qc)},
        "OpenQASM 2": {"qasm": qasm2.dumps(qc)},
    }
    if qc.num_qubits == 1:
        out["bloch"] = {"bloch": qiskit_bloch(psi)[0]}
    return psi, out


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prep=preparations())
def test_every_form_gives_back_qiskits_bloch_vectors(client: Client, prep: tuple[QuantumCircuit, float]) -> None:
    qc, mix = prep
    state, ways = forms(qc, mix)
    expected = qiskit_bloch(state)
    for form, kwargs in ways.items():
        name = fresh("prop")
        stored = client.put(name, clones=2, keep_reference=True, **kwargs)
        assert stored.qubits == qc.num_qubits, form
        out = client.get(name)
        np.testing.assert_allclose(out.bloch, expected, atol=1e-6, err_msg=form)
        np.testing.assert_allclose(out.density_matrix, DensityMatrix(state).data, atol=1e-6, err_msg=form)
        assert out.fidelity == pytest.approx(1, abs=1e-6), form


def test_the_issue_example_statevector_and_qasm_agree(client: Client) -> None:
    """Statevector.from_label('01') and the program 'x q[0]' are one state: qubit 0 in |1>."""
    qc = QuantumCircuit(2)
    qc.x(0)
    for kwargs in ({"statevector": Statevector.from_label("01")}, {"qasm": qasm3.dumps(qc)}, {"qasm": qc}):
        name = fresh("label")
        client.put(name, **kwargs)
        np.testing.assert_allclose(client.get(name).bloch, [[0, 0, -1], [0, 0, 1]], atol=1e-9)


# ---------------------------------------------------------------------- typed results
def test_results_are_typed_with_utc_times(client: Client) -> None:
    name = fresh("typed")
    before = datetime.now(UTC)
    stored = client.put(name, Statevector.from_label("+"), clones=4, keep_reference=True)
    assert isinstance(stored, StoredObject) and stored.state == "stored" and stored.safe and stored.warnings == ()
    assert stored.created_at.tzinfo is UTC and abs((stored.created_at - before).total_seconds()) < 3600
    assert len(stored.placement) == 4 and all(p.stored_at is None or p.stored_at.tzinfo is UTC for p in stored.placement)
    assert stored.to_json()["name"] == name and isinstance(stored.to_json()["created_at"], float)
    assert any(isinstance(o, ObjectSummary) and o.name == name for o in client.ls())
    out = client.get(name, basis="X", shots=30, seed=4)
    assert isinstance(out, Retrieved) and out.counts == {"0": 30} and out.samples == ("0",) * 30
    assert isinstance(out.density_matrix, np.ndarray) and not out.density_matrix.flags.writeable
    assert isinstance(out.state, DensityMatrix) and out.state == DensityMatrix.from_label("+")
    assert out.to_json()["density_matrix"]["real"][0][1] == pytest.approx(0.5)
    entries = [e for e in client.audit_log() if e.object_name == name]
    assert all(isinstance(e, AuditEntry) and e.at.tzinfo is UTC for e in entries)
    assert [e.action for e in entries] == ["put", "get", "get.ack"] and entries[0].detail["clones"] == 4
    assert all(isinstance(p, Provider) and p.t1 > 0 for p in client.providers())
    assert client.stat(name).finished_at is not None


# ---------------------------------------------------------------------- environment
def test_connection_reads_the_environment_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QCLONE_URL", raising=False)
    monkeypatch.delenv("QCLONE_TOKEN", raising=False)
    assert connection() == connection(DEFAULT_URL) and connection().token is None
    monkeypatch.setenv("QCLONE_URL", "http://q.example:1")
    monkeypatch.setenv("QCLONE_TOKEN", " tok ")
    assert (connection().url, connection().token) == ("http://q.example:1", "tok")
    assert connection("http://given:2", "mine").token == "mine"  # arguments win
    monkeypatch.setenv("QCLONE_TOKEN", "")
    assert connection().token is None  # empty counts as unset


def test_client_honours_qclone_url_and_token(server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCLONE_URL", server.url)
    monkeypatch.setenv("QCLONE_TOKEN", read_token(server.data_dir))
    with Client() as c:
        assert c.url == server.url and c.has_token
        name = fresh("env")
        c.put(name, bloch=[0, 0, 1])
        assert c.get(name).bloch == ((0.0, 0.0, 1.0),)


# ---------------------------------------------------------------------- clear errors
def test_a_name_with_a_slash_is_refused_before_sending() -> None:
    with Client("http://127.0.0.1:9", "t") as c:  # nothing listens there: the refusal is local
        with pytest.raises(InvalidArgumentError, match=r"may not contain '/'.*1-255 characters"):
            c.put("bad/name", bloch=[0, 0, 1])
        with pytest.raises(InvalidArgumentError, match="may not contain '/'"):
            c.get("a/b")


@pytest.mark.parametrize("path", ["/v1/objects/bad%2Fname", "/v1/objects/bad/name", "/v1/objects/a/b/get"])
def test_the_gateway_answers_422_with_the_rule_for_a_slash(server, path: str) -> None:
    resp = httpx.request("PUT" if not path.endswith("get") else "POST", server.url + path,
                         json={"state": {"kind": "bloch", "data": [0, 0, 1]}},
                         headers={"authorization": f"Bearer {read_token(server.data_dir)}"})
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["type"] == "InvalidArgumentError" and "may not contain '/'" in err["message"]


def _circuit(*ops: str, qubits: int = 1, clbits: int = 0) -> QuantumCircuit:
    qc = QuantumCircuit(qubits, clbits)
    qc.h(0)
    for op in ops:
        if op == "measure":
            qc.measure(0, 0)
        elif op == "reset":
            qc.reset(0)
        elif op == "param":
            qc.rx(Parameter("theta"), 0)
        elif op == "initialize":
            qc.initialize([0, 1], 0)
    return qc


@pytest.mark.parametrize(("qc", "error", "words"), [
    (_circuit("measure", clbits=1), InvalidArgumentError, "'measure'"),
    (_circuit("reset"), InvalidArgumentError, "'reset'"),
    (_circuit("initialize"), InvalidArgumentError, "initialize"),
    (_circuit("param"), InvalidArgumentError, "unbound parameters (theta)"),
    (_circuit(qubits=9), TooLargeError, "at most 8 qubits, the circuit has 9"),
    (QuantumCircuit(0), InvalidArgumentError, "no qubits"),
])
def test_circuits_that_do_not_prepare_a_state_are_refused_clearly(qc: QuantumCircuit, error: type, words: str) -> None:
    for kwargs in ({"state": qc}, {"qasm": qc}):
        with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
            state_spec(**kwargs)


def test_state_spec_refuses_ambiguous_and_wrong_kinds() -> None:
    with pytest.raises(InvalidArgumentError, match="exactly one state"):
        state_spec(Statevector.from_label("0"), bloch=[0, 0, 1])
    with pytest.raises(InvalidArgumentError, match="exactly one state"):
        state_spec()
    with pytest.raises(InvalidArgumentError, match="takes a vector"):
        state_spec(statevector=DensityMatrix.from_label("0"))
    with pytest.raises(InvalidArgumentError, match="made of qubits"):
        state_spec(Statevector(np.array([1, 0, 0])))
    # a density given a Statevector is its projector; a 1-D array is a vector, 2-D a matrix
    assert state_spec(density=Statevector.from_label("1"))["data"]["real"] == [[0.0, 0.0], [0.0, 1.0]]
    assert state_spec(np.eye(2) / 2)["kind"] == "density" and state_spec([1, 0])["kind"] == "statevector"


def test_a_subclass_of_a_qiskit_circuit_is_a_circuit() -> None:
    class Prep(QuantumCircuit):
        pass

    qc = Prep(2)
    qc.x(1)
    spec = state_spec(qc)
    assert spec["kind"] == "statevector" and spec["data"]["real"] == [0.0, 0.0, 1.0, 0.0]  # qubit 1 set: index 2
