"""Databases for the storage tests: the same tests run on SQLite and on a real PostgreSQL.

``database_url`` is parametrised ``sqlite`` (a file in the test's tmp dir) and
``postgresql`` (marked ``service``): the server named by
``QCLONE_TEST_DATABASE_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
or, where none answers, one started for the session from the installed
PostgreSQL binaries (``initdb`` + ``pg_ctl`` in a temporary directory on a free
port, run as the ``postgres`` user when the tests run as root). Every test gets
a fresh schema of its own (``qclone_test_<random>``, first on the search path
through the URL), dropped afterwards. Skipped, with the reason, only where
neither works.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _connect(url: str, timeout: float = 3.0):  # noqa: ANN202 - psycopg connection
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg.connect(host=u.host or "127.0.0.1", port=u.port or 5432, user=u.username or "postgres",
                           password=u.password, dbname=u.database or "postgres", connect_timeout=int(timeout),
                           autocommit=True)


def _answers(url: str) -> str | None:
    """None if a server at url answers, else why not."""
    try:
        _connect(url).close()
        return None
    except Exception as e:  # noqa: BLE001 - any failure means: not usable
        return f"{type(e).__name__}: {e}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_own_server() -> tuple[str | None, str, Path | None, list[str]]:
    """Start a throwaway PostgreSQL; (url or None, why not, data dir, command prefix)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        return None, "no PostgreSQL binaries under /usr/lib/postgresql/*/bin", None, []
    bindir = Path(bins[-1]).parent
    prefix: list[str] = []
    root = tempfile.mkdtemp(prefix="qclone-pg-")
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            return None, "running as root and no runuser to start PostgreSQL as the postgres user", None, []
        prefix = [runuser, "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data = Path(root) / "data"
    port = _free_port()
    try:
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(Path(root) / "log"), "-w", "-o",
                        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.SubprocessError, OSError) as e:
        detail = getattr(e, "stderr", b"") or b""
        return None, f"could not start PostgreSQL from {bindir}: {e} {detail.decode(errors='replace')[-300:]}", None, []
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    for _ in range(50):
        if _answers(url) is None:
            return url, "", data, [*prefix, str(bindir / "pg_ctl")]
        time.sleep(0.1)
    return None, "started PostgreSQL does not answer", data, [*prefix, str(bindir / "pg_ctl")]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server for the session (see the module docstring)."""
    url = os.environ.get("QCLONE_TEST_DATABASE_URL", DEFAULT_PG_URL)
    why = _answers(url)
    if why is None:
        yield url
        return
    own, why_not, data, pg_ctl = _start_own_server()
    if own is None:
        pytest.skip(f"no PostgreSQL: {url} does not answer ({why}); {why_not}")
    try:
        yield own
    finally:
        subprocess.run([*pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(Path(data).parent, ignore_errors=True)


def _with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_schema_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL URL whose search path is a fresh schema, dropped after the test."""
    server = request.getfixturevalue("postgres_server")
    schema = f"qclone_test_{uuid.uuid4().hex[:12]}"
    with _connect(server) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _with_search_path(server, schema)
    finally:
        with _connect(server) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The metadata database of one test: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
    return request.getfixturevalue("pg_schema_url")


