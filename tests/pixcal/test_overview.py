"""The campaign overview: what it computes from catalogue rows, the site it writes (links, CSV,
images, grade counts equal to a direct count over the files), the CLI, and the page in a real
browser (headless Chromium over the DevTools protocol: no console message, every image
decoded, sorting and filtering by real clicks and typing)."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from campaign_files import count_grades, make_campaign_files
from cdp_browser import CHROMIUM, Browser
from clirun import run_cli
from review_runs import make_run

from pixcal.analysis.grading_cuts import default_cuts
from pixcal.review import overview as ov
from pixcal.review.report import build_report


# ------------------------------------------------------------------------ pure functions
def _run(module, created, grade=None, plan="fulltest", temperature=-20.0, reasons=(),
         steps=(), status="completed"):
    return {"module_id": module, "created_utc": created, "grade": grade, "plan": plan,
            "temperature_c": temperature, "grade_reasons": list(reasons), "status": status,
            "steps": list(steps), "site": "PSI", "hardware_s": 600.0, "path": "/x.h5"}


def test_module_grade_is_worst_of_latest_per_test():
    runs = [_run("M1", "2026-01-01", "C", reasons=["ROC 3: pixel defects 50 >= 42 -> B"]),
            _run("M1", "2026-01-02", "A"),                       # retested: fulltest -20 is A
            _run("M1", "2026-01-03", None, status="running"),    # killed: not graded
            _run("M1", "2026-01-04", "B", temperature=17.0),
            _run("M2", "2026-01-05", None, plan="pretest", temperature=None)]
    assert ov.module_grades(runs) == {"M1": {"fulltest -20 C": "A", "fulltest +17 C": "B"},
                                      "M2": {"pretest": None}}
    counts = ov.grade_counts(runs)
    assert counts["modules"] == {"A": 0, "B": 1, "C": 0, "none": 1}
    assert counts["runs"] == {"A": 1, "B": 1, "C": 1, "none": 2}
    assert ov.grades_over_time(runs) == [("2026-01", counts["modules"])]
    reasons = ov.failure_reasons(runs)
    assert reasons == [{"reason": "pixel defects >= 42 -> B", "modules": 0, "runs": 1}]


def test_reason_kind_and_figures():
    assert ov.reason_kind("ROC 3: pixel defects 50 >= 42 -> B") == "pixel defects >= 42 -> B"
    assert ov.reason_kind("ROC 9: mean noise (e-) 325 > 300 -> C") == "mean noise (e-) > 300 -> C"
    assert ov.reason_kind("IV 000_iv: I(150 V) (uA) 12.5 > 10 -> C") == \
        "I(150 V) (uA) > 10 -> C"
    assert ov.reason_kind("run: step 003_trim failed must be completed -> C") == \
        "step trim failed must be completed -> C"
    full = _run("M1", "1", steps=[{"dead_pixels": 4}, {"missing_bumps": 2},
                                  {"noise_mean_vcal": 2.0, "threshold_rms_vcal": 0.5}])
    failed = _run("M1", "2", steps=[{"dead_pixels": 9}], status="failed")
    iv = _run("M1", "3", plan="iv", steps=[{"i150_ua": 0.7}])
    fig = ov.module_figures([full, failed, iv], 50.0)
    assert fig == {"defects": 6, "dead_pixels": 9, "missing_bumps": 2, "noise_e": 100.0,
                   "threshold_rms_e": 25.0, "i150_ua": 0.7, "fulltest_hours": 600 / 3600}


# ------------------------------------------------------------------------ the site
@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A small campaign plus one run with its report next to it, catalogued and overviewed
    through the CLI."""
    base = tmp_path_factory.mktemp("overview")
    made = make_campaign_files(base / "runs", 48, seed=7)
    reported = make_run(base / "runs" / "M-REVIEW_fulltest_20260301T120000Z.h5",
                        steps=("pretest", "alive"))
    build_report(reported, reported.with_name(reported.stem + "-report"), default_cuts(),
                 workers=1)
    db = base / "catalog.sqlite"
    code, _, _ = run_cli(_Quiet(), "catalog", "add", base / "runs", "--db", db)
    assert code == 1                               # the corrupt files are listed
    code = _cli_overview(db, base / "site")
    return {"base": base, "runs": [*made.runs, reported], "index": base / "site" / "index.html",
            "db": db, "exit": code}


class _Quiet:
    """A stand-in for capsys in a module-scoped fixture (output is not looked at)."""

    def readouterr(self):
        return type("Out", (), {"out": "", "err": ""})()


def _cli_overview(db: Path, out: Path) -> int:
    code, _, _ = run_cli(_Quiet(), "overview", "--db", db, "-o", out)
    return code


def _hrefs(html: str) -> list[str]:
    return re.findall(r'<a href="([^"#]+)">(?:report|run file)</a>', html)


