"""Instrument model of the assigner: peak shape and resolving power fitted to the data (step 1).

The resolving power ``R(m) = R0 (m / m0)^k`` and the peak shape (Gaussian,
pseudo-Voigt ``eta``, exponential tail to high m/z) are parameters of the
joint fit (:class:`~nanoalloy.ms.fit.Instrument`): the estimates from isolated
peaks, valleys between isotope peaks, peak widths or the file's metadata only
start the search; the residual of the whole structured fit decides. When no
estimate can be made (a narrow zoom, a blurred comb), a grid of resolving
powers (3,000-100,000, log-spaced) is searched by the same residual. Nothing
is refused.

Contents
--------
_resolution_candidates
    Starting resolving powers from the data and the file (possibly none).
_decimation_resolution
    The resolving power at which the spectrum is decimated (fine enough for every candidate).
_start_grid
    The resolving powers tried as starts when the estimates disagree or fail.
_fit_instrument
    Coordinate search of log R0, eta, tail and the exponent k by the residual of
    refits of the fitted species (calibration offset held consistent with the tail).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._parallel import pmap
from ..fit import Instrument, render
from ..spectrum import Spectrum
from .candidates import _Problem
from .design import _Design, _fit_round, _gram, _hats
from .selection import _subset

if TYPE_CHECKING:
    from ...chem.isotopes import Pattern

__all__: list[str] = []

R_MIN, R_MAX = 3_000.0, 100_000.0  # the grid searched when nothing else is known
R_SUSPECT = 5_000.0  # estimates all below this: the grid is searched too
R_TRUSTED = 10_000.0  # the spectrum is never decimated more coarsely than for this
# ... nor, where every estimate is suspect (below R_SUSPECT: unresolved isotopes read as one
# broad peak), than for this: [Au144(PET)60]3- at R 20,000 (isotopes 0.33 m/z apart under a
# 0.6 m/z FWHM) was estimated at R 3,900, decimated for 13,000, and the search stopped at
# its cap, 14,300, with twice the residual of the true R
R_BLURRED = 40_000.0
# a peak no narrower than the data's typical sampling step: beyond, the samples cannot
# show the width, and a free resolving power only lets aliases fit (a digitised 14-point
# zoom of [Au22Ag3(PET)18]- at R 7,000, one point every 0.27 m/z, was read at R 105,000
# as [Au23Cu2(PET)18]-, 0.45 Da away)
SAMPLING_FWHM = 1.0
SHAPE_GAIN = 5e-3  # a shape parameter must lower the residual by this share
# calibration slopes walked (ppm per 1000 m/z): +-10 held a poorly calibrated Q-TOF's
# -30..+30 ppm over 3500-7600 m/z (14.6 per 1000) at 10, 15 ppm off at the ends, R low
SLOPE_LIMIT = 30.0
# a tail found by stepping it out must lower the residual by this share: Gaussian peaks
# took a 0.3 FWHM tail for 1 % (the demo's 3 points per FWHM: the tail and the offset
# trade) and for 4.4 % (a noise-free synthetic M44S30 4- spectrum: the tail fits what
# the model lacks, e.g. the baseline under an envelope); tails of 0.3-0.5 FWHM gained
# 8-12 %, longer ones 2-3x. Where noise fills the residual, half of the misfit that
# shows instead (MISFIT_GAIN; see _fit_instrument's ``beats`` and _misfit_share)
TAIL_GAIN = 0.06
MISFIT_GAIN = 0.5
_MIN_PROBED = 0.15  # tails from this on (FWHM) are held to TAIL_GAIN against a Gaussian
ETA_PROBE = (0.15, 0.3, 0.45, 0.6)  # Lorentzian shares stepped through from a Gaussian
TAIL_PROBE = (0.15, 0.3, 0.5, 0.7, 0.9, 1.2, 1.6)  # tails (FWHM) stepped through from a Gaussian
INSTRUMENT_ROWS = 8_000
"""Most grid rows the instrument search fits (each of its ~100 trials renders and refits
the fitted species on them). A dense wide spectrum has 40,000 rows of signal; the peak
shape, R(m) and calibration are read as well from its strongest stretches spread over the
m/z range (:func:`_representative`): the benchmark's search took half the time, its R and
calibration the same to 0.01 % and 0.05 ppm."""
_CHUNK = 256  # rows per stretch of :func:`_representative` (an envelope or two at 4 per FWHM)
_BINS = 6  # m/z bins (equal log width) that each give their strongest stretch first


def _resolution_candidates(spectrum: Spectrum) -> list[float]:
    """Starting resolving powers: isolated peaks, the file's claim, valleys, peak widths.

    Each estimator can fail or mislead (isolated peaks read a blurred envelope
    at 3 points per FWHM as R ~ 1,800; valleys are lowered by overlaps), so all
    that give a number are returned (merged within 15 %) and the residual
    chooses among them; an empty list means none could be made.
    """
    from ..peaks import estimate_resolution, noise_level, resolution_from_valleys

    # a noise floor of 0.2 % of the tallest peak: in a noise-free (simulated)
    # spectrum every beat in an envelope's tail would otherwise count as a peak
    noise = max(noise_level(spectrum), 2e-3 * float(spectrum.intensity.max()))
    found: list[float] = []
    try:
        # a baseline window wider than a cluster's whole Na/isotope envelope: with a
        # narrow one the floor of a dense envelope becomes the baseline, and the
        # beats of interleaved isotope combs above it pass for narrow isolated peaks
        found.append(
            estimate_resolution(spectrum, min_snr=10.0, noise=noise, baseline_window_mz=50.0)
        )
    except (ValueError, FloatingPointError):  # pragma: no cover - defensive
        pass
    claimed = spectrum.metadata.get("resolution")
    if isinstance(claimed, int | float):
        found.append(float(claimed))
    for fn in (resolution_from_valleys, _resolution_from_peaks):
        try:
            found.append(float(fn(spectrum, noise=noise)))
        except (ValueError, FloatingPointError):  # pragma: no cover - defensive
            pass
    ok = sorted(r for r in found if math.isfinite(r) and 500.0 <= r <= 1e6)
    merged: list[float] = []
    for r in ok:
        if merged and r <= 1.15 * merged[-1]:
            merged[-1] = math.sqrt(merged[-1] * r)
        else:
            merged.append(r)
    return merged


def _resolution_from_peaks(spectrum: Spectrum, noise: float) -> float:
    """Upper quantile of m/z / FWHM over strong peaks (overlaps only broaden peaks); NaN if too few."""
    from ..peaks import centroid

    c = centroid(spectrum, min_snr=20.0, noise=noise)
    fwhm = np.asarray(c.metadata.get("fwhm", np.zeros(0)), dtype=float)
    ok = np.isfinite(fwhm) & (fwhm > 0)
    if ok.sum() < 5:
        return math.nan
    return float(np.quantile(c.mz[ok] / fwhm[ok], 0.9))


def _native_resolution(spectrum: Spectrum, points_per_fwhm: float) -> float:
    """The resolving power above which decimating at ``points_per_fwhm`` keeps every point."""
    mz = spectrum.mz
    d = np.diff(mz)
    ok = d > 0
    if not ok.any():
        return R_MAX
    # bins narrower than the data's spacing everywhere merge nothing: the high end of
    # m/z / spacing (a grid uniform in m/z is finest, relatively, at its high end)
    return float(np.quantile(mz[1:][ok] / d[ok], 0.98)) / points_per_fwhm


def _decimation_resolution(
    spectrum: Spectrum, candidates: list[float], points_per_fwhm: float
) -> tuple[float, float]:
    """Decimation resolving power and the largest resolving power the search may reach.

    The spectrum is decimated finely enough for the largest candidate (x 1.3; at least
    :data:`R_TRUSTED`, or :data:`R_BLURRED` where every candidate is suspect),
    or not at all (no candidate, or data sampled more coarsely than that); the
    search may then reach 1.1 x the decimation's resolving power (beyond, the
    bins would blur the peaks), or anything up to 130,000 when nothing was
    merged (the starts and the instrument search also hold the whole peak to at
    least :data:`SAMPLING_FWHM` sampling steps: :func:`_sampling_capped`).
    """
    native = _native_resolution(spectrum, points_per_fwhm)
    # never coarser than for R = 10,000: a low estimate may be a blurred misreading
    floor = R_TRUSTED if candidates and max(candidates) >= R_SUSPECT else R_BLURRED
    top = max(max(candidates), floor) * 1.3 if candidates else math.inf
    if top < native:
        return float(top), float(1.1 * top)
    return float(native), 1.3 * R_MAX


def _sampled_resolution(spectrum: Spectrum) -> float:
    """The resolving power whose FWHM is the data's typical sampling step (median m/z
    over median spacing: a digitised trace holds a few close points at its peaks)."""
    d = np.diff(spectrum.mz)
    ok = d > 0
    if not ok.any():
        return math.inf
    return float(np.median(spectrum.mz[1:][ok]) / np.median(d[ok]))


def _start_grid(candidates: list[float], r_max: float) -> list[float]:
    """Resolving powers to try as starts.

    The candidates; when there are none, or all lie below 5,000 (isolated-peak
    and width estimates read a blurred envelope at 3 points per FWHM as R ~
    1,800), a log grid over 3,000-100,000 (factor 2) as well.
    """
    hi = min(R_MAX, r_max)
    out = [min(r, hi) for r in candidates]
    if not candidates or max(candidates) < R_SUSPECT:
        n = max(2, round(math.log(hi / R_MIN) / math.log(2.0)) + 1)
        out += [float(v) for v in np.geomspace(R_MIN, hi, n)] if hi > R_MIN else [hi]
    return sorted(set(out))


def _line(
    f: Callable[[float], float],
    x0: float,
    step: float,
    lo: float,
    hi: float,
    *,
    walks: int = 8,
    refine: int = 3,
) -> float:
    """Minimise ``f`` along one parameter within ``[lo, hi]``.

    Walks downhill from ``x0`` in growing steps until the best point has
    evaluated neighbours on both sides, then shrinks that bracket ``refine``
    times (a parabola's vertex where it falls well inside, else the midpoint
    of the wider side: the residual in log R has a steep wall on the
    narrow-peak side, where one parabola through a wide bracket lands far off).
    At a bound, a point a third of the way in is tried.
    """
    pts: dict[float, float] = {}

    def at(xs: list[float]) -> None:
        todo = [x for x in dict.fromkeys(min(max(x, lo), hi) for x in xs) if x not in pts]
        for x, v in zip(todo, pmap(f, todo), strict=True):
            pts[x] = v

    at([x0, x0 - step, x0 + step])
    for _ in range(walks):
        xs = sorted(pts)
        i = xs.index(min(pts, key=pts.__getitem__))
        if 0 < i < len(xs) - 1:
            break
        nxt = xs[i] + (step if i == len(xs) - 1 else -step)
        if not lo <= nxt <= hi or nxt in pts:
            break
        at([nxt])
        step *= 1.6
    for _ in range(refine):
        xs = sorted(pts)
        i = xs.index(min(pts, key=pts.__getitem__))
        if not 0 < i < len(xs) - 1:
            if i == 0 and xs[0] == lo and len(xs) > 1:
                at([lo + (xs[1] - lo) / 3.0])
            elif i == len(xs) - 1 and xs[-1] == hi and len(xs) > 1:
                at([hi - (hi - xs[-2]) / 3.0])
            break
        x1, x2, x3 = xs[i - 1], xs[i], xs[i + 1]
        f1, f2, f3 = pts[x1], pts[x2], pts[x3]
        den = (x2 - x1) * (f2 - f3) - (x2 - x3) * (f2 - f1)
        xm = math.nan
        if den != 0:
            xm = x2 - 0.5 * ((x2 - x1) ** 2 * (f2 - f3) - (x2 - x3) ** 2 * (f2 - f1)) / den
        wide = (x1 + x2) / 2.0 if x2 - x1 > x3 - x2 else (x2 + x3) / 2.0
        inner = x1 + 0.1 * (x3 - x1) < xm < x3 - 0.1 * (x3 - x1)
        cand = xm if inner and abs(xm - x2) > 0.02 * (x3 - x1) else wide
        if cand in pts:
            break
        at([cand])
    return min(pts, key=pts.__getitem__)


def _simplex(f: Callable[[np.ndarray], float], n: int, maxfev: int, fatol: float) -> np.ndarray:
    """Nelder-Mead minimum of ``f`` over ``n`` scaled coordinates, from 0 with unit steps."""
    from scipy.optimize import minimize

    options = {
        "maxfev": maxfev,
        "xatol": 0.1,
        "fatol": fatol,
        "initial_simplex": np.vstack([np.zeros(n), np.eye(n)]),
    }
    return np.asarray(minimize(f, np.zeros(n), method="Nelder-Mead", options=options).x)


def _mode(ins: Instrument) -> float:
    """Apex of the peak relative to its centroid (FWHM units)."""
    if ins.tail < 0.02:
        return 0.0
    u = np.linspace(-3.0 - ins.tail, 3.0, 3001)
    return float(u[int(np.argmax(ins.density(u)))])


def _centroid_shift_ppm(ins: Instrument, mz: float) -> float:
    """How far a tailed peak's centroid (its position) sits above its core, ppm at ``mz``."""
    return 1e6 * ins.tail / float(ins.resolution_at(mz)) if ins.tail > 0 else 0.0


