"""Unattended module qualification (``pixcal qualify``): a station file and a qualification
plan, stages run over up to four boards at once (one process per board), the cooling box and
the Keithley shared, interlocks and a safe end on every path. See docs/qualification.md."""
