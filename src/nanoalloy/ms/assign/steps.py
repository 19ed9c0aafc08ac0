"""The steps of :func:`nanoalloy.assignment.assign` (private).

Contents
--------
_Problem, _library, _prune, _problem, _subset
    Candidate screening against the spectrum and the structured fit problem.
_Design, _build_design, _calibrated, _extended, _form_factor, _fit_round, _hats
    The design rendered once (ions + piecewise-linear baseline), data read on a
    corrected axis, one structured fit.
_coarse_calibration, _walk_offset, _refine_calibration, _parabola
    m/z calibration: offset x slope screen, full-refit walks along the offset,
    then offset and slope refined together.
_window_shifts
    ppm errors per m/z window (reported before/after calibration).
_drop_redundant_families, _without, _orphans, _group_signal
    Model selection: families and detached species the others already explain,
    fragments without parents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ._parallel import pmap, threads
from .fit import BlockSolver, SymmetricPairs, _mixer, fit_structured, render, scan_shift
from .library import CandidateLibrary, Preset, enumerate_candidates, fragment_parents

if TYPE_CHECKING:
    from .isotopes import Pattern

__all__: list[str] = []

_PATTERN_CACHE: dict[Any, tuple[list[Pattern], np.ndarray, np.ndarray, np.ndarray]] = {}


@dataclass(frozen=True, slots=True)
class _Problem:
    """Candidates chosen for the fit and the structure tying them together."""

    idx: np.ndarray  # candidate indices into the library
    group: np.ndarray  # group of each ion
    form: np.ndarray  # form of each ion (-1: free)
    form_family: np.ndarray  # family index of each form
    form_init: np.ndarray
    group_labels: list[tuple[str, str, int]]  # (species, family, au) per group (free: ion name)
    free_group: np.ndarray  # bool per group
    col: np.ndarray  # design column of each ion
    parents: list[tuple[tuple[str, int], ...]]  # per group: parent species of a fragment
    observable: frozenset[tuple[str, int]]  # cluster species with an ion in the m/z range


def _library(preset: Preset) -> tuple[CandidateLibrary, list[Pattern], np.ndarray, np.ndarray]:
    """Full candidate library with patterns and the flattened main peaks (cached per preset)."""
    from .isotopes import batch_patterns

    lib = enumerate_candidates(preset)
    hit = _PATTERN_CACHE.get(preset)
    if hit is None:
        pats = batch_patterns(
            [c.ion.composition for c in lib.candidates],
            [c.charge for c in lib.candidates],
            min_probability=1e-5,
            coverage=0.999,
        )
        sizes = np.array([len(p) for p in pats])
        owner = np.repeat(np.arange(len(pats)), sizes)
        mz = np.concatenate([p.mz for p in pats])
        prob = np.concatenate([p.probability for p in pats])
        pmax = np.array([p.probability.max() for p in pats])
        main = prob >= 0.3 * pmax[owner]
        if len(_PATTERN_CACHE) > 4:
            _PATTERN_CACHE.clear()
        hit = _PATTERN_CACHE[preset] = (pats, owner[main], mz[main], pmax)
    pats, owner, main_mz, _ = hit
    return lib, pats, owner, main_mz


def _prune(
    lib: CandidateLibrary,
    owner: np.ndarray,
    main_mz: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    *,
    in_range: np.ndarray,
    threshold: float,
    tolerance_ppm: float,
    resolution: float,
    points_per_fwhm: float,
) -> np.ndarray:
    """Candidates whose main peaks all stand above ``threshold`` (within the tolerance)."""
    from scipy.ndimage import maximum_filter1d

    half = max(1, math.ceil(tolerance_ppm * 1e-6 * resolution * points_per_fwhm) + 1)
    ymax = maximum_filter1d(gy, 2 * half + 1, mode="nearest")
    pos = np.clip(np.searchsorted(gx, main_mz), 0, gx.size - 1)
    inside = (main_mz >= gx[0]) & (main_mz <= gx[-1])
    ok = (ymax[pos] >= threshold) & inside
    n = len(lib)
    bad = np.bincount(owner, weights=~ok, minlength=n)
    return (bad == 0) & in_range


NA_MEAN = 2.0  # starting Na+ mean of every family


def _prior(charge: int, na: int, halides: int, *, na_mean: float) -> float:
    """Starting weight of a form: Poisson in Na+, halved per halide, flat in charge."""
    return math.exp(na * math.log(na_mean) - math.lgamma(na + 1)) * 0.5**halides


def _problem(lib: CandidateLibrary, survive: np.ndarray, in_range: np.ndarray) -> _Problem:
    """Groups (species / free ions) and forms of the surviving candidates."""
    cands = lib.candidates
    species_ok: set[tuple[str, int]] = set()
    for i in np.flatnonzero(survive):
        c = cands[i]
        if c.kind == "cluster":
            species_ok.add((c.family, c.au))
    fam_names = [f.name for f in lib.preset.families]
    idx: list[int] = []
    group: list[int] = []
    form: list[int] = []
    groups: dict[tuple[str, str, int], int] = {}
    forms: dict[tuple[str, int, int, int], int] = {}
    form_count: list[float] = []
    free: list[bool] = []
    parents: list[tuple[tuple[str, int], ...]] = []
    observable: set[tuple[str, int]] = set()
    for i in np.flatnonzero(in_range):
        c = cands[i]
        if c.kind == "cluster":
            observable.add((c.family, c.au))
            if (c.family, c.au) not in species_ok:
                continue
            key = (c.species, c.family, c.au)
            fkey = (c.family, c.charge, c.na, c.halides)
            if fkey not in forms:
                forms[fkey] = len(forms)
                form_count.append(0.0)
            f = forms[fkey]
            form_count[f] += 1.0 if survive[i] else 0.0
        elif survive[i]:
            key = (str(c.ion), c.family, c.au)
            f = -1
        else:
            continue
        if key not in groups:
            groups[key] = len(groups)
            free.append(f < 0)
            parents.append(
                tuple(fragment_parents(lib.preset, c.au, c.ag, c.ligands, c.core_charge))
                if c.kind == "fragment"
                else ()
            )
        idx.append(int(i))
        group.append(groups[key])
        form.append(f)
    form_family = np.array([fam_names.index(k[0]) for k in forms], dtype=np.intp)
    init = np.array([_prior(*k[1:], na_mean=NA_MEAN) for k in forms])
    if init.size:
        fam_sum = np.bincount(form_family, weights=init)
        init = init / fam_sum[form_family]
    return _Problem(
        np.array(idx, dtype=np.intp),
        np.array(group, dtype=np.intp),
        np.array(form, dtype=np.intp),
        form_family,
        init,
        list(groups),
        np.array(free, dtype=bool),
        np.arange(len(idx), dtype=np.intp),
        parents,
        frozenset(observable),
    )


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
            idx = np.concatenate([col, self.n_ion + np.arange(n_h)])
            hit = self.columns[key] = (
                self.matrix[:, idx],
                SymmetricPairs(self.hess[idx][:, idx]),
            )
        return hit


def _build_design(
    prob: _Problem, pats: list[Pattern], g: Any, resolution: float, knot_mz: float
) -> _Design:
    from scipy import sparse

    ion_design = render([pats[i] for i in prob.idx], g.mz, resolution)
    rows = np.flatnonzero(np.bincount(ion_design.indices, minlength=g.mz.size))
    hats = _hats(g.mz, knot_mz)
    matrix = sparse.hstack([ion_design, hats], format="csc")[rows]
    return _Design(matrix, _gram(matrix), rows, prob.idx.size, hats, g.mz[rows])


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
    """Data read where a true m/z ``at`` is observed: ``at (1 + (a + b at) 1e-6)``."""
    return np.interp(at * (1.0 + 1e-6 * (a + b * at)), mz_grid, gy)


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
) -> dict[str, Any]:
    """Structured fit of the problem's columns (plus the baseline hats) to ``y``."""
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