def _sampling_capped(ins: Instrument, r_sampled: float) -> Instrument:
    """``ins`` with its resolving power lowered where the whole peak (core, wings, tail)
    would be narrower than a sampling step (``r_sampled``: the resolving power whose FWHM
    is one step; see :data:`SAMPLING_FWHM`)."""
    if ins.resolution <= r_sampled:  # (the whole peak is never narrower than its core)
        return ins
    top = r_sampled * _width(ins)
    return ins if ins.resolution <= top else dataclasses.replace(ins, resolution=top)


def _width(ins: Instrument) -> float:
    """Full width at half maximum of the whole peak (core, wings, tail) in core FWHM."""
    if ins.tail < 0.02:
        return 1.0
    u = np.linspace(-3.0 - ins.tail, 3.0 + 6.0 * ins.tail, 6001)
    d = ins.density(u)
    above = u[d >= 0.5 * float(d.max())]
    return float(above[-1] - above[0])


def _ion_columns(
    prob: _Problem,
    pats: list[Pattern],
    g: Any,
    ins: Instrument,
    cal: tuple[float, float],
    rows: np.ndarray,
) -> Any:
    """``prob``'s ions rendered with ``ins`` on the grid ``rows``, where ``cal`` puts them."""
    return render(
        [pats[i] for i in prob.idx],
        g.mz[rows],
        ins,
        normalize=False,
        shift_ppm=cal[0],
        shift_slope=cal[1],
    )


