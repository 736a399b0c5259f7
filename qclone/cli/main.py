"""The ``qclone`` command: a thin typer layer over the library.

``main(args)`` takes its arguments as a list and returns the exit status, so
tests call it directly. A :class:`~qclone.errors.QcloneError` or a usage
error becomes one line on stderr and exit status 2; never a traceback.
"""

from __future__ import annotations

import sys

import typer

from qclone.cli import audit, hardware, protocol, scale, storage, storage_client
from qclone.cli.output import error_line
from qclone.errors import QcloneError


def _click_exceptions(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from typer's vendored click (typer >= 0.26) and from click, where present."""
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = __import__(module, fromlist=[name])
        except ImportError:
            continue
        exc = getattr(mod, name, None)
        if exc is not None and exc not in found:
            found.append(exc)
    return tuple(found)


_NO_ARGS = _click_exceptions("NoArgsIsHelpError")
_USAGE = _click_exceptions("UsageError")
_ABORT = _click_exceptions("Abort")

app = typer.Typer(
    name="qclone",
    help="Encrypted cloning of quantum information: circuits, verification, simulation, storage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(protocol.demo)
app.command("circuit")(protocol.circuit)
app.command("verify")(protocol.verify)
app.command("audit")(audit.audit)
app.command("classify")(audit.classify)
app.command("sweep")(scale.sweep)
app.command("plot")(scale.plot)
app.command("scaling")(scale.scaling)
app.add_typer(hardware.hardware_app, name="hardware")
# storage service: server, tenants and the client verbs (qclone.storage)
app.command("serve")(storage_client.serve)
app.add_typer(storage_client.tenant_app, name="tenant")
app.command("put")(storage_client.put)
app.command("get")(storage_client.get)
app.command("ls")(storage_client.ls)
app.command("stat")(storage_client.stat)
app.command("rm")(storage_client.rm)
app.command("peek")(storage_client.peek)
app.command("audit-log")(storage_client.audit_log)
app.add_typer(storage_client.providers_app, name="providers")
app.add_typer(storage.storage_app, name="storage")


def main(args: list[str] | None = None) -> int:
    """Run the CLI with ``args`` (default: ``sys.argv[1:]``) and return the exit status."""
    try:
        rv = app(args=args if args is not None else sys.argv[1:], prog_name="qclone", standalone_mode=False)
    except QcloneError as e:
        sys.stderr.write(f"qclone: error: {error_line(str(e))}\n")
        return 2
    except _NO_ARGS:
        return 0  # typer has already printed the help
    except _USAGE as e:
        sys.stderr.write(f"qclone: error: {error_line(e.format_message())}\n")  # type: ignore[attr-defined]  # click's UsageError
        return 2
    except _ABORT:
        sys.stderr.write("qclone: aborted\n")
        return 130
    return rv if isinstance(rv, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
