"""The numbers behind the module model, with the facts each was fitted to.

Everything random in the model is drawn from these distributions (means, spreads) once per
module seed; ``docs/simulator.md`` lists them with the real figure beside the simulated one.
Units: charge in low-range Vcal DAC units ("Vcal"), time in ns, currents in mA, PH in ADC
counts. "Real" below means the FPIX module P-A-3-15 (shared/fixtures, 16 psi46digv21respin ROCs).

Anchors: several quantities are anchored to the ROC type's mkConfig defaults
(``hal.chips.dac_defaults``) so that a fresh module works with default DACs: the threshold at the
default VthrComp, the CalDel window centre near the default CalDel, the analog current at the
default Vana, the PH reference point at the default PHScale/PHOffset.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ThresholdModel:
    """Pixel threshold (50 % point of the erf S-curve) and noise, in Vcal.

    ``thr = thr_default_roc + delta_pix - slope_roc * (VthrComp - VthrComp_default)
    - trim_shift(Vtrim, 15 - trim_eff)`` where ``trim_eff`` is the programmed trim with dead trim
    bits stuck at 1 and (see :func:`simulators.physics.frontend.trim_shift`)::

        trim_shift = g * (trim_offset_x * (1 - exp(-Vtrim / trim_offset_vtrim))
                          + x / (1 + x / trim_sat_x) + trim_lin * x),   x = Vtrim * (15 - trim_eff)

    with ``g = trim_gain_pix`` (Vcal per Vtrim DAC x trim step at small currents). The trim current
    is Vtrim x steps; part of its effect saturates early, the rest stays linear (real: one step at
    Vtrim 254 moves the threshold by ~9.9 Vcal, fifteen steps at Vtrim ~106 by ~24, and the
    Vtrim pXar picks varies over ROCs by only 18 DAC: the effect must still rise there), and
    any Vtrim > 0 lowers every pixel a little (real: 2.1 % of the pixels end at trim 15 with a
    threshold ~1 Vcal below the target).
    """

    thr_at_default_mean: float = 73.9  # real: mean 45-50 at VthrComp ~100 (trim log), slope below
    thr_at_default_sd: float = 8.0  # per ROC; real trimmed VthrComp 91..109 (sd ~5 DAC)
    slope_mean: float = 1.86  # Vcal per VthrComp DAC; real ROC 5: 250 Vcal at 2, 50.3 at 109
    slope_sd: float = 0.08
    pixel_sd: float = 4.2  # untrimmed dispersion (mean over ROCs); real min/mean/max 33/45/57
    # the real distribution has short tails (per-ROC max - min 22.7..30.9 = ~6.2 sd, a Gaussian
    # of 4160 pixels spans ~7.3 sd): a Gaussian plus a uniform part with this share of variance
    pixel_uniform_share: float = 0.5
    pixel_sd_roc_sd: float = 0.3  # ROC-to-ROC spread of it (real per-ROC max-min: sd 2.5 Vcal)
    # fitted to the trim-bit test (9.3 Vcal at x = 254) and trimming (24 Vcal at x ~ 1500)
    trim_gain_mean: float = 0.04359  # Vcal per (Vtrim DAC x step), small-current slope
    trim_sat_x: float = 300.0  # Vtrim x steps at which the saturating part is half its linear one
    trim_lin: float = 0.1804  # the part that stays linear, relative to the small-current slope
    trim_offset_x: float = 30.0  # x gain = 1.3 Vcal every pixel loses once Vtrim is on
    trim_offset_vtrim: float = 8.0  # Vtrim DAC scale of that offset
    # per ROC the small-current gain varies (real trim-bit test per ROC 8.0-11.7 Vcal) while the
    # full-range effect follows it only in part (real Vtrim after trimming is unrelated to it):
    # the ROC's gain scales the offset and the saturating part, not the linear one
    trim_gain_roc_sd: float = 0.15  # relative
    # relative pixel spread of the trim step: the highest pixel's own gain sets Vtrim (real
    # Vtrim sd 17.7 over ROCs; 0.08 gives 26) and few pixels end at trim 1 (real 0.45 %)
    trim_gain_rel_sd: float = 0.04
    noise_mean: float = 2.28  # erf sigma; real SCurveData_C0/C1 (moment estimator): 2.33 / 2.23
    noise_roc_rel_sd: float = 0.026  # per-ROC mean noise; real (pXar log / C0 vs C1) ~2.6 %
    noise_rel_sd: float = 0.043  # real measured RMS 0.121 / 0.111 minus the 200-trigger error
    # slow threshold fluctuation, constant over the consecutive triggers of one scan point and
    # redrawn for the next: counts are overdispersed against the binomial (real erf fits to the
    # Ntrig-200 S-curves: chi2/ndf ~2x what pure binomial counts give)
    threshold_jitter: float = 0.24
    # per trigger the comparator needs an extra overdrive, exponential with this mean (the turn-on
    # of real S-curves is right-skewed: fitted with an erf, the interpolated 50 % point lies
    # 0.11-0.14 Vcal below the fit's, the data below the fit at +-1.75 sigma and above it near 0)
    turn_on_tail: float = 1.3
    # sensor edge pixels are larger: more capacitance, more noise (real C0+C1 over the interior)
    edge_col_noise: float = 1.045  # columns 0 and 51
    edge_row_noise: float = 1.022  # row 79
    corner_noise: float = 1.12  # (0, 79) and (51, 79)
    noisy_factor_min: float = 1.25  # noisy-pixel defect: S-curve wider by a factor uniform in
    noisy_factor_max: float = 1.6  # (real noisiest pixel of C0/C1: 2.74 = 1.2 x the median)
    noisy_rate_min: float = 0.002  # noisy-pixel defect: random hits per trigger, log-uniform in
    noisy_rate_max: float = 0.02
    rice_rate_per_bc: float = 0.3  # noise firing per BC = this * exp(-thr^2 / (2 noise^2))
    frontend_on_ia_ma: float = 14.0  # below this analog current the front end is off
    frontend_on_width_ma: float = 1.0


@dataclass(frozen=True)
class PulseHeightModel:
    """``PH = g_roc * (PHScale / scale_ref) * (p3 * (erf((Q - p0) / p1) + p2) + tail(Q))
    + offset_slope * (PHOffset - offset_ref) + o_roc``; the ADC clips each hit (after its noise)
    to 0..255.

    p0..p3 per pixel from the real phCalibrationFitErr35_C0/C1 fits (scale 78, offset 170).
    Those fits were made to clipped data (their asymptote is 255.0 for every pixel), so the
    analog curve keeps rising above the erf: ``tail(Q) = tail_slope * tail_w *
    softplus((Q - tail_q) / tail_w)`` (real: the erf fit is 3.2 ADC above the data at high-range
    Vcal 70 and 2.2 below at 90, and every pixel reads 255 at high-range Vcal 200).
    """

    # p0, p1, p2, p3: means, sds and correlations of the real C0+C1 fits (8320 pixels); the
    # fit parameters are strongly correlated (p2/p3: -0.99), so they are drawn jointly.
    p_mean: tuple[float, float, float, float] = (362.69, 409.25, 1.0069, 127.29)
    p_sd: tuple[float, float, float, float] = (16.08, 23.36, 0.0811, 4.876)
    p_corr: tuple[tuple[float, ...], ...] = (
        (1.0, 0.796, -0.635, 0.578),
        (0.796, 1.0, -0.740, 0.731),
        (-0.635, -0.740, 1.0, -0.992),
        (0.578, 0.731, -0.992, 1.0),
    )
    scale_ref_factor: float = 1.2  # scale_ref = 1.2 x default PHScale (respin: 78, real final)
    offset_ref_shift: float = -15.0  # offset_ref = default PHOffset - 15 (respin: 170, real)
    offset_slope: float = 0.9  # ADC counts per PHOffset DAC
    roc_gain_sd: float = 0.08  # real chosen PHScale 63..80 (pXar PH optimisation, 16 ROCs)
    roc_offset_sd: float = 10.0  # ADC counts; real chosen PHOffset 159..197
    hit_sd: float = 3.0  # PH noise of one hit, ADC (before the ADC clips); real fit residuals
    tail_q: float = 560.0  # Vcal where the rise beyond the erf sets in
    tail_w: float = 40.0
    tail_slope: float = 0.08  # ADC counts per Vcal far above tail_q
    high_range_mean: float = 7.0  # CtrlReg bit 2: 1 high-range unit = this many Vcal
    high_range_sd: float = 0.1


@dataclass(frozen=True)
class TimingModel:
    """When a hit is seen: the CalDel x VthrComp window ("tornado") and the WBC latency.

    The comparator fires ``u = (CalDel - c0) * caldel_ns + walk(Q - thr)`` ns after the
    reference time; the hit is read out iff ``round(u / bc_ns) == tct - WBC - wbc_offset``,
    smeared by ``jitter_ns``. ``walk(d) = walk_max_ns * walk_vcal / (d + walk_vcal)`` minus its
    value at large overdrive, so the window (62.5 CalDel wide) moves to lower CalDel near the
    threshold (low VthrComp) and collapses where the threshold goes below 0 (high VthrComp).
    """

    caldel_ns: float = 0.4  # reference/dtb.md §2.4: CalDel ~0.4 ns per DAC
    bc_ns: float = 25.0
    # tct = clocks from CAL to TRG as the PG plays them (entry delay + 1): pXar's default entry
    # "calibrate WBC+6" gives tct = WBC + 7, in time at CalDel ~125 (pitzl: WBC = tct - 7)
    wbc_offset: int = 7
    walk_max_ns: float = 9.0
    walk_vcal: float = 15.0
    walk_ref_vcal: float = 120.0  # overdrive at which c0 is the window centre
    jitter_ns: float = 0.5
    c0_shift: float = -6.0  # c0 mean = default CalDel + shift; real chosen 108..143
    c0_roc_sd: float = 10.0
    c0_roc_clip: float = 15.0  # |c0 - mean| <= this keeps the default CalDel inside the window
    c0_pixel_sd: float = 1.0
    cals_coupling_mean: float = 0.05  # fraction of the Vcal charge reaching the preamp via CALS
    cals_coupling_rel_sd: float = 0.08


@dataclass(frozen=True)
class CurrentModel:
    """Analog/digital currents per ROC and the readback ADC.

    ``Ia = ia0 + ia_amp * tanh((Vana / tau) ** ia_power)``; tau is anchored so that the ROC
    type's default Vana gives ``ia0 + ia_amp * tanh(ia_anchor)`` (~23.1 mA, respin: Vana 81).
    The power makes the current rise faster near the working point than on average (real
    P-A-3-15 setVana readings: 0.18..0.34 mA per Vana DAC, median 0.25, while Vana 0 -> default
    changes Ia by only 16.9..19.3 mA).
    ``Id = id0 + id_per_vdig * Vdig + id_per_rate * sum(noise firing per BC)``.
    """

    # real: the module draws 70.7 mA with every Vana at 0 (pXar's setVana offset 66.28 = 15/16 of
    # it), dIa(Vana 78 vs 0) 16.9..19.3 per ROC (programROC), Ia at Vana 78 21.3..23.7 mA
    ia0_mean: float = 4.5
    ia0_sd: float = 0.5
    ia_amp: float = 38.5  # -> ~44 mA at Vana 255 (reference/dtb.md §6)
    ia_anchor: float = 0.5272  # atanh(18.6 / 38.5): default Vana (81) -> 23.1 mA
    ia_power: float = 1.37  # slope at the default Vana ~0.25 mA/DAC
    # per ROC the slope varies (real setVana fits: 0.19..0.34 mA/DAC, sd 16 %) while Vana for
    # 24 mA stays within 79..89, the steep ROCs lowest: the curves cross near 0.87 x the default
    # Vana (real: ~70 DAC, ~20.5 mA), and the power (clipped at +-2 sd) sets the slope there
    ia_power_rel_sd: float = 0.13
    ia_pivot: float = 0.87
    tau_rel_sd: float = 0.03  # per ROC (clipped at +-2.5 sd)
    id0_mean: float = 14.0
    id0_sd: float = 1.0
    id_per_vdig: float = 1.8
    id_per_rate: float = 0.01  # mA per (pixel firing per bunch crossing)
    adc_gain_mean: float = 80.0  # readback counts per V (Vd, Va, 2 x Vbg)
    adc_gain_sd: float = 3.0
    adc_offset_mean: float = 23.0
    adc_offset_sd: float = 3.0
    vbg_mean: float = 1.20
    vbg_sd: float = 0.015
    ia_rb_gain_mean: float = 4.5  # readback counts per mA of Ia
    ia_rb_gain_sd: float = 0.25
    ia_rb_offset_mean: float = 5.0
    ia_rb_offset_sd: float = 2.0


FRONTEND = ThresholdModel()
PULSE_HEIGHT = PulseHeightModel()
TIMING = TimingModel()
CURRENTS = CurrentModel()
