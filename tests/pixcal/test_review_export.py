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


def test_root_export_reads_back_with_uproot_as_the_same_maps(tmp_path):
    import uproot

    from pixcal.review.root_export import ROOT_MAPS, histogram_name
    from pixcal.store import RunFile

    run = make_run(tmp_path / "run.h5")
    out = tmp_path / "run.root"
    done = subprocess.run([sys.executable, "-m", "pixcal", "export", str(run), "--root",
                           str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rf = RunFile(run)
    compared = 0
    with uproot.open(out) as f:
        for step in rf.steps():
            for dataset in step.datasets:
                where = ROOT_MAPS.get((step.procedure, dataset))
                if where is None:
                    continue
                maps = rf.dataset(step.key, dataset)
                for roc in range(maps.shape[0]):
                    hist = f[histogram_name(*where, roc)]
                    assert hist.classname == "TH2D"
                    values = hist.values()
                    assert values.shape == (52, 80)  # x = column, y = row
                    np.testing.assert_array_equal(values, np.nan_to_num(maps[roc], nan=0.0))
                    compared += 1
    assert compared >= 16 * 4  # alive, mask, address, trims, thresholds, ...


def test_export_needs_a_target(tmp_path):
    run = make_run(tmp_path / "run.h5")
    done = subprocess.run([sys.executable, "-m", "pixcal", "export", str(run)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "--pxar" in done.stderr and "--root" in done.stderr


def test_pxar_export_of_a_run_is_byte_identical_to_the_real_module_files(tmp_path):
    """A run started from the real FPIX module's pXar files that changes no setting exports
    the very same parameter files."""
    from pathlib import Path

    fpix = Path(__file__).parents[1] / "data" / "pxar" / "fpix-module-P-A-3-15"
    plan = tmp_path / "alive.toml"
    plan.write_text('name = "alive"\n[[steps]]\nprocedure = "alive"\nntrig = 2\n'
                    'mask_test = false\n')
    done = subprocess.run([sys.executable, "-m", "pixcal", "run", str(plan), "--target",
                           "sim://module?seed=3&defects=none", "--config", str(fpix),
                           "--module-id", "P-A-3-15", "--out", str(tmp_path / "runs")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "runs").glob("*.h5")
    out = tmp_path / "pxar"
    done = subprocess.run([sys.executable, "-m", "pixcal", "export", str(run), "--pxar",
                           str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    compared = []
    for name in sorted(p.name for p in out.iterdir()):
        if (fpix / name).exists() and name.startswith(("dacParameters", "trimParameters",
                                                        "tbmParameters")):
            assert (out / name).read_bytes() == (fpix / name).read_bytes(), name
            compared.append(name)
    assert len(compared) >= 2 * 16 + 2, compared
