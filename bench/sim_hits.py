"""Hit generation speed of the module physics: a full-module efficiency map (66,560 pixels x 10
triggers, default DACs) and a Vcal S-curve chunk, repeated; prints one JSON line."""

from __future__ import annotations

import json
import time

import numpy as np

from simulators.address import build_module
from simulators.physics import DacView
from simulators.physics.chip import default_dac_registers


def main(repeats: int = 5) -> None:
    module = build_module("sim://module?seed=1")
    dacs = default_dac_registers(module.n_rocs, module.roc_type.name)
    roc, col, row = np.ogrid[:module.n_rocs, :52, :80]
    rng = np.random.default_rng(0)
    n_hits = 0
    t0 = time.perf_counter()
    for _ in range(repeats):
        resp = module.response(roc, col, row, DacView(dacs, roc), 15, False)
        fired, _ = module.fire(resp, 10, rng)
        n_hits += int(fired.sum())
    map_s = (time.perf_counter() - t0) / repeats
    vcal = np.arange(0, 71)[None, None, None, :]
    t0 = time.perf_counter()
    resp = module.response(roc[..., None], col[..., None], row[..., None],
                           DacView(dacs, roc[..., None], {25: vcal}), 15, False)
    fired, _ = module.fire(resp, 10, rng)
    scan_s = time.perf_counter() - t0
    print(json.dumps({
        "bench": "sim_hits",
        "pixels": int(resp.prob.shape[0] * 52 * 80),
        "efficiency_map_s": round(map_s, 4),
        "hits_per_s": round(n_hits / (map_s * repeats)),
        "vcal_scan_71x10_s": round(scan_s, 3),
        "vcal_scan_entries_per_s": round(fired.size / scan_s),
    }))


if __name__ == "__main__":
    main()
