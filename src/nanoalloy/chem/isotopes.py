"""Isotope patterns and masses of cluster ions, exact and fast for whole families.

Works on plain compositions (``Mapping[str, int]``: element symbol -> count >= 0)
and a signed ion charge. Every mass and abundance comes from IsoSpecPy's own
element tables (:mod:`IsoSpecPy.PeriodicTbl`), so our numbers agree with that
engine to the last digit it stores.

Contents
--------
ELECTRON_MASS
    Electron mass in Da (the value IsoSpecPy tabulates).
Pattern
    An immutable isotope pattern: sorted m/z, probabilities, signed charge.
to_mz
    Neutral mass -> m/z for a signed charge (electron mass counted).
monoisotopic_mass, average_mass
    Neutral masses of a composition.
most_abundant_mz, average_mz
    m/z of the most probable aggregated peak; average m/z.
fine_pattern
    IsoSpecPy's exact fine structure (every isotopologue).
aggregated_pattern
    One peak per nominal isotope shift, computed exactly by our own
    moment-preserving convolution.
batch_patterns
    Aggregated patterns of a whole candidate family at once.
profile
    Gaussian peak shapes at a resolving power (m/z grid, intensity).

Design: why our own aggregation
-------------------------------
IsoSpecPy computes the *fine* structure of one molecule at a time: for
``Ag44(C7H5O2S)30`` at 99.99 % coverage that is ~50 000 isotopologues, milliseconds
per ion. What a mass spectrometer at cluster resolution sees is the *aggregated*
pattern: one peak per nominal shift (number of extra neutrons), at the
probability-weighted mean mass of the fine peaks it merges. That pattern is
computed exactly, without enumerating isotopologues, by convolving per-element
distributions over nominal shift while carrying two arrays per distribution: the
probabilities ``p[k]`` and the first moments ``q[k] = p[k] * mean_mass[k]``. For a
product of independent parts, ``p = conv(p1, p2)`` and ``q = conv(q1, p2) +
conv(p1, q2)``, so the mean mass of every bin, ``q / p``, stays exact. ``n`` atoms
of an element are a binary-exponentiation power of its one-atom distribution;
bins below ``min_probability * 1e-3`` are trimmed from the ends after every
product, which bounds the lost probability far below what is reported.
Monoisotopic elements (Au, Na, F, P, I, Co, ...) are a plain mass offset.

A candidate family (issue 2: 44 metals x 3 ligand shells x charges x Na/H ladders
x Cl shells, ~10^5 ions) shares almost everything. :func:`batch_patterns` splits
each composition into its polyisotopic part (Ag, C, H, O, S, Cl, ...) and its
monoisotopic part (Au, Na). Element powers are cached per ``(element, n)``;
polyisotopic parts are built incrementally as products along a prefix tree whose
element order puts the least varying elements first (shared prefixes are
computed once); the finished pattern is cached per distinct polyisotopic part,
so every Au/Na/charge variant costs one addition and one division. No library
does this: it is what makes whole-family fitting cheap while staying as exact as
IsoSpecPy (see ``benchmarks/isotopes.py``).

Monoisotopic mass follows IsoSpecPy's convention: the sum of the *most
abundant* isotope of each element (for Ag, Au, C, H, O, S the lightest as well).

Examples
--------
>>> from nanoalloy.chem.isotopes import aggregated_pattern, average_mz
>>> ag44 = {"Ag": 44, "C": 210, "H": 150, "O": 60, "S": 30}
>>> round(average_mz(ag44, -4), 2)
2335.39
>>> pat = aggregated_pattern(ag44, -4, coverage=0.9999)
>>> round(pat.mean_mz, 1), pat.coverage >= 0.9999
(2335.4, True)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import FormulaError, InputError

__all__ = [
    "ELECTRON_MASS",
    "Pattern",
    "aggregated_pattern",
    "average_mass",
    "average_mz",
    "batch_patterns",
    "fine_pattern",
    "isospec",
    "monoisotopic_mass",
    "most_abundant_mz",
    "profile",
    "to_mz",
]

ELECTRON_MASS: float = 0.000548579909
"""Electron mass in Da."""

_PSEUDO = frozenset({"E", "Me", "Pn"})  # IsoSpecPy's electron, anti-electron, proton entries


@functools.cache
def isospec() -> object:
    """Import IsoSpecPy with every C function of its cffi library bound up front.

    cffi resolves a dlopen'ed library's functions lazily, under a lock. IsoSpecPy frees
    its envelopes in ``ffi.gc`` finalizers that look such a function up; when the
    garbage collector runs one of them while another lookup holds the lock, the
    process deadlocks (seen in a full test run: every thread waiting on a futex inside
    ``cffi/api.py make_accessor``). Binding every name once, at import, leaves no lazy
    lookup for a finalizer to collide with. Any code importing IsoSpecPy should call
    this first (the tests do, in ``conftest.py``).
    """
    import IsoSpecPy
    from IsoSpecPy.isoFFI import isoFFI

    lib = isoFFI.clib
    for name in dir(lib):
        try:
            getattr(lib, name)
        except (AttributeError, NotImplementedError):  # declared but not exported
            pass
    return IsoSpecPy


_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_SIGMAS = 5.0  # Gaussians are evaluated within +-5 sigma and renormalised
_TRUNC_AREA = math.erf(_SIGMAS / math.sqrt(2.0))
_CHUNK = 4_000_000  # largest number of Gaussian evaluations held at once by profile
_PRUNE = 1e-3  # intermediate bins below min_probability * _PRUNE are trimmed

FloatArray = NDArray[np.float64]
Composition = Mapping[str, int]


# ---------------------------------------------------------------------------
# Pattern record
# ---------------------------------------------------------------------------
def _frozen(a: ArrayLike) -> FloatArray:
    out = np.array(a, dtype=np.float64, copy=True).reshape(-1)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, slots=True)
class Pattern:
    """An isotope pattern: peaks sorted by m/z with their probabilities.

    Arrays are copied, coerced to float64, sorted jointly by m/z and made
    read-only on construction.

    Examples
    --------
    >>> p = Pattern([1001.0, 1000.0], [0.25, 0.75], charge=-1)
    >>> p.mz.tolist(), p.most_abundant_mz, len(p)
    ([1000.0, 1001.0], 1000.0, 2)
    >>> p.mean_mz
    1000.25
    """

    mz: FloatArray
    """Peak positions (m/z; neutral masses when ``charge == 0``), ascending."""
    probability: FloatArray
    """Probability of each peak; sums to the covered probability (<= 1)."""
    charge: int = 0
    """Signed ion charge (0 = neutral: ``mz`` holds masses)."""

    def __post_init__(self) -> None:
        mz = np.array(self.mz, dtype=np.float64, copy=True).reshape(-1)
        pr = np.array(self.probability, dtype=np.float64, copy=True).reshape(-1)
        if mz.shape != pr.shape:
            raise InputError(f"mz and probability differ in length: {mz.size} != {pr.size}")
        if not (np.all(np.isfinite(mz)) and np.all(np.isfinite(pr))):
            raise InputError("mz and probability must be finite")
        if np.any(pr < 0):
            raise InputError("probabilities must be >= 0")
        if isinstance(self.charge, bool) or not isinstance(self.charge, int | np.integer):
            raise InputError(f"charge must be an integer, got {self.charge!r}")
        if mz.size > 1 and np.any(np.diff(mz) < 0):
            order = np.argsort(mz, kind="stable")
            mz, pr = mz[order], pr[order]
        mz.setflags(write=False)
        pr.setflags(write=False)
        object.__setattr__(self, "mz", mz)
        object.__setattr__(self, "probability", pr)
        object.__setattr__(self, "charge", int(self.charge))

    @classmethod
    def _trusted(cls, mz: FloatArray, probability: FloatArray, charge: int) -> Pattern:
        """Build without checks from sorted, read-only float64 arrays (internal, fast)."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "mz", mz)
        object.__setattr__(obj, "probability", probability)
        object.__setattr__(obj, "charge", charge)
        return obj

    def __len__(self) -> int:
        return int(self.mz.size)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pattern):
            return NotImplemented
        return (
            self.charge == other.charge
            and np.array_equal(self.mz, other.mz)
            and np.array_equal(self.probability, other.probability)
        )

    def __hash__(self) -> int:  # the arrays are read-only, so hashing them is sound
        return hash((self.mz.tobytes(), self.probability.tobytes(), self.charge))

    @property
    def coverage(self) -> float:
        """Total probability of the peaks held (1 for a complete pattern)."""
        return float(self.probability.sum())

    @property
    def mean_mz(self) -> float:
        """Probability-weighted mean m/z (NaN for an empty pattern)."""
        total = self.probability.sum()
        if total <= 0:
            return math.nan
        return float(np.dot(self.mz, self.probability) / total)

    @property
    def most_abundant_mz(self) -> float:
        """m/z of the most probable peak (NaN for an empty pattern)."""
        if self.mz.size == 0:
            return math.nan
        return float(self.mz[int(np.argmax(self.probability))])

    def normalized(self) -> Pattern:
        """The same peaks with probabilities scaled to sum to 1.

        Examples
        --------
        >>> Pattern([1.0, 2.0], [0.25, 0.5]).normalized().probability.tolist()
        [0.3333333333333333, 0.6666666666666666]
        """
        total = self.probability.sum()
        if total <= 0:
            raise InputError("cannot normalise a pattern of zero total probability")
        return Pattern._trusted(self.mz, _frozen(self.probability / total), self.charge)


