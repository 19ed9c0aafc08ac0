"""Tests of nanoalloy.ms.peaks on synthetic profiles with known truth and on real Orbitrap data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import nanoalloy.ms.io as nio
import nanoalloy.ms.peaks as npk
from nanoalloy.errors import InputError
from nanoalloy.ms.peaks import (
    ISOTOPE_SPACING,
    centroid,
    charge_from_spacing,
    estimate_baseline,
    estimate_resolution,
    noise_level,
    recalibrate,
    remove_baseline,
    smooth,
)
from nanoalloy.ms.spectrum import Spectrum

SIGMA_PER_FWHM = 1 / (2 * math.sqrt(2 * math.log(2)))


def synthetic(
    rng: np.random.Generator,
    *,
    centres: np.ndarray,
    heights: np.ndarray,
    resolution: float = 40000.0,
    noise: float = 5.0,
    baseline: tuple[float, float] = (200.0, 0.05),
    lo: float = 1000.0,
    hi: float = 3000.0,
) -> tuple[Spectrum, np.ndarray]:
    """Gaussian peaks (FWHM = m/z / resolution) on a linear baseline with white noise.

    Sampling is uniform in sqrt(m/z), like an Orbitrap, with ~10 points per FWHM.
    Returns the spectrum and the noise-free, baseline-free signal.
    """
    fwhm_lo = lo / resolution
    n = int((hi - lo) / fwhm_lo * 10 * 0.7)
    x = np.linspace(math.sqrt(lo), math.sqrt(hi), n) ** 2
    clean = np.zeros_like(x)
    for c, h in zip(centres, heights, strict=True):
        s = c / resolution * SIGMA_PER_FWHM
        m = np.abs(x - c) < 8 * s
        clean[m] += h * np.exp(-0.5 * ((x[m] - c) / s) ** 2)
    base = baseline[0] + baseline[1] * (x - lo)
    y = np.clip(clean + base + rng.normal(0, noise, x.size), 0, None)
    return Spectrum(x, y, {"centroided": False}), clean


@pytest.fixture(scope="module")
def peaks_case() -> tuple[Spectrum, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    centres = np.sort(rng.uniform(1050, 2950, 40))
    centres = centres[np.concatenate([[True], np.diff(centres) > 1.0])]
    heights = rng.uniform(500, 5000, centres.size)
    spec, _ = synthetic(rng, centres=centres, heights=heights)
    return spec, centres, heights


def test_all_sorted_and_true() -> None:
    assert list(npk.__all__) == sorted(npk.__all__)
    assert all(hasattr(npk, n) for n in npk.__all__)


def test_noise_level_with_baseline(peaks_case: tuple[Spectrum, np.ndarray, np.ndarray]) -> None:
    spec = peaks_case[0]
    assert noise_level(spec) == pytest.approx(5.0, rel=0.1)
    assert noise_level(Spectrum([1.0, 2.0], [1.0, 1.0])) == 0.0


def test_baseline_removed(peaks_case: tuple[Spectrum, np.ndarray, np.ndarray]) -> None:
    spec = peaks_case[0]
    base = estimate_baseline(spec, window_mz=5.0)
    true = 200.0 + 0.05 * (spec.mz - 1000.0)
    # a lower envelope of noisy data sits a few sigma below the mean
    assert np.median(np.abs(base - true)) < 20.0
    flat = remove_baseline(spec, window_mz=5.0)
    assert flat.intensity.min() == 0.0
    assert np.median(flat.intensity) < 20.0
    assert spec.intensity.max() - flat.intensity.max() == pytest.approx(
        float(np.interp(spec.mz[np.argmax(spec.intensity)], spec.mz, base)), abs=1.0
    )
    with pytest.raises(InputError):
        estimate_baseline(spec, window_mz=0.0)


def test_smooth_reduces_noise() -> None:
    rng = np.random.default_rng(3)
    x = np.linspace(0, 100, 5001)
    clean = 1000 * np.exp(-0.5 * ((x - 50) / 0.5) ** 2) + 100
    s = Spectrum(x, clean + rng.normal(0, 10, x.size))
    sm = smooth(s, window_points=11, order=3)
    assert np.std(sm.intensity - clean) < 0.6 * np.std(s.intensity - clean)
    assert sm.intensity.max() == pytest.approx(1100, rel=0.02)
    with pytest.raises(InputError):
        smooth(s, window_points=4)


def test_centroids_positions_areas_fwhm(
    peaks_case: tuple[Spectrum, np.ndarray, np.ndarray],
) -> None:
    spec, centres, heights = peaks_case
    flat = remove_baseline(spec, window_mz=5.0)
    c = centroid(flat, min_snr=10)
    assert c.centroided is True and len(c) >= len(centres)
    strong = c.metadata["height"] > 100
    cm, area, fwhm = c.mz[strong], c.intensity[strong], c.metadata["fwhm"][strong]
    assert cm.size == centres.size  # every peak found, no noise spike at 10 sigma... x2
    ppm = (cm - centres) / centres * 1e6
    assert np.max(np.abs(ppm)) < 1.0
    sig = centres / 40000 * SIGMA_PER_FWHM
    # areas include a little leftover baseline (the lower envelope sits below the mean)
    np.testing.assert_allclose(area, heights * sig * math.sqrt(2 * math.pi), rtol=0.08)
    np.testing.assert_allclose(fwhm, centres / 40000, rtol=0.08)
    # centroid data pass through unchanged
    assert centroid(c) is c


def test_resolution_within_10_percent() -> None:
    for r in (15000.0, 40000.0, 120000.0):
        rng = np.random.default_rng(int(r))
        centres = np.linspace(1100, 2900, 25) + rng.uniform(-5, 5, 25)
        spec, _ = synthetic(
            rng, centres=centres, heights=rng.uniform(1e3, 1e4, 25), resolution=r, noise=10.0
        )
        assert estimate_resolution(spec) == pytest.approx(r, rel=0.10)
    assert math.isnan(estimate_resolution(Spectrum([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])))


def envelope(
    z: int, mono: float, *, resolution: float = 120000.0, n: int = 12, centroided: bool = False
) -> tuple[Spectrum, float]:
    """A binomial-like isotope envelope at charge z; returns it and the apex m/z."""
    k = np.arange(n)
    w = np.exp(-0.5 * ((k - n / 2.5) / (n / 6)) ** 2)
    pos = mono + k * ISOTOPE_SPACING / z
    if centroided:
        return Spectrum(pos, w * 1e4, {"centroided": True}), float(pos[np.argmax(w)])
    fw = mono / resolution
    x = np.arange(pos[0] - 0.5, pos[-1] + 0.5, fw / 8)
    y = np.zeros_like(x)
    for p, h in zip(pos, w, strict=True):
        y += 1e4 * h * np.exp(-0.5 * ((x - p) / (fw * SIGMA_PER_FWHM)) ** 2)
    rng = np.random.default_rng(z)
    y = np.clip(y + rng.normal(0, 20, x.size), 0, None)
    return Spectrum(x, y, {"centroided": False}), float(pos[np.argmax(w)])


@pytest.mark.parametrize("z", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30])
@pytest.mark.parametrize("centroided", [False, True])
def test_charge_synthetic(z: int, centroided: bool) -> None:
    spec, apex = envelope(z, 2335.0, centroided=centroided)
    assert charge_from_spacing(spec, apex) == z
    # an m/z on a flank isotope works as well
    assert charge_from_spacing(spec, apex + 2 * ISOTOPE_SPACING / z) == z


def test_charge_none_when_nothing_there() -> None:
    spec, apex = envelope(5, 2335.0)
    assert charge_from_spacing(spec, apex + 50.0) is None
    lone = Spectrum([999.0, 1000.0, 1001.0], [0.0, 10.0, 0.0])
    assert charge_from_spacing(lone, 1000.0) is None
    with pytest.raises(InputError):
        charge_from_spacing(spec, apex, max_charge=0)


def test_charge_real_orbitrap_precursors(real_file: Path) -> None:
    """Every MS2 precursor charge in the file is found from the MS1 isotope spacing.

    The OpenMS test file keeps only parts of each profile MS1 scan (zero-suppressed
    and thinned); three precursors are absent from the MS1 scan just before their
    MS2 scan. For those, the summed MS1 scans are used (read(scans=...)).
    """
    scans = list(nio.iter_scans(real_file))
    summed = nio.read(real_file, scans=(0, len(scans) - 1))
    ms1s = [s for s in scans if s.ms_level == 1]
    prev: Spectrum | None = None
    used_prev = 0
    for s in scans:
        if s.ms_level == 1:
            prev = s
            continue
        assert prev is not None
        pmz, z = s.metadata["precursor_mz"], s.metadata["precursor_charge"]
        has_signal = len(prev.crop(pmz - 0.05, pmz + 0.05).intensity.nonzero()[0]) > 0
        if has_signal:
            assert charge_from_spacing(prev, pmz) == z, (s.metadata["index"], pmz)
            used_prev += 1
        assert charge_from_spacing(summed, pmz) == z, (s.metadata["index"], pmz)
        # never a wrong charge from any single MS1 scan
        assert {charge_from_spacing(m, pmz) for m in ms1s} <= {z, None}
    assert used_prev == 3


def test_real_ms1_centroid_and_resolution(real_file: Path) -> None:
    ms1 = nio.read(real_file, scan=0)
    c = centroid(ms1)
    assert c.centroided and len(c) > 100
    base = c.mz[np.argmax(c.metadata["height"])]
    assert base == pytest.approx(1121.998, abs=0.003)  # file's base peak m/z
    r = estimate_resolution(ms1)
    assert 20000 < r < 200000


def test_recalibration_removes_linear_error() -> None:
    rng = np.random.default_rng(11)
    theo = np.sort(rng.uniform(1000, 4000, 15))
    ppm = 20.0 * (theo - 1000) / 3000 + rng.normal(0, 0.3, theo.size)  # 0 -> 20 ppm
    observed = theo * (1 + ppm * 1e-6)
    cal = recalibrate(observed, theo)
    assert cal.model == "linear"
    assert np.max(np.abs(cal.ppm_before)) > 18
    assert np.max(np.abs(cal.ppm_after)) < 2.0 and cal.rms_ppm_after < 1.0
    np.testing.assert_allclose(cal.apply(observed), theo, rtol=2e-6)
    spec = cal.apply(Spectrum(observed, np.ones_like(observed)))
    np.testing.assert_allclose(spec.mz, theo, rtol=2e-6)
    shifted = theo * (1 + 20e-6)
    off = recalibrate(shifted, theo, model="offset")
    assert np.max(np.abs(off.ppm_after)) < 1e-6 and off.rms_ppm_before == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("obs", "theo", "model", "message"),
    [
        ([1.0, 2.0], [1.0], "linear", "differ in length"),
        ([1.0], [1.0], "linear", "at least 2"),
        ([1.0, 1.0], [1.0, 1.0], "linear", "different m/z"),
        ([1.0, np.nan], [1.0, 2.0], "linear", "finite"),
        ([1.0, 2.0], [1.0, 2.0], "cubic", "model must be"),
    ],
)
def test_recalibration_errors(
    obs: list[float], theo: list[float], model: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        recalibrate(obs, theo, model=model)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("charge", "resolution"),
    [(3, 8_000.0), (3, 15_000.0), (4, 10_000.0), (4, 15_000.0), (6, 15_000.0), (6, 25_000.0)],
)
def test_resolution_from_valleys_on_overlapping_combs(charge: int, resolution: float) -> None:
    # a Gaussian envelope of Gaussian isotope peaks 1.0017/z apart, overlapping above
    # half height (the FWHM cannot be read) yet still modulated
    rng = np.random.default_rng(charge)
    x = np.arange(2400.0, 2460.0, 0.005)
    sigma = 2430.0 / resolution / 2.3548
    centres = 2420.0 + np.arange(40) * 1.0017 / charge
    heights = np.exp(-0.5 * ((np.arange(40) - 20) / 6.0) ** 2)
    y = sum(
        h * np.exp(-0.5 * ((x - c) / sigma) ** 2) for c, h in zip(centres, heights, strict=True)
    )
    y = y + 0.01 + rng.normal(0, 1e-3, x.size)
    got = npk.resolution_from_valleys(Spectrum(x, np.clip(y, 0, None)))
    assert got == pytest.approx(resolution, rel=0.06)


def test_resolution_from_valleys_on_synthetic_cluster_spectrum() -> None:
    import pandas as pd

    from nanoalloy.ms.synth import synthesize

    pops = pd.DataFrame({"family": ["M44S27"] * 3, "au": [19, 20, 21], "fraction": [0.3, 0.5, 0.2]})
    for resolution in (10_000.0, 12_000.0):
        s = synthesize(pops, mz_range=(2600.0, 3700.0), resolution=resolution, seed=3).spectrum
        got = npk.resolution_from_valleys(Spectrum(s.mz, s.intensity))
        assert got == pytest.approx(resolution, rel=0.06)


def test_resolution_from_valleys_ignores_a_flat_shelf_wider_than_its_window() -> None:
    # an export rounded to few decimals holds flat runs; one standing above its
    # surroundings and wider than the +-1.5 m/z prominence window is a plateau
    # maximum of prominence 0 (scipy's PeakPropertyWarning, an error under pytest's
    # filterwarnings); it is not a peak and must neither warn nor move the answer
    x = np.arange(2000.0, 2020.0, 0.01)
    sigma = 2005.0 / 10_000 / 2.3548
    y = sum(np.exp(-0.5 * ((x - c) / sigma) ** 2) for c in 2001 + np.arange(32) / 4)
    shelf = 1e-3 * ((x > 2012.0) & (x < 2018.0))
    got = npk.resolution_from_valleys(Spectrum(x, y + 1e-3 + shelf))
    assert got == pytest.approx(10_000.0, rel=0.03)


def test_resolution_from_valleys_needs_a_comb() -> None:
    rng = np.random.default_rng(0)
    x = np.arange(2000.0, 2100.0, 0.01)
    noise = Spectrum(x, 10 + rng.normal(0, 1, x.size))
    assert math.isnan(npk.resolution_from_valleys(noise))
    # well separated single peaks: no valley above the floor to read
    y = sum(np.exp(-0.5 * ((x - c) / 0.01) ** 2) for c in (2010.0, 2040.0, 2070.0))
    assert math.isnan(npk.resolution_from_valleys(Spectrum(x, y + 1e-3)))
    # a comb blurred flat (6- at R = 8 000) holds no measurable valley: NaN, not a guess
    sigma = 2030.0 / 8_000 / 2.3548
    y = sum(np.exp(-0.5 * ((x - 2030 - k * 1.0017 / 6) / sigma) ** 2) for k in range(60))
    assert math.isnan(npk.resolution_from_valleys(Spectrum(x, y + 1e-3)))
