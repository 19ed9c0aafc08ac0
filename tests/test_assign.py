"""The assign pipeline end to end on synthetic spectra, and the ``assign`` command.

Four acceptance scenarios of issue 3 (synthetic spectra with charge and Na+
ladders, Cl shells, fragments, complexes, resolving power 15,000-30,000,
calibration error up to 20 ppm, baseline, Poisson and Gaussian noise): every
family's x distribution must come back within total variation 0.05 and the
family fractions within 0.03. Then decoys, the CLI contract and bad input.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nanoalloy import cli
from nanoalloy.ms.assign import ION_COLUMNS, SPECIES_COLUMNS, Assignment, assign
from nanoalloy.ms.composition import (
    FAMILY_COLUMNS,
    family_fractions,
    total_variation,
    x_distribution,
)
from nanoalloy.ms.io import write_csv
from nanoalloy.ms.spectrum import Spectrum
from nanoalloy.ms.synth import ESIModel, SynthResult, synthesize


def _pops(spec: dict[str, dict[int, float]]) -> pd.DataFrame:
    rows = [
        {"family": fam, "au": x, "fraction": w}
        for fam, dist in spec.items()
        for x, w in dist.items()
    ]
    return pd.DataFrame(rows)


SCENARIOS = {
    # Ag-rich: M44S30 x ~ 9-12 with Cl shells (4-/5-)
    "ag_rich": dict(
        pops={"M44S30": {8: 0.05, 9: 0.2, 10: 0.3, 11: 0.28, 12: 0.17}},
        mz_range=(1700.0, 2800.0),
        resolution=15_000.0,
        calibration_ppm=20.0,
        calibration_slope_ppm=-3.0,
        seed=11,
    ),
    # evenly mixed: M44S27 x ~ 18-24 (3-/4-)
    "even": dict(
        pops={"M44S27": {18: 0.06, 19: 0.12, 20: 0.22, 21: 0.26, 22: 0.18, 23: 0.1, 24: 0.06}},
        mz_range=(2500.0, 3900.0),
        resolution=20_000.0,
        calibration_ppm=-12.0,
        calibration_slope_ppm=4.0,
        seed=12,
    ),
    # Au-rich: M44S26 with deep Na ladders at 6-/7-/8-
    "au_rich": dict(
        pops={"M44S26": {40: 0.15, 41: 0.3, 42: 0.35, 43: 0.2}},
        mz_range=(1500.0, 2300.0),
        resolution=30_000.0,
        calibration_ppm=8.0,
        calibration_slope_ppm=0.0,
        seed=13,
    ),
    # three families at once
    "three": dict(
        pops={
            "M44S30": {10: 0.1, 11: 0.15, 12: 0.1},
            "M44S27": {20: 0.1, 21: 0.15, 22: 0.1},
            "M44S26": {41: 0.1, 42: 0.12, 43: 0.08},
        },
        mz_range=(1500.0, 3900.0),
        resolution=20_000.0,
        calibration_ppm=15.0,
        calibration_slope_ppm=-5.0,
        seed=14,
    ),
}


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[SynthResult, Assignment]]:
    out = {}
    for name, sc in SCENARIOS.items():
        kw = {k: v for k, v in sc.items() if k != "pops"}
        syn = synthesize(_pops(sc["pops"]), **kw)  # type: ignore[arg-type]
        out[name] = (syn, assign(syn.spectrum))
    return out


def _recovery(syn: SynthResult, res: Assignment) -> tuple[dict[str, float], dict[str, float]]:
    truth = family_fractions(syn.truth)
    got = family_fractions(res.species)
    tv = {
        fam: total_variation(x_distribution(res.species, fam), x_distribution(syn.truth, fam))
        for fam in truth
    }
    frac = {fam: abs(got.get(fam, 0.0) - truth.get(fam, 0.0)) for fam in set(truth) | set(got)}
    return tv, frac


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_recovery(runs: dict[str, tuple[SynthResult, Assignment]], name: str) -> None:
    syn, res = runs[name]
    tv, frac = _recovery(syn, res)
    print(name, "TV", {k: round(v, 4) for k, v in tv.items()}, "dfrac", frac)
    assert all(v <= 0.05 for v in tv.values()), tv
    assert all(v <= 0.03 for v in frac.values()), frac
    assert res.r2 > 0.95


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_tables_contract(runs: dict[str, tuple[SynthResult, Assignment]], name: str) -> None:
    _, res = runs[name]
    sp = res.species
    assert list(sp.columns) == list(SPECIES_COLUMNS)
    assert list(res.ions.columns) == list(ION_COLUMNS)
    # ppm_error relates the ion's m/z and where it was observed (a stranger read 0.7 ppm
    # between them: two reference m/z values)
    ions = res.ions
    got = 1e6 * (ions["mz_observed"] / ions["mz"] - 1.0)
    assert np.allclose(got, ions["ppm_error"], atol=1e-3)
    assert list(res.families.columns) == [*FAMILY_COLUMNS, "fraction_sd"]
    cluster = ~sp["family"].isin(["fragment", "complex"])
    assert sp.loc[cluster, "abundance"].sum() == pytest.approx(1.0)
    assert (sp["abundance_sd"] >= 0).all()
    assert (sp["electrons"] == sp["au"] + sp["ag"] - sp["ligands"] - sp["core_charge"]).all()
    assert res.families["fraction"].sum() == pytest.approx(1.0)
    assert (res.families["x90_low"] <= res.families["x90_high"]).all()
    # every ion listed belongs to a species listed
    assert set(zip(res.ions["species"], res.ions["family"], strict=True)) <= set(
        zip(sp["species"], sp["family"], strict=True)
    )


@pytest.fixture(scope="module")
def lone_au25() -> Assignment:
    """A lone [Au25(PET)18]- assigned with ``au25-sr18`` (which also holds Cu, SBB and Cs+
    adduct ions of the other polarity) as negative ions."""
    pops = pd.DataFrame({"family": ["Au25-xAgx"], "species": ["[Au25(PET)18]-"], "fraction": [1.0]})
    syn = synthesize(
        pops,
        preset="au25-sr18",
        mz_range=(7000.0, 7600.0),
        resolution=15_000,
        seed=1,
        polarity="negative",
    )
    return assign(syn.spectrum, preset="au25-sr18", polarity="negative")


def test_window_share_counts_only_the_charge_states_of_the_polarity_fitted(
    lone_au25: Assignment,
) -> None:
    # Au25-xAgx forms [Au25(PET)18]- and the Cs+ adducts +1 and +2; a negative-mode
    # window that records the 1- ion (7394 m/z) has seen every ion it could record
    sp = lone_au25.species
    assert (lone_au25.ions["charge"] < 0).all()
    assert sp.set_index("species").loc["[Au25(PET)18]-", "window_share"] == 1.0


def test_ions_listed_are_those_of_the_species_listed(lone_au25: Assignment) -> None:
    # faint decoys the fit gives a trace (Cu and Ag swaps, SBB exchanges) are left out of
    # species.csv by _detected; their ions must not stay in ions.csv
    sp, ions = lone_au25.species, lone_au25.ions
    assert sp["species"].tolist() == ["[Au25(PET)18]-"]
    assert set(zip(ions["species"], ions["family"], strict=True)) <= set(
        zip(sp["species"], sp["family"], strict=True)
    )
    assert ions["ion"].tolist() == ["[Au25(PET)18]-"]


def test_window_share_counts_the_charge_states_the_window_records(
    runs: dict[str, tuple[SynthResult, Assignment]],
) -> None:
    # 1500-3900 m/z: M44S26 (charge weights 3-: 0.1, 6-/7-/8-: 0.9) loses its 3- ion at
    # ~4100 m/z; M44S27 (3-/4-) and M44S30 (4-/5-) keep every charge state
    sp = runs["three"][1].species
    share = sp.groupby("family")["window_share"]
    assert share.min()["M44S26"] == share.max()["M44S26"] == pytest.approx(0.9)
    assert share.min()["M44S27"] == share.min()["M44S30"] == 1.0
    assert sp.loc[sp["family"].isin(["fragment", "complex"]), "window_share"].isna().all()


def test_calibration_found(runs: dict[str, tuple[SynthResult, Assignment]]) -> None:
    syn, res = runs["ag_rich"]
    cal = res.calibration
    assert cal is not None
    # synth: ppm = 20 - 3 (mz - 2000)/1000; our model: a + b mz. The shift is found to a
    # few ppm: the rest is absorbed by near-isobaric comb phases (one Au/Ag swap vs four
    # Na/H exchanges differ by ~0.17 Da, ~18 ppm at this mass)
    for m in (1900.0, 2400.0):
        assert cal.ppm_intercept + cal.ppm_slope * m == pytest.approx(
            20.0 - 3.0 * (m - 2000.0) / 1000.0, abs=6.0
        )
    assert cal.rms_ppm_after < cal.rms_ppm_before


def test_scores_separate_true_species_from_decoys(
    runs: dict[str, tuple[SynthResult, Assignment]],
) -> None:
    for syn, res in runs.values():
        sp = res.species[~res.species["family"].isin(["fragment", "complex"])]
        true = set(zip(syn.truth["family"], syn.truth["au"], strict=True))
        is_true = [(f, x) in true for f, x in zip(sp["family"], sp["au"], strict=True)]
        sc = sp["score"].to_numpy()
        real = sc[np.array(is_true)]
        decoy = sc[~np.array(is_true)]
        # every species holding at least 5 % is scored above every decoy
        major = sp["abundance"].to_numpy()[np.array(is_true)] >= 0.05
        if decoy.size:
            assert real[major].min() > decoy.max()


def test_absent_family_decoys_stay_small() -> None:
    """A decoy family that is not in the sample gets (almost) nothing."""
    syn = synthesize(
        _pops({"M44S30": {11: 0.5, 12: 0.5}}), mz_range=(2200.0, 2700.0), resolution=20_000, seed=5
    )
    res = assign(syn.spectrum)
    fr = family_fractions(res.species)
    assert fr.get("M44S30", 0.0) > 0.97


@pytest.mark.parametrize(
    "pops",
    [
        # every other x: M44S27's 3- ions are isobaric to M44S30 fragments + 2 Na
        # (Au - SR = 2 (Na - H)); its 4- ions and the absent parents tell them apart
        {"M44S27": {18: 0.1, 20: 0.2, 22: 0.2, 24: 0.1}, "M44S30": {9: 0.1, 10: 0.2, 11: 0.1}},
        # two modes in one family (two batches mixed): the smaller is no stray decoy
        {"M44S30": {2: 0.1, 3: 0.15, 4: 0.1, 10: 0.2, 11: 0.3, 12: 0.15}},
        {"M44S27": {14: 0.1, 15: 0.15, 16: 0.1, 24: 0.2, 25: 0.3, 26: 0.15}},
    ],
    ids=["every_other_x", "bimodal_M44S30", "bimodal_M44S27"],
)
def test_gapped_and_bimodal_distributions_come_back(pops: dict[str, dict[int, float]]) -> None:
    syn = synthesize(
        _pops(pops), mz_range=(1500.0, 4000.0), resolution=20_000, calibration_ppm=12.0, seed=5
    )
    res = assign(syn.spectrum)
    tv, frac = _recovery(syn, res)
    assert all(v <= 0.05 for v in tv.values()), tv
    assert all(v <= 0.05 for v in frac.values()), frac
    assert res.r2 > 0.99
    # no fragment without a parent: every fragment row's parents carry signal
    sp = res.species
    present = set(zip(sp["family"], sp["au"], strict=True))
    for au in sp.loc[sp["family"] == "fragment", "au"]:
        parents = {(f, x) for f in ("M44S30", "M44S27", "M44S26") for x in (au, au + 1)}
        assert parents & present, au


@pytest.mark.parametrize(
    ("resolution", "seed"),
    [(15_000.0, 691337), (15_000.0, 2), (20_000.0, None), (30_000.0, None)],
)
def test_resolving_power_from_dense_or_noise_free_envelopes(
    resolution: float, seed: int | None
) -> None:
    """Interleaved isotope combs beat; the beats are not isolated narrow peaks.

    Seen before: R = 15,000 read as 35,000 (5 m/z baseline inside a dense 3-
    envelope), and in noise-free spectra every ripple of an envelope's tail
    taken for a peak.
    """
    from nanoalloy.ms.assign.instrument import _resolution_candidates

    pops = {"M44S27": {17: 0.05, 18: 0.1, 19: 0.25, 20: 0.3, 21: 0.2, 22: 0.1}}
    syn = synthesize(_pops(pops), mz_range=(2500.0, 3900.0), resolution=resolution, seed=seed)
    spec = Spectrum(syn.spectrum.mz, syn.spectrum.intensity)  # no resolution in metadata
    assert any(r == pytest.approx(resolution, rel=0.1) for r in _resolution_candidates(spec))


def test_no_cluster_spectrum_is_a_clean_empty_result(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = np.linspace(1500.0, 2500.0, 40_000)
    y = 50.0 + rng.normal(0, 1.0, x.size).clip(-40, 40)
    res = assign(Spectrum(x, y), resolution=20_000)
    assert not res.found and res.message == "no clusters found"
    assert res.species.empty and res.ions.empty and res.families.empty
    res.write(tmp_path / "out")
    assert list(pd.read_csv(tmp_path / "out" / "species.csv").columns) == list(SPECIES_COLUMNS)


def test_blurred_envelopes_are_not_left_to_the_baseline() -> None:
    """A sixth stranger's M44S30 + M44S27 window at R 8,170 (isotope peaks unresolved):
    the baseline fitted with the ions at knots 50 m/z apart followed the blurred
    envelopes, held half the data, and M44S27 (0.42) was lost; knots 300 m/z apart fit
    better and were reported, with a note. Since the ``halides`` prior (the Cl shells of
    M44S30 no longer take the blurred signal) the 50 m/z knots leave the baseline a share
    below the rival's threshold, and the fit is as close (R^2 0.987 against 0.983)."""
    from nanoalloy.ms.composition import family_fractions, total_variation, x_distribution
    from nanoalloy.ms.io import read

    spec = read(Path(__file__).parent / "data" / "probe" / "m44s30_m44s27_r8200_800mz.csv")
    res = assign(spec, replicates=0)
    fam = family_fractions(res.species)
    assert fam.get("M44S27", 0.0) == pytest.approx(0.418, abs=0.05), fam
    assert fam.get("M44S30", 0.0) == pytest.approx(0.582, abs=0.05), fam
    truth = {7: 0.100, 8: 0.171, 9: 0.204, 10: 0.192, 11: 0.141, 12: 0.081, 13: 0.037}
    truth |= {5: 0.014, 6: 0.037, 14: 0.013}
    got = x_distribution(res.species, "M44S30")
    assert total_variation(got, pd.Series(truth, dtype=float)) < 0.1
    assert res.r2 > 0.98, res.r2  # the envelopes are the ions', not the baseline's


