"""The catalogue on a real PostgreSQL server gives exactly what it gives on SQLite.

The server is ``PIXCAL_TEST_POSTGRES_URL`` if set (the test works in a schema of its own and
drops it), else a throwaway server started from Debian's binaries (``/usr/lib/postgresql/*/bin``:
initdb and pg_ctl on a temporary folder, 127.0.0.1 and a free port, run as the ``postgres`` or
``nobody`` user when the tests run as root) and stopped at the end. Without either the tests
are skipped, saying why.
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
from catalog_runs import make_campaign
from clirun import run_cli

from pixcal.catalog import add_runs, find_run_files, list_runs, open_catalog, set_grades

pytest.importorskip("psycopg", reason="the PostgreSQL driver psycopg is not installed")


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


@pytest.fixture(scope="module")
def server():
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


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    return make_campaign(tmp_path_factory.mktemp("pg") / "runs")


def _comparable(rows):
    return [{k: v for k, v in r.items() if k != "catalogued_utc"} for r in rows]


def test_postgres_catalogue_equals_sqlite(campaign, pg_url, tmp_path):
    files, _ = find_run_files([campaign["good"].parent])
    lite, pg = open_catalog(str(tmp_path / "cat.sqlite")), open_catalog(pg_url)
    try:
        assert pg.dialect.name == "postgresql"
        first = [add_runs(engine, files) for engine in (lite, pg)]
        assert first[0] == first[1]
        assert len(first[1].added) == 5 and len(first[1].failed) == 2
        expected = _comparable(list_runs(lite, with_steps=True))
        assert _comparable(list_runs(pg, with_steps=True)) == expected
        again = add_runs(pg, files, workers=2)
        assert again.added == [] and again.updated == [] and len(again.unchanged) == 5
        run_id = expected[0]["run_id"]
        for engine in (lite, pg):
            assert set_grades(engine, [(run_id, "C", ["run: planted -> C"]),
                                       ("not-catalogued", "A", [])]) == 1
        assert _comparable(list_runs(pg, with_steps=True)) == \
            _comparable(list_runs(lite, with_steps=True))
        open_catalog(pg_url).dispose()       # migrating again is a no-op
    finally:
        lite.dispose()
        pg.dispose()


def test_cli_on_postgres(campaign, pg_url, capsys):
    code, out, err = run_cli(capsys, "catalog", "add", campaign["good"], campaign["corrupt"],
                             "--db", pg_url)
    assert code == 1 and "catalogued 1 new" in out and "corrupt.h5" in err
    code, out, _ = run_cli(capsys, "catalog", "list", "--db", pg_url)
    assert code == 0 and out.strip().endswith("1 run(s)") and "good.h5" in out
