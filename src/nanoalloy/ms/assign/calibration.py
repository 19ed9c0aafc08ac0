"""Calibration of the m/z axis, ``ppm(m) = a + b m``: a coarse search over +-100 ppm by
converged whole-model fits, walks, joint refinement of offset and slope, and the per-window
shifts reported before/after (step 4).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._parallel import pmap
from ..fit import BlockSolver, _mixer, scan_shift
from .candidates import _Problem
from .design import (
    _calibrated,
    _Design,
    _extended,
    _fit_round,
    _fit_started,
    _form_factor,
    _read_deficit,
)

if TYPE_CHECKING:
    from ..library import CandidateLibrary

__all__: list[str] = []


def _parabola(values: np.ndarray, k: int, step: float) -> float:
    """Sub-step offset of the minimum at ``k`` from a parabola through its neighbours."""
    if not 0 < k < values.size - 1:
        return 0.0
    r0, r1, r2 = values[k - 1], values[k], values[k + 1]
    den = r0 - 2 * r1 + r2
    return float(np.clip(0.5 * (r0 - r2) / den, -1, 1)) * step if den > 0 else 0.0


SLOPE_MIN_RATIO = 1.1
"""A calibration slope is fitted only where the ions' rows span more than this m/z ratio
(the instrument fit's rule for the signal, :func:`~.instrument._fit_instrument`): over a
narrower window a slope within the range searched moves the ends by a fraction of a ppm,
below what the residual tells from noise, and one picked by noise left the reported
intercept (the ppm at m/z 0) anywhere from -107 to +67 ppm for a pure offset on 2.5-40 m/z
windows (a twelfth stranger's panels). There the slope is held at 0 and the offset alone
is fitted."""


def _slope_free(design_mz: np.ndarray) -> bool:
    """Whether the rows ``design_mz`` (ascending) span enough m/z to fit a slope."""
    return design_mz.size > 1 and float(design_mz[-1]) > SLOPE_MIN_RATIO * float(design_mz[0])


SIGNAL_SHARE = 0.05
"""Rows where a fit's model stands above this share of its maximum are its signal (the
span a calibration slope is read over, :func:`_signal_mz`)."""

SIGNAL_SLOPE_RATIO = 1.02
"""... and a slope is walked only where that signal spans more than this m/z ratio too
(besides the rows' :data:`SLOPE_MIN_RATIO`). One envelope (a ratio of ~1.002) cannot pin
one; a spread of alloys can: Au25-xAgx(PET)18- at x 1-9 (6,990-7,350 m/z, a ratio of
1.05) with -2.07 ppm per 1000 m/z read -1.99."""


def _signal_mz(design: _Design, fit: Any) -> np.ndarray:
    """The m/z of the rows of ``design`` where the fitted ``fit`` (a StructuredFit) stands
    above :data:`SIGNAL_SHARE` of its maximum (never empty: every row where nothing is
    fitted): the span that can pin a calibration slope.

    The design's rows are those every candidate ion reaches, fitted or not: over a
    2000-8000 m/z Orbitrap window holding [Au25(PET)18]- alone, the preset's other charge
    states spread them over 3,700-7,400, and the calibration walks read a slope of -1.3
    ppm per 1000 m/z off the one envelope (a twentieth stranger's panel A1), which moved
    the calibration at the window's median m/z (3,556) from +10.5 to +16.1 ppm. The
    ions' part of the model only: the baseline hats (the design's last columns) are no
    signal."""
    n_ion = fit.design.shape[1] - design.hats.shape[1]
    model = np.asarray(fit.design[:, :n_ion] @ fit.ion[:n_ion]).ravel()
    top = float(model.max(initial=0.0))
    if top <= 0:
        return np.asarray(design.mz)
    return np.asarray(design.mz[model > SIGNAL_SHARE * top])


def _slope_pinned(design: _Design, signal_mz: np.ndarray | None) -> bool:
    """Whether a calibration slope is walked: the design's rows span more than
    :data:`SLOPE_MIN_RATIO` and the signal ``signal_mz`` (when given) more than
    :data:`SIGNAL_SLOPE_RATIO`."""
    if not _slope_free(design.mz):
        return False
    return signal_mz is None or float(signal_mz[-1]) > SIGNAL_SLOPE_RATIO * float(signal_mz[0])


FINALIST_ITERATIONS = 200
FINALIST_TOL = 1e-5
"""The coarse grid's basins are compared on fits run this far (alternations, relative
step), from the forms and from the ions' own heights (:func:`~.design._fit_started`): the
grid's own fits (20 alternations, 1e-3) ranked an alias 108 ppm away first on an
Ag-rich 1800-3800 spectrum at -48 ppm (chi-square 1.33e6 against 1.47e6); run on, the
truth's basin fitted to 1.09e6 and the alias to 1.33e6."""


def _coarse_calibration(
    prob: _Problem,
    design: _Design,
    g: Any,
    gy: np.ndarray,
    *,
    span_ppm: float = 100.0,
    step_ppm: float = 10.0,
    walk_ppm: float = 4.0,
    n_basins: int = 3,
    noise: float = 1.0,
    prior_ppm: float = 40.0,
    centre_ppm: float = 0.0,
    limit_ppm: float = math.inf,
) -> tuple[float, float]:
    """Calibration offset (ppm, slope 0) minimising converged whole-spectrum fits.

    Every trial offset (within ``span_ppm`` of ``centre_ppm`` at the spectrum's centre, every
    ``step_ppm``) gets the full structured fit (species *and* form weights,
    from the starting weights each time, so no trial inherits another's
    basin), run to convergence (:func:`~nanoalloy.ms.fit.fit_structured`
    with a tolerance): a screen at fixed form weights is no guide, since a Na+
    ladder centred at 8 screened with one centred at 2 prefers a decoy
    calibration, and the residual over offsets has a minimum about every 75
    ppm (one Au/Ag swap against four Na+/H+ exchanges moves an Au44 cluster
    by 0.97 Da, ~1 isotope step, ~75 ppm), which only the whole model over
    every charge state and family tells apart. From each of the
    ``n_basins`` best local minima of the grid the offset is walked in
    ``walk_ppm`` steps (rounded to divide ``step_ppm``: the walk starts on
    the grid point and reuses the neighbouring grid fits; 5 ppm for the
    defaults) until it has fitted neighbours on both sides; a
    parabola through the three gives the sub-step minimum. Each such minimum is
    then fitted to convergence (:data:`FINALIST_ITERATIONS`), and the lowest
    chi-square (residual / ``noise``^2) plus a prior ``(offset / prior_ppm)^2``
    wins: where the data cannot tell two basins apart (one envelope in a
    narrow window, whose composition and calibration trade one for the
    other), the smaller correction does. The slope is left to the
    refinement.
    """
    trials = centre_ppm + np.arange(-span_ppm, span_ppm + 1e-9, step_ppm)
    # no trial or walk leaves +-limit_ppm (the range searched)
    trials = trials[np.abs(trials) <= limit_ppm + 1e-9]
    if not trials.size:
        trials = np.array([float(np.clip(centre_ppm, -limit_ppm, limit_ppm))])
    done: dict[float, float] = {}  # offset (rounded) -> residual: walks reuse grid fits

    def rss(p: float) -> float:
        key = round(p, 6)
        hit = done.get(key)
        if hit is None:
            y = _calibrated(g.mz, gy, p, 0.0, design.mz)
            hit = float(_fit_round(prob, design, y, prob.form_init, 20, tol=1e-3)["rss"])
            hit += noise**2 * _read_deficit(g.mz, p, 0.0, design.mz)  # see _read_deficit
            done[key] = hit
        return hit

    screen = np.array(pmap(rss, [float(t) for t in trials]))
    # the deepest local minima of the grid, each walked to its own minimum (a
    # basin can be narrower than the grid step: the best grid point need not lie
    # in the deepest basin)
    pad = np.r_[np.inf, screen, np.inf]
    local = np.flatnonzero((pad[1:-1] <= pad[:-2]) & (pad[1:-1] <= pad[2:]))
    # the walks' steps divide the grid step, so that a walk starts at its grid
    # point and reaches the neighbouring ones without refitting them
    walk_ppm = step_ppm / max(1, round(step_ppm / walk_ppm))
    finalists = []
    for k in local[np.argsort(screen[local])][:n_basins].tolist():
        walk = np.arange(trials[k] - step_ppm, trials[k] + step_ppm + 1e-9, walk_ppm)
        walk = walk[np.abs(walk) <= limit_ppm + 1e-9]
        finalists.append(_walk_offset(rss, walk, int(np.argmin(np.abs(walk - trials[k]))))[1])

    def settled(p: float) -> float:
        # the grid's fits stop at a loose tolerance from the same start, and the
        # alternating species x form fit can stall there in a local minimum: the
        # finalists are fitted to convergence, also from the ions' own heights
        y = _calibrated(g.mz, gy, p, 0.0, design.mz)
        fit = _fit_started(prob, design, y, prob.form_init, FINALIST_ITERATIONS, tol=FINALIST_TOL)
        return float(fit["rss"]) + noise**2 * _read_deficit(g.mz, p, 0.0, design.mz)

    # chi-square plus a Gaussian prior on the offset
    cost = [
        v / noise**2 + (p / prior_ppm) ** 2
        for p, v in zip(finalists, pmap(settled, finalists), strict=True)
    ]
    return (finalists[int(np.argmin(cost))] if finalists else 0.0), 0.0


def _walk_offset(
    rss: Any,
    trials: np.ndarray,
    k: int,
) -> tuple[float, float, float]:
    """Refits along the offset from trial ``k`` to a minimum with fitted neighbours.

    Returns (residual sum of squares, offset ppm, 0).
    """
    full: dict[int, float] = {}
    for _ in range(trials.size):
        todo = [j for j in (k - 1, k, k + 1) if 0 <= j < trials.size and j not in full]
        full.update(zip(todo, pmap(lambda j: rss(float(trials[j])), todo), strict=True))
        best = min(full, key=full.__getitem__)
        if best == k:
            break
        k = best
    curve = np.array([full.get(j, np.inf) for j in range(trials.size)])
    step = float(trials[1] - trials[0]) if trials.size > 1 else 1.0
    return full[k], float(trials[k]) + _parabola(curve, k, step), 0.0


def _screen_calibration(
    prob: _Problem,
    design: _Design,
    g: Any,
    gy: np.ndarray,
    *,
    span_ppm: float = 32.0,
    step_ppm: float = 4.0,
    slopes: tuple[float, ...] = (-8.0, -4.0, 0.0, 4.0, 8.0),
) -> tuple[float, float]:
    """Calibration (offset ppm, slope ppm per m/z) minimising whole-spectrum fits.

    Envelope centroids and isotope combs both count, so a miscalibration
    cannot be absorbed by near-isobaric reassignments (one Au/Ag swap against
    four Na+/H+ exchanges shifts the comb by ~18 ppm) as a local shift
    estimate can.

    Two stages: every trial (ppm at the spectrum's centre, within
    ``span_ppm``, times ppm per 1000 m/z in ``slopes``) first gets a
    species-only fit at the starting form weights (one Gram matrix, factorised
    once: a cheap screen); the slope matters here, since over a wide m/z range
    the ends pull an offset-only screen away from the middle. Then full
    structured refits (species *and* form weights, from the starting weights
    each time, so no trial inherits another's basin) walk along the offset at
    the screen's best slope (and at no slope) until the best full fit has a
    fitted neighbour on both sides; a parabola through the three gives the
    sub-step minimum, and the lower of the two walks wins.
    """
    centre = float(np.median(design.mz))
    trials = np.arange(-span_ppm, span_ppm + 1e-9, step_ppm)
    if not _slope_free(design.mz):
        slopes = (0.0,)
    mat, _ = design.restricted(prob.col)
    group_ext, form_ext = _extended(prob, design)
    mix = _mixer(group_ext, _form_factor(form_ext, prob.form_init), int(group_ext.max()) + 1)
    cols = (mat @ mix).tocsc()
    gram = (cols.T @ cols).toarray()
    solver = BlockSolver(gram)

    def axis(p: float, slope: float) -> np.ndarray:
        b = slope / 1000.0
        return _calibrated(g.mz, gy, p - b * centre, b, design.mz)

    def row(slope: float) -> np.ndarray:
        ys = np.stack([axis(float(p), slope) for p in trials], axis=1)
        rhs = np.asarray(cols.T @ ys)
        x = solver.solve_many(rhs)
        return np.asarray(
            (ys * ys).sum(axis=0) - 2.0 * (x * rhs).sum(axis=0) + (x * (gram @ x)).sum(axis=0)
        )

    screen = np.array(pmap(row, slopes))  # the slopes on threads
    # the screen's best slope, and no slope: its fixed (starting) form weights
    # can blunt the screen (deep Na+ ladders), so full refits decide
    best_slope = int(np.argmin(screen.min(axis=1)))
    starts = {best_slope}
    if 0.0 in slopes:
        starts.add(slopes.index(0.0))
    results = pmap(
        lambda i: _screen_walk(prob, design, axis, trials, slopes[i], int(np.argmin(screen[i]))),
        sorted(starts),
    )
    _, p, slope = min(results)
    return p - slope / 1000.0 * centre, slope / 1000.0


def _screen_walk(
    prob: _Problem,
    design: _Design,
    axis: Any,
    trials: np.ndarray,
    slope: float,
    k: int,
) -> tuple[float, float, float]:
    """Full refits along the offset from trial ``k`` to a minimum with fitted neighbours.

    Returns (residual sum of squares, offset ppm at the centre, slope).
    """
    full: dict[int, float] = {}

    def refit(j: int) -> float:
        return float(
            _fit_round(prob, design, axis(float(trials[j]), slope), prob.form_init, 3)["rss"]
        )

    for _ in range(trials.size):
        todo = [j for j in (k - 1, k, k + 1) if 0 <= j < trials.size and j not in full]
        full.update(zip(todo, pmap(refit, todo), strict=True))
        best = min(full, key=full.__getitem__)
        if best == k:
            break
        k = best
    curve = np.array([full.get(j, np.inf) for j in range(trials.size)])
    step = float(trials[1] - trials[0]) if trials.size > 1 else 1.0
    return full[k], float(trials[k]) + _parabola(curve, k, step), slope


def _refine_calibration(
    prob: _Problem,
    design: _Design,
    g: Any,
    gy: np.ndarray,
    a0: float,
    b0: float,
    *,
    step: tuple[float, float],
    form_w: np.ndarray,
    iterations: int = 2,
    limit_ppm: float = math.inf,
    noise: float = 0.0,
) -> tuple[float, float]:
    """Better (offset ppm, slope ppm per m/z) around ``(a0, b0)`` by full refits.

    Offset and slope are searched together: the residual is a narrow, tilted
    valley in the two (ions at the ends of the range pin the calibration there,
    while one Au/Ag swap against four Na+/H+ exchanges lets the clusters in
    between absorb part of an error), where one-at-a-time scans stall. The
    whole structured model (species *and* form weights, from ``form_w``) is
    refitted on a 3 x 3 grid of (ppm at the spectrum's centre, ppm per 1000
    m/z) spaced by ``step``; the result is the minimum of the quadratic through
    the nine (at most 1.5 steps away) when a refit there confirms it, else the
    best grid point (with ``step[1] == 0`` the offset alone: three refits and a
    parabola). Trials run on threads. :func:`assign` calls this in
    shrinking steps, refitting the forms in between. The offset at the centre
    stays within ``limit_ppm`` (the range the calibration was searched over: an
    isotope-step alias waits beyond it).
    """
    centre = float(np.median(design.mz))
    pc, pb = a0 + b0 * centre, b0 * 1000.0  # ppm at the centre, ppm per 1000 m/z
    sa, sb = step
    pc = float(np.clip(pc, -limit_ppm + sa, limit_ppm - sa)) if limit_ppm > sa else pc

    def rss(point: tuple[float, float]) -> float:
        b = point[1] / 1000.0
        a = point[0] - b * centre
        y = _calibrated(g.mz, gy, a, b, design.mz)
        lost = noise**2 * _read_deficit(g.mz, a, b, design.mz)
        return float(_fit_round(prob, design, y, form_w, iterations)["rss"]) + lost

    if sb == 0.0:  # the offset alone: three refits and a parabola
        line = [(pc + i * sa, pb) for i in (-1.0, 0.0, 1.0)]
        vals = np.array(pmap(rss, line))
        k = int(np.argmin(vals))
        best, best_val = line[k], float(vals[k])
        if k == 1:
            cand = (float(np.clip(pc + _parabola(vals, 1, sa), -limit_ppm, limit_ppm)), pb)
            if cand != best and rss(cand) < best_val:
                best = cand
        b = best[1] / 1000.0
        return best[0] - b * centre, b
    unit = np.array([(i, j) for i in (-1.0, 0.0, 1.0) for j in (-1.0, 0.0, 1.0)])
    pts = [(pc + i * sa, pb + j * sb) for i, j in unit]
    vals = np.array(pmap(rss, pts))
    k = int(np.argmin(vals))
    best, best_val = pts[k], float(vals[k])
    u, w = unit[:, 0], unit[:, 1]
    terms = np.column_stack([np.ones(9), u, w, u * u, u * w, w * w])
    c = np.linalg.lstsq(terms, vals, rcond=None)[0]
    hess = np.array([[2.0 * c[3], c[4]], [c[4], 2.0 * c[5]]])
    if np.all(np.linalg.eigvalsh(hess) > 0):
        du, dw = np.clip(np.linalg.solve(hess, -c[1:3]), -1.5, 1.5)
        cand = (float(np.clip(pc + float(du) * sa, -limit_ppm, limit_ppm)), pb + float(dw) * sb)
        if rss(cand) < best_val:
            best = cand
    b = best[1] / 1000.0
    return best[0] - b * centre, b


X_STEP_MAX_DA = 3.5
"""A family's x step (x + 1 in any of its ion forms) counts as a comb alias of an ion only
where some such form lies within this many Da of it (about three isotope steps): farther,
no calibration in the range searched brings its envelope near."""


def _x_step_da(lib: CandidateLibrary, i: int) -> float | None:
    """Mass change (Da, signed) from candidate ``i`` to the nearest ion of its family at x +- 1.

    The same charge, halide count and counter-ion kind; any Na+ (counter-ion) count. For an
    Au/Ag family the Au/Ag swap against four Na+/H+ exchanges (2.134 Da); for a ligand
    exchange whose two thiolates differ by about one Da (p-MBA against NTP, 0.995 Da: the
    comb of x + 1 sits ~1 ppm from an isotope step of x) or by about a Na+ rung (PET
    against SC6H13 with one Na+ more, 2.01 Da) the exchange itself. None where no such ion
    lies within :data:`X_STEP_MAX_DA`.
    """
    index, steps = _x_index(lib)
    if i in steps:
        return steps[i]
    c = lib.candidates[i]
    key = (c.family, c.ion.charge, c.halides, c.cation)
    m0 = c.ion.mz_monoisotopic * (abs(c.ion.charge) or 1)
    best: float | None = None
    for dx in (1, -1):
        for j in index.get((*key, c.x + dx), ()):
            cj = lib.candidates[j]
            d = cj.ion.mz_monoisotopic * (abs(cj.ion.charge) or 1) - m0
            if abs(d) <= X_STEP_MAX_DA and (best is None or abs(d) < abs(best)):
                best = d
    steps[i] = best
    return best


_XIndex = tuple[dict[tuple[Any, ...], list[int]], dict[int, float | None]]
_X_INDEX: dict[int, tuple[Any, _XIndex]] = {}


def _x_index(lib: CandidateLibrary) -> _XIndex:
    """The library's cluster ions by (family, charge, halides, counter-ion kind, x), and the
    x steps of :func:`_x_step_da` found so far (by candidate)."""
    hit = _X_INDEX.get(id(lib))
    if hit is not None and hit[0] is lib:
        return hit[1]
    index: dict[tuple[Any, ...], list[int]] = {}
    for j, c in enumerate(lib.candidates):
        if c.kind == "cluster":
            index.setdefault((c.family, c.ion.charge, c.halides, c.cation, c.x), []).append(j)
    _X_INDEX.clear()  # one library at a time (a process assigns with one preset)
    entry: _XIndex = (index, {})
    _X_INDEX[id(lib)] = (lib, entry)
    return entry


def _swap_ppm(
    prob: _Problem, state: dict[str, Any], lib: CandidateLibrary, pats: list[Any] | None
) -> tuple[float, float, float]:
    """ppm by which a family's x step (an Au/Ag swap against four Na+/H+ exchanges, a
    ligand exchange) moves the isotope comb, the ppm of one isotope step, and the ppm of
    one H atom (a hydride, or the H bookkeeping of a form: 1.00783 Da, 0.6 ppm from the
    isotope step of an Au25 ion, which at high signal-to-noise is thousands of chi-square
    units).

    The monoisotopic mass changes by the x step's ``d`` (:func:`_x_step_da`: for an Au/Ag
    family ``m(Au) - m(Ag) - 4 (m(Na) - m(H))``, 2.134 Da, about two isotope peaks;
    for Ag44(p-MBA)30-x(NTP)x 0.995 Da, about one): what is left is where the moved
    comb sits against the fitted one. It is read off the isotope patterns of the
    fitted cluster ions (the peak of the moved pattern nearest to each one's
    apex; the aggregated peaks of Ag-rich clusters are ~1.000 Da apart, not the
    1.00336 of 13C), signal-weighted; ~0.13 Da, 12-14 ppm for an Au44 cluster, ~1 ppm
    for the NTP exchange. Where the library holds no x step near the ion the Au/Ag
    swap's is taken; without patterns, whole steps of 1.001 Da.
    """
    from ...chem.isotopes import monoisotopic_mass

    swap = (
        monoisotopic_mass({"Au": 1})
        - monoisotopic_mass({"Ag": 1})
        - 4 * (monoisotopic_mass({"Na": 1}) - monoisotopic_mass({"H": 1}))
    )
    ion = state["fit"].ion[: prob.idx.size]
    cl = np.flatnonzero(~prob.free_group[prob.group] & (ion > 0))
    if not cl.size:
        return 13.0, 100.0, 100.0
    ppm = np.empty(cl.size)
    iso = np.empty(cl.size)
    hyd = np.empty(cl.size)
    m_h = monoisotopic_mass({"H": 1})
    for n, k in enumerate(cl.tolist()):
        i = int(prob.idx[k])
        z = abs(lib.candidates[i].charge) or 1
        mass = z * float(lib.mz_average[i])
        iso[n] = 1e6 * 1.001 / mass
        hyd[n] = 1e6 * m_h / mass
        d = _x_step_da(lib, i)
        d = swap if d is None else d
        if pats is None or len(pats[i]) < 2:
            ppm[n] = 1e6 * abs(d - round(d / 1.001) * 1.001) / mass
            continue
        pat = pats[i]
        top = int(np.argmax(pat.probability))
        apex = float(pat.mz[top])
        moved = pat.mz - d / z
        j = int(np.argmin(np.abs(moved - apex)))
        ppm[n] = 1e6 * abs(apex - float(moved[j])) / apex
        nb = top + 1 if top + 1 < len(pat) else top - 1
        iso[n] = 1e6 * abs(float(pat.mz[nb]) - apex) / apex
    w = ion[cl]
    return (
        float(np.average(ppm, weights=w)),
        float(np.average(iso, weights=w)),
        float(np.average(hyd, weights=w)),
    )


WALK_STEPS = ((4.0, 4.0), (2.0, 2.0), (1.0, 1.0))
"""The shrinking 3 x 3 grids of :func:`_walk_calibration` by default (ppm at the centre, ppm
per 1000 m/z)."""


def _walk_calibration(
    prob: _Problem,
    design: _Design,
    g: Any,
    gy: np.ndarray,
    a: float,
    b: float,
    form_w: np.ndarray,
    *,
    steps: tuple[tuple[float, float], ...] = WALK_STEPS,
    limit_ppm: float = math.inf,
    noise: float = 0.0,
    signal_mz: np.ndarray | None = None,
) -> tuple[float, float, dict[str, Any]]:
    """Offset and slope walked together from ``(a, b)`` in shrinking 3 x 3 grids of full refits.

    Every species is free to change (a miscalibration is mended before the instrument is
    refined on the species it fitted); the forms are carried between rounds. The slope
    is walked only where :func:`_slope_pinned` (the design's rows and the signal
    ``signal_mz``, see :func:`_signal_mz`, span enough); elsewhere it is set to 0, the
    offset kept where the signal stands. Returns the calibration and the last fit at it.
    """
    state: dict[str, Any] = {}
    if not _slope_pinned(design, signal_mz):  # the offset alone (SLOPE_MIN_RATIO, SIGNAL_...)
        at = design.mz if signal_mz is None else signal_mz
        a, b = a + b * float(np.median(at)), 0.0
        steps = tuple((sa, 0.0) for sa, _ in steps)
    for step in steps:
        a, b = _refine_calibration(
            prob, design, g, gy, a, b, step=step, form_w=form_w, limit_ppm=limit_ppm, noise=noise
        )
        state = _fit_round(prob, design, _calibrated(g.mz, gy, a, b, design.mz), form_w, 3)
        form_w = state["fit"].form
    return a, b, state


PIVOT_MIN_SPAN_MZ = 300.0
"""Windows at least this wide (m/z) have their calibration's ends pivoted
(:func:`_pivot_calibration`); narrower ones hardly pin a slope."""


def _pivot_calibration(
    prob: _Problem,
    design: _Design,
    g: Any,
    gy: np.ndarray,
    a: float,
    b: float,
    form_w: np.ndarray,
    *,
    delta_ppm: float,
    limit_ppm: float = math.inf,
    noise: float = 0.0,
    signal_mz: np.ndarray | None = None,
) -> tuple[float, float, dict[str, Any]] | None:
    """A better calibration with one end of the range moved by an alias step (and its
    fit), or None.

    The coarse searches are flat (no slope), and the walks follow the residual from
    there: where the true slope moves the ends of a wide window by more than half of
    ``delta_ppm`` (the ppm by which an Au/Ag swap against four Na+/H+ exchanges moves
    the isotope comb, ~13 ppm for an Au44 cluster), one end settles in that alias,
    its species shifted by one swap, and the alternating species x form fit holds it
    there: the forms carried from the alias keep its Na+ ladders (a full window at
    -40 ppm with -4.6 ppm per 1000 m/z was read as -36 ppm with -1.7 ppm per 1000;
    fitted from the Na+ forms at the true calibration, its residual was 0.72 against
    1.97). So each end is moved with the other end held, fitted from
    the preset's Na+ forms (and the ions' own heights): half a step first (a 400-2600
    window with the same slope had its high end half-way, -7 ppm off, its species a
    mixture), the best of those a whole step too. The best, if it beats the calibration
    as it stands (fitted from its own forms and from the preset's), is walked
    (:func:`_walk_calibration`) and kept when it still does. Not where the signal
    (``signal_mz``, see :func:`_walk_calibration`) spans too little for a slope.
    """
    if not _slope_pinned(design, signal_mz):  # no slope here (see SLOPE_MIN_RATIO)
        return None
    lo, hi = float(design.mz[0]), float(design.mz[-1])
    centre = float(np.median(design.mz))

    def cost(c: tuple[float, float], forms: np.ndarray) -> tuple[float, dict[str, Any]]:
        y = _calibrated(g.mz, gy, c[0], c[1], design.mz)
        fit = _fit_started(prob, design, y, forms, 60, tol=1e-4)
        return float(fit["rss"]) + noise**2 * _read_deficit(g.mz, c[0], c[1], design.mz), fit

    def moved(m: tuple[float, float, float]) -> tuple[float, float]:
        """The calibration with end ``m[0]`` moved by ``m[2]`` ppm and end ``m[1]`` held."""
        end, held, ppm = m
        b2 = b + ppm / (end - held)
        return a + (b - b2) * held, b2

    def inside(m: tuple[float, float, float]) -> bool:
        a2, b2 = moved(m)
        return abs(a2 + b2 * centre) <= limit_ppm

    # half a step first, each end each way (an end can sit between the alias and the
    # truth, its species a mixture of both); the best of them then a whole step too
    half = [
        (end, held, sign * delta_ppm)
        for end, held in ((lo, hi), (hi, lo))
        for sign in (-0.5, 0.5)
        if inside((end, held, sign * delta_ppm))
    ]
    if not half:
        return None
    # the calibration as it stands, from its own forms and from the preset's, and the moves
    jobs = [((a, b), form_w), ((a, b), prob.form_init)]
    jobs += [(moved(m), prob.form_init) for m in half]
    done = pmap(lambda job: cost(*job), jobs)
    here = min(done[0][0], done[1][0])
    tried = dict(zip(half, done[2:], strict=True))
    end, held, ppm = min(tried, key=lambda m: tried[m][0])
    if tried[end, held, ppm][0] >= here:
        return None
    if inside((end, held, 2 * ppm)):
        tried[end, held, 2 * ppm] = cost(moved((end, held, 2 * ppm)), prob.form_init)
    best = min(tried, key=lambda m: tried[m][0])
    a2, b2, fit = _walk_calibration(
        prob,
        design,
        g,
        gy,
        *moved(best),
        tried[best][1]["fit"].form,
        limit_ppm=limit_ppm,
        noise=noise,
        signal_mz=signal_mz,
    )
    there, fit = cost((a2, b2), fit["fit"].form)
    return (a2, b2, fit) if there < here else None


def _window_shifts(
    design: Any,
    fitted: Any,
    group: np.ndarray,
    form: np.ndarray,
    mz: np.ndarray,
    y: np.ndarray,
    shift_grid: np.ndarray,
    noise: float,
) -> np.ndarray:
    """(centre m/z, ppm shift, weight) for every m/z window holding strong fitted signal."""

    model = fitted.model
    if model.size == 0 or model.max() <= 0:
        return np.zeros((0, 3))
    # windows: runs of rows whose model exceeds a small share of the maximum
    strong = model > max(0.02 * model.max(), 10 * noise)
    gaps = np.flatnonzero(np.diff(mz) > 2.0) + 1
    edges = np.unique(np.concatenate([[0], gaps, [mz.size]]))
    mix = _mixer(group, _form_factor(form, fitted.form), int(group.max()) + 1)
    cols = (design @ mix).tocsr()  # row slices below
    windows: list[tuple[slice, np.ndarray]] = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        # split long stretches into ~40 m/z windows
        start = lo
        while start < hi:
            stop = int(np.searchsorted(mz, mz[start] + 40.0, side="left"))
            stop = min(max(stop, start + 1), hi)
            if stop < hi and hi - stop < 0.25 * (stop - start):
                stop = hi
            sl = slice(start, stop)
            if strong[sl].sum() >= 10:
                live = np.flatnonzero(np.asarray(abs(cols[sl]).sum(axis=0)).ravel() > 0)
                if live.size:
                    windows.append((sl, live))
            start = stop

    def scan(win: tuple[slice, np.ndarray]) -> tuple[float, float, float]:
        sl, live = win
        s, w = scan_shift(cols[sl][:, live], mz[sl], y[sl], shifts_ppm=shift_grid)
        return float(np.average(mz[sl], weights=model[sl] + 1e-30)), s, w

    out = [r for r in pmap(scan, windows) if r[2] > 0]
    return np.array(out, dtype=float).reshape(-1, 3)


ALIAS_STEP_PPM = 2.0
"""Step of the single-envelope alias grid (the aliases sit ~13 ppm apart)."""


def _alias_calibration(
    prob: _Problem,
    design: _Design,
    g: Any,
    gy: np.ndarray,
    load: Any,
    *,
    noise: float,
    scale: float,
    limit_ppm: float,
    prior_ppm: float,
    adduct_weight: float,
) -> tuple[float, float, float, float]:
    """Calibration of a single-envelope window, chosen among its aliases by the priors.

    In a window holding one envelope (a zoomed export), the whole model explains
    the envelope at a calibration every ~13 ppm, each with another composition: x
    against x +- 1 with 4 Na+ fewer or more, one SR against 7 Na+ - 8 H+, one
    isotope step. The residual barely tells them apart (the envelopes differ by
    one Ag's isotope spread), the priors do: a converged fit every
    :data:`ALIAS_STEP_PPM` over +-``limit_ppm`` is scored by its chi-square
    against ``scale`` (the larger of the noise and the joint fit's residual per
    point, so that a misfit shared by all aliases does not outweigh the priors), the
    calibration's Gaussian prior (sd ``prior_ppm``) and the ``adducts`` prior
    (``adduct_weight`` per Na+ of the mean cluster ion, ``load(state)``); a
    parabola through the best point's neighbours gives the offset. Returns
    (offset ppm, slope 0, cost in chi-square units, the spread of the fits' mean
    Na+ counts over the grid); the refinement follows.
    """
    trials = np.arange(-limit_ppm, limit_ppm + 1e-9, ALIAS_STEP_PPM)

    def fit(p: float) -> tuple[float, float]:
        y = _calibrated(g.mz, gy, p, 0.0, design.mz)
        st = _fit_started(prob, design, y, prob.form_init, 20, tol=1e-3)
        return float(st["rss"]) + noise**2 * _read_deficit(g.mz, p, 0.0, design.mz), load(st)

    got = pmap(fit, [float(t) for t in trials])
    rss = np.array([r for r, _ in got])
    loads = np.array([a for _, a in got])
    cost = rss / scale**2 + (trials / prior_ppm) ** 2 + 2.0 * adduct_weight * loads
    # each basin's minimum between grid points: the grid step is a tenth of a comb's
    # width, enough to miss a minimum by a few chi-square units, which is what the
    # priors weigh. A fit at the vertex of a parabola through the basin's lowest point
    # and its neighbours; not the parabola's own value, which a steep and a flat
    # neighbour (a sharp bowl at high signal-to-noise) put thousands of units below
    # zero, and which then decided between families
    pad = np.r_[np.inf, cost, np.inf]
    local = np.flatnonzero((pad[1:-1] <= pad[:-2]) & (pad[1:-1] <= pad[2:]))
    # an end of the range searched is no basin (the cost still falls beyond it): a
    # hydride one isotope step away was fitted at +100 ppm, the end, for -26, whose
    # comb and envelope it repeats; ends count only where no basin lies inside
    inner = local[(local > 0) & (local < cost.size - 1)]
    local = inner if inner.size else local
    at = [float(trials[j]) + _parabola(cost, int(j), ALIAS_STEP_PPM) for j in local]
    refined = pmap(fit, at)
    bottoms = [
        min(
            float(cost[j]),
            r / scale**2 + (p / prior_ppm) ** 2 + 2.0 * adduct_weight * a,
        )
        for j, p, (r, a) in zip(local, at, refined, strict=True)
    ]
    k = int(np.argmin(bottoms))
    spread = float(loads.max() - loads.min())
    offset = at[k] if bottoms[k] < float(cost[local[k]]) else float(trials[local[k]])
    return offset, 0.0, bottoms[k], spread


OWN_AXIS_GAP = 3.0
"""A sampling step this many times the median step, with signal at either end, is a gap
(see :func:`_gappy`)."""
OWN_AXIS_SIGNAL = 0.1
"""... with signal: either end above this share of the tallest point."""
OWN_AXIS_SHARE = 0.05
"""Share of such gaps among the steps from which the calibration is searched on the
data's own axis."""
OWN_AXIS_MAX_POINTS = 20_000
"""Spectra with more points than this are never searched so (a recorded profile is dense)."""
OWN_AXIS_RANGE_PPM = 3.0
"""Calibration range (+-) of the pipeline run about each offset found on the data's own axis."""


def _gappy(mz: np.ndarray, y: np.ndarray) -> bool:
    """Whether calibrated reads between the samples ``(mz, y)`` fall into gaps.

    A digitised trace holds clusters of points on its peaks and none in the
    valleys between resolved isotope peaks (a published-style panel at R 40,000:
    79 points over 3 m/z, steps of 0.013 m/z on the peaks and 0.18 across the
    valleys). The pipeline's calibration reads the data at shifted positions
    (:func:`~.design._calibrated`); a read in such a gap interpolates across the
    valley the model has, so every offset but 0 fits worse than the data allow: a
    clean [Ag44(p-MBA)30]4- zoom at +38 ppm read "no clusters found", at 0 ppm
    R^2 0.995. A gap is a step :data:`OWN_AXIS_GAP` times the median one with
    signal at one of its ends (zeros left out between peaks, as reduced-profile
    exports do, are put back before: :func:`~nanoalloy.ms.spectrum.zero_filled`);
    evenly sampled data, however coarsely, have none.
    """
    if mz.size < 3 or mz.size > OWN_AXIS_MAX_POINTS:
        return False
    d = np.diff(mz)
    top = float(np.max(y))
    if top <= 0:
        return False
    loud = np.maximum(y[:-1], y[1:]) > OWN_AXIS_SIGNAL * top
    gaps = (d > OWN_AXIS_GAP * float(np.median(d))) & loud
    return bool(np.mean(gaps) >= OWN_AXIS_SHARE)


def _own_axis_offsets(
    prob: _Problem,
    pats: list[Any],
    mz: np.ndarray,
    y: np.ndarray,
    resolutions: list[float],
    *,
    range_ppm: float,
    knot_mz: float,
    noise: float,
    n_basins: int = 3,
    prior_ppm: float = 40.0,
    free_resolution: bool = True,
) -> list[tuple[float, float]]:
    """Calibration offsets (ppm) and resolving powers of the best basins, the model
    rendered on the samples.

    No read between samples: at each trial offset ``p`` the problem's ions (Gaussian
    peaks) are rendered where the samples' m/z ``mz / (1 + p 1e-6)`` put them, and
    fitted (structured, 20 alternations) to the data ``y`` as recorded. A grid of a
    quarter FWHM of the largest starting resolving power over +-``range_ppm``, each
    point at its best start; the ``n_basins`` deepest local minima (chi-square plus
    the prior ``(p / prior_ppm)^2`` of :func:`_coarse_calibration`) are refined twice
    in turn: the resolving power (within a factor 2, on its log), then the offset on a
    grid four times finer (a start a factor 2 off the true resolving power puts the
    offset a few ppm off: 7.5 ppm for 0 on a 4 m/z Ag44 panel at R 10,000; held where
    ``free_resolution`` is False). Best first.
    """
    from scipy.optimize import minimize_scalar

    from ..fit import Instrument
    from .design import _build_design

    rows = np.arange(mz.size)
    noise2 = max(noise, 1e-300) ** 2

    def cost(p: float, r: float) -> float:
        grid = SimpleNamespace(mz=mz / (1.0 + 1e-6 * p))
        d = _build_design(prob, pats, grid, Instrument(r), knot_mz, rows=rows)
        fit = _fit_round(prob, d, y, prob.form_init, 20, tol=1e-3)
        return float(fit["rss"]) / noise2 + (p / prior_ppm) ** 2

    def at_best_start(p: float) -> tuple[float, float]:
        return min((cost(p, r), r) for r in resolutions)

    step = 1e6 / max(resolutions) / 4.0
    trials = np.arange(-range_ppm, range_ppm + 1e-9, step)
    scanned = pmap(at_best_start, [float(t) for t in trials])
    coarse = np.array([c for c, _ in scanned])
    pad = np.r_[np.inf, coarse, np.inf]
    local = np.flatnonzero((pad[1:-1] <= pad[:-2]) & (pad[1:-1] <= pad[2:]))

    def refined(k: int) -> tuple[float, float, float]:
        p, r = float(trials[k]), scanned[k][1]
        c, width = scanned[k][0], step
        for _ in range(2):
            if free_resolution:
                got = minimize_scalar(
                    lambda v, p=p: cost(p, math.exp(v)),
                    bounds=(math.log(r / 2.0), math.log(r * 2.0)),
                    method="bounded",
                    options={"xatol": 0.005},
                )
                r = math.exp(float(got.x))
            fine = np.arange(p - width, p + width + 1e-9, width / 4.0)
            fine = fine[np.abs(fine) <= range_ppm + 1e-9]
            values = np.array([cost(float(t), r) for t in fine])
            j = int(np.argmin(values))
            p = float(fine[j]) + _parabola(values, j, width / 4.0)
            c = float(values[j])
            width /= 4.0
        return c, p, r

    found = pmap(refined, local[np.argsort(coarse[local])][:n_basins].tolist())
    return [(p, r) for _, p, r in sorted(found)]
