"""Station files and qualification plans: validation before anything powers up, the limits
check, the schedule estimate, and the CLI's one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from clirun import run_cli

from pixcal.errors import InputFileError, UserError
from pixcal.plan import load_plan, shipped_plans
from pixcal.qualify import preflight
from pixcal.qualify.qplan import load_qualification_plan, temperature_tag
from pixcal.qualify.schedule import BOX_RAMP_C_PER_MIN, build_schedule, iv_seconds
from pixcal.qualify.station import load_station

DATA = Path(__file__).parents[1] / "data" / "qualify"
STATION = """\
name = "box"
speedup = 10

[keithley]
address = "sim://roc?seed=1"

[coolingbox]
address = "sim://coolingbox"

[[boards]]
name = "TB0"
address = "sim://roc?seed=1"
module = "M1"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_station_loads_with_defaults(tmp_path):
    st = load_station(write(tmp_path, "st.toml", STATION))
    assert st.name == "box" and st.speedup == 10 and st.keithley == "sim://roc?seed=1"
    assert st.limits.max_bias_v == 600 and st.limits.compliance_a == pytest.approx(100e-6)
    assert st.output == Path("qualification-runs")
    assert [b.module for b in st.boards] == ["M1"]


@pytest.mark.parametrize("change, line, words", [
    (("speedup = 10", "speedup = 0.5"), 2, "speedup"),
    (("speedup = 10", "sped = 3"), 2, "unknown station key"),
    (('address = "sim://coolingbox"', 'adress = "x"'), 8, "coolingbox.adress: unknown key"),
    (('module = "M1"', 'module = "M 1"'), 13, "boards[1].module"),
    (('name = "TB0"', 'name = "TB0"\nconfig = "nope.toml"'), 12, "config"),
    (("[[boards]]", "[limits]\nmax_bias_v = \"600\"\n\n[[boards]]"), 11,
     "limits.max_bias_v"),
    (("[[boards]]", "[limits]\nbox_min_c = 50\nbox_max_c = 40\n\n[[boards]]"), 10,
     "box_min_c"),
])
def test_station_errors_name_file_line_and_field(tmp_path, change, line, words):
    path = write(tmp_path, "st.toml", STATION.replace(*change))
    with pytest.raises(InputFileError) as err:
        load_station(path)
    assert words in str(err.value)
    assert str(err.value).startswith(f"{path}:{line}:")


def test_station_refuses_five_boards_and_duplicates(tmp_path):
    board = '\n[[boards]]\nname = "TB{i}"\naddress = "sim://roc?seed={i}"\nmodule = "M{i}"\n'
    five = STATION.split("[[boards]]")[0] + "".join(board.format(i=i) for i in range(5))
    with pytest.raises(InputFileError, match="at most 4 modules"):
        load_station(write(tmp_path, "five.toml", five))
    dup = STATION + board.format(i=2).replace('"M2"', '"M1"')
    with pytest.raises(InputFileError, match=r"boards\[2\]\.module: 'M1' is already used"):
        load_station(write(tmp_path, "dup.toml", dup))


def test_shipped_qualification_plan_is_elcomandantes_sequence():
    qp = load_qualification_plan("testplans/qualification.toml")
    assert [s.label for s in qp.stages] == [
        "fulltest@m20", "cycles10", "fulltest@m20-3", "iv@m20", "fulltest@p17", "iv@p17"]
    cycles = qp.stages[1]
    assert cycles.set_points == [-25, 17] * 10
    assert qp.box.tolerance_c == 0.5 and qp.box.hold_s == 120
    assert qp.stages[3].plan.steps[0].params.stop_v == -600
    # a qualification plan is not a run plan, and the shipped run plans leave it out
    assert "qualification" not in [p.stem for p in shipped_plans()]
    with pytest.raises(InputFileError, match="pixcal qualify STATION PLAN"):
        load_plan("testplans/qualification.toml")
    with pytest.raises(InputFileError, match="it has \\[\\[steps\\]\\]"):
        load_qualification_plan("testplans/pretest.toml")


