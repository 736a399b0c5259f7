"""The ``qclone`` command: a thin typer layer over the library.

``main(args)`` takes its arguments as a list and returns the exit status, so
tests call it directly. Every exception a user can cause becomes one line on
stderr and an exit status from :mod:`qclone.cli.exits` (2 bad input, 3
refused by the service, 4 service unreachable or failing); never a traceback.

The commands are loaded lazily: :data:`COMMANDS` names each one with the
module attribute that implements it (a function or a ``typer.Typer`` group) and
the one-line help ``qclone --help`` shows, so ``qclone --help`` imports
neither numpy nor any simulator. A new command is one entry in
:data:`COMMANDS`; its module is imported only when the command runs (or its
own help is asked for).
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from qclone import __version__
from qclone.cli.exits import BAD_INPUT, describe_exit
from qclone.cli.output import CONTEXT_SETTINGS

PROTOCOL, SCALE, HARDWARE, STORAGE = "Protocol", "Noise and scale", "IBM hardware", "Storage service"

#: name -> (``module:attribute`` of the command or group, one-line help, help panel); in help order.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("qclone.cli.protocol:demo", "Encrypt a random qubit into n clones, decrypt one clone, try a second; then the storage service.", PROTOCOL),
    "circuit": ("qclone.cli.protocol:circuit", "Print the protocol circuit (Bell pairs, encryption, optional decryption).", PROTOCOL),
    "verify": ("qclone.cli.protocol:verify", "Check the protocol's properties for n clones by computation; exit status 1 on any failure.", PROTOCOL),
    "audit": ("qclone.cli.audit:audit", "Report every coalition of parties that can recover or partly learn the stored state.", PROTOCOL),
    "classify": ("qclone.cli.audit:classify", "Classify one set of qubits: authorized, partial (and what leaks) or none, with I(R:set).", PROTOCOL),
    "sweep": ("qclone.cli.scale:sweep", "Sample the decrypted clone's fidelity over a grid with sinter.", SCALE),
    "plot": ("qclone.cli.scale:plot", "Draw average fidelity against clones with the classical limit 2/3.", SCALE),
    "scaling": ("qclone.cli.scale:scaling", "The largest n whose average fidelity stays above 2/3, exactly.", SCALE),
    "hardware": ("qclone.cli.hardware:hardware_app", "Run encrypted cloning on IBM Heron devices (offline models or real hardware).", HARDWARE),
    "serve": ("qclone.cli.storage_client:serve", "Start the storage service (embedded default) or one component of a deployment.", STORAGE),
    "tenant": ("qclone.cli.storage_client:tenant_app", "Manage tenants.", STORAGE),
    "put": ("qclone.cli.storage_client:put", "Store a state as n encrypted clones at n providers.", STORAGE),
    "get": ("qclone.cli.storage_client:get", "Retrieve a state, once: decryption consumes the key.", STORAGE),
    "ls": ("qclone.cli.storage_client:ls", "List this tenant's objects.", STORAGE),
    "stat": ("qclone.cli.storage_client:stat", "Show one object: its state, clones and where they are.", STORAGE),
    "rm": ("qclone.cli.storage_client:rm", "Delete an object: its clones and its key are destroyed.", STORAGE),
    "apply": ("qclone.cli.apply:apply", "Apply a logical gate to a stored object: its holders act, nothing is decrypted.", STORAGE),
    "peek": ("qclone.cli.storage_client:peek", "What one provider can learn: the reduced state of the qubits it holds.", STORAGE),
    "audit-log": ("qclone.cli.storage_client:audit_log", "This tenant's audit log, oldest first.", STORAGE),
    "providers": ("qclone.cli.storage_client:providers_app", "List, add, drain, kill or revive storage providers.", STORAGE),
    "cluster": ("qclone.cli.cluster:cluster_app", "Start, check and stop a local cluster: gateways, substrate, vault and providers as processes.", STORAGE),
    "storage": ("qclone.cli.storage:storage_app", "Encrypted multi-cloud storage: durability simulation, placement planning, node keys.", STORAGE),
}


def load_command(name: str) -> Any:
    """The click command (or group) of :data:`COMMANDS` entry ``name``, built from its module."""
    target, _, panel = COMMANDS[name]
    module, attr = target.split(":")
    obj = getattr(importlib.import_module(module), attr)
    cmd: Any
    if isinstance(obj, typer.Typer):
        cmd = typer.main.get_group(obj)
    else:
        single = typer.Typer(add_completion=False, context_settings=CONTEXT_SETTINGS)
        single.command(name)(obj)
        cmd = typer.main.get_command(single)
    cmd.name = name
    cmd.rich_help_panel = panel
    return cmd


class LazyGroup(TyperGroup):
    """A typer group whose :data:`COMMANDS` are imported on first use; its help lists them without importing."""

    listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(name for name in COMMANDS if name not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        if self.listing:  # the one-line help of the listing: no import
            _, short, panel = COMMANDS[cmd_name]
            placeholder = TyperCommand(cmd_name, callback=None, help=short, short_help=short)
            placeholder.rich_help_panel = panel
            return placeholder
        self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """As typer's, with "Did you mean ...?" drawn from every command, loaded or not."""
        try:
            return super().resolve_command(ctx, args)
        except Exception as e:
            message = getattr(e, "message", None)
            if isinstance(message, str) and args and "Did you mean" not in message and message.startswith("No such command"):
                import difflib

                matches = difflib.get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    e.message = message.rstrip(".") + ". Did you mean " + ", ".join(f"{m!r}" for m in matches) + "?"  # type: ignore[attr-defined]  # click's UsageError
            raise

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