def _own_columns(prob: _Problem, keep: np.ndarray, form_weights: np.ndarray) -> _Problem:
    """The ions ``keep`` of ``prob`` as a problem of its own (columns 0, 1, ... of a trial design)."""
    sub = _subset(prob, keep, form_weights)
    return dataclasses.replace(sub, col=np.arange(sub.idx.size, dtype=np.intp))


def _trial_design(
    prob: _Problem,
    pats: list[Pattern],
    g: Any,
    ins: Instrument,
    cal: tuple[float, float],
    knot_mz: float,
    rows: np.ndarray,
    hats: Any = None,
) -> _Design:
    """The design of ``prob`` rendered with ``ins`` where the calibration ``cal`` puts it.

    Only the grid rows ``rows`` are rendered, at the m/z where the
    miscalibrated instrument shows each peak (offset ppm, ppm per m/z), so the
    data are compared as measured: reading them on a shifted axis instead
    would interpolate between samples, which smooths the noise by an amount
    that depends on the shift and biases the calibration by a few ppm at 3
    points per FWHM. Columns keep their analytic scale (unit area over the
    whole peak). ``hats``: the baseline hats on ``rows`` when already built (a search
    renders dozens of trials on the same rows).
    """
    from scipy import sparse

    if hats is None:
        hats = _hats(g.mz, knot_mz)[rows]
    matrix = sparse.hstack([_ion_columns(prob, pats, g, ins, cal, rows), hats], format="csc")
    return _Design(matrix, _gram(matrix), rows, prob.idx.size, None, g.mz[rows])


