"""The HTML report and the grade/report CLI: content, missing data, errors, and a real browser.

The browser test renders each report in headless Chromium (Debian's ``chromium`` package) and
reads back what the page recorded on load: how many images it has and which failed to decode.
It is skipped, saying why, when no Chromium is installed. Screenshots of the module page and of
a ROC page are kept in ``$PIXCAL_TEST_ARTIFACTS`` when that variable names a folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from browser import check_page, chromium, needs_chromium
from clirun import run_cli
from review_runs import READOUT, iv_curve, make_run

from pixcal.analysis.grading_cuts import default_cuts
from pixcal.review.report import build_report
from pixcal.store import RunFile


def _plant(maps):
    maps["alive"]["alive"][3, :50, 0] = 0           # 50 dead pixels: ROC 3 is B
    maps["scurves"]["noise"][9] = 6.5               # mean noise 325 e-: ROC 9 is C


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Reports of a graded fulltest, a run with only pretest + alive, a failed run, an IV."""
    base = tmp_path_factory.mktemp("reports")
    runs = {
        "fulltest": make_run(base / "fulltest.h5", plant=_plant),
        "short": make_run(base / "short.h5", steps=("pretest", "alive")),
        "failed": make_run(base / "failed.h5", steps=("pretest", "alive", "bumpbond"),
                           status={"bumpbond": "failed"}, run_status="failed"),
        "iv": make_run(base / "iv.h5", steps=(), iv={**iv_curve(12.0), "temperature_c": 17.0}),
        "readout": _with_monitor(make_run(
            base / "readout.h5", steps=("pretest", *READOUT), n_rocs=16,
            summaries={"timing": {"wbc": [99] * 16, "caldel": [100] * 16}})),
    }
    return {name: build_report(path, base / f"{name}-report", default_cuts())
            for name, path in runs.items()}


def _with_monitor(run: Path) -> Path:
    """Add ``/monitor`` series as the run's monitor writes them: (n, 2) [time, value], unit."""
    t = 1.76e9 + np.arange(40.0) * 15
    with h5py.File(run, "a") as f:
        mon = f.require_group("monitor")
        for name, unit, value in (("ia_a", "A", 0.38), ("id_a", "A", 0.55),
                                  ("temperature_c", "degC", 17.2), ("hv_v", "V", -150.0)):
            mon.create_dataset(name, data=np.stack([t, np.full_like(t, value)], axis=1))
            mon[name].attrs["unit"] = unit
        mon.create_dataset("odd", data=np.zeros((5, 3)))
    return run


def _html(index: Path) -> str:
    return index.read_text()


def test_fulltest_report_has_grade_reasons_sections_and_images(reports):
    index = reports["fulltest"]
    html = _html(index)
    assert 'id="grade-letter">C<' in html
    assert "ROC 3: pixel defects 50 &gt;= 42 -&gt; B" in html
    assert "ROC 9: mean noise (e-) 325 &gt; 300 -&gt; C" in html
    assert html.index('id="grade"') < html.index('id="steps"') < html.index('id="alive"')
    for sid in ("defects", "alive", "bumpbond", "trim", "trimbits", "scurves", "gainped",
                "config"):
        assert f'<section id="{sid}"' in html
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) >= 13
    assert html.count("(dashed: the B and C cuts)</text>") == 4  # noise, thr/gain width, ped
    assert html.count('<figure class="hist">') == 5   # bump turn-on, threshold, noise, 1/gain, ped
    for name in images:
        assert (index.parent / name).read_bytes().startswith(b"\x89PNG")
    assert 'id="missing"' not in html
    # the hand-made run has every step's data; only the supplies' monitor was not recorded
    assert re.findall(r"not available: [^<]*", html) == [
        "not available: the run recorded no /monitor data"]


def test_short_and_failed_runs_say_what_is_missing(reports):
    short = _html(reports["short"])
    assert "required step bumpbond missing must be run -&gt; C" in short
    assert re.search(r"Bump bonding: missing \(This run has no such step.\)", short)
    failed = _html(reports["failed"])
    assert "step 002_bumpbond failed must be completed -&gt; C" in failed
    assert "planted failure" in failed
    for index in (reports["short"], reports["failed"]):
        for name in re.findall(r'<img src="([^"]+)"', _html(index)):
            assert (index.parent / name).stat().st_size > 1000


