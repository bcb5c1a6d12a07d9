"""Fixtures shared by the pixcal tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def defects_file(tmp_path):
    """Write a defect spec (TOML text) and return its path."""
    def write(text: str) -> Path:
        path = tmp_path / "defects.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
