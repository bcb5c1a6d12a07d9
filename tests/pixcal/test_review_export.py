"""pXar export of a run: parameters re-import to config_out; data files in pXar's layout."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from review_runs import make_run

from pixcal.config.load import load_config
from pixcal.review.pxar_export import DUMMY_BMIN, scurve_lines
from pixcal.runner import load_module_config


def test_export_reimports_to_config_out(tmp_path):
    run = make_run(tmp_path / "run.h5")
    target = tmp_path / "pxar"
    done = subprocess.run([sys.executable, "-m", "pixcal", "export", str(run), "--pxar",
                           str(target)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    original, again = load_module_config(run), load_config(target)
    np.testing.assert_array_equal(again.trims, original.trims)
    np.testing.assert_array_equal(again.masks, original.masks)
    assert again.dacs == original.dacs and again.n_rocs == 16
    names = {p.name for p in target.iterdir()}
    for roc in (0, 15):
        assert {f"SCurveData_C{roc}.dat", f"phCalibration_C{roc}.dat",
                f"phCalibrationFitErr_C{roc}.dat"} <= names
    ph = (target / "phCalibration_C0.dat").read_text().splitlines()
    assert ph[:4] == ["Pulse heights for the following Vcal values:", "Low range:  50 150 250 ",
                      "High range:  10 30 ", ""]
    assert ph[4] == "  60  60  60 200 200    Pix  0  0" and len(ph) == 4 + 4160
    assert ph[-1].endswith("Pix 51 79")
    fit = (target / "phCalibrationFitErr_C3.dat").read_text().splitlines()
    assert fit[1] == "par[3]*(TMath::Erf((x[0]-par[0])/par[1])+par[2])"
    assert fit[3] == "3.650000e+02 4.400000e+02 9.500000e-01 1.300000e+02     Pix  0  0"
    # a second export into the now non-empty folder is refused, nothing changed
    again = subprocess.run([sys.executable, "-m", "pixcal", "export", str(run), "--pxar",
                            str(target)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "not an empty directory" in again.stderr


def test_scurve_lines_window_fill_and_dummy():
    vcal = np.arange(25, 46)
    thr = np.array([[35.2, 35.0, np.nan, 44.0]])
    curves = np.array([[
        np.clip((vcal - 33) * 10, 0, 50),      # 0 .. 50 inside the range
        np.clip((vcal - 24) * 10, 0, 50),      # already 10 at the first point
        np.zeros(vcal.size),                   # no threshold
        np.clip((vcal - 40) * 10, 0, 50),      # window beyond the end, curve ends at 50
    ]])
    lines = scurve_lines(curves, vcal, thr, 50).splitlines()
    assert lines[0] == "Mode 1 Ntrig 50"
    first = [int(v) for v in lines[1].split()]
    assert first[:2] == [32, 20] and len(first) == 34
    values = np.array(first[2:])
    assert (values[:13] == 0).all() and values[13] == 0 and values[14] == 10
    assert (values[-5:] == 50).all()
    dummy = "32" + "".join(f"{v:4d}" for v in [DUMMY_BMIN] + [0] * 32)
    assert lines[2] == dummy and lines[3] == dummy  # start not at 0; no threshold
    last = [int(v) for v in lines[4].split()]
    assert last[1] == 29 and last[-1] == 50
