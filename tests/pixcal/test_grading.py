"""Grading: each cut just below and just above, on maps (pure functions) and on run files."""

from __future__ import annotations

import numpy as np
import pytest
from review_runs import good_maps, iv_curve, make_run

from pixcal.analysis import grading as g
from pixcal.analysis.grading_cuts import default_cuts

CUTS = default_cuts()


def _grade(maps: dict, n_rocs: int = 16, proc600=None) -> list[g.RocGrade]:
    kw = {
        "alive": maps["alive"]["alive"], "ntrig": 10, "mask": maps["alive"]["mask"],
        "address": maps["alive"]["address"], "bump": maps["bumpbond"]["bb_defect"],
        "threshold": maps["scurves"]["threshold"], "trim_target": 35,
        "dead_trim_bits": maps["trimbits"]["dead_trim_bits"],
        "noise_vcal": maps["scurves"]["noise"], "gain": maps["gainped"]["gain"],
        "pedestal": maps["gainped"]["pedestal"],
    }
    defects = g.pixel_defects(CUTS, proc600=proc600, **kw)
    figures = g.roc_figures(50.0, noise_vcal=kw["noise_vcal"], threshold=kw["threshold"],
                            gain=kw["gain"], pedestal=kw["pedestal"])
    return g.grade_rocs(CUTS, defects, figures, n_rocs, proc600)


def _pixels(n: int, roc: int = 3):
    """Index of the first n pixels of a ROC (column-major)."""
    flat = np.arange(n)
    return roc, flat // 80, flat % 80


# one planting function per defect class: (maps, n pixels of ROC 3) -> None
PLANT = {
    "dead": lambda m, n: m["alive"]["alive"].__setitem__(_pixels(n), 0),
    "noisy": lambda m, n: m["alive"]["alive"].__setitem__(_pixels(n), 11),
    "mask": lambda m, n: m["alive"]["mask"].__setitem__(_pixels(n), -1),
    "address": lambda m, n: m["alive"]["address"].__setitem__(_pixels(n), -1),
    "bump": lambda m, n: m["bumpbond"]["bb_defect"].__setitem__(_pixels(n), 1),
    "trim": lambda m, n: m["scurves"]["threshold"].__setitem__(_pixels(n), 45.5),
    "trim_bit": lambda m, n: m["trimbits"]["dead_trim_bits"][..., 2].__setitem__(_pixels(n),
                                                                                   True),
    "noise": lambda m, n: m["scurves"]["noise"].__setitem__(_pixels(n), 8.1),  # 405 e-
    "gain": lambda m, n: m["gainped"]["gain"].__setitem__(_pixels(n), 0.19),  # 5.3 Vcal/ADC
    "pedestal": lambda m, n: m["gainped"]["pedestal"].__setitem__(_pixels(n), 80.0),
}


@pytest.mark.parametrize("cls", sorted(PLANT))
@pytest.mark.parametrize(("n", "grade"), [(41, 1), (42, 2), (166, 2), (167, 3)])
def test_each_defect_class_against_42_and_167(cls, n, grade):
    maps = good_maps()
    PLANT[cls](maps, n)
    rocs = _grade(maps)
    assert rocs[3].classes[cls] == n and rocs[3].defects == n
    assert rocs[3].grade == grade
    assert all(r.grade == 1 for r in rocs if r.roc != 3)
    if grade > 1:
        (reason,) = [r for r in rocs[3].reasons if r.quantity == "pixel defects"]
        assert reason.value == n and reason.cut == (">= 42" if grade == 2 else ">= 167")
        assert reason.text() == f"ROC 3: pixel defects {n} {reason.cut} -> {'ABC'[grade - 1]}"


def test_union_counts_each_pixel_once_and_dead_only_as_dead():
    maps = good_maps()
    for cls in ("mask", "address", "bump", "trim_bit"):
        PLANT[cls](maps, 30)  # the same 30 pixels, four classes
    rocs = _grade(maps)
    assert rocs[3].defects == 30 and rocs[3].grade == 1
    PLANT["dead"](maps, 30)  # now dead: they leave every other class
    rocs = _grade(maps)
    assert rocs[3].classes["dead"] == 30 and rocs[3].classes["mask"] == 0
    assert rocs[3].defects == 30