@pytest.mark.parametrize("text, line, words", [
    ('[[stages]]\nkind = "bake"\n', 2, "kind: must be one of"),
    ('[[stages]]\nkind = "test"\nplan = "nosuchplan"\n', 3, "stages[1].plan"),
    ('[[stages]]\nkind = "cycles"\ncount = 2\nlow_c = 17\nhigh_c = -25\n', 1, "low_c"),
    ('[[stages]]\nkind = "pause"\nseconds = -1\n', 3, "stages[1].seconds"),
    ('[box]\nhold_s = "2 min"\n', 2, "box.hold_s"),
    ('name = "x"\n', None, "at least one [[stages]]"),
])
def test_qualification_plan_errors(tmp_path, text, line, words):
    path = write(tmp_path, "q.toml", text)
    with pytest.raises(InputFileError) as err:
        load_qualification_plan(path)
    assert words in str(err.value)
    if line is not None:
        assert str(err.value).startswith(f"{path}:{line}:")


def test_limits_are_checked_against_every_run_plan(tmp_path):
    shutil.copy(DATA / "iv-short.toml", tmp_path / "iv.toml")
    st = load_station(write(tmp_path, "st.toml", STATION + "\n[limits]\nmax_bias_v = 50\n"
                            "compliance_a = 10e-6\nbox_min_c = -22\n"))
    qp = load_qualification_plan(write(tmp_path, "q.toml", """\
[[stages]]
kind = "iv"
plan = "iv.toml"
temperature_c = -25
"""))
    problems = preflight.plan_problems(st, qp)
    assert any("set-point -25 C is outside" in p for p in problems)
    assert any("stop_v = -100 V is beyond the station's max_bias_v 50 V" in p for p in problems)
    assert any("compliance_ua = 100 is above the station's compliance_a" in p for p in problems)
    with pytest.raises(UserError, match=r"^pre-flight: .* more"):
        preflight.check(problems)
    bare = load_station(write(tmp_path, "bare.toml", STATION.split("[keithley]")[0]
                              + STATION.split('"sim://coolingbox"')[1]))
    problems = preflight.plan_problems(bare, qp)
    assert any("needs the cooling box" in p for p in problems)
    assert any("needs the Keithley" in p for p in problems)


def test_schedule_estimate_from_the_box_and_iv_models():
    st = load_station(DATA / "station-sim.toml")
    qp = load_qualification_plan(DATA / "quick.toml")
    entries = build_schedule(st, qp, lambda stage, board: 60.0)
    by = {e.label: e for e in entries}
    # 20 C -> -20 C at the model's rate plus the 120 s hold
    assert by["short@m20"].box_s == pytest.approx(40 / BOX_RAMP_C_PER_MIN * 60 + 120, abs=0.1)
    assert by["short@m20"].run_s == 60.0
    # IV: 5 points of (1 s settle + 3 x 1 PLC) plus the ramp back at 20 V/s, per module
    assert iv_seconds(qp.stages[1].plan) == pytest.approx(5 * (1 + 3 / 50) + 100 / 20)
    assert by["iv_short@m20"].run_s == pytest.approx(2 * iv_seconds(qp.stages[1].plan), abs=0.1)
    assert by["cycles1"].box_s == pytest.approx((5 + 42) / BOX_RAMP_C_PER_MIN * 60 + 2 * 120,
                                                abs=0.1)
    assert by["short@p17"].box_s == pytest.approx(120)  # already at 17 C after the cycle
    assert temperature_tag(-20) == "m20" and temperature_tag(17.5) == "p17p5"


def test_cli_bad_station_is_one_line(tmp_path, capsys):
    path = write(tmp_path, "st.toml", STATION.replace("speedup = 10", "speedup = true"))
    code, out, err = run_cli(capsys, "qualify", path, DATA / "quick.toml")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert f"{path}:2: speedup" in err and "Traceback" not in err


def test_cli_dry_run_prints_the_schedule(capsys):
    code, out, _ = run_cli(capsys, "qualify", DATA / "station-sim.toml", DATA / "quick.toml",
                             "--dry-run")
    assert code == 0
    for label in ("short@m20", "iv_short@m20", "cycles1", "short@p17", "iv_short@p17"):
        assert label in out
    assert "estimated station time" in out
    assert not (DATA / "runs").exists()  # a dry run leaves nothing behind