# ---------------------------------------------------------------------------
# Elements and compositions
# ---------------------------------------------------------------------------
class _Element(NamedTuple):
    masses: FloatArray
    probs: FloatArray
    shifts: NDArray[np.intp]  # nominal shift of each isotope from the lightest
    average: float
    mono: float  # most abundant isotope


@functools.cache
def _element(symbol: str) -> _Element:
    isospec()
    from IsoSpecPy import PeriodicTbl

    masses_t = PeriodicTbl.symbol_to_masses.get(symbol) if symbol not in _PSEUDO else None
    if not masses_t:
        raise FormulaError(
            f"unknown element {symbol!r}: IsoSpecPy has no isotope data for it "
            "(expected a symbol of a stable element, such as 'Ag' or 'C')",
            token=symbol,
        )
    masses = np.array(masses_t, dtype=np.float64)
    probs = np.array(PeriodicTbl.symbol_to_probs[symbol], dtype=np.float64)
    probs /= probs.sum()  # IsoSpecPy normalises the same way
    mass_no = np.array(PeriodicTbl.symbol_to_massNo[symbol], dtype=np.float64)
    shifts = np.rint(mass_no - mass_no.min()).astype(np.intp)
    return _Element(
        masses, probs, shifts, float(np.dot(masses, probs)), float(masses[np.argmax(probs)])
    )


