"""The report's sections, one builder per procedure: which figures a step's data gives.

A builder gets the step (or ``None`` when the run has no such step), a :class:`Context` to
read data and place figures, and returns a :class:`Section`. Data that is missing - no step,
a step that did not complete, a dataset the step did not write - gives a figure that says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixcal.review import plots
from pixcal.review.quantities import QUANTITIES, quantity_values
from pixcal.review.raster import PixelMap, pixel_map
from pixcal.review.svgplot import Histogram, Points, histogram, roc_points
from pixcal.store import RunFile, RunFileError, StepInfo


@dataclass
class Figure:
    """One PNG of the report."""

    file: str
    caption: str


@dataclass
class Absent:
    """A plot the run has no data for, and why."""

    title: str
    why: str


@dataclass
class Section:
    """One part of the report page: PNG figures, pixel maps, SVG histograms, absent plots."""

    id: str
    title: str
    status: str
    note: str = ""
    figures: list[Figure] = field(default_factory=list)
    maps: list[PixelMap] = field(default_factory=list)
    histograms: list[Histogram] = field(default_factory=list)
    points: list[Points] = field(default_factory=list)
    absent: list[Absent] = field(default_factory=list)


@dataclass
class Context:
    """What a builder needs: the run, the output folder, the cuts and the grade's defects."""

    run: RunFile
    out: Path
    cuts: dict[str, Any]
    defects: dict[str, np.ndarray]
    jobs: list[tuple[Callable[..., Path], tuple, dict]] = field(default_factory=list)
    cache: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    steps: list[StepInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.steps = self.steps or self.run.steps()

    def last(self, procedure: str) -> StepInfo | None:
        """The last step of a procedure, or None."""
        found = [s for s in self.steps if s.procedure == procedure]
        return found[-1] if found else None

    def data(self, step: StepInfo | None, name: str) -> tuple[np.ndarray | None, str]:
        """A dataset of a completed step (read once), or ``(None, why it is missing)``."""
        if step is None:
            return None, "the run has no such step"
        if step.status != "completed":
            return None, f"step {step.key} {step.status}" + (f": {step.error}" if step.error
                                                             else "")
        if name not in step.datasets:
            return None, f"step {step.key} has no dataset {name!r}"
        if (step.key, name) not in self.cache:
            try:
                self.cache[step.key, name] = self.run.dataset(step.key, name)
            except RunFileError as exc:  # e.g. the run's .h5.d folder was not copied with it
                return None, str(exc).split(": ", 1)[-1]
        return self.cache[step.key, name], ""

    def png(self, name: str) -> Path:
        return self.out / f"{name}.png"

    def draw(self, plot: Callable[..., Path], file: Path, *args: Any, **kw: Any) -> Path:
        """Record a plot to draw later (:meth:`render`); returns the file it will write."""
        self.jobs.append((plot, (file, *args), kw))
        return file

    def render(self, workers: int = 1) -> None:
        """Draw every recorded plot, in ``workers`` processes when more than one."""
        jobs, self.jobs = self.jobs, []
        if workers <= 1 or len(jobs) < 2:
            for plot, args, kw in jobs:
                plot(*args, **kw)
            return
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            for done in [pool.submit(plot, *args, **kw) for plot, args, kw in jobs]:
                done.result()

    def histogram(self, section: Section, key: str, title: str) -> None:
        """The SVG distribution of a quantity (:data:`QUANTITIES`), all pixels, with the cuts
        every ROC shares."""
        q = next(q for q in QUANTITIES if q.key == key)
        values, step, why = quantity_values(self, q)
        if values is None:
            section.absent.append(Absent(title, why))
            return
        section.histograms.append(histogram(values, title, q.label, cuts=q.cuts(self, step, None)))

    def add(self, section: Section, path: Path, caption: str) -> None:
        section.figures.append(Figure(path.name, caption))

    def map_or_absent(self, section: Section, step: StepInfo | None, name: str, title: str,
                      label: str, transform: Callable[[np.ndarray], np.ndarray] | None = None,
                      **kw: Any) -> np.ndarray | None:
        """A module map of one dataset (or a note saying why there is none)."""
        data, why = self.data(step, name)
        if data is None:
            section.absent.append(Absent(title, why))
            return None
        shown = transform(data) if transform else data
        section.maps.append(pixel_map(self.png(f"{section.id}_{name}_map"), shown, title, label,
                                      **kw))
        return data


def step_section(step: StepInfo | None, sid: str, title: str) -> Section:
    if step is None:
        return Section(sid, title, "missing", "This run has no such step.")
    note = step.error if step.status != "completed" else ""
    return Section(sid, f"{title} ({step.key})", step.status, note)


def alive_section(ctx: Context, step: StepInfo | None) -> Section:
    sec = step_section(step, "alive", "PixelAlive, mask and address decoding")
    ntrig = step.params.get("ntrig", 10) if step else 10
    alive, _ = ctx.data(step, "alive")
    ctx.map_or_absent(sec, step, "alive", "alive map (responses; circles: dead pixels)",
                      f"hits of {ntrig}", vmin=0, vmax=ntrig, cmap="viridis",
                      marks=None if alive is None else alive == 0)
    ctx.map_or_absent(sec, step, "mask", "mask test (-1 defect, 0 dead, +1 ok)", "mask",
                      vmin=-1, vmax=1, cmap="RdYlGn")
    ctx.map_or_absent(sec, step, "address", "address decoding (-1 wrong, 0 no hit, +1 ok)",
                      "address", vmin=-1, vmax=1, cmap="RdYlGn")
    return sec


def bump_section(ctx: Context, step: StepInfo | None) -> Section:
    sec = step_section(step, "bumpbond", "Bump bonding")
    defect, _ = ctx.data(step, "bb_defect")
    ctx.map_or_absent(sec, step, "bb_threshold", "bump-bond turn-on (VthrComp; circles: "
                      "missing bumps)", "VthrComp (DAC)", cmap="viridis",
                      marks=None if defect is None else defect == 1)
    ctx.histogram(sec, "bb_threshold", "VthrComp turn-on, all pixels (each ROC's own cut is "
                  "drawn on its ROC page)")
    return sec


def trim_section(ctx: Context, step: StepInfo | None) -> Section:
    sec = step_section(step, "trim", "Trimming")
    ctx.map_or_absent(sec, step, "trims", "trim bits (15 = no correction)", "trim",
                      vmin=0, vmax=15, cmap="viridis")
    ctx.map_or_absent(sec, step, "threshold", "threshold after trimming (verification)",
                      "Vcal (DAC)", cmap="viridis")
    return sec


def trimbits_section(ctx: Context, step: StepInfo | None) -> Section:
    sec = step_section(step, "trimbits", "Trim-bit test")
    dead, _ = ctx.data(step, "dead_trim_bits")
    ctx.map_or_absent(sec, step, "dead_trim_bits", "dead trim bits per pixel (circled)",
                      "dead bits", transform=lambda d: np.asarray(d, bool).sum(axis=-1),
                      vmin=0, vmax=4, cmap="magma_r",
                      marks=None if dead is None else np.asarray(dead, bool).any(axis=-1))
    return sec


def scurves_section(ctx: Context, step: StepInfo | None) -> Section:
    sec = step_section(step, "scurves", "S-curves: threshold and noise")
    rc = ctx.cuts["roc"]
    e = float(ctx.cuts["electrons_per_vcal"])
    thr = ctx.map_or_absent(sec, step, "threshold", "threshold", "Vcal (DAC)")
    noise = ctx.map_or_absent(sec, step, "noise", "noise (S-curve width)", "electrons",
                              transform=lambda d: d * e)
    if thr is None or noise is None:
        return sec
    ctx.histogram(sec, "threshold", "threshold, all pixels (dashed: the trim-defect cuts)")
    ctx.histogram(sec, "noise", "noise, all pixels (dashed: the noise-defect cuts)")
    _roc_figure(sec, np.nanmean(noise.reshape(len(noise), -1), axis=1) * e,
                "mean noise per ROC", "electrons", rc["noise_mean_e"])
    _roc_figure(sec, np.nanstd(thr.reshape(len(thr), -1), axis=1) * e,
                "threshold width per ROC", "electrons", rc["threshold_width_e"])
    counts, why = ctx.data(step, "counts")
    vcal, _ = ctx.data(step, "vcal")
    if counts is None or vcal is None:
        sec.absent.append(Absent("S-curves of chosen pixels", why))
    else:
        pixels = plots.choose_pixels(thr, noise)
        ntrig = int(step.params.get("ntrig", counts.max() or 1))
        picked = np.stack([counts[p] for p in pixels])
        ctx.add(sec, ctx.draw(plots.scurves_plot, ctx.png("scurves_examples"), vcal, picked,
                              ntrig, pixels, [float(thr[p]) for p in pixels],
                              [float(noise[p]) for p in pixels]),
                "S-curves of a typical pixel, the highest and lowest threshold, the noisiest")
    return sec


def _roc_figure(sec: Section, values: np.ndarray, title: str, label: str,
                cuts: list[float]) -> None:
    """A per-ROC figure (SVG) with its B and C cuts."""
    named = [(c, f"{g} above {c:g}") for c, g in zip(cuts, ("B", "C"), strict=False)]
    sec.points.append(roc_points(values, f"{title} (dashed: the B and C cuts)", label, named))


def gainped_section(ctx: Context, step: StepInfo | None) -> Section:
    sec = step_section(step, "gainped", "Gain and pedestal")
    gain = ctx.map_or_absent(sec, step, "gain", "gain", "ADC per Vcal")
    ped = ctx.map_or_absent(sec, step, "pedestal", "pedestal", "ADC")
    if gain is None or ped is None:
        return sec
    rc = ctx.cuts["roc"]
    e = float(ctx.cuts["electrons_per_vcal"])
    ctx.histogram(sec, "inverse_gain", "1/gain, all pixels (dashed: the gain-defect cuts)")
    ctx.histogram(sec, "pedestal", "pedestal, all pixels (each ROC's outlier band is drawn "
                  "on its ROC page)")
    with np.errstate(divide="ignore", invalid="ignore"):
        ped_vcal = ped / gain
    flat = gain.reshape(len(gain), -1)
    rel = np.nanstd(flat, axis=1) / np.nanmean(flat, axis=1)
    _roc_figure(sec, rel, "relative gain width per ROC", "σ/mean",
                rc["gain_rel_width"])
    spread = np.nanstd(ped_vcal.reshape(len(gain), -1), axis=1) * e
    _roc_figure(sec, spread, "pedestal spread per ROC", "electrons",
                rc["pedestal_spread_e"])
    return sec


DEFECT_COLOURS = ["#000000", "#ff7f0e", "#9467bd", "#8c564b", "#d62728", "#1f77b4",
                  "#2ca02c", "#17becf", "#bcbd22", "#e377c2"]


def defect_code(defects: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]] | None:
    """``(code [roc, col, row], classes)``: 1 + the index of a pixel's first class, NaN if
    none; None when the run has no defect maps."""
    from pixcal.analysis.grading import DEFECT_CLASSES

    present = [c for c in DEFECT_CLASSES if c in defects]
    if not present:
        return None
    code = np.full(defects[present[0]].shape, np.nan)
    for i, name in reversed(list(enumerate(present))):
        code[defects[name]] = i + 1
    return code, present


