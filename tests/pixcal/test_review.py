"""Review plots: the module layout, and every plot kind writes a real PNG (absent data too)."""

from __future__ import annotations

import numpy as np
import pytest

from pixcal.review import plots
from pixcal.review.maps import module_map, pixel_position, roc_origin

PNG = b"\x89PNG\r\n\x1a\n"


def _png(path) -> bytes:
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 2000
    return data


def test_module_map_layout():
    data = np.zeros((16, 52, 80))
    for roc in range(16):
        data[roc] = roc
    data[0, 0, 0] = 100       # ROC 0, first pixel: bottom left
    data[8, 0, 0] = 200       # ROC 8 is rotated: its first pixel is at the top right
    data[15, 51, 0] = 300     # ROC 15, last column, row 0: the top left corner
    image = module_map(data)
    assert image.shape == (160, 416)
    assert image[0, 0] == 100 and image[159, 415] == 200 and image[159, 0] == 300
    assert image[10, 52 * 3 + 5] == 3 and image[100, 415 - 52 * 2 - 5] == 10
    for roc, col, row in [(0, 0, 0), (8, 0, 0), (15, 51, 79), (5, 17, 33), (12, 3, 70)]:
        x, y = pixel_position(roc, col, row)
        assert image[y, x] == data[roc, col, row]
    assert roc_origin(8) == (364, 80, True) and roc_origin(15) == (0, 80, True)


def test_single_roc_map_is_not_rotated():
    data = np.arange(52 * 80, dtype=float).reshape(1, 52, 80)
    image = module_map(data)
    assert image.shape == (80, 52) and image[5, 7] == data[0, 7, 5]


def test_every_plot_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    thr = rng.normal(35, 1, (16, 52, 80))
    thr[2, :3, :3] = np.nan
    noise = np.full_like(thr, 2.3)
    plots.module_map_plot(tmp_path / "map.png", thr, "threshold", "Vcal", marks=np.isnan(thr))
    plots.roc_histograms(tmp_path / "hist.png", thr, "threshold", "Vcal",
                         cuts=[(25, "low"), (45, "high")], per_roc_cuts=list(range(30, 46)))
    plots.roc_histograms(tmp_path / "dac.png", np.round(thr) * 2, "on a DAC grid", "DAC")
    plots.roc_figures_plot(tmp_path / "fig.png", np.arange(16.0), "noise", "e-", [200, 300])
    vcal = np.arange(25, 46)
    counts = np.nan_to_num(50 / (1 + np.exp(-(vcal - thr[..., None]) / 1.5))).astype(np.uint8)
    pixels = plots.choose_pixels(thr, noise)
    assert (2, 0, 0) not in pixels and len(pixels) >= 3
    plots.scurves_plot(tmp_path / "s.png", vcal, counts, 50, pixels, thr, noise)
    v = -np.arange(0, 200, 5.0)
    plots.iv_plot(tmp_path / "iv.png", [("17 C", v, v * 1e-8 - 1e-8)], [2, 10])
    plots.absent(tmp_path / "absent.png", "gain map", "no gainped step in this run")
    for name in ("map", "hist", "dac", "fig", "s", "iv", "absent"):
        _png(tmp_path / f"{name}.png")


def test_dac_grid_bins_are_whole_steps():
    values = np.arange(60, 112, 2.0)
    edges = plots._edges(values, (55.0, 115.0), 60)
    assert np.allclose(np.diff(edges), 2.0)
    centres = (edges[:-1] + edges[1:]) / 2
    assert np.isin(values, centres).all()


@pytest.mark.parametrize("n_rocs", [1, 2])
def test_map_of_few_rocs(tmp_path, n_rocs):
    data = np.ones((n_rocs, 52, 80))
    _png(plots.module_map_plot(tmp_path / "m.png", data, "alive", "hits"))
