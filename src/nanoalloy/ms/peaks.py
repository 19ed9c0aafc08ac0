"""Peak processing: baseline, smoothing, noise, centroids, resolution, charge, calibration.

All functions take a :class:`~nanoalloy.ms.spectrum.Spectrum` (positional-only)
and return new objects; nothing is modified in place. They work on profile
data; :func:`charge_from_spacing` also works on centroid data.

Contents
--------
estimate_baseline
    Smooth lower envelope (rolling-minimum opening, then a moving average).
remove_baseline
    Spectrum minus its baseline, clipped at zero.
smooth
    Savitzky-Golay smoothing.
noise_level
    Robust noise standard deviation (MAD of point-to-point differences).
centroid
    Local maxima above ``min_snr`` -> sticks at the Gaussian apex, intensity = area,
    FWHM and height kept in the metadata.
estimate_resolution
    Median m/z / FWHM over strong, isolated peaks.
resolution_from_valleys
    Resolving power from the valley depth between overlapping isotope peaks
    (where no peak is isolated: highly charged clusters at modest resolution).
charge_from_spacing
    Charge state from the isotope spacing (1.00235/z) around a given m/z.
recalibrate
    Fit observed -> theoretical m/z; returns a :class:`Calibration`.
Calibration
    Fitted calibration with ppm errors before and after and ``apply``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InputError
from .spectrum import Spectrum

__all__ = [
    "Calibration",
    "ISOTOPE_SPACING",
    "centroid",
    "charge_from_spacing",
    "estimate_baseline",
    "estimate_resolution",
    "noise_level",
    "recalibrate",
    "remove_baseline",
    "resolution_from_valleys",
    "smooth",
]

ISOTOPE_SPACING = 1.00235
"""Mean spacing (Da) between isotopic peaks of organic / biomolecular ions (averagine)."""

FloatArray = NDArray[np.float64]


def _points_for(spectrum: Spectrum, width_mz: float) -> int:
    if width_mz <= 0:
        raise InputError(f"window must be > 0 m/z, got {width_mz}")
    if len(spectrum) < 2:
        return 1
    step = float(np.median(np.diff(spectrum.mz)))
    return max(3, int(round(width_mz / step)) | 1)


def estimate_baseline(spectrum: Spectrum, /, *, window_mz: float = 5.0) -> FloatArray:
    """Estimate a smooth baseline under the peaks.

    A morphological opening (rolling minimum, then rolling maximum) over
    ``window_mz`` removes peaks narrower than the window; a moving average of
    the same width smooths the result, which is finally kept below the signal.
    The window is converted to points with the median sampling step.

    Parameters
    ----------
    spectrum
        Profile spectrum.
    window_mz
        Wider than the widest peak (or isotope envelope) to keep, in m/z.

    Returns
    -------
    numpy.ndarray
        Baseline at each point of ``spectrum``.

    Examples
    --------
    >>> x = np.linspace(100, 200, 2001)
    >>> y = 10 + 0.1 * (x - 100) + 500 * np.exp(-0.5 * ((x - 150) / 0.05) ** 2)
    >>> b = estimate_baseline(Spectrum(x, y), window_mz=2.0)
    >>> bool(abs(b[1000] - 15.0) < 0.5)
    True
    """
    from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

    y = spectrum.intensity
    if len(y) < 3:
        return np.zeros_like(y)
    n = _points_for(spectrum, window_mz)
    opened = maximum_filter1d(minimum_filter1d(y, n, mode="nearest"), n, mode="nearest")
    base = uniform_filter1d(opened, n, mode="nearest")
    return np.asarray(np.minimum(base, y), dtype=np.float64)


def remove_baseline(spectrum: Spectrum, /, *, window_mz: float = 5.0) -> Spectrum:
    """Subtract :func:`estimate_baseline` (result clipped at zero).

    Examples
    --------
    >>> s = Spectrum(np.linspace(0, 10, 101), np.full(101, 7.0))
    >>> float(remove_baseline(s, window_mz=1.0).intensity.max())
    0.0
    """
    base = estimate_baseline(spectrum, window_mz=window_mz)
    return spectrum.with_intensity(np.clip(spectrum.intensity - base, 0.0, None))


def smooth(spectrum: Spectrum, /, *, window_points: int = 7, order: int = 2) -> Spectrum:
    """Savitzky-Golay smoothing (negative overshoots clipped to zero).

    Parameters
    ----------
    window_points
        Odd window length in points; keep it below the points per FWHM.
    order
        Polynomial order (< ``window_points``).

    Examples
    --------
    >>> s = Spectrum(np.arange(9.0), [0, 0, 1, 4, 9, 4, 1, 0, 0])
    >>> len(smooth(s, window_points=5))
    9
    """
    from scipy.signal import savgol_filter

    if window_points % 2 == 0 or window_points <= order:
        raise InputError(f"window_points must be odd and > order, got {window_points}")
    if len(spectrum) < window_points:
        return spectrum
    y = savgol_filter(spectrum.intensity, window_points, order, mode="interp")
    return spectrum.with_intensity(np.clip(y, 0.0, None))


def noise_level(spectrum: Spectrum, /) -> float:
    """Robust standard deviation of the noise.

    Point-to-point differences cancel a slow baseline; their median absolute
    deviation, iteratively clipped at 3 sigma so that peak flanks drop out,
    estimates the noise of the flat regions (divided by sqrt(2) for the
    difference). Exact zeros (zero-suppressed data) are ignored; 0.0 is
    returned when nothing is left.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s = Spectrum(np.arange(5000.0), 100 + rng.normal(0, 2.0, 5000))
    >>> bool(abs(noise_level(s) - 2.0) < 0.15)
    True
    """
    return difference_noise(spectrum.intensity)


def difference_noise(y: ArrayLike, /) -> float:
    """:func:`noise_level` of intensities ``y`` as given, negative values too (as read,
    before a reader sets baseline noise below zero to 0: on those clipped values the
    estimate reads about half the noise). Exact zeros are ignored.

    Examples
    --------
    >>> y = np.random.default_rng(0).normal(0.0, 2.0, 5000)
    >>> bool(abs(difference_noise(y) - 2.0) < 0.15)
    True
    >>> bool(difference_noise(np.clip(y, 0.0, None)) < 1.5)
    True
    """
    y = np.asarray(y, dtype=float)
    d = np.diff(y)
    # sorted once: every median below is then a lookup (np.median would re-partition)
    d = np.sort(d[(y[1:] != 0) & (y[:-1] != 0)])
    if d.size < 5:
        return 0.0
    lo, hi = 0, d.size  # the differences still in play: d[lo:hi]
    sigma = 0.0
    for _ in range(8):
        med = _median_sorted(d[lo:hi])
        mid = lo + int(np.searchsorted(d[lo:hi], med))
        # |d - med| as two ascending runs: left of the median (reversed) and right of it
        dev = 1.4826 * _median_of_two_sorted((med - d[lo:mid])[::-1], d[mid:hi] - med)
        if dev == 0.0 or math.isclose(dev, sigma, rel_tol=1e-3):
            sigma = dev
            break
        sigma = dev
        # |d - med| < 3 sigma is one contiguous run of the sorted differences
        inside = np.flatnonzero(np.abs(d[lo:hi] - med) < 3.0 * sigma)
        if inside.size < 5:
            break
        lo, hi = lo + int(inside[0]), lo + int(inside[-1]) + 1
    return sigma / math.sqrt(2.0)


def _median_sorted(a: FloatArray) -> float:
    n = a.size
    return float(a[n // 2]) if n % 2 else (float(a[n // 2 - 1]) + float(a[n // 2])) / 2


def _median_of_two_sorted(a: FloatArray, b: FloatArray) -> float:
    """Median of the union of two ascending arrays (as :func:`numpy.median` would give)."""
    n = a.size + b.size
    if n % 2:
        return _kth_of_two_sorted(a, b, n // 2)
    return (_kth_of_two_sorted(a, b, n // 2 - 1) + _kth_of_two_sorted(a, b, n // 2)) / 2


def _kth_of_two_sorted(a: FloatArray, b: FloatArray, k: int) -> float:
    """The ``k``-th smallest (0-based) of the union of two ascending arrays, by bisection."""
    lo, hi = max(0, k + 1 - b.size), min(k + 1, a.size)
    while lo < hi:  # i from a and k + 1 - i from b make up the k + 1 smallest
        i = (lo + hi) // 2
        if a[i] < b[k - i]:
            lo = i + 1
        else:
            hi = i
    j = k + 1 - lo
    return float(max(a[lo - 1] if lo > 0 else -np.inf, b[j - 1] if j > 0 else -np.inf))


def _comb_valley_ratio(s: FloatArray) -> FloatArray:
    """Valley/peak height of an infinite comb of equal Gaussians, sigma = ``s`` x spacing."""
    k = np.arange(-30, 31, dtype=float)[:, None]
    s = np.asarray(s, dtype=float)[None, :]
    peak = np.exp(-0.5 * (k / s) ** 2).sum(axis=0)
    valley = np.exp(-0.5 * ((k + 0.5) / s) ** 2).sum(axis=0)
    return np.asarray(valley / peak)


def resolution_from_valleys(
    spectrum: Spectrum,
    /,
    *,
    min_snr: float = 20.0,
    spacing: float = 1.0017,
    max_charge: int = 20,
    baseline_window_mz: float = 100.0,
    noise: float | None = None,
) -> float:
    """Resolving power from how deep the valleys between isotope peaks are.

    Where isotope peaks overlap above half height (a 4- cluster at R = 10 000:
    peaks 0.25 apart, FWHM 0.24), no FWHM can be read off, but the valley
    between two neighbouring peaks of similar height still measures the peak
    width: for a comb of Gaussians of spacing ``d`` and width ``sigma`` the
    valley/peak ratio is a known increasing function of ``sigma / d``, which
    is inverted here. Pairs count when both apexes stand ``min_snr`` x noise
    above the baseline, differ in height by less than 20 %, and sit one
    isotope spacing apart (``spacing / z`` within 2 % for an integer
    ``z <= max_charge``). ``spacing`` is the mean m/z step per nominal mass of
    thiolate-protected Au/Ag clusters (13C, 34S and 109Ag/107Ag steps). The
    baseline window must be wider than an isotope envelope, or the baseline
    would rise into the valleys. ``noise`` (the :func:`noise_level`) may be
    passed when already known.

    Returns
    -------
    float
        The median over the qualifying pairs; NaN when fewer than three qualify
        or the peaks are resolved to baseline (then use :func:`estimate_resolution`).

    Examples
    --------
    >>> x = np.arange(2000.0, 2010.0, 0.01)
    >>> fwhm = 2005 / 10_000  # R = 10 000, peaks 1/4 apart: no valley below half height
    >>> y = sum(np.exp(-0.5 * ((x - c) / (fwhm / 2.3548)) ** 2) for c in 2001 + np.arange(32) / 4)
    >>> round(resolution_from_valleys(Spectrum(x, y + 1e-3)), -2)
    10000.0
    """
    from scipy.signal import find_peaks

    if len(spectrum) < 5:
        return math.nan
    mz = spectrum.mz
    y = spectrum.intensity - estimate_baseline(spectrum, window_mz=baseline_window_mz)
    noise = noise_level(spectrum) if noise is None else float(noise)
    floor = min_snr * noise if noise > 0 else 0.0
    # apexes standing out of their valleys by more than noise (noise bumps near an
    # apex or on a flank have a prominence of a few sigma)
    # (find_peaks never returns the end points, so idx +- 1 stay inside); the
    # prominence is sought within +-1.5 m/z, past the valleys of any comb (z >= 1)
    step = float(np.min(np.diff(mz)))
    wlen = min(mz.size, math.ceil(3.0 / step) + 1) if step > 0 else None
    with warnings.catch_warnings():
        # a flat run of equal values (an export rounded to a few decimals, a clipped
        # baseline) wider than wlen is a plateau maximum whose prominence within the
        # window is 0: scipy warns (PeakPropertyWarning), and the prominence threshold
        # (> 0) drops it anyway, so the warning says nothing about the peaks returned
        warnings.filterwarnings(
            "ignore", message="some peaks have a prominence of 0", category=RuntimeWarning
        )
        idx, _ = find_peaks(
            y, height=max(floor, 1e-300), prominence=max(5.0 * noise, 1e-300), wlen=wlen
        )
    if idx.size < 4:
        return math.nan
    # apex heights by a three-point parabola (sampling lowers the sampled maximum)
    y0, y1, y2 = y[idx - 1], y[idx], y[idx + 1]
    den = y0 - 2.0 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(den < 0, y1 - 0.125 * (y2 - y0) ** 2 / den, y1)
    centre = _apex(mz, y, idx)
    i, j = np.arange(idx.size - 1), np.arange(1, idx.size)
    d = centre[j] - centre[i]
    z = np.rint(spacing / np.where(d > 0, d, np.inf))
    ok = (z >= 1) & (z <= max_charge)
    ok &= np.abs(d * z / spacing - 1.0) < 0.02
    ok &= np.minimum(h[i], h[j]) > 0.8 * np.maximum(h[i], h[j])
    # part of a comb: a neighbouring pair has the same charge (chance bumps rarely do)
    same_prev = np.zeros(ok.size, dtype=bool)
    same_prev[1:] = (z[1:] == z[:-1]) & (np.abs(d[1:] / d[:-1] - 1.0) < 0.02)
    same_next = np.zeros(ok.size, dtype=bool)
    same_next[:-1] = same_prev[1:]
    ok &= same_prev | same_next
    if ok.sum() < 3:
        return math.nan
    i, j, d = i[ok], j[ok], d[ok]
    mid = 0.5 * (centre[i] + centre[j])
    ratio = np.interp(mid, mz, y) / (0.5 * (h[i] + h[j]))
    s_grid = np.linspace(0.08, 0.7, 400)
    r_grid = _comb_valley_ratio(s_grid)
    use = (ratio > 0.02) & (ratio < 0.95)
    if use.sum() < 3:
        return math.nan
    s = np.interp(ratio[use], r_grid, s_grid)
    fwhm = 2.0 * math.sqrt(2.0 * math.log(2.0)) * s * d[use]
    return float(np.median(mid[use] / fwhm))


def _local_maxima(y: FloatArray) -> NDArray[np.intp]:
    if y.size < 3:
        return np.zeros(0, dtype=np.intp)
    mid = y[1:-1]
    is_max = (mid > y[:-2]) & (mid >= y[2:]) & (mid > 0)
    return np.flatnonzero(is_max) + 1


def _apex(mz: FloatArray, y: FloatArray, idx: NDArray[np.intp]) -> FloatArray:
    """Apex m/z by three-point Gaussian (log-parabola) interpolation, parabola as fallback."""
    x0, x1, x2 = mz[idx - 1], mz[idx], mz[idx + 1]
    y0, y1, y2 = y[idx - 1], y[idx], y[idx + 1]
    pos = (y0 > 0) & (y2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a0 = np.where(pos, np.log(np.where(pos, y0, 1.0)), y0)
        a1 = np.where(pos, np.log(y1), y1)
        a2 = np.where(pos, np.log(np.where(pos, y2, 1.0)), y2)
        # vertex of the parabola through three (possibly unevenly spaced) points
        d0, d2 = x0 - x1, x2 - x1
        num = (a0 - a1) * d2 * d2 - (a2 - a1) * d0 * d0
        den = (a0 - a1) * d2 - (a2 - a1) * d0
        off = 0.5 * num / den
    ok = np.isfinite(off) & (off > d0) & (off < d2)
    return np.asarray(np.where(ok, x1 + off, x1), dtype=np.float64)


def _walk(y: FloatArray, start: NDArray[np.intp], step: int, ok: Any) -> NDArray[np.intp]:
    """Move each index by ``step`` while ``ok(current, next)`` holds (vectorised)."""
    pos = start.copy()
    active = np.arange(pos.size)
    n = y.size
    while active.size:
        cur = pos[active]
        nxt = cur + step
        inside = (nxt >= 0) & (nxt < n)
        move = np.zeros(cur.size, dtype=bool)
        move[inside] = ok(active[inside], cur[inside], nxt[inside])
        active = active[move]
        pos[active] += step
    return pos


def _peak_table(
    mz: FloatArray, y: FloatArray, idx: NDArray[np.intp]
) -> tuple[FloatArray, FloatArray]:
    """FWHM (half-maximum crossings, linear interpolation) and area between the valleys."""
    half = 0.5 * y[idx]

    def above_half(k: NDArray[np.intp], c: NDArray[np.intp], x: NDArray[np.intp]) -> Any:
        return (y[x] > half[k]) & (y[x] <= y[c])

    def downhill(k: NDArray[np.intp], c: NDArray[np.intp], x: NDArray[np.intp]) -> Any:
        return (y[x] > 0) & (y[x] <= y[c])

    j = _walk(y, idx, -1, above_half)  # leftmost point above half
    k = _walk(y, idx, 1, above_half)
    n = y.size
    ok = (j > 0) & (k < n - 1)
    jl, kr = np.clip(j - 1, 0, n - 1), np.clip(k + 1, 0, n - 1)
    ok &= (y[jl] <= half) & (y[kr] <= half)
    with np.errstate(divide="ignore", invalid="ignore"):
        left = mz[jl] + (half - y[jl]) * (mz[j] - mz[jl]) / (y[j] - y[jl])
        right = mz[k] + (y[k] - half) * (mz[kr] - mz[k]) / (y[k] - y[kr])
    fwhm = np.where(ok, right - left, np.nan)
    lo = np.clip(_walk(y, j, -1, downhill) - 1, 0, n - 1)
    hi = np.clip(_walk(y, k, 1, downhill) + 1, 0, n - 1)
    cum = np.concatenate([[0.0], np.cumsum(np.diff(mz) * 0.5 * (y[1:] + y[:-1]))])
    return np.asarray(fwhm, dtype=np.float64), np.asarray(cum[hi] - cum[lo], dtype=np.float64)


def centroid(
    spectrum: Spectrum, /, *, min_snr: float = 3.0, noise: float | None = None
) -> Spectrum:
    """Turn a profile spectrum into sticks.

    Every local maximum whose height exceeds ``min_snr`` times the noise
    (:func:`noise_level` unless given) becomes a stick at its apex (three-point
    Gaussian interpolation); its intensity is the peak area (trapezoid between
    the neighbouring valleys, in intensity x m/z units). The metadata gain
    ``fwhm`` and ``height`` arrays (NaN FWHM where a half-maximum crossing is
    missing, e.g. for merged peaks) and ``centroided=True``.
    Centroid input is returned unchanged.

    Examples
    --------
    >>> x = np.linspace(999, 1001, 801)
    >>> y = 100 * np.exp(-0.5 * ((x - 1000.0123) / 0.01) ** 2)
    >>> c = centroid(Spectrum(x, y), noise=1.0)
    >>> round(float(c.mz[0]), 4), round(float(c.metadata["fwhm"][0]), 3)
    (1000.0123, 0.024)
    """
    if spectrum.centroided:
        return spectrum
    mz, y = spectrum.mz, spectrum.intensity
    sigma = noise_level(spectrum) if noise is None else float(noise)
    idx = _local_maxima(y)
    idx = idx[y[idx] > min_snr * sigma]
    centres = _apex(mz, y, idx)
    fwhm, area = _peak_table(mz, y, idx)
    heights = y[idx].copy()
    order = np.argsort(centres, kind="stable")
    keep = order[np.concatenate([[True], np.diff(centres[order]) > 0])] if idx.size else order
    fwhm, heights = fwhm[keep], heights[keep]
    fwhm.flags.writeable = False
    heights.flags.writeable = False
    md = {**spectrum.metadata, "centroided": True, "fwhm": fwhm, "height": heights}
    return Spectrum(centres[keep], area[keep], md)


def estimate_resolution(
    spectrum: Spectrum,
    /,
    *,
    min_snr: float = 20.0,
    baseline_window_mz: float = 5.0,
    noise: float | None = None,
) -> float:
    """Resolving power m/z / FWHM: the median over strong, isolated peaks.

    Heights are taken above :func:`estimate_baseline` (window
    ``baseline_window_mz``). A peak counts when its height is at least
    ``min_snr`` times the noise and at least the baseline under it, its FWHM
    is defined and spans at least three sampling steps, no other local maximum
    above 10 % of its height (and 3 sigma) lies within 3 FWHM, and the signal
    falls below 10 % of its height on both sides within 3 FWHM. ``noise`` (the
    :func:`noise_level`) may be passed when already known.

    Returns
    -------
    float
        NaN when no peak qualifies.

    Examples
    --------
    >>> x = np.linspace(990, 1010, 20001)
    >>> y = sum(100 * np.exp(-0.5 * ((x - c) / (c / 50000 / 2.3548)) ** 2) for c in (995, 1005))
    >>> round(estimate_resolution(Spectrum(x, y + 0.01)), -3)
    50000.0
    """
    if len(spectrum) < 3:
        return math.nan
    sigma = noise_level(spectrum) if noise is None else float(noise)
    mz = spectrum.mz
    base = estimate_baseline(spectrum, window_mz=baseline_window_mz)
    y = spectrum.intensity - base
    idx = _local_maxima(y)
    idx = idx[y[idx] > 3.0 * sigma]  # significant maxima: possible neighbours
    # strong, and standing at least as high above the baseline as the baseline
    # itself: the tips of a dense comb poking out of a high floor are not peaks
    strong = idx[(y[idx] >= min_snr * sigma) & (y[idx] >= base[idx])]
    if not strong.size:
        return math.nan
    fwhm, _ = _peak_table(mz, y, strong)
    centres = _apex(mz, y, strong)
    step = float(np.median(np.diff(mz)))
    pos, height = mz[idx], y[idx]
    good: list[float] = []
    for c, w, i in zip(centres.tolist(), fwhm.tolist(), strong.tolist(), strict=True):
        if not (math.isfinite(w) and w >= 3 * step):
            continue
        a, b = np.searchsorted(pos, [c - 3 * w, c + 3 * w])
        others = (height[a:b] > 0.1 * y[i]) & (np.abs(pos[a:b] - mz[i]) > 0)
        if others.any():
            continue
        # and back to the baseline on both sides: a tooth of a dense comb can
        # have no maximum within 3 FWHM of its own (too narrow) width
        lo, hi = np.searchsorted(mz, [c - 3 * w, c + 3 * w])
        if y[lo : i + 1].min() < 0.1 * y[i] and y[i : hi + 1].min() < 0.1 * y[i]:
            good.append(c / w)
    return float(np.median(good)) if good else math.nan


def charge_from_spacing(
    spectrum: Spectrum,
    mz: float,
    /,
    *,
    max_charge: int = 60,
    min_charge: int = 1,
    tolerance_ppm: float = 10.0,
    spacing: float = ISOTOPE_SPACING,
    n_isotopes: int = 8,
    min_relative: float = 0.02,
) -> int | None:
    """Charge state from the isotope spacing of the envelope around ``mz``.

    The peak nearest ``mz`` (within 3 x ``tolerance_ppm``) anchors the search;
    profile data are reduced to local maxima (Gaussian apex), centroid data are
    used as they are. For each charge z the isotope positions
    ``anchor +- k * spacing / z`` are walked outwards, k = 1, 2, ... up to
    ``n_isotopes``, each direction stopping at the first empty position; a
    matched peak adds its height times a Gaussian weight of its position error
    (sigma = the tolerance, capped at a quarter of the spacing), and a peak at
    the midpoint before it subtracts its weighted height (a filled midpoint
    means the real charge is higher). Twice the true charge stops at the first
    empty midpoint; half of it pays for the filled midpoints. The best positive
    score wins.

    Parameters
    ----------
    spectrum
        Profile or centroid spectrum holding the envelope.
    mz
        An m/z on the envelope (e.g. a precursor m/z).
    max_charge, min_charge
        Charges tried (absolute values; the sign is the polarity's business).
    tolerance_ppm
        Position tolerance for the anchor and the isotope peaks.
    spacing
        Isotope spacing in Da (1.00235 for organic ions; adjust for metal-rich
        clusters if needed).
    n_isotopes
        Isotope steps walked on each side.
    min_relative
        Peaks below this fraction of the anchor height are ignored.

    Returns
    -------
    int or None
        None when no peak is near ``mz`` or no charge scores above zero.

    Examples
    --------
    >>> x = np.linspace(1000, 1003, 30001)
    >>> z = 7
    >>> y = sum(np.exp(-0.5 * ((x - 1001 - k * ISOTOPE_SPACING / z) / 0.004) ** 2)
    ...         * np.exp(-0.5 * (k / 3) ** 2) for k in range(-6, 7))
    >>> charge_from_spacing(Spectrum(x, y), 1001.0)
    7
    """
    if not (1 <= min_charge <= max_charge):
        raise InputError(f"need 1 <= min_charge <= max_charge, got {min_charge}, {max_charge}")
    half = (n_isotopes + 1) * spacing / min_charge
    window = spectrum.crop(mz - half, mz + half)
    if len(window) == 0:
        return None
    if spectrum.centroided:
        pmz, ph = window.mz, window.intensity
    else:
        idx = _local_maxima(window.intensity)
        pmz, ph = _apex(window.mz, window.intensity, idx), window.intensity[idx]
    if pmz.size == 0:
        return None
    tol = tolerance_ppm * 1e-6 * mz
    dist = np.abs(pmz - mz)
    a = int(np.argmin(dist))
    if dist[a] > 3 * tol:
        return None
    anchor, ref = float(pmz[a]), float(ph[a])
    keep = ph >= min_relative * ref
    pmz, ph = pmz[keep], ph[keep]

    def best(pos: float, t: float) -> float:
        err = np.abs(pmz - pos)
        near = err < 2.5 * t
        if not near.any():
            return 0.0
        return float(np.max(ph[near] * np.exp(-0.5 * (err[near] / t) ** 2)))

    scores: dict[int, float] = {}
    for z in range(min_charge, max_charge + 1):
        step = spacing / z
        t = min(tol, 0.25 * step)
        score = 0.0
        for sign in (-1.0, 1.0):
            for k in range(1, n_isotopes + 1):
                on = best(anchor + sign * k * step, t)
                if on <= 0.0:
                    break
                score += on - best(anchor + sign * (k - 0.5) * step, t)
        scores[z] = score
    z_best = max(scores, key=lambda z: scores[z])
    return z_best if scores[z_best] > 0 else None


@dataclass(frozen=True, slots=True)
class Calibration:
    """A fitted m/z calibration: the ppm error is modelled as ``a + b * mz``.

    ``apply`` divides each m/z by ``1 + (a + b * mz) * 1e-6``; ``b`` is 0 for the
    'offset' model.

    Examples
    --------
    >>> cal = recalibrate([1000.02, 2000.04], [1000.0, 2000.0])
    >>> round(cal.ppm_intercept, 6), round(float(cal.apply(1500.03)), 6)
    (20.0, 1500.0)
    """

    model: Literal["linear", "offset"]
    """'linear' (ppm error linear in m/z) or 'offset' (one constant ppm shift)."""
    ppm_intercept: float
    """Constant term of the ppm error model."""
    ppm_slope: float
    """Change of the ppm error per unit m/z."""
    ppm_before: FloatArray
    """(observed - theoretical) / theoretical * 1e6 for each calibrant."""
    ppm_after: FloatArray
    """The same errors after applying the calibration."""

    @property
    def rms_ppm_before(self) -> float:
        """Root-mean-square error before calibration (ppm; NaN without calibrants)."""
        e = np.asarray(self.ppm_before, dtype=float)
        return float(np.sqrt(np.mean(e**2))) if e.size else math.nan

    @property
    def rms_ppm_after(self) -> float:
        """Root-mean-square error after calibration (ppm; NaN without calibrants)."""
        e = np.asarray(self.ppm_after, dtype=float)
        return float(np.sqrt(np.mean(e**2))) if e.size else math.nan

    def _correct(self, mz: FloatArray) -> FloatArray:
        return np.asarray(mz / (1.0 + (self.ppm_intercept + self.ppm_slope * mz) * 1e-6))

    @overload
    def apply(self, mz: Spectrum, /) -> Spectrum: ...
    @overload
    def apply(self, mz: ArrayLike, /) -> FloatArray: ...

    def apply(self, mz: Spectrum | ArrayLike, /) -> Spectrum | FloatArray:
        """Correct m/z values, or the m/z axis of a spectrum (a new Spectrum)."""
        if isinstance(mz, Spectrum):
            return mz.with_mz(self._correct(mz.mz))
        return self._correct(np.asarray(mz, dtype=np.float64))


def recalibrate(
    observed: ArrayLike,
    theoretical: ArrayLike,
    /,
    *,
    model: Literal["linear", "offset"] = "linear",
) -> Calibration:
    """Fit a calibration mapping observed m/z onto theoretical m/z.

    Parameters
    ----------
    observed, theoretical
        Matched calibrant m/z values (same length; >= 2 for 'linear', >= 1 for 'offset').
    model
        ``'linear'``: least-squares fit of the ppm error as ``a + b * observed``
        (a constant ppm shift plus a drift across the m/z range). ``'offset'``:
        one relative shift, the median ppm error.

    Examples
    --------
    >>> t = np.array([500.0, 1000.0, 2000.0])
    >>> cal = recalibrate(t * (1 + 20e-6), t, model="offset")
    >>> cal.ppm_before.round(3).tolist(), bool(cal.rms_ppm_after < 1e-6)
    ([20.0, 20.0, 20.0], True)
    """
    o = np.asarray(observed, dtype=np.float64).ravel()
    t = np.asarray(theoretical, dtype=np.float64).ravel()
    if o.shape != t.shape:
        raise InputError(f"observed and theoretical differ in length ({o.size} and {t.size})")
    if not (np.isfinite(o).all() and np.isfinite(t).all()) or (t <= 0).any():
        raise InputError("calibrant m/z values must be finite and > 0")
    if model not in ("linear", "offset"):
        raise InputError(f"model must be 'linear' or 'offset', got {model!r}")
    need = 2 if model == "linear" else 1
    if o.size < need:
        raise InputError(f"model {model!r} needs at least {need} calibrants, got {o.size}")
    before = (o - t) / t * 1e6
    # the ppm error as a function of the observed m/z, which is what apply() sees
    err_obs = (o / t - 1.0) * 1e6
    if model == "linear":
        if np.ptp(o) == 0:
            raise InputError("the 'linear' model needs calibrants at different m/z")
        slope, intercept = (float(v) for v in np.polyfit(o, err_obs, 1))
    else:
        slope, intercept = 0.0, float(np.median(err_obs))
    cal = Calibration(model, intercept, slope, before, before)
    after = (cal._correct(o) - t) / t * 1e6
    before.flags.writeable = False
    after.flags.writeable = False
    return Calibration(model, intercept, slope, before, after)
