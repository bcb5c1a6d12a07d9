"""``sim://`` addresses, the pytest plugin's fixtures and ``pixcal sim truth``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pixcal.cli import cli
from simulators.address import SimAddressError, build_module, parse_sim_url
from simulators.physics import SimModule


def test_parse_module_and_roc_urls():
    s = parse_sim_url("sim://module?seed=7&tbm=tbm09c&hub=15&hdi=fpix&defects=none")
    assert (s.kind, s.seed, s.tbm_type, s.n_rocs, s.hub_id, s.hdi) == (
        "module", 7, "tbm09c", 16, 15, "fpix")
    assert s.roc_type == "psi46digv21respin" and s.defects.source == "none"
    r = parse_sim_url("sim://roc?seed=3&roc=psi46digv2.1")
    assert (r.kind, r.n_rocs, r.tbm_type, r.roc_type) == ("roc", 1, None, "psi46digv21")
    assert parse_sim_url("sim://module").url == parse_sim_url(
        "sim://module?defects=typical&seed=0&tbm=tbm08c").url


@pytest.mark.parametrize(("url", "pattern"), [
    ("http://module", "not a simulator address"),
    ("sim://crate", "unknown simulated board 'crate'"),
    ("sim://module?seed=-1", r"seed=-1 is out of range 0"),
    ("sim://module?seed=abc", "seed='abc' is not an integer"),
    ("sim://module?hub=40", r"hub=40 is out of range 0\.\.31"),
    ("sim://module?tbm=tbm99", "unknown TBM type 'tbm99'"),
    ("sim://module?roc=x", "unknown ROC type 'x'"),
    ("sim://module?hdi=xpix", "hdi='xpix'"),
    ("sim://module?speed=1", "unknown key 'speed'"),
    ("sim://module?seed=1&seed=2", "key 'seed' is given twice"),
    ("sim://roc?tbm=tbm08c", "key 'tbm' only applies to sim://module"),
    ("sim://roc?defects=nonexistent.toml", "nonexistent.toml: cannot read defect file"),
])
def test_bad_urls_name_the_bad_part(url, pattern):
    with pytest.raises(SimAddressError, match=pattern):
        parse_sim_url(url)


def test_same_url_same_module():
    a = build_module("sim://roc?seed=12")
    b = build_module("sim://roc?seed=12")
    assert isinstance(a, SimModule) and a.n_rocs == 1 and a.tbm_type is None
    assert np.array_equal(a.truth.chip.delta, b.truth.chip.delta)
    assert a.truth.defects_dict() == b.truth.defects_dict()


# ---------------------------------------------------------------- pytest plugin fixtures
@pytest.mark.sim(seed=5, defects={"dead_pixels": [[0, 1, 2]], "unprogrammable_rocs": [3]})
def test_plugin_marker_with_dict_defects(sim_module, sim_module_url):
    assert sim_module.seed == 5 and sim_module.n_rocs == 16
    assert sim_module.truth.dead_pixels == [[0, 1, 2]]
    assert sim_module.truth.unprogrammable_rocs == [3]
    assert build_module(sim_module_url).truth.defects_dict() == sim_module.truth.defects_dict()


@pytest.mark.parametrize("sim_roc", [{"seed": 1}, {"seed": 2, "defects": "none"}],
                         indirect=True)
def test_plugin_indirect_parametrisation(sim_roc):
    assert sim_roc.n_rocs == 1 and sim_roc.seed in (1, 2)


@pytest.mark.sim(tbm="tbm10c", hdi="bpix")
def test_plugin_module_options(sim_module):
    assert sim_module.tbm_type.name == "tbm10c" and sim_module.n_links == 8


# ---------------------------------------------------------------- pixcal sim truth
def test_cli_sim_truth_json(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text("dead_pixels = [[1, 2, 3]]\ndead_double_columns = [[4, 5]]\n")
    result = CliRunner().invoke(cli, ["sim", "truth", f"sim://module?seed=3&defects={path}",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["dead_pixels"] == [[1, 2, 3]] and data["dead_double_columns"] == [[4, 5]]
    assert set(data) == {"dead_pixels", "unmaskable_pixels", "address_faults", "missing_bumps",
                         "noisy_pixels", "dead_trim_bits", "unprogrammable_rocs",
                         "dead_double_columns"}


def test_cli_sim_truth_text_and_errors():
    result = CliRunner().invoke(cli, ["sim", "truth", "sim://module?seed=1"])
    assert result.exit_code == 0
    assert "missing_bumps" in result.output and "Vana for 24 mA/ROC" in result.output
    from pixcal.errors import UserError

    bad = CliRunner().invoke(cli, ["sim", "truth", "sim://module?colour=red"])
    assert isinstance(bad.exception, UserError) and "unknown key 'colour'" in str(bad.exception)