def test_a_window_no_cluster_ion_of_the_preset_reaches_says_so() -> None:
    """A stranger's 400-1000 m/z spectrum with an Au25 preset: "no clusters found" alone
    did not say that no ion of the preset can stand there."""
    rng = np.random.default_rng(1)
    x = np.linspace(400.0, 1000.0, 20_000)
    y = 50.0 + rng.normal(0, 1.0, x.size).clip(-40, 40)
    res = assign(Spectrum(x, y), preset="au25ag-sr18", resolution=20_000)
    assert not res.found
    assert "no cluster ion of preset 'au25ag-sr18' falls in m/z 400-1000" in res.message
    assert "span m/z" in res.message


def test_cli_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    syn = synthesize(
        _pops({"M44S30": {11: 0.4, 12: 0.6}}),
        mz_range=(2200.0, 2700.0),
        resolution=20_000,
        calibration_ppm=10.0,
        seed=2,
    )
    path = tmp_path / "spec.csv"
    write_csv(syn.spectrum, path)
    out = tmp_path / "result"
    assert cli.main(["assign", str(path), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["clusters_found"] is True
    assert {p.name for p in out.iterdir()} == {
        "species.csv",
        "ions.csv",
        "families.csv",
        "instrument.json",
        "spectrum.png",
        "fit.csv",
        "report.html",
    }
    assert summary["instrument"]["peak_shape"] == "gaussian"
    assert summary["instrument"]["resolution"] == pytest.approx(20_000, rel=0.1)
    assert json.loads((out / "instrument.json").read_text())["peak_shape"] == "gaussian"
    assert "peak_shape" in (out / "report.html").read_text()
    fit = pd.read_csv(out / "fit.csv")
    assert list(fit.columns) == ["mz", "intensity", "model"] and 1000 < len(fit) <= 20_000
    assert "Assignment result" in (out / "report.html").read_text()
    sp = pd.read_csv(out / "species.csv")
    for col in ("species", "family", "au", "ag", "ligands", "core_charge", "electrons"):
        assert col in sp.columns
    assert sp.loc[sp["family"] == "M44S30", "abundance"].sum() == pytest.approx(1.0, abs=0.03)
    ions = pd.read_csv(out / "ions.csv")
    assert {"ion", "species", "charge", "mz", "ppm_error", "intensity"} <= set(ions.columns)
    fams = pd.read_csv(out / "families.csv").set_index("family")
    assert fams.loc["M44S30", "fraction"] > 0.97
    assert 11 <= fams.loc["M44S30", "mean_x"] <= 12


def _m44s30_window() -> Spectrum:
    """M44S30 x 11-12 over 2200-2700 m/z at R 20,000 (seed 2)."""
    return synthesize(
        _pops({"M44S30": {11: 0.4, 12: 0.6}}), mz_range=(2200.0, 2700.0), resolution=20_000, seed=2
    ).spectrum


def test_cli_says_once_that_baseline_noise_below_zero_was_clipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a baseline-subtracted export: noise of sd 0.1 % of the largest around zero
    s = _m44s30_window()
    top = float(s.intensity.max())
    y = s.intensity - 0.002 * top + np.random.default_rng(4).normal(0.0, 1e-3 * top, len(s))
    n_neg = int((y < 0).sum())
    assert n_neg > 100 and y.min() > -0.05 * top
    path = tmp_path / "sub.csv"
    path.write_text(
        "mz,intensity\n"
        + "".join(f"{a!r},{b!r}\n" for a, b in zip(s.mz.tolist(), y.tolist(), strict=True))
    )
    out = tmp_path / "r"
    assert cli.main(["assign", str(path), "--out", str(out), "--no-plot", "--no-report"]) == 0
    err = capsys.readouterr().err.splitlines()
    said = [line for line in err if "negative intensities" in line]
    assert said == [
        f"nanoalloy assign: {n_neg} small negative intensities (baseline noise, above -5% of "
        "the largest or -6 times the noise) set to 0"
    ]
    assert "Traceback" not in "\n".join(err)
    fams = pd.read_csv(out / "families.csv").set_index("family")
    assert fams.loc["M44S30", "fraction"] > 0.97


def _au25_and_au38() -> Spectrum:
    """[Au25(PET)18]- and [Au38(PET)24]- of equal height, made with their own presets."""
    kw = dict(mz_range=(7000.0, 11000.0), resolution=15_000, polarity="negative", seed=None)
    a, b = (
        synthesize(
            pd.DataFrame({"family": [fam], "species": [label], "fraction": [1.0]}),
            preset=preset,
            **kw,  # type: ignore[arg-type]
        ).spectrum
        for fam, label, preset in (
            ("Au25-xAgx", "[Au25(PET)18]-", "au25-sr18"),
            ("Au38-xAgx", "[Au38(PET)24]-", "au38-sr24"),
        )
    )
    assert np.array_equal(a.mz, b.mz)
    y = a.intensity / a.intensity.max() + b.intensity / b.intensity.max()
    y = y + 0.01 + np.random.default_rng(1).normal(0.0, 2e-3, y.size)
    return Spectrum(a.mz, np.clip(y, 0.0, None))


def test_cli_says_which_scan_of_a_multi_scan_file_it_assigned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nanoalloy.ms.io import write_mzml

    s = _m44s30_window()
    path = tmp_path / "tc.mzML"
    write_mzml(
        [Spectrum(s.mz, s.intensity, {"rt_min": t, "polarity": "negative"}) for t in (0, 5, 9)],
        path,
    )
    out = tmp_path / "r"
    argv = ["assign", str(path), "--out", str(out), "--no-plot", "--no-report"]
    assert cli.main([*argv, "--resolution", "20000"]) == 0
    said = [ln for ln in capsys.readouterr().err.splitlines() if "scans" in ln]
    assert len(said) == 1, said
    assert "holds 3 scans; assigned scan 0 at 0 min" in said[0]
    assert "--scan N" in said[0] and "--time MIN" in said[0] and "nanoalloy series" in said[0]


def test_a_fit_leaving_much_of_the_signal_unexplained_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lone_au25: Assignment
) -> None:
    # au25-sr18 holds no Au38: half of the signal stands unexplained
    spec = _au25_and_au38()
    res = assign(spec, preset="au25-sr18", polarity="negative")
    assert res.r2 < 0.7
    assert res.species["species"].tolist() == ["[Au25(PET)18]-"]
    assert res.message == (
        f"the model explains only {res.r2:.0%} of the signal (R^2 {res.r2:.2f}): ions outside "
        "the preset 'au25-sr18'? try `nanoalloy preset check` or another preset"
    )
    # a fit that explains its spectrum says nothing
    assert lone_au25.r2 > 0.9 and lone_au25.message == ""
    # the command prints it, one line
    path = tmp_path / "mix.csv"
    write_csv(spec, path)
    argv = ["assign", str(path), "--preset", "au25-sr18", "--polarity", "negative"]
    assert cli.main([*argv, "--out", str(tmp_path / "r"), "--no-plot", "--no-report"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [e for e in err if "R^2" in e] == [f"nanoalloy assign: {res.message}"]


def test_a_right_fit_on_a_sloping_baseline_is_not_called_unexplained() -> None:
    """Au25(PET)18- and its Ag alloys, 7000-7600, apex S/N ~20 on a baseline of 15 % of the
    apex rising by 30 % across the window (a stranger's probe: R^2 -0.10 and "ions outside
    the preset?" for a right fit; the opening, wider than the window, leaves the ramp and
    the rows no ion reaches counted it as unexplained)."""
    pops = pd.DataFrame(
        {"family": ["Au25-xAgx"] * 3, "fraction": [0.3, 0.4, 0.3],
         "species": ["[Au24Ag(PET)18]-", "[Au23Ag2(PET)18]-", "[Au22Ag3(PET)18]-"]}
    )  # fmt: skip
    syn = synthesize(
        pops, preset="au25-sr18", mz_range=(7000.0, 7600.0), resolution=25_000, seed=2,
        polarity="negative",
    )  # fmt: skip
    spec = syn.spectrum
    apex = float(spec.intensity.max())
    ramp = 0.15 * apex * (1.0 + 0.3 * (spec.mz - 7000.0) / 600.0)
    noise = np.random.default_rng(3).normal(0.0, apex / 20.0, spec.mz.size)
    res = assign(
        Spectrum(spec.mz, np.clip(spec.intensity + ramp + noise, 0.0, None)),
        preset="au25-sr18",
        polarity="negative",
    )
    assert "explains only" not in res.message
    assert res.r2 > 0.3  # noise holds the rest (-2.94 before: the ramp counted as unexplained)
    assert res.rmse < 1.5 * res.noise
    # the low R^2 is still said, as noise (a clean digitised trace would be a misfit)
    assert res.r2 < 0.9
    assert "the rest at the noise level read from the data" in res.message
    got = dict(zip(res.species["x"], res.species["abundance"], strict=True))
    truth = dict(zip(syn.truth["x"], syn.truth["abundance"], strict=True))
    assert 0.5 * sum(abs(got.get(x, 0.0) - truth.get(x, 0.0)) for x in truth | got) < 0.1


def test_cli_csv_with_overlapping_isotope_peaks_needs_no_resolution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 4- ions at R = 12 000: isotope peaks 0.25 apart, FWHM 0.21, so no FWHM can be read,
    # and a CSV says nothing about the instrument; R comes from the valley depths
    truth = {6: 0.3, 7: 0.5, 8: 0.2}
    syn = synthesize(_pops({"M44S30": truth}), mz_range=(2440.0, 2660.0), resolution=12_000, seed=5)
    path = tmp_path / "spec.csv"
    write_csv(syn.spectrum, path)
    assert cli.main(["assign", str(path), "--out", str(tmp_path / "r"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resolution"] == pytest.approx(12_000, rel=0.08)
    sp = pd.read_csv(tmp_path / "r" / "species.csv")
    got = sp[sp["family"] == "M44S30"].set_index("au")["abundance"]
    xs = set(truth) | set(got.index)
    tv = 0.5 * sum(abs(got.get(x, 0.0) - truth.get(x, 0.0)) for x in xs)
    assert tv <= 0.05


BAD = {
    "empty": b"",
    "garbage": bytes(range(256)) * 8,
    "one_column": b"1000.0\n1001.0\n1002.0\n",
    "nan": b"1000.0,1.0\n1000.1,nan\n1000.2,3.0\n",
    "inf": b"1000.0,1.0\n1000.1,inf\n1000.2,3.0\n",
    "negative": b"1000.0,1.0\n1000.1,-5\n1000.2,3.0\n",
    "unsorted": b"1000.2,1.0\n1000.1,2.0\n1000.0,3.0\n",
    "duplicate": b"1000.0,1.0\n1000.0,2.0\n1000.2,3.0\n",
    "truncated_mzml": b'<?xml version="1.0"?>\n<mzML xmlns="http://psi.hupo.org/ms/mzml"><run><spectrumList',
    "too_short": b"1000.0,1.0\n1000.1,2.0\n1000.2,3.0\n",
}


@pytest.mark.parametrize("name", list(BAD))
def test_cli_bad_input_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    suffix = ".mzML" if "mzml" in name else ".csv"
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(BAD[name])
    out = tmp_path / "out"
    assert cli.main(["assign", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("nanoalloy assign: error:") and "\n" not in err
    assert not out.exists()


def test_cli_no_cluster_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    x = np.linspace(1500.0, 2500.0, 40_000)
    path = tmp_path / "flat.csv"
    write_csv(Spectrum(x, 10 + rng.random(x.size)), path)
    out = tmp_path / "out"
    assert cli.main(["assign", str(path), "--out", str(out), "--resolution", "20000"]) == 0
    err = capsys.readouterr().err
    assert "no clusters found" in err
    # and which preset was searched, with the way to another (the default is Au44/Ag44)
    assert "searched preset 'auag44-pmba'" in err and "nanoalloy preset list" in err
    assert pd.read_csv(out / "species.csv").empty


def test_assignment_views(runs: dict[str, tuple[SynthResult, Assignment]], tmp_path: Path) -> None:
    syn, res = runs["au_rich"]
    model = res.model
    assert model.shape == syn.spectrum.intensity.shape
    assert np.allclose(res.residual, syn.spectrum.intensity - model)
    assert "<b>Assignment</b>" in res._repr_html_()
    res.plot(tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 10_000
    summary = res.summary()
    json.dumps(summary, allow_nan=False)


# Two faults of the fit itself, shown where nothing else can hide them: noise-free
# spectra, the resolving power given and the axis exact (calibrate=False). Before the
# fixes both came back at TV 0.17-0.19.
_PLAIN = ESIModel(fragment_share=0.0, complex_share=0.0, halide_weights=(1.0,))


def _exact_fit(pops: dict[str, dict[int, float]], **kw: object) -> float:
    syn = synthesize(_pops(pops), seed=None, model=_PLAIN, points_per_fwhm=8.0, **kw)  # type: ignore[arg-type]
    s = syn.spectrum
    res = assign(
        Spectrum(s.mz, s.intensity),
        calibrate=False,
        resolution=float(kw["resolution"]),  # type: ignore[arg-type]
        peak_shape="gaussian",
        fragments=False,
        complexes=False,
    )
    fam = next(iter(pops))
    return total_variation(x_distribution(res.species, fam), x_distribution(syn.truth, fam))


def test_ions_cut_by_the_window_edge_keep_their_scale() -> None:
    # M44S26's 7- ions straddle 1800 m/z: normalised on the grid, the cut ones were
    # inflated and the fit moved x to make up for it
    pops = {"M44S26": {39: 0.1, 40: 0.3, 41: 0.3, 42: 0.2, 43: 0.1}}
    assert _exact_fit(pops, mz_range=(1800.0, 3800.0), resolution=30_000.0) <= 0.01


def test_unresolved_envelopes_keep_their_floor() -> None:
    # R 10,000: Ag-rich 4- envelopes overlap into one 150 m/z hump, whose floor a
    # 100 m/z baseline opening took away (the non-negative hats cannot give it back)
    pops = {"M44S30": {8: 0.1, 9: 0.17, 10: 0.22, 11: 0.23, 12: 0.18, 13: 0.1}}
    assert _exact_fit(pops, mz_range=(1800.0, 3800.0), resolution=10_000.0) <= 0.01


def test_faint_species_are_reported_where_their_sd_and_an_x_neighbour_back_them() -> None:
    from nanoalloy.ms.assign.tables import _detected

    sp = pd.DataFrame(
        {
            "species": ["a", "b", "c", "d", "e", "f"],
            "family": ["M44S30", "M44S30", "M44S30", "M44S30", "M44S27", "fragment"],
            "x": [12, 13, 11, 15, 20, 12],
            "abundance": [0.60, 0.006, 0.002, 0.004, 0.388, 0.05],
            "abundance_sd": [0.01, 0.001, 0.001, 0.0005, 0.01, 0.01],
            "_faint": [False, True, True, True, False, False],
        }
    )
    out = _detected(sp, 3.0)
    # b: 6 sd and next to a -> kept; c: next to a but 2 sd -> dropped; d: 8 sd but
    # x = 15 has no loud neighbour (14 and 16 absent) -> dropped
    assert out["species"].tolist() == ["a", "b", "e", "f"]
    cluster = ~out["family"].isin(["fragment", "complex"])
    assert out.loc[cluster, "abundance"].sum() == pytest.approx(1.0)
    assert "_faint" not in out.columns
    scale = 1.0 / (0.60 + 0.006 + 0.388)
    assert out["abundance_sd"].iloc[0] == pytest.approx(0.01 * scale)


def test_faint_tails_of_an_x_distribution_are_reported_whatever_their_sd() -> None:
    """A family with three or more species above the limit shows a distribution: its
    faint x neighbours are its tails, kept at 1 sd (cutting them biased an independent
    generator's M44S27 by TV 0.12); a family of one loud species still needs 3 sd."""
    from nanoalloy.ms.assign.tables import _detected

    sp = pd.DataFrame(
        {
            "species": ["a", "b", "c", "d", "e", "f", "g"],
            "family": ["M44S27"] * 5 + ["M44S30"] * 2,
            "x": [19, 20, 21, 18, 23, 10, 11],
            "abundance": [0.2, 0.3, 0.2, 0.01, 0.01, 0.27, 0.01],
            "abundance_sd": [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01],
            "_faint": [False, False, False, True, True, False, True],
        }
    )
    out = _detected(sp, 3.0)
    # d: the tail of a, b, c -> kept; e: x = 23 has no loud neighbour (22 absent);
    # g: next to f, but f is its family's only loud species and g is 1 sd -> dropped
    assert out["species"].tolist() == ["a", "b", "c", "d", "f"]
    assert out["abundance"].sum() == pytest.approx(1.0)


def test_a_trace_at_the_edge_of_an_x_distribution_is_kept() -> None:
    """The demo's 3:1 course at 30 min: M44S30 (13 % of the signal) holds x = 12, 13, 14 at
    0.093, 0.033 and 0.006. x = 14's tallest peak stands below 3 x noise; left out (and with
    the fit stopped before the alternation converged) the family's x distribution was TV 0.063
    off its simulated truth."""
    from nanoalloy.demo import DemoSettings, _simulate, _spectrum
    from nanoalloy.ms.composition import total_variation, x_distribution

    st = DemoSettings()
    pops = _simulate((st.course_ratio, st.hours, (0.5,)))
    syn = _spectrum(pops, st, len(st.ratios) + st.course_minutes.index(30.0), time_min=30.0)
    res = assign(syn.spectrum, preset=st.preset)
    got = x_distribution(res.species, "M44S30")
    assert got.get(14, 0.0) > 0
    assert total_variation(got, x_distribution(syn.truth, "M44S30")) <= 0.05


def test_baseline_share_reads_the_hats_where_the_signal_stands() -> None:
    """The baseline rival's measure (pipeline._baseline_share): the share of the signal
    above the opening that the hats take where the signal stands (> 5 % of its top). A
    hump under the envelopes holding half of them reads ~0.5 (the rival is tried above
    BASELINE_SHARE); a small flat baseline beside sparse peaks reads little, whatever its
    area over the whole window."""
    from types import SimpleNamespace

    from nanoalloy.ms.assign.pipeline import BASELINE_SHARE, _baseline_share

    x = np.linspace(2000.0, 2800.0, 8001)
    peaks = sum(np.exp(-0.5 * ((x - c) / 0.3) ** 2) for c in (2200.0, 2400.0, 2600.0))
    opening = np.full(x.size, 0.01)
    on = peaks > 0.05
    hump = np.where(on, peaks, 0.0)  # the hats took the envelopes: half of what stands

    def share(hats: np.ndarray, y: np.ndarray) -> float:
        res = SimpleNamespace(
            spectrum=SimpleNamespace(mz=x, intensity=y), _render=(None, None, None, opening + hats)
        )
        return _baseline_share(res, x, hats)  # type: ignore[arg-type]

    blurred = share(hump, 2.0 * peaks + opening)
    assert blurred == pytest.approx(0.5, abs=0.02) and blurred > BASELINE_SHARE
    flat = np.full(x.size, 0.002)
    assert share(flat, peaks + opening + flat) < 0.02


def test_cli_says_where_the_results_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stranger's walk through the README: `nanoalloy assign` printed nothing on success,
    so a new user did not learn where the results went. One line on stdout names the
    folder, the families and the report (none with --json, whose stdout is the JSON)."""
    syn = synthesize(
        _pops({"M44S30": {11: 0.4, 12: 0.6}}), mz_range=(2200.0, 2700.0), resolution=20_000, seed=2
    )
    path = tmp_path / "spec.csv"
    write_csv(syn.spectrum, path)
    out = tmp_path / "r"
    assert cli.main(["assign", str(path), "--out", str(out), "--no-plot"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Wrote {out}:"), lines
    assert "M44S30 1.00" in lines[0] and str(out / "report.html") in lines[0]


def test_a_charge_state_the_preset_does_not_list_is_found() -> None:
    """M44S26 alone in 2000-2800 m/z with 12 % of its ions at 5-, a charge state the preset
    does not list (3-, 6-, 7-, 8-), pseudo-Voigt eta 0.20, R 9,801, -35 ppm: a seventh
    stranger's IsoSpecPy generator (/work/probe_J case c21; tests/data/SOURCES.md). Fitted
    with the listed charge states only, the 5- ions went to a false M44S30 (0.30); looked
    for where the M44S26 found at 6- would stand at 5-, they are M44S26's, and the message
    says the preset lacks them."""
    from nanoalloy.ms.io import read

    spec = read(Path(__file__).parent / "data" / "probe" / "m44s26_5minus_offpreset_800mz.csv")
    listed = assign(spec, replicates=0, search_charges=False)
    assert family_fractions(listed.species).get("M44S30", 0.0) > 0.1  # the decoy
    assert "does not list" not in listed.message
    res = assign(spec, replicates=0)
    fam = family_fractions(res.species)
    assert fam.get("M44S30", 0.0) < 0.01, fam
    truth = {37: 0.016, 38: 0.124, 39: 0.351, 40: 0.360, 41: 0.131, 42: 0.017}
    got = x_distribution(res.species, "M44S26")
    assert total_variation(got, pd.Series(truth, dtype=float)) < 0.05, got
    ions = res.ions[res.ions["family"] == "M44S26"]
    at5 = float(ions.loc[ions["charge"] == -5, "intensity"].sum()) / float(ions["intensity"].sum())
    assert at5 > 0.05, at5
    assert "M44S26 at 5-" in res.message and "does not list" in res.message, res.message
    assert res.r2 > listed.r2


def test_a_na_ladder_cut_by_the_preset_is_fitted_deeper() -> None:
    """A pure [Ag44(p-MBA)30]4- with a Poisson Na+ ladder of mean 3.5 (rungs to ~10; an
    independent IsoSpecPy generator, pseudo-Voigt, R 15,000, -20 ppm), assigned with the
    preset ``nanoalloy preset new`` writes (max_na 6): the rungs beyond 6 went to a false
    Au1Ag43 (+4 Na+ ~ one Au/Ag swap) of 0.10 +- 0.02, with no word. Fitted deeper, the
    sample is pure Ag44 again and the message says the preset cut the ladder."""
    from nanoalloy.ms.assign.ladders import truncated_ladders
    from nanoalloy.ms.io import read
    from nanoalloy.ms.library import load_preset

    probe = Path(__file__).parent / "data" / "probe"
    spec = read(probe / "ag44_pmba_4minus_na_poisson35_80mz.csv")
    preset = probe / "presets" / "ag44-pmba-max-na6.toml"
    cut = assign(spec, preset=preset, replicates=0, search_ladders=False)
    ab = dict(zip(cut.species["species"], cut.species["abundance"], strict=True))
    assert ab.get("Au1Ag43(p-MBA)30", 0.0) > 0.05, ab  # the decoy
    assert truncated_ladders(cut, load_preset(preset)) == {"ag44-p-mba-30": 10}
    res = assign(spec, preset=preset, replicates=0)
    ab = dict(zip(res.species["species"], res.species["abundance"], strict=True))
    assert ab.get("Ag44(p-MBA)30", 0.0) > 0.98, ab
    assert res.ions["na"].max() > 6
    assert "max_na" in res.message and "fitted to 10 Na+" in res.message, res.message
    assert res.r2 > cut.r2


def test_a_long_na_ladder_is_deepened_until_the_data_stop_wanting_it() -> None:
    """A pure [Au43Ag1(p-MBA)26]4- with a Poisson Na+ ladder of mean 5.5 (an eleventh
    stranger's IsoSpecPy generator, 3080-3260 m/z, R 25,000, -5 ppm), preset max_na 4:
    deepened once (to 8), the rungs beyond 8 went to a false Au44 of 0.15 +- 0.04; deepened
    while the last rung stays strong, the sample is pure Au43Ag1 again."""
    from nanoalloy.ms.io import read

    probe = Path(__file__).parent / "data" / "probe"
    spec = read(probe / "au43ag1_pmba_4minus_na_poisson55_180mz.csv")
    res = assign(spec, preset=probe / "presets" / "au44ag-pmba-max-na4.toml", replicates=0)
    ab = dict(zip(res.species["species"], res.species["abundance"], strict=True))
    assert ab.get("Au43Ag1(p-MBA)26", 0.0) > 0.97, ab
    assert res.ions["na"].max() > 8
    assert "fitted to 12 Na+" in res.message, res.message


def test_deeper_ladders_tried_only_where_the_last_rung_is_strong() -> None:
    """The trigger reads the fitted rungs: strong at max_na (a Poisson ladder of mean 3.5 cut
    at 6) triggers, a ladder fading well before it (the benchmark's) does not; the preset
    copy is deeper for that family only, its candidate cap lifted."""
    from nanoalloy.ms.assign.ladders import DEEPEN, TOP_SHARE, truncated_ladders, with_ladders
    from nanoalloy.ms.library import load_preset

    p = load_preset("auag44-pmba")
    deeper = with_ladders(p, {"M44S27": 14})
    assert deeper.family("M44S27").max_na == 14
    assert deeper.family("M44S30") == p.family("M44S30")
    assert deeper.max_candidates > p.max_candidates
    assert DEEPEN >= 4 and 0.0 < TOP_SHARE < 1.0
    pops = pd.DataFrame({"family": ["M44S30"] * 3, "au": [10, 11, 12], "fraction": [0.3, 0.4, 0.3]})
    spec = synthesize(pops, mz_range=(2200, 2700), resolution=20000, seed=3).spectrum
    res = assign(spec, resolution=20000, replicates=0, search_ladders=False)
    assert truncated_ladders(res, p) == {}


def test_unlisted_charge_states_tried() -> None:
    """The charge states tried: the gaps between the listed ones and one step beyond, the
    preset copy with them added (weights appended, the candidate cap lifted)."""
    from nanoalloy.ms.assign.charges import ADDED_WEIGHT, _candidates, with_charges
    from nanoalloy.ms.library import load_preset

    assert _candidates({3, 6, 7, 8}) == [2, 4, 5, 9]
    assert _candidates({1}) == [2]
    p = load_preset("auag44-pmba")
    wider = with_charges(p, {"M44S26": (-5,)})
    fam = wider.family("M44S26")
    assert fam.ion_charges == (-3, -6, -7, -8, -5)
    assert fam.charge_weights[-1] == pytest.approx(ADDED_WEIGHT * 0.1)
    assert wider.family("M44S30") == p.family("M44S30")
    assert wider.max_candidates > p.max_candidates


def test_no_charge_search_reaches_the_assigner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--no-charge-search`` is passed on as ``search_charges=False`` (default True)."""
    import nanoalloy.ms.assign.pipeline as pipeline

    seen: list[bool] = []

    def fake(spectrum: Spectrum, /, **kw: object) -> Assignment:
        seen.append(bool(kw["search_charges"]))
        raise SystemExit(0)

    monkeypatch.setattr(pipeline, "assign", fake)
    x = np.linspace(2000.0, 2100.0, 2000)
    path = tmp_path / "s.csv"
    write_csv(Spectrum(x, 1.0 + np.exp(-0.5 * ((x - 2050.0) / 0.1) ** 2)), path)
    for extra in ([], ["--no-charge-search"]):
        with pytest.raises(SystemExit):
            cli.main(["assign", str(path), "--out", str(tmp_path / "o"), *extra])
    assert seen == [True, False]


CURVED = {  # scripts/assign_midwindows.py --seed 21 --widths 120,250,500, case 08
    "M44S30": {8: 0.062, 9: 0.1255, 10: 0.1961, 11: 0.2368, 12: 0.2207, 13: 0.1589},
    "M44S27": {20: 0.0186, 21: 0.1681, 22: 0.4316, 23: 0.3154, 24: 0.0656},
    "M44S26": {39: 0.0148, 40: 0.0867, 41: 0.2468, 42: 0.3428, 43: 0.2322, 44: 0.0767},
}


@pytest.mark.parametrize(("cubic", "slope_free"), [(True, False), (False, True), (False, False)])
def test_a_curved_baseline_is_not_filled_by_a_near_isobaric_family(
    monkeypatch: pytest.MonkeyPatch, cubic: bool, slope_free: bool
) -> None:
    """A 120 m/z window of M44S27 3- ions over a baseline decaying e-fold in 30 m/z.

    On straight baseline pieces 50 m/z long the misfit (up to 1.7 % of the tallest
    peak) was filled by M44S26 with 8 Na+ more (one SR against 7 Na+ - 8 H+, ~9 ppm
    away): the whole window went to M44S26, sd 0 (now 0.46 of it: the ``fragments`` prior
    takes out the isobaric fragments, 0.70 of the cluster signal without it, and the
    instrument is searched again without them). Cubic B-splines follow the baseline and
    M44S27 stands alone, at its calibration (-29.3 ppm) and resolving power. The decoy
    also needed a calibration slope walked over the 120 m/z (an m/z ratio of 1.03, too
    narrow to pin one: no slope is fitted there now); with the slope walked as before and
    straight baseline pieces it comes back.
    """
    from nanoalloy.ms.assign import calibration, design

    if not cubic:
        monkeypatch.setattr(design, "CUBIC_MIN_INTERVALS", 10**9)
    if slope_free:
        monkeypatch.setattr(calibration, "SLOPE_MIN_RATIO", 1.0)
    syn = synthesize(
        _pops(CURVED),
        mz_range=(3561.39, 3681.39),
        resolution=10_362.0,
        calibration_ppm=-29.29,
        baseline=0.05,
        seed=657,
    )
    res = assign(Spectrum(syn.spectrum.mz, syn.spectrum.intensity))
    got = family_fractions(res.species)
    if cubic:
        assert got.get("M44S27", 0.0) > 0.97
        tv = total_variation(
            x_distribution(res.species, "M44S27"), x_distribution(syn.truth, "M44S27")
        )
        assert tv < 0.05
        assert abs(res.ppm_shift - (-29.29)) < 3.0
        assert abs(res.resolution / 10_362.0 - 1.0) < 0.05
    elif slope_free:  # the decoy the cubic baseline removes (none in the truth)
        assert got.get("M44S26", 0.0) > 0.3
    else:  # straight pieces without a slope: no decoy, the calibration 4 ppm off
        assert got.get("M44S27", 0.0) > 0.97
        assert abs(res.ppm_shift - (-29.29)) < 6.0
