"""Cooling box at a compressed clock: the qualification's climate part alone, end to end.

The simulated box is served on Modbus TCP (127.0.0.1) with a ``--speedup`` clock (default 1000x)
and driven by the real driver: cool to -20 °C (flush first) and hold it stable, ``--cycles``
thermal cycles -25 <-> +17 °C, then warm to +17 °C. Prints one JSON line: station (emulated)
and wall seconds of each phase, the Modbus requests made, the mean wall time per request, and
peak memory (MB).
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from hal.instruments.coolingbox import CoolingBox
from hal.instruments.stationclock import StationClock
from simulators.instruments import serve_as
from simulators.instruments.coolingbox import coolingbox_twin
from simulators.servers import TcpServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speedup", type=float, default=1000.0)
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args()
    clock = StationClock(args.speedup)
    twin = coolingbox_twin("sim://coolingbox?seed=1", clock=clock)
    phases: dict[str, dict[str, float]] = {}
    with TcpServer(twin) as server:
        box = CoolingBox.open(serve_as("coolingbox", twin, server), clock=clock)
        wall0 = time.perf_counter()

        def phase(name: str, action) -> None:
            t, w = clock.now(), time.perf_counter()
            action()
            phases[name] = {"station_s": round(clock.now() - t),
                            "wall_s": round(time.perf_counter() - w, 2)}

        phase("cool_to_-20", lambda: (box.set_temperature(-20.0), box.wait_stable(-20.0)))
        phase("cycles", lambda: box.cycle(-25.0, 17.0, args.cycles))
        phase("warm_to_17", lambda: (box.set_temperature(17.0), box.wait_stable(17.0)))
        wall = time.perf_counter() - wall0
        box.close()
    print(json.dumps({
        "bench": "coolingbox", "speedup": args.speedup, "cycles": args.cycles,
        "phases": phases, "station_h": round(sum(p["station_s"] for p in phases.values())
                                             / 3600, 2),
        "wall_s": round(wall, 1), "modbus_requests": twin.requests,
        "wall_ms_per_request": round(1000 * wall / max(twin.requests, 1), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
