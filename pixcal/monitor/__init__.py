"""``pixcal monitor``: a web page that follows the runs in a folder from their files alone.

:mod:`runs` reads the run files (never the board), :mod:`liveness` tells a running run from a
killed one without taking a lock, :mod:`app` serves the page and its JSON, :mod:`server` runs
it with uvicorn. See docs/monitor.md.
"""
