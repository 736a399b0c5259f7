import pytest

from qclone.hardware.devices import get_backend


@pytest.fixture(scope="session")
def fez():
    return get_backend("fake_fez")


@pytest.fixture(scope="session")
def torino():
    return get_backend("fake_torino")