def _representative(model: np.ndarray, mz: np.ndarray, near: np.ndarray, cap: int) -> np.ndarray:
    """The rows of ``near`` that the instrument search fits: all, or at most ``cap`` of them.

    The signal rows are cut into stretches of ``_CHUNK`` rows; the strongest stretch
    of each of ``_BINS`` m/z bins (equal log width) comes first, so that the
    calibration slope and the exponent of R(m) keep their lever, then the others by
    their apex, highest first, while they fit under ``cap``. Returns a boolean mask.
    """
    idx = np.flatnonzero(near)
    if idx.size <= cap:
        return near
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    chunks = [r[i : i + _CHUNK] for r in runs for i in range(0, r.size, _CHUNK)]
    apex = np.array([float(model[c].max()) for c in chunks])
    where = np.log(np.array([float(mz[c].mean()) for c in chunks]))
    lo, hi = float(where.min()), float(where.max())
    bins = np.minimum((_BINS * (where - lo) / max(hi - lo, 1e-12)).astype(int), _BINS - 1)
    order = np.argsort(-apex, kind="stable")
    firsts = [int(order[bins[order] == b][0]) for b in np.unique(bins)]
    firsts.sort(key=lambda i: -apex[i])
    out = np.zeros_like(near)
    taken = 0
    for i in dict.fromkeys([*firsts, *order.tolist()]):
        if taken + chunks[i].size > cap:
            continue
        out[chunks[i]] = True
        taken += chunks[i].size
    return out


def _misfit_share(resid: np.ndarray, rows: np.ndarray) -> float:
    """The part of ``resid @ resid`` that is misfit rather than noise (a rough lower bound).

    The noise is independent from point to point (Poisson counts and detector noise on
    averaged bins); a misfit is not: at 3 or more points per FWHM its autocorrelation
    at lags 1 and 2 is positive. For a misfit whose autocorrelation falls as a Gaussian,
    ``rho(2) = rho(1)^4``, so ``rho = (c2 / c1)^(1/3)`` (held to 0.5-1) and its variance
    is ``c1 / rho``, with ``c1``, ``c2`` the residual's autocovariances from
    neighbouring grid rows only. A lag-1 autocovariance within two standard errors of 0
    (``var / sqrt(n)``) shows no misfit: 0 (a fitted model's own residual is slightly
    anticorrelated, the fit taking up some of the noise). The estimate is low where a
    misfit decorrelates within a lag or two (4 points per FWHM): a noise-free Gaussian
    spectrum's residual read 57 % misfit, the truth 100 %, and the same spectrum with
    its noise 26 % for 47 %.
    """
    r = np.asarray(resid, dtype=float)
    step1 = np.flatnonzero(np.diff(rows) == 1)
    step2 = np.flatnonzero(rows[2:] - rows[:-2] == 2)
    if step1.size < 16 or step2.size < 16:
        return float(r @ r)  # no lags to read: all of it counts as misfit
    var = float(r @ r) / r.size
    c1 = float(np.mean(r[step1] * r[step1 + 1]))
    c2 = float(np.mean(r[step2] * r[step2 + 2]))
    if c1 <= 2.0 * var / math.sqrt(step1.size):
        return 0.0
    rho = float(np.clip((c2 / c1) ** (1.0 / 3.0), 0.5, 1.0)) if c2 > 0.0 else 0.5
    return min(c1 / rho, var) * r.size


