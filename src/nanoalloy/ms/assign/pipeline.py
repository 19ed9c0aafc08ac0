"""Assign a cluster mass spectrum: which species are there and how much of each.

:func:`assign` runs the whole pipeline on one :class:`~nanoalloy.spectrum.Spectrum`:

1. resolving power: given; else measured on isolated peaks (standing above a
   50 m/z baseline, with a noise floor of 0.2 % of the tallest peak, so that
   the beats of dense interleaved isotope combs do not pass); else the file's
   claim; else the larger of two estimates that overlaps can only lower (the
   valley depth between overlapping isotope peaks,
   :func:`~nanoalloy.peaks.resolution_from_valleys`, and the upper quantile of
   peak widths); then decimation to a few points per FWHM,
   baseline removal (wide morphological opening; the remainder is fitted as a
   piecewise-linear baseline with the ions), noise estimate;
2. library pruning: every candidate ion of the preset whose main isotope peaks
   (within ``tolerance_ppm``) do not all stand above ``min_snr`` x noise is
   dropped, without rendering anything; a cluster species survives with any
   surviving ion, and then brings all its in-range ion forms (ions landing on
   no signal are evidence too);
3. the joint structured fit of :mod:`nanoalloy.fit` (every family, charge,
   Na+ and Cl-shell variant, fragments and complexes at once); the design is
   rendered once and calibrations are applied by reading the data on the
   corrected axis;
4. calibration ``ppm(m) = a + b m``: a screen of offset (+-32 ppm) x slope
   (+-8 ppm per 1000 m/z) by species-only fits, full-refit walks along the
   offset at the best screened slope and at none, then offset and slope
   refined together in shrinking 3 x 3 grids of full refits with a quadratic
   step (form weights refitted each time, because weights fitted at one
   calibration absorb part of its error: one Au/Ag swap against four Na+/H+
   exchanges moves the isotope comb by ~18 ppm, and the residual is a narrow
   tilted valley in offset and slope); ppm errors per m/z window
   before/after are reported in the :class:`~nanoalloy.peaks.Calibration`;
5. model selection: fragments whose parent species carry no signal go (an
   M43(SR)28 fragment + 2 Na is isobaric to M44(SR)27); a family is dropped
   when the others re-explain >= 90 % of its share of the model and the
   residual at most quadruples (e.g. M44S26 3- under M44S27 3- when the
   6-/7-/8- region is not recorded); species detached from their family's
   contiguous x range go when the rest re-explains >= 50 % of theirs, unless
   they hold >= 5 % of all cluster signal (a second mode: then the family
   standard applies);
6. tables: species (abundance = share of the integrated cluster ion signal,
   sd from the residual variance and the fit's Gram matrix, score, near-isobar
   partners), ions, families. Species whose fitted apex stays below
   ``min_snr`` x noise are not reported; a spectrum without any reported
   cluster gives empty tables and ``message == "no clusters found"``.

Score: cosine similarity between a species' fitted contribution and the data
it explains (its contribution plus the residual, where it is >= 5 % of its
apex), times log10(1 + apex / noise). True species score ~2-3 on good data,
stand-ins for noise or near-isobars well below.

Speed: BLAS threads only contend on the small dense blocks solved here, so
:func:`assign` holds BLAS to one thread while it runs (threadpoolctl).

Contents
--------
Assignment
    The result: ``species``, ``ions``, ``families`` tables, the fitted model,
    residual, calibration, R^2, ``plot``, ``write`` and an HTML view.
assign
    Spectrum -> :class:`Assignment`.
SPECIES_COLUMNS, ION_COLUMNS
    Column order of the species and ion tables.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._assign_steps import (
    _build_design,
    _calibrated,
    _coarse_calibration,
    _drop_redundant_families,
    _fit_round,
    _library,
    _Problem,
    _problem,
    _prune,
    _refine_calibration,
    _window_shifts,
)
from ._parallel import serial_blas
from .errors import FitError
from .fit import cosine_pairs, decimate
from .library import CandidateLibrary, Preset, load_preset
from .peaks import Calibration
from .spectrum import Spectrum

if TYPE_CHECKING:
    import pandas as pd

    from .isotopes import Pattern

__all__ = ["Assignment", "ION_COLUMNS", "SPECIES_COLUMNS", "assign"]

SPECIES_COLUMNS = (
    "species",
    "family",
    "au",
    "ag",
    "ligands",
    "core_charge",
    "electrons",
    "abundance",
    "abundance_sd",
    "score",
    "signal",
    "n_ions",
    "near_isobar",
)
"""Columns of :attr:`Assignment.species`, in order."""

ION_COLUMNS = (
    "ion",
    "species",
    "family",
    "charge",
    "na",
    "halides",
    "mz",
    "mz_observed",
    "ppm_error",
    "intensity",
    "sd",
    "near_isobar",
)
"""Columns of :attr:`Assignment.ions`, in order."""


@dataclass(frozen=True, slots=True, eq=False)
class Assignment:
    """Result of :func:`assign`.

    Tables are pandas DataFrames (see :data:`SPECIES_COLUMNS`,
    :data:`ION_COLUMNS` and :data:`nanoalloy.composition.FAMILY_COLUMNS`).
    """

    species: pd.DataFrame
    """One row per neutral species (clusters pooled over ion forms and Cl shells; fragments, complexes)."""
    ions: pd.DataFrame
    """One row per fitted ion."""
    families: pd.DataFrame
    """One row per cluster family: fraction, mean x, Au/Ag, 90 % x range, mean electrons."""
    spectrum: Spectrum = field(repr=False)
    """The spectrum as given (uncalibrated)."""
    calibration: Calibration | None
    """m/z calibration found (None when disabled or not determinable)."""
    resolution: float
    """Resolving power used."""
    r2: float
    """Coefficient of determination of the fit (baseline-free data, decimated grid)."""
    rmse: float
    """Root-mean-square residual on the decimated grid."""
    noise: float
    """Noise standard deviation estimated from the data."""
    message: str = ""
    """Human-readable note (e.g. ``no clusters found``)."""
    _render: tuple[Any, ...] = field(default=(), repr=False)

    # ------------------------------------------------------------------ derived
    @property
    def found(self) -> bool:
        """True when at least one cluster species was fitted."""
        return bool(len(self.families))

    @property
    def ppm_shift(self) -> float:
        """Calibration shift at the median m/z of the spectrum (ppm; 0 if none)."""
        cal = self.calibration
        if cal is None or len(self.spectrum) == 0:
            return 0.0
        m = float(np.median(self.spectrum.mz))
        return float(cal.ppm_intercept + cal.ppm_slope * m)

    @property
    def model(self) -> np.ndarray:
        """Fitted model (ion signal + baseline) at every point of :attr:`spectrum`."""
        from .isotopes import profile

        pats, weights, mz_cal, baseline = self._render
        y = np.asarray(baseline, dtype=float).copy()
        if pats:
            _, ions = profile(pats, self.resolution, mz=mz_cal, weights=weights)
            y += ions
        return y

    @property
    def residual(self) -> np.ndarray:
        """Spectrum minus :attr:`model`."""
        return np.asarray(self.spectrum.intensity - self.model)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (what ``nanoalloy assign --json`` prints)."""
        cal = self.calibration
        fams = self.families.to_dict(orient="records")
        top = self.species.sort_values("abundance", ascending=False).head(10)
        return {
            "clusters_found": self.found,
            "message": self.message,
            "points": len(self.spectrum),
            "resolution": round(self.resolution, 1),
            "noise": self.noise,
            "r2": self.r2,
            "rmse": self.rmse,
            "calibration": None
            if cal is None
            else {
                "model": cal.model,
                "ppm_intercept": cal.ppm_intercept,
                "ppm_slope": cal.ppm_slope,
                "rms_ppm_before": _jsonable(cal.rms_ppm_before),
                "rms_ppm_after": _jsonable(cal.rms_ppm_after),
            },
            "n_species": int(len(self.species)),
            "n_ions": int(len(self.ions)),
            "families": [{k: _jsonable(v) for k, v in r.items()} for r in fams],
            "top_species": [
                {k: _jsonable(v) for k, v in r.items()}
                for r in top[["species", "family", "abundance", "abundance_sd", "score"]].to_dict(
                    orient="records"
                )
            ],
        }

    def plot(self, path: str | Path | None = None, /, *, n_labels: int = 12) -> Any:
        """Spectrum, fitted model, labelled strongest ions and the residual panel.

        Returns the matplotlib Figure; with ``path`` it is also saved there (Agg).
        """
        return _plot(self, path, n_labels=n_labels)

    def write(self, folder: str | Path, /, *, plot: bool = True, fit: bool = True) -> Path:
        """Write the tables (and figure, fitted profile) into ``folder`` atomically.

        ``species.csv``, ``ions.csv``, ``families.csv``; with ``plot``
        ``spectrum.png``; with ``fit`` ``fit.csv``: ``mz,intensity,model`` on
        the measured axis, min-max decimated to at most 20,000 points (every
        apex kept), which the interactive report draws.
        """
        import pandas as pd

        from .output import atomic_dir
        from .report import decimate

        out = Path(folder)
        with atomic_dir(out) as stage:
            self.species.to_csv(stage / "species.csv", index=False)
            self.ions.to_csv(stage / "ions.csv", index=False)
            self.families.to_csv(stage / "families.csv", index=False)
            if plot:
                self.plot(stage / "spectrum.png")
            if fit and len(self.spectrum):
                mz, y, model = decimate(
                    self.spectrum.mz, self.spectrum.intensity, self.model, max_points=20_000
                )
                pd.DataFrame({"mz": mz, "intensity": y, "model": model}).to_csv(
                    stage / "fit.csv", index=False
                )
        return out

    def _repr_html_(self) -> str:
        import html

        head = (
            f"<b>Assignment</b>: {len(self.species)} species, {len(self.ions)} ions, "
            f"R<sup>2</sup> = {self.r2:.4f}, R = {self.resolution:,.0f}"
        )
        if self.calibration is not None and self.calibration.ppm_before.size:
            head += (
                f", calibration {self.calibration.rms_ppm_before:.1f} &rarr; "
                f"{self.calibration.rms_ppm_after:.1f} ppm rms"
            )
        if self.message:
            head += f"<br><i>{html.escape(self.message)}</i>"
        fam = self.families.to_html(index=False, float_format=lambda v: f"{v:.3g}")
        top = self.species.sort_values("abundance", ascending=False).head(20)
        cols = ["species", "family", "abundance", "abundance_sd", "score"]
        sp = top[cols].to_html(index=False, float_format=lambda v: f"{v:.3g}")
        return f"<div>{head}{fam}{sp}</div>"

    def __repr__(self) -> str:
        return (
            f"<Assignment {len(self.species)} species, {len(self.ions)} ions, "
            f"r2={self.r2:.4f}, R={self.resolution:.0f}>"
        )


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


