"""POH bias scan cost: the default scan of a TBM10c module (8 optical channels, 4 gains,
33 bias points) through the real driver, pyvisa-py and the simulated fixture served on
127.0.0.1, then the fit; prints one JSON line.

Reports the SCPI messages exchanged, the wall time of the scan (without the settle time,
``settle_ms = 0``) and of the fit, the bench time the defaults imply with the online
calibration's 60 ms per RSSI reading and 100 ms settling, and the worst distance of a chosen
bias from the true knee + margin (in scan steps).
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

import numpy as np

from hal.instruments.optical import OpticalFixture
from pixcal.analysis import knees
from pixcal.procedures.base import StepContext
from pixcal.procedures.pohbias import PohBiasParams, scan
from simulators.instruments import build_twin
from simulators.servers import TcpServer

READ_S, SETTLE_S = 0.06, 0.1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tbm", default="tbm10c")
    args = ap.parse_args()
    twin = build_twin("optical", f"sim://module?seed={args.seed}&tbm={args.tbm}&defects=none")
    params = PohBiasParams(settle_ms=0)
    bias = np.arange(params.bias_min, params.bias_max + 1, params.bias_step)
    with TcpServer(twin) as server:
        fixture = OpticalFixture.open(f"TCPIP::127.0.0.1::{server.port}::SOCKET")
        channels = list(range(fixture.n_channels))
        n0 = len(twin.log)
        t0 = time.perf_counter()
        rssi = scan(fixture, StepContext(api=None), params, channels, bias)
        scan_s = time.perf_counter() - t0
        messages = len(twin.log) - n0
        fixture.close()
    tracemalloc.start()
    t0 = time.perf_counter()
    fit = knees.fit_three_segments(bias, rssi, params.dead_span_ma)
    fit_s = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    chosen = knees.choose_bias(fit, params.margin, bias)
    worst = float(np.max(np.abs(chosen - (twin.module.truth.optical.knee2 + params.margin))))
    points = len(params.gains) * bias.size
    print(json.dumps({
        "bench": "pohbias", "tbm": args.tbm, "channels": len(channels),
        "gains": len(params.gains), "bias_points": int(bias.size), "scpi_commands": messages,
        "scan_wall_s": round(scan_s, 3), "fit_wall_s": round(fit_s, 3),
        "fit_peak_mb": round(peak / 2**20, 1),
        "bench_time_estimate_s": round(points * (SETTLE_S + len(channels) * READ_S), 1),
        "worst_choice_error_steps": round(worst / params.bias_step, 2),
    }))


if __name__ == "__main__":
    main()
