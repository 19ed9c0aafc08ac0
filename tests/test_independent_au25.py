"""Au25 spectra rendered here with IsoSpecPy, not by nanoalloy's synthesizer.

Found by a stranger's probe (2026-12-05) with their own generator, re-made here: the
Na+/H+ ladders ``[Au25(p-MBA)18 + n Na - (h0 + n) H]z-`` (Poisson weights of mean 2.5
over n = 0-6) at 6- and 5- over 1270-1570 m/z, isotope fine structure from IsoSpecPy,
Gaussian peaks of R = 25,000 sampled at 8 points per FWHM, a calibration error, white
noise of 0.5 % of the tallest peak clipped at zero; and [Au25(PET)18]- alone in a zoom.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from nanoalloy.ms.assign import assign
from nanoalloy.ms.spectrum import Spectrum

IsoSpecPy = pytest.importorskip("IsoSpecPy")

M_E = 0.000548579909


def _ladder(z: int, h0: int, hydride: int = 0) -> list[tuple[str, int, float]]:
    out = []
    for n in range(7):
        w = 2.5**n * math.exp(-2.5) / math.factorial(n)
        h = 90 + hydride - (h0 + n)
        out.append((f"C126H{h}Au25O36S18" + (f"Na{n}" if n else ""), z, w))
    return out


def _render(
    ions: list[tuple[str, int, float]],
    lo: float,
    hi: float,
    resolution: float,
    ppm: float,
    slope: float,
    seed: int,
    noise: float = 0.005,
    ppf: float = 8.0,
) -> Spectrum:
    """Gaussian peaks of ``resolution`` at ``ppf`` points per FWHM, ``ppm`` (+ ``slope`` per 1000
    m/z about the centre), white noise of ``noise`` times the tallest peak, clipped at 0."""
    x = np.arange(lo, hi, lo / resolution / ppf)
    y = np.zeros_like(x)
    centre = (lo + hi) / 2
    for formula, z, w in ions:
        it = IsoSpecPy.IsoTotalProb(formula=formula, prob_to_cover=0.99999)
        mz = (np.array(list(it.masses)) + abs(z) * M_E) / abs(z)
        p = np.array(list(it.probs))
        mz = mz * (1 + 1e-6 * (ppm + slope * (mz - centre) / 1000))
        for m0, pp in zip(mz, p, strict=True):
            s = m0 / resolution / 2.35482
            a, b = np.searchsorted(x, [m0 - 6 * s, m0 + 6 * s])
            y[a:b] += w * pp * np.exp(-0.5 * ((x[a:b] - m0) / s) ** 2)
    y /= y.max()
    rng = np.random.default_rng(seed)
    return Spectrum(x, np.clip(y + rng.normal(0.0, noise, y.size), 0.0, None) * 1e5)


def _spectrum(ppm: float, slope: float, seed: int, hydride: int = 0) -> Spectrum:
    ions = _ladder(-6, 5, hydride) + [(f, z, 0.6 * w) for f, z, w in _ladder(-5, 4, hydride)]
    return _render(ions, 1270.0, 1570.0, 25_000.0, ppm, slope, seed)


def _species(res: object) -> dict[str, float]:
    sp = res.species  # type: ignore[attr-defined]
    return dict(zip(sp["species"], sp["abundance"], strict=True))


def test_a_wide_window_at_plus_50_ppm_keeps_its_calibration() -> None:
    """The ambiguity check calibrates every hypothesis afresh from a species screen; on
    this draw the screen fell to +35 ppm with a slope, the selected fit and its
    alternative alike (R^2 0.70), and the alternative that won there became the fit:
    reported +35 ppm, 15 % hydride, R^2 0.70. The walks now also start from the
    selected fit's own calibration."""
    res = assign(_spectrum(50.0, 0.0, seed=4), preset="au25-pmba")
    assert res.ppm_shift == pytest.approx(50.0, abs=1.0)
    assert res.r2 > 0.99
    assert _species(res) == {"Au25(p-MBA)18": pytest.approx(1.0, abs=0.01)}


