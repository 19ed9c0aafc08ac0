"""Building blocks of the joint fit: decimation, rendering, block NNLS, the structured model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import nnls

from nanoalloy.chem.isotopes import Pattern, aggregated_pattern
from nanoalloy.ms import composition as comp
from nanoalloy.ms.fit import (
    BlockSolver,
    cosine_pairs,
    decimate,
    fit_structured,
    nnls_blocks,
    render,
    scan_shift,
)


def test_decimate_preserves_integral() -> None:
    x = np.linspace(2000.0, 2010.0, 20_001)
    y = np.exp(-0.5 * ((x - 2005.0) / 0.04) ** 2)
    g = decimate(x, y, resolution=20_000, points_per_fwhm=4)
    assert g.mz.size < x.size / 5
    assert float(g.weight @ g.intensity) == pytest.approx(float(np.trapezoid(y, x)), rel=2e-3)
    assert g.index.size == x.size and g.index[-1] == g.mz.size - 1


def test_render_columns_integrate_to_one() -> None:
    pats = [
        aggregated_pattern({"Ag": 44, "C": 210, "H": 150, "O": 60, "S": 30}, -4),
        Pattern([2100.0, 2100.25], [0.5, 0.5], charge=-4),
        Pattern([9000.0], [1.0], charge=-1),  # outside the grid: empty column
    ]
    x = np.arange(2090.0, 2350.0, 0.01)
    a = render(pats, x, 20_000)
    tw = np.gradient(x)
    integ = np.asarray(a.T @ tw).ravel()
    assert integ[:2] == pytest.approx([1.0, 1.0], rel=1e-3)
    assert integ[2] == 0.0


def test_block_solver_matches_scipy_nnls() -> None:
    rng = np.random.default_rng(0)
    a1 = np.abs(rng.normal(size=(40, 6)))
    a2 = np.abs(rng.normal(size=(30, 4)))
    a = np.zeros((70, 10))
    a[:40, :6] = a1
    a[40:, 6:] = a2
    x_true = np.array([1.0, 0, 2, 0, 0.5, 0, 3, 0, 1, 0])
    y = a @ x_true + rng.normal(0, 0.01, 70)
    ref, _ = nnls(a, y)
    got = BlockSolver(a.T @ a).solve(a.T @ y)
    assert got == pytest.approx(ref, abs=1e-6)
    assert nnls_blocks(a.T @ a, a.T @ y) == pytest.approx(ref, abs=1e-6)


@pytest.mark.parametrize("seed", range(40))
def test_block_solver_any_warm_start_reaches_scipy_optimum(seed: int) -> None:
    # near-collinear columns (near-isobars) and warm starts from unrelated supports:
    # block principal pivoting must land on the same optimum as SciPy's active set
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(20, 300)), int(rng.integers(2, 80))
    a = np.abs(rng.normal(size=(m, n))) * (rng.random((m, n)) < 0.4)
    k = n // 3
    a[:, :k] += 0.98 * a[:, k : 2 * k]
    a += 1e-3 * np.eye(m, n)  # full column rank
    y = a @ np.maximum(rng.normal(size=n), 0.0) + rng.normal(0, 0.1, m)
    ref, _ = nnls(a, y, maxiter=50 * n)
    solver = BlockSolver(a.T @ a, ridge=0.0)
    for x0 in (None, rng.random(n) * (rng.random(n) < 0.5), np.ones(n)):
        got = solver.solve(a.T @ y, x0=x0)
        assert (got >= 0).all()
        obj, best = np.sum((a @ got - y) ** 2), np.sum((a @ ref - y) ** 2)
        assert obj <= best * (1 + 1e-9) + 1e-12


def _toy_problem(rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """Two species x three forms, columns rendered from simple patterns."""
    x = np.arange(1000.0, 1100.0, 0.01)
    pats, group, form = [], [], []
    for s, base in enumerate((1010.0, 1012.5)):
        for f in range(3):
            pats.append(Pattern(base + 20 * f + np.arange(5) * 0.25, [0.1, 0.3, 0.3, 0.2, 0.1], -4))
            group.append(s)
            form.append(f)
    a = render(pats, x, 20_000)
    abund = np.array([2.0, 1.0])
    w = np.array([0.5, 0.3, 0.2])
    c = abund[np.array(group)] * w[np.array(form)]
    y = np.asarray(a @ c) + rng.normal(0, 0.01, x.size)
    return x, a, y, np.array(group), np.array(form), abund, w


def test_structured_fit_recovers_species_and_forms() -> None:
    x, a, y, group, form, abund, w = _toy_problem(np.random.default_rng(1))
    fit = fit_structured(
        a,
        y,
        group=group,
        form=form,
        form_family=np.zeros(3, dtype=np.intp),
        form_init=np.full(3, 1 / 3),
        iterations=10,
    )
    assert fit.form == pytest.approx(w, abs=0.01)
    assert fit.group == pytest.approx(abund, rel=0.01)
    assert fit.ion.sum() == pytest.approx(abund.sum(), rel=0.01)


@pytest.mark.parametrize("exponent", [-40, 40])
def test_the_structured_fit_does_not_depend_on_the_intensity_unit(exponent: int) -> None:
    """The same data in another unit (x 2^40, exact in floating point): the same fit, scaled.
    Free columns (a baseline) beside the forms made the form step's normal equations mix
    squared units, and the solver dropped the free ones as vanishing at intensities of
    ~1e12 (a stranger's probe, 2026-12-07: 4 species for 2)."""
    from scipy import sparse

    x, a, y, group, form, *_ = _toy_problem(np.random.default_rng(3))
    hats = sparse.csc_matrix(np.column_stack([np.ones(x.size), np.linspace(0.0, 1.0, x.size)]))
    design = sparse.hstack([a, hats], format="csc")
    kw = dict(
        group=np.r_[group, 2, 3],
        form=np.r_[form, -1, -1],
        form_family=np.zeros(3, dtype=np.intp),
        form_init=np.full(3, 1 / 3),
        iterations=6,
    )
    y = y + 0.05
    base = fit_structured(design, y, **kw)  # type: ignore[arg-type]
    scale = 2.0**exponent
    other = fit_structured(design, y * scale, **kw)  # type: ignore[arg-type]
    np.testing.assert_allclose(other.group / scale, base.group, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(other.form, base.form, rtol=1e-9, atol=1e-15)
    assert other.rss / scale**2 == pytest.approx(base.rss, rel=1e-9)


def test_scan_shift_finds_the_offset() -> None:
    x, a, y, *_ = _toy_problem(np.random.default_rng(2))
    # the data moved 12 ppm up: read the model back at shifted positions
    ys = np.interp(x / (1 + 12e-6), x, y)
    s, weight = scan_shift(a, x, ys, shifts_ppm=np.arange(-30.0, 31.0, 3.0))
    assert s == pytest.approx(12.0, abs=1.5)
    assert weight > 0


def test_cosine_pairs_flags_only_when_one_is_active() -> None:
    g = np.array([[1.0, 0.99, 0.0], [0.99, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert cosine_pairs(g, np.array([False, False, True])) == []
    assert cosine_pairs(g, np.array([False, True, False])) == [(0, 1, 0.99)]


def test_composition_helpers() -> None:
    df = pd.DataFrame(
        {
            "family": ["M44S30", "M44S30", "M44S27", "complex"],
            "au": [11, 12, 21, 1],
            "ag": [33, 32, 23, 1],
            "ligands": [30, 30, 27, 3],
            "core_charge": [-4, -4, -3, -1],
            "abundance": [0.25, 0.25, 0.5, 0.3],
        }
    )
    fr = comp.family_fractions(df)
    assert fr == pytest.approx({"M44S30": 0.5, "M44S27": 0.5})
    assert comp.mean_electrons(df) == pytest.approx(19.0)
    assert comp.au_ag_ratio({12: 1.0}) == pytest.approx(12 / 32)
    assert comp.total_variation({1: 1.0}, {1: 1.0}) == 0.0
    assert comp.total_variation({1: 1.0}, {2: 1.0}) == 1.0
    assert comp.x_range({}) == (-1, -1)
    tab = comp.family_table(df)
    assert list(tab.columns) == list(comp.FAMILY_COLUMNS)
    assert tab["fraction"].sum() == pytest.approx(1.0)
    s = comp.summarize_series([("a", df), ("b", df)])
    assert list(s["label"]) == ["a", "a", "b", "b"]


def test_decimate_averages_runs_of_whole_samples() -> None:
    """Bins hold whole runs of samples, never one here and two there (issue 11).

    Data sampled 6 times per FWHM and decimated for 4 pass unchanged (fixed m/z bins
    averaged pairs of samples in a sixth of them, a misfit the model cannot follow);
    40 per FWHM go in runs of 10; a gap in the sampling starts a new run.
    """
    fwhm = 2000.0 / 20_000
    x6 = 2000.0 + np.arange(600) * fwhm / 6
    g6 = decimate(x6, np.ones(x6.size), resolution=20_000, points_per_fwhm=4)
    assert np.array_equal(g6.index, np.arange(x6.size))
    x40 = 2000.0 + np.arange(4000) * fwhm / 40
    counts = np.bincount(decimate(x40, np.ones(x40.size), resolution=20_000).index)
    assert set(counts[:-1].tolist()) == {10}
    gap = np.concatenate([x40[:1005], x40[1005:] + 5.0])  # 5 m/z without samples
    g = decimate(gap, np.ones(gap.size), resolution=20_000, points_per_fwhm=4)
    assert g.index[1004] != g.index[1005]  # no bin spans the gap
    assert np.diff(g.mz).max() > 4.0
