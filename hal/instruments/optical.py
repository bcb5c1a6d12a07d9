"""The optical-link bench fixture: POH laser bias and gain per channel, RSSI readout.

A small SCPI instrument (serial or TCP) that drives the module's POH on the bench:
it sets each optical channel's laser bias (0..127) and gain (0..3) and reads the optical
receiver's RSSI (mA) one channel at a time (the receiver's ADC sees only the selected fiber).
The protocol is in docs/instruments.md; :data:`TABLE` is its command table.
"""

from __future__ import annotations

from hal.instruments.scpi import (
    Command,
    CommandTable,
    Identity,
    InstrumentCommandError,
    ScpiInstrument,
)

BIAS_MAX = 127
GAIN_MAX = 3
MAX_CHANNELS = 16

TABLE = CommandTable(
    model="optical bench fixture",
    identities=(("PIXCAL", "OPTICAL-FIXTURE"),),
    commands=(
        Command("channels", get="CHAN:COUN?", kind="int", lo=1, hi=MAX_CHANNELS),
        Command("bias", set="BIAS {channel},{value}", get="BIAS? {channel}", kind="int",
                lo=0, hi=BIAS_MAX, unit="DAC"),
        Command("gain", set="GAIN {channel},{value}", get="GAIN? {channel}", kind="int",
                lo=0, hi=GAIN_MAX),
        Command("rssi", get="RSSI? {channel}", kind="float", unit="mA"),
    ),
)


class OpticalFixture(ScpiInstrument):
    """Driver of the optical bench fixture (see the module docstring).

    Open with :meth:`OpticalFixture.open(address) <hal.instruments.scpi.ScpiInstrument.open>`:
    that checks ``*IDN?`` and reads the channel count, nothing else.
    """

    table = TABLE
    n_channels: int = MAX_CHANNELS  # until the instrument said how many it has

    def check_identity(self) -> Identity:
        ident = super().check_identity()
        self.n_channels = int(self.get("channels"))
        return ident

    def _channel(self, channel: int) -> int:
        n = self.n_channels
        if isinstance(channel, bool) or int(channel) != channel or not 0 <= channel < n:
            raise InstrumentCommandError(f"{self.address}: channel {channel!r} does not exist "
                                         f"(0..{n - 1})")
        return int(channel)

    def set_bias(self, channel: int, bias: int) -> None:
        """Set the laser bias (DAC 0..127) of ``channel`` (confirmed)."""
        self.set_many(bias={channel: bias})

    def bias(self, channel: int) -> int:
        """The laser bias (DAC) ``channel`` is set to."""
        return int(self.get("bias", channel=self._channel(channel)))

    def set_gain(self, channel: int, gain: int) -> None:
        """Set the laser-driver gain (0..3) of ``channel`` (confirmed)."""
        self.set_many(gain={channel: gain})

    def gain(self, channel: int) -> int:
        """The gain (0..3) ``channel`` is set to."""
        return int(self.get("gain", channel=self._channel(channel)))

    def set_many(self, bias: dict[int, int] | None = None,
                 gain: dict[int, int] | None = None) -> None:
        """Set gains and biases of several channels in one message (gains first), confirmed
        by ``*OPC?`` and an empty error queue."""
        commands = [self.format_set("gain", g, channel=self._channel(c))
                    for c, g in (gain or {}).items()]
        commands += [self.format_set("bias", b, channel=self._channel(c))
                     for c, b in (bias or {}).items()]
        if commands:
            self.write_confirmed(commands)

    def rssi_ma(self, channel: int) -> float:
        """One RSSI reading (mA) of the fiber of ``channel``."""
        return float(self.get("rssi", channel=self._channel(channel)))