def _fit_instrument(
    prob: _Problem,
    pats: list[Pattern],
    g: Any,
    gy: np.ndarray,
    design: _Design,
    state: dict[str, Any],
    instrument: Instrument,
    cal: tuple[float, float],
    *,
    free_resolution: bool,
    shape: str,
    calibrate: bool,
    r_max: float,
    knot_mz: float,
    raw: bool = False,
    calibration_range_ppm: float = 100.0,
    core_or_centroid: bool = True,
    probe_wings: bool = True,
    rivals: list[tuple[Instrument, tuple[float, float]]] | None = None,
    r_sampled: float = math.inf,
) -> tuple[Instrument, tuple[float, float]]:
    """Refine the instrument and the calibration together by the residual of refits.

    The fitted species (all their ions, and the fitted free ions) are rendered for each trial (instrument, calibration) on the
    rows where the fitted model stands out (at most :data:`INSTRUMENT_ROWS` of
    them, the strongest stretches spread over the m/z range: :func:`_representative`;
    only the ions reaching them), at the m/z where the trial
    calibration puts them (:func:`_trial_design`), and refitted (species and
    form weights) to the data as measured. A coordinate search then walks,
    twice with shrinking steps, the calibration offset at the centre of the
    signal and its slope (when the signal spans more than a 1.1 m/z ratio;
    first, so that a miscalibration is not blurred away by broader peaks),
    log R0, eta (<= 0.7) and tail (<= 2 FWHM) as ``shape`` allows and, in the second
    round, the exponent k of R(m) (more than 1.25), each by :func:`_line`.
    A peak's position is its centroid, and a tail moves its apex below it:
    each trial tail moves the calibration offset so that the apex stays where
    the fit without the tail put it (the residual's valley runs along that
    line; a search across it would never leave a Gaussian start). Shape
    parameters stay 0 unless they lower the residual by 0.5 % (``SHAPE_GAIN``),
    and with ``shape="auto"`` the fitted shape must then beat a Gaussian of the
    same width whose calibration and resolving power are walked again by as much.
    So must the calibration slope: a flat calibration (its offset walked again)
    replaces it unless the slope lowers the residual by ``SHAPE_GAIN``.

    The data compared are baseline-free (the morphological opening), or with
    ``raw`` as recorded, the piecewise-linear hats fitting the baseline (used
    once wings were found: the opening eats part of them). The calibration offset
    stays within ``calibration_range_ppm`` (it does not walk out of the range
    searched, where an isotope step's alias waits), for the peak's core or, with
    ``core_or_centroid``, its centroid (see ``top_lim``). With ``probe_wings``, wings
    are also stepped out from a Gaussian with R and the offset refitted at each step
    (``wing_probe``; not in a zoom of one envelope, whose width, wings and
    calibration trade: a Gaussian 4 m/z zoom took eta 0.15 and lost its one species).

    A wing rival that lost to a tail here is appended to ``rivals`` (instrument and
    calibration) when a list is given: the refits from the incumbent's forms, a few
    alternations each, favour the shape those forms were fitted with (an independent
    generator's pseudo-Voigt, eta 0.30, R 11,764, lost by 1.6 % to a 0.6 FWHM tail at
    R 15,100, 24 ppm off, and fitted the whole grid better, converged), and the caller
    compares them on the whole grid.

    Returns the instrument and the calibration (offset ppm, ppm per m/z).
    """
    fitted = state["fit"]
    n_ion = prob.idx.size
    sig = np.bincount(prob.group, weights=fitted.ion[:n_ion], minlength=len(prob.group_labels))
    on = sig > 1e-4 * max(float(sig.max(initial=0.0)), 1e-300)
    keep = on[prob.group]  # every ion of the fitted species (and the fitted free ions)
    if not keep.any():
        return instrument, cal
    sub = _own_columns(prob, keep, fitted.form)
    model = fitted.model
    top = max(float(model.max(initial=0.0)), 1e-300)
    # the rows where the fitted model stands above 0.5 % of its maximum (peaks,
    # valleys, wings and tails within envelopes; not the empty stretches between)
    near = _representative(model, design.mz, model > 5e-3 * top, INSTRUMENT_ROWS)
    rows = design.rows[near]
    if not near.all():
        # only the ions that reach those rows (peaks three times broader than now: the
        # trials' calibration and width move them by less than a FWHM)
        wide = dataclasses.replace(instrument, resolution=instrument.resolution / 3.0)
        reach = _ion_columns(sub, pats, g, wide, cal, rows)
        touched = np.asarray(abs(reach).sum(axis=0)).ravel() > 0
        if touched.any():
            sub = _own_columns(sub, touched, sub.form_init)
    # with ``raw``, the data before the baseline opening (the hats fit the baseline):
    # the opening takes Lorentzian wings, which pile up between envelopes, for baseline
    y = np.asarray(g.intensity if raw else gy)[rows]
    strong = model > 0.05 * top
    centre = float(np.average(design.mz, weights=np.maximum(model, 0.0) + 1e-300))
    info_mz = float(np.exp(np.average(np.log(design.mz), weights=model**2 + 1e-300)))
    span = float(design.mz[strong].max() / design.mz[strong].min()) if strong.any() else 1.0
    ins = (
        dataclasses.replace(instrument, reference_mz=centre)
        if instrument.exponent == 0
        else instrument
    )
    fixed_r, fixed_k = ins.resolution, ins.exponent  # held when not free_resolution
    # the calibration as (ppm at the centre, ppm per 1000 m/z)
    par = {"pc": cal[0] + cal[1] * centre, "pb": cal[1] * 1000.0}
    cache: dict[tuple[float, ...], float] = {}
    hats = _hats(g.mz, knot_mz)[rows]

    def rss(cand: Instrument, pc: float, pb: float) -> float:
        if not free_resolution:  # a given resolving power is held, whatever the shape
            cand = dataclasses.replace(cand, resolution=fixed_r, exponent=fixed_k)
        else:  # no peak narrower than the samples can show
            cand = _sampling_capped(cand, r_sampled)
        key = (cand.resolution, cand.eta, cand.tail, cand.exponent, pc, pb)
        hit = cache.get(key)
        if hit is None:
            b = pb / 1000.0
            d = _trial_design(sub, pats, g, cand, (pc - b * centre, b), knot_mz, rows, hats)
            hit = cache[key] = float(_fit_round(sub, d, y, sub.form_init, 4)["rss"])
        return hit

    def now() -> float:
        return rss(ins, par["pc"], par["pb"])

    def beats(val: float, ref: tuple[Instrument, float, float], gain: float) -> bool:
        """Whether a shape's residual ``val`` beats the reference's by ``gain`` (a share).

        Or, where noise fills most of the reference's residual, whether it takes away
        half of the misfit that shows (:func:`_misfit_share`) and pays for its
        parameters against the noise (a BIC: ln n noise variances each, two). A share
        of the whole residual says little there: a 0.8 FWHM tail at apex S/N 30 gained
        0.4 % of a residual that was all noise, and three families' 0.8 FWHM tail 5.9 %
        (their misfit 3.8 %), and both were read as Gaussians ~33 ppm below the
        centroids (R 11,300-11,400 for 15,000; the three families' x off by TV 0.68). A
        Gaussian spectrum's spurious 0.3 FWHM tail took 4.4 % of a residual that was
        half misfit (read as 26 %): a sixth of it.
        """
        ref_rss = rss(*ref)
        if val < (1.0 - gain) * ref_rss:
            return True
        b = ref[2] / 1000.0
        d = _trial_design(sub, pats, g, ref[0], (ref[1] - b * centre, b), knot_mz, rows, hats)
        misfit = _misfit_share(y - _fit_round(sub, d, y, sub.form_init, 4)["fit"].model, rows)
        floor = 2.0 * math.log(max(y.size, 2)) * (ref_rss - misfit) / max(y.size, 1)
        return ref_rss - val >= max(MISFIT_GAIN * misfit, floor)

    def along(name: str, x0: float, step: float, lo: float, hi: float) -> None:
        nonlocal ins
        base, pc, pb = ins, par["pc"], par["pb"]

        def trial(v: float) -> tuple[Instrument, float, float]:
            if name == "resolution":
                return dataclasses.replace(base, resolution=math.exp(v)), pc, pb
            if name in ("pc", "pb"):
                return base, (v if name == "pc" else pc), (v if name == "pb" else pb)
            cand = dataclasses.replace(base, **{name: v})
            move = 0.0
            if name == "exponent":
                # R held where the widths are best measured (the strongest peaks): R0 and
                # k trade along a valley elsewhere, and a walk in k at a fixed R0 crawled
                # (an Orbitrap's k = -0.5 over 900-2700 m/z read -0.03, with a phantom
                # hydride broadening the envelopes)
                cand = dataclasses.replace(
                    cand,
                    resolution=float(base.resolution_at(info_mz))
                    / float((info_mz / base.reference_mz) ** v),
                )
            if name == "tail":
                # keep the apex where it was and the peak's width (the valley runs
                # that way: a tail at a fixed core only widens the peak, so a tailed
                # start could never walk back to a Gaussian of the same width)
                cand = dataclasses.replace(
                    cand, resolution=base.resolution * _width(cand) / _width(base)
                )
                move = 1e6 * (
                    _mode(base) / float(base.resolution_at(centre))
                    - _mode(cand) / float(cand.resolution_at(centre))
                )
            return cand, float(np.clip(pc + move, -lim, top_lim(cand))), pb

        best = trial(_line(lambda v: rss(*trial(v)), x0, step, lo, hi))
        if name in ("eta", "tail") and getattr(base, name) == 0.0 and getattr(best[0], name) > 0:
            if rss(*best) > (1.0 - SHAPE_GAIN) * rss(base, pc, pb):
                return
        ins, par["pc"], par["pb"] = best

    log_lo, log_hi = math.log(2_000.0), math.log(r_max)
    fwhm_ppm = 1e6 / float(ins.resolution_at(centre))
    lim = calibration_range_ppm

    def top_lim(cand: Instrument) -> float:
        """The highest offset searched: the range, for the core or for the centroid.

        A tailed peak's position is its centroid, ``tail`` FWHM above its core; a
        generator or an instrument that puts the core at the true m/z (the apex
        convention) then reads ``tail`` FWHM high. Either convention is within the
        range: an IsoSpecPy generator's 0.9 FWHM tail at R 4,700 sat 190 ppm high in
        ours, and the hydride one isotope step away won at +60 ppm.
        """
        return lim + _centroid_shift_ppm(cand, centre) if core_or_centroid else lim

    par["pc"] = float(np.clip(par["pc"], -lim, top_lim(ins)))  # never beyond the range

    def offset_walk(step_pc: float) -> None:
        """The offset within +-30 ppm (and the range)."""
        along(
            "pc",
            par["pc"],
            step_pc,
            max(par["pc"] - 30.0, -lim),
            min(par["pc"] + 30.0, top_lim(ins)),
        )

    def calibration_walk(step_pc: float, step_pb: float) -> None:
        """The offset, then the slope if the signal spans one."""
        offset_walk(step_pc)
        if span > 1.1:
            along("pb", par["pb"], step_pb, -SLOPE_LIMIT, SLOPE_LIMIT)

    s_pc = max(0.5, 0.02 * fwhm_ppm)  # a simplex's scale: offset (ppm), log R
    s_lr = 0.02

    def profiled(prev: Instrument, pc: float, t: float) -> tuple[float, Instrument, float]:
        """Tail ``t`` mapped from ``prev`` at offset ``pc``, offset and log R fitted."""
        cand = dataclasses.replace(prev, tail=t)
        cand = dataclasses.replace(cand, resolution=prev.resolution * _width(cand) / _width(prev))
        pc += 1e6 * (
            _mode(prev) / float(prev.resolution_at(centre))
            - _mode(cand) / float(cand.resolution_at(centre))
        )
        lr0 = math.log(cand.resolution)

        def at(v: np.ndarray) -> tuple[Instrument, float]:
            lr = lr0 + v[1] * s_lr if free_resolution else lr0
            off = pc + v[0] * s_pc if calibrate else pc
            res = math.exp(float(np.clip(lr, log_lo, log_hi)))
            got = dataclasses.replace(cand, resolution=res)
            return got, float(np.clip(off, -lim, top_lim(got)))

        got, off = at(_simplex(lambda v: rss(*at(v), par["pb"]), 2, 30, 1e-4 * now()))
        return rss(got, off, par["pb"]), got, off

    def tail_probe() -> None:
        """The tail walked out (longer), the offset and R fitted again at each step.

        The tail's line (apex and width kept) is no valley far from the current
        tail: a Gaussian fitted to peaks with a 0.8 FWHM tail sits ~1.3 x broader
        and ~0.5 FWHM below their centroid (its composition adapted), and the
        line's first step (0.3 FWHM) fitted 4x worse than the Gaussian, so the
        walk never left it, whereas the true tail, R and calibration fitted 3x
        better. At a fixed tail the residual's valley in (offset, log R) is
        narrow and diagonal (+2 ppm against -3 % R doubled it; walks one
        coordinate at a time stall in it). So the tail steps through the longer
        tails of ``TAIL_PROBE``, each step mapped from the last by the line's rule (exact
        enough for short steps) and its offset and log R then fitted together by
        a simplex (Nelder-Mead), until a step does worse; the best replaces the
        current shape if it beats it by ``TAIL_GAIN``; between the steps, tail, offset
        and log R are fitted by one simplex from the best step.
        """
        nonlocal ins
        start, pb = now(), par["pb"]

        # the current tail's offset and R fitted the same way: the steps must beat the
        # shape as well fitted as they are (not the coordinate walk's stall)
        steps = [
            min((start, ins, par["pc"]), profiled(ins, par["pc"], ins.tail), key=lambda st: st[0])
        ]
        # the steps without wings (a tail stands in for no symmetric wing: pseudo-Voigt
        # peaks took a 0.37 FWHM tail when the steps kept eta 0.08 from a start before
        # the wings; tailed peaks took eta when the wings were walked first)
        prev = steps[0]
        if ins.eta > 0:
            prev = profiled(dataclasses.replace(ins, eta=0.0), par["pc"], ins.tail)
            steps.append(prev)
        for t in (t for t in TAIL_PROBE if t > ins.tail + 0.05):
            steps.append(profiled(prev[1], prev[2], t))
            if steps[-1][0] >= prev[0]:
                break
            prev = steps[-1]
        _, got, off = min(steps, key=lambda st: st[0])
        if got.tail > ins.tail:
            # the tail between the steps, with the offset and R: one simplex over all three
            def at3(v: np.ndarray) -> tuple[Instrument, float]:
                lr = math.log(got.resolution) + (v[1] * s_lr if free_resolution else 0.0)
                c3 = dataclasses.replace(
                    got,
                    resolution=math.exp(float(np.clip(lr, log_lo, log_hi))),
                    tail=float(np.clip(got.tail + 0.1 * v[2], 0.0, 2.0)),
                )
                return c3, float(
                    np.clip(off + (v[0] * s_pc if calibrate else 0.0), -lim, top_lim(c3))
                )

            cand, pc = at3(_simplex(lambda v: rss(*at3(v), pb), 3, 40, 1e-4 * start))
            steps.append((rss(cand, pc, pb), cand, pc))
        val, got, off = min(steps, key=lambda st: st[0])
        if got.tail > ins.tail and beats(val, (steps[0][1], steps[0][2], pb), TAIL_GAIN):
            ins, par["pc"] = got, off
        elif steps[0][1] is not ins:
            ins, par["pc"] = steps[0][1], steps[0][2]

    def wing_probe() -> None:
        """Wings stepped out (eta up), the offset and R fitted again at each step.

        Like :func:`tail_probe` for the Lorentzian share: where isotope peaks are
        barely resolved (about one isotope spacing per FWHM), wings and a narrower
        core trade, and a walk in eta at a fixed R never leaves the Gaussian.
        """
        nonlocal ins
        start, pb = now(), par["pb"]
        steps = [(start, ins, par["pc"])]
        prev = steps[0]
        for e in (e for e in ETA_PROBE if e > ins.eta + 0.05):
            cand = dataclasses.replace(prev[1], eta=e)
            steps.append(profiled(cand, prev[2], cand.tail))
            if steps[-1][0] >= prev[0]:
                break
            prev = steps[-1]
        val, got, off = min(steps, key=lambda st: st[0])
        if got.eta > ins.eta and beats(val, (ins, par["pc"], pb), SHAPE_GAIN):
            ins, par["pc"] = got, off

    step_pc = 0.0
    probed = False  # wings stepped out from a Gaussian (wing_probe)
    for rnd in range(2):
        fine = 0.5 if rnd else 1.0
        if calibrate:
            step_pc = max(0.5, 0.06 * fwhm_ppm) * fine
            calibration_walk(step_pc, 3.0 * fine)
        if free_resolution:
            along("resolution", math.log(ins.resolution), 0.12 * fine, log_lo, log_hi)
        if shape in ("auto", "pseudo-voigt"):
            along("eta", ins.eta, 0.15 * fine, 0.0, 0.7)
            if rnd == 0 and ins.tail == 0.0 and probe_wings:
                wing_probe()
                probed = True
        if shape in ("auto", "tailed"):
            along("tail", ins.tail, 0.3 * fine, 0.0, 2.0)
            if rnd == 0:
                tail_probe()
        if free_resolution and span > 1.25 and rnd == 1:
            # R0 and k trade along a valley: walked once more each, with a finer step (an
            # Orbitrap's R = 107,000 (2000 / m)^0.5 over 900-2700 m/z stopped at k -0.38, R
            # 8 % high at 2000, once the baseline under its peaks was cubic; now -0.47, +2 %)
            along("exponent", ins.exponent, 0.3, -1.5, 1.5)
            along("resolution", math.log(ins.resolution), 0.03, log_lo, log_hi)
            along("exponent", ins.exponent, 0.1, -1.5, 1.5)
    if shape == "auto" and (ins.eta > 0 or ins.tail > 0):
        # the Gaussian rival: the coordinate search reaches eta and tail before the
        # resolving power and calibration have settled, and a shape that helped on
        # the way can stay when a Gaussian of the same width, its calibration and R
        # walked again, fits as well (the demo's Gaussian peaks took eta 0.13 and a
        # 0.23 FWHM tail, and the tail's apex shift moved the calibration by 3 ppm)
        shaped, shaped_par, shaped_rss = ins, dict(par), now()
        apex = par["pc"] + 1e6 * _mode(ins) / float(ins.resolution_at(centre))
        par["pc"] = float(np.clip(apex, -lim, lim))  # the apex kept
        ins = dataclasses.replace(ins, eta=0.0, tail=0.0, resolution=ins.resolution / _width(ins))
        for _ in range(2):
            if calibrate:
                calibration_walk(step_pc, 1.5)
            if free_resolution:
                along("resolution", math.log(ins.resolution), 0.06, log_lo, log_hi)
                if span > 1.25:
                    along("exponent", ins.exponent, 0.3, -1.5, 1.5)
        # and fitted as the shapes were (a simplex over offset and log R), so that it
        # is not held back by the walks' stall in their diagonal valley; from the
        # apex and from the shape's centroid: a long tail can carry the offset out of
        # a wrong calibration basin that the Gaussian only leaves from there (the
        # demo's 1:10 spectrum started at -96 ppm, true +5: a 1.6 FWHM tail took it
        # to -10 and fitted 2x better than the Gaussian at -96, worse than one at +5)
        for rival in (profiled(ins, par["pc"], 0.0), profiled(ins, shaped_par["pc"], 0.0)):
            if rival[0] < now():
                ins, par["pc"] = rival[1], rival[2]
        gain = TAIL_GAIN if shaped.tail >= _MIN_PROBED else SHAPE_GAIN
        if beats(shaped_rss, (ins, par["pc"], par["pb"]), gain):
            ins, par = shaped, shaped_par
        elif shape == "auto" and probe_wings and not probed:
            # a tailed search that ends Gaussian never stepped wings out (the probe
            # runs from a Gaussian, and the wing rival below from a tail): a
            # pseudo-Voigt (eta 0.3) 300 m/z window read Gaussian so, once its data
            # were no longer averaged in pairs here and there (fit.decimate)
            wing_probe()
    if shape == "auto" and ins.tail > 0 and calibrate:
        # the wing rival: a search that starts tailed walks eta at that tail and stalls
        # (a pseudo-Voigt (eta 0.3) 300 m/z window fitted without a baseline opening
        # took a 0.45 FWHM tail, eta 0.03, R 18,000 and +9 ppm for R 15,000 and 0):
        # wings without a tail, as wide as the tailed peak and with its apex, eta,
        # offset and log R fitted by one simplex, replace the tail where they fit better
        tailed_rss = now()
        apex = par["pc"] + 1e6 * _mode(ins) / float(ins.resolution_at(centre))
        winged = dataclasses.replace(
            ins, tail=0.0, eta=0.3, resolution=ins.resolution / _width(ins)
        )
        lr_w = math.log(winged.resolution)
        # the offset stays near the apex: the rival is a shape, not another calibration
        # basin (an Au25(p-MBA)18 6- ladder's rival walked an isotope step, 130 ppm, to
        # the hydride at the range's end)
        apex_room = 0.3 * fwhm_ppm

        def at_w(v: np.ndarray) -> tuple[Instrument, float]:
            lr = lr_w + (v[1] * s_lr if free_resolution else 0.0)
            return dataclasses.replace(
                winged,
                resolution=math.exp(float(np.clip(lr, log_lo, log_hi))),
                eta=float(np.clip(0.3 + 0.1 * v[2], 0.0, 0.7)),
            ), float(np.clip(apex + np.clip(v[0] * s_pc, -apex_room, apex_room), -lim, lim))

        cand, pc = at_w(_simplex(lambda v: rss(*at_w(v), par["pb"]), 3, 80, 1e-5 * tailed_rss))
        if rss(cand, pc, par["pb"]) < tailed_rss:
            ins, par["pc"] = cand, pc
        elif rivals is not None:
            b = par["pb"] / 1000.0
            if not free_resolution:
                cand = dataclasses.replace(cand, resolution=fixed_r, exponent=fixed_k)
            else:  # as ``rss`` scored it
                cand = _sampling_capped(cand, r_sampled)
            rivals.append((cand, (pc - b * centre, b)))
    # shape parameters that hardly pay for themselves go back to 0
    for name in ("eta", "tail"):
        v = getattr(ins, name)
        if 0.0 < v < 0.05:
            zero = dataclasses.replace(ins, **{name: 0.0})
            if rss(zero, par["pc"], par["pb"]) <= (1.0 + SHAPE_GAIN) * now():
                ins = zero
    if calibrate and par["pb"] != 0.0:
        # so does the slope: over ions spanning a few hundred m/z it is hardly
        # determined, and one fitted to noise moves the offset read elsewhere (the
        # demo's 30:1 spectrum: +6.5 ppm per 1000 m/z over 2018-2298, +3.6 ppm at
        # the median m/z against a true flat +5)
        sloped, sloped_rss = dict(par), now()
        par["pb"] = 0.0
        offset_walk(step_pc)
        if sloped_rss < (1.0 - SHAPE_GAIN) * now():
            par = sloped
    if not free_resolution:
        ins = dataclasses.replace(ins, resolution=fixed_r, exponent=fixed_k)
    else:
        ins = _sampling_capped(ins, r_sampled)
    b = par["pb"] / 1000.0
    return ins, (par["pc"] - b * centre, b)
