"""Regrading many run files: the process pool and a Dask LocalCluster (2 workers, loopback, no
dashboard) give exactly the serial grades, which are `pixcal grade`'s; a bad file is listed and
the others go on; the catalogue takes the new grades."""

from __future__ import annotations

import json
import shutil

import pytest
from catalog_runs import equal_nan, make_campaign
from clirun import run_cli

from pixcal.analysis.grading_cuts import load_cuts
from pixcal.catalog import find_run_files
from pixcal.catalog.regrade import regrade_files

SITE_CUTS = "[roc]\npixel_defects = [20, 90]\n"   # 100 dead pixels: C; the good runs: A


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    return make_campaign(tmp_path_factory.mktemp("regrade") / "runs")


@pytest.fixture(scope="module")
def cuts_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cuts") / "site.toml"
    path.write_text(SITE_CUTS)
    return path


@pytest.fixture(scope="module")
def serial(campaign, cuts_file):
    files, _ = find_run_files([campaign["good"].parent])
    return files, regrade_files(files, load_cuts(cuts_file), workers=1)


def test_serial_grades_are_pixcal_grades(serial, cuts_file):
    from pixcal.review.grade import grade_run

    files, results = serial
    by_name = {r.path.rsplit("/", 1)[-1]: r for r in results}
    assert [r.path for r in results] == [str(f) for f in files]
    assert by_name["good.h5"].letter == "A"
    assert by_name["defective.h5"].letter == "C"
    assert any("ROC 3" in t for t in by_name["defective.h5"].reasons)
    assert by_name["failed.h5"].letter == "C"          # a required step failed
    for name in ("corrupt.h5", "truncated.h5"):
        assert by_name[name].grade is None and by_name[name].error.startswith(by_name[name].path)
    cuts = load_cuts(cuts_file)
    for r in results:
        if r.grade is not None:
            assert equal_nan(r.grade, grade_run(r.path, cuts).as_dict())
            assert len(r.run_id) == 36


def test_process_pool_equals_serial(serial, cuts_file):
    files, expected = serial
    pooled = regrade_files(files, load_cuts(cuts_file), workers=2)
    assert [(r.path, r.run_id, r.error) for r in pooled] == \
        [(r.path, r.run_id, r.error) for r in expected]
    assert all(equal_nan(a.grade, b.grade) for a, b in zip(pooled, expected, strict=True))


def test_dask_local_cluster_equals_serial(serial, cuts_file, tmp_path):
    from pixcal.catalog import add_runs, list_runs, open_catalog

    distributed = pytest.importorskip("distributed")
    files, expected = serial
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       protocol="tcp", host="127.0.0.1",
                                       dashboard_address=None)
    with cluster, distributed.Client(cluster, set_as_default=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        on_dask = regrade_files(files, load_cuts(cuts_file), scheduler=cluster.scheduler_address)
        by_client = regrade_files(files, load_cuts(cuts_file), scheduler=client)
        catalogues = [open_catalog(str(tmp_path / f"{name}.sqlite")) for name in "sd"]
        reports = [add_runs(catalogues[0], files, workers=1),
                   add_runs(catalogues[1], files, scheduler=client)]
    for result in (on_dask, by_client):
        assert [(r.path, r.run_id, r.error) for r in result] == \
            [(r.path, r.run_id, r.error) for r in expected]
        assert all(equal_nan(a.grade, b.grade) for a, b in zip(result, expected, strict=True))
    assert reports[0] == reports[1] and len(reports[0].added) == 5
    rows = [[{k: v for k, v in r.items() if k != "catalogued_utc"}
             for r in list_runs(c, with_steps=True)] for c in catalogues]
    assert rows[0] == rows[1]


def test_unreachable_scheduler_is_one_line(campaign, cuts_file, capsys, monkeypatch):
    monkeypatch.setattr("pixcal.catalog.pool.CONNECT_TIMEOUT", "1s")
    code, _, err = run_cli(capsys, "regrade", campaign["good"], "--cuts", cuts_file,
                           "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2 and err.startswith("error: tcp://127.0.0.1:1: cannot reach")
    assert len(err.strip().splitlines()) == 1


def test_cli_regrade_updates_catalogue_and_lists_bad_files(campaign, cuts_file, tmp_path,
                                                           capsys):
    runs = tmp_path / "runs"
    shutil.copytree(campaign["good"].parent, runs)
    db = tmp_path / "cat.sqlite"
    assert run_cli(capsys, "catalog", "add", runs, "--db", db)[0] == 1
    code, out, err = run_cli(capsys, "regrade", runs, "--cuts", cuts_file, "--db", db,
                             "--workers", "2")
    assert code == 1
    assert "regraded 5 run(s): 2 A, 0 B, 3 C; 2 not gradable" in out
    assert "catalogue: 5 run(s) updated" in out
    errors = err.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("error: ") for e in errors)
    assert "Traceback" not in err
    code, out, _ = run_cli(capsys, "catalog", "list", "--db", db, "--json")
    grades = {r["path"].rsplit("/", 1)[-1]: r["grade"] for r in json.loads(out)}
    assert grades == {"good.h5": "A", "graded.h5": "A", "short.h5": "C",
                      "defective.h5": "C", "failed.h5": "C"}


def test_cli_regrade_store_writes_the_grade_into_the_file(campaign, cuts_file, tmp_path,
                                                          capsys):
    from pixcal.store import RunFile

    path = tmp_path / "defective.h5"
    shutil.copyfile(campaign["defective"], path)
    shutil.copytree(campaign["defective"].with_name("defective.h5.d"),
                    tmp_path / "defective.h5.d")
    code, out, _ = run_cli(capsys, "regrade", path, "--cuts", cuts_file, "--store", "--json",
                           "--workers", "1")
    assert code == 0
    printed = json.loads(out)[0]["grade"]
    stored = RunFile(path).document("grade")
    assert stored["grade"] == printed["grade"] == "C"
    assert stored["cuts_changed"] == [{"key": "roc.pixel_defects", "default": [42, 167],
                                       "value": [20, 90]}]
