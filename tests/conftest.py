import os

import pytest
from hypothesis import HealthCheck, settings

from tests import sampling

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    """One sample seed for the run (tests/sampling.py): an xdist worker takes the controller's."""
    given = getattr(config, "workerinput", {}).get("qclone_sample_seed")
    if given is not None:
        sampling.set_seed(given)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # noqa: ANN001 - xdist's WorkerController (xdist is a test extra)
    node.workerinput["qclone_sample_seed"] = sampling.seed()


def _seed_line() -> str:
    if sampling.full():
        return f"qclone: the long tests run every point ({sampling.FULL_ENV}=1)"
    return (f"qclone: the long tests run a sample, {sampling.SEED_ENV}={sampling.seed()} repeats it "
            f"({sampling.FULL_ENV}=1 runs every point)")


def pytest_report_header(config: pytest.Config) -> str:
    return _seed_line()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001 - pytest's TerminalReporter
    if not hasattr(config, "workerinput"):
        terminalreporter.write_line(_seed_line())


@pytest.fixture
def sample(request: pytest.FixtureRequest):  # noqa: ANN201 - the callable sampling.sample, named for this test
    """``sample(points, k, part="")``: the points this run covers (tests/sampling.py), the same for every
    parameter of a test. A test that takes this fixture is marked ``sampled``: ``QCLONE_FULL=1 pytest -m
    sampled`` (make chaos) runs every point."""
    test = request.node.nodeid.split("[")[0]

    def pick(points, k: int, part: str = ""):  # noqa: ANN001, ANN202 - a sequence in, a list of its items out
        chosen, note = sampling.sample(points, k, name=test + (f"[{part}]" if part else ""))
        request.node.add_report_section("call", "sample", note)  # shown with a failure
        return chosen

    return pick


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that samples its points ``sampled`` (before ``-m`` selects)."""
    for item in items:
        if "sample" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.sampled)
