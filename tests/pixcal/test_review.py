"""Review plots: the module layout, and every plot kind writes a real PNG (absent data too)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixcal.review import plots, raster, svgplot, termmaps
from pixcal.review import plots_readout as pr
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
    vcal = np.arange(25, 46)
    pixels = plots.choose_pixels(thr, noise)
    assert (2, 0, 0) not in pixels and len(pixels) >= 3
    counts = np.stack([50 / (1 + np.exp(-(vcal - thr[p]) / 1.5)) for p in pixels])
    plots.scurves_plot(tmp_path / "s.png", vcal, counts, 50, pixels, [thr[p] for p in pixels],
                       [noise[p] for p in pixels])
    v = -np.arange(0, 200, 5.0)
    plots.iv_plot(tmp_path / "iv.png", [("17 C", v, v * 1e-8 - 1e-8)], [2, 10])
    score = np.full((2, 8, 8), 10)
    score[:, :2] = 3
    pr.phase_grid_plot(tmp_path / "phase.png", score, 10, [[4, 2, 2], None], ["a", "b"], "t")
    bias = np.arange(0, 40.0)
    rssi = np.stack([np.stack([0.01 * np.maximum(bias - 10, 0) + 0.03 * np.maximum(bias - 25, 0),
                               np.zeros_like(bias)])] * 2)
    knee = np.array([[10.0, np.nan]] * 2)
    pr.rssi_plot(tmp_path / "rssi.png", bias, rssi, [1, 2], [0, 1], knee, knee + 15,
                 np.array([[0, 1]] * 2), np.array([[28.0, np.nan]] * 2), 2)
    resp = np.zeros((2, 3, 4, 10), np.uint16)
    resp[:, :, 1, 3:7] = 20
    pr.timing_plot(tmp_path / "timing.png", resp, [80, 81, 82, 83], list(range(0, 100, 10)), 20,
                   [81, 81], [50, 40])
    t = 1.7e9 + np.arange(30.0) * 10
    pr.monitor_plot(tmp_path / "monitor.png", {"ia_a": (np.stack([t, t * 0 + 0.4], 1), "A")})
    for name in ("s", "iv", "phase", "rssi", "timing", "monitor"):
        _png(tmp_path / f"{name}.png")


def test_three_segment_line_is_recovered_from_its_knees():
    x = np.arange(0, 60.0)
    y = 0.2 + 0.01 * np.maximum(x - 12, 0) + 0.05 * np.maximum(x - 31, 0)
    assert np.allclose(pr.three_segment(x, y, 12, 31), y)


def test_dac_grid_bins_are_whole_steps():
    values = np.arange(60, 112, 2.0)
    edges = svgplot.bin_edges(values, (55.0, 115.0), 60)
    assert np.allclose(np.diff(edges), 2.0)
    centres = (edges[:-1] + edges[1:]) / 2
    assert np.isin(values, centres).all()


def _rgba(path):
    return np.asarray(Image.open(path).convert("RGBA"))


def test_pixel_map_is_one_png_pixel_per_detector_pixel(tmp_path):
    data = np.zeros((16, 52, 80))
    data[8, 0, 0] = 1.0          # ROC 8 rotated: its first pixel is the module's top right
    data[0, 5, 0] = np.nan       # drawn in the background colour
    marks = np.zeros(data.shape, bool)
    marks[8, 0, 0] = True
    m = raster.pixel_map(tmp_path / "m.png", data, "t", "u", vmin=0, vmax=1, cmap="gray",
                         marks=marks, background="#ff0000")
    png = _rgba(tmp_path / "m.png")
    assert png.shape == (160, 416, 4) and (m.width, m.height) == (416, 160)
    assert tuple(png[0, 415]) == (255, 255, 255, 255)       # top row = y 159
    assert tuple(png[159, 5]) == (255, 0, 0, 255)            # ROC 0 (5, 0): bottom row
    assert tuple(png[159, 6]) == (0, 0, 0, 255)
    assert m.marks == [(415.5, 0.5, "ROC 8 col 0 row 0")]
    assert len(m.frames) == 16 and m.frames[8]["rotated"] and m.frames[0]["y"] == 80
    one = raster.pixel_map(tmp_path / "r.png", data, "t", "u", vmin=0, vmax=1, cmap="gray",
                           marks=marks, roc=8)
    png = _rgba(tmp_path / "r.png")
    assert png.shape == (80, 52, 4) and tuple(png[79, 0]) == (255, 255, 255, 255)
    assert one.marks == [(0.5, 79.5, "ROC 8 col 0 row 0")]
    many = raster.pixel_map(tmp_path / "d.png", data, "t", "u", marks=np.ones(data.shape, bool))
    assert len(many.marks) == raster.MAX_MARKS
    assert many.marks_left_off == data.size - raster.MAX_MARKS


def test_histogram_geometry_counts_and_cuts():
    values = np.array([1.0] * 9 + [2.0] * 90 + [np.nan] * 3)
    h = svgplot.histogram(values, "t", "Vcal", cuts=[(0.5, "low"), (1e6, "far")],
                          range_=(0.0, 3.0), bins=3)
    assert h.path.count("M") == 2 and h.entries == 99
    assert [name for _, name in h.cuts] == ["low"]
    assert "3 without a value" in h.note and "far at 1e+06 is off the scale" in h.note
    assert [t for _, t in h.yticks] == ["1", "10"]


def test_roc_points_place_values_and_cuts():
    values = np.array([100.0, np.nan, 250.0])
    p = svgplot.roc_points(values, "mean noise", "e-", [(200, "B"), (300, "C"), (5000, "far")])
    _, y0, _, y1 = p.box
    assert [text for _, _, text in p.points] == ["ROC 0: 100", "ROC 2: 250"]
    heights = {name: (y1 - y) / (y1 - y0) for y, name in p.cuts}
    assert set(heights) == {"B", "C"} and np.isclose(heights["C"], 1 / 1.1)
    assert np.isclose((y1 - p.points[1][1]) / (y1 - y0), 250 / 330)
    assert "ROC 1: no value" in p.note and "far (5000) is off the scale" in p.note


@pytest.mark.parametrize("n_rocs", [1, 2])
def test_map_of_few_rocs(tmp_path, n_rocs):
    data = np.ones((n_rocs, 52, 80))
    m = raster.pixel_map(tmp_path / "m.png", data, "alive", "hits")
    assert _rgba(tmp_path / "m.png").shape == (80, 52 * n_rocs, 4) and len(m.frames) == n_rocs


def test_terminal_map_blocks_and_colours():
    data = np.zeros((16, 52, 80))
    data[8] = 1.0                              # the top right ROC (rotated) at full scale
    lines = termmaps.render(data, 0.0, 1.0, factor=4, colour=True, cmap="gray")
    assert len(lines) == 160 // 4 // 2 and all(len(t.plain) == 416 // 4 for t in lines)
    top = lines[0].spans
    assert str(top[-1].style) == "#ffffff on #ffffff" and str(top[0].style) == "#000000 on #000000"
    ramp = termmaps.render(data, 0.0, 1.0, factor=4, colour=False)
    assert len(ramp) == 20 and ramp[0].plain == " " * 91 + "@" * 13
    assert termmaps.factor_for(100) == 5
    half = termmaps.reduce(np.array([[1.0, np.nan], [3.0, np.nan]]), 2)
    assert half.shape == (1, 1) and half[0, 0] == 2.0
