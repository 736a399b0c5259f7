"""The progress display: drawn on a terminal's stderr, never with --quiet or when stderr is a pipe or a file."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from rich.console import Console

from qclone.cli import output
from qclone.cli.main import main


@pytest.fixture
def terminal(monkeypatch):
    """A stderr console that pretends to be a terminal; returns what it received."""
    buf = io.StringIO()
    monkeypatch.setattr(output, "progress_console", Console(file=buf, force_terminal=True, width=100))
    return buf


@pytest.fixture
def pipe(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr(output, "progress_console", Console(file=buf, width=100))
    return buf


#: Commands that can run for seconds, with small inputs, and what their display says.
LONG = [
    (["scaling", "--noise", "memory", "-p", "0.01", "--depth", "linear", "--json"], "largest n per noise model"),
    (["verify", "--clones", "3", "--json"], "verifying n = 3"),
    (["sweep", "--clones", "2", "--noise", "depolarizing", "-p", "0.01", "--shots", "300", "--workers", "1", "--json"], "sampling 1 grid point"),
    (["storage", "simulate", "--clones", "2", "--objects", "2000", "--seed", "1", "--json"], "simulating 2,000 objects"),
    (["plot", "--noise", "memory", "-p", "0.01", "--clones", "1,2", "--output", "{tmp}/f.svg", "--json"], "exact curves"),
]


@pytest.mark.parametrize(("args", "words"), LONG, ids=[a[0] for a, _ in LONG])
def test_a_terminal_sees_the_display_and_stdout_keeps_one_json_document(args, words, terminal, capsys, tmp_path):
    code = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    out, _ = capsys.readouterr()
    assert code == 0
    json.loads(out)  # exactly one document: the display never reaches stdout
    assert words in terminal.getvalue()


@pytest.mark.parametrize(("args", "words"), LONG[:2], ids=[a[0] for a, _ in LONG[:2]])
def test_quiet_or_not_a_terminal_shows_nothing(args, words, terminal, pipe, capsys, monkeypatch):
    code = main(args)
    json.loads(capsys.readouterr().out)
    assert code == 0 and pipe.getvalue() == ""
    buf = io.StringIO()
    monkeypatch.setattr(output, "progress_console", Console(file=buf, force_terminal=True, width=100))
    assert main([*args, "--quiet"]) == 0 and buf.getvalue() == ""
    assert main([*args, "-q"]) == 0 and buf.getvalue() == ""


def test_a_subprocess_with_pipes_gets_no_display():
    p = subprocess.run([sys.executable, "-m", "qclone", "verify", "--clones", "3", "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stderr == ""
    json.loads(p.stdout)


def test_a_determinate_bar_counts_and_the_callback_updates_it(terminal):
    with output.progress("steps", total=4) as bar:
        assert bar.shown
        bar.advance()
        bar.callback(3, 4)
        assert bar.as_callback is not None
    text = terminal.getvalue()
    assert "steps" in text and "3/4" in text
    with output.progress("steps", total=4, quiet=True) as bar:
        assert not bar.shown and bar.as_callback is None
        bar.advance()  # does nothing


def test_terminal_stdout_writes_go_above_the_display():
    events = []

    class Bar:
        def stop(self):
            events.append("stop")

        def start(self):
            events.append("start")

    stream = io.StringIO()
    above = output.AboveTheDisplay(stream, Bar())
    above.write("result\n")
    assert events == ["stop", "start"] and stream.getvalue() == "result\n"
    assert above.getvalue() == "result\n"  # everything else is the stream's
