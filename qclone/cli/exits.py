"""Exit statuses of ``qclone`` and the one place that maps exceptions to them.

==  =====================================================================================
0   ok
1   a result: a check failed (``verify``), an audit found the placement unsafe (``audit``, ``storage plan``)
2   bad input: a malformed or out-of-range argument, an unreadable file, a busy port,
    a missing optional dependency, an IBM backend this machine cannot use (no saved
    account, a name the account does not have); also the service's 400, 413 and 422
3   refused by the service: 401, 403, 404, 409, 429 (and any other 4xx)
4   the storage service is unreachable or failing: connection errors, timeouts, 5xx
==  =====================================================================================

1 is a result (the report on stdout says what failed) and comes with no error line; 2, 3
and 4 come with exactly one line on stderr, ``qclone: error: ...``. The storage SDK's
errors (:mod:`qclone.storage.errors`) carry the HTTP status they stand for in
``http_status``; they are mapped by that status, so a new error type of the SDK
needs no change here. This module imports nothing heavy: ``qclone --help`` loads it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

from qclone.errors import QcloneError, is_int

OK, CHECK_FAILED, BAD_INPUT, REFUSED, UNAVAILABLE = 0, 1, 2, 3, 4
INTERRUPTED = 130

#: The optional parts of qclone (``pip install 'qclone[NAME]'``) and the top-level modules each provides
#: (pydantic is not among them: typer needs it).
EXTRAS: dict[str, tuple[str, ...]] = {
    "storage": ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "httpx", "orjson", "cryptography"),
    "hardware": ("qiskit_aer", "qiskit_ibm_runtime", "qiskit_experiments"),
    "dask": ("dask", "distributed"),
}
_EXTRA_OF = {module: extra for extra, modules in EXTRAS.items() for module in modules}


def extra_message(extra: str) -> str:
    """The one line that says which optional part to install."""
    return f"this command needs qclone[{extra}]: pip install 'qclone[{extra}]'"


def extra_of(exc: BaseException) -> str | None:
    """The extra whose module is missing when ``exc`` is an ImportError for one of :data:`EXTRAS`' modules."""
    if not isinstance(exc, ImportError):
        return None
    name = exc.name or ""
    return _EXTRA_OF.get(name.split(".")[0])


def has_extra(extra: str) -> bool:
    """Whether every module of ``extra`` can be imported (found, not imported)."""
    for module in EXTRAS[extra]:
        try:
            if importlib.util.find_spec(module) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def status_exit(status: int) -> int:
    """The exit status for an HTTP error status of the service."""
    if status >= 500:
        return UNAVAILABLE
    if status in (400, 413, 422):
        return BAD_INPUT
    return REFUSED


def exit_status(exc: BaseException) -> int | None:
    """The exit status for an exception a user or a service can cause; ``None`` for anything else (a bug)."""
    if extra_of(exc) is not None:
        return BAD_INPUT
    status = getattr(exc, "http_status", None)
    if isinstance(exc, QcloneError) and is_int(status):
        return status_exit(status)
    if isinstance(exc, QcloneError):
        return BAD_INPUT
    if isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__module__.split(".")[0] == "httpx":
        return UNAVAILABLE
    if isinstance(exc, OSError):  # a file or directory the user named, a port in use, ...
        return BAD_INPUT
    return None


def one_line(message: object) -> str:
    """Collapse a message to one line (errors are one line on stderr)."""
    return " ".join(str(message).split())


def _click(name: str) -> tuple[type[BaseException], ...]:
    """``name`` from typer's vendored click (typer >= 0.26) and from click, where present."""
    found: list[type[BaseException]] = []
    for module in ("typer._click.exceptions", "click.exceptions"):
        if module.startswith("click") and "click" not in sys.modules:
            continue  # never import click just to look: typer's copy is the one in use
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        exc = getattr(mod, name, None)
        if exc is not None and exc not in found:
            found.append(exc)
    return tuple(found)


def describe_exit(exc: BaseException) -> tuple[int, str]:
    """``(exit status, the line for stderr)`` for an exception escaping a command; re-raises a bug."""
    if isinstance(exc, _click("NoArgsIsHelpError")):
        return OK, ""  # the help has been printed
    if isinstance(exc, _click("UsageError")):
        return BAD_INPUT, f"qclone: error: {one_line(exc.format_message())}"  # type: ignore[attr-defined]  # click's UsageError
    if isinstance(exc, (KeyboardInterrupt, *_click("Abort"))):
        return INTERRUPTED, "qclone: aborted"
    if isinstance(exc, _click("ClickException")):
        return BAD_INPUT, f"qclone: error: {one_line(exc.format_message())}"  # type: ignore[attr-defined]  # click's exception
    extra = extra_of(exc)
    if extra is not None:
        return BAD_INPUT, f"qclone: error: {extra_message(extra)}"
    code = exit_status(exc)
    if code is None:
        raise exc
    return code, f"qclone: error: {one_line(exc)}"
