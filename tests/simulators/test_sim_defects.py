"""Defects: specification parsing, drawing (rates, explicit lists, disjointness) and their effect
on the response, judged against the ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.address import SimAddressError, build_module
from simulators.physics import DacView, DefectSpec, DefectSpecError, SimModule
from simulators.physics.chip import default_dac_registers
from simulators.physics.defect_spec import load_defect_spec, parse_defect_text
from simulators.physics.truth import DEFECT_KEYS

ALL = np.ogrid[:16, :52, :80]
RATES = DefectSpec(dead_pixels=0.002, unmaskable_pixels=0.001, address_faults=0.001,
                   missing_bumps=0.004, noisy_pixels=0.001, dead_trim_bits=0.002,
                   unprogrammable_rocs=1, dead_double_columns=2)


def masks(m: SimModule) -> dict[str, np.ndarray]:
    return m.truth.defects.kinds


def test_defects_dict_has_exactly_the_documented_keys():
    d = build_module("sim://module?seed=1").truth.defects_dict()
    assert tuple(d) == DEFECT_KEYS
    assert all(isinstance(v, list) for v in d.values())


def test_rates_give_binomial_counts_and_disjoint_sets():
    counts = {k: [] for k in ("dead_pixels", "missing_bumps", "dead_trim_bits")}
    for seed in range(6):
        m = SimModule(seed, defects=RATES)
        t = m.truth
        stack = np.stack(list(masks(m).values()))
        assert stack.sum(axis=0).max() <= 1  # every pixel has at most one pixel defect
        assert len(t.unprogrammable_rocs) == 1 and len(t.dead_double_columns) == 2
        roc = t.unprogrammable_rocs[0]
        assert not stack[:, roc].any()
        for r, dc in t.dead_double_columns:
            assert r != roc and not stack[:, r, 2 * dc:2 * dc + 2].any()
        for k in counts:
            counts[k].append(stack[list(masks(m)).index(k)].sum())
    eligible = 66560 - 4160 - 2 * 160
    for k, rate in (("dead_pixels", 0.002), ("missing_bumps", 0.004),
                    ("dead_trim_bits", 0.002)):
        mean = np.mean(counts[k])
        sd = np.sqrt(eligible * rate / 6)
        assert abs(mean - eligible * rate) < 4 * sd, (k, mean)


def test_explicit_lists_are_exact():
    spec = DefectSpec(dead_pixels=((0, 1, 2),), unmaskable_pixels=((1, 3, 4),),
                      address_faults=((2, 5, 6),), missing_bumps=((3, 7, 8), (3, 7, 9)),
                      noisy_pixels=((4, 9, 10),), dead_trim_bits=((5, 11, 12, 2),),
                      unprogrammable_rocs=(15,), dead_double_columns=((6, 25),))
    t = SimModule(3, defects=spec).truth
    assert t.defects_dict() == {
        "dead_pixels": [[0, 1, 2]], "unmaskable_pixels": [[1, 3, 4]],
        "address_faults": [[2, 5, 6]], "missing_bumps": [[3, 7, 8], [3, 7, 9]],
        "noisy_pixels": [[4, 9, 10]], "dead_trim_bits": [[5, 11, 12, 2]],
        "unprogrammable_rocs": [15], "dead_double_columns": [[6, 25]],
    }
    (r, c, w, c2, w2), = t.address_fault_reports()
    assert (r, c, w) == (2, 5, 6) and c2 == 5 and w2 != 6 and 0 <= w2 < 80


def test_effects_on_the_response():
    spec = DefectSpec(dead_pixels=((0, 1, 2),), unmaskable_pixels=((1, 3, 4),),
                      address_faults=((2, 5, 6),), missing_bumps=((3, 7, 8),),
                      noisy_pixels=((4, 9, 10),), unprogrammable_rocs=(15,),
                      dead_double_columns=((6, 25),))
    m = SimModule(3, defects=spec)
    dacs = default_dac_registers(16, m.roc_type.name)
    roc, col, row = ALL
    view = DacView(dacs, roc)
    p = m.response(roc, col, row, view, 15, False).prob
    silent = m.truth.unresponsive_pixels()
    assert np.array_equal(m.truth.silent_pixels(), silent | masks(m)["address_faults"])
    assert np.all(p[silent] == 0) and np.all(p[~silent] > 0.999)
    with_cals = m.truth.unresponsive_pixels(cals=True)
    assert np.array_equal(with_cals, silent | masks(m)["missing_bumps"])
    assert p[0, 1, 2] == 0 and p[15].max() == 0 and p[6, 50:52].max() == 0
    masked = m.response(roc, col, row, view, 15, True).prob
    assert masked[1, 3, 4] > 0.999 and np.count_nonzero(masked) == 1  # only the unmaskable
    cals = m.response(roc, col, row, view, 15, False, cals=True)
    r = m.response(roc, col, row, view, 15, False)
    assert cals.prob[3, 7, 8] == 0 and r.prob[3, 7, 8] > 0.999
    assert (r.col_out[2, 5, 6], r.row_out[2, 5, 6]) != (5, 6)
    assert (r.col_out != ALL[1]).sum() + (r.row_out != ALL[2]).sum() == 1
    assert not m.programmable()[15] and m.programmable()[:15].all()


def test_dead_trim_bit_removes_that_bits_correction():
    m = SimModule(4, defects=DefectSpec(dead_trim_bits=((0, 10, 10, 3),)))
    dacs = default_dac_registers(16, m.roc_type.name)
    dacs[:, 11] = 120
    t = m.truth
    thr7 = t.threshold_vcal(dacs, np.full((16, 52, 80), 7))  # bit 3 cleared
    thr15 = t.threshold_vcal(dacs, np.full((16, 52, 80), 15))
    assert thr7[0, 10, 10] == pytest.approx(thr15[0, 10, 10])
    assert (thr15 - thr7)[0, 10, 11] > 10


def test_noisy_pixels_fire_without_injection():
    m = SimModule(5, defects=DefectSpec(noisy_pixels=((0, 20, 30),)))
    dacs = default_dac_registers(16, m.roc_type.name)
    unmasked = np.ones((16, 52, 80), bool)
    hits = m.noise_hits(unmasked, dacs, 4000, np.random.default_rng(1))
    assert set(zip(hits["roc"], hits["col"], hits["row"], strict=True)) == {(0, 20, 30)}
    rate = m.truth.noisy_rates[0, 20, 30]
    assert abs(len(hits) - 4000 * rate) < 5 * np.sqrt(4000 * rate) + 1
    assert len(np.unique(hits["trig"])) == len(hits)
    unmasked[0, 20, 30] = False
    assert len(m.noise_hits(unmasked, dacs, 4000, np.random.default_rng(1))) == 0


def test_overlapping_or_outside_lists_are_refused():
    with pytest.raises(DefectSpecError, match=r"\[0, 1, 2\] is listed in both dead_pixels and"):
        SimModule(0, defects=DefectSpec(dead_pixels=((0, 1, 2),), noisy_pixels=((0, 1, 2),)))
    with pytest.raises(DefectSpecError, match="outside the module"):
        SimModule(0, tbm_type_name=None, defects=DefectSpec(dead_pixels=((1, 1, 2),)))
    with pytest.raises(DefectSpecError, match="dead double column"):
        SimModule(0, defects=DefectSpec(dead_pixels=((0, 1, 2),),
                                        dead_double_columns=((0, 0),)))


def test_toml_spec_errors_name_file_line_and_key(tmp_path):
    good = tmp_path / "d.toml"
    good.write_text("dead_pixels = [[0, 3, 4]]\nmissing_bumps = 0.01\nroc_seu_rate = 1e-6\n")
    spec = load_defect_spec(str(good))
    assert spec.dead_pixels == ((0, 3, 4),) and spec.missing_bumps == 0.01
    assert spec.roc_seu_rate == 1e-6
    cases = {
        "dead_pixels = 0.5\nnoisy_pixels = 2\n":
            r"d\.toml:2: noisy_pixels: 2 is out of range 0\.0\.\.1\.0",
        "\n\ncolour = 1\n": r"d\.toml:3: unknown key 'colour'",
        "dead_pixels = [[0, 1]]\n": r"d\.toml:1: dead_pixels\[0\]: expected a list of 3",
        "dead_pixels = [[0, 1, 2]\n": r"d\.toml:1: not valid TOML",
        "unprogrammable_rocs = 0.5\n": r"d\.toml:1: unprogrammable_rocs: expected a count",
    }
    for text, pattern in cases.items():
        with pytest.raises(DefectSpecError, match=pattern):
            parse_defect_text(text, str(tmp_path / "d.toml"))


def test_defect_file_through_the_url(tmp_path):
    path = tmp_path / "defects.toml"
    path.write_text("dead_pixels = [[2, 3, 4]]\nunprogrammable_rocs = [7]\n")
    t = build_module(f"sim://module?seed=2&defects={path}").truth
    assert t.dead_pixels == [[2, 3, 4]] and t.unprogrammable_rocs == [7]
    assert t.missing_bumps == []
    path.write_text("dead_pixels = [[20, 3, 4]]\n")
    with pytest.raises(SimAddressError, match=r"defects:.*\[20, 3, 4\] is outside the module"):
        build_module(f"sim://module?seed=2&defects={path}")


def test_typical_preset_is_close_to_the_real_module():
    n = [len(build_module(f"sim://module?seed={s}").truth.missing_bumps) for s in range(4)]
    assert 10 < np.mean(n) < 50  # real P-A-3-15: 28 dead bumps
    assert build_module("sim://module?seed=1&defects=none").truth.defects_dict() == {
        k: [] for k in DEFECT_KEYS}
