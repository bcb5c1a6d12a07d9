"""The catalogue on SQLite: what it stores of each run, idempotence, incremental adds, unreadable
files listed and never half-inserted, schema migrations, and the CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from catalog_runs import make_campaign
from clirun import run_cli

from pixcal.catalog import CatalogError, add_runs, find_run_files, list_runs, open_catalog
from pixcal.catalog.db import database_url


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    return make_campaign(tmp_path_factory.mktemp("campaign") / "runs")


@pytest.fixture
def folder(campaign, tmp_path):
    """A private copy of the campaign (tests change files)."""
    root = next(iter(campaign.values())).parent
    shutil.copytree(root, tmp_path / "runs")
    return tmp_path / "runs"


def by_file(rows):
    return {r["path"].rsplit("/", 1)[-1]: r for r in rows}


def test_find_run_files_skips_data_folders_and_reports_missing(folder):
    files, missing = find_run_files([folder, folder / "good.h5", folder / "absent.h5"])
    names = sorted(f.name for f in files)
    assert names == ["corrupt.h5", "defective.h5", "failed.h5", "good.h5", "graded.h5",
                     "short.h5", "truncated.h5"]
    assert not any(".h5.d" in str(f) for f in files)
    assert missing == [str(folder / "absent.h5")]


def test_add_stores_header_grade_and_step_figures(folder, tmp_path):
    engine = open_catalog(str(tmp_path / "cat.sqlite"))
    files, _ = find_run_files([folder])
    report = add_runs(engine, files)
    assert len(report.added) == 5 and not report.updated and not report.unchanged
    assert sorted(f.path.rsplit("/", 1)[-1] for f in report.failed) == ["corrupt.h5",
                                                                        "truncated.h5"]
    assert all(f.reason.startswith(f.path) for f in report.failed)
    rows = by_file(list_runs(engine, with_steps=True))
    assert sorted(rows) == ["defective.h5", "failed.h5", "good.h5", "graded.h5", "short.h5"]

    good = rows["good.h5"]
    assert (good["module_id"], good["site"], good["operator"], good["plan"], good["status"]) \
        == ("M-REVIEW", "test", "pytest", "fulltest", "completed")
    assert good["grade"] is None and good["grade_reasons"] == []
    assert good["temperature_c"] is None
    assert good["hardware_s"] == pytest.approx(8.0)
    assert good["created_utc"] <= good["finished_utc"]
    from pixcal.catalog import sha256_of
    assert good["sha256"] == sha256_of(folder / "good.h5")

    assert rows["graded.h5"]["grade"] == "B"
    assert rows["graded.h5"]["grade_reasons"] == ["ROC 1: pixel defects 50 >= 42 -> B"]

    steps = {s["procedure"]: s for s in rows["defective.h5"]["steps"]}
    assert steps["alive"]["dead_pixels"] == 100
    assert steps["bumpbond"]["missing_bumps"] == 7
    assert steps["scurves"]["noise_mean_vcal"] == pytest.approx(2.3)
    assert steps["scurves"]["threshold_rms_vcal"] == pytest.approx(0.61)
    assert steps["alive"]["missing_bumps"] is None        # absent key: NULL, not 0
    assert steps["trim"]["dead_pixels"] is None

    failed = rows["failed.h5"]
    assert failed["status"] == "failed"
    fsteps = {s["procedure"]: s for s in failed["steps"]}
    assert fsteps["trim"]["status"] == "failed"
    assert fsteps["alive"]["dead_pixels"] is None          # malformed value: NULL
    assert fsteps["trim"]["threshold_rms_vcal"] is None    # NaN: NULL
    assert [s["step"] for s in failed["steps"]] == ["000_pretest", "001_alive", "002_trim"]


def test_second_add_adds_nothing_and_a_changed_file_replaces_its_run(folder, tmp_path):
    from pixcal.store import write_document

    engine = open_catalog(str(tmp_path / "cat.sqlite"))
    files, _ = find_run_files([folder])
    first = add_runs(engine, files)
    before = list_runs(engine, with_steps=True)
    again = add_runs(engine, files, workers=2)
    assert again.added == [] and again.updated == []
    assert len(again.unchanged) == 5 and len(again.failed) == 2
    assert list_runs(engine, with_steps=True) == before

    good = folder / "good.h5"
    write_document(good, "grade", {"grade": "C", "reasons": [{"text": "run: x -> C"}]})
    third = add_runs(engine, [good])
    good_id = by_file(before)["good.h5"]["run_id"]
    assert third.updated == [good_id] and third.added == []
    after = by_file(list_runs(engine, with_steps=True))
    assert after["good.h5"]["grade"] == "C"
    assert after["good.h5"]["steps"] == by_file(before)["good.h5"]["steps"]
    assert len(after) == 5 and good_id in first.added

    # the same run copied elsewhere (new bytes, same run id) stays one run
    copy = tmp_path / "copy.h5"
    shutil.copyfile(good, copy)
    write_document(copy, "note", {"moved": True})
    assert add_runs(engine, [copy]).updated == [good_id]
    assert len(list_runs(engine)) == 5


def test_unreadable_file_is_never_half_inserted(folder, tmp_path):
    db = tmp_path / "cat.sqlite"
    engine = open_catalog(str(db))
    report = add_runs(engine, [folder / "truncated.h5", folder / "corrupt.h5"])
    assert report.added == [] and len(report.failed) == 2
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from runs").fetchone() == (0,)
        assert con.execute("select count(*) from steps").fetchone() == (0,)


def test_schema_is_migrated_and_a_foreign_database_is_refused(tmp_path):
    db = tmp_path / "cat.sqlite"
    open_catalog(str(db)).dispose()
    open_catalog(str(db)).dispose()            # opening again is a no-op
    with sqlite3.connect(db) as con:
        assert con.execute("select version_num from alembic_version").fetchall() == [("0001",)]
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    assert {"runs", "steps", "alembic_version"} <= tables
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as con:
        con.execute("create table customers (id integer)")
    with pytest.raises(CatalogError, match="not a pixcal catalogue"):
        open_catalog(str(other))
    with pytest.raises(CatalogError, match="does not exist"):
        open_catalog(str(tmp_path / "no" / "such" / "cat.sqlite"))


def test_database_url_forms(tmp_path):
    assert database_url(str(tmp_path / "x.sqlite")) == f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite://") == "sqlite://"


def test_cli_add_and_list(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "catalog", "add", folder, tmp_path / "missing.h5")
    assert code == 1
    assert "catalogued 5 new, 0 updated, 0 unchanged; 3 not readable" in out
    lines = err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert any("corrupt.h5" in line for line in lines)
    assert any("truncated.h5" in line for line in lines)
    assert "Traceback" not in err
    assert (tmp_path / "pixcal-catalog.sqlite").is_file()      # the default catalogue

    code, out, err = run_cli(capsys, "catalog", "add", folder / "good.h5")
    assert (code, err) == (0, "")
    assert "catalogued 0 new, 0 updated, 1 unchanged; 0 not readable" in out

    code, out, _ = run_cli(capsys, "catalog", "list")
    assert code == 0 and out.strip().endswith("5 run(s)")
    assert "graded.h5" in out and "  B  " in out
    code, out, _ = run_cli(capsys, "catalog", "list", "--json")
    rows = json.loads(out)
    assert len(rows) == 5 and all("steps" in r for r in rows)


def test_cli_bad_database_is_one_line(tmp_path, capsys):
    for db in ("nosuchdialect://x", str(tmp_path / "absent" / "c.sqlite"),
               "postgresql://nobody@127.0.0.1:1/none"):
        code, _, err = run_cli(capsys, "catalog", "list", "--db", db)
        assert code == 2, db
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err


def test_small_batches_store_the_same_rows(folder, tmp_path, monkeypatch):
    files, _ = find_run_files([folder])
    whole = open_catalog(str(tmp_path / "whole.sqlite"))
    add_runs(whole, files)
    monkeypatch.setattr("pixcal.catalog.index._BATCH", 2)
    batched = open_catalog(str(tmp_path / "batched.sqlite"))
    report = add_runs(batched, files, workers=2)
    assert len(report.added) == 5 and len(report.failed) == 2

    def rows(engine):
        return [{k: v for k, v in r.items() if k != "catalogued_utc"}
                for r in list_runs(engine, with_steps=True)]

    assert rows(batched) == rows(whole)


def test_migrations_build_the_tables_the_queries_use(tmp_path):
    from sqlalchemy import inspect

    from pixcal.catalog.schema import metadata

    engine = open_catalog(str(tmp_path / "cat.sqlite"))
    found = inspect(engine)
    for table in metadata.sorted_tables:
        columns = {c["name"]: c for c in found.get_columns(table.name)}
        assert list(columns) == [c.name for c in table.columns], table.name
        for column in table.columns:
            assert columns[column.name]["nullable"] == (column.nullable and
                                                        not column.primary_key), column.name
        keys = found.get_pk_constraint(table.name)["constrained_columns"]
        assert keys == [c.name for c in table.primary_key.columns]
