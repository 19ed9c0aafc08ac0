"""UV-vis absorption spectra: reading, baseline, bands and shoulders (:mod:`.bands`), and
non-negative unmixing against reference spectra (:mod:`.unmix`, which builds on bands).

Contents
--------
AbsorptionSpectra, Band, GaussianBand, UnmixResult
    Records: spectra (read-only), a found band, a model band, an unmixing result.
HC_EV_NM
    h·c in eV·nm.
read_uvvis
    Read CSV/TSV/TXT absorption tables (nm or eV, header optional).
fit_baseline, correct_baseline, smooth
    Scattering (``a·λ⁻⁴ + b·λ⁻¹ + c``) or polynomial background; Savitzky-Golay.
find_bands
    Peaks (maxima of A) and shoulders (minima of d²A/dλ² without a maximum of A).
model_spectrum, reference_bands
    Gaussian model spectra; the packaged band tables of the known clusters.
unmix, plot_series
    Non-negative unmixing against references; a series coloured by time (Fig. 3a-c).
"""

from __future__ import annotations

from .bands import (
    HC_EV_NM,
    AbsorptionSpectra,
    Band,
    GaussianBand,
    correct_baseline,
    find_bands,
    fit_baseline,
    model_spectrum,
    read_uvvis,
    reference_bands,
    smooth,
)
from .unmix import UnmixResult, plot_series, unmix

__all__ = [
    "AbsorptionSpectra",
    "Band",
    "GaussianBand",
    "HC_EV_NM",
    "UnmixResult",
    "correct_baseline",
    "find_bands",
    "fit_baseline",
    "model_spectrum",
    "plot_series",
    "read_uvvis",
    "reference_bands",
    "smooth",
    "unmix",
]
