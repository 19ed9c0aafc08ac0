"""UV-vis absorption spectra: reading, baseline, bands and shoulders.

Wavelengths are in nm and ascending everywhere. Spectra given against photon
energy are converted with the intensity Jacobian: a spectral density conserves
its area, ``A(λ) dλ = A(E) dE``, so ``A(λ) = A(E)·|dE/dλ| = A(E)·E²/(hc)`` with
``hc = 1239.84198 eV·nm`` (:meth:`AbsorptionSpectra.from_energy`), and
:meth:`AbsorptionSpectra.to_energy` applies the inverse ``A(E) = A(λ)·λ²/(hc)``.

Contents
--------
AbsorptionSpectra, Band, GaussianBand
    Records: spectra (read-only), a found band, a model band.
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
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InputError

__all__ = [
    "AbsorptionSpectra",
    "Band",
    "GaussianBand",
    "HC_EV_NM",
    "correct_baseline",
    "find_bands",
    "fit_baseline",
    "model_spectrum",
    "read_uvvis",
    "reference_bands",
    "smooth",
]

HC_EV_NM = 1239.841984
"""h·c in eV·nm: ``E[eV] = HC_EV_NM / λ[nm]``."""
_EV_MAX = 20.0
"""Largest photon energy (eV) read as such: above it (62 nm) the axis holds wavelengths."""

FloatArray = NDArray[np.float64]
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


# ----------------------------------------------------------------------------- records
WAVELENGTH_RANGE_NM = (1.0, 1.0e5)
"""Wavelengths accepted (1 nm to 100 um); anything outside is a misread column."""
ABSORBANCE_MAX = 1.0e12
"""Largest absolute absorbance accepted (raw detector counts fit; 5e302 does not)."""


@dataclass(frozen=True, slots=True, eq=False)
class AbsorptionSpectra:
    """Absorbance on an ascending wavelength grid, one column per spectrum.

    Arrays are coerced to float64 copies, validated (finite, same length,
    wavelengths positive and strictly increasing) and made read-only. A 1-D
    absorbance is taken as a single spectrum.

    Examples
    --------
    >>> s = AbsorptionSpectra([400.0, 500.0, 600.0, 700.0], [0.1, 0.5, 0.2, 0.1])
    >>> s.absorbance.shape, s.labels
    ((4, 1), ('A1',))
    >>> s.crop(450, 700).wavelength_nm.tolist()
    [500.0, 600.0, 700.0]
    """

    wavelength_nm: FloatArray
    """Wavelengths in nm, strictly increasing (read-only)."""
    absorbance: FloatArray
    """Absorbance, shape ``(n_wavelengths, n_spectra)`` (read-only)."""
    labels: tuple[str, ...] = ()
    """One label per column (default ``A1, A2, ...``)."""
    units: str = "absorbance"
    """What the absorbance axis holds (e.g. ``absorbance``, ``absorbance per nm (from eV)``)."""
    source: str | None = field(default=None)
    """File the spectra were read from, if any."""

    def __post_init__(self) -> None:
        wl = np.array(self.wavelength_nm, dtype=np.float64, copy=True)
        ab = np.array(self.absorbance, dtype=np.float64, copy=True)
        if ab.ndim == 1:
            ab = ab[:, None]
        if wl.ndim != 1 or ab.ndim != 2 or ab.shape[0] != wl.size:
            raise InputError(
                f"wavelength ({wl.shape}) and absorbance ({ab.shape}) shapes do not match"
            )
        if wl.size < 3 or ab.shape[1] < 1:
            raise InputError(f"a spectrum needs at least 3 points, got {wl.size}")
        if not (np.isfinite(wl).all() and np.isfinite(ab).all()):
            raise InputError("wavelengths and absorbances must be finite (no NaN or inf)")
        if (wl <= 0).any() or (np.diff(wl) <= 0).any():
            raise InputError("wavelengths must be positive and strictly increasing")
        if wl[0] < WAVELENGTH_RANGE_NM[0] or wl[-1] > WAVELENGTH_RANGE_NM[1]:
            bad = wl[0] if wl[0] < WAVELENGTH_RANGE_NM[0] else wl[-1]
            raise InputError(
                f"wavelength {bad:.6g} nm is absurd (outside {WAVELENGTH_RANGE_NM[0]:g}-"
                f"{WAVELENGTH_RANGE_NM[1]:g} nm): is the first column the wavelength (nm) "
                "or photon energy (eV)?"
            )
        if np.abs(ab).max() > ABSORBANCE_MAX:
            raise InputError(
                f"absorbance {np.abs(ab).max():.6g} is absurd (beyond +-{ABSORBANCE_MAX:g})"
            )
        labels = tuple(str(x) for x in self.labels) or tuple(
            f"A{i + 1}" for i in range(ab.shape[1])
        )
        if len(labels) != ab.shape[1]:
            raise InputError(f"{len(labels)} labels for {ab.shape[1]} spectra")
        wl.flags.writeable = False
        ab.flags.writeable = False
        object.__setattr__(self, "wavelength_nm", wl)
        object.__setattr__(self, "absorbance", ab)
        object.__setattr__(self, "labels", labels)

    @classmethod
    def from_energy(
        cls, energy_ev: ArrayLike, absorbance: ArrayLike, /, **kwargs: Any
    ) -> AbsorptionSpectra:
        """Build from an energy axis (eV, any order), applying ``A(λ) = A(E)·E²/(hc)``.

        Examples
        --------
        >>> s = AbsorptionSpectra.from_energy([2.0, 2.5, 3.0], [1.0, 1.0, 1.0])
        >>> s.wavelength_nm.round(1).tolist()
        [413.3, 495.9, 619.9]
        >>> e, a = s.to_energy()
        >>> np.allclose(a[:, 0], 1.0)
        True
        """
        e = np.asarray(energy_ev, dtype=np.float64)
        a = np.asarray(absorbance, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if e.ndim != 1 or a.shape[0] != e.size:
            raise InputError(f"energy ({e.shape}) and absorbance ({a.shape}) shapes do not match")
        if not np.isfinite(e).all() or (e <= 0).any():
            raise InputError("photon energies must be finite and positive")
        order = np.argsort(-e)  # descending energy = ascending wavelength
        e, a = e[order], a[order]
        kwargs.setdefault("units", "absorbance per nm (converted from eV)")
        return cls(HC_EV_NM / e, a * (e**2 / HC_EV_NM)[:, None], **kwargs)

    @property
    def n_spectra(self) -> int:
        """Number of absorbance columns."""
        return int(self.absorbance.shape[1])

    def __len__(self) -> int:
        return int(self.wavelength_nm.size)

    def with_absorbance(self, absorbance: ArrayLike, /) -> AbsorptionSpectra:
        """A copy with new absorbance values on the same grid."""
        return replace(self, absorbance=np.asarray(absorbance))

    def crop(self, lo: float, hi: float, /) -> AbsorptionSpectra:
        """Keep wavelengths ``lo <= λ <= hi``."""
        keep = (self.wavelength_nm >= lo) & (self.wavelength_nm <= hi)
        if keep.sum() < 3:
            raise InputError(f"range {lo:g}-{hi:g} nm keeps fewer than 3 points")
        return replace(
            self, wavelength_nm=self.wavelength_nm[keep], absorbance=self.absorbance[keep]
        )

    def to_energy(self) -> tuple[FloatArray, FloatArray]:
        """Energy axis (eV, ascending) and ``A(E) = A(λ)·λ²/(hc)``, shape ``(n, n_spectra)``."""
        wl = self.wavelength_nm[::-1]
        return HC_EV_NM / wl, self.absorbance[::-1] * (wl**2 / HC_EV_NM)[:, None]


class GaussianBand(NamedTuple):
    """A model band: centre and FWHM in nm, peak height in absorbance."""

    center_nm: float
    fwhm_nm: float
    height: float


@dataclass(frozen=True, slots=True)
class Band:
    """A band found in a spectrum."""

    wavelength_nm: float
    """Position: maximum of A for a peak, minimum of d²A/dλ² for a shoulder."""
    kind: Literal["peak", "shoulder"]
    """``peak`` (local maximum of A) or ``shoulder`` (curvature minimum without a maximum)."""
    height: float
    """Smoothed (baseline-corrected) absorbance at the position."""
    width_nm: float
    """FWHM estimate from the inflection points (``1.1774 × their distance``); NaN if open."""
    spectrum: str = "A1"
    """Label of the spectrum column."""

    @property
    def energy_ev(self) -> float:
        """Position in eV."""
        return HC_EV_NM / self.wavelength_nm


# ----------------------------------------------------------------------------- reading
_UNIT_EV = re.compile(r"(?<![a-z])(e\s*v|energy)(?![a-z])", re.IGNORECASE)  # energy_eV too
_UNIT_NM = re.compile(r"(nm|wavelength|lambda|\bwl\b)", re.IGNORECASE)


def _split(line: str, delim: str | None) -> list[str]:
    fields = [f.strip().strip('"') for f in (line.split(delim) if delim else line.split())]
    while fields and fields[-1] == "":
        fields.pop()  # trailing delimiter, as spreadsheet exports write
    return fields


_DEC_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_TRANSMITTANCE = re.compile(r"%\s*T\b|transm", re.IGNORECASE)


def read_uvvis(
    path: str | Path, /, *, unit: Literal["auto", "nm", "eV"] = "auto"
) -> AbsorptionSpectra:
    """Read an absorption table: one wavelength/energy column, one or more absorbance columns.

    Separators: tab, semicolon, comma or whitespace; with tabs or semicolons a
    comma is a decimal comma (``250,0;0,562``). Lines starting with ``#`` and blank
    lines are skipped. Lines before the first row whose first field is a number are
    a header (a Cary export writes two); the last one's names become labels. Lines
    of words after the data (a method log) are a footer and end the table.
    Descending wavelengths (as spectrometers often write them) are reversed;
    duplicated or non-monotonic ones are refused.

    Parameters
    ----------
    path
        CSV, TSV or TXT file.
    unit
        ``nm``, ``eV`` or ``auto``: the header (``nm``/``wavelength`` or
        ``eV``/``energy``) decides, else the values (all <= 20 means eV, all
        >= 100 means nm). eV data are converted with the Jacobian ``E²/(hc)``.
        A unit given that the header names otherwise, or that the values
        contradict (eV above 20, nm all at or below 20), is refused.

    Raises
    ------
    InputError
        One line naming the file, the line and what was expected.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_text("wavelength_nm,t0,t1\\n600,0.2,0.3\\n500,0.5,0.4\\n400,0.1,0.2\\n")
    >>> s = read_uvvis(p)
    >>> s.wavelength_nm.tolist(), s.labels
    ([400.0, 500.0, 600.0], ('t0', 't1'))
    """
    p = Path(path)

    def bad(msg: str) -> InputError:
        return InputError(f"{p.name}: {msg}")

    if p.is_dir():
        raise bad("is a folder, not a file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise bad("not a text file (expected CSV/TSV/TXT)") from None
    lines = [
        (i, s.strip())
        for i, s in enumerate(text.splitlines(), 1)
        if s.strip() and not s.lstrip().startswith("#")
    ]
    if not lines:
        raise bad("empty file, expected a wavelength column and absorbance columns")
    # the separator: tab or ';' wherever they occur (',' is then a decimal comma), else ','
    delim = next((d for d in ("\t", ";", ",") if any(d in s for _, s in lines[:50])), None)
    comma = delim in ("\t", ";") and any(
        _DEC_COMMA.match(f) for _, s in lines[:50] for f in _split(s, delim)
    )

    def number(tok: str) -> float:
        return float(tok.replace(",", ".") if comma else tok)

    def is_data(line: str) -> bool:
        fields = _split(line, delim)
        try:
            number(fields[0])
        except (ValueError, IndexError):
            return False
        return True

    # header lines until the first data row (a Cary export writes the sample name, then
    # "Wavelength (nm),Abs"); the names come from the last of them
    start = next((k for k, (_, s) in enumerate(lines) if is_data(s)), len(lines))
    header: list[str] | None = _split(lines[start - 1][1], delim) if start else None
    if header and len(header) == 2 and start >= 2:
        # Cary: "Sample1," above "Wavelength (nm),Abs,": the sample names the column
        above = _split(lines[start - 2][1], delim)
        if len(above) == 1 and above[0] and not is_data(lines[start - 2][1]):
            header = [header[0], above[0]]
    lines = lines[start:]
    if not lines:
        raise bad("no data rows after the header")
    # a footer of words after the data (a Cary export's method log) ends the table; a word
    # line with data rows after it is refused below as the bad row it is
    end = next((k for k, (_, s) in enumerate(lines) if not is_data(s)), len(lines))
    if end < len(lines) and not any(is_data(s) for _, s in lines[end:]):
        lines = lines[:end]
    for name in (header or [])[1:]:
        if _TRANSMITTANCE.search(name):
            # read as absorbance, a %T curve puts its bands at the wrong wavelengths
            raise bad(
                f"column {name!r} holds transmittance; absorbance is expected: export "
                "absorbance, or convert (A = 2 - log10(%T), or -log10(T) for a fraction)"
            )
    ncol = len(header) if header else len(_split(lines[0][1], delim))
    if ncol < 2:
        raise bad(
            "one column only; expected a wavelength column and at least one absorbance column"
        )
    data = np.empty((len(lines), ncol))
    for r, (lineno, line) in enumerate(lines):
        fields = _split(line, delim)
        if len(fields) != ncol:
            raise bad(f"line {lineno} has {len(fields)} columns, expected {ncol}")
        for c, tok in enumerate(fields):
            try:
                v = number(tok)
            except ValueError:
                raise bad(f"line {lineno}, column {c + 1}: {tok!r} is not a number") from None
            if not math.isfinite(v):
                raise bad(f"line {lineno}, column {c + 1}: non-finite value {tok!r}")
            data[r, c] = v
    if len(lines) < 3:
        raise bad(f"{len(lines)} data rows, need at least 3")
    x, a = data[:, 0], data[:, 1:]
    step = np.diff(x)
    if (step == 0).any():
        k = int(np.argmax(step == 0))
        raise bad(f"duplicate wavelength {x[k]:g} at lines {lines[k][0]} and {lines[k + 1][0]}")
    if not ((step > 0).all() or (step < 0).all()):
        k = int(np.argmax(np.sign(step) != np.sign(step[0]))) + 1
        raise bad(f"wavelengths are not sorted (line {lines[k][0]}: {x[k]:g} after {x[k - 1]:g})")
    if unit == "auto":
        col = header[0] if header else ""
        if _UNIT_EV.search(col):
            unit = "eV"
        elif _UNIT_NM.search(col):
            unit = "nm"
        elif x.max() <= _EV_MAX:
            unit = "eV"
        elif x.min() >= 100:
            unit = "nm"
        else:
            raise bad(f"cannot tell nm from eV ({x.min():g}-{x.max():g}); pass unit='nm' or 'eV'")
    elif unit not in ("nm", "eV"):
        raise InputError(f"unit must be 'auto', 'nm' or 'eV', got {unit!r}")
    else:
        # a unit given by hand that the header or the values contradict: a band at
        # "1.84 nm, 672.8 eV" (nm read as eV) is no result
        col = header[0] if header else ""
        said = "eV" if _UNIT_EV.search(col) else "nm" if _UNIT_NM.search(col) else None
        if said is not None and said != unit:
            raise bad(
                f"the unit given, {unit}, contradicts the header {col!r} ({said}); "
                f"drop the unit (auto) or give {said}"
            )
        if unit == "eV" and x.max() > _EV_MAX:
            raise bad(
                f"values {x.min():g}-{x.max():g} are not photon energies in eV (UV-vis-NIR: "
                f"below {_EV_MAX:g} eV): wavelengths in nm? give nm or auto"
            )
        if unit == "nm" and x.max() <= _EV_MAX:
            raise bad(
                f"values {x.min():g}-{x.max():g} are not wavelengths in nm (they would all lie "
                f"below {_EV_MAX:g} nm): photon energies in eV? give eV or auto"
            )
    if (x <= 0).any():
        raise bad(f"wavelengths/energies must be positive, got {x.min():g}")
    if header:
        labels = tuple(h or f"A{i + 1}" for i, h in enumerate(header[1:]))
    elif a.shape[1] == 1:
        labels = (p.stem,)
    else:
        labels = tuple(f"{p.stem}[{i + 1}]" for i in range(a.shape[1]))
    if unit == "eV":
        return AbsorptionSpectra.from_energy(x, a, labels=labels, source=str(p))
    order = np.argsort(x)
    return AbsorptionSpectra(x[order], a[order], labels=labels, source=str(p))


# ----------------------------------------------------------------------------- baseline
def _baseline_design(
    wl: FloatArray, model: Literal["scattering", "polynomial", "constant"], degree: int
) -> FloatArray:
    if model == "scattering":
        t = wl / 500.0
        return np.column_stack([t**-4, t**-1, np.ones_like(t)])
    if model == "constant":
        return np.ones((wl.size, 1))
    if model == "polynomial":
        if not 0 <= degree <= 6:
            raise InputError(f"polynomial degree must be 0-6, got {degree}")
        t = (2 * wl - wl[0] - wl[-1]) / (wl[-1] - wl[0])
        return np.polynomial.legendre.legvander(t, degree)
    raise InputError(f"baseline model must be scattering, polynomial or constant, got {model!r}")


def fit_baseline(
    spectra: AbsorptionSpectra,
    /,
    *,
    model: Literal["scattering", "polynomial", "constant"] = "scattering",
    regions: Sequence[tuple[float, float]] | None = None,
    degree: int = 2,
    iterations: int = 100,
) -> FloatArray:
    """Fit a smooth background to every column; returns it, shape ``(n, n_spectra)``.

    Models: ``scattering`` is ``a·(λ/500)⁻⁴ + b·(λ/500)⁻¹ + c`` (Rayleigh plus a
    Mie-like tail plus an offset), ``polynomial`` a Legendre polynomial of
    ``degree``, ``constant`` an offset. With ``regions`` (``(lo, hi)`` nm windows
    known to be free of bands) the model is least-squares fitted to those points.
    Without, the lowest-absorbance envelope is found iteratively (modified
    polyfit: refit to ``min(A, fit + 2σ)`` until stable, σ the noise SD), so the
    background touches the spectrum from below at its valleys.

    Examples
    --------
    >>> wl = np.linspace(350, 900, 551)
    >>> bg = 0.2 * (wl / 500) ** -4 + 0.05
    >>> band = np.exp(-0.5 * ((wl - 600) / 15) ** 2)
    >>> s = AbsorptionSpectra(wl, bg + band)
    >>> fitted = fit_baseline(s, regions=[(350, 500), (700, 900)])
    >>> bool(np.abs(fitted[:, 0] - bg).max() < 1e-3)
    True
    """
    wl = spectra.wavelength_nm
    design = _baseline_design(wl, model, degree)
    out = np.empty_like(spectra.absorbance)
    if regions:
        mask = np.zeros(wl.size, bool)
        for lo, hi in regions:
            if not lo < hi:
                raise InputError(f"baseline region {lo:g}-{hi:g} nm: lower bound must be smaller")
            mask |= (wl >= lo) & (wl <= hi)
        if mask.sum() < design.shape[1] + 1:
            raise InputError(
                f"baseline regions hold {int(mask.sum())} points; need > {design.shape[1]}"
            )
        coef, *_ = np.linalg.lstsq(design[mask], spectra.absorbance[mask], rcond=None)
        return np.asarray(design @ coef, dtype=np.float64)
    for j in range(spectra.n_spectra):
        y0 = spectra.absorbance[:, j]
        allow = 2.0 * _noise_sd(y0)  # noise may poke above the background
        y, fit = y0, np.zeros_like(y0)
        for _ in range(iterations):
            coef, *_ = np.linalg.lstsq(design, y, rcond=None)
            new = design @ coef
            done = np.allclose(new, fit, rtol=0, atol=1e-9 * (1 + np.abs(y0).max()))
            fit = new
            if done:
                break
            y = np.minimum(y0, fit + allow)
        out[:, j] = fit
    return out


def correct_baseline(
    spectra: AbsorptionSpectra,
    /,
    *,
    model: Literal["scattering", "polynomial", "constant", "none"] = "scattering",
    regions: Sequence[tuple[float, float]] | None = None,
    degree: int = 2,
) -> AbsorptionSpectra:
    """Subtract :func:`fit_baseline` (``model='none'`` returns ``spectra`` unchanged).

    Examples
    --------
    >>> wl = np.linspace(350, 900, 551)
    >>> s = AbsorptionSpectra(wl, 0.3 * (wl / 500) ** -4 + np.exp(-0.5 * ((wl - 600) / 15) ** 2))
    >>> c = correct_baseline(s, regions=[(350, 500), (700, 900)])
    >>> round(float(c.wavelength_nm[np.argmax(c.absorbance[:, 0])]))
    600
    """
    if model == "none":
        return spectra
    base = fit_baseline(spectra, model=model, regions=regions, degree=degree)
    return spectra.with_absorbance(spectra.absorbance - base)


# ----------------------------------------------------------------------------- smoothing
def _uniform(spectra: AbsorptionSpectra) -> tuple[FloatArray, FloatArray, float]:
    """Grid, absorbance resampled to a uniform step (if needed) and the step."""
    wl = spectra.wavelength_nm
    steps = np.diff(wl)
    step = float(np.median(steps))
    if np.abs(steps - step).max() <= 1e-3 * step:
        return wl, np.asarray(spectra.absorbance), step
    grid = np.arange(wl[0], wl[-1] + 0.5 * step, step)
    cols = [np.interp(grid, wl, spectra.absorbance[:, j]) for j in range(spectra.n_spectra)]
    return grid, np.column_stack(cols), step


def _window_points(window_nm: float, step: float, n: int, polyorder: int) -> int:
    w = int(round(window_nm / step)) | 1
    w = max(w, polyorder + 2 + (polyorder % 2 == 1))
    if w > n:
        w = n if n % 2 else n - 1
    if w <= polyorder:
        raise InputError(f"{n} points are too few for a smoothing window (polyorder {polyorder})")
    return w


def smooth(
    spectra: AbsorptionSpectra, /, *, window_nm: float = 15.0, polyorder: int = 3
) -> AbsorptionSpectra:
    """Savitzky-Golay smoothing over ``window_nm`` (on a uniform grid; resampled if needed).

    Examples
    --------
    >>> wl = np.arange(400.0, 601.0)
    >>> rng = np.random.default_rng(0)
    >>> y = np.exp(-0.5 * ((wl - 500) / 20) ** 2) + rng.normal(0, 0.02, wl.size)
    >>> s = smooth(AbsorptionSpectra(wl, y))
    >>> bool(np.std(s.absorbance[:, 0] - np.exp(-0.5 * ((wl - 500) / 20) ** 2)) < 0.01)
    True
    """
    from scipy.signal import savgol_filter

    grid, ab, step = _uniform(spectra)
    w = _window_points(window_nm, step, grid.size, polyorder)
    out = savgol_filter(ab, w, polyorder, axis=0, mode="interp")
    return replace(spectra, wavelength_nm=grid, absorbance=out)


# ----------------------------------------------------------------------------- bands
def _zero_cross(x: FloatArray, y: FloatArray, i: int) -> float:
    """Linear zero crossing of ``y`` between ``i`` and ``i + 1``."""
    d = y[i + 1] - y[i]
    return float(x[i] if d == 0 else x[i] - y[i] * (x[i + 1] - x[i]) / d)


def _inflection_width(x: FloatArray, d2: FloatArray, i: int) -> float:
    left = right = math.nan
    k = i
    while k > 0 and d2[k - 1] < 0:
        k -= 1
    if k > 0:
        left = _zero_cross(x, d2, k - 1)
    k = i
    while k < x.size - 1 and d2[k + 1] < 0:
        k += 1
    if k < x.size - 1:
        right = _zero_cross(x, d2, k)
    half = [v for v in (x[i] - left, right - x[i]) if math.isfinite(v)]
    if not half:
        return math.nan
    total = right - left if len(half) == 2 else 2 * half[0]
    return float(_FWHM_PER_SIGMA / 2 * total)


def _refine_peak(x: FloatArray, y: FloatArray, pos: float, width: float, half: float) -> float:
    """Centre of a Gaussian (in energy) plus line fitted to the raw data within ±0.6 FWHM.

    The line absorbs the local slope of neighbouring bands and of the residual
    background, which otherwise pulls the apex of a broad band; the SG position
    is kept if the fit fails or moves more than a quarter of the width.
    """
    from scipy.optimize import curve_fit

    if not math.isfinite(width) or width <= 0:
        return pos
    reach = max(0.6 * width, half)
    sel = np.abs(x - pos) <= reach
    if sel.sum() < 8:
        return pos
    e0 = HC_EV_NM / pos  # fit in energy, where electronic bands are Gaussian
    xs, ys = HC_EV_NM / x[sel] - e0, y[sel]
    sig = HC_EV_NM * width / pos**2 / _FWHM_PER_SIGMA

    def model(t: FloatArray, h: float, c: float, s: float, a: float, b: float) -> FloatArray:
        return np.asarray(h * np.exp(-0.5 * ((t - c) / s) ** 2) + a + b * t, dtype=np.float64)

    p0 = [float(ys.max() - ys.min()), 0.0, sig, float(ys.min()), 0.0]
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            best, _ = curve_fit(model, xs, ys, p0=p0, maxfev=2000)
    except (RuntimeError, ValueError):
        return pos
    h, new = float(best[0]), HC_EV_NM / (e0 + float(best[1]))
    if h <= 0 or not math.isfinite(new) or abs(new - pos) > 0.25 * width:
        return pos
    return new


def _noise_sd(y: FloatArray) -> float:
    """Robust white-noise SD from second differences (insensitive to smooth signal)."""
    d = np.diff(y, 2)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(6.0))


def find_bands(
    spectra: AbsorptionSpectra,
    /,
    *,
    window_nm: float = 21.0,
    polyorder: int = 3,
    min_height: float = 0.03,
    min_curvature: float = 0.05,
    snr: float = 5.0,
) -> list[Band]:
    """Find peaks and shoulders in every column (correct the baseline first).

    The spectrum is smoothed and differentiated with a Savitzky-Golay filter.
    Peaks are local maxima of the smoothed A (zero crossing of dA/dλ), refined
    by a Gaussian-in-energy plus line fitted to the raw data within ±0.6 FWHM.
    Shoulders are local minima of d²A/dλ² that no maximum of A claims: each
    peak claims the nearest within half a window, and minima inside a peak's
    half-width are dropped; the rest are shoulders. Thresholds: a peak's prominence must exceed
    ``min_height × max(A)`` and ``snr`` noise SDs; a shoulder's curvature
    ``min_curvature × max(−d²A)`` and ``snr`` SDs of the filtered noise. The noise
    SD comes from the second differences of the raw data.

    Parameters
    ----------
    spectra
        Baseline-corrected spectra; every column is searched.
    window_nm
        Savitzky-Golay window; about half the narrowest FWHM works well.
    polyorder
        Savitzky-Golay polynomial order.
    min_height, min_curvature, snr
        Detection thresholds (see above).

    Returns
    -------
    list of Band
        Sorted by column, then wavelength.

    Examples
    --------
    >>> wl = np.arange(350.0, 901.0)
    >>> y = model_spectrum([(480, 40, 1.0), (530, 50, 0.5), (700, 50, 0.6)], wl)
    >>> [(round(b.wavelength_nm), b.kind) for b in find_bands(AbsorptionSpectra(wl, y))]
    [(479, 'peak'), (533, 'shoulder'), (700, 'peak')]
    """
    from scipy.signal import find_peaks, savgol_coeffs, savgol_filter

    grid, ab, step = _uniform(spectra)
    w = _window_points(window_nm, step, grid.size, polyorder)
    edge = w // 2
    tol = max(0.5 * w * step, 2 * step)
    c2 = savgol_coeffs(w, polyorder, deriv=2, delta=step)
    c0 = savgol_coeffs(w, polyorder)
    bands: list[Band] = []
    for j, label in enumerate(spectra.labels):
        y = ab[:, j]
        ys = savgol_filter(y, w, polyorder, mode="interp")
        d1 = savgol_filter(y, w, polyorder, deriv=1, delta=step, mode="interp")
        d2 = savgol_filter(y, w, polyorder, deriv=2, delta=step, mode="interp")
        sd = _noise_sd(y)
        top = max(float(ys.max()), 0.0)
        p_idx, _ = find_peaks(
            ys, prominence=max(min_height * top, snr * sd * float(np.linalg.norm(c0)), 1e-12)
        )
        curv = float(max(-d2[edge : grid.size - edge].min(initial=0.0), 0.0))
        thr2 = max(min_curvature * curv, snr * sd * float(np.linalg.norm(c2)), 1e-15)
        s_idx, _ = find_peaks(-d2, height=thr2, prominence=thr2)
        s_idx = [int(i) for i in s_idx if edge <= i < grid.size - edge]
        found: list[Band] = []
        claimed: set[int] = set()
        for i in p_idx:
            i = int(i)
            k = i if i + 1 < grid.size and d1[i + 1] < 0 <= d1[i] else i - 1
            bracket = 0 <= k < grid.size - 1 and d1[k + 1] < 0 <= d1[k]
            pos = _zero_cross(grid, d1, k) if bracket else float(grid[i])
            near = [s for s in s_idx if s not in claimed and abs(grid[s] - pos) <= tol]
            if near:
                claimed.add(min(near, key=lambda s: abs(grid[s] - pos)))
            width = _inflection_width(grid, d2, i) if d2[i] < 0 else math.nan
            pos = _refine_peak(grid, y, pos, width, 0.5 * w * step)
            height = float(np.interp(pos, grid, ys))
            found.append(Band(pos, "peak", height, width, label))
        for s in s_idx:
            if s in claimed or any(
                abs(b.wavelength_nm - grid[s]) <= max(tol, 0.5 * np.nan_to_num(b.width_nm))
                for b in found
            ):
                continue
            pos = float(grid[s])
            if 0 < s < grid.size - 1:  # parabolic refinement of the curvature minimum
                a, b_, c = d2[s - 1], d2[s], d2[s + 1]
                den = a - 2 * b_ + c
                if den > 0:
                    pos += float(0.5 * step * (a - c) / den)
            width = _inflection_width(grid, d2, s)
            found.append(Band(pos, "shoulder", float(np.interp(pos, grid, ys)), width, label))
        bands.extend(sorted(found, key=lambda b: b.wavelength_nm))
    return bands


# ----------------------------------------------------------------------------- models
def model_spectrum(
    bands: Iterable[GaussianBand | tuple[float, float, float]],
    wavelength: ArrayLike,
    /,
    *,
    space: Literal["energy", "wavelength"] = "energy",
) -> FloatArray:
    """Sum of Gaussian bands on a wavelength grid.

    With ``space='energy'`` (default, the physical line shape of electronic
    bands) each band is Gaussian in photon energy, centred at ``hc/center_nm``,
    with the nm FWHM converted at the centre, ``ΔE = hc·Δλ/λ²``; its maximum
    in λ stays at ``center_nm`` and equals ``height``. With ``space='wavelength'``
    the bands are Gaussian in nm.

    Examples
    --------
    >>> wl = np.arange(400.0, 601.0)
    >>> y = model_spectrum([(500.0, 40.0, 0.8)], wl)
    >>> float(wl[np.argmax(y)]), round(float(y.max()), 3)
    (500.0, 0.8)
    """
    wl = np.asarray(wavelength, dtype=np.float64)
    if wl.ndim != 1 or (wl <= 0).any():
        raise InputError("wavelength must be a 1-D array of positive nm values")
    out = np.zeros_like(wl)
    for band in bands:
        c, fwhm, h = (float(v) for v in band)
        if c <= 0 or fwhm <= 0:
            raise InputError(f"band centre and FWHM must be positive, got {c:g} and {fwhm:g}")
        if space == "energy":
            e0, sig = HC_EV_NM / c, HC_EV_NM * fwhm / c**2 / _FWHM_PER_SIGMA
            out += h * np.exp(-0.5 * ((HC_EV_NM / wl - e0) / sig) ** 2)
        elif space == "wavelength":
            out += h * np.exp(-0.5 * ((wl - c) / (fwhm / _FWHM_PER_SIGMA)) ** 2)
        else:
            raise InputError(f"space must be 'energy' or 'wavelength', got {space!r}")
    return out


def _references_table() -> dict[str, Any]:
    text = resources.files("nanoalloy").joinpath("data/uvvis_references.toml").read_text("utf-8")
    return dict(tomllib.loads(text)["species"])


def reference_bands(name: str, /) -> tuple[GaussianBand, ...]:
    """Model bands of a known cluster (positions from the paper; widths illustrative).

    Examples
    --------
    >>> [b.center_nm for b in reference_bands("Au44")]
    [480.0, 575.0, 765.0]
    """
    table = _references_table()
    if name not in table:
        raise InputError(f"no UV-vis band table for {name!r}; known: {', '.join(sorted(table))}")
    return tuple(
        GaussianBand(float(b["center_nm"]), float(b["fwhm_nm"]), float(b["height"]))
        for b in table[name]["bands"]
    )
