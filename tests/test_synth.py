"""Synthetic ESI spectra: what is put in is what the truth tables say, and it is rendered faithfully."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nanoalloy.chem.formula import parse
from nanoalloy.cli import main
from nanoalloy.errors import InputError
from nanoalloy.ms.io import read, read_series
from nanoalloy.ms.synth import ESIModel, synthesize, synthesize_series

WINDOW = (2400.0, 2750.0)


def _pops() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "family": ["M44S30", "M44S30", "M44S30", "M44S27"],
            "au": [10, 11, 12, 20],
            "ag": [34, 33, 32, 24],
            "ligands": [30, 30, 30, 27],
            "core_charge": [-4, -4, -4, -3],
            "fraction": [0.2, 0.3, 0.3, 0.2],
        }
    )


def test_truth_follows_populations() -> None:
    res = synthesize(_pops(), mz_range=(1000.0, 4000.0), resolution=15_000, seed=3)
    t = res.truth.set_index("species")
    cluster = t[~t.family.isin(["fragment", "complex"])]
    assert cluster.abundance.sum() == pytest.approx(1.0)
    assert t.loc["Au11Ag33(p-MBA)30", "abundance"] == pytest.approx(0.3, abs=1e-9)
    assert t.loc["Au20Ag24(p-MBA)27", "abundance"] == pytest.approx(0.2, abs=1e-9)
    assert set(t.family) >= {"M44S30", "M44S27", "fragment", "complex"}


def test_noise_free_rendering_integrates_to_truth() -> None:
    """Without noise, the integrated signal of an isolated ion equals its truth intensity."""
    pops = pd.DataFrame({"family": ["M44S30"], "au": [12], "fraction": [1.0]})
    model = ESIModel(
        charge_weights={"M44S30": {-4: 1.0}},
        na_mean={"M44S30": 1e-9},
        halide_weights=(1.0,),
        fragment_share=0.0,
        complex_share=0.0,
    )
    res = synthesize(
        pops, mz_range=(2580, 2630), resolution=20_000, seed=None, baseline=0.0, model=model
    )
    ion = parse("[Au12Ag32(p-MBA)30]4-")
    row = res.ions[res.ions.ion == str(ion)]
    assert len(row) == 1
    s = res.spectrum
    area = np.trapezoid(s.intensity, s.mz)
    assert area == pytest.approx(row.intensity.sum(), rel=2e-3)
    # the envelope's centroid sits at the ion's average m/z (IsoSpecPy masses)
    centroid = np.sum(s.mz * s.intensity) / np.sum(s.intensity)
    assert centroid == pytest.approx(ion.mz_average, abs=0.01)


def test_calibration_error_shifts_axis() -> None:
    pops = pd.DataFrame({"family": ["M44S30"], "au": [12], "fraction": [1.0]})
    kw = dict(mz_range=(2580.0, 2630.0), resolution=20_000, seed=None, baseline=0.0)
    a = synthesize(pops, **kw).spectrum
    b = synthesize(pops, calibration_ppm=20.0, **kw).spectrum
    ca = np.sum(a.mz * a.intensity) / a.intensity.sum()
    cb = np.sum(b.mz * b.intensity) / b.intensity.sum()
    assert (cb - ca) / ca * 1e6 == pytest.approx(20.0, abs=0.5)


def test_deterministic_for_a_seed() -> None:
    a = synthesize(_pops(), mz_range=WINDOW, seed=7).spectrum
    b = synthesize(_pops(), mz_range=WINDOW, seed=7).spectrum
    c = synthesize(_pops(), mz_range=WINDOW, seed=8).spectrum
    assert np.array_equal(a.intensity, b.intensity)
    assert not np.array_equal(a.intensity, c.intensity)
    assert np.all(a.intensity >= 0)


def test_unknown_family_is_an_error() -> None:
    pops = pd.DataFrame({"family": ["M25S18"], "au": [3], "fraction": [1.0]})
    with pytest.raises(InputError, match="M25S18"):
        synthesize(pops, mz_range=WINDOW)


def test_a_formula_with_two_core_charges_is_named_with_its_charge() -> None:
    """au25-sr18 holds [Au21Ag4(PET)18]- and its oxidised neutral: the bare formula names
    both, and the error says how to name one (it used to ask for the column it was given)."""
    pops = pd.DataFrame({"family": ["Au25-xAgx"], "species": ["Au21Ag4(PET)18"], "fraction": [1.0]})
    with pytest.raises(InputError, match=r"core charges \[-1, 0\].*'\[Au21Ag4\(PET\)18\]-'"):
        synthesize(pops, preset="au25-sr18", mz_range=(7000.0, 7100.0))
    named = pops.assign(species=["[Au21Ag4(PET)18]-"])
    syn = synthesize(named, preset="au25-sr18", mz_range=(7000.0, 7100.0), seed=None)
    assert syn.truth["core_charge"].tolist() == [-1]


def test_series_gives_scan_times() -> None:
    pops = pd.concat([_pops().assign(time_h=0.5), _pops().assign(time_h=2.0)])
    res = synthesize_series(pops, mz_range=WINDOW, seed=1)
    assert [r.spectrum.rt_min for r in res] == [30.0, 120.0]


def test_cli_csv_and_mzml(tmp_path) -> None:
    pops = pd.concat([_pops().assign(time_h=1.0), _pops().assign(time_h=3.0)])
    src = tmp_path / "populations.csv"
    pops.to_csv(src, index=False)
    csv = tmp_path / "spec.csv"
    assert (
        main(["synth", str(src), "--out", str(csv), "--mz-range", "2400:2750", "--seed", "2"]) == 0
    )
    s = read(csv)
    assert s.mz[0] >= 2400 and s.mz[-1] <= 2750 and s.intensity.max() > 0
    mzml = tmp_path / "course.mzML"
    assert (
        main(
            [
                "synth",
                str(src),
                "--out",
                str(mzml),
                "--mz-range",
                "2400:2750",
                "--resolution",
                "15000",
            ]
        )
        == 0
    )
    scans = read_series(mzml)
    assert len(scans) == 2 and [sc.rt_min for sc in scans] == pytest.approx([60.0, 180.0])


def test_cli_bad_input(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    out = tmp_path / "x.csv"
    assert main(["synth", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lacks column" in err
    assert not out.exists()


def test_simulated_time_course_feeds_synth(tmp_path) -> None:
    # simulate -> populations.csv (ODE round-off must not leak negative fractions)
    # -> synth as a multi-scan mzML with scan times -> read back as a series
    sim = tmp_path / "sim"
    assert (
        main(["simulate", "--ratio", "3:1", "--hours", "2", "--out", str(sim), "--no-report"]) == 0
    )
    pops = pd.read_csv(sim / "populations.csv")
    assert (pops["fraction"] >= 0).all()
    few = pops[pops["time_h"].isin(sorted(pops["time_h"].unique())[::30])]
    few.to_csv(tmp_path / "few.csv", index=False)
    out = tmp_path / "tc.mzML"
    assert main(["synth", str(tmp_path / "few.csv"), "--out", str(out), "--seed", "1"]) == 0
    series = read_series(out)
    assert len(series) == few["time_h"].nunique()


def test_round_off_negatives_are_zero_real_negatives_are_errors(tmp_path, capsys) -> None:
    ok = pd.DataFrame({"family": ["M44S30"] * 2, "au": [5, 6], "fraction": [1.0, -1e-19]})
    ok.to_csv(tmp_path / "ok.csv", index=False)
    assert main(["synth", str(tmp_path / "ok.csv"), "--out", str(tmp_path / "a.csv")]) == 0
    bad = ok.assign(fraction=[1.0, -0.2])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    capsys.readouterr()
    assert main(["synth", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "b.csv")]) == 1
    assert "must be finite and >= 0" in capsys.readouterr().err
    assert not (tmp_path / "b.csv").exists()


def test_a_count_that_is_not_a_whole_number_is_refused(tmp_path, capsys) -> None:
    """``au = 5.5`` was synthesised as au = 5, and a row with an empty ``au`` was dropped
    with its fraction: both silent misreads of a populations table."""
    for body, message in (
        ("M44S30,5.5,1\n", "line 2: au = '5.5' is not a whole number of atoms"),
        ("M44S30,5,1\nM44S30,,1\n", "line 3: no 'au' (an empty cell)"),
        ("M44S30,5,1\nM44S30,six,1\n", "line 3: au = 'six' is not a whole number of atoms"),
    ):
        path = tmp_path / "pops.csv"
        path.write_text("family,au,fraction\n" + body)
        out = tmp_path / "s.csv"
        assert main(["synth", str(path), "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not out.exists()


def test_synth_options_that_leave_no_spectrum_are_usage_errors(tmp_path, capsys) -> None:
    """``--mz-range 100:200`` wrote a spectrum of noise alone ("0 ions", exit 0);
    ``--calibration-ppm nan`` failed as "m/z holds a non-finite value", ``--seed -1`` as
    numpy's "expected non-negative integer": one line naming the option, exit 2, no file."""
    pops = tmp_path / "pops.csv"
    pops.write_text("family,au,fraction\nM44S30,5,1\n")
    for extra, message in (
        (["--mz-range", "100:200"], "no ion of these populations falls in --mz-range 100:200"),
        (["--calibration-ppm", "nan"], "--calibration-ppm must be within +-1000 ppm"),
        (["--seed", "-1"], "--seed must be >= 0"),
    ):
        for name in ("s.csv", "s.mzML"):
            out = tmp_path / name
            assert main(["synth", str(pops), "--out", str(out), *extra]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and message in err, err
            assert not out.exists()


def test_synth_and_pattern_keep_an_existing_file_and_find_the_ions_window(tmp_path, capsys) -> None:
    """A stranger's `pattern ... --out ag44.csv` replaced their profile CSV, and `synth` of an
    Au25(PET)18 1- preset (m/z ~7,400) failed on the default window 400:4500 in the README's
    own test loop. An existing --out is kept unless --force; without --mz-range the window
    goes where the ions are when none falls in the default."""
    spectrum = tmp_path / "mine.csv"
    spectrum.write_text("mz,intensity\n1,2\n")
    argv = ["pattern", "[Au25(PET)18]-", "--out", str(spectrum)]
    assert main(argv) == 1
    assert "exists" in capsys.readouterr().err
    assert spectrum.read_text() == "mz,intensity\n1,2\n"
    assert main([*argv, "--force"]) == 0
    assert spectrum.read_text() != "mz,intensity\n1,2\n"
    preset = tmp_path / "my.toml"
    assert main(["preset", "new", "[Au25(PET)18]-", "--dope", "Ag:0-4", "--out", str(preset)]) == 0
    pops = tmp_path / "pops.csv"
    pops.write_text("family,species,fraction\nau25-pet-18,Au25(PET)18,1\n")
    out = tmp_path / "au25.csv"
    capsys.readouterr()
    assert main(["synth", str(pops), "--preset", str(preset), "--out", str(out)]) == 0
    assert "simulated 7" in capsys.readouterr().out
    mz = np.loadtxt(out, delimiter=",", skiprows=1)[:, 0]
    assert mz.min() < 7394.0 < mz.max()  # [Au25(PET)18]- average m/z 7394.0 (its formula)
    assert main(["synth", str(pops), "--preset", str(preset), "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
