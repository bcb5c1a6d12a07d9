"""Every example command in README.md and in the commands' --help runs as written.

The examples are run in order, in a scratch folder that holds what they name as input: the
shipped ``testplans/``, pXar parameter folders (the real module of tests/data), a binary DAQ
dump, and a results file under the name the help texts use. Examples for a real board
(``usb://``) cannot reach one here: they must end in one clear error line naming the board.
The whole fulltest plan takes minutes on a simulated module (``bench/fulltest.py`` measures it),
so its examples run as written up to and including its first step.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import click
import numpy as np
import pytest

from pixcal.cli import COMMANDS, cli, main
from pixcal.cli.lazy import LazyGroup

ROOT = Path(__file__).parents[1]
FPIX = ROOT / "tests" / "data" / "pxar" / "fpix-module-P-A-3-15"
RUN_NAME = "runs/M1234_pretest_20260101T120000Z.h5"
ONE_ROC_EVENT = [0xA25D, 0x80C0, 0x4030, 0x0043, 0x2628, 0x004B, 0x264D, 0xE000, 0xC000]

pytestmark = pytest.mark.timeout(600)


def readme_examples() -> list[str]:
    """The ``pixcal ...`` lines of README's bash blocks (after ``&&``, without comments)."""
    text = (ROOT / "README.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("pixcal ") or "&& pixcal " in line:
                out.append(line[line.index("pixcal "):])
    return out


def _commands() -> list[click.Command]:
    ctx = click.Context(cli)
    found = [cli]
    todo = [cli.get_command(ctx, name) for name in COMMANDS]
    while todo:
        cmd = todo.pop(0)
        found.append(cmd)
        if isinstance(cmd, click.Group):
            sub = click.Context(cmd)
            names = cmd.lazy if isinstance(cmd, LazyGroup) else cmd.commands
            todo += [cmd.get_command(sub, n) for n in sorted(names)]
    return found


def help_examples() -> list[str]:
    """The ``pixcal ...`` lines under "Example(s)" / "Start here" in every command's help,
    without the explanation that follows them after two spaces."""
    out = []
    for cmd in _commands():
        lines = (cmd.help or "").splitlines()
        for i, line in enumerate(lines):
            if not re.match(r"\s*(Examples?\b|Start here)", line):
                continue
            for example in lines[i + 1:]:
                if not example.strip().startswith("pixcal "):
                    break
                out.append(re.split(r"\s{2,}", example.strip())[0])
    return out


def prepare(scratch: Path) -> None:
    (scratch / "testplans").symlink_to(ROOT / "testplans")
    for name in ("000_FPIXTest_p17", "000_Pretest_p17", "P-A-3-15/000_FPIXTest_p17"):
        shutil.copytree(FPIX, scratch / name)
    np.array(ONE_ROC_EVENT * 8, "<u2").tofile(scratch / "dump.bin")


def run_example(line: str) -> tuple[int, str]:
    argv = []
    for token in shlex.split(line, comments=True)[1:]:
        matches = sorted(glob.glob(token)) if "*" in token else []
        argv += matches or [token]
    try:
        main(argv)
        return 0, ""
    except SystemExit as exc:
        return int(exc.code or 0), ""


def first_step_only(monkeypatch) -> None:
    """``pixcal run`` runs only the first step of the plan it was given."""
    import pixcal.cli.run as run_cli_module

    real = run_cli_module.run_plan

    def run_plan(request, connection, progress=None):
        plan = dataclasses.replace(request.plan, steps=request.plan.steps[:1])
        return real(dataclasses.replace(request, plan=plan), connection, progress)

    monkeypatch.setattr(run_cli_module, "run_plan", run_plan)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def monitor_example(line: str) -> bool:
    """``pixcal monitor``: started as written, its page and runs fetched, then stopped.
    False when the machine already uses the example's port."""
    port = int(line.rsplit("--port", 1)[1].split()[0])
    if not port_free(port):
        return False
    argv = shlex.split(line, comments=True)[1:]
    proc = subprocess.Popen([sys.executable, "-m", "pixcal", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}/", (line, url)
        with urllib.request.urlopen(url, timeout=30) as page:
            assert b"pixcal monitor" in page.read()
        with urllib.request.urlopen(url + "api/runs", timeout=30) as reply:
            assert json.load(reply)["runs"], line  # the runs the examples before it wrote
    finally:
        proc.terminate()
        proc.wait(10)
    return True


def test_every_example_runs_as_written(tmp_path, monkeypatch, capsys):
    examples = readme_examples() + help_examples()
    assert len(examples) >= 25
    assert not [e for e in examples if "..." in e or "<" in e or "XXX" in e]
    prepare(tmp_path)
    monkeypatch.chdir(tmp_path)
    server, busy = None, False
    done: set[str] = set()
    try:
        for line in examples:
            if line in done:
                continue
            done.add(line)
            if " sim serve " in f" {line}":
                port = int(line.rsplit("--port", 1)[1].split()[0])
                if not port_free(port):
                    busy = True
                    continue  # the machine uses that port; the board info example skips too
                argv = shlex.split(line, comments=True)[1:]
                server = subprocess.Popen([sys.executable, "-m", "pixcal", *argv],
                                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
                url = server.stdout.readline().strip()
                if not url and server.wait(10) is not None:  # taken by another process meanwhile
                    server, busy = None, True
                    continue
                assert url == f"socket://127.0.0.1:{port}"
                continue
            if line.startswith("pixcal monitor "):
                monitor_example(line)
                continue
            if "socket://127.0.0.1:" in line and server is None:
                continue
            if RUN_NAME in line and not Path(RUN_NAME).exists():  # a run under the help's name
                shutil.copy(sorted(glob.glob("runs/M1234_pretest_*.h5"))[0], RUN_NAME)
            with monkeypatch.context() as patch:
                if "fulltest" in line:
                    first_step_only(patch)
                code, _ = run_example(line)
            err = capsys.readouterr().err
            if "usb://" in line.split("#")[0] or line.startswith("pixcal board list"):
                # no board here: one clear line naming the board, or what to install
                assert code in (0, 2) if "list" in line else code == 2, (line, err)
                lines = err.strip().splitlines() or [""]
                assert "Traceback" not in err, (line, err)
                assert code == 0 or lines[-1].startswith("error: "), (line, err)
                assert code == 0 or re.search(r"usb://DTB_WS6MP2|pyftdi|libusb", lines[-1])
            else:
                assert code == 0, (line, err)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    assert server is not None or busy  # the sim serve example ran


def test_docs_stand_alone():
    """README and docs/ cite public sources in their own words, never notes or folders that
    are not part of the project."""
    outside = re.compile(r"reference/\w+\.md|\.\./shared|/work/shared|shared/fixtures|"
                         r"fixtures/pxar")
    docs = sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "tests").rglob("README.md"))
    for path in [ROOT / "README.md", *docs]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            assert not outside.search(line), f"{path.name}:{number}: {line}"
