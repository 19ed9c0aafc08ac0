"""The design of the joint fit: rendered isotope columns on the decimated grid, the
baseline basis (cubic B-splines, straight hats in windows under three knot spacings), the
calibrated read of the data, and one fit round (step 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._parallel import pmap, threads
from ..fit import (
    Instrument,
    SymmetricPairs,
    fit_structured,
    render,
)
from .candidates import _Problem

EDGE_SHARE = 0.1  # at most this share of the window left out at each end (see _build_design)

if TYPE_CHECKING:
    from ...chem.isotopes import Pattern

__all__: list[str] = []


@dataclass(frozen=True, slots=True)
class _Design:
    """Ion columns and baseline hats rendered once on the rows of the grid they cover."""

    matrix: Any  # csc, rows x (ions + hats)
    hess: Any  # csr, matrix' matrix
    rows: np.ndarray  # grid rows covered by the ions
    n_ion: int
    hats: Any  # csc, full grid x hats
    mz: np.ndarray  # grid m/z of the rows
    columns: dict[bytes, tuple[Any, Any]] = field(default_factory=dict)  # per problem (cache)

    def restricted(self, col: np.ndarray) -> tuple[Any, Any]:
        """Design and Gram matrix (as pairs) of the ion columns ``col`` plus every baseline hat."""
        key = col.tobytes()
        hit = self.columns.get(key)
        if hit is None:
            n_h = self.matrix.shape[1] - self.n_ion
            if col.size == self.n_ion and np.array_equal(col, np.arange(self.n_ion)):
                # every column (a trial design of the instrument search): no copies
                hit = self.columns[key] = (self.matrix, SymmetricPairs(self.hess))
            else:
                idx = np.concatenate([col, self.n_ion + np.arange(n_h)])
                hit = self.columns[key] = (
                    self.matrix[:, idx],
                    SymmetricPairs(self.hess[idx][:, idx]),
                )
        return hit


def _build_design(
    prob: _Problem,
    pats: list[Pattern],
    g: Any,
    instrument: Instrument,
    knot_mz: float,
    rows: np.ndarray | None = None,
    margin_ppm: float = 0.0,
) -> _Design:
    """Render the problem's ions with ``instrument`` (and the baseline hats) on ``g``.

    The design keeps the grid rows some ion reaches, widened by ``margin_ppm`` on
    each side (the calibrations searched: data read on a shifted axis must stay on
    rows, else a sharp peak moved off its column leaves the residual it should
    raise, and a calibration 100 ppm off looked better than the right one on a
    spectrum led by single-peak complexes), or the given ``rows`` (the instrument
    search compares trial shapes on one fixed set of rows).
    """
    from scipy import sparse

    # analytic scale (unit area over the whole peak), not a unit integral on the grid:
    # an ion whose envelope the window's edge cuts keeps the scale of its uncut
    # siblings, so species x forms still describes it (normalised on the grid, the
    # 7- ions of an Au-rich family cut at 1800 m/z were inflated by the share cut
    # off, and the fit moved x to make up for it: TV 0.19 on noise-free data)
    ion_design = render([pats[i] for i in prob.idx], g.mz, instrument, normalize=False)
    if rows is None:
        hit = np.bincount(ion_design.indices, minlength=g.mz.size) > 0
        if margin_ppm > 0 and g.mz.size > 1:
            from scipy.ndimage import binary_dilation

            step = float(np.median(np.diff(np.log(g.mz))))  # the grid is log-uniform
            k = int(np.ceil(margin_ppm * 1e-6 / step)) if step > 0 else 0
            if k:
                hit = binary_dilation(hit, np.ones(2 * k + 1, dtype=bool))
            # and no row whose read may fall off the data: beyond the ends a read
            # returns the end value, not the signal there (a zoomed export cut
            # through its envelope then prefers the calibration that keeps the reads
            # inside over the true one, by up to a 100-fold chi-square); at most a
            # tenth of the window on each side (a digitised panel of a dozen points
            # keeps its envelope)
            inside = _readable(g.mz, margin_ppm)
            if inside.any():
                hit &= inside
        rows = np.flatnonzero(hit)
    hats = _hats(g.mz, knot_mz)
    matrix = sparse.hstack([ion_design, hats], format="csc")[rows]
    return _Design(matrix, _gram(matrix), rows, prob.idx.size, hats, g.mz[rows])


def _readable(mz: np.ndarray, margin_ppm: float) -> np.ndarray:
    """Grid rows a calibrated read stays on at every offset within ``margin_ppm``.

    The ends left out are ``margin_ppm`` each, at most :data:`EDGE_SHARE` of the
    window (see :func:`_build_design`); all rows without a margin.
    """
    if mz.size < 2 or margin_ppm <= 0:
        return np.ones(mz.size, dtype=bool)
    edge = 1e-6 * min(margin_ppm, EDGE_SHARE * 1e6 * float(mz[-1] - mz[0]) / float(mz[-1]))
    return np.asarray((mz >= mz[0] * (1.0 + edge)) & (mz <= mz[-1] * (1.0 - edge)))


def _gram(matrix: Any) -> Any:
    """``matrix' matrix`` (CSR) as the sum over row slabs, the slabs on threads."""
    m = matrix.tocsr()
    n = max(1, min(threads(), m.shape[0] // 1000))
    cuts = np.linspace(0, m.shape[0], n + 1).astype(int)
    parts = pmap(lambda k: m[cuts[k] : cuts[k + 1]].T @ m[cuts[k] : cuts[k + 1]], range(n))
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total.tocsr()


def _calibrated(
    mz_grid: np.ndarray, gy: np.ndarray, a: float, b: float, at: np.ndarray
) -> np.ndarray:
    """Data read where a true m/z ``at`` is observed: ``at (1 + (a + b at) 1e-6)``.

    Cubic (Catmull-Rom) interpolation: at 3 points per FWHM, linear
    interpolation between samples flattens a peak's apex by ~10 % where it
    falls between two of them, which biases both the calibration and the
    resolving power fitted through it.
    """
    return _cubic(mz_grid, gy, at * (1.0 + 1e-6 * (a + b * at)))


def _read_deficit(mz_grid: np.ndarray, a: float, b: float, at: np.ndarray) -> float:
    """Noise variance the reads of :func:`_calibrated` lose, in units of the noise variance.

    A Catmull-Rom read between two samples averages four noisy ones: its noise
    variance is ``sum(w_k^2)`` of the data's (0.64 half-way). A residual of data
    read on a shifted axis is smaller by ``noise^2 * sum(1 - gain)`` than one of
    data read on their samples, whatever the model: comparing calibrations by raw
    residuals prefers those that put the reads between samples. At 3 points per
    FWHM that moved the demo's calibration by +5 ppm (rss over the offset: the
    model's bowl at +5 plus this term, lowest half a sample away, 16 ppm). Adding
    it back makes residuals of different calibrations compare.
    """
    pos = at * (1.0 + 1e-6 * (a + b * at))
    n = mz_grid.size
    if n < 2:
        return 0.0
    i = np.clip(np.searchsorted(mz_grid, pos, side="right") - 1, 0, n - 2)
    t = np.clip((pos - mz_grid[i]) / (mz_grid[i + 1] - mz_grid[i]), 0.0, 1.0)
    t2 = t * t
    t3 = t2 * t
    gain = (
        (0.5 * (-t3 + 2.0 * t2 - t)) ** 2
        + (0.5 * (3.0 * t3 - 5.0 * t2 + 2.0)) ** 2
        + (0.5 * (-3.0 * t3 + 4.0 * t2 + t)) ** 2
        + (0.5 * (t3 - t2)) ** 2
    )
    return float(np.sum(1.0 - gain))


_CUBIC_CACHE: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...] = ()


def _cubic_coefficients(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-interval cubic coefficients of the Catmull-Rom spline of ``y(x)``, and ``0..n-1``.

    Column ``i`` holds, for ``t`` in ``[x_i, x_{i+1}]`` scaled to [0, 1], ``y_i``,
    ``m_1``, ``c_2``, ``c_3`` of ``y_i + t (m_1 + t (c_2 + t c_3))`` and ``1 / h``
    (one contiguous row per coefficient: a read gathers each with one ``take``).
    A search reads the same data (the decimated, baseline-free spectrum) on
    hundreds of trial axes: the last two (x, y) pairs are kept (by identity;
    callers never change the arrays in place), so a read costs one search and
    one gather instead of a dozen gathers.
    """
    global _CUBIC_CACHE
    for cx, cy, c, ar in _CUBIC_CACHE:
        if cx is x and cy is y:
            return c, ar
    n = x.size
    # tangents (dy/dx) at every sample: central differences, one-sided at the ends,
    # so the first and last intervals are interpolated too (clamped to their inner
    # neighbour, a window's edge that cuts a peak read one sample off: a jump the
    # size of the peak's slope at any calibration that moves the edge inwards)
    tan = np.empty(n)
    tan[1:-1] = (y[2:] - y[:-2]) / (x[2:] - x[:-2])
    tan[0] = (y[1] - y[0]) / (x[1] - x[0])
    tan[-1] = (y[-1] - y[-2]) / (x[-1] - x[-2])
    i = np.arange(n - 1)
    h = x[i + 1] - x[i]
    m1 = tan[i] * h
    m2 = tan[i + 1] * h
    d = y[i + 1] - y[i]
    c = np.zeros((5, n))
    c[0, i] = y[i]
    c[1, i] = m1
    c[2, i] = 3.0 * d - 2.0 * m1 - m2
    c[3, i] = m1 + m2 - 2.0 * d
    c[4, i] = 1.0 / h
    ar = np.arange(n, dtype=float)
    _CUBIC_CACHE = ((x, y, c, ar), *_CUBIC_CACHE[:1])
    return c, ar


def _cubic(x: np.ndarray, y: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Catmull-Rom interpolation of ``y(x)`` at ``at`` (``x`` ascending; clamped at the ends)."""
    n = x.size
    if n < 3:
        return np.interp(at, x, y)
    c, ar = _cubic_coefficients(x, y)
    # the interval of each point: the integer part of its fractional index (np.interp
    # searches sorted queries faster than np.searchsorted)
    i = np.interp(at, x, ar).astype(np.intp)
    np.clip(i, 0, n - 2, out=i)
    # Horner's rule in place, each coefficient gathered from its own row
    t = np.take(x, i)
    np.subtract(at, t, out=t)
    t *= np.take(c[4], i)
    np.clip(t, 0.0, 1.0, out=t)
    out = np.take(c[3], i)
    for k in (2, 1, 0):
        out *= t
        out += np.take(c[k], i)
    # outside the grid: the end values (like np.interp)
    out[at <= x[0]] = y[0]
    out[at >= x[-1]] = y[-1]
    return np.asarray(out)


def _extended(prob: _Problem, design: _Design) -> tuple[np.ndarray, np.ndarray]:
    """Group and form index of every column of ``design.restricted(prob.col)``.

    The baseline hats follow the ions as free columns (one group each, no form).
    """
    n_h = design.matrix.shape[1] - design.n_ion
    n_g = len(prob.group_labels)
    group_ext = np.concatenate([prob.group, n_g + np.arange(n_h)])
    form_ext = np.concatenate([prob.form, np.full(n_h, -1)])
    return group_ext, form_ext


def _form_factor(form: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each column's form weight (1 for free columns, ``form < 0``)."""
    return np.where(form >= 0, weights[np.maximum(form, 0)], 1.0)


def _fit_round(
    prob: _Problem,
    design: _Design,
    y: np.ndarray,
    form_init: np.ndarray,
    iterations: int,
    group_init: np.ndarray | None = None,
    tol: float = 0.0,
) -> dict[str, Any]:
    """Structured fit of the problem's columns (plus the baseline hats) to ``y``.

    ``iterations`` alternations, or (``tol > 0``) at most that many until a
    step lowers the residual by less than ``tol`` times it.
    """
    mat, hess = design.restricted(prob.col)
    n_g = len(prob.group_labels)
    group_ext, form_ext = _extended(prob, design)
    fitted = fit_structured(
        mat,
        y,
        group=group_ext,
        form=form_ext,
        form_family=prob.form_family,
        form_init=form_init,
        iterations=iterations,
        cross=(hess, np.asarray(mat.T @ y)),
        group_init=group_init,
        tol=tol,
    )
    return {
        "fit": fitted,
        "design": mat,
        "y": y,
        "n": (n_g, prob.idx.size),
        "group_ext": group_ext,
        "form_ext": form_ext,
        "rss": fitted.rss,
        "hat_coef": fitted.group[n_g:],
    }


def _free_forms(prob: _Problem, design: _Design, y: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Starting form weights read off the data, each ion on its own.

    The structured fit (species x forms) alternates two non-negative steps, and a
    start far from the data can hold it in a local minimum: a Na+ form whose
    weight reaches 0 never comes back, as no species step can use it. A zoom of one
    ``[Au22Ag3(SR)18-4H]5-`` envelope, started from the preset's Na+ guess (most
    at 1 Na+, whose rung lies half outside the window), went to x = 4 with 4 Na+
    (the comb one isotope step away) at 10 times the residual of the true ion. Each
    ion's height is read by its own column (the least-squares height it would have
    alone, clipped at 0: a matched filter, as cheap as one product with the data;
    a free non-negative fit of every ion at once took minutes on a wide window),
    each form's weight is the summed height of its ions, every family's weights are
    normalised to 1 with ``floor`` of the largest kept (no form starts out of
    reach); a family without signal keeps ``prob.form_init``.
    """
    mat, _ = design.restricted(prob.col)
    _, form_ext = _extended(prob, design)
    dty = np.asarray(mat.T @ y).ravel()
    norm = np.asarray(mat.multiply(mat).sum(axis=0)).ravel()
    coef = np.where(norm > 0, np.maximum(dty, 0.0) / np.where(norm > 0, norm, 1.0), 0.0)
    on = form_ext >= 0
    w = np.bincount(form_ext[on], weights=coef[on], minlength=prob.form_family.size)
    out = np.asarray(prob.form_init, dtype=float).copy()
    for fam in np.unique(prob.form_family):
        sel = prob.form_family == fam
        total = float(w[sel].sum())
        if total > 0:
            v = np.maximum(w[sel], floor * float(w[sel].max()))
            out[sel] = v / v.sum()
    return out


def _fit_started(
    prob: _Problem,
    design: _Design,
    y: np.ndarray,
    form_init: np.ndarray,
    iterations: int,
    tol: float = 0.0,
) -> dict[str, Any]:
    """:func:`_fit_round` from ``form_init`` and from :func:`_free_forms`: the lower residual."""
    a = _fit_round(prob, design, y, form_init, iterations, tol=tol)
    b = _fit_round(prob, design, y, _free_forms(prob, design, y), iterations, tol=tol)
    return b if b["rss"] < a["rss"] else a


CUBIC_MIN_INTERVALS = 3
"""Windows spanning at least this many knot spacings get a cubic B-spline baseline (see
:func:`_hats`); narrower ones straight hats."""


def _hats(mz: np.ndarray, spacing: float) -> Any:
    """Baseline basis: piecewise-linear hats with knots every ``spacing`` m/z (one column
    per knot), or cubic B-splines on knots as far apart where the window spans three
    spacings or more.

    Both are non-negative, so non-negative coefficients give a non-negative baseline.
    Cubic pieces follow a curved baseline that straight ones cut across (a chemical
    baseline decaying e-fold over 30 m/z under a 120 m/z window of M44S27 3- ions:
    straight pieces 50 m/z long missed it by up to 0.017 of the tallest peak, and a
    near-isobaric family with a broad Na+ ladder filled the misfit), with the same
    reach (no piece narrower than ``spacing``); a narrower window keeps straight
    pieces, as a cubic over one envelope could take its shape.
    """
    from scipy import sparse

    width = float(mz[-1] - mz[0])
    n_int = math.ceil(width / spacing) if width > 0 else 0
    if n_int >= CUBIC_MIN_INTERVALS:
        from scipy.interpolate import BSpline

        h = width / n_int
        knots = mz[0] + h * np.arange(-3, n_int + 4)
        x = np.clip(mz, knots[3], knots[-4])
        return sparse.csc_matrix(BSpline.design_matrix(x, knots, 3))
    pos = (mz - mz[0]) / spacing
    k = np.floor(pos).astype(np.intp)
    t = pos - k
    n = int(k.max()) + 2
    rows = np.concatenate([np.arange(mz.size), np.arange(mz.size)])
    cols = np.concatenate([k, k + 1])
    vals = np.concatenate([1.0 - t, t])
    return sparse.csc_matrix((vals, (rows, cols)), shape=(mz.size, n))
