"""``pixcal box ...``: the cooling box by address (read its state, make it safe)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

import click

ADDRESS_HELP = ("modbus-rtu:/dev/ttyUSB0, modbus-rtu:socket://HOST:PORT, modbus-tcp://HOST:PORT "
                "or sim://coolingbox?... (a simulated box)")


@click.group()
def box() -> None:
    """The cooling box (JUMO IMAGO 500 over Modbus) by address.

    \b
    ADDRESS is one of
      modbus-rtu:/dev/ttyUSB0?baudrate=9600&unit=1   the controller on a serial line
      modbus-rtu:socket://HOST:PORT                  RTU through a serial-to-LAN adapter
      modbus-tcp://HOST:PORT                         Modbus TCP
      sim://coolingbox?speedup=100                   a simulated box (started here)
    """


@contextlib.contextmanager
def _opened(address: str, speedup: float) -> Iterator[Any]:
    from hal.instruments.stationclock import StationClock
    from pixcal.instruments import open_instrument

    inst, cleanup = open_instrument("coolingbox", address, clock=StationClock(speedup))
    try:
        yield inst
    finally:
        inst.close()
        if cleanup is not None:
            cleanup()


def _show(state: Any, as_json: bool, address: str) -> None:
    if as_json:
        click.echo(json.dumps({"address": address, **asdict(state)}))
        return
    click.echo(f"box          {address}")
    click.echo(f"temperature  {state.temperature_c:.2f} °C (set-point {state.setpoint_c:g} °C, "
               f"output {state.output_pct:+.0f} %)")
    click.echo(f"humidity     {state.humidity_pct:.1f} % (dew point {state.dewpoint_c:.1f} °C)")
    click.echo(f"N2 flush     {'on' if state.flushing else 'off'}")


_speedup = click.option("--speedup", type=click.FloatRange(min=1.0), default=1.0,
                        show_default=True,
                        help="Station time runs N times faster than wall time (a simulated box).")


@box.command()
@click.argument("address")
@_speedup
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(address: str, speedup: float, as_json: bool) -> None:
    """Read the box at ADDRESS: temperature, set-point, humidity, dew point, flush.

    Nothing is changed.

    \b
    Example:
      pixcal box status sim://coolingbox
    """
    with _opened(address, speedup) as cb:
        _show(cb.read(), as_json, address)


@box.command()
@click.argument("address")
@click.option("--safe-c", default=20.0, show_default=True,
              help="The safe (warm) set-point, °C.")
@click.option("--wait", "wait_s", default=0.0, show_default=True,
              help="Then wait up to this many seconds (station time) for the box to warm up.")
@_speedup
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def safe(address: str, safe_c: float, wait_s: float, speedup: float, as_json: bool) -> None:
    """Make the box at ADDRESS safe: N2 flush on, warm set-point (+20 °C).

    What a run does on every exit path; run it by hand when a run could not (a crash, a
    power cut of the host). Exit code 0 when the controller confirmed both settings.

    \b
    Example:
      pixcal box safe sim://coolingbox
      pixcal box safe "sim://coolingbox?speedup=1000" --wait 3600 --speedup 1000
    """
    from hal.instruments.coolingbox import BoxSettings

    with _opened(address, speedup) as cb:
        cb.settings = BoxSettings(**{**asdict(cb.settings), "safe_c": safe_c})
        state = cb.make_safe(wait_s=wait_s)
        _show(state, as_json, address)