def test_a_bare_cluster_at_plus_95_ppm_is_not_taken_for_its_hydride() -> None:
    """One H moves every ion by 130 ppm: the bare cluster at +95 ppm (slope -25 ppm per
    1000 m/z) fitted as its hydride at -35 ppm, alone, sd 0.05. The ambiguity check
    moved the calibration by one isotope step (1.0030 Da), 0.6 ppm short of one H,
    which at this signal-to-noise scored the move 4,000 log units down, and never
    refined it; moved by one H it fits better than the hydride and is the fit."""
    res = assign(_spectrum(95.0, -25.0, seed=2), preset="au25-pmba")
    assert res.ppm_shift == pytest.approx(95.0, abs=1.0)
    assert _species(res) == {"Au25(p-MBA)18": pytest.approx(1.0, abs=0.01)}
    assert res.ions.iloc[0]["ion"] == "[Au25(p-MBA)18+2Na-7H]6-"


def test_a_tailed_bare_cluster_is_not_won_by_its_hydride_on_the_shape_misfit() -> None:
    """A fifth stranger's Au25(p-MBA)18 3- window (exponential tail 0.9 FWHM with its
    core at the true m/z, R 33,700, shot noise; centroid +8.4 ppm): our tail model read
    0.78 FWHM, and under it the hydride one isotope step down (-124 ppm) fitted 8 %
    better, a misfit a third of the residual wide (with the generator's own shape the
    truth fits 7 % better). The hydride was reported at 0.98 +- 0.05. An isotope-step
    move's gain now counts against the misfit, and the calibration prior decides."""
    from pathlib import Path

    from nanoalloy.ms.io import read

    path = Path(__file__).parent / "data" / "probe" / "au25_pmba_3minus_tail09_192mz.csv"
    res = assign(read(path), preset="au25-pmba", replicates=0)
    got = _species(res)
    assert got.get("Au25(p-MBA)18", 0.0) > 0.9, got
    assert got.get("Au25(p-MBA)18H", 0.0) < 0.05, got
    assert got.get("Au24(p-MBA)17", 0.0) == pytest.approx(0.023, abs=0.02), got
    assert res.ppm_shift == pytest.approx(8.4, abs=5.0)  # the centroid's, at the median m/z


def test_the_hydride_itself_stays_the_hydride() -> None:
    """... and the mirror: the hydride at -35 ppm is not moved to the bare cluster at
    +95 ppm by the same check."""
    res = assign(_spectrum(-35.0, 0.0, seed=1, hydride=1), preset="au25-pmba")
    assert res.ppm_shift == pytest.approx(-35.0, abs=1.0)
    assert _species(res) == {"Au25(p-MBA)18H": pytest.approx(1.0, abs=0.01)}
    assert re.fullmatch(r"\[Au25\(p-MBA\)18H\+2Na-7H\]6-", res.ions.iloc[0]["ion"])


@pytest.mark.parametrize("ppm", [-88.0, 85.0])
def test_a_high_resolution_zoom_far_off_calibration(ppm: float) -> None:
    """[Au25(PET)18]- alone in 5 m/z (7391-7396) at R 50,000, 1 % noise, 88 ppm off (a
    stranger's probe): the start found the calibration, then the instrument search, on
    the 61 rows the model reached, took R 20 % higher 7 ppm off, and the window read R^2
    0.55 at -95 ppm (+96 ppm and R 22,000 at +80). Its result now stands only where the
    whole grid agrees."""
    spec = _render([("C144H162Au25S18", -1, 1.0)], 7391.0, 7396.0, 50_000.0, ppm, 0.0, 83, 0.01)
    res = assign(spec, preset="au25-sr18", polarity="negative")
    assert res.ppm_shift == pytest.approx(ppm, abs=2.0)
    assert res.r2 > 0.99
    assert res.resolution == pytest.approx(50_000, rel=0.1)
    assert res.ions.iloc[0]["ion"] == "[Au25(PET)18]-"