# ---------------------------------------------------------------------- library


# ---------------------------------------------------------------------- pipeline
@serial_blas
def assign(
    spectrum: Spectrum,
    /,
    *,
    preset: str | Path | Preset = "auag44-pmba",
    resolution: float | None = None,
    calibrate: bool = True,
    families: tuple[str, ...] | None = None,
    fragments: bool = True,
    complexes: bool = True,
    min_snr: float = 3.0,
    tolerance_ppm: float = 25.0,
    points_per_fwhm: float = 4.0,
    baseline_window_mz: float = 100.0,
    baseline_knot_mz: float = 50.0,
    isobar_threshold: float = 0.95,
    family_tolerance: float = 0.1,
) -> Assignment:
    """Assign every cluster ion of a preset in one spectrum.

    Parameters
    ----------
    spectrum
        Profile spectrum (negative-mode ESI; intensities as measured).
    preset
        Candidate preset name, path or :class:`~nanoalloy.library.Preset`.
    resolution
        Resolving power; estimated from the data when omitted.
    calibrate
        Correct the m/z axis (linear ppm model) on the fitted ions.
    families, fragments, complexes
        Restrict the candidate library (see :func:`~nanoalloy.library.enumerate_candidates`).
    min_snr
        Pruning threshold: a candidate's main peaks must exceed ``min_snr`` x noise.
    tolerance_ppm
        m/z tolerance of the pruning (covers uncorrected calibration error).
    points_per_fwhm
        Decimation of the spectrum for the fit.
    baseline_window_mz
        Width of the baseline's morphological window (wider than an envelope).
    baseline_knot_mz
        Knot spacing of the piecewise-linear baseline correction fitted with the ions.
    isobar_threshold
        Cosine similarity above which two fitted columns are flagged near-isobaric.
    family_tolerance
        A family is dropped (and the rest refitted) when removing it raises the
        residual sum of squares by less than this fraction of the family's own
        share of the model (sum of squares of its fitted signal), and by less than
        four times the residual: its ions are then explained by another family's
        near-isobars (e.g. M44S26 3- under M44S27 3- when the 6-/7-/8- region is
        not recorded). A true family raised the residual 15-240 fold on synthetic
        data, a near-isobaric decoy 0.2-1.1 fold. 0.3 passed more random synthetic
        spectra (``scripts/assign_sweep.py``: 36/40 and 34/40 against 32/40 and
        29/40) but dropped the true M44S30 from a sparsely sampled demo spectrum.

    Returns
    -------
    Assignment
        With empty tables and ``message == "no clusters found"`` when nothing fits.

    Raises
    ------
    FitError
        When the spectrum is empty, centroided, or its resolving power cannot
        be determined.

    Examples
    --------
    >>> import pandas as pd
    >>> from nanoalloy.synth import synthesize
    >>> pops = pd.DataFrame({"family": ["M44S30"] * 2, "au": [11, 12], "fraction": [0.4, 0.6]})
    >>> spec = synthesize(pops, mz_range=(2200, 2700), resolution=20000, seed=3).spectrum
    >>> res = assign(spec, resolution=20000, fragments=False, complexes=False)
    >>> res.families[["family", "x90_low", "x90_high"]].values.tolist()
    [['M44S30', 11, 12]]
    """

    from .peaks import estimate_baseline, noise_level

    p = load_preset(preset) if isinstance(preset, str | Path) else preset
    if len(spectrum) < 16:
        raise FitError(f"the spectrum has only {len(spectrum)} points; nothing to fit")
    if spectrum.centroided:
        raise FitError("assign needs profile data; this spectrum is centroided")
    if float(spectrum.intensity.max()) <= 0:
        raise FitError("the spectrum holds no signal (all intensities are zero)")
    if resolution is None:
        resolution = _estimate_resolution(spectrum)
    if not (math.isfinite(resolution) and 100 <= resolution <= 1e7):
        raise FitError(f"resolution must be between 100 and 1e7, got {resolution}")

    lib, pats, owner, main_mz = _library(p)
    fam_ok = np.ones(len(lib), dtype=bool)
    for i, c in enumerate(lib.candidates):
        if c.kind == "fragment" and not fragments:
            fam_ok[i] = False
        elif c.kind == "complex" and not complexes:
            fam_ok[i] = False
        elif c.kind == "cluster" and families is not None and c.family not in families:
            fam_ok[i] = False
    mz0 = spectrum.mz
    in_range = fam_ok & (lib.mz_average >= mz0[0]) & (lib.mz_average <= mz0[-1])

    g = decimate(mz0, spectrum.intensity, resolution=resolution, points_per_fwhm=points_per_fwhm)
    gspec = Spectrum(g.mz, g.intensity)
    base = estimate_baseline(gspec, window_mz=baseline_window_mz)
    gy = g.intensity - base
    noise = noise_level(gspec)
    if noise <= 0:
        noise = 1e-3 * float(max(gy.max(), 1e-300))
    survive = _prune(
        lib,
        owner,
        main_mz,
        g.mz,
        gy,
        in_range=in_range,
        threshold=min_snr * noise,
        tolerance_ppm=tolerance_ppm,
        resolution=resolution,
        points_per_fwhm=points_per_fwhm,
    )
    prob = _problem(lib, survive, in_range)
    if not (~prob.free_group).any():
        return _empty(spectrum, resolution, noise, base, g)
    design = _build_design(prob, pats, g, resolution, baseline_knot_mz)
    cal_a, cal_b = 0.0, 0.0
    if calibrate:
        cal_a, cal_b = _coarse_calibration(prob, design, g, gy)
    y = _calibrated(g.mz, gy, cal_a, cal_b, design.mz)
    state = _fit_round(prob, design, y, prob.form_init, 6)
    # offset and slope together, in shrinking steps; forms carried between rounds
    for step in ((4.0, 4.0), (2.0, 2.0), (1.0, 1.0)) if calibrate else ():
        cal_a, cal_b = _refine_calibration(
            prob, design, g, gy, cal_a, cal_b, step=step, form_w=state["fit"].form
        )
        y = _calibrated(g.mz, gy, cal_a, cal_b, design.mz)
        state = _fit_round(prob, design, y, state["fit"].form, 3)
    calibration = None
    after = np.zeros((0, 3))  # (centre m/z, ppm error, weight) per window, after calibration
    if calibrate:
        after = _window_shifts(
            state["design"],
            state["fit"],
            state["group_ext"],
            state["form_ext"],
            design.mz,
            y,
            np.arange(-8.0, 8.01, 2.0),
            noise,
        )
        # errors of the raw axis: the residual error + the correction applied (no
        # window may qualify, e.g. on sparsely sampled data: the correction applied
        # is reported all the same, with empty error arrays)
        before = after[:, 1] + cal_a + cal_b * after[:, 0]
        calibration = Calibration(
            "linear" if cal_b else "offset", cal_a, cal_b, _ro(before), _ro(after[:, 1])
        )
    prob, state = _drop_redundant_families(prob, state, design, family_tolerance)
    state["g"] = g
    state["gy"] = _calibrated(g.mz, gy, cal_a, cal_b, g.mz)
    state["rows"] = design.rows
    state["base"] = base + np.asarray(design.hats @ state["hat_coef"])
    mz = mz0 / (1.0 + (cal_a + cal_b * mz0) * 1e-6)
    return _tables(
        spectrum,
        p,
        lib,
        pats,
        prob,
        state,
        resolution,
        noise,
        calibration,
        mz,
        after,
        isobar_threshold,
        min_snr,
    )


