"""Immutable mass spectra and scan summaries.

A :class:`Spectrum` holds two read-only float64 arrays (``mz`` strictly
increasing, ``intensity`` finite and non-negative) and a read-only metadata
mapping. It is validated eagerly on construction; every transform returns a new
object.

Contents
--------
Spectrum
    m/z and intensity arrays plus metadata (scan, MS level, time, precursor, ...).
ScanInfo
    One row of a scan listing (see :func:`nanoalloy.ms.io.list_scans`).
METADATA_KEYS
    The metadata keys the readers fill, with their meaning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import SpectrumFormatError

__all__ = ["METADATA_KEYS", "ScanInfo", "Spectrum", "zero_filled"]

METADATA_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "index": "0-based position of the scan in its file",
        "id": "native scan identifier (mzML id, mzXML num, text block number)",
        "ms_level": "1 for survey scans, 2 for MS/MS, ...",
        "rt_min": "scan start (retention) time in minutes",
        "precursor_mz": "selected precursor m/z of an MSn scan",
        "precursor_charge": "precursor charge recorded in the file (signed as written, usually > 0)",
        "polarity": "'positive' or 'negative'",
        "centroided": "True for centroid (stick) data, False for profile data",
        "source": "path of the file the spectrum was read from",
        "clipped_negative": "number of small negative intensities (baseline noise) the reader set to 0",
        "clipped_noise_ratio": "noise level of the intensities as read over its estimate after the reader set negatives to 0",
        "zero_filled": "number of gaps between peaks read as zeros (see zero_filled)",
    }
)

FloatArray = NDArray[np.float64]


def _as_array(values: ArrayLike, name: str, *, copy: bool = True) -> FloatArray:
    try:
        arr = np.array(values, dtype=np.float64, copy=True if copy else None)
    except (TypeError, ValueError) as exc:
        raise SpectrumFormatError(f"{name} values are not numbers: {exc}") from None
    if arr.ndim != 1:
        raise SpectrumFormatError(f"{name} must be 1-D, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise SpectrumFormatError(f"{name} holds a non-finite value ({arr[i]}) at point {i}")
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class Spectrum:
    """A mass spectrum: sorted m/z, non-negative intensities and metadata.

    Parameters are coerced to float64 copies, validated and made read-only.
    Unsorted or duplicated m/z values are rejected; use
    :meth:`from_unsorted` to sort and merge them explicitly.

    Examples
    --------
    >>> s = Spectrum([100.0, 100.5, 101.0], [1.0, 4.0, 2.0], {"ms_level": 1})
    >>> len(s), s.tic, s.base_peak
    (3, 7.0, (100.5, 4.0))
    >>> s.crop(100.2, 101.0).mz.tolist()
    [100.5, 101.0]
    >>> s.mz.flags.writeable
    False
    """

    mz: FloatArray
    """m/z values, strictly increasing (read-only float64)."""
    intensity: FloatArray
    """Intensities, finite and >= 0, same length as ``mz`` (read-only float64)."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Scan metadata (read-only); keys listed in :data:`METADATA_KEYS`, others allowed."""

    def __post_init__(self) -> None:
        self._setup(copy=True)

    def _setup(self, *, copy: bool) -> None:
        mz = _as_array(self.mz, "m/z", copy=copy)
        inten = _as_array(self.intensity, "intensity", copy=copy)
        if mz.shape != inten.shape:
            raise SpectrumFormatError(
                f"m/z and intensity differ in length ({mz.size} and {inten.size} points)"
            )
        neg = inten < 0
        if neg.any():
            i = int(np.argmax(neg))
            raise SpectrumFormatError(
                f"negative intensity {inten[i]:g} at m/z {mz[i]:.6g} (point {i})"
            )
        if mz.size > 1:
            step = np.diff(mz)
            bad = step <= 0
            if bad.any():
                i = int(np.argmax(bad)) + 1
                what = "duplicate" if step[i - 1] == 0 else "unsorted"
                raise SpectrumFormatError(
                    f"{what} m/z at point {i}: {mz[i]:.10g} after {mz[i - 1]:.10g} "
                    "(m/z must be strictly increasing; in Python, Spectrum.from_unsorted sorts and merges)"
                )
        mz.flags.writeable = False
        inten.flags.writeable = False
        object.__setattr__(self, "mz", mz)
        object.__setattr__(self, "intensity", inten)
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as plain arrays and a dict (mappingproxy cannot be pickled; Dask needs this)."""
        return (type(self), (np.asarray(self.mz), np.asarray(self.intensity), dict(self.metadata)))

    # ------------------------------------------------------------------ construction
    @classmethod
    def _adopt(cls, mz: FloatArray, intensity: FloatArray, metadata: Mapping[str, Any]) -> Spectrum:
        """Validate and take ownership of fresh float64 arrays without copying them.

        For readers, whose arrays nobody else holds: they become read-only in
        place (a 10-million-point scan is not held twice).
        """
        obj = cls.__new__(cls)
        object.__setattr__(obj, "mz", mz)
        object.__setattr__(obj, "intensity", intensity)
        object.__setattr__(obj, "metadata", metadata)
        obj._setup(copy=False)
        return obj

    @classmethod
    def from_unsorted(
        cls,
        mz: ArrayLike,
        intensity: ArrayLike,
        metadata: Mapping[str, Any] | None = None,
        *,
        duplicates: Literal["sum", "max", "error"] = "sum",
    ) -> Spectrum:
        """Sort by m/z and merge exactly repeated m/z values, then validate.

        Parameters
        ----------
        mz, intensity
            Arrays in any order.
        metadata
            Optional metadata mapping.
        duplicates
            ``"sum"`` adds the intensities of repeated m/z values, ``"max"`` keeps
            the largest, ``"error"`` refuses them.

        Examples
        --------
        >>> s = Spectrum.from_unsorted([3.0, 1.0, 3.0], [1.0, 2.0, 5.0])
        >>> s.mz.tolist(), s.intensity.tolist()
        ([1.0, 3.0], [2.0, 6.0])
        """
        m = _as_array(mz, "m/z")
        y = _as_array(intensity, "intensity")
        if m.shape != y.shape:
            raise SpectrumFormatError(
                f"m/z and intensity differ in length ({m.size} and {y.size} points)"
            )
        order = np.argsort(m, kind="stable")
        m, y = m[order], y[order]
        uniq, start = np.unique(m, return_index=True)
        if uniq.size != m.size:
            if duplicates == "error":
                raise SpectrumFormatError("duplicate m/z values")
            ufunc = np.add if duplicates == "sum" else np.maximum
            y = ufunc.reduceat(y, start)
            m = uniq
        return cls(m, y, metadata or {})

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return int(self.mz.size)

    def __repr__(self) -> str:
        span = f"{self.mz[0]:.4f}-{self.mz[-1]:.4f}" if len(self) else "empty"
        meta = ", ".join(
            f"{k}={self.metadata[k]!r}"
            for k in ("index", "ms_level", "rt_min", "centroided")
            if self.metadata.get(k) is not None
        )
        return f"Spectrum({len(self)} points, m/z {span}{', ' + meta if meta else ''})"

    @property
    def tic(self) -> float:
        """Total ion current: the sum of intensities."""
        return float(self.intensity.sum())

    @property
    def base_peak(self) -> tuple[float, float]:
        """(m/z, intensity) of the most intense point; (nan, 0.0) when empty."""
        if not len(self):
            return (math.nan, 0.0)
        i = int(np.argmax(self.intensity))
        return (float(self.mz[i]), float(self.intensity[i]))

    @property
    def ms_level(self) -> int | None:
        """MS level from the metadata, if known."""
        v = self.metadata.get("ms_level")
        return None if v is None else int(v)

    @property
    def rt_min(self) -> float | None:
        """Scan start time in minutes from the metadata, if known."""
        v = self.metadata.get("rt_min")
        return None if v is None else float(v)

    @property
    def polarity(self) -> str | None:
        """'positive' or 'negative' from the metadata, if known."""
        v = self.metadata.get("polarity")
        return None if v is None else str(v)

    @property
    def centroided(self) -> bool | None:
        """True for centroid data, False for profile data, None if unknown."""
        v = self.metadata.get("centroided")
        return None if v is None else bool(v)

    # ------------------------------------------------------------------ transforms
    def with_metadata(self, **updates: Any) -> Spectrum:
        """Return a copy with metadata keys added or replaced.

        Examples
        --------
        >>> Spectrum([1.0], [1.0]).with_metadata(ms_level=1).ms_level
        1
        """
        return Spectrum(self.mz, self.intensity, {**self.metadata, **updates})

    def with_mz(self, mz: ArrayLike, /) -> Spectrum:
        """Return a copy with new m/z values (same length, still increasing).

        Examples
        --------
        >>> Spectrum([1.0, 2.0], [1.0, 1.0]).with_mz([1.5, 2.5]).mz.tolist()
        [1.5, 2.5]
        """
        return Spectrum(_as_array(mz, "m/z"), self.intensity, self.metadata)

    def with_intensity(self, intensity: ArrayLike, /) -> Spectrum:
        """Return a copy with new intensities (same length).

        Examples
        --------
        >>> Spectrum([1.0, 2.0], [1.0, 1.0]).with_intensity([0.0, 3.0]).tic
        3.0
        """
        return Spectrum(self.mz, _as_array(intensity, "intensity"), self.metadata)

    def scaled(self, factor: float, /) -> Spectrum:
        """Return a copy with intensities multiplied by ``factor`` (>= 0).

        Examples
        --------
        >>> Spectrum([1.0, 2.0], [1.0, 3.0]).scaled(2.0).intensity.tolist()
        [2.0, 6.0]
        """
        if not (math.isfinite(factor) and factor >= 0):
            raise ValueError(f"scale factor must be finite and >= 0, got {factor}")
        return Spectrum(self.mz, self.intensity * factor, self.metadata)

    def normalized(self, /) -> Spectrum:
        """Return a copy scaled so that the base peak is 1 (unchanged if all zero).

        Examples
        --------
        >>> Spectrum([1.0, 2.0], [2.0, 4.0]).normalized().intensity.tolist()
        [0.5, 1.0]
        """
        top = float(self.intensity.max()) if len(self) else 0.0
        return self if top == 0 else self.scaled(1.0 / top)

    def crop(self, lo: float, hi: float, /) -> Spectrum:
        """Return the points with ``lo <= mz <= hi``.

        Examples
        --------
        >>> Spectrum([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).crop(1.5, 3.0).mz.tolist()
        [2.0, 3.0]
        """
        if hi < lo:
            raise ValueError(f"crop range is empty: {lo} > {hi}")
        i = int(np.searchsorted(self.mz, lo, side="left"))
        j = int(np.searchsorted(self.mz, hi, side="right"))
        return Spectrum(self.mz[i:j], self.intensity[i:j], self.metadata)

    def intensity_at(self, mz: ArrayLike, /) -> FloatArray:
        """Linearly interpolated intensity at ``mz`` (0 outside the measured range).

        Examples
        --------
        >>> Spectrum([1.0, 2.0], [0.0, 2.0]).intensity_at([1.5, 5.0]).tolist()
        [1.0, 0.0]
        """
        x = np.asarray(mz, dtype=np.float64)
        if not len(self):
            return np.zeros_like(x)
        return np.interp(x, self.mz, self.intensity, left=0.0, right=0.0)


READ_NOTES = ("reversed", "clipped_negative")
"""Metadata keys in which the readers record what they did to the data."""


@dataclass(frozen=True, slots=True)
class ScanInfo:
    """Summary of one scan, as listed by :func:`nanoalloy.ms.io.list_scans`.

    Examples
    --------
    >>> ScanInfo(index=0, id="scan=1", ms_level=1, rt_min=0.5, n_points=3, tic=7.0,
    ...          base_peak_mz=100.5, base_peak_intensity=4.0).to_dict()["rt_min"]
    0.5
    """

    index: int
    """0-based position of the scan in its file."""
    id: str
    """Native scan identifier."""
    ms_level: int | None
    """MS level (1 survey, 2 MS/MS, ...)."""
    rt_min: float | None
    """Scan start time in minutes."""
    n_points: int
    """Number of (m/z, intensity) points."""
    tic: float
    """Total ion current (sum of intensities)."""
    base_peak_mz: float
    """m/z of the most intense point (nan for an empty scan)."""
    base_peak_intensity: float
    """Intensity of the most intense point."""
    precursor_mz: float | None = None
    """Selected precursor m/z (MSn scans)."""
    precursor_charge: int | None = None
    """Precursor charge recorded in the file."""
    polarity: str | None = None
    """'positive' or 'negative'."""
    centroided: bool | None = None
    """True for centroid data, False for profile data."""
    read: dict[str, Any] | None = None
    """What the reader did to the data, where it did anything: ``reversed`` (a high-to-low
    m/z axis turned round), ``clipped_negative`` (small negatives set to 0)."""

    @classmethod
    def from_spectrum(cls, spectrum: Spectrum, /) -> ScanInfo:
        """Summarise a spectrum read from a file.

        Examples
        --------
        >>> ScanInfo.from_spectrum(Spectrum([1.0], [2.0], {"index": 4})).index
        4
        """
        md = spectrum.metadata
        bp_mz, bp_int = spectrum.base_peak
        charge = md.get("precursor_charge")
        pmz = md.get("precursor_mz")
        return cls(
            index=int(md.get("index", 0)),
            id=str(md.get("id", md.get("index", 0))),
            ms_level=spectrum.ms_level,
            rt_min=spectrum.rt_min,
            n_points=len(spectrum),
            tic=spectrum.tic,
            base_peak_mz=bp_mz,
            base_peak_intensity=bp_int,
            precursor_mz=None if pmz is None else float(pmz),
            precursor_charge=None if charge is None else int(charge),
            polarity=md.get("polarity"),
            centroided=spectrum.centroided,
            read={k: md[k] for k in READ_NOTES if md.get(k)} or None,
        )

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON-ready: nan becomes None)."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            v = getattr(self, name)
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            out[name] = v
        return out


MAX_POINTS = 8000
"""Points kept by :func:`decimate` for figures and reports."""


def decimate(
    mz: np.ndarray, *ys: np.ndarray, max_points: int = MAX_POINTS
) -> tuple[np.ndarray, ...]:
    """Keep the minimum and maximum of the first ``ys`` in each of ``max_points/2`` bins.

    Examples
    --------
    >>> x = np.arange(10.0); y = np.array([0, 1, 0, 0, 5, 0, 0, 0, 2, 0.0])
    >>> float(decimate(x, y, max_points=4)[1].max())
    5.0
    """
    n = mz.size
    if n <= max_points:
        return (mz, *ys)
    nb = max(max_points // 2, 1)
    edges = np.linspace(0, n, nb + 1).astype(int)
    keep: list[int] = []
    y0 = ys[0] if ys else mz
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b <= a:
            continue
        seg = y0[a:b]
        keep.extend({a + int(np.argmin(seg)), a + int(np.argmax(seg))})
    idx = np.unique(np.array(keep, dtype=int))
    return (mz[idx], *(y[idx] for y in ys))


ZERO_GAP = 4.0
"""A step this many times the median of the eight around it is a gap (:func:`zero_filled`);
jittered sampling (steps 0.3-1.7 times their median) has none."""
ZERO_QUIET = 0.1
"""... read as zeros where both its ends are below this share of the tallest point (the
complement of a digitised trace's loud gaps, :func:`~nanoalloy.ms.assign.calibration._gappy`)."""
ZERO_NEAR = 0.03
"""... or a step this many times the file's own sampling at its m/z whose ends are both below
this share of the tallest point (:func:`zero_filled`: a threshold's islands of noise)."""
ZERO_SIDE = 1000
"""Zeros put at each end of a gap at the local step (the whole gap where it holds
fewer): more than a calibration search of +-200 ppm moves a read at m/z 5,000 at the
finest Orbitrap steps, so every read the search makes falls on a sample."""


def _sampling_step(mid: np.ndarray, d: np.ndarray, bins: int = 32) -> np.ndarray:
    """The file's sampling step at each of ``mid`` (ascending): a power law ``c m^p``
    through the lower quartile of the steps in ``bins`` runs of equal count (Theil-Sen on
    their logarithms, robust to the runs that are all gaps), ``p`` within [-0.5, 2]
    (uniform sampling 0, TOF 0.5, a constant resolving power 1, an Orbitrap 1.5)."""
    from scipy.stats import theilslopes

    ok = (d > 0) & (mid > 0)
    if ok.sum() < 2 * bins:
        return np.full(mid.size, np.inf)
    parts = np.array_split(np.flatnonzero(ok), bins)
    lm = np.array([np.log(np.median(mid[k])) for k in parts])
    ld = np.array([np.log(np.quantile(d[k], 0.25)) for k in parts])
    slope = float(np.clip(theilslopes(ld, lm)[0], -0.5, 2.0)) if np.ptp(lm) > 0 else 0.0
    level = float(np.median(ld - slope * lm))
    return np.asarray(np.exp(level + slope * np.log(np.where(mid > 0, mid, 1.0))))


def zero_filled(spectrum: Spectrum, /) -> Spectrum:
    """The spectrum with the points a reduced-profile export left out put back as zeros.

    Orbitrap and some Q-TOF exports ("reduced profile") drop the samples below a
    threshold: each resolved isotope peak is then an island of points, with no sample
    in the valleys between them. The valleys are not unknown there, they are below the
    threshold, and a reader that interpolates across the gap bridges them: data read a
    quarter of an isotope step away fall between the islands, where nothing was
    recorded, and a model placed there fitted "better" than the truth (a PtAu24 +
    PdAu24 2- window at R 52,000 read "no clusters found"). A gap is a step
    :data:`ZERO_GAP` times the median of the eight around it whose two ends are both below
    :data:`ZERO_QUIET` of the tallest point (a digitised trace whose points sit on the
    peaks, its valleys left out, has loud ends and is left as it is), or a step
    :data:`ZERO_GAP` times the file's own sampling at its m/z (:func:`_sampling_step`)
    whose ends are both below :data:`ZERO_NEAR` of it (islands of one or two noise points
    at an export's threshold, every step around them a gap too). A gap is filled
    with zeros at the smaller of the median step around it and the file's own sampling
    (the sampling the islands show), at most
    :data:`ZERO_SIDE` from each end (interpolation between two zeros reads zero). Zeros at
    a few steps from each end only were not enough: a search reads the data on its own
    rows moved by the offset tried, and rows only near the islands read nothing but
    zeros a quarter step away, where a model of nothing fits them. Returns the spectrum
    itself where there is no such gap, else a new one whose metadata ``zero_filled``
    counts the gaps.

    Examples
    --------
    >>> s = Spectrum([1.0, 1.1, 1.2, 3.0, 3.1, 3.2], [0.0, 5.0, 0.01, 0.02, 4.0, 0.0])
    >>> f = zero_filled(s)
    >>> len(f), f.metadata["zero_filled"], float(f.intensity.max())
    (23, 1, 5.0)
    """
    mz, y = spectrum.mz, spectrum.intensity
    if mz.size < 4 or spectrum.metadata.get("zero_filled"):
        return spectrum
    d = np.diff(mz)
    top = float(y.max())
    quiet = np.maximum(y[:-1], y[1:]) <= ZERO_QUIET * top
    # candidates first (a step well above one neighbour's, quiet at both ends), then the
    # median of the eight steps around each (no window over every step: 10^7 points)
    prev = np.r_[d[0], d[:-1]]
    nxt = np.r_[d[1:], d[-1]]
    # the file's own sampling at each m/z (see _sampling_step): where noise crossed the
    # threshold here and there (a baseline near it), islands of one or two points stand
    # apart and every step around a gap is a gap too; such a gap needs ends near zero
    # (ZERO_NEAR), as a threshold leaves them: a digitised trace whose points crowd the
    # peaks' flanks has long quiet steps on a baseline that is no threshold's
    own = _sampling_step(0.5 * (mz[:-1] + mz[1:]), d)
    low_ends = np.maximum(y[:-1], y[1:]) <= ZERO_NEAR * top
    cand = np.flatnonzero(
        ((d > ZERO_GAP * np.minimum(prev, nxt)) & quiet) | ((d > ZERO_GAP * own) & low_ends)
    )
    if not cand.size:
        return spectrum
    around = cand[:, None] + np.array([-4, -3, -2, -1, 1, 2, 3, 4])
    near = np.where((around >= 0) & (around < d.size), d[np.clip(around, 0, d.size - 1)], np.nan)
    local = np.minimum(np.nanmedian(near, axis=1), own[cand])
    keep = d[cand] > ZERO_GAP * local
    gaps, local = cand[keep], local[keep]
    if not gaps.size:
        return spectrum
    new: list[np.ndarray] = []
    for i, h in zip(gaps.tolist(), local.tolist(), strict=True):
        lo, hi, span = float(mz[i]), float(mz[i + 1]), float(d[i])
        n = int(round(span / h)) - 1
        if n <= 2 * ZERO_SIDE:
            new.append(lo + span * np.arange(1, n + 1) / (n + 1))
        else:
            k = np.arange(1, ZERO_SIDE + 1)
            new.append(np.r_[lo + k * h, hi - k[::-1] * h])
    add = np.concatenate(new)
    order = np.argsort(np.r_[mz, add], kind="stable")
    out_mz = np.r_[mz, add][order]
    out_y = np.r_[y, np.zeros(add.size)][order]
    return Spectrum(out_mz, out_y, {**spectrum.metadata, "zero_filled": int(gaps.size)})
