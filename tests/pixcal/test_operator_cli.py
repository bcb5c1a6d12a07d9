"""Operator-facing CLI behaviour: unwritable outputs, binary dumps, USB, safe off, addresses."""

from __future__ import annotations

import json
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from clirun import run_cli
from readonly import readonly_dir  # noqa: F401 (fixture)

from hal.errors import TransportError
from hal.transport import usb
from simulators.servers import TcpServer

DATA = Path(__file__).parents[1] / "data" / "pxar"
FPIX = DATA / "fpix-module-P-A-3-15"
ONE_ROC_EVENT = "a25d 80c0 4030 0043 2628 004b 264d e000 c000"




def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], err


# ------------------------------------------------------------------ unwritable output folders

@pytest.mark.parametrize("command", [
    ["config", "new", "--tbm", "tbm08c", "-o", "{ro}/m.toml"],
    ["config", "new", "-o", "{ro}/sub/m.toml"],
    ["config", "import-pxar", str(FPIX), "-o", "{ro}/m.toml"],
    ["config", "export-pxar", str(FPIX), "-o", "{ro}/pxar"],
])
def test_unwritable_output_is_one_clear_line(capsys, readonly_dir, command):  # noqa: F811
    args = [a.format(ro=readonly_dir) for a in command]
    code, _, err = run_cli(capsys, *args)
    one_line_error(code, err, str(readonly_dir))
    assert list(readonly_dir.iterdir()) == []  # nothing half-written


# ------------------------------------------------------------------ decode

def test_decode_reads_a_binary_dump_of_little_endian_words(capsys, tmp_path):
    words = np.array([int(w, 16) for w in ONE_ROC_EVENT.split()], "<u2")
    dump = tmp_path / "dump.bin"
    words.tofile(dump)
    for extra in ([], ["--file-format", "u16le"]):
        code, out, err = run_cli(capsys, "decode", "--file", dump, "--rocs", "1", "--json", *extra)
        assert code == 0, err
        hits = json.loads(out)["hits"]
        assert [(h["col"], h["row"], h["ph"]) for h in hits] == [(3, 70, 24), (3, 52, 45)]


def test_decode_binary_problems_name_the_file(capsys, tmp_path):
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x5d\xa2\xc0")
    one_line_error(*run_cli(capsys, "decode", "--file", odd)[::2], str(odd), "16-bit words")
    code, _, err = run_cli(capsys, "decode", "--file", odd, "--file-format", "hex")
    one_line_error(code, err, str(odd), "u16le")


# ------------------------------------------------------------------ sim serve

def test_sim_serve_bad_address_names_it_once(capsys):
    code, _, err = run_cli(capsys, "sim", "serve", "sim://modul")
    one_line_error(code, err, "unknown simulated board")
    assert err.count("sim://modul") == 1


# ------------------------------------------------------------------ USB

Desc = namedtuple("Desc", "vid pid bus address sn index description")


def test_board_list_shows_ftdi_devices_with_their_names(capsys, monkeypatch):
    found = [(Desc(0x403, 0x6014, 1, 7, "DTB_WS6MP2", None, "DTB"), 1),
             (Desc(0x403, 0x6014, 2, 3, "FT0XYZ", None, "C232HM"), 1)]
    monkeypatch.setattr(usb, "_pyftdi_devices", lambda: found)
    code, out, err = run_cli(capsys, "board", "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["DTB_WS6MP2", "usb://DTB_WS6MP2"]
    assert "bus 1 address 7" in lines[0]
    assert lines[1].startswith("FT0XYZ") and "not a DTB name" in lines[1]
    code, out, _ = run_cli(capsys, "board", "list", "--json")
    assert [d["url"] for d in json.loads(out)] == ["usb://DTB_WS6MP2", ""]


def test_board_list_asks_pyftdi_for_ft232h_devices(capsys, monkeypatch):
    import sys
    import types

    asked = []

    class Ftdi:
        @staticmethod
        def list_devices(url=None):
            asked.append(url)
            return [(Desc(0x403, 0x6014, 3, 9, "DTB_AB12CD", None, "DTB"), 1)]

    fake = types.ModuleType("pyftdi.ftdi")
    fake.Ftdi = Ftdi
    monkeypatch.setitem(sys.modules, "pyftdi", types.ModuleType("pyftdi"))
    monkeypatch.setitem(sys.modules, "pyftdi.ftdi", fake)
    code, out, err = run_cli(capsys, "board", "list", "--json")
    assert code == 0, err
    assert asked == ["ftdi://0x0403:0x6014/1"]
    assert json.loads(out)[0]["url"] == "usb://DTB_AB12CD"


class NoBackendError(Exception):
    """pyusb's exception when libusb is missing (same name and message)."""


def test_missing_libusb_says_what_to_install(capsys, monkeypatch):
    def no_backend():
        raise NoBackendError("No backend available")

    monkeypatch.setattr(usb, "_pyftdi_devices", no_backend)
    code, _, err = run_cli(capsys, "board", "list")
    one_line_error(code, err, "libusb-1.0", "apt install libusb-1.0-0")

    class Ftdi:
        def open_from_url(self, url):
            raise NoBackendError("No backend available")

        def close(self):
            pass

    with pytest.raises(TransportError, match=r"libusb-1\.0 library is missing.*board list"):
        usb.UsbTransport.open("usb://DTB_WS6MP2", factory=Ftdi)


# ------------------------------------------------------------------ board off

def test_board_off_powers_down_and_confirms(capsys):
    from pixcal.connect import simulated_server

    target = simulated_server("sim://roc?defects=none")
    power = target.handler.power
    power.hv_on, power.on = True, True
    with TcpServer(target) as srv:
        code, out, err = run_cli(capsys, "board", "off", "--target", srv.url)
    assert code == 0, err
    assert "HV off, module off (confirmed: VA 0.000 V, VD 0.000 V)" in out
    assert not power.hv_on and not power.on


# ------------------------------------------------------------------ plan show --estimate

def test_plan_show_estimates_the_hardware_time_of_each_step(capsys, tmp_path):
    from sim_runs import run_steps

    from pixcal.store import RunFile

    url = "sim://roc?seed=1&defects=none"
    code, out, err = run_cli(capsys, "plan", "show", "pretest", "--estimate", "--target", url,
                         "--json")
    assert code == 0, err
    estimate = json.loads(out)["estimated_hardware_s"]
    outcome, _ = run_steps(url, [{"procedure": "pretest"}], tmp_path)
    real = RunFile(outcome.path).step("pretest").hardware_s
    assert estimate["steps"]["pretest"] == pytest.approx(real, abs=0.05) and real > 0.5
    assert estimate["total"] == estimate["steps"]["pretest"]
    code, out, _ = run_cli(capsys, "plan", "show", "pretest", "--estimate", "--target", url)
    assert "estimated hardware time  total" in out
    code, _, err = run_cli(capsys, "plan", "show", "pretest", "--estimate", "--target",
                       "socket://127.0.0.1:1")
    one_line_error(code, err, "socket://127.0.0.1:1", "simulated board")
