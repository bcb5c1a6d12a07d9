"""pytest plugin (entry point ``pixcal_sim``): simulated modules and ROCs as fixtures.

Fixtures
--------
``sim_module``  a :class:`~simulators.physics.SimModule` (16 ROCs, TBM08c by default)
``sim_roc``     a bare single ROC
``sim_module_url`` / ``sim_roc_url``  the equivalent ``sim://`` address (str), for tests that
               connect through a transport; dict defects are written to a temporary TOML file.

Parameters come from the ``sim`` marker (or indirect parametrisation with a dict)::

    @pytest.mark.sim(seed=7, defects={"dead_pixels": [[0, 3, 4]]})
    def test_alive(sim_module):
        assert sim_module.truth.dead_pixels == [[0, 3, 4]]

    @pytest.mark.parametrize("sim_roc", [{"seed": 1}, {"seed": 2}], indirect=True)
    def test_many(sim_roc): ...

Keys: ``seed`` (default 0), ``defects`` (preset name, TOML path, dict of TOML keys, or a
``DefectSpec``; default ``typical``), ``roc``, ``tbm``, ``hub``, ``hdi`` (as in the URL).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

MARKER = "sim"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(seed=0, defects='typical', roc=..., tbm=..., hub=..., hdi=...): "
        "parameters of the sim_module / sim_roc fixtures (pixcal simulator)",
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("@pytest.mark.sim takes keyword arguments only")
        opts.update(marker.kwargs)
    param = getattr(request, "param", None)
    if isinstance(param, dict):
        opts.update(param)
    elif param is not None:
        raise pytest.UsageError("indirect parameters of sim fixtures must be dicts")
    return opts


def _defect_ref(defects: Any, tmp: Path) -> str:
    """A URL value for ``defects`` (dicts and DefectSpecs are written to a TOML file)."""
    import tomli_w

    from simulators.physics.defect_spec import DefectSpec

    if isinstance(defects, str | Path):
        return str(defects)
    if isinstance(defects, DefectSpec):
        table = {f.name: getattr(defects, f.name) for f in fields(defects)}
        table = {k: v for k, v in table.items() if k != "source" and v not in (0, (), None)}
        defects = {k: [list(e) if isinstance(e, tuple) else e for e in v]
                   if isinstance(v, tuple) else v for k, v in table.items()}
    if isinstance(defects, dict):
        path = tmp / "defects.toml"
        path.write_text(tomli_w.dumps(defects), encoding="utf-8")
        return str(path)
    raise pytest.UsageError(f"sim defects must be a name, path, dict or DefectSpec: {defects!r}")


def _url(kind: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    opts = _options(request)
    if "defects" in opts:
        opts["defects"] = _defect_ref(opts["defects"], tmp)
    query = "&".join(f"{k}={v}" for k, v in opts.items())
    return f"sim://{kind}" + (f"?{query}" if query else "")


@pytest.fixture
def sim_module_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``sim://module?...`` address built from the ``sim`` marker."""
    return _url("module", request, tmp_path)


@pytest.fixture
def sim_roc_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``sim://roc?...`` address built from the ``sim`` marker."""
    return _url("roc", request, tmp_path)


@pytest.fixture
def sim_module(request: pytest.FixtureRequest, tmp_path: Path):
    """A simulated 16-ROC module (parameters from the ``sim`` marker or an indirect dict)."""
    from simulators.address import build_module

    return build_module(_url("module", request, tmp_path))


@pytest.fixture
def sim_roc(request: pytest.FixtureRequest, tmp_path: Path):
    """A simulated bare ROC (parameters from the ``sim`` marker or an indirect dict)."""
    from simulators.address import build_module

    return build_module(_url("roc", request, tmp_path))