def _parabola(values: np.ndarray, k: int, step: float) -> float:
    """Sub-step offset of the minimum at ``k`` from a parabola through its neighbours."""
    if not 0 < k < values.size - 1:
        return 0.0
    r0, r1, r2 = values[k - 1], values[k], values[k + 1]
    den = r0 - 2 * r1 + r2
    return float(np.clip(0.5 * (r0 - r2) / den, -1, 1)) * step if den > 0 else 0.0


def _coarse_calibration(
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
    mat, _ = design.restricted(prob.col)
    group_ext, form_ext = _extended(prob, design)
    mix = _mixer(group_ext, _form_factor(form_ext, prob.form_init), int(group_ext.max()) + 1)
    cols = (mat @ mix).tocsc()
    gram = (cols.T @ cols).toarray()
    solver = BlockSolver(gram)

    def axis(p: float, slope: float) -> np.ndarray:
        b = slope / 1000.0
        return _calibrated(g.mz, gy, p - b * centre, b, design.mz)

    screen = np.empty((len(slopes), trials.size))
    for i, slope in enumerate(slopes):
        ys = np.stack([axis(float(p), slope) for p in trials], axis=1)
        rhs = np.asarray(cols.T @ ys)
        x = solver.solve_many(rhs)
        screen[i] = (
            (ys * ys).sum(axis=0) - 2.0 * (x * rhs).sum(axis=0) + (x * (gram @ x)).sum(axis=0)
        )
    # the screen's best slope, and no slope: its fixed (starting) form weights
    # can blunt the screen (deep Na+ ladders), so full refits decide
    best_slope = int(np.argmin(screen.min(axis=1)))
    starts = {best_slope}
    if 0.0 in slopes:
        starts.add(slopes.index(0.0))
    results = [
        _walk_offset(prob, design, axis, trials, slopes[i], int(np.argmin(screen[i])))
        for i in sorted(starts)
    ]
    _, p, slope = min(results)
    return p - slope / 1000.0 * centre, slope / 1000.0


def _walk_offset(
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
    best grid point. Trials run on threads. :func:`assign` calls this in
    shrinking steps, refitting the forms in between.
    """
    centre = float(np.median(design.mz))
    pc, pb = a0 + b0 * centre, b0 * 1000.0  # ppm at the centre, ppm per 1000 m/z
    sa, sb = step

    def rss(point: tuple[float, float]) -> float:
        b = point[1] / 1000.0
        y = _calibrated(g.mz, gy, point[0] - b * centre, b, design.mz)
        return float(_fit_round(prob, design, y, form_w, iterations)["rss"])

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
        cand = (pc + float(du) * sa, pb + float(dw) * sb)
        if rss(cand) < best_val:
            best = cand
    b = best[1] / 1000.0
    return best[0] - b * centre, b


def _subset(prob: _Problem, keep: np.ndarray, form_weights: np.ndarray) -> _Problem:
    """The problem restricted to the ions in ``keep`` (groups and forms renumbered)."""
    groups, group = np.unique(prob.group[keep], return_inverse=True)
    has = prob.form[keep] >= 0
    forms, finv = np.unique(prob.form[keep][has], return_inverse=True)
    form = np.full(int(keep.sum()), -1, dtype=np.intp)
    form[has] = finv
    return _Problem(
        prob.idx[keep],
        group.astype(np.intp),
        form,
        prob.form_family[forms],
        form_weights[forms],
        [prob.group_labels[k] for k in groups],
        prob.free_group[groups],
        prob.col[keep],
        [prob.parents[k] for k in groups],
        prob.observable,
    )


def _orphans(prob: _Problem, signal: np.ndarray) -> np.ndarray:
    """Fragment groups none of whose parent species is there (per group, bool).

    A parent is there when it carries more than 1 % of its family's strongest
    species' ``signal``, or when none of its ions falls in the recorded m/z
    range (its absence cannot be seen). Without this, an in-source fragment of
    an absent species (M43(SR)28 + 2 Na, say) stands in for a true cluster ion
    that is isobaric to it (M44(SR)27: Au - SR = 2 (Na - H) within 2 mDa).
    """
    level: dict[tuple[str, int], float] = {}
    top: dict[str, float] = {}
    for k, lab in enumerate(prob.group_labels):
        if not prob.free_group[k]:
            level[(lab[1], lab[2])] = float(signal[k])
            top[lab[1]] = max(top.get(lab[1], 0.0), float(signal[k]))
    out = np.zeros(len(prob.group_labels), dtype=bool)
    for k, par in enumerate(prob.parents):
        if par and not any(
            p not in prob.observable or level.get(p, 0.0) > 0.01 * top.get(p[0], 0.0) for p in par
        ):
            out[k] = True
    return out


def _group_signal(prob: _Problem, state: dict[str, Any]) -> np.ndarray:
    """Fitted ion signal summed per group."""
    ion = state["fit"].ion[: prob.idx.size]
    return np.bincount(prob.group, weights=ion, minlength=len(prob.group_labels))


def _without(
    prob: _Problem, state: dict[str, Any], design: _Design, drop: np.ndarray
) -> tuple[_Problem, dict[str, Any], np.ndarray, float, float]:
    """Refit without the groups in ``drop`` (bool per group) and the fragments they orphan.

    Returns the trial problem and fit, the ions kept (bool per ion), the rise
    of the residual sum of squares, and the removed columns' own share of the
    model (the sum of squares of their fitted signal: what removing them could
    at most cost).
    """
    sig = _group_signal(prob, state)
    sig[drop] = 0.0
    keep = ~drop[prob.group] & ~_orphans(prob, sig)[prob.group]
    mine = np.flatnonzero(~keep)
    contrib = state["design"][:, mine] @ state["fit"].ion[mine]
    trial_prob = _subset(prob, keep, state["fit"].form)
    trial = _fit_round(trial_prob, design, state["y"], trial_prob.form_init, 6)
    return trial_prob, trial, keep, trial["rss"] - state["rss"], float(contrib @ contrib)


def _drop_redundant_families(
    prob: _Problem,
    state: dict[str, Any],
    design: _Design,
    tolerance: float,
) -> tuple[_Problem, dict[str, Any]]:
    """Backward elimination of cluster families that the others already explain.

    A family (weakest first, the strongest too, never the last) or the set of
    species detached from their family's contiguous x range is dropped when
    the refit without it raises the residual sum of squares by less than
    ``tolerance`` times its own share of the model (the sum of squares of its
    fitted signal), and a family's by less than four times the residual
    itself: the others then re-explain almost all of it. Fragments go with
    their parents (:func:`_orphans`), first those whose parents the fit left
    empty.
    """
    sig = _group_signal(prob, state)
    orphan = _orphans(prob, sig)
    if (sig[orphan] > 0).any():  # (empty ones may stay: they go with the trials below)
        prob = _subset(prob, ~orphan[prob.group], state["fit"].form)
        state = _fit_round(prob, design, state["y"], prob.form_init, 6)

    def family_of_groups(pr: _Problem) -> np.ndarray:
        """Family name of every cluster group, "" for free groups."""
        return np.array(
            [
                "" if free else lab[1]
                for lab, free in zip(pr.group_labels, pr.free_group, strict=True)
            ]
        )

    fams = family_of_groups(prob)
    sig = _group_signal(prob, state)
    signal = {f: float(sig[fams == f].sum()) for f in set(fams) - {""}}
    for fam in [f for f, v in sorted(signal.items(), key=lambda kv: kv[1]) if v > 0]:
        fams = family_of_groups(prob)
        if len(set(fams) - {""}) < 2:
            break  # never the last family
        trial_prob, trial, _, gain, own = _without(prob, state, design, fams == fam)
        # ... and the fit without it stays close: the residual grows at most
        # fourfold (10 % of a dominant family's signal is far more than any
        # residual: a true family's removal multiplied it by 15-240 on synthetic
        # data, a near-isobaric decoy's by 0.2-1.1)
        if gain < tolerance * own and gain < 4.0 * state["rss"]:
            prob, state = trial_prob, trial
    # species detached from their family's contiguous x distribution
    sig = _group_signal(prob, state)
    outlier = np.zeros(len(prob.group_labels), dtype=bool)
    for fam in {
        lab[1] for lab, free in zip(prob.group_labels, prob.free_group, strict=True) if not free
    }:
        ks = [
            k for k, lab in enumerate(prob.group_labels) if lab[1] == fam and not prob.free_group[k]
        ]
        by_x = {prob.group_labels[k][2]: sig[k] for k in ks}
        top = max(by_x.values(), default=0.0)
        if top <= 0:
            continue
        x0 = max(by_x, key=lambda x: by_x[x])
        lo = hi = x0
        while by_x.get(lo - 1, 0.0) > 0.01 * top:
            lo -= 1
        while by_x.get(hi + 1, 0.0) > 0.01 * top:
            hi += 1
        # everything outside the core (one step of margin) goes, fitted or not, so
        # that nothing detached re-emerges in the refit
        for k in ks:
            if not lo - 1 <= prob.group_labels[k][2] <= hi + 1:
                outlier[k] = True
    # a family's detached set holding a good part of all cluster signal is a second
    # mode of its distribution, not stray decoys: tested on its own, like a family
    total = float(sig[~prob.free_group].sum())
    major: list[np.ndarray] = []
    for fam in sorted({prob.group_labels[k][1] for k in np.flatnonzero(outlier)}):
        mask = outlier & np.array([lab[1] == fam for lab in prob.group_labels])
        if sig[mask].sum() >= 0.05 * total:
            major.append(mask)
            outlier &= ~mask
    # stray detached species are held to a stricter standard than whole families:
    # a family's x distribution is contiguous, so they must explain at least half
    # of their own signal that nothing else can
    tests = [(outlier, max(0.5, tolerance)), *((m, tolerance) for m in major)]
    for t in range(len(tests)):
        mask, threshold = tests[t]
        if not mask.any():
            continue
        trial_prob, trial, keep, gain, own = _without(prob, state, design, mask)
        if gain < threshold * own:
            kept = np.zeros(mask.size, dtype=bool)
            kept[prob.group[keep]] = True
            tests = [(m[kept], th) for m, th in tests]  # renumbered like the subset
            prob, state = trial_prob, trial
    return prob, state


def _hats(mz: np.ndarray, spacing: float) -> Any:
    """Piecewise-linear (hat) basis with knots every ``spacing`` m/z, one column per knot."""
    from scipy import sparse

    pos = (mz - mz[0]) / spacing
    k = np.floor(pos).astype(np.intp)
    t = pos - k
    n = int(k.max()) + 2
    rows = np.concatenate([np.arange(mz.size), np.arange(mz.size)])
    cols = np.concatenate([k, k + 1])
    vals = np.concatenate([1.0 - t, t])
    return sparse.csc_matrix((vals, (rows, cols)), shape=(mz.size, n))


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
