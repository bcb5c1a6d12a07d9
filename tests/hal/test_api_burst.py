"""Pattern-generator bursts through the measurement API: event sinks, armed pixels, SEU
recovery, DAQ sessions shared by several bursts, supply voltages."""

from __future__ import annotations

import numpy as np
import pytest
from test_api_sim import measurement

from hal import chips
from hal.errors import DataError

CODES = chips.readback_codes()


def words_with_code(words: list[int], code: int) -> list[int]:
    return [w for w in words if (w >> 8) & 0xF == code]


def test_the_sink_sees_every_event_and_the_armed_pixel():
    api, _ = measurement("sim://module?seed=2&defects=none")
    seen: dict[int, int] = {}
    hits: list[np.ndarray] = []

    def sink(pos, first, decoded):
        assert first == seen.get(pos, 0)  # pieces arrive in stream order
        seen[pos] = first + len(decoded.events)
        hits.append(decoded.hits)

    with api.temporary_dac("vcal", 200), api.armed_pixel((12, 22)):
        burst = api.trigger_burst(50, 400, sink=sink)
    assert burst.clean and burst.retries == 0
    assert [seen[p] for p in range(len(burst.events))] == burst.events == [50] * len(seen)
    all_hits = np.concatenate(hits)
    # every ROC shows the injected pixel in every event, and nothing else
    assert set(zip(all_hits["col"].tolist(), all_hits["row"].tolist(), strict=True)) == {(12, 22)}
    assert np.bincount(all_hits["roc"], minlength=16).tolist() == [50] * 16
    after = api.trigger_burst(20, 400)  # disarmed again: no hits at all
    assert after.clean and after.stats.pixels_valid == 0


def test_a_silent_roc_is_reprogrammed_and_the_burst_repeated_when_recovering():
    api, sim = measurement("sim://module?seed=3&defects=none")
    sim.rocs.seu[5] = True  # ROC 5 stops sending data
    raw = api.trigger_burst(32, 400)
    assert not raw.clean and api.recoveries == []  # without recover: as it came
    sim.rocs.seu[5] = True
    burst = api.trigger_burst(32, 400, recover=True)
    assert burst.clean and burst.retries == 1
    assert len(api.recoveries) == 1 and api.recoveries[0].endswith("(reprogrammed)")
    assert "roc_missing" in api.recoveries[0]


def test_a_burst_that_never_comes_clean_fails(tmp_path):
    spec = tmp_path / "faults.toml"
    spec.write_text("link_bit_error_rate = 1e-3\n")
    api, _ = measurement(f"sim://module?seed=3&defects={spec}")
    api.retries = 1
    with pytest.raises(DataError, match=r"no clean burst after 2 attempts"):
        api.trigger_burst(64, 400, recover=True)


def test_bursts_in_a_session_lock_the_deserializer_once_and_keep_readback_words_apart():
    api, sim = measurement("sim://module?seed=4&defects=none")
    clock = sim.clock

    def readings(session: bool) -> tuple[float, list[list[int]]]:
        t0, out = clock.elapsed_s, []
        with api.burst_session(64) if session else _nothing():
            for code in (CODES["vd"], CODES["ia"], CODES["vd"], CODES["ia"]):
                api.set_dac("readback", code)
                out.append(api.trigger_burst(64, 400).readback[0])
        return clock.elapsed_s - t0, out

    separate, words_separate = readings(False)
    shared, words_shared = readings(True)
    assert separate - shared >= 3 * 0.15 - 1e-3  # three DESER400 relocks fewer
    for k, code in enumerate((CODES["vd"], CODES["ia"]) * 2):
        # each burst completes three words, all of the code set for it (none straddles)
        assert len(words_shared[k]) == len(words_separate[k]) == 3
        assert words_with_code(words_shared[k], code) == words_shared[k]
    assert sorted(words_shared) == sorted(words_separate)


def test_supply_voltages_are_set_measured_and_restored():
    api, sim = measurement("sim://module?seed=5&defects=none")
    api.set_supply(vd_v=2.6, va_v=1.7)
    va, vd = api.voltages()
    assert va == pytest.approx(1.7, abs=0.01) and vd == pytest.approx(2.6, abs=0.01)
    api.restore_supply()
    assert sim.power.vd_mv == round(api.dut.vd_v * 1000)
    assert sim.power.va_mv == round(api.dut.va_v * 1000)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
