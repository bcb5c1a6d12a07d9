"""The monitor's web application (ASGI, Starlette): one page, polled JSON, map pictures.

Routes
------
``/``                          the page (it polls ``/api/runs`` twice a second)
``/api/runs``                  every run in progress and the recent finished ones (JSON)
``/api/map.png?run=&step=&map=``  a finished step's pixel map as PNG
``/static/...``                the page's script and style
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pixcal.monitor.images import MapCache
from pixcal.monitor.runs import RunsFolder
from pixcal.store import RunFileError

STATIC = Path(__file__).with_name("static")
#: a snapshot this young is served again instead of looking at the files once more (s)
SNAPSHOT_MAX_AGE_S = 0.25
#: how often the page asks for news (ms); a stored step shows within about a second
POLL_MS = 500


class _Snapshots:
    """Snapshots of a folder shared by all clients, taken at most every SNAPSHOT_MAX_AGE_S."""

    def __init__(self, folder: RunsFolder):
        self.folder = folder
        self.lock = threading.Lock()
        self.taken = float("-inf")
        self.last: dict[str, Any] = {}

    def get(self) -> dict[str, Any]:
        with self.lock:
            if time.monotonic() - self.taken > SNAPSHOT_MAX_AGE_S:
                self.last = self.folder.snapshot()
                self.taken = time.monotonic()
            return self.last


def create_app(runs_dir: Path, recent: int = 10) -> Starlette:
    """The monitor application for the runs under ``runs_dir``.

    Parameters
    ----------
    runs_dir : folder the runs are written to (read only; it may be on a shared file system).
    recent : how many finished runs to show besides the ones in progress.
    """
    folder = RunsFolder(Path(runs_dir), recent=recent)
    snapshots = _Snapshots(folder)
    maps = MapCache()
    maps_lock = threading.Lock()

    def page(request: Request) -> Response:
        return FileResponse(STATIC / "monitor.html", headers={"Cache-Control": "no-cache"})

    def runs(request: Request) -> Response:  # sync: Starlette runs it in a worker thread
        return JSONResponse({**snapshots.get(), "poll_ms": POLL_MS},
                            headers={"Cache-Control": "no-store"})

    def map_picture(request: Request) -> Response:
        q = request.query_params
        run, step, name = q.get("run", ""), q.get("step", ""), q.get("map", "")
        try:
            path = folder.resolve(run)
            with maps_lock:  # matplotlib figures are independent, the cache is not
                png = maps.get(path, step, name)
        except (KeyError, ValueError, RunFileError, OSError) as exc:
            return PlainTextResponse(f"no map {name!r} of step {step!r} in run {run!r}: "
                                     f"{str(exc).splitlines()[0] if str(exc) else ''}",
                                     status_code=404)
        return Response(png, media_type="image/png",
                        headers={"Cache-Control": "max-age=3600"})

    return Starlette(routes=[
        Route("/", page),
        Route("/api/runs", runs),
        Route("/api/map.png", map_picture),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])