def _items(composition: Composition) -> list[tuple[str, int]]:
    """Validated ``(symbol, count)`` pairs with count > 0."""
    if not isinstance(composition, Mapping):
        raise InputError(
            f"composition must be a mapping of element -> count, got {type(composition)!r}"
        )
    out = []
    for sym, n in composition.items():
        if not isinstance(sym, str):
            raise FormulaError(f"element symbols must be strings, got {sym!r}")
        _element(sym)
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise FormulaError(f"count of {sym} must be an integer, got {n!r}", token=sym)
        if n < 0:
            raise FormulaError(f"count of {sym} must be >= 0, got {n}", token=sym)
        if n:
            out.append((sym, int(n)))
    return out


def _check_charge(charge: int) -> int:
    if isinstance(charge, bool) or not isinstance(charge, int | np.integer):
        raise InputError(f"charge must be an integer, got {charge!r}")
    return int(charge)


@overload
def to_mz(mass: float, charge: int) -> float: ...
@overload
def to_mz(mass: FloatArray, charge: int) -> FloatArray: ...
def to_mz(mass: float | FloatArray, charge: int) -> float | FloatArray:
    """Convert a neutral mass to m/z: ``(mass - charge * ELECTRON_MASS) / |charge|``.

    Charge 0 returns the mass unchanged. Anions (negative charge) carry extra
    electrons, so their m/z gains an electron mass per charge.

    Examples
    --------
    >>> round(to_mz(1000.0, -2), 6)
    500.000549
    >>> to_mz(1000.0, 0)
    1000.0
    """
    charge = _check_charge(charge)
    if charge == 0:
        return mass
    return (mass - charge * ELECTRON_MASS) / abs(charge)


