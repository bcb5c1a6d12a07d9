"""IV curve cost: the default IV (0 -> -600 V in 5 V steps, 2 s settling, 3 x 1 NPLC readings)
through the real driver, pyvisa-py and the simulated Keithley served on 127.0.0.1, with the
station clock running ``--speedup`` times faster; prints one JSON line.

Reports the wall time, the station (emulated) time the curve took and the station time per
point, compared with the production sequence (elComandante: 2 s source delay + 3 x 10 NPLC
per point, about 2.6 s, 121 points: about 5 min per module), the SCPI commands exchanged, the
found breakdown against the true onset, and the time to make the HV safe from -600 V.
"""

from __future__ import annotations

import argparse
import json
import time

from hal.instruments.clock import ScaledClock
from hal.instruments.keithley import Keithley24xx
from pixcal.instruments import Instruments
from pixcal.procedures.base import StepContext
from pixcal.procedures.iv import Iv, IvParams
from simulators.instruments import build_twin
from simulators.servers import TcpServer

ELCOMANDANTE_S_PER_POINT = 2.0 + 3 * 10 / 50  # source delay + 3 readings of 10 NPLC at 50 Hz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--speedup", type=float, default=1000.0)
    ap.add_argument("--breakdown", type=float, default=450.0, help="true onset (V)")
    args = ap.parse_args()
    twin = build_twin("keithley", f"sim://module?seed={args.seed}&defects=none"
                                  f"&speedup={args.speedup:g}&breakdown={args.breakdown:g}")
    clock = ScaledClock(args.speedup)
    with TcpServer(twin) as server:
        address = f"TCPIP::127.0.0.1::{server.port}::SOCKET"
        instruments = Instruments({"keithley": address},
                                  lambda name, a: (Keithley24xx.open(a, clock=clock), None))
        ctx = StepContext(api=None, log=lambda line: None, instruments=instruments)
        n0, w0, s0 = len(twin.log), time.perf_counter(), clock.now()
        result = Iv().run(ctx, IvParams(stop_at_breakdown=False, compliance_ua=1000.0))
        wall, station = time.perf_counter() - w0, clock.now() - s0
        messages = len(twin.log) - n0
        k = instruments["keithley"]
        k.output_on()
        k.ramp_to(-600.0, step_v=50.0, rate_v_per_s=100.0, settle_s=0.0)
        s1 = clock.now()
        k.make_safe()
        safe_s = clock.now() - s1
        instruments.close()
    s = result.summary
    points = s["n_points"]
    print(json.dumps({
        "bench": "iv", "speedup": args.speedup, "points": points,
        "stopped": s["stopped"], "scpi_commands": messages,
        "wall_s": round(wall, 3), "station_s": round(station, 1),
        "station_s_per_point": round(station / points, 3),
        "elcomandante_s": round(ELCOMANDANTE_S_PER_POINT * 121, 1),
        "breakdown_found_v": s["breakdown_v"], "breakdown_true_v": args.breakdown,
        "make_safe_from_600v_station_s": round(safe_s, 1),
    }))


if __name__ == "__main__":
    main()
