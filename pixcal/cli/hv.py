"""``pixcal hv ...``: the sensor bias supply (Keithley 24xx) by address: status, safe off."""

from __future__ import annotations

import math

import click

from pixcal.errors import UserError

ROLE = "keithley"


@click.group()
def hv() -> None:
    """The sensor bias supply (a Keithley 24xx) by VISA address.

    Addresses: ASRL/dev/ttyUSB0::INSTR (serial), TCPIP::HOST::PORT::SOCKET (serial-to-LAN
    adapter, or a served twin), sim://module?seed=N (a simulated Keithley for this command).
    """


def _open(address: str):
    from hal.errors import HalError
    from pixcal.instruments import open_instrument

    try:
        return open_instrument(ROLE, address)
    except HalError as exc:
        raise UserError(str(exc)) from None


def _describe(reading) -> str:
    if not reading.output_on:
        return "output OFF (0 V at the terminals)"
    current = "nan" if math.isnan(reading.current_a) else f"{reading.current_a * 1e6:.4g} uA"
    trip = ", IN COMPLIANCE" if reading.compliance else ""
    return f"output ON at {reading.voltage_v:.4g} V, {current}{trip}"


@hv.command()
@click.argument("address")
@click.option("--step", "step_v", default=10.0, show_default=True, type=float,
              help="Largest step of the ramp down (V).")
@click.option("--rate", "rate_v_per_s", default=20.0, show_default=True, type=float,
              help="Largest ramp rate (V/s).")
def off(address: str, step_v: float, rate_v_per_s: float) -> None:
    """Make the HV safe: ramp to 0 V, switch the output off, confirm by reading back.

    Exit code 0 only when the instrument confirms output off at 0 V; otherwise one line
    saying what is known and exit code 2. On a station, e.g. hv off ASRL/dev/ttyUSB0::INSTR.

    \b
    Example:
      pixcal hv off "sim://module?seed=1"     a simulated Keithley (already safe: confirms)
    """
    from hal.errors import HalError

    keithley, cleanup = _open(address)
    try:
        if not step_v > 0 or not rate_v_per_s > 0:
            raise UserError("--step and --rate must be > 0")
        try:
            click.echo(f"{address}: {keithley.model}: {_describe(keithley.read())}", err=True)
        except HalError as exc:  # make_safe below reconnects once
            click.echo(f"{address}: cannot read the state ({exc}); making safe", err=True)
        keithley.safe_step_v, keithley.safe_rate_v_per_s = step_v, rate_v_per_s
        keithley.make_safe()
        click.echo(f"{address}: confirmed: output OFF, set-point {keithley.level_v():g} V")
    except HalError as exc:
        raise UserError(f"HV NOT confirmed safe: {exc}") from None
    finally:
        keithley.close()
        if cleanup is not None:
            cleanup()


@hv.command()
@click.argument("address")
def status(address: str) -> None:
    """Read the output state, voltage and current (changes nothing).

    \b
    Example:
      pixcal hv status "sim://module?seed=1"
    """
    from hal.errors import HalError

    keithley, cleanup = _open(address)
    try:
        click.echo(f"{address}: Keithley {keithley.model}: {_describe(keithley.read())}")
    except HalError as exc:
        raise UserError(str(exc)) from None
    finally:
        keithley.close()
        if cleanup is not None:
            cleanup()
