"""The result of :func:`nanoalloy.ms.assign.assign`: :class:`Assignment` and its table columns."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..fit import Instrument, peak_profile
from ..peaks import Calibration
from ..spectrum import Spectrum

if TYPE_CHECKING:
    import pandas as pd

    pass

__all__ = ["Assignment", "FAMILY_EXTRA_COLUMNS", "ION_COLUMNS", "SPECIES_COLUMNS"]


SPECIES_COLUMNS = (
    "species",
    "family",
    "au",
    "ag",
    "x",
    "ligands",
    "core_charge",
    "electrons",
    "abundance",
    "abundance_sd",
    "score",
    "signal",
    "n_ions",
    "near_isobar",
    "ambiguity_group",
    "ambiguity_share",
    "window_share",
)
"""Columns of ``species.csv``. ``ambiguity_group`` names the group of hypotheses
(``A1: M44S26 | M44S27``: families that stand in for each other) a species takes part
in, empty when none; ``ambiguity_share`` is the share of the hypothesis holding its
family (1 when unambiguous). A window holding one envelope whose composition is not
identifiable puts its cluster species that stand in for each other within the one fit
(near-isobars on the same envelope) in the group too, at share 1. ``abundance`` is averaged over the hypotheses by share,
``abundance_sd`` includes noise, form weights, calibration and that spread.
``window_share`` is the share of the species' ion signal the recorded m/z window can
see, from its family's charge-state weights in the preset (NaN for fragments and
complexes; :mod:`nanoalloy.ms.response`): abundances are shares of in-window signal,
and a population estimate divides by it."""


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
    "ambiguous_with",
)
"""Columns of ``ions.csv``, one row per fitted ion of a species in ``species.csv``
(the ions of faint species left out of it are left out too); ``ambiguous_with``
lists the ions of competing hypotheses (our notation, ``;``-separated) that explain
the same signal; in a single-envelope window that is not identifiable, the other
cluster ions fitted at its charge and its near-isobars."""

FAMILY_EXTRA_COLUMNS = ("fraction_sd",)
"""Columns the assigner adds to :data:`nanoalloy.ms.composition.FAMILY_COLUMNS`:
``fraction_sd``, the sd of the family fraction (noise, forms, calibration, ambiguity)."""


@dataclass(frozen=True, slots=True, eq=False)
class Assignment:
    """Result of :func:`assign`.

    Tables are pandas DataFrames (see :data:`SPECIES_COLUMNS`,
    :data:`ION_COLUMNS` and :data:`nanoalloy.ms.composition.FAMILY_COLUMNS`).
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
    """Coefficient of determination of the fit (baseline-free data, decimated grid; the
    ends a calibrated read could fall off, at most a tenth of a narrow window each, left out)."""
    rmse: float
    """Root-mean-square residual on the decimated grid (the same rows)."""
    noise: float
    """Noise standard deviation estimated from the data."""
    message: str = ""
    """Human-readable note (e.g. ``no clusters found``)."""
    _render: tuple[Any, ...] = field(default=(), repr=False)
    instrument: Instrument | None = None
    """Fitted peak shape and resolving power R(m/z) (None: Gaussian at :attr:`resolution`)."""
    peak_shape: str = "auto"
    """The peak shape asked for (``auto``: the residual chose among them)."""
    priors: tuple[str, ...] | None = None
    """The chemistry priors that were active (None: not recorded, a fit never run)."""

    def __post_init__(self) -> None:
        # the tables' metadata: the fitted instrument and calibration (instrument.json's
        # content) in each table's ``attrs``, so that a table passed on alone still says
        # how it was read
        meta = self.instrument_summary()
        for table in (self.species, self.ions, self.families):
            table.attrs.update(instrument=meta)

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
        from ...chem.isotopes import profile

        pats, weights, mz_cal, baseline = self._render
        y = np.asarray(baseline, dtype=float).copy()
        if pats and self.instrument is not None:
            y += peak_profile(list(pats), np.asarray(mz_cal), self.instrument, weights=weights)
        elif pats:
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
            "instrument": None if self.instrument is None else self._described(),
            "noise": self.noise,
            "r2": self.r2,
            "rmse": self.rmse,
            "calibration": None
            if cal is None
            else {
                "model": cal.model,
                "ppm_intercept": cal.ppm_intercept,
                "ppm_slope": cal.ppm_slope,
                # the intercept is the shift at m/z 0 (ppm), the slope in ppm per m/z: the
                # shift that matters is the one at the spectrum's median m/z
                "ppm_at_median_mz": self.ppm_shift,
                "median_mz": _median_mz(self.spectrum),
                "ppm_slope_per_1000_mz": cal.ppm_slope * 1000.0,
                "rms_ppm_before": _jsonable(cal.rms_ppm_before),
                "rms_ppm_after": _jsonable(cal.rms_ppm_after),
            },
            "priors": None if self.priors is None else list(self.priors),
            "ambiguities": self._ambiguities(),
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

    def _ambiguities(self) -> list[dict[str, Any]]:
        """Species in an ambiguity group: species, family, group, share (JSON-ready)."""
        sp = self.species
        if "ambiguity_group" not in sp.columns or sp.empty:
            return []
        rows = sp[sp["ambiguity_group"].astype(str) != ""]
        cols = ["species", "family", "ambiguity_group", "ambiguity_share", "abundance"]
        return [{k: _jsonable(v) for k, v in r.items()} for r in rows[cols].to_dict("records")]

    def _described(self) -> dict[str, Any]:
        """The instrument's description, its ``peak_shape`` the one asked for when not auto."""
        assert self.instrument is not None
        ins = dict(self.instrument.describe())
        if self.peak_shape != "auto":
            # the shape asked for, whose parameter the fit may have taken to 0 (a tail of
            # 0 FWHM is a Gaussian: ``peak_shape_fitted`` says what the parameters make)
            ins["peak_shape_fitted"] = ins["peak_shape"]
            ins["peak_shape"] = self.peak_shape
        return ins

    def instrument_summary(self) -> dict[str, Any]:
        """Fitted instrument and calibration (what ``instrument.json`` holds)."""
        cal = self.calibration
        ins = (
            self._described()
            if self.instrument is not None
            else {
                "peak_shape": "gaussian",
                "resolution": round(self.resolution, 1),
            }
        )
        median = _median_mz(self.spectrum)
        # R(m/z) read where the calibration is, the spectrum's median m/z (the fit's own
        # reference, the median of the rows its ions reach, differs where a falling R and
        # charge states far apart meet: 16,300 reported beside a median whose R was 14,852)
        r_median = (
            float(self.instrument.resolution_at(median))
            if self.instrument is not None and median is not None
            else self.resolution
        )
        return {
            **ins,
            "resolution_at_median_mz": round(r_median, 1),
            "calibration_ppm_intercept": None if cal is None else cal.ppm_intercept,
            "calibration_ppm_slope": None if cal is None else cal.ppm_slope,
            "calibration_ppm_at_median_mz": self.ppm_shift,
            "median_mz": median,
        }

    def plot(self, path: str | Path | None = None, /, *, n_labels: int = 12) -> Any:
        """Spectrum, fitted model, labelled strongest ions and the residual panel.

        Returns the matplotlib Figure; with ``path`` it is also saved there (Agg).
        """
        return _plot(self, path, n_labels=n_labels)

    def write(self, folder: str | Path, /, *, plot: bool = True, fit: bool = True) -> Path:
        """Write the tables (and figure, fitted profile) into ``folder`` atomically.

        ``species.csv``, ``ions.csv``, ``families.csv``, ``instrument.json``
        (:meth:`instrument_summary`); with ``plot``
        ``spectrum.png``; with ``fit`` ``fit.csv``: ``mz,intensity,model`` on
        the measured axis, min-max decimated to at most 20,000 points (every
        apex kept), which the interactive report draws.
        """
        import pandas as pd

        from ...output import atomic_dir
        from ..spectrum import decimate

        out = Path(folder)
        with atomic_dir(out) as stage:
            self.species.to_csv(stage / "species.csv", index=False)
            self.ions.to_csv(stage / "ions.csv", index=False)
            self.families.to_csv(stage / "families.csv", index=False)
            (stage / "instrument.json").write_text(
                json.dumps(self.instrument_summary(), indent=2) + "\n"
            )
            full = self.model if (plot or fit) else None  # rendered once for both
            if plot:
                _plot(self, stage / "spectrum.png", n_labels=12, model=full)
            if fit and len(self.spectrum) and full is not None:
                mz, y, model = decimate(
                    self.spectrum.mz, self.spectrum.intensity, full, max_points=20_000
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


def _plot(
    result: Assignment, path: str | Path | None, *, n_labels: int, model: np.ndarray | None = None
) -> Any:
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from ..spectrum import decimate

    spec = result.spectrum
    if model is None:
        model = result.model
    # min-max decimation to 20,000 points per line: the same picture at 1,320 pixels wide,
    # without matplotlib holding 10 million points three times over
    mz_d, y_d, model_d = decimate(spec.mz, spec.intensity, model, max_points=20_000)
    mz_r, resid = decimate(spec.mz, spec.intensity - model, max_points=20_000)
    fig = Figure(figsize=(12, 6.5), layout="constrained")
    ax, axr = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    ax.plot(mz_d, y_d, color="0.25", lw=0.6, label="spectrum")
    ax.plot(mz_d, model_d, color="#d62728", lw=0.6, alpha=0.85, label=f"fit (R² = {result.r2:.4f})")
    axr.plot(mz_r, resid, color="0.35", lw=0.5)
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


def _median_mz(spectrum: Spectrum) -> float | None:
    """The spectrum's median m/z (where ``ppm_at_median_mz`` is read), None when empty."""
    return round(float(np.median(spectrum.mz)), 4) if len(spectrum) else None
