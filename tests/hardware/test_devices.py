import pytest

from qclone.errors import InvalidArgumentError
from qclone.hardware.devices import DEVICE_NAMES, check_backend_name, get_backend, is_fake


def test_every_fake_backend_is_a_heron_with_cz():
    sizes = {}
    for name in DEVICE_NAMES:
        b = get_backend(name)
        assert "cz" in b.target.operation_names
        sizes[name] = b.num_qubits
    assert sizes == {"fake_fez": 156, "fake_marrakesh": 156, "fake_kingston": 156, "fake_aachen": 156, "fake_torino": 133}


def test_names():
    assert is_fake("fake_fez") and not is_fake("ibm_fez")
    assert check_backend_name(" ibm_fez ") == "ibm_fez"
    for bad in ("", "fez", "fake_nowhere", 3):
        with pytest.raises(InvalidArgumentError):
            check_backend_name(bad)


def test_real_backend_without_an_account_is_one_clear_error(tmp_path, monkeypatch):
    # no saved IBM Quantum account in an empty home: the lookup stops before any network access
    from qclone.errors import BackendUnavailableError

    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_CHANNEL", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(BackendUnavailableError, match="no IBM Quantum account"):
        get_backend("ibm_fez")
