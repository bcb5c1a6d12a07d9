"""The explicit package list in pyproject.toml names every package folder, and the shipped test
plans are package data (a non-editable install must have them all)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("hal", "simulators", "pixcal")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set(), f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert config["package-dir"]["pixcal.testplans"] == "testplans"
    assert list((ROOT / "testplans").glob("*.toml"))