def test_a_window_between_envelopes_keeps_its_polarity_and_its_baseline() -> None:
    """Au25-xAgx(PET)18- with x = 0-6 over 6800-7450 m/z at R 40,000, +60 ppm, no polarity
    recorded (a stranger's probe): the baseline hats whose knots no ion reaches, held
    by a few rows at their feet, stood at half the tallest peak between the envelopes;
    the model drawn whole fitted the data worse than a positive-mode fit of Cs+ adducts
    of Au-Ag-Cu clusters 36 ppm off, and that was reported. Where no ion reaches, the
    hats are now refitted to the data there."""
    weights = (0.05, 0.15, 0.25, 0.25, 0.17, 0.09, 0.04)
    ions = [
        (f"C144H162Au{25 - x}" + (f"Ag{x}" if x else "") + "S18", -1, w)
        for x, w in enumerate(weights)
    ]
    spec = _render(ions, 6800.0, 7450.0, 40_000.0, 60.0, 0.0, 13, 0.01, ppf=4.0)
    res = assign(spec, preset="au25-sr18")
    assert res.ppm_shift == pytest.approx(60.0, abs=2.0)
    assert set(res.ions["charge"]) == {-1}
    agx = res.species[res.species["family"] == "Au25-xAgx"]
    got = dict(zip(agx["x"], agx["abundance"], strict=True))
    assert max(abs(got.get(x, 0.0) - w) for x, w in enumerate(weights)) < 0.03
    # the model as drawn (fit.csv, spectrum.png) fits the data as the fit did
    r = spec.intensity - res.model
    whole = 1.0 - float(r @ r) / float(np.sum((spec.intensity - spec.intensity.mean()) ** 2))
    assert whole > 0.95


def test_a_clean_ag44_envelope_is_not_filled_by_a_chlorinated_alias() -> None:
    """[Ag44(p-MBA)30]4- alone over its own envelope (2328-2343 m/z, R 20,000, 8 points per
    FWHM, rendered here with IsoSpecPy), assigned with the default preset. A stranger's clean
    `nanoalloy pattern` profile of it read [Au1Ag43(p-MBA)27Cl3+12Na-12H]4- at +27 ppm: from
    the preset's starting Na+/Cl forms the alternating fit settled on Au2Ag42 with 3 Cl and 8
    Na+ (two isotope steps away), R^2 0.90 even at the true R and calibration, and the
    window's hypotheses were refitted from those forms alone. Without a calibration grid a
    narrow window's starts are now also fitted from the ions' own heights."""
    spec = _render([("Ag44C210H150O60S30", -4, 1.0)], 2328.0, 2343.0, 20_000.0, 0.0, 0.0, 3)
    res = assign(spec, calibrate=False)
    got = _species(res)
    assert got.get("Ag44(p-MBA)30", 0.0) > 0.95, got
    assert abs(res.resolution / 20_000.0 - 1.0) < 0.03


@pytest.mark.xfail(
    strict=True,
    reason="known: calibrated, the window's hypotheses are refitted from the preset's forms "
    "alone and settle on the Cl3 + 8 Na+ alias two isotope steps away; refitting them from "
    "the ions' own heights too fixed it but cost two narrow windows their family",
)
def test_a_clean_ag44_envelope_calibrated_is_not_filled_by_a_chlorinated_alias() -> None:
    """The window above with the calibration searched (as a user runs it by default)."""
    spec = _render([("Ag44C210H150O60S30", -4, 1.0)], 2328.0, 2343.0, 20_000.0, 0.0, 0.0, 3)
    res = assign(spec)
    assert _species(res).get("Ag44(p-MBA)30", 0.0) > 0.95
