"""Simulated stations for the qualification tests: station files, the twins served in the test
process (so that their state can be read back after the qualification), a board served over TCP
whose link can be cut."""

from __future__ import annotations

import shutil
from pathlib import Path

DATA = Path(__file__).parents[1] / "data" / "qualify"
SPEEDUP = 1000


def station_file(tmp_path: Path, boards: list[tuple[str, ...]], keithley: str | None = None,
                 box: str | None = None, extra: str = "", configs: dict[str, Path] | None = None
                 ) -> Path:
    """A station file with ``boards`` [(address, module[, own keithley])], named TB0.."""
    for name in ("short.toml", "iv-short.toml", "quick.toml"):
        shutil.copy(DATA / name, tmp_path / name)
    lines = ['name = "teststation"', f"speedup = {SPEEDUP}", 'output = "runs"', extra]
    if keithley:
        lines += ["[keithley]", f'address = "{keithley}"']
    if box:
        lines += ["[coolingbox]", f'address = "{box}"']
    for i, (address, module, *own) in enumerate(boards):
        lines += ["[[boards]]", f'name = "TB{i}"', f'address = "{address}"',
                  f'module = "{module}"'] + [f'keithley = "{k}"' for k in own]
        if configs and module in configs:
            lines.append(f'config = "{configs[module]}"')
    path = tmp_path / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def plan_file(tmp_path: Path, text: str, name: str = "plan.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def sim_boards(n: int) -> list[tuple[str, str]]:
    return [(f"sim://roc?seed={i + 1}&defects=none", f"M000{i + 1}") for i in range(n)]


def serve_keithley(query: str = ""):
    """The Keithley twin served here (``server.target`` is the twin): (server, address)."""
    from pixcal.connect import serve_simulated_instrument

    server = serve_simulated_instrument(
        "keithley", f"sim://roc?seed=1&speedup={SPEEDUP}&temperature=-20{query}")
    return server, server.instrument_address


def when_step_runs(out: Path, module: str, action, timeout_s: float = 240.0):
    """A started thread that calls ``action()`` once a step of ``module``'s run (under
    ``out``) is running; ``thread.fired`` tells whether it did."""
    import threading
    import time

    from pixcal.store import RunFile

    def watch():
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for path in out.glob(f"*/{module}/*.h5"):
                try:
                    steps = RunFile(path).steps()
                except Exception:
                    continue
                if any(s.status == "running" for s in steps):
                    action()
                    thread.fired = True
                    return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.fired = False
    thread.start()
    return thread


def serve_box(query: str = ""):
    """The cooling-box twin served here (``server.target``): (server, address)."""
    from pixcal.connect import serve_simulated_instrument

    server = serve_simulated_instrument("coolingbox",
                                        f"sim://coolingbox?seed=2&speedup={SPEEDUP}{query}")
    return server, server.instrument_address
