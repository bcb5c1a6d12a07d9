"""A real PostgreSQL server for the catalogue tests (fixtures ``server`` and ``pg_url``).

The server is ``PIXCAL_TEST_POSTGRES_URL`` if set (each test works in a schema of its own and
drops it), else a throwaway server started from Debian's binaries (``/usr/lib/postgresql/*/bin``:
initdb and pg_ctl on a temporary folder, 127.0.0.1 and a free port, run as the ``postgres`` or
``nobody`` user when the tests run as root), shared by the session and stopped at its end.
Without either the tests are skipped, saying why. A test module imports the fixtures it uses.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> list[str]:
    """The prefix that runs a server command as a non-root user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"]
    pytest.skip("running as root and no postgres/nobody user to start PostgreSQL as")


def _start_server():
    """Start a throwaway server; yields its URL; stops it and removes its folder after."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not binaries:
        pytest.skip("no PIXCAL_TEST_POSTGRES_URL and no PostgreSQL server binaries under "
                    "/usr/lib/postgresql/*/bin (apt-get install postgresql)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    bindir = Path(binaries[-1]).parent
    prefix = _as_user()
    root = Path(tempfile.mkdtemp(prefix="pixcal-pg-"))
    if prefix:
        shutil.chown(root, user=prefix[2])
    data, port = root / "data", _free_port()
    try:
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                        "-U", "pixcal", "-E", "UTF8", "--locale=C", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l",
                        str(root / "server.log"), "-w", "-t", "60", "-o",
                        f"-h 127.0.0.1 -p {port} -k {root} -F", "start"],
                       check=True, capture_output=True, timeout=90)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        out = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot start a throwaway PostgreSQL server with {bindir}: "
                    f"{exc} {out.decode(errors='replace').strip()[-300:]}")
    try:
        yield f"postgresql://pixcal@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    """The URL of a PostgreSQL server for the whole test session."""
    url = os.environ.get("PIXCAL_TEST_POSTGRES_URL")
    if url:
        yield url
    else:
        yield from _start_server()


@pytest.fixture
def pg_url(server):
    """A URL whose connections work in a fresh schema (dropped after the test)."""
    import psycopg

    schema = f"pixcal_test_{uuid.uuid4().hex[:12]}"
    plain = server.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as con:
        con.execute(f"create schema {schema}")
    sep = "&" if "?" in server else "?"
    try:
        yield f"{server}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as con:
            con.execute(f"drop schema {schema} cascade")
