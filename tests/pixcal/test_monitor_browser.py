"""The monitor page in headless Chromium while ``pixcal run`` writes a run on a simulated ROC.

The test reads the run's file every 0.1 s (when each step change was stored) and the page's
DOM right after (when the page showed it): every step's final status, the run's end and a
killed run's red banner must show within 2 s of being stored; nothing may appear on the page's
console. Skipped, saying why, without Chromium. A screenshot is kept in
``$PIXCAL_TEST_ARTIFACTS`` when that variable names a folder.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cdp import CHROMIUM, Browser

from pixcal.monitor.app import create_app
from pixcal.monitor.server import serving
from pixcal.store import RunFile, RunFileError

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                                 "(Debian: apt-get install chromium)"),
              pytest.mark.timeout(240)]

ROOT = Path(__file__).parents[2]
LATENCY_S = 2.0
PLAN = """name = "monitor-test"
dut = "any"
[[steps]]
procedure = "pretest"
[[steps]]
procedure = "alive"
ntrig = 5
[[steps]]
procedure = "scurves"
ntrig = {ntrig}
[[steps]]
procedure = "alive"
name = "alive2"
ntrig = 5
"""

#: what the page shows: step rows, run states, banners, the step shown as current, pictures
PAGE_STATE = """(() => {
  const runs = {};
  for (const s of document.querySelectorAll("section[data-run]")) {
    const alarm = s.querySelector(".alarm");
    const current = s.querySelector("[data-current]");
    runs[s.dataset.run] = {
      state: s.dataset.state,
      alarm: alarm && !alarm.hidden ? alarm.textContent : "",
      current: current ? current.dataset.current : "",
      progress: !!s.querySelector("tr[data-status=running] progress"),
      steps: Object.fromEntries([...s.querySelectorAll("tr[data-step]")].map(
        (r) => [r.dataset.step, r.dataset.status])),
      images: [...s.querySelectorAll("img")].map((i) => [i.alt, i.complete && i.naturalWidth]),
    };
  }
  return runs;
})()"""


@pytest.fixture(scope="module")
def monitor(tmp_path_factory):
    """A folder, the monitor server on it and a browser with the page open."""
    runs = tmp_path_factory.mktemp("monitored")
    with serving(create_app(runs)) as url, Browser(window="1400,6000") as browser:
        browser.open(url)
        yield runs, browser
        _screenshot(browser)


def _screenshot(browser: Browser) -> None:
    keep = os.environ.get("PIXCAL_TEST_ARTIFACTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shot = browser.call("Page.captureScreenshot", format="png")
        (Path(keep) / "monitor-page.png").write_bytes(base64.b64decode(shot["data"]))


def _start_run(folder: Path, module: str, ntrig: int) -> subprocess.Popen:
    plan = folder.parent / f"{module}.toml"
    plan.write_text(PLAN.format(ntrig=ntrig))
    return subprocess.Popen(
        [sys.executable, "-m", "pixcal", "run", str(plan), "--target", "sim://roc?seed=2",
         "-o", str(folder), "-m", module],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def _file_state(path: Path | None) -> dict[str, str]:
    """``{step key: status, "run": status}`` as stored now ({} if not readable yet)."""
    if path is None:
        return {}
    try:
        run = RunFile(path)
        state = {s.key: s.status for s in run.steps()}
        state["run"] = str(run.header()["status"])
    except (RunFileError, OSError, KeyError):
        return {}
    return state


class Observer:
    """First time each (step, status) and run state was stored, and was shown on the page."""

    def __init__(self, browser: Browser, folder: Path, module: str):
        self.browser, self.folder, self.module = browser, folder, module
        self.path: Path | None = None
        self.stored: dict[tuple[str, str], float] = {}
        self.shown: dict[tuple[str, str], float] = {}
        self.page: dict = {}

    def look(self) -> None:
        if self.path is None:
            found = sorted(self.folder.glob(f"{self.module}_*.h5"))
            self.path = found[0] if found else None
        now = time.monotonic()
        for key, status in _file_state(self.path).items():
            self.stored.setdefault((key, status), now)
        if self.path is None:
            return
        self.page = self.browser.evaluate(PAGE_STATE).get(self.path.name, {})
        now = time.monotonic()
        shown = {**self.page.get("steps", {}), "run": self.page.get("state", "")}
        for key, status in shown.items():
            self.shown.setdefault((key, status), now)
        if self.page.get("current"):
            self.shown.setdefault((self.page["current"], "current"), now)
        if self.page.get("progress"):
            self.shown.setdefault((self.page["current"], "progress bar"), now)

    def until(self, done, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, f"page: {self.page}, file: {self.stored}"
            self.look()
            time.sleep(0.1)

    def late(self, what: tuple[str, str], since: float) -> float:
        """Seconds from ``since`` until the page showed ``what`` (inf if it never did)."""
        return self.shown.get(what, float("inf")) - since


def test_page_follows_a_run_step_by_step(monitor):
    folder, browser = monitor
    obs = Observer(browser, folder, "M-LIVE")
    proc = _start_run(folder, "M-LIVE", ntrig=60)  # S-curves long enough to watch
    try:
        obs.until(lambda: proc.poll() is not None)
        obs.until(lambda: obs.page.get("state") == "completed")
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == 0, proc.stderr.read()[-2000:]
    final = {k: s for k, s in obs.stored if s in ("completed", "failed") and k != "run"}
    assert sorted(final) == ["000_pretest", "001_alive", "002_scurves", "003_alive2"]
    for key, status in final.items():  # every step's end within 2 s
        assert obs.late((key, status), obs.stored[(key, status)]) <= LATENCY_S, (key, obs.shown)
    for key in final:  # a step that ran for longer than the delay was shown running
        began, ended = obs.stored.get((key, "running")), obs.stored[(key, final[key])]
        if began is not None and ended - began > LATENCY_S + 0.5:
            assert obs.late((key, "running"), began) <= LATENCY_S, (key, obs.shown)
            assert obs.late((key, "current"), began) <= LATENCY_S
    assert obs.late(("run", "completed"), obs.stored[("run", "completed")]) <= LATENCY_S
    began, ended = obs.stored[("002_scurves", "running")], obs.stored[("002_scurves", "completed")]
    assert ended - began > LATENCY_S + 0.5  # long enough to be watched
    assert obs.late(("002_scurves", "progress bar"), began) <= LATENCY_S  # its progress shown
    assert obs.page["alarm"] == ""
    obs.until(lambda: obs.page["images"] and all(w for _, w in obs.page["images"]), 30)
    assert {"001_alive/alive", "002_scurves/threshold"} <= {a for a, _ in obs.page["images"]}
    assert browser.problems == []


def test_killed_run_shows_the_red_banner(monitor):
    folder, browser = monitor
    obs = Observer(browser, folder, "M-KILLED")
    proc = _start_run(folder, "M-KILLED", ntrig=200)
    try:
        obs.until(lambda: ("002_scurves", "running") in obs.stored)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        killed = time.monotonic()
        obs.until(lambda: obs.page.get("state") == "killed", 30)
    finally:
        proc.kill()
        proc.wait(30)
    assert obs.late(("run", "killed"), killed) <= LATENCY_S
    assert obs.page["alarm"].startswith("run KILLED during step scurves")
    assert browser.evaluate("getComputedStyle(document.querySelector("
                            "'section[data-state=killed] .alarm')).backgroundColor") \
        == "rgb(204, 0, 0)"
    assert browser.problems == []