def monoisotopic_mass(composition: Composition, /) -> float:
    """Neutral monoisotopic mass: the most abundant isotope of each element.

    This is IsoSpecPy's convention (for Ag, Au, C, H, N, O, S it is also the
    lightest isotope; for e.g. Se or Pt it is not). For large silver clusters the
    monoisotopic peak is vanishingly rare (Ag44(SR)30: ~1e-15): never anchor on it.

    Examples
    --------
    >>> round(monoisotopic_mass({"C": 1, "O": 2}), 6)
    43.989829
    """
    return math.fsum(n * _element(s).mono for s, n in _items(composition))


def average_mass(composition: Composition, /) -> float:
    """Neutral average mass from IsoSpecPy's isotope masses and abundances.

    Examples
    --------
    >>> round(average_mass({"Au": 44}), 4)
    8666.5291
    """
    return math.fsum(n * _element(s).average for s, n in _items(composition))


def average_mz(composition: Composition, /, charge: int = 0) -> float:
    """Average m/z of an ion (exact; no pattern needed).

    Examples
    --------
    >>> round(average_mz({"Ag": 44, "C": 210, "H": 150, "O": 60, "S": 30}, -4), 2)
    2335.39
    """
    return float(to_mz(average_mass(composition), charge))


# ---------------------------------------------------------------------------
# Fine structure (IsoSpecPy)
# ---------------------------------------------------------------------------
def fine_pattern(
    composition: Composition,
    /,
    charge: int = 0,
    *,
    coverage: float = 0.9999,
    threshold: float | None = None,
) -> Pattern:
    """Exact fine structure (every isotopologue) computed by IsoSpecPy.

    Parameters
    ----------
    composition
        Element symbol -> count.
    charge
        Signed ion charge (0: masses).
    coverage
        Smallest set of isotopologues whose probabilities sum to at least this
        (``IsoTotalProb``). Ignored when ``threshold`` is given.
    threshold
        If given, every isotopologue with probability >= ``threshold``
        (absolute; ``IsoThreshold``).

    Examples
    --------
    >>> pat = fine_pattern({"C": 2, "H": 6, "O": 1}, coverage=0.999)
    >>> len(pat) > 3, pat.coverage >= 0.999
    (True, True)
    """
    IsoSpecPy: Any = isospec()

    charge = _check_charge(charge)
    items = _items(composition)
    if not items:
        return Pattern._trusted(_frozen([to_mz(0.0, charge)]), _frozen([1.0]), charge)
    formula = dict(items)
    if threshold is not None:
        if not 0 < threshold <= 1:
            raise InputError(f"threshold must be in (0, 1], got {threshold}")
        dist = IsoSpecPy.IsoThreshold(threshold, formula=formula, absolute=True)
    else:
        if not 0 < coverage <= 1:
            raise InputError(f"coverage must be in (0, 1], got {coverage}")
        dist = IsoSpecPy.IsoTotalProb(coverage, formula=formula)
    masses = np.array(dist.np_masses(), dtype=np.float64) if len(dist) else np.empty(0)
    probs = np.array(dist.np_probs(), dtype=np.float64) if len(dist) else np.empty(0)
    order = np.argsort(masses, kind="stable")
    return Pattern._trusted(_frozen(to_mz(masses[order], charge)), _frozen(probs[order]), charge)


# ---------------------------------------------------------------------------
# Aggregated patterns: moment-preserving convolution
# ---------------------------------------------------------------------------
class _Dist(NamedTuple):
    """Distribution over nominal shift ``start + k``: probabilities and first moments."""

    start: int
    p: FloatArray
    q: FloatArray  # p * mean mass of the bin


_ONE = _Dist(0, np.ones(1), np.zeros(1))


def _trim(start: int, p: FloatArray, q: FloatArray, cut: float) -> _Dist:
    keep = np.flatnonzero(p >= cut)
    if keep.size == 0:  # everything below the cut: keep the most probable bin
        keep = np.array([int(np.argmax(p))])
    lo, hi = int(keep[0]), int(keep[-1]) + 1
    return _Dist(start + lo, p[lo:hi], q[lo:hi])


def _mul(a: _Dist, b: _Dist, cut: float) -> _Dist:
    p = np.convolve(a.p, b.p)
    q = np.convolve(a.q, b.p) + np.convolve(a.p, b.q)
    return _trim(a.start + b.start, p, q, cut)


