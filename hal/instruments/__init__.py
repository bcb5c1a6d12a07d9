"""Bench instruments reached through pyvisa (SCPI over TCP sockets or serial lines).

:mod:`~hal.instruments.scpi` holds what every driver shares (opening a VISA resource, typed
errors naming the address, the ``*IDN?`` identity check, command tables as data);
one module per instrument builds on it (:mod:`~hal.instruments.optical`: the optical-link
bench fixture). docs/instruments.md describes each protocol.
"""