def test_iv_only_run_report(reports):
    html = _html(reports["iv"])
    assert 'id="grade-letter">C<' in html and "I(150 V) (uA) 12 &gt; 10 -&gt; C" in html
    assert '<section id="iv"' in html and '<section id="alive"' not in html
    assert "No electrical test in this run" in html
    assert (reports["iv"].parent / "iv.png").read_bytes().startswith(b"\x89PNG")


def test_a_page_per_roc_with_maps_distributions_and_defect_list(reports):
    index = reports["fulltest"]
    html = _html(index)
    for roc in range(16):
        assert f'<a href="roc-{roc:02d}.html">ROC {roc}</a>' in html
    page = (index.parent / "roc-03.html").read_text()
    assert "ROC 3: pixel defects 50 &gt;= 42 -&gt; B" in page
    dead = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>dead</td>", page)
    assert sorted((int(c), int(r)) for c, r in dead) == [(c, 0) for c in range(50)]
    assert page.count('<figure class="hist">') == 6      # bump, two thresholds, noise, gain, ped
    assert '<a href="roc-02.html">' in page and '<a href="roc-04.html">' in page
    for roc in range(16):
        text = (index.parent / f"roc-{roc:02d}.html").read_text()
        names = re.findall(r'<img src="([^"]+)"', text)
        assert len(names) == 9      # defects + alive, bump, trims, 2 thresholds, noise, gain, ped
        for name in names:
            assert (index.parent / name).read_bytes().startswith(b"\x89PNG")
    noisy = (index.parent / "roc-09.html").read_text()
    assert "ROC 9: mean noise (e-) 325 &gt; 300 -&gt; C" in noisy
    noise_hist = noisy[noisy.index("S-curve noise"):]
    assert ">noise max<" in noise_hist and "cut noise min at 10 is off the scale" in noise_hist
    assert not (reports["iv"].parent / "roc-00.html").exists()


def test_readout_and_monitor_plots(reports):
    index = reports["readout"]
    html = _html(index)
    for sid, png in (("tbmphase", "tbmphase_grid"), ("pohbias", "pohbias_rssi"),
                     ("timing", "timing_wbc_caldel"), ("monitor", "monitor")):
        assert f'<section id="{sid}"' in html
        assert (index.parent / f"{png}.png").stat().st_size > 5000
    assert "/monitor/odd: expected (n, 2) rows of [time, value], found shape (5, 3)" in html
    for name in ("short", "failed", "iv"):
        assert "the run recorded no /monitor data" in _html(reports[name])


@needs_chromium
@pytest.mark.parametrize("name", ["fulltest", "fulltest/roc-03.html", "fulltest/roc-09.html",
                                  "short", "failed", "iv", "readout"])
def test_report_in_headless_chromium(reports, name, tmp_path):
    run, _, page = name.partition("/")
    index = reports[run] if not page else reports[run].parent / page
    assert 'id="grade-letter"' in check_page(index, tmp_path)
    shots = {"fulltest": "report-module-page.png", "fulltest/roc-03.html": "report-roc-page.png"}
    if name in shots:
        shot = tmp_path / shots[name]
        chromium([f"--screenshot={shot}", "--window-size=1400,2400", index.as_uri()],
                 tmp_path)
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
        keep = os.environ.get("PIXCAL_TEST_ARTIFACTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(keep) / shots[name])


# ------------------------------------------------------------------------------ CLI
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pixcal", *args], capture_output=True,
                          text=True, timeout=300)


