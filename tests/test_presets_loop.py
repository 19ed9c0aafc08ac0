"""Closed loop for every shipped preset: synth -> assign -> the population within TV 0.05.

Populations cover a ternary alloy, a mixed-ligand shell, hydrides, a neutral
donor ladder, counter-ion adducts (Cs+, PPh4+) in positive mode and several core
charges; spectra carry noise, a baseline and a calibration offset.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nanoalloy.cli import main
from nanoalloy.ms.assign.pipeline import assign
from nanoalloy.ms.library import list_presets, load_preset
from nanoalloy.ms.synth import synthesize

#: name -> (preset, populations (family, species, fraction), m/z window, polarity, resolution)
CASES: dict[str, tuple[str, list[tuple[str, str, float]], tuple[float, float], str, float]] = {
    "au25-sr18 ternary + mixed shell (negative)": (
        "au25-sr18",
        [
            ("Au25-xAgx", "[Au25(PET)18]-", 0.25),
            ("Au25-xAgx", "[Au24Ag1(PET)18]-", 0.15),
            ("Au25-x-yAgxCuy", "Au22Ag2Cu1(PET)18", 0.15),
            ("Au25-x-yAgxCuy", "Au21Ag2Cu2(PET)18", 0.1),
            ("Au25-x-yAgxCuy", "Au21Ag3Cu1(PET)18", 0.1),
            ("Au25(PET)18-y(SBB)y", "Au25(PET)16(SBB)2", 0.15),
            ("Au25(PET)18-y(SBB)y", "Au25(PET)15(SBB)3", 0.1),
        ],
        (6500.0, 8000.0),
        "negative",
        20_000.0,
    ),
    "au25-sr18 PET with Cs+ (positive)": (
        "au25-sr18",
        [
            ("Au25-xAgx", "[Au25(PET)18]-", 0.4),
            ("Au25-xAgx", "[Au25(PET)18]0", 0.2),
            ("PtAu24", "[Au24Pt1(PET)18]0", 0.2),
            ("CdAu24", "Au24Cd1(PET)18", 0.2),
        ],
        (3500.0, 8200.0),
        "positive",
        20_000.0,
    ),
    "au25ag-sr18 Au25 + Ag25 products (negative)": (
        "au25ag-sr18",
        [
            ("Au25-xAgx", "[Au20Ag5(PET)18]-", 0.2),
            ("Au25-xAgx", "[Au13Ag12(PET)18]-", 0.3),
            ("Au25-xAgx", "[Au12Ag13(PET)18]-", 0.3),
            ("Au25-xAgx", "[Ag25(PET)18]-", 0.2),
        ],
        (5000.0, 7500.0),
        "negative",
        20_000.0,
    ),
    "au25-pmba hydrides and neighbours": (
        "au25-pmba",
        [
            ("Au25S18", "Au25(p-MBA)18", 0.45),
            ("Au25S18", "Au25(p-MBA)18H", 0.2),
            ("Au25S16", "Au25(p-MBA)16H", 0.1),
            ("Au24S17", "Au24(p-MBA)17", 0.1),
            ("Au26S19", "Au26(p-MBA)19", 0.15),
        ],
        (900.0, 3000.0),
        "negative",
        20_000.0,
    ),
    "au38-sr24 Cs+ (positive)": (
        "au38-sr24",
        [
            ("Au38-xAgx", "[Au38(PET)24]0", 0.4),
            ("Au38-xAgx", "[Au37Ag1(PET)24]0", 0.3),
            ("Au38-xAgx", "[Au36Ag2(PET)24]0", 0.2),
            ("Au38-xAgx", "[Au38(PET)24]-", 0.1),
        ],
        (5000.0, 11_000.0),
        "positive",
        20_000.0,
    ),
    "ag25-sr18 bare anions": (
        "ag25-sr18",
        [("Ag25-xAux", "[Ag25(DMBT)18]-", 0.6), ("Ag25-xAux", "[Au1Ag24(DMBT)18]-", 0.4)],
        (4500.0, 5600.0),
        "negative",
        20_000.0,
    ),
    "ag25-sr18 PPh4+ and Cs+ (positive)": (
        "ag25-sr18",
        [("Ag25-xAux", "Ag25(DMBT)18", 0.5), ("Ag25-xAux", "Au2Ag23(DMBT)18", 0.5)],
        (5000.0, 6500.0),
        "positive",
        20_000.0,
    ),
    "ag29-bdt12-pph3 PPh3 losses": (
        "ag29-bdt12-pph3",
        [
            ("Ag29-xAux", "Ag29(BDT)12(PPh3)4", 0.3),
            ("Ag29-xAux", "Ag29(BDT)12", 0.3),
            ("Ag29-xAux", "Au1Ag28(BDT)12(PPh3)2", 0.2),
            ("Ag29-xAux", "Au2Ag27(BDT)12", 0.2),
        ],
        (1400.0, 2100.0),
        "negative",
        20_000.0,
    ),
    "au144-sr60 Cs+ (positive)": (
        "au144-sr60",
        [
            ("Au144-xAgx", "Au144(PET)60", 0.5),
            ("Au144-xAgx", "Au143Ag1(PET)60", 0.3),
            ("Au144-xAgx", "Au142Ag2(PET)60", 0.2),
        ],
        (8000.0, 20_000.0),
        "positive",
        30_000.0,
    ),
    "auag44-pmba": (
        "auag44-pmba",
        [
            ("M44S30", "Au11Ag33(p-MBA)30", 0.3),
            ("M44S30", "Au12Ag32(p-MBA)30", 0.4),
            ("M44S26", "Au43Ag1(p-MBA)26", 0.3),
        ],
        (2000.0, 2700.0),
        "negative",
        20_000.0,
    ),
    "auag44-pmba-windows": (
        "auag44-pmba-windows",
        [
            ("M44S27", "Au21Ag23(p-MBA)27", 0.5),
            ("M44S27", "Au22Ag22(p-MBA)27", 0.5),
        ],
        (2200.0, 3800.0),
        "negative",
        20_000.0,
    ),
}


def _tv(truth: pd.DataFrame, got: pd.DataFrame) -> float:
    def clusters(df: pd.DataFrame) -> dict[str, float]:
        df = df[~df["family"].isin(["fragment", "complex"])]
        s = df.groupby("species")["abundance"].sum()
        return {str(k): float(v) / float(s.sum()) for k, v in s.items()}

    a, b = clusters(truth), clusters(got)
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def test_every_shipped_preset_has_a_loop_case() -> None:
    assert {case[0] for case in CASES.values()} == set(list_presets())


@pytest.mark.parametrize("name", list(CASES))
def test_synth_assign_loop(name: str) -> None:
    preset, pops, window, polarity, resolution = CASES[name]
    p = load_preset(preset)
    df = pd.DataFrame(pops, columns=["family", "species", "fraction"])
    res = synthesize(
        df,
        preset=p,
        mz_range=window,
        resolution=resolution,
        seed=7,
        polarity=polarity,
        calibration_ppm=8.0,
    )
    assert res.spectrum.metadata["polarity"] == polarity
    assert all((res.ions["charge"] > 0) == (polarity == "positive"))
    got = assign(res.spectrum, preset=p)
    tv = _tv(res.truth, got.species)
    assert tv < 0.05, (name, tv, got.species[["species", "abundance"]].to_string())


def test_readme_walkthrough_preset_new_check_synth_assign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    my = tmp_path / "my.toml"
    assert main(["preset", "new", "[Au25(PET)18]-", "--dope", "Ag:0-4", "--out", str(my)]) == 0
    assert main(["preset", "check", str(my), "--mz", "6000:8000", "--resolution", "20000"]) == 0
    out = capsys.readouterr().out
    assert "valid; 10 candidate ions" in out  # 5 species x (bare 1-, [M+2Cs]+)
    pops = tmp_path / "pops.csv"
    pd.DataFrame(
        {
            "family": ["au25-pet-18"] * 3,
            "species": ["Au25(PET)18", "Au24Ag1(PET)18", "Au23Ag2(PET)18"],
            "fraction": [0.5, 0.3, 0.2],
        }
    ).to_csv(pops, index=False)
    spec = tmp_path / "spec.csv"
    assert main(["synth", str(pops), "--preset", str(my), "--mz-range", "6500:7600",
                 "--out", str(spec)]) == 0  # fmt: skip
    out_dir = tmp_path / "out"
    rc = main(["assign", str(spec), "--preset", str(my), "--out", str(out_dir), "--no-report",
               "--no-plot", "--polarity", "negative"])  # fmt: skip
    assert rc == 0
    sp = pd.read_csv(out_dir / "species.csv")
    got = dict(zip(sp["species"], sp["abundance"], strict=True))
    assert set(got) == {"Au25(PET)18", "Au24Ag1(PET)18", "Au23Ag2(PET)18"}
    assert got["Au24Ag1(PET)18"] == pytest.approx(0.3, abs=0.03)
    assert list(sp["x"]) == [0, 1, 2]  # x counts the dopant
    assert list(sp["au"]) == [25, 24, 23] and list(sp["ag"]) == [0, 1, 2]
    fam = pd.read_csv(out_dir / "families.csv").iloc[0]
    assert fam["mean_x"] == pytest.approx(0.7, abs=0.05)  # mean Ag atoms
    assert fam["au_ag_ratio"] == pytest.approx((0.5 * 25 + 0.3 * 24 + 0.2 * 23) / 0.7, rel=0.05)


def test_series_and_report_name_axes_after_the_preset(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from nanoalloy.ms.io import write_csv
    from nanoalloy.results.figures import heatmaps
    from nanoalloy.results.report import write_report
    from nanoalloy.results.series import run_series

    files = []
    for i, (a, b) in enumerate([(0.7, 0.3), (0.3, 0.7)]):
        df = pd.DataFrame(
            {
                "family": ["Au25-xAgx"] * 2,
                "species": ["[Au25(PET)18]-", "[Au24Ag1(PET)18]-"],
                "fraction": [a, b],
            }
        )
        r = synthesize(df, preset="au25-sr18", mz_range=(6800.0, 7600.0), seed=i)
        f = tmp_path / f"s{i}.csv"
        write_csv(r.spectrum, f)
        files.append(f)
    s = run_series(files, out=tmp_path / "out", preset="au25-sr18")
    tab = s.table
    main_fam = tab[tab["family"] == "Au25-xAgx"]
    x1 = main_fam[main_fam["x"] == 1].set_index("label")["abundance"]
    assert x1["s0"] == pytest.approx(0.3, abs=0.03) and x1["s1"] == pytest.approx(0.7, abs=0.03)
    fig = heatmaps(s)
    assert "x (Ag atoms)" in [ax.get_ylabel() for ax in fig.axes]
    html = write_report(tmp_path / "out").read_text()
    assert "x (Ag atoms)" in html and "x (Au atoms)" not in html
