"""Bench instruments: SCPI instruments reached through pyvisa, the cooling box through Modbus.

:mod:`~hal.instruments.scpi` holds what every SCPI driver shares (opening a VISA resource, typed
errors naming the address, the ``*IDN?`` identity check, command tables as data); one module
per instrument builds on it (:mod:`~hal.instruments.optical`: the optical-link bench fixture).
:mod:`~hal.instruments.modbus` and :mod:`~hal.instruments.modbus_map` do the same for Modbus
devices (pymodbus; register maps as TOML), used by :mod:`~hal.instruments.coolingbox` (the JUMO
IMAGO 500 of the cooling box). docs/instruments.md describes each protocol.
"""
