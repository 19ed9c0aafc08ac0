"""Isotope masses and patterns: golden values, IsoSpecPy as the independent engine, invariants."""

from __future__ import annotations

import dataclasses
import math

import IsoSpecPy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IsoSpecPy import PeriodicTbl

from nanoalloy.chem import isotopes
from nanoalloy.chem.isotopes import (
    ELECTRON_MASS,
    Pattern,
    aggregated_pattern,
    average_mass,
    average_mz,
    batch_patterns,
    fine_pattern,
    monoisotopic_mass,
    most_abundant_mz,
    profile,
    to_mz,
)
from nanoalloy.errors import FormulaError, InputError
from strategies import compositions

HYP = settings(max_examples=40, deadline=None, derandomize=True)


def sr_shell(n: int, *, removed_h: int = 0) -> dict[str, int]:
    """``n`` p-MBA thiolates (C7H5O2S) with ``removed_h`` acidic protons removed."""
    return {"C": 7 * n, "H": 5 * n - removed_h, "O": 2 * n, "S": n}


AG44 = {"Ag": 44, **sr_shell(30)}
AU44_NA = {"Au": 44, **sr_shell(26, removed_h=16), "Na": 12}
AU21AG23 = {"Au": 21, "Ag": 23, **sr_shell(27)}
AU12AG32_CL = {"Au": 12, "Ag": 32, **sr_shell(29), "Cl": 1}
PT_AG24 = {"Pt": 1, "Ag": 24, **sr_shell(18)}
PD_CD_AG = {"Pd": 1, "Cd": 1, "Ag": 10, **sr_shell(8)}

REFERENCE_IONS = [
    pytest.param(AG44, -4, id="Ag44(SR)30 4-"),
    pytest.param(AU44_NA, -6, id="Au44(SR)26+12Na-16H 6-"),
    pytest.param(AU21AG23, -3, id="Au21Ag23(SR)27 3-"),
    pytest.param(AU12AG32_CL, -4, id="Au12Ag32(SR)29Cl 4-"),
    pytest.param(PT_AG24, -2, id="PtAg24(SR)18 2-"),
    pytest.param(PD_CD_AG, -3, id="PdCdAg10(SR)8 3-"),
]


def lightest_mass(comp: dict[str, int]) -> float:
    return sum(n * min(PeriodicTbl.symbol_to_masses[s]) for s, n in comp.items())


def neutral_mass(mz: np.ndarray, charge: int) -> np.ndarray:
    return mz if charge == 0 else mz * abs(charge) + charge * ELECTRON_MASS


def reference_bins(comp: dict[str, int], charge: int) -> dict[int, tuple[float, float]]:
    """IsoSpecPy fine structure (99.999 %) binned by the neutron count of each isotopologue.

    Returns nominal shift -> (probability, probability-weighted mean m/z).
    """
    dist = IsoSpecPy.IsoTotalProb(0.99999, formula=comp, get_confs=True)
    masses, probs = dist.np_masses().copy(), dist.np_probs().copy()
    ncol = dist.sum_isotope_numbers
    confs = np.frombuffer(IsoSpecPy.isoFFI.ffi.buffer(dist.raw_confs), dtype=np.int32)
    confs = confs[: len(dist) * ncol].reshape(len(dist), ncol)
    shift_col, mass_col = [], []
    for sym in comp:  # IsoSpecPy keeps the dict order
        mass_no = PeriodicTbl.symbol_to_massNo[sym]
        shift_col += [m - min(mass_no) for m in mass_no]
        mass_col += list(PeriodicTbl.symbol_to_masses[sym])
    assert len(shift_col) == ncol
    # the configurations really are what we think they are
    np.testing.assert_allclose(confs @ np.array(mass_col), masses, rtol=0, atol=1e-6)
    shifts = np.rint(confs @ np.array(shift_col, dtype=float)).astype(int)
    p = np.bincount(shifts, weights=probs)
    pm = np.bincount(shifts, weights=probs * masses)
    return {
        int(k): (float(p[k]), float(to_mz(pm[k] / p[k], charge))) for k in np.flatnonzero(p > 0)
    }


