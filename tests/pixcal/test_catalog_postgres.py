"""The catalogue on a real PostgreSQL server gives exactly what it gives on SQLite.

The server: :mod:`pg_server` (``PIXCAL_TEST_POSTGRES_URL``, or a throwaway server from Debian's
binaries; skipped, saying why, without either).
"""

from __future__ import annotations

import pytest
from catalog_runs import make_campaign
from clirun import run_cli

from pixcal.catalog import add_runs, find_run_files, list_runs, open_catalog, set_grades

pytest.importorskip("psycopg", reason="the PostgreSQL driver psycopg is not installed")


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