app = typer.Typer(
    name="qclone",
    cls=LazyGroup,
    help=("Encrypted cloning of quantum information: circuits, verification, simulation, storage.\n\n"
          "Exit status: 0 ok, 1 a check failed or the placement is not safe, 2 bad input, "
          "3 refused by the service, 4 service unreachable or failing."),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT_SETTINGS,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"qclone {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """The root: ``--version`` (the help is the app's)."""


#: Old option spellings still accepted (hidden; the help and the docs show one way): command path -> {old: new}.
ALIASES: dict[tuple[str, ...], dict[str, str]] = {
    ("plot",): {"--out": "--output", "--p": "--error-rate"},
    ("sweep",): {"--p": "--error-rate", "--no-progress": "--quiet", "--progress": ""},
    ("scaling",): {"--p": "--error-rate"},
    ("hardware", "run"): {"--out": "--output-dir"},
    ("hardware", "modules"): {"--out": "--output-dir"},
    ("storage", "simulate"): {"-p": "--failure-rate"},
    ("storage", "plan"): {"--samples": "--objects"},
    ("audit",): {"--fail-unsafe": ""},
}


def _rewrite_aliases(args: list[str]) -> list[str]:
    """``args`` with the old spellings of :data:`ALIASES` replaced (an empty replacement drops the flag)."""
    for path, table in ALIASES.items():
        if tuple(args[: len(path)]) != path:
            continue
        head, tail = args[: len(path)], args[len(path):]
        out: list[str] = []
        for i, a in enumerate(tail):
            if a == "--":
                out += tail[i:]
                break
            name, eq, value = a.partition("=")
            if name in table:
                if table[name]:
                    out.append(table[name] + eq + value)
            else:
                out.append(a)
        return head + out
    return args


def main(args: list[str] | None = None) -> int:
    """Run the CLI with ``args`` (default: ``sys.argv[1:]``) and return the exit status."""
    argv = _rewrite_aliases(list(args if args is not None else sys.argv[1:]))
    try:
        rv = app(args=argv, prog_name="qclone", standalone_mode=False)
    except MemoryError:  # a backstop: the commands bound their inputs, but a machine can have less memory than they assume
        sys.stderr.write("qclone: error: this input needs more memory than this machine has; give a smaller one "
                         "(e.g. fewer --clones)\n")
        return BAD_INPUT
    except BaseException as e:  # noqa: BLE001 - describe_exit re-raises what is not a user's or a service's error
        code, line = describe_exit(e)
        if line:
            sys.stderr.write(line + "\n")
        return code
    return rv if isinstance(rv, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


def all_commands() -> dict[tuple[str, ...], Any]:
    """Every command of the tree by its path, loaded (a group that runs without a subcommand counts too).

    Tests walk this so that a new command is covered by the convention tests without being listed there.
    """
    out: dict[tuple[str, ...], Any] = {}

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        if not isinstance(cmd, TyperGroup):
            out[path] = cmd
            return
        group: Any = cmd  # its own commands need no context
        if path and group.invoke_without_command:
            out[path] = group
        for name in group.list_commands(None):
            sub = group.get_command(None, name)
            if sub is not None:
                walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return out
