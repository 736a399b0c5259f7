"""IBM devices by name: Qiskit's offline fake backends, or a real backend through an IBM Quantum account.

qiskit-ibm-runtime ships offline models (coupling map, native gates, calibrated
errors, T1/T2, gate durations) of IBM's Heron processors. They are named here
in snake case, as the CLI takes them:

========================  ===========  ======
name                      processor    qubits
========================  ===========  ======
``fake_fez``              Heron r2     156
``fake_marrakesh``        Heron r2     156
``fake_kingston``         Heron r2     156
``fake_aachen``           Heron r2     156
``fake_torino``           Heron r1     133
========================  ===========  ======

Any other name (``ibm_fez``, ``ibm_torino``, ...) is looked up with
``QiskitRuntimeService().backend(name)``, which needs a saved IBM Quantum
account (``QiskitRuntimeService.save_account(...)``); without one the lookup
fails with a :class:`~qclone.errors.BackendUnavailableError` and nothing else
is contacted.

Examples:
    >>> b = get_backend("fake_torino")
    >>> b.num_qubits, is_fake("fake_torino")
    (133, True)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from qiskit.providers import BackendV2

from qclone.errors import BackendUnavailableError, InvalidArgumentError


def _fake(class_name: str) -> Callable[[], BackendV2]:
    def make() -> BackendV2:
        from qiskit_ibm_runtime import fake_provider

        return getattr(fake_provider, class_name)()

    return make


#: Offline device models by CLI name.
FAKE_BACKENDS: dict[str, Callable[[], BackendV2]] = {
    "fake_fez": _fake("FakeFez"),
    "fake_marrakesh": _fake("FakeMarrakesh"),
    "fake_kingston": _fake("FakeKingston"),
    "fake_aachen": _fake("FakeAachen"),
    "fake_torino": _fake("FakeTorino"),
}
DEVICE_NAMES: tuple[str, ...] = tuple(FAKE_BACKENDS)


def is_fake(name: str) -> bool:
    """Whether ``name`` is one of the offline models (no account, no network)."""
    return name in FAKE_BACKENDS


def check_backend_name(name: object) -> str:
    """Validate a backend name: a fake model or an IBM backend name such as ``ibm_fez``."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"a backend name must be a non-empty string, got {name!r}")
    name = name.strip()
    if name in FAKE_BACKENDS or name.startswith("ibm_"):
        return name
    raise InvalidArgumentError(
        f"unknown backend {name!r}; choose one of {', '.join(DEVICE_NAMES)} "
        "or a real IBM backend name such as ibm_fez (needs an IBM Quantum account)"
    )


@cache
def get_backend(name: str) -> BackendV2:
    """The backend called ``name`` (cached: building a 156-qubit model takes a moment).

    Raises:
        InvalidArgumentError: for a name that is neither a fake model nor ``ibm_*``.
        BackendUnavailableError: for a real backend without a usable IBM Quantum account.
    """
    name = check_backend_name(name)
    if name in FAKE_BACKENDS:
        return FAKE_BACKENDS[name]()
    return _real_backend(name)


def _real_backend(name: str) -> BackendV2:
    from qiskit_ibm_runtime import QiskitRuntimeService

    try:
        service = QiskitRuntimeService()
    except Exception as e:  # the service raises several unrelated types when no account is saved
        raise BackendUnavailableError(
            f"cannot use {name}: no IBM Quantum account is available ({' '.join(str(e).split())}); "
            "save one with QiskitRuntimeService.save_account(...) or use a fake backend such as fake_fez"
        ) from None
    try:  # pragma: no cover - needs an account and the network
        return service.backend(name)
    except Exception as e:
        raise BackendUnavailableError(f"IBM Quantum has no backend {name!r} for this account: {' '.join(str(e).split())}") from None