def shifts_of(pat: Pattern, comp: dict[str, int]) -> np.ndarray:
    return np.rint(neutral_mass(pat.mz, pat.charge) - lightest_mass(comp)).astype(int)


# ---------------------------------------------------------------------------
# golden masses
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("comp", "charge", "expected"),
    [
        (AG44, -4, 2335.39),
        ({"Ag": 43, **sr_shell(28)}, -3, 2975.78),
        (AU21AG23, -3, 3584.36),
        (AU44_NA, -6, 2151.49),
    ],
)
def test_golden_average_mz(comp: dict[str, int], charge: int, expected: float) -> None:
    assert average_mz(comp, charge) == pytest.approx(expected, abs=0.05)
    # the aggregated pattern's mean is the same number (moments are exact)
    assert aggregated_pattern(comp, charge).mean_mz == pytest.approx(
        average_mz(comp, charge), abs=1e-6
    )


@pytest.mark.parametrize(
    ("comp", "expected"),
    [
        ({"C": 1}, 12.0107),
        ({"H": 2, "O": 1}, 18.0153),
        ({"Au": 1}, 196.96657),
        ({"Ag": 1}, 107.868),
        ({"Na": 1, "Cl": 1}, 58.443),
    ],
)
def test_golden_average_mass(comp: dict[str, int], expected: float) -> None:
    assert average_mass(comp) == pytest.approx(expected, abs=2e-3)


def test_monoisotopic_mass_is_most_abundant_isotope() -> None:
    assert monoisotopic_mass({"C": 6, "H": 6}) == pytest.approx(78.04695, abs=1e-5)
    # Se: 80Se is the most abundant, not the lightest (IsoSpecPy's convention)
    assert monoisotopic_mass({"Se": 1}) == pytest.approx(79.91652, abs=1e-5)
    assert monoisotopic_mass({"Au": 2}) == pytest.approx(2 * 196.9665696, abs=1e-9)


def test_to_mz() -> None:
    assert to_mz(1000.0, 0) == 1000.0
    assert to_mz(1000.0, -2) == pytest.approx(500.0 + ELECTRON_MASS, abs=1e-12)
    assert to_mz(1000.0, 1) == pytest.approx(1000.0 - ELECTRON_MASS, abs=1e-12)
    np.testing.assert_allclose(
        to_mz(np.array([10.0, 20.0]), -1), np.array([10.0, 20.0]) + ELECTRON_MASS
    )


def test_ag44_monoisotopic_peak_is_vanishingly_rare() -> None:
    pat = aggregated_pattern(AG44, -4, min_probability=1e-20)
    first = float(pat.probability[0])
    assert shifts_of(pat, AG44)[0] == 0
    assert 1e-16 < first < 1e-13
    assert pat.most_abundant_mz - pat.mz[0] > 5  # the envelope peaks ~22 Da above it


# ---------------------------------------------------------------------------
# differential tests against IsoSpecPy fine structure
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("comp", "charge"), REFERENCE_IONS)
def test_aggregated_matches_isospec_fine_structure(comp: dict[str, int], charge: int) -> None:
    ref = reference_bins(comp, charge)
    pat = aggregated_pattern(comp, charge)
    ours = dict(
        zip(shifts_of(pat, comp).tolist(), zip(pat.probability, pat.mz, strict=True), strict=True)
    )
    assert len(ours) == len(pat)  # one peak per nominal shift
    for k in set(ref) | set(ours):
        p_ref, mz_ref = ref.get(k, (0.0, math.nan))
        p_ours, mz_ours = ours.get(k, (0.0, math.nan))
        assert abs(p_ref - p_ours) < 1e-4, k
        if p_ref > 1e-3:
            assert abs(mz_ref - mz_ours) < 1e-3, k
    assert pat.coverage == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(("comp", "charge"), REFERENCE_IONS[:4])
