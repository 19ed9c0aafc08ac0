"""UV-vis unmixing and series plots (:mod:`nanoalloy.uvvis` re-exports them).

Contents
--------
UnmixResult
    Fractions, uncertainties, fitted spectra and residuals of an unmixing.
unmix
    Non-negative least squares (SciPy ``nnls``) of spectra against reference spectra.
plot_series
    A series of spectra coloured by time (the paper's Fig. 3a-c).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike

from ..errors import FitError, InputError
from .bands import AbsorptionSpectra, FloatArray, _baseline_design

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["UnmixResult", "plot_series", "unmix"]


@dataclass(frozen=True, slots=True, eq=False)
class UnmixResult:
    """Outcome of :func:`unmix`; arrays have one row per spectrum, one column per reference."""

    references: tuple[str, ...]
    """Reference names, in column order."""
    labels: tuple[str, ...]
    """Spectrum labels, in row order."""
    wavelength_nm: FloatArray
    """The grid the fit used (overlap of spectrum and references)."""
    coefficients: FloatArray
    """Non-negative weights of the (normalised) references, ``(n_spectra, n_refs)``."""
    coefficient_sd: FloatArray
    """Standard deviations of the coefficients (residual variance times ``(AᵀA)⁻¹``)."""
    fractions: FloatArray
    """``coefficients / coefficients.sum()`` per spectrum (NaN if all are zero)."""
    fraction_sd: FloatArray
    """Standard deviations of the fractions (first-order propagation)."""
    components: FloatArray
    """Design columns (normalised references, then background terms), ``(n_wl, n_cols)``."""
    background: FloatArray
    """Coefficients of the background terms, ``(n_spectra, n_terms)`` (may be empty)."""
    fitted: FloatArray
    """Fitted absorbance, ``(n_wl, n_spectra)``."""
    residual: FloatArray
    """Measured minus fitted, ``(n_wl, n_spectra)``."""
    r_squared: FloatArray
    """Coefficient of determination per spectrum."""


# ----------------------------------------------------------------------------- unmixing
def _reference_columns(
    references: AbsorptionSpectra | Sequence[AbsorptionSpectra],
) -> list[tuple[str, AbsorptionSpectra, int]]:
    refs = [references] if isinstance(references, AbsorptionSpectra) else list(references)
    cols = [(lab, r, j) for r in refs for j, lab in enumerate(r.labels)]
    names = [c[0] for c in cols]
    dup = sorted({n for n in names if names.count(n) > 1})
    if not cols or dup:
        raise InputError(f"reference names must be unique and given; repeated: {', '.join(dup)}")
    return cols


def unmix(
    spectra: AbsorptionSpectra,
    references: AbsorptionSpectra | Sequence[AbsorptionSpectra],
    /,
    *,
    normalize: Literal["none", "area", "max"] = "none",
    background: Literal["none", "constant", "scattering"] = "none",
    range_nm: tuple[float, float] | None = None,
) -> UnmixResult:
    """Non-negative linear unmixing of each column against reference spectra.

    Every column ``y`` is fitted as ``y ≈ Σ c_k R_k (+ background)`` with
    ``c_k >= 0`` by :func:`scipy.optimize.nnls`, on the wavelengths the spectrum
    and all references share (references are linearly interpolated onto the
    spectrum's grid). The fraction of reference ``k`` is ``c_k / Σ c``:

    * ``normalize='none'`` - the references as given. For molar spectra (or
      references recorded at equal concentration) the fractions are mole
      fractions, i.e. the true mixing coefficients.
    * ``normalize='area'`` - each reference scaled to unit area on the common
      grid; fractions are shares of the integrated absorbance.
    * ``normalize='max'`` - each reference scaled to unit maximum.

    Background terms (``constant``: an offset; ``scattering``: ``λ⁻⁴``, ``λ⁻¹``
    and an offset, all non-negative) are fitted beside the references but are
    not part of the fractions. Uncertainties: the covariance of the
    coefficients is ``s²(AᵀA)⁻¹`` with ``s² = RSS/(n − p)``, propagated to the
    fractions to first order.

    Raises
    ------
    InputError
        References that do not overlap the spectrum, or duplicate names.
    FitError
        A singular design (e.g. a reference that is all zeros, or two identical).

    Examples
    --------
    >>> from nanoalloy.uvvis import model_spectrum, reference_bands
    >>> wl = np.arange(350.0, 901.0)
    >>> au = AbsorptionSpectra(wl, model_spectrum(reference_bands("Au44"), wl), labels=["Au44"])
    >>> ag = AbsorptionSpectra(wl, model_spectrum(reference_bands("Ag44"), wl), labels=["Ag44"])
    >>> mix = AbsorptionSpectra(wl, 0.3 * au.absorbance + 0.7 * ag.absorbance)
    >>> unmix(mix, [au, ag]).fractions.round(3).tolist()
    [[0.3, 0.7]]
    """
    from scipy.optimize import nnls

    cols = _reference_columns(references)
    wl = spectra.wavelength_nm
    lo = max([float(wl[0])] + [float(r.wavelength_nm[0]) for _, r, _ in cols])
    hi = min([float(wl[-1])] + [float(r.wavelength_nm[-1]) for _, r, _ in cols])
    if range_nm is not None:
        lo, hi = max(lo, range_nm[0]), min(hi, range_nm[1])
    keep = (wl >= lo) & (wl <= hi)
    n, nref = int(keep.sum()), len(cols)
    if n < nref + 3:
        raise InputError(
            f"spectrum and references share {n} points ({lo:g}-{hi:g} nm); need at least {nref + 3}"
        )
    grid = wl[keep]
    refs = np.column_stack(
        [np.interp(grid, r.wavelength_nm, r.absorbance[:, j]) for _, r, j in cols]
    )
    scales = {"area": lambda: np.trapezoid(refs, grid, axis=0), "none": lambda: np.ones(nref)}
    scales["max"] = lambda: np.abs(refs).max(axis=0)
    terms = {"none": 0, "constant": 1, "scattering": 3}
    if normalize not in scales or background not in terms:
        raise InputError(f"unknown normalize={normalize!r} or background={background!r}")
    scale = np.asarray(scales[normalize](), dtype=np.float64)
    if not ((scale > 0) & refs.any(axis=0)).all():
        bad = [cols[k][0] for k in range(nref) if not (scale[k] > 0 and refs[:, k].any())]
        raise FitError(f"reference(s) {', '.join(bad)} are zero or negative on {lo:g}-{hi:g} nm")
    refs = refs / scale
    bg = _baseline_design(grid, "scattering", 0)[:, 3 - terms[background] :]
    design = np.column_stack([refs, bg])
    p = design.shape[1]
    gram = design.T @ design
    if np.linalg.matrix_rank(gram) < p:
        raise FitError("references (and background terms) are linearly dependent; cannot unmix")
    gram_inv = np.linalg.inv(gram)
    y_all = spectra.absorbance[keep]
    m = spectra.n_spectra
    coef, coef_sd = np.zeros((m, p)), np.full((m, p), np.nan)
    frac, frac_sd = np.full((m, nref), np.nan), np.full((m, nref), np.nan)
    fitted, r2 = np.zeros((n, m)), np.full(m, np.nan)
    for j in range(m):
        y = y_all[:, j]
        c, _ = nnls(design, y)
        coef[j] = c
        fitted[:, j] = design @ c
        rss = float(np.sum((y - fitted[:, j]) ** 2))
        tss = float(np.sum((y - y.mean()) ** 2))
        r2[j] = 1 - rss / tss if tss > 0 else math.nan
        cov = rss / (n - p) * gram_inv if n > p else np.full((p, p), np.nan)
        coef_sd[j] = np.sqrt(np.clip(np.diag(cov), 0, None))
        total = float(c[:nref].sum())
        if total > 0:
            f = c[:nref] / total
            jac = (np.eye(nref) - f[:, None]) / total  # d f_i / d c_k
            frac[j] = f
            frac_sd[j] = np.sqrt(np.clip(np.diag(jac @ cov[:nref, :nref] @ jac.T), 0, None))
    return UnmixResult(
        references=tuple(c[0] for c in cols),
        labels=spectra.labels,
        wavelength_nm=grid,
        coefficients=coef[:, :nref],
        coefficient_sd=coef_sd[:, :nref],
        fractions=frac,
        fraction_sd=frac_sd,
        components=design,
        background=coef[:, nref:],
        fitted=fitted,
        residual=y_all - fitted,
        r_squared=r2,
    )


# ----------------------------------------------------------------------------- plotting
def plot_series(
    spectra: AbsorptionSpectra,
    /,
    *,
    times: ArrayLike | None = None,
    time_label: str = "time (min)",
    ax: Axes | None = None,
    cmap: str = "viridis",
) -> Figure:
    """Draw every column, coloured by time (viridis), with a colour bar; returns the figure.

    ``times`` defaults to the column labels if all are numbers, else to 0, 1, 2...

    Examples
    --------
    >>> from nanoalloy.uvvis import model_spectrum, reference_bands
    >>> wl = np.arange(350.0, 901.0)
    >>> s = AbsorptionSpectra(wl, np.column_stack([model_spectrum([(480, 40, k)], wl) for k in (1, 2)]))
    >>> fig = plot_series(s, times=[0, 30])
    >>> len(fig.axes[0].lines)
    2
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    if times is None:
        try:
            t = np.array([float(x) for x in spectra.labels])
        except ValueError:
            t = np.arange(spectra.n_spectra, dtype=float)
            time_label = "spectrum index"
    else:
        t = np.asarray(times, dtype=float)
        if t.shape != (spectra.n_spectra,):
            raise InputError(f"{t.size} times for {spectra.n_spectra} spectra")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    figure = ax.get_figure()
    assert figure is not None
    norm = Normalize(float(t.min()), float(t.max()) if t.max() > t.min() else float(t.min()) + 1)
    colormap = plt.get_cmap(cmap)
    for j in range(spectra.n_spectra):
        ax.plot(spectra.wavelength_nm, spectra.absorbance[:, j], color=colormap(norm(t[j])), lw=1)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=colormap)
    figure.colorbar(mappable, ax=ax, label=time_label)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel(spectra.units)
    return figure  # type: ignore[return-value]
