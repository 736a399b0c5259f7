"""Clocks: the settable clock persists, never goes backwards, is safe across threads and processes."""

import subprocess
import sys
import threading
import time

import pytest

from qclone.errors import InvalidArgumentError
from qclone.storage.clock import Clock, SettableClock, SystemClock
from qclone.storage.files import atomic_write_bytes, atomic_write_json


def test_system_clock():
    before = time.time()
    assert before <= SystemClock().now() <= time.time()
    assert isinstance(SystemClock(), Clock)


def test_memory_clock():
    c = SettableClock(None, start=10.0)
    assert c.now() == 10.0
    assert c.advance(5) == 15.0
    assert c.set(20) == 20.0
    assert c.now() == 20.0
    assert isinstance(c, Clock)


def test_default_start_is_system_time():
    before = time.time()
    assert before <= SettableClock(None).now() <= time.time()


def test_persists_across_instances(tmp_path):
    path = tmp_path / "clock"
    c = SettableClock(path, start=1000.0)
    c.advance(3600.5)
    again = SettableClock(path, start=0.0)  # start ignored: the file exists
    assert again.now() == 4600.5
    again.advance(1)
    assert c.now() == 4601.5  # the first instance reads the shared file


def test_survives_a_process_restart(tmp_path):
    path = tmp_path / "clock"
    code = f"from qclone.storage.clock import SettableClock; SettableClock({str(path)!r}, start=7.0).advance(2.25)"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert SettableClock(path).now() == 9.25


def test_bad_values(tmp_path):
    c = SettableClock(tmp_path / "clock", start=5.0)
    with pytest.raises(InvalidArgumentError, match="backwards"):
        c.set(4.0)
    with pytest.raises(InvalidArgumentError, match="only advances"):
        c.advance(-1)
    with pytest.raises(InvalidArgumentError, match="finite"):
        c.advance(float("nan"))
    with pytest.raises(InvalidArgumentError, match="finite"):
        c.set("soon")  # type: ignore[arg-type]  # the wrong type on purpose
    (tmp_path / "clock").write_text("garbage")
    with pytest.raises(InvalidArgumentError, match="does not hold a time"):
        c.now()


def test_concurrent_advances_are_not_lost(tmp_path):
    c = SettableClock(tmp_path / "clock", start=0.0)
    threads = [threading.Thread(target=lambda: [c.advance(1) for _ in range(25)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.now() == 100.0


def test_atomic_writes_leave_no_temporaries(tmp_path):
    atomic_write_bytes(tmp_path / "a", b"one")
    atomic_write_bytes(tmp_path / "a", b"two", durable=False)
    atomic_write_json(tmp_path / "b.json", {"x": [1, 2]})
    assert (tmp_path / "a").read_bytes() == b"two"
    assert (tmp_path / "b.json").read_text() == '{"x":[1,2]}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b.json"]