def test_fine_pattern_agrees_with_aggregated(comp: dict[str, int], charge: int) -> None:
    fine = fine_pattern(comp, charge, coverage=0.999)
    assert fine.coverage >= 0.999
    assert np.all(np.diff(fine.mz) >= 0)
    assert fine.normalized().mean_mz == pytest.approx(average_mz(comp, charge), abs=1e-2)


def test_fine_pattern_threshold_mode() -> None:
    pat = fine_pattern({"C": 10, "H": 8, "S": 1}, -1, threshold=1e-6)
    assert pat.probability.min() >= 1e-6
    full = fine_pattern({"C": 10, "H": 8, "S": 1}, -1, coverage=1.0)
    assert len(full) >= len(pat)
    assert pat.charge == -1


# ---------------------------------------------------------------------------
# coverage, batch, invariants
# ---------------------------------------------------------------------------
def test_coverage_keeps_most_probable_peaks() -> None:
    full = aggregated_pattern(AG44, -4)
    cut = aggregated_pattern(AG44, -4, coverage=0.9999)
    assert 0.9999 <= cut.coverage < full.coverage
    assert np.all(np.diff(cut.mz) > 0)
    # dropping the smallest kept peak would fall short of the coverage
    assert cut.coverage - cut.probability.min() < 0.9999
    assert cut.probability.min() >= full.probability[~np.isin(full.mz, cut.mz)].max()


def test_batch_equals_single_on_a_family() -> None:
    comps, charges = [], []
    for x in (0, 7, 21, 44):
        for shell, core in ((30, 4), (27, 3), (26, 2)):
            for na in (0, 3, 12):
                for cl in (0, 2):
                    for z in (3, 4, 6):
                        h = na + z - core
                        if 0 <= h <= shell - cl:
                            comp = {"Au": x, "Ag": 44 - x, **sr_shell(shell - cl, removed_h=h)}
                            comps.append({**comp, "Cl": cl, "Na": na})
                            charges.append(-z)
    pats = batch_patterns(comps, charges)
    assert len(pats) == len(comps) > 100
    for comp, z, pat in zip(comps, charges, pats, strict=True):
        one = aggregated_pattern(comp, z, coverage=0.9999)
        assert pat.charge == z
        np.testing.assert_allclose(pat.mz, one.mz, rtol=0, atol=1e-6)
        np.testing.assert_allclose(pat.probability, one.probability, rtol=0, atol=1e-11)


@HYP
@given(st.lists(compositions, min_size=1, max_size=6), st.lists(st.integers(-8, 8), min_size=6))
def test_batch_equals_single(comps: list[dict[str, int]], zs: list[int]) -> None:
    charges = zs[: len(comps)]
    pats = batch_patterns(comps, charges, coverage=None)
    for comp, z, pat in zip(comps, charges, pats, strict=True):
        one = aggregated_pattern(comp, z)
        # element order differs, so the 1e-12 trimming of intermediate products
        # touches the far tail differently: tiny bins may move by ~1e-8 Da
        assert len(pat) == len(one)
        np.testing.assert_allclose(pat.mz, one.mz, rtol=0, atol=1e-6)
        np.testing.assert_allclose(pat.probability, one.probability, rtol=0, atol=1e-11)


@HYP
@given(compositions, st.integers(-8, 8), st.sampled_from([None, 0.99, 0.9999]))
def test_pattern_sums_to_one_within_coverage(
    comp: dict[str, int], charge: int, coverage: float | None
) -> None:
    pat = aggregated_pattern(comp, charge, coverage=coverage)
    assert pat.coverage <= 1 + 1e-12
    assert pat.coverage >= (coverage if coverage is not None else 1 - 1e-6)
    assert np.all(np.diff(pat.mz) > 0)
    assert pat.charge == charge
    if coverage is None:  # the first moment is exact
        assert pat.mean_mz == pytest.approx(average_mz(comp, charge), rel=1e-9, abs=1e-6)