def test_site_has_links_csv_and_images(site):
    assert site["exit"] == 0
    index = site["index"]
    html = index.read_text()
    modules = len(re.findall(r'<tr data-grade=', html))
    module_part, run_part = html.split('id="runs-section"')
    hrefs, run_hrefs = _hrefs(module_part), _hrefs(run_part)
    assert len(hrefs) == modules >= 8 and len(run_hrefs) == len(site["runs"])
    assert set(hrefs) <= set(run_hrefs)
    for href in run_hrefs:                    # relative links that lead to existing files
        assert not href.startswith("/") and (index.parent / unquote(href)).resolve().is_file()
    report = "../runs/M-REVIEW_fulltest_20260301T120000Z-report/index.html"
    assert [h for h in run_hrefs if h.endswith("-report/index.html")] == [report]
    assert report in hrefs
    with open(index.parent / "modules.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == modules and "grade fulltest -20 C" in rows[0]
    with open(index.parent / "runs.csv") as f:
        assert len(list(csv.DictReader(f))) == len(site["runs"])
    for name in re.findall(r'<img src="([^"]+)"', html):
        data = (index.parent / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 2000
    assert "overview.js" in html and "http" not in html.replace("http-equiv", "")


def test_grade_counts_equal_direct_count(site):
    html = site["index"].read_text()
    direct = count_grades(site["runs"])
    for what, counts in direct.items():
        for letter, n in counts.items():
            assert f'id="{what}-{letter}">{n}<' in html, (what, letter, n)


def test_overview_refuses_a_foreign_folder_and_bad_cuts(site, tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    code, _, err = run_cli(capsys, "overview", "--db", site["db"], "-o", busy)
    assert code == 2 and err.count("\n") == 1 and "not a pixcal overview folder" in err
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    cuts = tmp_path / "cuts.toml"
    cuts.write_text("[roc]\npixel_defect = [1, 2]\n")
    code, _, err = run_cli(capsys, "overview", "--db", site["db"], "-o", tmp_path / "o",
                           "--cuts", cuts)
    assert code == 2 and err.count("\n") == 1 and str(cuts) in err
    assert not (tmp_path / "o").exists()
    # rebuilding over an earlier overview replaces it
    assert _cli_overview(site["db"], tmp_path / "again") == 0
    assert _cli_overview(site["db"], tmp_path / "again") == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".again")]


# ------------------------------------------------------------------------ the browser
ROWS = ("Array.from(document.querySelectorAll('#modules tbody tr'))"
        ".filter(function (r) { return !r.hidden; })")


def _column(page, head: str) -> int:
    return page.evaluate("Array.from(document.querySelectorAll('#modules thead th'))"
                         f".map(function (h) {{ return h.textContent; }}).indexOf({head!r})")


def _values(page, col: int) -> list:
    return page.evaluate(f"{ROWS}.map(function (r) {{ var c = r.cells[{col}];"
                         " return c.getAttribute('data-value') === null ? c.textContent"
                         " : c.getAttribute('data-value'); })")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                    "(Debian: apt-get install chromium)")
def test_overview_in_headless_chromium(site):
    html = site["index"].read_text()
    n_images = len(re.findall(r"<img ", html))
    direct = count_grades(site["runs"])
    with Browser() as browser:
        page = browser.open(site["index"].as_uri())
        assert page.evaluate("document.body.getAttribute('data-images')") == str(n_images)
        assert page.evaluate("document.body.getAttribute('data-broken-images')") == ""
        assert page.evaluate("Array.from(document.images).every(function (i) {"
                             " return i.naturalWidth > 100 && i.naturalHeight > 50; })")
        shown = page.evaluate("Array.from(document.querySelectorAll('#grade-counts td'))"
                              ".map(function (c) { return [c.id, +c.textContent]; })")
        assert dict(shown) == {f"{w}-{g}": n for w, c in direct.items() for g, n in c.items()}
        n_modules = len(_values(page, 0))

        defects = _column(page, "defects")
        page.click(f"#modules thead th:nth-child({defects + 1})")
        values = _values(page, defects)
        numbers = [float(v) for v in values if v != ""]
        assert numbers == sorted(numbers) and len(set(numbers)) > 3
        assert values[len(numbers):] == [""] * (len(values) - len(numbers))   # blanks last
        page.click(f"#modules thead th:nth-child({defects + 1})")
        numbers = [float(v) for v in _values(page, defects) if v != ""]
        assert numbers == sorted(numbers, reverse=True)
        page.click("#modules thead th:nth-child(1)")
        modules = _values(page, 0)
        assert modules == sorted(modules) and len(modules) == n_modules

        page.type("#filter", modules[3])
        assert _values(page, 0) == [modules[3]]
        assert page.evaluate("document.getElementById('shown').textContent") == \
            f"1 of {n_modules} modules"
        page.type("#filter", "")
        page.evaluate("var s = document.getElementById('grade-filter'); s.value = 'C';"
                      " s.dispatchEvent(new Event('change'))")
        grade = _column(page, "grade")
        assert set(_values(page, grade)) == {"3"}
        assert len(_values(page, 0)) == direct["modules"]["C"]

        page.click("#runs-section summary")                 # every run, sortable too
        page.click("#runs thead th:nth-child(1)")
        started = page.evaluate("Array.from(document.querySelectorAll('#runs tbody tr'))"
                                ".map(function (r) { return r.cells[0].textContent; })")
        assert started == sorted(started) and len(started) == len(site["runs"])
        assert page.console == [], page.console
