"""MS/MS: fragment ladders (golden values, IsoSpecPy masses, invariants) and envelope matching."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import IsoSpecPy
import numpy as np
import pytest

from nanoalloy import cli
from nanoalloy.chem.formula import parse
from nanoalloy.chem.isotopes import ELECTRON_MASS, Pattern, profile
from nanoalloy.errors import FormulaError, InputError
from nanoalloy.ms import msms
from nanoalloy.ms.msms import Fragment, fragment_ladder, match_spectrum
from nanoalloy.ms.spectrum import Spectrum

R = 20_000
PRECURSOR = "[Au12Ag32(p-MBA)30]4-"
# ions put into the synthetic product-ion spectrum, with relative heights
PUT = {
    "[Au12Ag32(p-MBA)30]4-": 1.0,  # surviving precursor
    "[Au11Ag32(p-MBA)28]3-": 0.8,  # -[Au(p-MBA)2]-
    "[Au12Ag31(p-MBA)28]3-": 0.6,  # -[Ag(p-MBA)2]-
    "[Au11Ag31(p-MBA)26]2-": 0.25,  # -[Au(p-MBA)2]- -[Ag(p-MBA)2]-
    "[Au12Ag30(p-MBA)26]2-": 0.3,  # -2[Ag(p-MBA)2]-
    "[Au12Ag31(p-MBA)29]4-": 0.2,  # -Ag(p-MBA), neutral
    "[Ag(p-MBA)2]-": 0.5,  # complements
    "[Au(p-MBA)2]-": 0.4,
}
# measured windows (a spectrum with gaps, to keep the test fast)
RANGES = [(395.0, 530.0), (2300.0, 2700.0), (3150.0, 3400.0), (4680.0, 4820.0)]


def _spec(mz: list[float], y: list[float]) -> Spectrum:
    return Spectrum(np.asarray(mz), np.asarray(y))


def _grid() -> np.ndarray:
    return np.concatenate([np.arange(lo, hi, 0.004) for lo, hi in RANGES])


def _add(x: np.ndarray, y: np.ndarray, pat: Pattern, height: float) -> None:
    _, shape = profile(pat, R, mz=x)
    if shape.max() > 0:
        y += height * shape / shape.max()


def _synthetic(decoys: dict[str, tuple[Pattern, float]], seed: int) -> Spectrum:
    x = _grid()
    y = np.zeros_like(x)
    for name, height in PUT.items():
        _add(x, y, parse(name).pattern(), height)
    for pat, height in decoys.values():
        _add(x, y, pat, height)
    rng = np.random.default_rng(seed)
    y = np.clip(y + 0.01 + rng.normal(0.0, 0.01, x.size), 0.0, None)
    return Spectrum(x, y)


@pytest.fixture(scope="module")
def ladder() -> list[Fragment]:
    return fragment_ladder(PRECURSOR)


def _by_name(ladder: list[Fragment]) -> dict[str, Fragment]:
    return {f.notation: f for f in ladder}


# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------
def test_all_sorted_and_true() -> None:
    assert list(msms.__all__) == sorted(msms.__all__)
    for name in msms.__all__:
        assert hasattr(msms, name)


def test_import_does_not_pull_pandas_or_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nanoalloy.ms.msms, nanoalloy.commands.msms;"
        "print([m for m in ('pandas', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------
# fragment ladder
# ---------------------------------------------------------------------------
def _isospec_average_mz(formula: str, charge: int) -> float:
    mass = IsoSpecPy.Iso(formula=formula).getTheoreticalAverageMass()
    return (mass - charge * ELECTRON_MASS) / abs(charge)


def test_paper_loss_au21ag23() -> None:
    """[Au21Ag23(SR)27-H]4- loses [Au(SR)2]- to [Au20Ag23(SR)25-H]3- (DOMAIN.md)."""
    ladder = fragment_ladder("[Au21Ag23(p-MBA)27-H]4-")
    hit = _by_name(ladder)["[Au20Ag23(p-MBA)25-H]3-"]
    assert hit.charge == -3
    assert hit.loss == "-[Au(p-MBA)2]-"
    assert hit.kind == "anion-loss"
    assert hit.anions_lost == (("Au", 1),) and hit.neutrals_lost == ()
    # p-MBA = C7H5O2S; 25 of them, one proton removed
    expected = _isospec_average_mz("Au20Ag23C175H124O50S25", -3)
    assert hit.mz_average == pytest.approx(expected, rel=1e-9)
    assert hit.mz_average == pytest.approx(3416.26, abs=0.01)
    assert abs(hit.mz_most_abundant - hit.mz_average) < 1.0


def test_sr_binding_gives_same_ladder() -> None:
    a = fragment_ladder("[Au21Ag23(SR)27-H]4-", sr="p-MBA")
    b = fragment_ladder(parse("[Au21Ag23(p-MBA)27-H]4-"))
    assert [f.notation for f in a] == [f.notation for f in b]
    assert [f.mz_average for f in a] == [f.mz_average for f in b]


def test_ladder_invariants(ladder: list[Fragment]) -> None:
    prec = parse(PRECURSOR)
    assert ladder[0].ion == prec and ladder[0].kind == "precursor" and ladder[0].loss == ""
    names = [f.notation for f in ladder]
    assert len(names) == len(set(names)), "routes to the same ion must be listed once"
    lig = Counter({"C": 7, "H": 5, "O": 2, "S": 1})
    for f in ladder:
        assert f.charge == f.ion.charge < 0
        if f.kind == "complement":
            assert f.charge == -1 and f.ion.n_metals == 1 and f.ion.ligands == {"p-MBA": 2}
            continue
        k = sum(n for _, n in f.anions_lost)
        n = sum(n for _, n in f.neutrals_lost)
        assert f.charge == prec.charge + k
        # atoms conserved: fragment + lost units = precursor
        total = Counter(f.ion.composition)
        for m, c in (*f.anions_lost, *f.neutrals_lost):
            total[m] += c
        for el, c in lig.items():
            total[el] += c * (2 * k + n)
        assert +total == Counter(prec.composition)
        expected = {(True, False): "anion-loss", (False, True): "neutral-loss"}
        if k + n:
            assert f.kind == expected.get((bool(k), bool(n)), "mixed-loss")
    assert [f.notation for f in ladder if f.kind == "complement"] == [
        "[Au(p-MBA)2]-",
        "[Ag(p-MBA)2]-",
    ]
    # three [M(SR)2]- losses bring 4- down to 1-; never to 0
    assert max(f.charge for f in ladder) == -1
    assert {"[Au9Ag32(p-MBA)24]-", "[Au12Ag29(p-MBA)24]-"} <= set(names)


def test_every_metal_combination_for_two_losses(ladder: list[Fragment]) -> None:
    two = {f.notation: f.loss for f in ladder if f.kind == "anion-loss" and f.charge == -2}
    assert two == {
        "[Au10Ag32(p-MBA)26]2-": "-2[Au(p-MBA)2]-",
        "[Au11Ag31(p-MBA)26]2-": "-[Au(p-MBA)2]- -[Ag(p-MBA)2]-",
        "[Au12Ag30(p-MBA)26]2-": "-2[Ag(p-MBA)2]-",
    }


def test_adducts_stay_on_the_cluster_fragment() -> None:
    ladder = fragment_ladder("[Au44(p-MBA)26+12Na-16H]6-", max_losses=2, max_neutral=0)
    cluster = [f for f in ladder if f.kind != "complement"]
    assert all(dict(f.ion.adducts) == {"Na": 12, "H": -16} for f in cluster)
    assert "[Au43(p-MBA)24+12Na-16H]5-" in _by_name(ladder)


def test_protons_beyond_the_shell_are_not_kept() -> None:
    # 4 protons removed; after any loss fewer than 4 carboxylic acids remain
    ladder = fragment_ladder("[Ag3(p-MBA)4-4H]5-")
    assert [f.notation for f in ladder] == ["[Ag3(p-MBA)4-4H]5-", "[Ag(p-MBA)2]-"]


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        (
            {"max_losses": 1, "max_neutral": 0},
            [
                "[Ag44(p-MBA)30]4-",
                "[Ag43(p-MBA)28]3-",
                "[Ag(p-MBA)2]-",
            ],
        ),
        (
            {"max_losses": 0, "max_neutral": 1},
            ["[Ag44(p-MBA)30]4-", "[Ag43(p-MBA)29]4-", "[Ag(p-MBA)2]-"],
        ),
    ],
)
def test_options(kwargs: dict[str, Any], names: list[str]) -> None:
    assert [f.notation for f in fragment_ladder("[Ag44(p-MBA)30]4-", **kwargs)] == names


def test_metals_option_restricts_losses() -> None:
    ladder = fragment_ladder(PRECURSOR, metals=["Ag"], max_neutral=0)
    assert [f.loss for f in ladder[1:4]] == [
        "-[Ag(p-MBA)2]-",
        "-2[Ag(p-MBA)2]-",
        "-3[Ag(p-MBA)2]-",
    ]
    assert [f.notation for f in ladder if f.kind == "complement"] == ["[Ag(p-MBA)2]-"]


@pytest.mark.parametrize(
    ("precursor", "kwargs", "error", "message"),
    [
        ("Au12Ag32(p-MBA)30", {}, InputError, "is neutral"),
        ("[Au12Ag32(p-MBA)30]2+", {}, InputError, "is a cation"),
        ("[Au12Ag32(p-MBA)30", {}, FormulaError, "unbalanced '['"),
        ("[Au12Ag32(SR)30]4-", {}, FormulaError, "SR is not bound"),
        ("[(p-MBA)2]2-", {}, InputError, "holds no metal"),
        (PRECURSOR, {"sr": "NTP"}, InputError, "carries no NTP"),
        (PRECURSOR, {"metals": ["Cu"]}, InputError, "not in the precursor"),
        (PRECURSOR, {"max_losses": -1}, InputError, "max_losses must be >= 0"),
        (PRECURSOR, {"max_neutral": 1.5}, InputError, "max_neutral must be an integer"),
    ],
)
def test_bad_precursors(
    precursor: str, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("[", r"\[").replace("(", r"\(")):
        fragment_ladder(precursor, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# matching a synthetic product-ion spectrum
# ---------------------------------------------------------------------------
def test_decoy_free_spectrum_is_annotated(ladder: list[Fragment]) -> None:
    table = match_spectrum(_synthetic({}, seed=7), ladder, resolution=R)
    assert list(table.columns) == list(msms.MATCH_COLUMNS)
    assert len(table) == len(ladder) and table["ion"].tolist() == [f.notation for f in ladder]
    hits = table[table["matched"]]
    assert sorted(hits["ion"]) == sorted(PUT)
    assert (hits["ppm_error"].abs() < 2).all()
    assert (hits["score"] > 0.85).all()
    # fitted apex heights come back
    heights = dict(zip(hits["ion"], hits["intensity"], strict=True))
    for name, h in PUT.items():
        assert heights[name] == pytest.approx(h, abs=0.03)
    # every absent ladder ion scores low
    assert (table.loc[~table["matched"], "score"] < 0.3).all()


def test_decoys_are_not_matched(ladder: list[Fragment]) -> None:
    by = _by_name(ladder)
    p2 = parse("[Au12Ag30(p-MBA)26]2-").pattern()
    apex = by["[Au11Ag32(p-MBA)29]4-"].mz_most_abundant
    absent = by["[Au12Ag30(p-MBA)28]4-"].ion.pattern()
    decoys = {
        # unrelated species (not on the ladder)
        "ag44": (parse("[Ag44(p-MBA)30]4-").pattern(), 0.5),
        "complex": (parse("[Ag2(p-MBA)3]-").pattern(), 0.4),
        # a 2- envelope whose apex sits exactly on an absent 4- ladder ion: one
        # peak agrees, the isotope spacing does not
        "wrong charge": (Pattern(p2.mz - p2.most_abundant_mz + apex, p2.probability, -2), 0.6),
        # the right envelope of an absent ion, but half an isotope spacing (~50 ppm) off
        "off by 50 ppm": (Pattern(absent.mz + 0.125, absent.probability, -4), 0.5),
    }
    table = match_spectrum(_synthetic(decoys, seed=11), ladder, resolution=R)
    hits = table[table["matched"]]
    assert sorted(hits["ion"]) == sorted(PUT)
    row = table.set_index("ion").loc["[Au11Ag32(p-MBA)29]4-"]
    assert row["correlation"] < 0.6
    row = table.set_index("ion").loc["[Au12Ag30(p-MBA)28]4-"]
    assert row["ppm_error"] == pytest.approx(0.125 / 2472.2 * 1e6, abs=3)


def test_calibration_offset_within_tolerance_is_reported(ladder: list[Fragment]) -> None:
    s = _synthetic({}, seed=3)
    shifted = s.with_mz(s.mz * (1 + 8e-6))
    table = match_spectrum(shifted, ladder, resolution=R)
    hits = table[table["matched"]]
    assert sorted(hits["ion"]) == sorted(PUT)
    assert hits["ppm_error"].to_numpy() == pytest.approx(8.0, abs=1.5)
    assert (
        sorted(
            match_spectrum(shifted, ladder, resolution=R, tolerance_ppm=4).query("matched")["ion"]
        )
        == []
    )


def test_resolution_estimated_when_not_given(ladder: list[Fragment]) -> None:
    table = match_spectrum(_synthetic({}, seed=5), ladder)
    assert table.attrs["resolution"] == pytest.approx(R, rel=0.1)
    assert sorted(table.loc[table["matched"], "ion"]) == sorted(PUT)


def test_centroided_spectrum_is_rendered_first() -> None:
    ladder = fragment_ladder("[Ag44(p-MBA)30]4-", max_losses=1, max_neutral=0)
    pat = ladder[1].ion.pattern()
    sticks = Spectrum(pat.mz, pat.probability / pat.probability.max(), {"centroided": True})
    table = match_spectrum(sticks, ladder, resolution=R)
    assert table["matched"].tolist() == [False, True, False]
    with pytest.raises(InputError, match="needs the resolving power"):
        match_spectrum(sticks, ladder)


def test_near_isobaric_entries_are_flagged() -> None:
    ladder = fragment_ladder("[Ag44(p-MBA)30]4-", max_losses=1, max_neutral=0)
    twin = ladder[1]
    x = np.arange(2960.0, 2990.0, 0.004)
    _, y = profile(twin.ion.pattern(), R, mz=x)
    table = match_spectrum(Spectrum(x, y + 1e-3), [*ladder, twin], resolution=R)
    assert table.loc[1, "near_isobaric"] == table.loc[3, "near_isobaric"] == twin.notation
    assert table.loc[[1, 3], "matched"].sum() == 1


@pytest.mark.parametrize(
    ("spectrum", "ladder_", "kwargs", "message"),
    [
        (_spec([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]), [], {}, "non-empty sequence"),
        (_spec([1.0, 2.0], [1.0, 1.0]), None, {"resolution": R}, "spectrum is empty"),
        (_spec([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]), None, {"resolution": R}, "is empty"),
        (_spec([1.0, 2.0, 3.0], [1.0, 2.0, 1.0]), None, {"resolution": -5.0}, "positive"),
        (_spec([1.0, 2.0, 3.0], [1.0, 2.0, 1.0]), None, {"tolerance_ppm": 0.0}, "positive"),
    ],
)
def test_bad_match_input(
    spectrum: Spectrum, ladder_: list[Fragment] | None, kwargs: dict[str, float], message: str
) -> None:
    frags = fragment_ladder("[Ag44(p-MBA)30]4-", max_losses=1) if ladder_ is None else ladder_
    with pytest.raises(InputError, match=message):
        match_spectrum(spectrum, frags, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------
def _write_spectrum(path: Path, s: Spectrum) -> Path:
    np.savetxt(
        path,
        np.column_stack([s.mz, s.intensity]),
        delimiter=",",
        header="mz,intensity",
        comments="",
        fmt="%.6f",
    )
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_cli_fragments_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["msms", "--precursor", "[Au21Ag23(SR)27-H]4-", "--sr", "p-MBA", "--out", str(out)]
    assert cli.main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fragments.csv"]
    with (out / "fragments.csv").open() as fh:
        header = fh.readline().strip().split(",")
    assert header[:5] == ["ion", "charge", "mz_average", "mz_most_abundant", "loss"]
    rows = {r["ion"]: r for r in _rows(out / "fragments.csv")}
    hit = rows["[Au20Ag23(p-MBA)25-H]3-"]
    assert hit["charge"] == "-3" and hit["loss"] == "-[Au(p-MBA)2]-"
    assert float(hit["mz_average"]) == pytest.approx(
        _isospec_average_mz("Au20Ag23C175H124O50S25", -3), abs=1e-5
    )
    assert "fragments.csv" in capsys.readouterr().out


def test_cli_with_spectrum(tmp_path: Path) -> None:
    spec = _write_spectrum(tmp_path / "msms.csv", _synthetic({}, seed=21))
    out = tmp_path / "out"
    argv = ["msms", "--precursor", PRECURSOR, str(spec), "--out", str(out), "--resolution", "20000"]
    assert cli.main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fragments.csv", "matches.csv", "msms.png"]
    rows = _rows(out / "matches.csv")
    assert list(rows[0]) == list(msms.MATCH_COLUMNS)
    assert sorted(r["ion"] for r in rows if r["matched"] == "True") == sorted(PUT)
    assert (out / "msms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--precursor", "[Au12Ag32(p-MBA)30"], "unbalanced '['"),
        (["--precursor", "Au12Ag32(p-MBA)30"], "is neutral"),
        (["--precursor", "[Au12Ag32(SR)30]4-"], "SR is not bound"),
        (["--precursor", PRECURSOR, "missing.csv"], "does not exist"),
        (["--precursor", PRECURSOR, "garbage.csv"], "garbage.csv"),
        (["--precursor", PRECURSOR, "--resolution", "-3"], "--resolution"),
        (["--precursor", PRECURSOR, "--max-losses", "-1"], "--max-losses must be >= 0"),
    ],
)
def test_cli_bad_input(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.csv").write_text("this is,not\na spectrum,at all\n")
    out = tmp_path / "out"
    usage = any(a.startswith("--") and a != "--precursor" for a in args)  # an option's value
    assert cli.main(["msms", *args, "--out", str(out)]) == (2 if usage else 1)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.csv"]


def test_sr_that_is_not_a_ligand_of_the_preset_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--preset au25-sr18 --sr p-MBA`` built a p-MBA ladder for a PET preset, exit 0:
    the two options disagree (usage error, exit 2); an alias of the preset's ligand is it."""
    out = tmp_path / "out"
    argv = ["msms", "--precursor", "[Au25(SR)18]-", "--preset", "au25-sr18", "--out", str(out)]
    assert cli.main([*argv, "--sr", "p-MBA"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--sr p-MBA is not a thiolate of preset 'au25-sr18'" in err
    assert not out.exists()
    assert cli.main([*argv, "--sr", "SC2H4Ph"]) == 0
    capsys.readouterr()
    with (out / "fragments.csv").open() as fh:
        ions = list(csv.DictReader(fh))
    assert ions[0]["ion"] == "[Au25(PET)18]-" and len(ions) == 4


def test_cli_says_which_scan_it_annotates_and_whose_precursor_it_isolated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_dir: Path
) -> None:
    """A stranger's `msms --precursor [Au12Ag32(p-MBA)30]4- CytC_ETD.mzML` annotated scan 0, an
    MS1 scan, without a word; now the first MS2 scan is taken and its own precursor (cytochrome
    c 12+, m/z 1225.6) is said not to be the one given."""
    mzml = shared_dir / "data" / "real" / "FLASHDeconv_sample_input1_CytC_ETD.mzML"
    argv = ["msms", "--precursor", PRECURSOR, str(mzml), "--resolution", "20000"]
    assert cli.main([*argv, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "holds several scans: used scan 2" in err
    assert "isolated m/z 1225.6 (z 12), not the precursor's" in err
    assert cli.main([*argv, "--scan", "0", "--out", str(tmp_path / "b")]) == 0
    assert "scan 0 is an MS1 scan, not a product-ion spectrum" in capsys.readouterr().err
