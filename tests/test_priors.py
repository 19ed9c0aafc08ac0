"""Chemistry priors of the model selection: each one scored by hand and shown removing its decoy.

Decoys on synthetic spectra (:func:`nanoalloy.ms.synth.synthesize`, blind preset
``auag44-pmba``): an M44S27-only sample where a near-isobaric M44S26 family takes a few
per cent of the signal when the priors are off (M44S26 3- with a deep Na+ ladder sits
~0.1 Da from M44S27 3- with a shallower one). The Au25 cases use small presets written
here: ``[Au25(SR)17+7Na-13H]6-`` against ``[Au25(SR)18-5H]6-`` (one SR = 153.0 Da
against 7 Na - 8 H = 152.9 Da) and Au25(SR)18 with core charge -1 (8 electrons)
against 0 (7 electrons), one H apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from _draws import populations
from nanoalloy import cli
from nanoalloy.errors import InputError
from nanoalloy.ms.assign import assign
from nanoalloy.ms.assign.candidates import _Problem
from nanoalloy.ms.assign.priors import PRIORS, _ladder_score, check_priors, family_scores
from nanoalloy.ms.library import enumerate_candidates, load_preset
from nanoalloy.ms.spectrum import Spectrum
from nanoalloy.ms.synth import synthesize

AU25 = """
name = "au25-test"
description = "Au25(SR)18 (core -1), its SR-less near-isobar (core 0) and its 7-electron state"
ligand = "p-MBA"
metals = ["Au", "Ag"]
n_metals = 25

[[family]]
name = "Au25S18"
ligands = 18
core_charge = -1
x = [25, 25]
ion_charges = [-4, -5, -6]
max_na = 10

[[family]]
name = "Au25S17"
ligands = 17
core_charge = 0
x = [25, 25]
ion_charges = [-4, -5, -6]
max_na = 10