@HYP
@given(compositions, compositions)
def test_average_mass_is_additive(a: dict[str, int], b: dict[str, int]) -> None:
    both = {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}
    assert average_mass(both) == pytest.approx(average_mass(a) + average_mass(b), rel=1e-12)
    assert monoisotopic_mass(both) == pytest.approx(
        monoisotopic_mass(a) + monoisotopic_mass(b), rel=1e-12
    )


def test_monoisotopic_elements_are_a_mass_offset() -> None:
    base = aggregated_pattern(AG44, -4)
    more = aggregated_pattern({**AG44, "Au": 3, "Na": 5}, -4)
    np.testing.assert_array_equal(base.probability, more.probability)
    shift = (3 * 196.9665696 + 5 * PeriodicTbl.symbol_to_masses["Na"][0]) / 4
    np.testing.assert_allclose(more.mz - base.mz, shift, atol=1e-9)
    pure = aggregated_pattern({"Au": 44}, 0)
    assert len(pure) == 1 and pure.mz[0] == pytest.approx(44 * 196.9665696, abs=1e-8)


def test_most_abundant_mz() -> None:
    pat = aggregated_pattern(AU44_NA, -6)
    assert most_abundant_mz(AU44_NA, -6) == pat.mz[np.argmax(pat.probability)]
    assert most_abundant_mz(AU44_NA, -6) == pytest.approx(2151.4, abs=0.2)


def test_empty_composition() -> None:
    pat = aggregated_pattern({}, 0)
    assert pat.mz.tolist() == [0.0] and pat.probability.tolist() == [1.0]
    assert average_mass({"Ag": 0}) == 0.0


# ---------------------------------------------------------------------------
# Pattern record
# ---------------------------------------------------------------------------
def test_pattern_record_is_frozen_sorted_and_read_only() -> None:
    src = np.array([3.0, 1.0, 2.0])
    pat = Pattern(src, [0.1, 0.3, 0.2], charge=-2)
    src[0] = 99.0  # copied on construction
    assert pat.mz.tolist() == [1.0, 2.0, 3.0]
    assert pat.probability.tolist() == [0.3, 0.2, 0.1]
    assert pat.mz.dtype == np.float64 and len(pat) == 3
    assert pat.coverage == pytest.approx(0.6)
    assert pat.most_abundant_mz == 1.0
    assert pat.normalized().coverage == pytest.approx(1.0)
    with pytest.raises(ValueError):
        pat.mz[0] = 5.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        pat.charge = 3  # type: ignore[misc]
    assert not hasattr(pat, "__dict__")
    twin = Pattern([1.0, 2.0, 3.0], [0.3, 0.2, 0.1], charge=-2)
    assert pat == twin and hash(pat) == hash(twin) and pat != pat.normalized()
    for arr in (aggregated_pattern(AG44, -4).mz, batch_patterns([AG44], [-4])[0].probability):
        assert not arr.flags.writeable