def test_lsb_trim_bit_is_not_judged_and_edges_of_pixel_cuts():
    maps = good_maps()
    maps["trimbits"]["dead_trim_bits"][3, 0, :50, 0] = True  # the least significant bit
    maps["scurves"]["threshold"][3, 1, :5] = 45.0  # exactly 10 Vcal off: still fine
    maps["scurves"]["threshold"][3, 2, :5] = np.nan  # no threshold at all: a trim defect
    maps["scurves"]["noise"][3, 3, :5] = 8.0  # exactly 400 e-: fine
    maps["gainped"]["gain"][3, 4, :5] = 0.2  # exactly 5 Vcal/ADC: fine
    rocs = _grade(maps)
    assert rocs[3].classes["trim_bit"] == 0 and rocs[3].classes["noise"] == 0
    assert rocs[3].classes["trim"] == 5 and rocs[3].classes["gain"] == 0


def test_proc600_gain_range():
    maps = good_maps()
    PLANT["gain"](maps, 50)
    assert _grade(maps)[3].grade == 2
    assert _grade(maps, proc600=np.ones(16, bool))[3].grade == 1


@pytest.mark.parametrize(("key", "label", "plant", "below", "above", "cuts"), [
    ("noise_mean_e", "mean noise (e-)",
     lambda m, v: m["scurves"]["noise"].__setitem__(3, v / 50), 199.0, 201.0, (200, 300)),
    ("noise_mean_e", "mean noise (e-)",
     lambda m, v: m["scurves"]["noise"].__setitem__(3, v / 50), 299.0, 301.0, (200, 300)),
])
def test_mean_noise_cuts(key, label, plant, below, above, cuts):
    for value, expect in ((below, 2 if below > cuts[0] else 1), (above, 3 if above > cuts[1]
                                                                   else 2)):
        maps = good_maps()
        plant(maps, value)
        roc = _grade(maps)[3]
        assert roc.figures[key] == pytest.approx(value, rel=1e-5)
        assert roc.grade == expect, (value, roc.reasons)
        if expect > 1:
            assert roc.reasons[-1].quantity == label


def _spread(arr: np.ndarray, mean: float, sigma: float) -> None:
    """Set arr (one ROC) to values with exactly this mean and population σ."""
    z = np.random.default_rng(0).normal(size=arr.shape)
    z = (z - z.mean()) / z.std()
    arr[...] = mean + sigma * z


@pytest.mark.parametrize(("cut", "grade"), [(200, 2), (400, 3)])
def test_threshold_width_cuts(cut, grade):
    for sigma_e, expect in ((cut - 2, grade - 1), (cut + 2, grade)):
        maps = good_maps()
        _spread(maps["scurves"]["threshold"][3], 35.0, sigma_e / 50)
        roc = _grade(maps)[3]
        assert roc.figures["threshold_width_e"] == pytest.approx(sigma_e, rel=1e-4)
        widths = [r for r in roc.reasons if r.quantity == "threshold width (e-)"]
        assert max((r.grade for r in widths), default=1) == expect


@pytest.mark.parametrize(("cut", "grade"), [(0.10, 2), (0.20, 3)])
def test_relative_gain_width_cuts(cut, grade):
    for rel, expect in ((cut - 0.005, grade - 1), (cut + 0.005, grade)):
        maps = good_maps()
        _spread(maps["gainped"]["gain"][3], 0.5, 0.5 * rel)
        maps["gainped"]["pedestal"][3] = 15.0 * maps["gainped"]["gain"][3]  # no ped spread
        roc = _grade(maps)[3]
        assert roc.figures["gain_rel_width"] == pytest.approx(rel, rel=1e-4)
        found = [r for r in roc.reasons if r.quantity == "relative gain width"]
        assert max((r.grade for r in found), default=1) == expect


@pytest.mark.parametrize(("cut", "grade"), [(2500, 2), (5000, 3)])
def test_pedestal_spread_cuts_not_for_proc600(cut, grade):
    for spread_e, expect in ((cut - 20, grade - 1), (cut + 20, grade)):
        maps = good_maps()
        maps["gainped"]["gain"][3] = 0.5
        _spread(maps["gainped"]["pedestal"][3], 30.0, spread_e / 50 * 0.5)
        roc = _grade(maps)[3]
        assert roc.figures["pedestal_spread_e"] == pytest.approx(spread_e, rel=1e-4)
        found = [r for r in roc.reasons if r.quantity == "pedestal spread (e-)"]
        assert max((r.grade for r in found), default=1) == expect
        roc600 = _grade(maps, proc600=np.ones(16, bool))[3]
        assert not [r for r in roc600.reasons if r.quantity == "pedestal spread (e-)"]


