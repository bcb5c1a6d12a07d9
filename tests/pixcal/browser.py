"""A page rendered in headless Chromium (Debian's ``chromium`` package), as a test sees it.

:func:`check_page` loads a report page from disk and reads back what the page recorded on
load (how many images it has, which failed to decode) and every message on its console.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--enable-logging=stderr", "--v=0"]
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                                    "(Debian: apt-get install chromium chromium-driver)")


def chromium(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run headless Chromium with a fresh profile."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120, cwd=cwd)


def check_page(page: Path, cwd: Path) -> str:
    """Assert the page loads with every image decoded and nothing on its console; returns
    the DOM as rendered."""
    n_images = len(re.findall(r"<img ", page.read_text()))
    done = chromium(["--virtual-time-budget=10000", "--dump-dom", page.as_uri()], cwd)
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body, f"no page rendered: {done.stderr[-500:]}"
    attrs = dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', body.group(0)))
    assert attrs.get("data-images") == str(n_images), attrs
    assert attrs.get("data-broken-images") == "", f"images that did not load: {attrs}"
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], f"messages on the page's console: {console}"
    return done.stdout