@pytest.mark.parametrize(
    ("mz", "prob", "charge", "match"),
    [
        ([1.0, 2.0], [0.5], 0, "length"),
        ([1.0, math.nan], [0.5, 0.5], 0, "finite"),
        ([1.0, 2.0], [0.5, -0.1], 0, ">= 0"),
        ([1.0], [1.0], 1.5, "integer"),
    ],
)
def test_pattern_rejects_bad_input(mz: list, prob: list, charge: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        Pattern(mz, prob, charge)  # type: ignore[arg-type]


def test_empty_pattern() -> None:
    pat = Pattern([], [], 0)
    assert len(pat) == 0 and math.isnan(pat.mean_mz) and math.isnan(pat.most_abundant_mz)


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("symbol", ["Xx", "Tc", "E", "Pn", "ag"])
def test_unknown_element_names_it(symbol: str) -> None:
    for fn in (average_mass, monoisotopic_mass, aggregated_pattern, fine_pattern):
        with pytest.raises(FormulaError, match=repr(symbol)) as info:
            fn({"C": 2, symbol: 1})
        assert info.value.token == symbol
    with pytest.raises(FormulaError, match=repr(symbol)):
        batch_patterns([{"C": 1}, {symbol: 2}], [0, 0])


@pytest.mark.parametrize(
    ("comp", "match"), [({"C": -1}, ">= 0"), ({"C": 1.5}, "integer"), ({"C": True}, "integer")]
)
def test_bad_counts(comp: dict, match: str) -> None:
    with pytest.raises(FormulaError, match=match):
        average_mass(comp)


def test_bad_options() -> None:
    with pytest.raises(InputError, match="differ in length"):
        batch_patterns([AG44], [-4, -3])
    with pytest.raises(InputError, match="min_probability"):
        aggregated_pattern(AG44, min_probability=0)
    with pytest.raises(InputError, match="coverage"):
        aggregated_pattern(AG44, coverage=1.5)
    with pytest.raises(InputError, match="charge"):
        aggregated_pattern(AG44, 1.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# profiles
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("resolution", [2_000, 20_000, 200_000])
def test_profile_integrates_to_weight(resolution: float) -> None:
    pats = [
        aggregated_pattern(AG44, -4, coverage=0.999),
        aggregated_pattern(AU44_NA, -6, coverage=0.999),
        aggregated_pattern({"Ag": 2, **sr_shell(3)}, -1),
    ]
    weights = [1.0, 2.5, 0.3]
    x, y = profile(pats, resolution, weights=weights)
    assert np.all(np.diff(x) > 0) and np.all(y >= 0)
    total = sum(w * p.coverage for w, p in zip(weights, pats, strict=True))
    assert np.trapezoid(y, x) == pytest.approx(total, rel=1e-9)
    for w, p in zip(weights, pats, strict=True):  # each envelope separately
        margin = 3 * p.mz[-1] / resolution  # 3 FWHM: beyond the +-5 sigma support
        sel = (x > p.mz[0] - margin) & (x < p.mz[-1] + margin)
        assert np.trapezoid(y[sel], x[sel]) == pytest.approx(w * p.coverage, rel=1e-6)


def test_profile_on_a_given_grid_and_peak_shape() -> None:
    pat = Pattern([1000.0], [1.0], charge=-1)
    grid = np.linspace(999.0, 1001.0, 20001)
    x, y = profile(pat, 10_000, mz=grid, weights=[3.0])
    np.testing.assert_array_equal(x, grid)
    assert np.trapezoid(y, x) == pytest.approx(3.0, rel=1e-9)
    half = y.max() / 2
    above = x[y >= half]
    assert above[-1] - above[0] == pytest.approx(0.1, abs=2e-4)  # FWHM = m/z / R
    assert x[np.argmax(y)] == pytest.approx(1000.0)
    # far from the peak nothing is evaluated (sparse rendering)
    assert np.all(y[np.abs(x - 1000.0) > 0.25] == 0)


def test_profile_rejects_bad_input() -> None:
    pat = Pattern([1000.0], [1.0], charge=-1)
    with pytest.raises(InputError, match="resolution"):
        profile(pat, 0)
    with pytest.raises(InputError, match="weights"):
        profile([pat, pat], 1000, weights=[1.0])
    with pytest.raises(InputError, match="ascending"):
        profile(pat, 1000, mz=[3.0, 2.0, 1.0])


def test_profile_of_nothing() -> None:
    x, y = profile([], 1000)
    assert x.size == 0 and y.size == 0


def test_all_is_sorted_and_true() -> None:
    assert isotopes.__all__ == sorted(isotopes.__all__)
    for name in isotopes.__all__:
        assert hasattr(isotopes, name)
