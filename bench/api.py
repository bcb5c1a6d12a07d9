"""Full-module efficiency map (Ntrig 10, 66,560 pixels) through the whole stack: wall time,
emulated hardware time and peak memory, over sim:// (in process) and over TCP (the simulated
board served by ``pixcal sim serve`` in another process). Prints one JSON line."""

from __future__ import annotations

import time

from _scenario import main, sim_server  # bench/ is on sys.path when a script runs

ADDRESS = "sim://module?seed=1&defects=typical"


def efficiency_map(url: str) -> dict:
    from hal.api import Measurement
    from pixcal.config import ModuleConfig
    from pixcal.connect import connect
    from pixcal.dutconfig import to_dut

    conn = connect(url)
    api = Measurement(conn.board, to_dut(ModuleConfig.default(tbm_type="tbm08c")))
    api.setup()
    api.power_on()
    hw0 = conn.hardware_seconds()
    t0 = time.perf_counter()
    data = api.efficiency_map(10)
    wall = time.perf_counter() - t0
    hw1 = conn.hardware_seconds()
    api.power_off()
    conn.close()
    return {"wall_s": round(wall, 3),
            "hardware_s": None if hw0 is None else round(hw1 - hw0, 2),
            "events": data.stats.events, "hits": int(data.hits.sum())}


def over_tcp() -> dict:
    with sim_server(ADDRESS) as url:
        return efficiency_map(url)


if __name__ == "__main__":
    main(__file__, {"sim": lambda: efficiency_map(ADDRESS), "tcp": over_tcp}, "api")