[[family]]
name = "Au25S18ox"
ligands = 18
core_charge = 0
x = [25, 25]
ion_charges = [-4, -5, -6]
max_na = 10
"""


@pytest.fixture(scope="module")
def au25(tmp_path_factory: pytest.TempPathFactory) -> object:
    path = tmp_path_factory.mktemp("preset") / "au25.toml"
    path.write_text(AU25)
    return load_preset(path)


def _hand_fit(preset: object, forms: dict[tuple[str, int, int], float]) -> tuple[_Problem, dict]:
    """A problem with one Au25 species per family and the given form weights.

    ``forms`` maps (family, charge, na) to the fitted weight; every form listed is
    'visible' (an ion of it is in the problem), the others are not.
    """
    lib = enumerate_candidates(preset)
    fams = [f.name for f in lib.preset.families]
    idx, group, form, labels, form_family, weights = [], [], [], [], [], []
    groups: dict[str, int] = {}
    for f, ((fam, z, na), w) in enumerate(forms.items()):
        i = next(
            k
            for k, c in enumerate(lib.candidates)
            if c.family == fam and c.charge == z and c.na == na and c.kind == "cluster"
        )
        if fam not in groups:
            groups[fam] = len(groups)
            labels.append((lib.candidates[i].species, fam, 25))
        idx.append(i)
        group.append(groups[fam])
        form.append(f)
        form_family.append(fams.index(fam))
        weights.append(w)
    n = len(idx)
    prob = _Problem(
        np.array(idx),
        np.array(group),
        np.array(form),
        np.array(form_family),
        np.array(weights),
        labels,
        np.zeros(len(labels), dtype=bool),
        np.arange(n),
        [()] * len(labels),
        frozenset(),
    )
    state = {"fit": SimpleNamespace(form=np.array(weights), ion=np.array(weights))}
    return prob, state


def test_check_priors() -> None:
    from nanoalloy.commands.assign import _PRIORS

    assert _PRIORS == PRIORS  # the CLI's --no-prior choices
    assert check_priors(None) == frozenset(PRIORS)
    assert check_priors(()) == frozenset()
    assert check_priors(["charge"]) == {"charge"}
    with pytest.raises(InputError, match="unknown prior 'smooth'"):
        check_priors(["smooth"])


@pytest.mark.parametrize(
    ("rungs", "score"),
    [
        # a Poisson ladder (mean 2): contiguous and smooth
        ({n: 2.0**n / float(np.prod(range(1, n + 1))) for n in range(11)}, 0.0),
        # a deep Poisson ladder (mean 12, Au44 6- style): its low rungs are tiny but not holes
        ({n: 12.0**n / float(np.prod(range(1, n + 1))) for n in range(21)}, 0.0),
        # 8-10 Na with 0-7 visible and empty: the whole ladder floats
        ({**dict.fromkeys(range(8), 0.0), 8: 0.3, 9: 0.4, 10: 0.3}, 1.0),
        # the same with the low rungs outside the window (not in the dict): no evidence
        ({8: 0.3, 9: 0.4, 10: 0.3}, 0.0),
        # a true ladder 0-3 and a detached blob at 8-9 carrying a fifth
        ({0: 0.3, 1: 0.3, 2: 0.1, 3: 0.1, 4: 0.0, 5: 0.0, 6: 0.0, 7: 0.0, 8: 0.1, 9: 0.1}, 0.2),
    ],
)
def test_ladder_score(rungs: dict[int, float], score: float) -> None:
    assert _ladder_score(rungs) == pytest.approx(score, abs=1e-9)


def test_na_ladder_scores_the_sr_decoy(au25: object) -> None:
    """[Au25(SR)17+7Na-13H]6- needs 0-6 Na beside it: with them visible and empty it scores 1."""
    decoy = {("Au25S17", -6, n): 0.0 for n in range(7)}
    decoy.update({("Au25S17", -6, 7): 0.5, ("Au25S17", -6, 8): 0.3, ("Au25S17", -6, 9): 0.2})
    true = {("Au25S18", -6, n): w for n, w in enumerate([0.4, 0.3, 0.2, 0.1])}
    prob, state = _hand_fit(au25, {**true, **decoy})
    scores = family_scores(prob, state, enumerate_candidates(au25), frozenset({"na_ladder"}))
    assert scores == pytest.approx({"Au25S18": 0.0, "Au25S17": 1.0})
    assert family_scores(prob, state, enumerate_candidates(au25), frozenset()) == {}


def test_charge_scores_a_single_charge_state(au25: object) -> None:
    """A family in one of two recorded charge states (>= 3 rungs each) is implausible."""
    forms = {("Au25S18", z, n): 0.0 for z in (-5, -6) for n in range(4)}
    forms.update({("Au25S18", -6, n): w for n, w in enumerate([0.4, 0.3, 0.2, 0.1])})
    prob, state = _hand_fit(au25, forms)
    lib = enumerate_candidates(au25)
    assert family_scores(prob, state, lib, frozenset({"charge"}))["Au25S18"] == pytest.approx(1.0)
    spread = dict(forms)
    spread.update({("Au25S18", -5, n): w for n, w in enumerate([0.2, 0.15, 0.1, 0.05])})
    prob, state = _hand_fit(au25, spread)
    assert family_scores(prob, state, lib, frozenset({"charge"}))["Au25S18"] == 0.0


def test_h_bookkeeping_prefers_the_closed_shell(au25: object) -> None:
    """Au25(SR)18 0 (7 e) beside Au25(SR)18 1- (8 e): one H apart on every ion; the 7 e one scores."""
    lib = enumerate_candidates(au25)
    both = {("Au25S18", -5, n): w for n, w in enumerate([0.4, 0.3, 0.2, 0.1])}
    both.update({("Au25S18ox", -5, n): w for n, w in enumerate([0.4, 0.3, 0.2, 0.1])})
    prob, state = _hand_fit(au25, both)
    scores = family_scores(prob, state, lib, frozenset({"h_bookkeeping"}))
    assert scores == {"Au25S18": 0.0, "Au25S18ox": 1.0}
    alone = {("Au25S18ox", -5, n): w for n, w in enumerate([0.4, 0.3, 0.2, 0.1])}
    prob, state = _hand_fit(au25, alone)
    # alone, a 7-electron cluster is believed (Au25(SR)18 0 is a known radical)
    assert family_scores(prob, state, lib, frozenset({"h_bookkeeping"})) == {"Au25S18ox": 0.0}


def _fixed_bins(
    mz: np.ndarray, intensity: np.ndarray, *, resolution: float, points_per_fwhm: float = 4.0
):  # type: ignore[no-untyped-def]
    """The spectrum averaged in fixed log-uniform m/z bins of ``FWHM / points_per_fwhm``:
    nanoalloy's decimation before 2026-12-06, and what a re-binned vendor export looks
    like. Over data sampled 1-3 times as finely, bins hold one sample here and two or
    three there, and the model misses the averaged apexes irregularly: the misfit some
    decoys below fill (on runs of whole samples, :func:`nanoalloy.ms.fit.decimate`, they
    do not arise at all; the priors are shown where they do)."""
    from nanoalloy.ms.fit import binned

    step = np.log1p(1.0 / (resolution * points_per_fwhm))
    k = np.floor(np.log(mz / mz[0]) / step).astype(np.intp)
    new = np.ones(k.size, dtype=bool)
    new[1:] = k[1:] != k[:-1]
    return binned(mz, intensity, np.cumsum(new) - 1)


def _gauss(centre: float, width: float, lo: int, hi: int) -> dict[int, float]:
    xs = np.arange(lo, hi + 1)
    w = np.exp(-0.5 * ((xs - centre) / width) ** 2)
    w /= w.sum()
    return {int(x): float(v) for x, v in zip(xs, w, strict=True) if v > 0.01}


def _m44s27(centre: float, resolution: float, cal: float, mz_range: tuple[float, float], seed: int):
    pops = pd.DataFrame(
        [("M44S27", x, w) for x, w in _gauss(centre, 1.5, 14, 28).items()],
        columns=["family", "au", "fraction"],
    )
    return synthesize(
        pops,
        mz_range=mz_range,
        resolution=resolution,
        calibration_ppm=cal,
        calibration_slope_ppm=-3.0,
        seed=seed,
    ).spectrum


def _families(spectrum: object, priors: tuple[str, ...]) -> dict[str, float]:
    res = assign(spectrum, priors=priors, replicates=0)
    return dict(zip(res.families["family"], res.families["fraction"], strict=True))


@pytest.mark.parametrize(
    ("prior", "case"),
    [
        # the whole range at 20,000: a decoy family (M44S30, 0.03) at one charge
        # state only, while its other ladders are recorded and empty (found by a
        # search over R, windows and seeds after the fit's window-edge and baseline
        # fixes removed the decoys of the spectra used before)
        ("charge", (20.5, 20_000.0, -1.8, (400.0, 4500.0), 27)),
        # a decoy M44S26 (7 % of the families without priors) whose x distribution is
        # not one smooth mode: x_smooth raises the share of its own signal it must
        # explain, which it does not (found by a search over random M44S27 spectra,
        # centre 16-25, calibration -10..10 ppm, 2026-12-04, third session: 8 of 11
        # had a decoy without priors, x_smooth removed 3 of the 6 above 5 %, the
        # others' are smooth and stay; the cases used before lost their decoy as the
        # instrument search changed: the decoys depend on the fit's path)
        ("x_smooth", (23.073390776882437, 20_000.0, 1.0234391160063048, (1800.0, 3800.0), 795)),
    ],
)
def test_prior_removes_its_decoy(prior: str, case: tuple) -> None:
    spectrum = _m44s27(*case)
    without = _families(spectrum, ())
    decoy = {f: v for f, v in without.items() if f != "M44S27"}
    # a decoy, without priors (0.4-0.5 % of the signal since the decimation averages
    # whole runs of samples, 0.7-7 % before: the decoys depend on the fit's path)
    assert max(decoy.values(), default=0.0) > 0.003, without
    with_prior = _families(spectrum, (prior,))
    assert set(with_prior) == {"M44S27"}, with_prior
    assert with_prior["M44S27"] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [1, 3])
def test_na_ladder_removes_the_sr_against_7na_decoy(au25: object, seed: int) -> None:
    """Au25(SR)18 alone, 4- to 6- with its Na+ ladders, 8 ppm calibration error, blind.

    Without priors a few per cent go to Au25(SR)17 with 7+ Na+ (one SR = 153.0 Da
    against 7 Na+ - 8 H+ = 152.9 Da: its ions sit ~0.1 Da from the true ones), whose
    rungs 0-6 Na+ are recorded and empty; ``na_ladder`` alone removes it (the
    ``adducts`` prior does not act here: it weighs hypotheses, not the selection).
    """
    pops = pd.DataFrame([("Au25S18", 25, 1.0)], columns=["family", "au", "fraction"])
    syn = synthesize(
        pops,
        preset=au25,  # type: ignore[arg-type]
        mz_range=(1000.0, 2500.0),
        resolution=20_000.0,
        calibration_ppm=8.0,
        seed=seed,
    ).spectrum
    meta = {k: v for k, v in syn.metadata.items() if k != "resolution"}
    spectrum = Spectrum(syn.mz, syn.intensity, metadata=meta)

    def families(priors: tuple[str, ...]) -> dict[str, float]:
        res = assign(spectrum, preset=au25, priors=priors, replicates=0)  # type: ignore[arg-type]
        return dict(zip(res.families["family"], res.families["fraction"], strict=True))

    without = families(())
    assert without.get("Au25S17", 0.0) > 0.005, without  # the decoy, without priors
    assert families(("adducts",)).get("Au25S17", 0.0) > 0.005
    assert families(("na_ladder",)) == pytest.approx({"Au25S18": 1.0})


def test_cli_no_prior(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spectrum = _m44s27(20.5, 20_000.0, -1.8, (400.0, 4500.0), 27)
    path = tmp_path / "s.csv"
    pd.DataFrame({"mz": spectrum.mz, "intensity": spectrum.intensity}).to_csv(path, index=False)
    code = cli.main(
        [
            "assign",
            str(path),
            "--out",
            str(tmp_path / "out"),
            "--no-report",
            "--no-plot",
            "--no-prior",
            "all",
            "--json",
        ]
    )
    assert code == 0
    # the priors in force are recorded (none here)
    assert json.loads(capsys.readouterr().out)["priors"] == []
    fams = pd.read_csv(tmp_path / "out" / "families.csv")
    assert set(fams["family"]) - {"M44S27"}  # a decoy stays with every prior off
    assert "fraction_sd" in fams.columns
    with pytest.raises(SystemExit) as exc:
        cli.main(["assign", str(path), "--no-prior", "smooth"])
    assert exc.value.code == 2
    assert "smooth" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("pops", "resolution", "ppf", "cal", "slope", "mz_range", "seed"),
    [
        # two single-envelope zooms of scripts/assign_sweep.py --seed 2 (4 m/z around the
        # strongest ion): without the adducts prior both came back as M44S26 with 8 Na+
        # (one SR against 7 Na+ - 8 H+, 0.135 Da) in place of M44S27 with 1 Na+ (now:
        # the first split between the two, the second M44S26 first at 0.78)
        (
            {
                "M44S30": {4: 0.1427, 5: 0.2167, 6: 0.1986, 7: 0.1098, 8: 0.0367, 9: 0.0074},
                "M44S27": {
                    **{14: 0.0169, 15: 0.0573, 16: 0.139, 17: 0.2408, 18: 0.2977},
                    **{19: 0.2628, 20: 0.1656, 21: 0.0745, 22: 0.0239},
                },
            },
            18642.0,
            4.04,
            -9.84,
            -2.05,
            (3500.597, 3504.597),
            637155,
        ),
        (
            {
                "M44S30": {10: 0.1094, 11: 0.4246, 12: 0.547, 13: 0.2339},
                "M44S27": {21: 0.0799, 22: 0.3402, 23: 0.5469, 24: 0.332},
                "M44S26": {39: 0.2981, 40: 0.4471, 41: 0.29, 42: 0.0814},
            },
            17717.0,
            6.66,
            -2.10,
            0.41,
            (3649.094, 3653.094),
            213164,
        ),
    ],
)
def test_adducts_prior_removes_the_sr_against_7na_decoy_in_a_zoom(
    pops: dict[str, dict[int, float]],
    resolution: float,
    ppf: float,
    cal: float,
    slope: float,
    mz_range: tuple[float, float],
    seed: int,
) -> None:
    table = pd.DataFrame(
        [(f, x, w) for f, d in pops.items() for x, w in d.items()],
        columns=["family", "au", "fraction"],
    )
    spectrum = synthesize(
        table,
        mz_range=mz_range,
        resolution=resolution,
        points_per_fwhm=ppf,
        calibration_ppm=cal,
        calibration_slope_ppm=slope,
        seed=seed,
    ).spectrum
    # blind, like the sweep: the resolving power fitted, not read
    meta = {k: v for k, v in spectrum.metadata.items() if k != "resolution"}
    spectrum = Spectrum(spectrum.mz, spectrum.intensity, metadata=meta)
    others = tuple(p for p in PRIORS if p != "adducts")
    without = assign(spectrum, priors=others, replicates=0)
    assert "M44S26" in set(without.families["family"]), without.families  # the decoy
    with_prior = assign(spectrum, replicates=0)
    # the fit reported is M44S27's; the decoy, which one envelope cannot rule out, stays
    # only as its ambiguity partner (a zoom's unpicked families compete there), the
    # smaller share
    assert set(with_prior.ions["family"]) == {"M44S27"}, with_prior.ions
    fam = dict(zip(with_prior.families["family"], with_prior.families["fraction"], strict=True))
    assert fam["M44S27"] > 0.5 and fam["M44S27"] > fam.get("M44S26", 0.0), fam
    sp = with_prior.species
    assert (sp.loc[sp["family"] == "M44S26", "ambiguity_group"] != "").all(), sp
    top = with_prior.ions.iloc[0]
    assert (int(top["na"]), int(top["charge"])) == (1, -3), top


def test_fragments_prior_removes_the_isobaric_fragments(monkeypatch: pytest.MonkeyPatch) -> None:
    """M44S27 3- alone in 263 m/z (x 18-24 around 20.7, Na+ ladders), Gaussian, R 12,600,
    -47 ppm with a slope, from a fourth stranger's IsoSpecPy generator (2026-12-05,
    /work/probe_F case 20; tests/data/SOURCES.md). An M43(SR)28 fragment with 2 Na+ more is
    isobaric to M44(SR)27 (Au - SR = 2 (Na - H) within 2 mDa) one x lower, and with no
    other charge state recorded the converged fit gave the fragments as much signal as the
    clusters: the x distribution off by TV 0.26. ``fragments`` holds fragments that
    outweigh the clusters to the standard of an implausible family. (On a grid averaged in
    fixed m/z bins, :func:`_fixed_bins`: on runs of whole samples the decoy does not arise.)"""
    from nanoalloy.ms.assign import pipeline
    from nanoalloy.ms.composition import total_variation, x_distribution
    from nanoalloy.ms.io import read

    monkeypatch.setattr(pipeline, "decimate", _fixed_bins)

    spec = read(Path(__file__).parent / "data" / "probe" / "m44s27_3minus_263mz.csv")
    truth = {18: 0.0109, 19: 0.0914, 20: 0.2981, 21: 0.3773, 22: 0.1854, 23: 0.0353, 24: 0.0016}

    def fit(priors: tuple[str, ...] | None) -> tuple[float, float]:
        res = assign(spec, priors=priors, replicates=0)
        sp = res.species
        frag = float(sp.loc[sp["family"] == "fragment", "abundance"].sum())
        got = x_distribution(sp, "M44S27")
        return frag, total_variation(got, pd.Series(truth, dtype=float))

    frag, tv = fit(tuple(p for p in PRIORS if p != "fragments"))
    assert frag > 0.5 and tv > 0.1, (frag, tv)  # the decoy, without this prior
    frag, tv = fit(None)
    assert frag < 0.05 and tv < 0.05, (frag, tv)


def test_fragments_prior_removes_minor_isobaric_fragments_and_their_instrument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """M44S27 3- ions alone in 120 m/z (the M44S30 + M44S27 kind of
    ``scripts/assign_midwindows.py --seed 21``, case 09), Gaussian, R 10,900, -19.5 ppm.
    Without the ``fragments`` prior the search read a 0.15 FWHM tail at R 5 % high and
    -15 ppm, and M43(SR)28 fragments with 2 Na+ more (isobaric to M44(SR)27 one x lower)
    filled its misfit at 0.37 of the cluster signal, x off by TV 0.08. With it, fragments
    the clusters re-explain go even below half the signal, and the peak shape, R and
    calibration are searched again without them. (Over these 120 m/z, an m/z ratio of 1.03, no
    calibration slope is fitted now, which alone takes the decoy to 0.13; it is shown
    with the slope walked, as it was found.)"""
    from nanoalloy.ms.assign import calibration
    from nanoalloy.ms.composition import total_variation, x_distribution

    # the script's draws at full precision (rounded to 4 decimals, the decoy takes 0.19)
    pops = {
        "M44S30": [0.04127325677891625, 0.09533904409186623, 0.16488818365378002]
        + [0.21351331421716901, 0.2070032083792365, 0.15026086293102253]
        + [0.08166413523244574, 0.03323024501871678, 0.01012400629417976],  # x = 4-12
        "M44S27": [0.012482975842278135, 0.04761189966954091, 0.1225650172342818]
        + [0.21294683649088705, 0.249706297828086, 0.19762479849725137]
        + [0.10556185798481774, 0.038056272854715086],  # x = 18-25
    }
    syn = synthesize(
        populations(pops, {"M44S30": 4, "M44S27": 18}),
        mz_range=(3561.394746611669, 3681.394746611669),
        resolution=10886.846947200198,
        calibration_ppm=-19.511155086860864,
        baseline=0.01,
        seed=380,
    )
    meta = {k: v for k, v in syn.spectrum.metadata.items() if k != "resolution"}
    spec = Spectrum(syn.spectrum.mz, syn.spectrum.intensity, metadata=meta)

    def fit(priors: tuple[str, ...] | None) -> tuple[float, float, object]:
        res = assign(spec, priors=priors, replicates=0)
        sp = res.species
        frag = float(sp.loc[sp["family"] == "fragment", "abundance"].sum())
        tv = total_variation(x_distribution(sp, "M44S27"), x_distribution(syn.truth, "M44S27"))
        return frag, tv, res

    without = tuple(p for p in PRIORS if p != "fragments")
    with monkeypatch.context() as m:
        m.setattr(calibration, "SLOPE_MIN_RATIO", 1.0)  # the slope walked, as found
        frag, tv, _ = fit(without)
    assert frag > 0.2 and tv > 0.05, (frag, tv)  # the decoy, without this prior
    frag, _, _ = fit(without)
    assert frag > 0.05, frag  # without a slope, still there without the prior
    frag, tv, res = fit(None)
    assert frag < 0.05 and tv < 0.02, (frag, tv)
    assert res.instrument is not None and res.instrument.shape == "gaussian"
    assert abs(res.resolution / 10886.8 - 1.0) < 0.01, res.resolution
    assert abs(res.ppm_shift + 19.51) < 1.0, res.ppm_shift


def test_halides_prior_removes_cl_shells_on_a_wing(monkeypatch: pytest.MonkeyPatch) -> None:
    """M44S27 alone in 2000-2800 m/z (its 4- ions, x 15-24 around 19.7, Na+ ladders; no
    chloride), pseudo-Voigt eta 0.38, R 12,076, 8.3 points per FWHM, -9.8 ppm with a slope,
    Poisson and read noise and a baseline, from a seventh stranger's IsoSpecPy generator
    (2026-12-05, /work/probe_J case c17; tests/data/SOURCES.md). Without ``halides`` the
    Lorentzian wings' misfit went to an M44S30 x 15-17 made of Cl-substituted ions (0.05
    of the signal, most of it with two Cl): its shells are tested as one set and go, and
    the family with them. (The peak shape searched again after the selection removes it
    too; it is held off here: see tests/test_instrument.py. And on a grid averaged in fixed
    m/z bins, :func:`_fixed_bins`: on runs of whole samples the decoy does not arise.)"""
    from nanoalloy.ms.assign import pipeline
    from nanoalloy.ms.io import read

    monkeypatch.setattr(pipeline, "RESHAPE_SHARE", 2.0)
    monkeypatch.setattr(pipeline, "decimate", _fixed_bins)
    spec = read(Path(__file__).parent / "data" / "probe" / "m44s27_4minus_pv038_800mz.csv")

    def fit(priors: tuple[str, ...] | None) -> tuple[float, float]:
        res = assign(spec, priors=priors, replicates=0)
        fam = dict(zip(res.families["family"], res.families["fraction"], strict=True))
        ions = res.ions[res.ions["family"] == "M44S30"]
        total = float(ions["intensity"].sum())
        cl = float(ions.loc[ions["halides"] > 0, "intensity"].sum()) / total if total else 0.0
        return float(fam.get("M44S30", 0.0)), cl

    decoy, cl = fit(tuple(p for p in PRIORS if p != "halides"))
    assert decoy > 0.03 and cl > 0.5, (decoy, cl)  # the decoy, without this prior
    decoy, _ = fit(None)
    assert decoy < 0.01, decoy
