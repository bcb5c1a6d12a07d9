"""The cooling-box driver against its simulated twin through real transports (Modbus TCP on
127.0.0.1, Modbus RTU on a pty and through a socket): identity, the dew-point interlock ("flush
first, then cool"), the stability rule, thermal cycles, every fault, and the safe state.

Time is compressed: most tests share one :class:`ManualClock` between driver and twin (time
moves only when the driver waits), one runs both on a 2000x :class:`StationClock`."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.instruments.coolingbox import (
    BoxNotAnswering,
    BoxSettings,
    CoolingBox,
    CoolingBoxError,
    DewPointError,
    HumidityTooHigh,
    SetpointNotReached,
)
from hal.instruments.stationclock import ManualClock, StationClock
from pixcal.instruments import open_instrument
from simulators.instruments import serve_as
from simulators.instruments.coolingbox import coolingbox_twin
from simulators.servers import PtyServer, TcpServer

pytestmark = pytest.mark.timeout(120)


@contextlib.contextmanager
def served(address: str = "sim://coolingbox", transport: str = "tcp", **opts):
    """(box driver, twin, clock) for a twin served on ``transport``."""
    clock = ManualClock()
    twin = coolingbox_twin(address, clock=clock)
    server = PtyServer(twin) if transport == "pty" else TcpServer(twin)
    with server:
        where = serve_as("coolingbox", twin, server)
        if transport == "rtu-socket":  # RTU frames through a serial-to-LAN adapter
            twin.framing = "rtu"
            where = f"modbus-rtu:socket://127.0.0.1:{server.port}"
        box = CoolingBox.open(where, clock=clock, **{"poll_s": 10.0, **opts})
        try:
            yield box, twin, clock
        finally:
            box.close()


@pytest.mark.parametrize("transport", ["tcp", "pty", "rtu-socket"])
def test_the_driver_reads_the_twin_and_opening_changes_nothing(transport):
    with served(transport=transport) as (box, twin, _):
        assert twin.requests == 1  # the identity register, nothing else
        state = box.read()
        # temperature and humidity are adjacent (one snapshot); output; set-point; flush
        assert twin.requests == 1 + 4
        assert state.temperature_c == pytest.approx(22.0, abs=0.2)
        assert state.setpoint_c == 22.0 and not state.flushing
        assert state.humidity_pct == pytest.approx(45.0, abs=0.5)
        assert state.dewpoint_c == pytest.approx(9.5, abs=0.3)
        box.flush(True)
        assert twin.model.flushing and box.read().flushing


def test_a_different_device_is_refused(tmp_path):
    from hal.instruments.coolingbox import REGISTER_MAP

    site = tmp_path / "site.toml"
    site.write_text(REGISTER_MAP.read_text().replace("identities = [3590]", "identities = [42]"))
    twin = coolingbox_twin("sim://coolingbox", clock=ManualClock())
    with TcpServer(twin) as server:
        address = serve_as("coolingbox", twin, server)
        with pytest.raises(CoolingBoxError, match=r"device_type reads 3590, expected .* \(42\)"):
            CoolingBox.open(address, registers=site)


def test_flush_first_then_cool_and_the_stability_rule():
    readings = []
    with served() as (box, twin, _):
        box.set_temperature(-20.0, on_state=readings.append)
        # the set-point was written only once the dew point was 2 + 1 °C below it
        assert readings and all(r.flushing and r.setpoint_c == 22.0 for r in readings)
        assert readings[-1].dewpoint_c + 3.0 <= -20.0 < readings[-2].dewpoint_c + 3.0
        assert twin.model.setpoint_c == -20.0
        readings.clear()
        final = box.wait_stable(-20.0, on_state=readings.append)
    assert abs(final.temperature_c + 20.0) <= 0.5
    # the last 120 s (and not more than one poll longer) were all within ±0.5 °C
    outside = [i for i, r in enumerate(readings) if abs(r.temperature_c + 20.0) > 0.5]
    run = readings[outside[-1] + 1:]
    assert run[-1] is final
    assert 120.0 <= final.timestamp - run[0].timestamp < 130.0
    assert readings[0].temperature_c > 15.0  # it really had to cool down


def test_stability_is_a_real_criterion():
    with served() as (box, twin, _):
        box.set_temperature(15.0)  # above the dew point + margin: no flush needed
        assert not twin.model.flushing
        # tighter than the sensor noise (0.03 °C rms) for 10 minutes: never stable
        with pytest.raises(SetpointNotReached, match=r"15 °C not stable within ±0\.001 °C"):
            box.wait_stable(15.0, tolerance_c=0.001, hold_s=600, timeout_s=1800)
        state = box.wait_stable(15.0, tolerance_c=0.2, hold_s=300)
        assert abs(state.temperature_c - 15.0) <= 0.2


def test_dew_point_interlock_refuses_when_flushing_does_not_dry():
    with served("sim://coolingbox?fault=humid", flush_timeout_s=900) as (box, twin, clock):
        with pytest.raises(DewPointError, match=r"set-point -20 °C refused: the dew point is "
                                                r"9\.\d °C .* after 900 s of N2 flush"):
            box.set_temperature(-20.0)
        assert twin.model.setpoint_c == 22.0 and twin.model.flushing
        assert clock.now() >= 900.0
        box.set_temperature(13.0)  # 3.5 °C above the dew point: allowed without flushing
        assert twin.model.setpoint_c == 13.0


def test_humidity_rising_while_cold_stops_the_wait():
    with served() as (box, twin, _):
        box.set_temperature(-20.0)
        box.wait_stable(-20.0)
        twin.inject("humid")  # the N2 bottle runs empty: room air leaks in
        with pytest.raises(HumidityTooHigh, match="humidity too high: dew point"):
            box.wait_stable(-20.0, hold_s=6 * 3600, timeout_s=12 * 3600)


def test_a_set_point_the_peltiers_cannot_reach():
    with served("sim://coolingbox?fault=weak") as (box, _, _):
        box.set_temperature(-20.0)
        with pytest.raises(SetpointNotReached, match="full cooling power"):
            box.wait_stable(-20.0, timeout_s=3600)
        assert box.read().temperature_c > 0.0


def test_a_controller_that_stops_answering():
    with served("sim://coolingbox?fault=mute&fault_after_s=60", timeout_s=0.2,
                retries=0) as (box, _, _):
        box.set_temperature(15.0)
        with pytest.raises(BoxNotAnswering, match="no answer to reading"):
            box.wait_stable(15.0)
        with pytest.raises(BoxNotAnswering):
            box.make_safe()


def test_a_lost_link():
    clock = ManualClock()
    twin = coolingbox_twin("sim://coolingbox", clock=clock)
    server = TcpServer(twin).start()
    box = CoolingBox.open(serve_as("coolingbox", twin, server), clock=clock)
    try:
        box.read()
        server.close()  # the controller's end of the link goes away
        with pytest.raises(BoxNotAnswering, match=r"link lost while reading \w+ \(0x"):
            box.read()
    finally:
        box.close()


def test_cycles_hold_each_end_stable_and_make_safe_warms_up():
    targets, readings = [], []
    with served() as (box, twin, _):
        box.cycle(-25.0, 17.0, 2, on_cycle=lambda i, t: targets.append((i, t)),
                  on_state=readings.append, hold_s=120)
        assert targets == [(0, -25.0), (0, 17.0), (1, -25.0), (1, 17.0)]
        assert min(r.temperature_c for r in readings) == pytest.approx(-25.0, abs=0.5)
        assert abs(readings[-1].temperature_c - 17.0) <= 0.5
        with pytest.raises(CoolingBoxError, match="must be below"):
            box.cycle(17.0, -25.0, 1)
        box.set_temperature(-20.0)
        box.wait_stable(-20.0)
        state = box.make_safe(wait_s=3600)
        assert state.flushing and state.setpoint_c == 20.0 and state.temperature_c >= 19.0
        assert twin.model.setpoint_c == 20.0 and twin.model.flushing


def test_a_set_point_changed_behind_the_drivers_back():
    with served() as (box, twin, _):
        box.set_temperature(15.0)
        twin.model.setpoint_c = 5.0
        with pytest.raises(CoolingBoxError, match="set-point is 5 °C, not 15 °C"):
            box.wait_stable(15.0)


def test_compressed_station_time_through_the_instrument_factory():
    clock = StationClock(2000)
    box, stop = open_instrument("coolingbox", "sim://coolingbox?seed=4", clock=clock)
    try:
        box.set_temperature(-20.0)
        state = box.wait_stable(-20.0)
    finally:
        box.close()
        stop()
    assert abs(state.temperature_c + 20.0) <= 0.5
    assert state.timestamp > 900.0  # station seconds: drying, cooling and holding take ~20 min


class ScriptedBox:
    """A device whose temperature at station time t is ``temperature(t)`` (no transport): the
    stability rule on its own."""

    def __init__(self, temperature, clock, setpoint=-20.0):
        from hal.instruments.coolingbox import REGISTER_MAP
        from hal.instruments.modbus_map import load_map

        self.map, self.address = load_map(REGISTER_MAP), "scripted"
        self.temperature, self.clock, self.setpoint = temperature, clock, setpoint

    def read_many(self, names):
        values = {"temperature": self.temperature(self.clock.now()), "humidity": 1.0,
                  "output": 0.0, "setpoint": self.setpoint, "flush": 1, "device_type": 3590}
        return {n: values[n] for n in names}


@given(st.lists(st.tuples(st.floats(0, 400), st.floats(0.51, 3.0)), max_size=4),
       st.floats(10, 300))
@settings(max_examples=60, deadline=None)
def test_stable_means_every_reading_in_band_for_the_whole_hold(excursions, hold_s):
    """Excursions (start time, size > tolerance) of 7 s each; the wait must end at the first
    poll at least ``hold_s`` after the last excursion before it, and never during one."""
    def temperature(t):
        return -20.0 + sum(size for start, size in excursions if start <= t < start + 7.0)

    clock = ManualClock()
    box = CoolingBox(ScriptedBox(temperature, clock), clock)
    box.settings = BoxSettings(poll_s=5.0)
    state = box.wait_stable(-20.0, hold_s=hold_s, timeout_s=10_000)
    polls = [5.0 * i for i in range(int(state.timestamp / 5.0) + 1)]
    bad = [t for t in polls if abs(temperature(t) + 20.0) > 0.5]
    run_start = min(t for t in polls if not bad or t > bad[-1])
    assert abs(temperature(state.timestamp) + 20.0) <= 0.5
    assert state.timestamp - run_start >= hold_s > state.timestamp - run_start - 5.0
