"""The cooling box during a qualification: set-points reached by the plan's stability rule,
readings sampled while the modules run, and the environment interlock.

Every reading goes to the running modules' ``/monitor`` (through the board processes), to
``environment.csv`` in the qualification's folder and to the progress view. While modules run,
a temperature more than ``limits.band_c`` from the set-point, or a dew point within the box's
margin of the temperature, clears the ``go`` event: every module waits before its next step;
``go`` is set again when the box is back in band, and an excursion longer than
``limits.pause_timeout_s`` stops the qualification.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pixcal.signals import Stopped

#: station seconds between two box readings while modules run
SAMPLE_S = 10.0
#: BoxState attribute -> (monitor name, unit)
BOX_SERIES = {"temperature_c": ("temperature_c", "degC"), "humidity_pct": ("humidity_pct", "%"),
              "dewpoint_c": ("dewpoint_c", "degC"), "setpoint_c": ("box_setpoint_c", "degC")}
CSV_HEADER = "unix_time_s,temperature_c,setpoint_c,humidity_pct,dewpoint_c,flushing,stage\n"


class BoxWatch:
    """The box (a :class:`hal.instruments.coolingbox.CoolingBox`) as the conductor uses it.

    Parameters
    ----------
    box : the opened driver; limits : the station's; clock : the station clock.
    folder : where ``environment.csv`` goes; view : the progress view.
    reading : ``(name, unix time, value, unit)`` -> the running modules' /monitor.
    go : the interlock event shared with the board processes.
    """

    def __init__(self, box: Any, limits: Any, clock: Any, folder: Path, view: Any,
                 reading: Callable[[str, float, float, str], None], go: Any):
        self.box, self.limits, self.clock = box, limits, clock
        self.folder, self.view, self.reading, self.go = folder, view, reading, go
        self.setpoint: float | None = None
        self.stage = ""
        self.last_sample = -1e18
        self.out_since: float | None = None

    def reach(self, setpoint: float, rule: Any, hold_s: float) -> float:
        """Set the box and wait until it is stable (``rule``: tolerance, timeout); station
        seconds taken. Raises the driver's errors (SetpointNotReached, HumidityTooHigh, ...)."""
        t0 = self.clock.now()
        self.view.box(f"set-point {setpoint:g} C")
        self.box.set_temperature(setpoint)
        self.setpoint = setpoint
        self.box.wait_stable(setpoint, tolerance_c=rule.tolerance_c, hold_s=hold_s,
                             timeout_s=rule.timeout_s, clock=self.clock, on_state=self.record)
        return self.clock.now() - t0

    def record(self, state: Any) -> None:
        """One reading: to the running modules' /monitor, environment.csv, the view."""
        t = float(getattr(state, "timestamp", None) or self.clock.now())
        for attr, (name, unit) in BOX_SERIES.items():
            value = getattr(state, attr, None)
            if value is not None:
                self.reading(name, t, float(value), unit)
        log_path = self.folder / "environment.csv"
        header = "" if log_path.exists() else CSV_HEADER
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(f"{header}{t:.3f},{state.temperature_c:.3f},{state.setpoint_c:.3f},"
                    f"{state.humidity_pct:.2f},{state.dewpoint_c:.3f},"
                    f"{int(bool(state.flushing))},{self.stage}\n")
        self.view.box(f"{state.temperature_c:+.1f} C (set {state.setpoint_c:+.1f}), "
                      f"RH {state.humidity_pct:.1f} %, dew point {state.dewpoint_c:+.1f} C")

    def sample_now(self) -> None:
        """The next :meth:`watch` reads the box whatever the time since the last reading."""
        self.last_sample = -1e18

    def watch(self) -> None:
        """Read the box every SAMPLE_S station seconds and apply the interlock."""
        now = self.clock.now()
        if now - self.last_sample < SAMPLE_S:
            return
        self.last_sample = now
        state = self.box.read()
        self.record(state)
        if self.setpoint is None:
            return
        lim = self.limits
        margin = getattr(getattr(self.box, "settings", None), "margin_c", 2.0)
        off_band = abs(state.temperature_c - self.setpoint) > lim.band_c
        too_humid = state.dewpoint_c + margin > state.temperature_c
        in_band = not (off_band or too_humid)
        if not in_band and self.go.is_set():
            self.go.clear()
            self.out_since = now
            why = (f"dew point {state.dewpoint_c:+.1f} C within {margin:g} C of the "
                   f"temperature" if too_humid else f"out of the band {self.setpoint:g} +- "
                   f"{lim.band_c:g} C")
            self.view.message(f"box at {state.temperature_c:+.1f} C, {why}: modules pause at "
                              "their next step")
        elif in_band and not self.go.is_set():
            self.go.set()
            self.out_since = None
            self.view.message("box back in band: modules go on")
        elif not in_band and self.out_since is not None and \
                now - self.out_since > lim.pause_timeout_s:
            raise Stopped(f"the box stayed out of band for more than {lim.pause_timeout_s:g} s")
