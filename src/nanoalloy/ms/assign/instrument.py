"""Instrument model of the assigner: the resolving power of the data (step 1)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ...errors import FitError
from ..spectrum import Spectrum

if TYPE_CHECKING:
    pass

__all__: list[str] = []


def _estimate_resolution(spectrum: Spectrum) -> float:
    """Resolving power of the data (see :func:`assign`, step 1)."""
    from ..peaks import estimate_resolution, noise_level, resolution_from_valleys

    # a noise floor of 0.2 % of the tallest peak: in a noise-free (simulated)
    # spectrum every beat in an envelope's tail would otherwise count as a peak
    noise = max(noise_level(spectrum), 2e-3 * float(spectrum.intensity.max()))
    # a baseline window wider than a cluster's whole Na/isotope envelope: with a
    # narrow one the floor of a dense envelope becomes the baseline, and the
    # beats of interleaved isotope combs above it pass for narrow isolated peaks
    # (R = 15,000 read as 35,000)
    r = estimate_resolution(spectrum, min_snr=10.0, noise=noise, baseline_window_mz=50.0)
    if math.isfinite(r) and r > 0:
        return float(r)
    claimed = spectrum.metadata.get("resolution")
    if isinstance(claimed, int | float) and math.isfinite(claimed) and claimed > 0:
        return float(claimed)
    # both remaining estimates can only be lowered by overlapping neighbours
    found = [
        v
        for v in (
            resolution_from_valleys(spectrum, noise=noise),
            _resolution_from_peaks(spectrum, noise),
        )
        if v > 0
    ]
    if not found:
        raise FitError(
            "cannot estimate the resolving power from the data (isotope peaks overlap and "
            "the file does not say); pass it: --resolution R, or resolution=R"
        )
    return max(found)


def _resolution_from_peaks(spectrum: Spectrum, noise: float) -> float:
    """Upper quantile of m/z / FWHM over strong peaks (overlaps only broaden peaks); NaN if too few."""
    from ..peaks import centroid

    c = centroid(spectrum, min_snr=20.0, noise=noise)
    fwhm = np.asarray(c.metadata.get("fwhm", np.zeros(0)), dtype=float)
    ok = np.isfinite(fwhm) & (fwhm > 0)
    if ok.sum() < 5:
        return math.nan
    return float(np.quantile(c.mz[ok] / fwhm[ok], 0.9))