def test_grade_cli_stores_grade_and_shows_site_cuts(tmp_path):
    run = make_run(tmp_path / "run.h5", plant=lambda m: m["alive"]["alive"][3, :50, 0].fill(0))
    site = tmp_path / "site.toml"
    site.write_text("[roc]\npixel_defects = [60, 167]\n")
    done = _cli("grade", str(run), "--cuts", str(site))
    assert done.returncode == 0, done.stderr
    assert "roc.pixel_defects: [42, 167] -> [60, 167]" in done.stdout
    assert f"{run}: grade A" in done.stdout
    done = _cli("grade", str(run), "--json")
    result = json.loads(done.stdout)
    assert result["final"]["grade"] == "B"
    assert result["runs"][0]["reasons"][0]["text"] == "ROC 3: pixel defects 50 >= 42 -> B"
    stored = RunFile(run).document("grade")
    assert stored["grade"] == "B" and stored["rocs"][3]["classes"]["dead"] == 50
    running = make_run(tmp_path / "running.h5", steps=("alive",), run_status="running")
    done = _cli("grade", str(running))
    assert done.returncode == 0 and "grade not stored" in done.stderr
    assert RunFile(running).document("grade") is None


@pytest.mark.parametrize(("content", "message"), [
    ("[roc]\npixel_defect = [1, 2]\n", "roc.pixel_defect: unknown grading cut"),
    ("[roc]\npixel_defects = [200, 100]\n", "expected the B cut at or below the C cut"),
    ("[iv\n", "not valid TOML"),
])
def test_bad_cuts_file_is_one_line(tmp_path, content, message):
    run = make_run(tmp_path / "run.h5", steps=("alive",))
    site = tmp_path / "site.toml"
    site.write_text(content)
    done = _cli("grade", str(run), "--cuts", str(site))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr
    assert str(site) in done.stderr


def test_not_a_run_file_and_bad_output_folder(tmp_path):
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"not hdf5")
    for args in (("grade", str(bogus)), ("report", str(bogus), "-o", str(tmp_path / "r"))):
        done = _cli(*args)
        assert done.returncode == 2 and done.stderr.startswith(f"error: {bogus}")
        assert done.stderr.count("\n") == 1
    assert not (tmp_path / "r").exists()
    run = make_run(tmp_path / "run.h5", steps=("alive",))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("keep me")
    done = _cli("report", str(run), "-o", str(busy))
    assert done.returncode == 2 and "not a pixcal report folder" in done.stderr
    assert (busy / "thesis.tex").read_text() == "keep me"
    assert np.all([p.name == "thesis.tex" for p in busy.iterdir()])


def test_show_prints_the_grade_and_draws_maps_in_the_terminal(tmp_path, capsys):
    run = make_run(tmp_path / "run.h5", plant=_plant)
    code, out, err = run_cli(capsys, "show", run, "--maps")
    assert code == 0, err
    assert "grade                C  (electrical C, IV not graded; default cuts, not stored)" in out
    assert "    ROC 3: pixel defects 50 >= 42 -> B" in out
    block = out[out.index("pixel defects (count per block)"):].splitlines()
    assert "5 x 5 pixels per character" in block[0]
    rows = block[2:18]                       # 160 pixel rows / 5 per block / 2 blocks a line
    assert all(len(r) == 2 + 84 for r in rows) and rows[-1][2:][31:42].strip(" ") != ""
    assert set(rows[-1][2:][:31] + rows[-1][2:][42:]) == {" "}   # only ROC 3's row 0 is bad
    for title in ("threshold (Vcal)", "noise (electrons)", "gain (ADC per Vcal)",
                  "pedestal (ADC)"):
        assert f"  {title}: " in out
    run_cli(capsys, "grade", run)
    code, out, _ = run_cli(capsys, "show", run, "--json")
    assert json.loads(out)["grade"]["source"] == "stored by pixcal grade"
    iv_only = make_run(tmp_path / "iv.h5", steps=("pretest",))
    code, out, _ = run_cli(capsys, "show", iv_only, "--maps")
    assert "nothing to grade" in out and "maps: none" in out


def test_a_run_copied_without_its_data_folder_says_so_per_plot(reports, tmp_path):
    lone = tmp_path / "lone.h5"
    shutil.copy(reports["readout"].parent.parent / "readout.h5", lone)
    html = build_report(lone, tmp_path / "report", default_cuts()).read_text()
    for title in ("TBM phase grid", "POH RSSI curves", "WBC × CalDel scan"):
        assert re.search(f"<b>{title}</b><br>not available: step [^:]+: its data file "
                         r"\S+lone.h5.d/\S+ is missing", html), title