def defect_map(ctx: Context, file: Path, roc: int | None = None) -> PixelMap | None:
    """The pixel-defect map: every defect circled, coloured by its first class."""
    from matplotlib.colors import ListedColormap

    coded = defect_code(ctx.defects)
    if coded is None:
        return None
    code, present = coded
    names = np.full(code.shape, "", object)
    for name in present:
        names[ctx.defects[name]] += name + " "
    colours = DEFECT_COLOURS[:len(present)]
    return pixel_map(file, code, "pixel defects (circled), coloured by their first class",
                     "defect class", vmin=0.5, vmax=len(present) + 0.5,
                     cmap=ListedColormap(colours), marks=np.isfinite(code), mark_names=names,
                     background="white", legend=list(zip(colours, present, strict=True)),
                     roc=roc)


def defects_section(ctx: Context) -> Section:
    """Every graded pixel defect on one map, coloured by its first class."""
    sec = Section("defects", "Pixel defects (graded)", "completed")
    found = defect_map(ctx, ctx.png("defects_map"))
    if found is None:
        sec.absent.append(Absent("pixel defects", "no electrical test in this run"))
    else:
        sec.maps.append(found)
    return sec


def iv_section(ctx: Context, steps: list[StepInfo]) -> Section | None:
    ivs = [s for s in steps if s.procedure == "iv"]
    if not ivs:
        return None
    sec = Section("iv", "Sensor IV", "completed")
    curves = []
    for s in ivs:
        v, why = ctx.data(s, "voltage_v")
        i, why_i = ctx.data(s, "current_a")
        if v is None or i is None:
            sec.note += f"{s.key}: {why or why_i}. "
            continue
        t = s.summary.get("temperature_c", s.params.get("temperature_c"))
        curves.append((f"{s.key}" + (f" at {t:g} °C" if isinstance(t, int | float) else ""),
                       v, i))
    if curves:
        ctx.add(sec, ctx.draw(plots.iv_plot, ctx.png("iv"), curves,
                              ctx.cuts["iv"]["current_150v_ua"]),
                "IV curves (log scale) with the I(150 V) cuts")
    else:
        sec.absent.append(Absent("IV", sec.note))
    return sec


#: procedure -> builder, in the order the report shows them
BUILDERS: dict[str, Callable[[Context, StepInfo | None], Section]] = {
    "alive": alive_section,
    "bumpbond": bump_section,
    "trim": trim_section,
    "trimbits": trimbits_section,
    "scurves": scurves_section,
    "gainped": gainped_section,
}