@functools.lru_cache(maxsize=4096)
def _power(symbol: str, n: int, cut: float) -> _Dist:
    """Distribution of ``n`` atoms of a polyisotopic element (binary exponentiation)."""
    if n == 1:
        el = _element(symbol)
        width = int(el.shifts.max()) + 1
        p = np.zeros(width)
        q = np.zeros(width)
        np.add.at(p, el.shifts, el.probs)
        np.add.at(q, el.shifts, el.probs * el.masses)
        return _trim(0, p, q, cut)
    half = _power(symbol, n // 2, cut)
    out = _mul(half, half, cut)
    if n % 2:
        out = _mul(out, _power(symbol, 1, cut), cut)
    return out


def _split(items: Iterable[tuple[str, int]]) -> tuple[dict[str, int], float]:
    """Polyisotopic part (symbol -> count) and the mass of the monoisotopic part."""
    poly: dict[str, int] = {}
    mono = []
    for sym, n in items:
        el = _element(sym)
        if el.masses.size == 1:
            mono.append(n * float(el.masses[0]))
        else:
            poly[sym] = n
    return poly, math.fsum(mono)


def _check_options(min_probability: float, coverage: float | None) -> float:
    if not 0 < min_probability < 1:
        raise InputError(f"min_probability must be in (0, 1), got {min_probability}")
    if coverage is not None and not 0 < coverage <= 1:
        raise InputError(f"coverage must be in (0, 1], got {coverage}")
    return min_probability * _PRUNE


def _finish(
    d: _Dist, min_probability: float, coverage: float | None
) -> tuple[FloatArray, FloatArray]:
    """Select bins and return (mean neutral masses of the poly part, probabilities), sorted."""
    keep = np.flatnonzero(d.p >= min_probability)
    if keep.size == 0:
        keep = np.array([int(np.argmax(d.p))])
    if coverage is not None:
        order = keep[np.argsort(-d.p[keep], kind="stable")]
        csum = np.cumsum(d.p[order])
        n = min(int(np.searchsorted(csum, coverage)) + 1, order.size)
        keep = np.sort(order[:n])
    p = d.p[keep]
    mass = d.q[keep] / p
    order = np.argsort(mass, kind="stable")
    prob = p[order]
    prob.setflags(write=False)
    return mass[order], prob


def aggregated_pattern(
    composition: Composition,
    /,
    charge: int = 0,
    *,
    min_probability: float = 1e-9,
    coverage: float | None = None,
) -> Pattern:
    """Aggregated isotope pattern: one peak per nominal shift (neutron count).

    Each peak sits at the probability-weighted mean m/z of the fine peaks it
    merges; both probabilities and mean masses are exact (see the module
    docstring for the moment-preserving convolution).

    Parameters
    ----------
    composition
        Element symbol -> count.
    charge
        Signed ion charge (0: masses).
    min_probability
        Peaks below this probability are dropped; intermediate products are
        trimmed at ``min_probability * 1e-3``.
    coverage
        If given, keep only the most probable peaks until their sum reaches it
        (the result is still sorted by m/z).

    Examples
    --------
    >>> pat = aggregated_pattern({"Ag": 44, "C": 210, "H": 150, "O": 60, "S": 30}, -4)
    >>> round(pat.most_abundant_mz, 2), round(pat.mean_mz, 2), round(pat.coverage, 6)
    (2335.46, 2335.39, 1.0)
    >>> len(aggregated_pattern({"Ag": 44}, coverage=0.99))
    17
    """
    charge = _check_charge(charge)
    cut = _check_options(min_probability, coverage)
    poly, mono = _split(_items(composition))
    d = _ONE
    for sym in sorted(poly):
        d = _mul(d, _power(sym, poly[sym], cut), cut)
    mass, prob = _finish(d, min_probability, coverage)
    return Pattern._trusted(_frozen(to_mz(mass + mono, charge)), prob, charge)


def most_abundant_mz(composition: Composition, /, charge: int = 0) -> float:
    """m/z of the most probable aggregated isotope peak.

    Examples
    --------
    >>> round(most_abundant_mz({"Au": 44, "C": 182, "H": 114, "O": 52, "S": 26, "Na": 12}, -6), 1)
    2151.4
    """
    return aggregated_pattern(composition, charge).most_abundant_mz


def batch_patterns(
    compositions: Sequence[Composition],
    charges: Sequence[int],
    /,
    *,
    min_probability: float = 1e-9,
    coverage: float | None = 0.9999,
) -> list[Pattern]:
    """Aggregated patterns of many ions at once (a whole candidate family).

    Same result as :func:`aggregated_pattern` per ion (up to floating-point
    rounding and the ``min_probability * 1e-3`` trimming), computed once per
    distinct polyisotopic sub-composition: Au/Na/charge variants cost one
    addition and one division. See the module docstring for the design.

    Parameters
    ----------
    compositions
        Element symbol -> count, one per ion.
    charges
        Signed ion charges, same length.
    min_probability, coverage
        As in :func:`aggregated_pattern` (coverage defaults to 0.9999 here).

    Examples
    --------
    >>> comps = [{"Au": 44 - x, "Ag": x, "C": 182, "H": 130, "O": 52, "S": 26} for x in range(3)]
    >>> pats = batch_patterns(comps, [-2, -2, -2])
    >>> [round(p.mean_mz, 1) for p in pats]
    [6324.6, 6280.0, 6235.5]
    """
    if len(compositions) != len(charges):
        raise InputError(
            f"compositions and charges differ in length: {len(compositions)} != {len(charges)}"
        )
    cut = _check_options(min_probability, coverage)
    zs = [_check_charge(z) for z in charges]
    split = [_split(_items(c)) for c in compositions]
    # element order: least varying first, so that products share long prefixes
    values: dict[str, set[int]] = {}
    for poly, _ in split:
        for sym in poly:
            values.setdefault(sym, set())
    for poly, _ in split:
        for sym, seen in values.items():
            seen.add(poly.get(sym, 0))
    order = sorted(values, key=lambda s: (len(values[s]), s))

    prefix: dict[tuple[int, ...], _Dist] = {(): _ONE}
    finished: dict[tuple[int, ...], tuple[FloatArray, FloatArray]] = {}
    out: list[Pattern] = []
    for (poly, mono), z in zip(split, zs, strict=True):
        key = tuple(poly.get(s, 0) for s in order)
        fin = finished.get(key)
        if fin is None:
            k = len(key)
            while key[:k] not in prefix:
                k -= 1
            d = prefix[key[:k]]
            for j in range(k, len(key)):
                if key[j]:
                    d = _mul(d, _power(order[j], key[j], cut), cut)
                prefix[key[: j + 1]] = d
            fin = finished[key] = _finish(d, min_probability, coverage)
        mz = to_mz(fin[0] + mono, z)
        mz.setflags(write=False)
        out.append(Pattern._trusted(mz, fin[1], z))
    return out


# ---------------------------------------------------------------------------
# Profiles at a resolving power
# ---------------------------------------------------------------------------
def _auto_grid(
    centers: FloatArray, fwhm: FloatArray, resolution: float, points_per_fwhm: float
) -> FloatArray:
    """Log-uniform grid (constant points per FWHM) over the union of peak +-4 FWHM windows."""
    lo = centers - 4.0 * fwhm
    hi = centers + 4.0 * fwhm
    lo = np.maximum(lo, centers * 1e-3)
    ratio = math.log1p(1.0 / (resolution * points_per_fwhm))
    base = float(lo.min())
    k_lo = np.floor(np.log(lo / base) / ratio).astype(np.int64)
    k_hi = np.ceil(np.log(hi / base) / ratio).astype(np.int64)
    order = np.argsort(k_lo, kind="stable")
    k_lo, k_hi = k_lo[order], np.maximum.accumulate(k_hi[order])
    # merge overlapping index windows
    new = np.ones(k_lo.size, dtype=bool)
    new[1:] = k_lo[1:] > k_hi[:-1] + 1
    starts = k_lo[new]
    ends = np.append(k_hi[np.flatnonzero(new)[1:] - 1], k_hi[-1])
    ks = np.concatenate([np.arange(a, b + 1) for a, b in zip(starts, ends, strict=True)])
    return base * np.exp(ks * ratio)


def profile(
    patterns: Pattern | Sequence[Pattern],
    /,
    resolution: float,
    *,
    mz: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    points_per_fwhm: float = 8,
) -> tuple[FloatArray, FloatArray]:
    """Render patterns as Gaussian peaks of FWHM ``m/z / resolution``.

    Parameters
    ----------
    patterns
        One pattern or a sequence of them.
    resolution
        Resolving power ``m/z / FWHM``.
    mz
        m/z grid (ascending). If omitted, a log-uniform grid with
        ``points_per_fwhm`` points per FWHM covers every peak +-4 FWHM (gaps
        between distant envelopes are left out).
    weights
        One weight per pattern (default 1).
    points_per_fwhm
        Sampling density of the automatic grid.

    Returns
    -------
    mz, intensity
        Intensity is a density in m/z: a pattern of total probability ``P``
        and weight ``w`` integrates (trapezoid over m/z) to ``P * w`` on a grid
        that resolves the peaks. Each peak is evaluated only within +-5 sigma
        (and renormalised for the truncation).

    Examples
    --------
    >>> pat = Pattern([1000.0, 1001.0], [0.6, 0.4], charge=-1)
    >>> x, y = profile(pat, 10000, weights=[2.0])
    >>> round(float(np.trapezoid(y, x)), 6)
    2.0
    """
    pats = [patterns] if isinstance(patterns, Pattern) else list(patterns)
    if not all(isinstance(p, Pattern) for p in pats):
        raise InputError("patterns must be Pattern objects")
    if not (math.isfinite(resolution) and resolution > 0):
        raise InputError(f"resolution must be positive, got {resolution}")
    if not (math.isfinite(points_per_fwhm) and points_per_fwhm > 0):
        raise InputError(f"points_per_fwhm must be positive, got {points_per_fwhm}")
    w = np.ones(len(pats)) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size != len(pats):
        raise InputError(f"weights must have one value per pattern: {w.size} != {len(pats)}")
    if not np.all(np.isfinite(w)):
        raise InputError("weights must be finite")
    sizes = np.array([len(p) for p in pats], dtype=np.intp)
    centers = np.concatenate([p.mz for p in pats]) if pats else np.empty(0)
    area = np.concatenate([p.probability for p in pats]) * np.repeat(w, sizes) if pats else centers
    if np.any(centers <= 0):
        raise InputError("profile needs positive m/z values")
    fwhm = centers / resolution
    if mz is None:
        if centers.size == 0:
            return np.empty(0), np.empty(0)
        grid = _auto_grid(centers, fwhm, resolution, points_per_fwhm)
    else:
        grid = np.array(mz, dtype=np.float64, copy=True).reshape(-1)
        if not np.all(np.isfinite(grid)) or np.any(np.diff(grid) < 0):
            raise InputError("mz grid must be finite and ascending")
    intensity = np.zeros(grid.size)
    keep = area != 0
    centers, area, sigma = centers[keep], area[keep], fwhm[keep] / _FWHM_PER_SIGMA
    first = np.searchsorted(grid, centers - _SIGMAS * sigma, side="left")
    last = np.searchsorted(grid, centers + _SIGMAS * sigma, side="right")
    counts = last - first
    # a peak whose +-5 sigma window lies inside the grid is scaled so that its
    # trapezoid integral on this grid is exactly its area; a peak cut by the
    # grid's ends keeps the analytic height (only its visible part is drawn)
    inside = (first > 0) & (last < grid.size)
    height = area / (sigma * math.sqrt(2.0 * math.pi) * _TRUNC_AREA)
    tw = np.zeros(grid.size)  # trapezoid weights of the grid points
    if grid.size > 1:
        dx = np.diff(grid)
        tw[:-1] += dx / 2
        tw[1:] += dx / 2
        del dx
    # chunk the peaks so that no more than ~4M evaluations are held at once
    csum = np.cumsum(counts)
    total_evals = int(csum[-1]) if csum.size else 0
    bounds = np.searchsorted(csum, np.arange(_CHUNK, total_evals, _CHUNK))
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, counts.size], strict=True):
        cnt = counts[a:b]
        total = int(cnt.sum())
        if total == 0:
            continue
        local = np.repeat(np.arange(b - a), cnt)
        peak = local + a
        idx = first[peak] + (np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        z = (grid[idx] - centers[peak]) / sigma[peak]
        shape = np.exp(-0.5 * z * z)
        discrete = np.bincount(local, weights=shape * tw[idx], minlength=b - a)
        h = height[a:b].copy()
        ok = inside[a:b] & (discrete > 0)
        h[ok] = area[a:b][ok] / discrete[ok]
        lo, hi = int(idx.min()), int(idx.max()) + 1  # add into the chunk's window only
        intensity[lo:hi] += np.bincount(idx - lo, weights=h[local] * shape, minlength=hi - lo)
    return grid, intensity