class Stack:
    """A storage service with its parts, over a data dir and a database (on PostgreSQL, the
    substrate's state too); :meth:`restart` builds a fresh service over the same files and database
    (what a process restart does)."""

    def __init__(self, data_dir: Path, url: str, *, providers: int = 4, zones: list[str] | None = None) -> None:
        self.data_dir, self.url = data_dir, url
        self._dbs: list = []
        self.build()
        for i in range(providers):
            self.service.providers_add(f"p{i + 1}", zone=(zones[i] if zones else f"z{i + 1}"))
        self.alice = self.service.authenticate(self.service.create_tenant("alice"))

    def build(self, *, recover: bool = True) -> None:
        from qclone.storage.clock import SettableClock
        from qclone.storage.db import Database
        from qclone.storage.service import HolderDirectory, ProviderDirectory, StorageService
        from qclone.storage.substrate import Substrate
        from qclone.storage.vault import KeyVault

        d = self.data_dir
        self.db = Database.open(self.url)
        self._dbs.append(self.db)
        self.clock = SettableClock(d / "clock.json", start=1000.0)
        # on PostgreSQL the substrate's state is there too (as `qclone serve --db postgresql://...` keeps it)
        self.substrate = Substrate(d / "substrate", durable=False, in_process=True,
                                   db_url=self.url if self.url.startswith("postgresql") else None)
        self.vault = KeyVault(d / "vault")
        self.directory = ProviderDirectory.local(d)
        self.holders = HolderDirectory.local(d)
        self.service = StorageService(self.db, self.substrate, self.vault, self.directory, self.clock, recover=recover,
                                      holders=self.holders)

    def restart(self, *, recover: bool = True) -> None:
        self.build(recover=recover)

    def close(self) -> None:
        for db in self._dbs:
            db.dispose()


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Four providers p1..p4 in zones z1..z4 and a tenant ``alice`` (``stack.alice``)."""
    s = Stack(tmp_path / "data", database_url)
    try:
        yield s
    finally:
        s.close()


class SubstrateDB:
    """Where one test's substrates keep their records: a data dir (SQLite) or a fresh PostgreSQL
    schema (``url``). :meth:`open` makes an instance there (on PostgreSQL always shared, as every
    instance of the store is); :meth:`connect` a raw connection to the same tables."""

    def __init__(self, data_dir: Path, url: str | None = None) -> None:
        self.data_dir, self.url = data_dir, url

    @property
    def postgres(self) -> bool:
        return self.url is not None

    @property
    def arg(self) -> str:
        """What a child process opens (see :data:`OPEN_SUBSTRATE`)."""
        return self.url if self.url is not None else str(self.data_dir)

    def open(self, **kw):  # noqa: ANN201 - a Substrate (imported late: the fixtures module stays light)
        from qclone.storage.substrate import Substrate

        return Substrate(self.data_dir, db_url=self.url, **kw)

    @property
    def integrity_error(self) -> type[Exception]:
        if self.url is None:
            import sqlite3

            return sqlite3.IntegrityError
        import psycopg

        return psycopg.IntegrityError

    def sql(self, text: str) -> str:
        """A statement with ``?`` placeholders in the driver's style."""
        return text if self.url is None else text.replace("?", "%s")

    def connect(self):  # noqa: ANN201 - a sqlite3 or psycopg connection (autocommit), a context manager
        if self.url is None:
            import sqlite3

            return sqlite3.connect(self.data_dir / "substrate.sqlite3", isolation_level=None)
        from qclone.storage.pgstore import schema_of

        conn = _connect(self.url)
        conn.execute(f'SET search_path TO "{schema_of(self.url)}"')
        return conn

    def rows(self) -> tuple[list[str], list[str]]:
        """(object ids with a joint state, object ids with an output)."""
        with self.connect() as c:
            return ([r[0] for r in c.execute("SELECT object_id FROM joint ORDER BY 1").fetchall()],
                    [r[0] for r in c.execute("SELECT object_id FROM outputs ORDER BY 1").fetchall()])


#: Python opening the substrate named by ``where`` (a data dir, or a PostgreSQL URL): for child processes.
OPEN_SUBSTRATE = ("from qclone.storage.substrate import Substrate\n"
                  "def open_substrate(where, **kw):\n"
                  "    if where.startswith('postgresql'):\n"
                  "        return Substrate(None, db_url=where, **kw)\n"
                  "    return Substrate(where, **kw)\n")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def substrate_db(request: pytest.FixtureRequest, tmp_path: Path) -> SubstrateDB:
    """A substrate's records: in ``tmp_path`` (SQLite), or in a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return SubstrateDB(tmp_path)
    return SubstrateDB(tmp_path, request.getfixturevalue("pg_schema_url"))