def _ro(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=float)
    out.flags.writeable = False
    return out


def _estimate_resolution(spectrum: Spectrum) -> float:
    """Resolving power of the data (see :func:`assign`, step 1)."""
    from .peaks import estimate_resolution, noise_level, resolution_from_valleys

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
    from .peaks import centroid

    c = centroid(spectrum, min_snr=20.0, noise=noise)
    fwhm = np.asarray(c.metadata.get("fwhm", np.zeros(0)), dtype=float)
    ok = np.isfinite(fwhm) & (fwhm > 0)
    if ok.sum() < 5:
        return math.nan
    return float(np.quantile(c.mz[ok] / fwhm[ok], 0.9))


# ---------------------------------------------------------------------- tables
def _empty(
    spectrum: Spectrum, resolution: float, noise: float, base: np.ndarray, g: Any
) -> Assignment:
    import pandas as pd

    from .composition import FAMILY_COLUMNS

    baseline = base[g.index]
    return Assignment(
        pd.DataFrame(columns=list(SPECIES_COLUMNS)),
        pd.DataFrame(columns=list(ION_COLUMNS)),
        pd.DataFrame(columns=list(FAMILY_COLUMNS)),
        spectrum,
        None,
        float(resolution),
        0.0,
        float(np.sqrt(np.mean((spectrum.intensity - baseline) ** 2))),
        float(noise),
        "no clusters found",
        ([], np.zeros(0), spectrum.mz, baseline),
    )