@pytest.mark.parametrize(("i150", "grade"), [(1.99, 1), (2.01, 2), (9.99, 2), (10.01, 3)])
def test_iv_current_cuts(i150, grade):
    curve = iv_curve(i150)
    fig = g.iv_currents(curve["voltage_v"], curve["current_a"])
    assert fig["i150_ua"] == pytest.approx(i150, rel=1e-9)
    assert g.worst([r.grade for r in g.grade_iv(CUTS, fig, 17.0)]) == grade


@pytest.mark.parametrize(("slope", "temp", "grade"),
                         [(1.99, 17.0, 1), (2.01, 17.0, 2), (2.01, -20.0, 1)])
def test_iv_slope_cut_only_when_warm(slope, temp, grade):
    curve = iv_curve(1.0, slope)
    fig = g.iv_currents(curve["voltage_v"], curve["current_a"])
    assert fig["slope"] == pytest.approx(slope, rel=1e-9)
    assert g.worst([r.grade for r in g.grade_iv(CUTS, fig, temp)]) == grade


def test_iv_ratio_and_unreached_voltage():
    assert g.grade_iv_ratio(CUTS, 1.0, 1.0 / 20.5) == []
    (reason,) = g.grade_iv_ratio(CUTS, 1.0, 1.0 / 19.5)
    assert reason.grade == 2 and reason.cut == "< 20"
    fig = g.iv_currents(-np.arange(0, 125, 5.0), -np.full(25, 1e-6))  # tripped at 120 V
    (reason,) = g.grade_iv(CUTS, fig, 17.0)
    assert reason.grade == 3 and "I(150 V)" in reason.quantity


def test_current_scaling_to_17c():
    # leakage roughly doubles every 7 K: -20 C -> +17 C is a factor of about 40
    assert 30 < g.scale_current(1.0, -20.0, 17.0) < 60
    assert g.scale_current(g.scale_current(1.0, -20.0, 17.0), 17.0, -20.0) == pytest.approx(1.0)


# ---------------------------------------------------------------------------- run files
def test_good_run_is_a(tmp_path):
    from pixcal.review.grade import grade_run

    result = grade_run(make_run(tmp_path / "good.h5"), CUTS)
    assert (result.grade, result.electrical, result.iv, result.reasons) == (1, 1, None, [])
    assert len(result.rocs) == 16


def test_special_c_conditions(tmp_path):
    from pixcal.review.grade import grade_run

    path = make_run(tmp_path / "c.h5", steps=("pretest", "alive", "bumpbond", "trim",
                                              "scurves", "phopt", "gainped"),
                    status={"gainped": "failed"},
                    summaries={"pretest": {"unprogrammable_rocs": [5]}}, n_rocs=15)
    result = grade_run(path, CUTS)
    texts = [r.text() for r in result.reasons]
    assert result.grade == 3
    assert "run: required step trimbits missing must be run -> C" in texts
    assert "run: step 006_gainped failed must be completed -> C" in texts
    assert "ROC 5: programmable no must be -> C" in texts
    assert "module: ROCs 15 < 16 -> C" in texts


def test_iv_runs_and_final_grade(tmp_path):
    from pixcal.review.grade import final_grade, grade_run

    warm = make_run(tmp_path / "warm.h5", iv={**iv_curve(2.5), "temperature_c": 17.0})
    cold = make_run(tmp_path / "cold.h5", steps=(),
                    iv={**iv_curve(2.5 / 10), "temperature_c": -20.0})
    runs = [grade_run(warm, CUTS), grade_run(cold, CUTS)]
    assert (runs[0].grade, runs[0].electrical, runs[0].iv) == (2, 1, 2)
    assert (runs[1].grade, runs[1].electrical, runs[1].iv) == (1, None, 1)
    final = final_grade(runs, CUTS)
    assert final["grade"] == "B" and final["iv_ratio"] == pytest.approx(10.0)
    assert [r["text"] for r in final["reasons"]] == [
        "IV 008_iv: I(150 V) (uA) 2.5 > 2 -> B", "IV: I(17 C)/I(-20 C) at 150 V 10 < 20 -> B"]


def test_bare_roc_is_not_a_short_module(tmp_path):
    from pixcal.review.grade import grade_run

    def one_roc(maps):
        for datasets in maps.values():
            for name, value in datasets.items():
                if value.ndim >= 1 and value.shape[0] == 16:
                    datasets[name] = value[:1]

    path = make_run(tmp_path / "roc.h5", plant=one_roc, n_rocs=1, tbm_type=None)
    result = grade_run(path, CUTS)
    assert (result.grade, result.reasons, len(result.rocs)) == (1, [], 1)
