"""Shared by the bench scripts: run one measurement scenario in a fresh process and report its
wall time, emulated hardware time and peak memory (so scenarios do not share a heap)."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sim_server(address: str):
    """``pixcal sim serve`` in its own process; yields the socket:// URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pixcal", "sim", "serve", address,
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"socket://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def in_subprocess(script: str, scenario: str) -> dict:
    """Run ``script --scenario NAME`` and parse its one JSON line."""
    out = subprocess.run([sys.executable, script, "--scenario", scenario], check=True,
                         capture_output=True, text=True, env={**os.environ}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(script: str, scenarios: dict[str, Callable[[], dict]], bench: str) -> None:
    """``--scenario NAME`` runs one scenario here; without it, every scenario in its own
    process, printing one JSON line with all figures."""
    if "--scenario" in sys.argv:
        name = sys.argv[sys.argv.index("--scenario") + 1]
        result = scenarios[name]()
        result["peak_rss_mb"] = round(peak_rss_mb(), 1)
        print(json.dumps(result))
        return
    line = {"bench": bench}
    for name in scenarios:
        for key, value in in_subprocess(script, name).items():
            line[f"{name}_{key}"] = value
    print(json.dumps(line))