def _tables(
    spectrum: Spectrum,
    preset: Preset,
    lib: CandidateLibrary,
    pats: list[Pattern],
    prob: _Problem,
    state: dict[str, Any],
    resolution: float,
    noise: float,
    calibration: Calibration | None,
    mz_cal: np.ndarray,
    shifts: np.ndarray,
    isobar_threshold: float,
    min_snr: float,
) -> Assignment:
    import pandas as pd

    from .composition import family_table

    fitted = state["fit"]
    design, rows, gy = state["design"], state["rows"], state["gy"]
    y = gy[rows]
    resid = y - fitted.model
    ss_res = float(resid @ resid) + float(np.sum(np.delete(gy, rows) ** 2))
    ss_tot = float(np.sum((gy - gy.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    rmse = math.sqrt(ss_res / gy.size)
    sigma2 = max(float(resid @ resid) / max(y.size - fitted.group.size, 1), noise**2)
    # per-group uncertainty from the active block of the Gram matrix (baseline terms included)
    sd_all = np.zeros(fitted.group.size)
    act = np.flatnonzero(fitted.group > 0)
    if act.size:
        cov = np.linalg.pinv(fitted.gram[np.ix_(act, act)]) * sigma2
        sd_all[act] = np.sqrt(np.clip(np.diag(cov), 0, None))
    n_group, n_ion = state["n"]
    design = design[:, :n_ion]
    fitted = dataclasses.replace(
        fitted,
        group=fitted.group[:n_group],
        ion=fitted.ion[:n_ion],
        gram=fitted.gram[:n_group, :n_group],
        design=design,
    )
    sd_a = sd_all[:n_group]
    cands = [lib.candidates[i] for i in prob.idx]
    mz_mean = lib.mz_average[prob.idx]
    a = fitted.group
    active = a > 0
    # ion intensities: only ions whose mean m/z lies in the spectrum count (as the truth does)
    ion_i = fitted.ion
    factor = np.where(ion_i > 0, ion_i / np.where(a[prob.group] > 0, a[prob.group], 1.0), 0.0)
    signal = np.bincount(prob.group, weights=ion_i, minlength=n_group)
    sd_signal = sd_a * np.bincount(prob.group, weights=factor, minlength=n_group)
    # score: envelope correlation with the data it explains x log SNR
    from scipy import sparse

    mix = sparse.csc_matrix(
        (np.where(prob.form >= 0, factor, 1.0), (np.arange(prob.group.size), prob.group)),
        shape=(prob.group.size, n_group),
    )
    cols = (design @ mix).tocsc()
    score = np.zeros(n_group)
    for k in np.flatnonzero(active).tolist():
        col = cols[:, k]
        r_idx = col.indices
        c = col.data * a[k]
        keep = c > 0.05 * c.max()
        part = resid[r_idx[keep]] + c[keep]
        den = float(np.linalg.norm(c[keep]) * np.linalg.norm(part))
        cos = float(c[keep] @ part) / den if den > 0 else 0.0
        score[k] = max(cos, 0.0) * math.log10(1.0 + float(c.max()) / noise)
    # near-isobar partners among species (structured columns)
    gram_cols = (cols.T @ cols).toarray()
    partners: dict[int, list[str]] = {}
    for i, j, _ in cosine_pairs(gram_cols, active, threshold=isobar_threshold):
        partners.setdefault(i, []).append(prob.group_labels[j][0])
        partners.setdefault(j, []).append(prob.group_labels[i][0])

    first: dict[int, Any] = {}
    n_ions = np.bincount(prob.group, weights=(ion_i > 0).astype(float), minlength=n_group)
    for c, gidx in zip(cands, prob.group, strict=True):
        first.setdefault(int(gidx), c)
    sp_rows = []
    height = np.zeros(n_group)
    for k in np.flatnonzero(active).tolist():
        height[k] = float(cols[:, k].data.max(initial=0.0)) * a[k]
    for k in range(int(n_group)):
        # below the detection limit: not reported (and not counted in the abundances)
        if signal[k] <= 0 or height[k] < min_snr * noise:
            continue
        c = first[k]
        label, family, au = prob.group_labels[k]
        sp_rows.append(
            {
                "species": c.species,
                "family": family,
                "au": c.au,
                "ag": c.ag,
                "ligands": c.ligands,
                "core_charge": c.core_charge,
                "electrons": c.au + c.ag - c.ligands - c.core_charge,
                "signal": signal[k],
                "signal_sd": sd_signal[k],
                "score": score[k],
                "n_ions": int(n_ions[k]),
                "near_isobar": ";".join(sorted(set(partners.get(k, [])))),
            }
        )
    sp = pd.DataFrame(sp_rows)
    if sp.empty:
        return _empty(spectrum, resolution, noise, state["base"], state["g"])
    # fragments / complexes: pool free ions into their neutral species
    agg = {
        "au": "first",
        "ag": "first",
        "ligands": "first",
        "core_charge": "first",
        "electrons": "first",
        "signal": "sum",
        "signal_sd": lambda s: float(np.sqrt(np.sum(np.square(s)))),
        "score": "max",
        "n_ions": "sum",
        "near_isobar": lambda s: ";".join(sorted({v for t in s for v in t.split(";") if v})),
    }
    sp = sp.groupby(["species", "family"], as_index=False, sort=False).agg(agg)
    cluster = ~sp["family"].isin(["fragment", "complex"])
    total = float(sp.loc[cluster, "signal"].sum())
    if total <= 0:
        return _empty(spectrum, resolution, noise, state["base"], state["g"])
    sp["abundance"] = sp["signal"] / total
    sp["abundance_sd"] = sp["signal_sd"] / total
    fam_order = {f.name: i for i, f in enumerate(preset.families)}
    fam_order.update({"fragment": 98, "complex": 99})
    sp["_o"] = sp["family"].map(fam_order)
    sp = sp.sort_values(["_o", "au", "ligands"]).drop(columns=["_o", "signal_sd"])
    sp = sp[list(SPECIES_COLUMNS)].reset_index(drop=True)

    ions = _ion_table(cands, prob, fitted, pats, design, mz_mean, sd_a, shifts, isobar_threshold)
    fams = family_table(sp, n_metals=preset.families[0].n_metals)
    live = ion_i > 0
    render_pats = [pats[i] for i, keep in zip(prob.idx, live, strict=True) if keep]
    baseline = state["base"][state["g"].index]
    return Assignment(
        sp,
        ions,
        fams,
        spectrum,
        calibration,
        float(resolution),
        float(r2),
        float(rmse),
        float(noise),
        "",
        (render_pats, ion_i[live], mz_cal, baseline),
    )


def _ion_table(
    cands: list[Any],
    prob: _Problem,
    fitted: Any,
    pats: list[Pattern],
    design: Any,
    mz_mean: np.ndarray,
    sd_a: np.ndarray,
    shifts: np.ndarray,
    isobar_threshold: float,
) -> pd.DataFrame:
    import pandas as pd

    ion_i = fitted.ion
    a = fitted.group[prob.group]
    live = np.flatnonzero(ion_i > 1e-12 * max(float(ion_i.max()), 1e-300))
    # near-isobar partners of the fitted ions (any candidate in the problem)
    norms = np.sqrt(np.asarray(design.multiply(design).sum(axis=0)).ravel())
    sub = design[:, live]
    cross = (sub.T @ design).tocoo()
    cos = cross.data / np.maximum(norms[live][cross.row] * norms[cross.col], 1e-300)
    partners: dict[int, list[str]] = {}
    sel = (cos > isobar_threshold) & (live[cross.row] != cross.col)
    for r, c in zip(cross.row[sel].tolist(), cross.col[sel].tolist(), strict=True):
        partners.setdefault(int(live[r]), []).append(str(cands[c].ion))
    if shifts.shape[0]:
        order = np.argsort(shifts[:, 0])
        ppm = np.interp(mz_mean, shifts[order, 0], shifts[order, 1])
    else:
        ppm = np.zeros(mz_mean.size)
    rows = []
    for i in live.tolist():
        c = cands[i]
        frac = ion_i[i] / a[i] if a[i] > 0 else 1.0
        rows.append(
            {
                "ion": str(c.ion),
                "species": c.species,
                "family": c.family,
                "charge": c.charge,
                "na": c.na,
                "halides": c.halides,
                "mz": float(pats[prob.idx[i]].mean_mz),
                "mz_observed": float(mz_mean[i] * (1 + 1e-6 * ppm[i])),
                "ppm_error": float(ppm[i]),
                "intensity": float(ion_i[i]),
                "sd": float(sd_a[prob.group[i]] * frac),
                "near_isobar": ";".join(sorted(set(partners.get(i, [])))),
            }
        )
    df = pd.DataFrame(rows, columns=list(ION_COLUMNS))
    return df.sort_values("intensity", ascending=False).reset_index(drop=True)


# ---------------------------------------------------------------------- figure
def _plot(result: Assignment, path: str | Path | None, *, n_labels: int) -> Any:
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    spec = result.spectrum
    model = result.model
    fig = Figure(figsize=(12, 6.5), layout="constrained")
    ax, axr = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    ax.plot(spec.mz, spec.intensity, color="0.25", lw=0.6, label="spectrum")
    ax.plot(
        spec.mz, model, color="#d62728", lw=0.6, alpha=0.85, label=f"fit (R² = {result.r2:.4f})"
    )
    axr.plot(spec.mz, spec.intensity - model, color="0.35", lw=0.5)
    axr.axhline(0.0, color="#d62728", lw=0.5)
    axr.set_ylabel("residual")
    axr.set_xlabel("m/z")
    ax.set_ylabel("intensity")
    title = "nanoalloy assign"
    if result.message:
        title += f": {result.message}"
    ax.set_title(title)
    if len(result.ions):
        top = result.ions.nlargest(n_labels, "intensity")
        for _, r in top.iterrows():
            x = float(r["mz_observed"])
            yv = float(np.interp(x, spec.mz, model))
            ax.annotate(
                str(r["ion"]),
                (x, yv),
                xytext=(0, 12),
                textcoords="offset points",
                rotation=90,
                fontsize=6,
                ha="center",
                va="bottom",
                arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.5"},
            )
    ax.legend(loc="upper right", fontsize=8)
    ax.margins(y=0.35)
    if path is not None:
        fig.savefig(Path(path), dpi=110)
    return fig
