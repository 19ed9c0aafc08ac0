"""UV-vis: reading, Jacobian, baseline, band detection, unmixing and the ``uvvis`` command."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from nanoalloy import cli, uvvis
from nanoalloy.errors import InputError
from nanoalloy.uvvis import (
    AbsorptionSpectra,
    correct_baseline,
    find_bands,
    model_spectrum,
    read_uvvis,
    reference_bands,
    unmix,
)

WL = np.arange(350.0, 1001.0)
HC = 1239.841984
# DOMAIN.md, "UV-vis absorption peaks (DMF)"
DOMAIN_BANDS = {
    "Au44": [480, 575, 765],
    "Ag44": [420, 488, 540, 645, 840],
    "Au12Ag32": [390, 490, 546, 620, 728],
    "M44S27": [500, 690],
}
HUMPS = {("Au12Ag32", 728), ("M44S27", 500), ("M44S27", 690)}  # weak/broad: 5 nm


def _scattering(wl: np.ndarray) -> np.ndarray:
    return 0.25 * (wl / 400) ** -4 + 0.04 * (wl / 400) ** -1 + 0.02


def _measured(species: str, seed: int, noise: float = 0.002) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = 0.5 * model_spectrum(reference_bands(species), WL) + _scattering(WL)
    return y + rng.normal(0, noise, WL.size)


def _write(path: Path, header: str | None, rows: np.ndarray, sep: str = ",") -> Path:
    lines = [header] if header else []
    lines += [sep.join(f"{v:.8g}" for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_all_sorted_and_true() -> None:
    assert uvvis.__all__ == sorted(uvvis.__all__)
    assert all(hasattr(uvvis, n) for n in uvvis.__all__)


def test_band_table_matches_domain() -> None:
    for species, positions in DOMAIN_BANDS.items():
        assert [b.center_nm for b in reference_bands(species)] == positions
    with pytest.raises(InputError, match="no UV-vis band table for 'Au25'"):
        reference_bands("Au25")


# ----------------------------------------------------------------------------- record
def test_record_is_read_only_and_validated() -> None:
    s = AbsorptionSpectra(WL, np.ones((WL.size, 2)), labels=("a", "b"))
    assert s.n_spectra == 2 and len(s) == WL.size
    with pytest.raises(ValueError):
        s.absorbance[0, 0] = 2.0
    with pytest.raises(InputError, match="strictly increasing"):
        AbsorptionSpectra(WL[::-1], np.ones(WL.size))
    with pytest.raises(InputError, match="2 labels for 1 spectra"):
        AbsorptionSpectra(WL, np.ones(WL.size), labels=("a", "b"))
    with pytest.raises(InputError, match="finite"):
        AbsorptionSpectra(np.array([1.0, 2.0, 3.0]), np.array([0.0, np.nan, 1.0]))


def test_energy_round_trip_conserves_area() -> None:
    y = model_spectrum([(500.0, 40.0, 1.0)], WL)
    s = AbsorptionSpectra(WL, y)
    e, a = s.to_energy()
    assert np.all(np.diff(e) > 0)
    back = AbsorptionSpectra.from_energy(e, a)
    np.testing.assert_allclose(back.wavelength_nm, WL)
    np.testing.assert_allclose(back.absorbance[:, 0], y, atol=1e-12)
    # A(λ)dλ = A(E)dE: the integrated band is the same on both axes
    area_nm = np.trapezoid(y, WL)
    area_ev = np.trapezoid(a[:, 0], e)
    assert area_ev == pytest.approx(area_nm, rel=1e-3)


# ----------------------------------------------------------------------------- reading
@pytest.mark.parametrize(
    ("header", "sep"),
    [("wavelength (nm),t0,t5", ","), ("nm\tt0\tt5", "\t"), (None, " "), ("# comment", ";")],
)
def test_read_formats_and_descending(tmp_path: Path, header: str | None, sep: str) -> None:
    rows = np.column_stack([WL, np.linspace(0, 1, WL.size), np.linspace(1, 2, WL.size)])[::-1]
    s = read_uvvis(_write(tmp_path / "s.txt", header, rows, sep))
    np.testing.assert_allclose(s.wavelength_nm, WL)
    assert s.absorbance[0, 0] == 0 and s.absorbance[-1, 1] == 2
    if header and "t0" in header:
        assert s.labels == ("t0", "t5")


def test_read_ev_applies_jacobian(tmp_path: Path) -> None:
    y = model_spectrum([(500.0, 40.0, 1.0)], WL)
    e, a = AbsorptionSpectra(WL, y).to_energy()
    path = _write(tmp_path / "e.csv", "energy_eV,A", np.column_stack([e, a[:, 0]]))
    s = read_uvvis(path)
    np.testing.assert_allclose(s.absorbance[:, 0], y, atol=1e-9)
    assert read_uvvis(path, unit="eV").wavelength_nm[0] == pytest.approx(350.0)


BAD_FILES = [
    ("", "empty file"),
    ("wavelength,A\n", "no data rows"),
    ("400\n500\n600\n", "one column only"),
    ("400,0.1\n500,abc\n600,0.3\n", "line 2, column 2: 'abc' is not a number"),
    ("400,0.1\n500,nan\n600,0.3\n", "line 2, column 2: non-finite value 'nan'"),
    ("400,0.1\n500,inf\n600,0.3\n", "non-finite value 'inf'"),
    ("400,0.1\n500,0.2\n500,0.3\n600,0.1\n", "duplicate wavelength 500 at lines 2 and 3"),
    ("400,0.1\n600,0.2\n500,0.3\n", "not sorted (line 3: 500 after 600)"),
    ("400,0.1,0.2\n500,0.2\n600,0.3,0.1\n", "line 2 has 2 columns, expected 3"),
    ("400,0.1\n500,0.2\n", "need at least 3"),
    ("10,0.1\n50,0.2\n90,0.3\n", "cannot tell nm from eV"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_read_bad_files(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_uvvis(p)


# ----------------------------------------------------------------------------- bands
@pytest.mark.parametrize("species", sorted(DOMAIN_BANDS))
@pytest.mark.parametrize("seed", [0, 1, 3])
def test_bands_at_domain_positions(species: str, seed: int) -> None:
    raw = AbsorptionSpectra(WL, _measured(species, seed))
    bands = find_bands(correct_baseline(raw))
    assert len(bands) == len(DOMAIN_BANDS[species])
    for centre in DOMAIN_BANDS[species]:
        best = min(bands, key=lambda b: abs(b.wavelength_nm - centre))
        tol = 5.0 if (species, centre) in HUMPS else 3.0
        assert abs(best.wavelength_nm - centre) <= tol, (centre, best)
        assert best.height > 0 and 15 < best.width_nm < 150


def test_shoulder_from_second_derivative() -> None:
    y = model_spectrum([(480, 40, 1.0), (530, 50, 0.5), (700, 50, 0.6)], WL)
    bands = find_bands(AbsorptionSpectra(WL, y))
    assert [b.kind for b in bands] == ["peak", "shoulder", "peak"]
    assert abs(bands[1].wavelength_nm - 530) < 5
    assert bands[2].width_nm == pytest.approx(50, abs=3)


def test_baseline_regions_recover_scattering() -> None:
    y = model_spectrum([(550.0, 40.0, 0.5)], WL) + _scattering(WL)
    s = AbsorptionSpectra(WL, y)
    base = uvvis.fit_baseline(s, regions=[(350, 450), (680, 1000)])
    np.testing.assert_allclose(base[:, 0], _scattering(WL), atol=2e-3)
    poly = correct_baseline(s, model="polynomial", degree=3, regions=[(350, 450), (680, 1000)])
    assert abs(WL[np.argmax(poly.absorbance[:, 0])] - 550) <= 2


def test_series_bands_are_labelled() -> None:
    cols = np.column_stack([_measured("Au44", 0), _measured("Ag44", 1)])
    s = correct_baseline(AbsorptionSpectra(WL, cols, labels=("t0", "t1")))
    bands = find_bands(s)
    assert {b.spectrum for b in bands} == {"t0", "t1"}
    assert sum(b.spectrum == "t1" for b in bands) == 5


# ----------------------------------------------------------------------------- unmixing
def _refs(names: list[str], normalize: bool) -> list[AbsorptionSpectra]:
    out = []
    for n in names:
        y = model_spectrum(reference_bands(n), WL)
        out.append(AbsorptionSpectra(WL, y / np.trapezoid(y, WL) if normalize else y, labels=(n,)))
    return out


@pytest.mark.parametrize("names", [["Au44", "Ag44"], ["Au44", "Ag44", "Au12Ag32"]])
@pytest.mark.parametrize("normalize", ["area", "none"])
def test_unmix_recovers_fractions(names: list[str], normalize: str) -> None:
    rng = np.random.default_rng(7)
    unit_area = normalize == "area"
    refs = _refs(names, unit_area)
    # references given as molar spectra (normalize="none") or scaled to unit area
    given = _refs(names, False) if not unit_area else refs
    for _ in range(5):
        f = rng.dirichlet(np.ones(len(names)))
        y = sum(fk * r.absorbance[:, 0] for fk, r in zip(f, refs, strict=True))
        y = y + rng.normal(0, 0.01 * float(np.max(y)), WL.size)
        res = unmix(AbsorptionSpectra(WL, y), given, normalize=normalize)  # type: ignore[arg-type]
        np.testing.assert_allclose(res.fractions[0], f, atol=0.03)
        assert res.fractions[0].sum() == pytest.approx(1.0)
        assert np.all(res.fraction_sd[0] < 0.03) and res.r_squared[0] > 0.95
        assert res.references == tuple(names)


def test_unmix_series_with_scattering_background() -> None:
    refs = _refs(["Au44", "Ag44"], False)
    truth = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    cols = [t[0] * refs[0].absorbance[:, 0] + t[1] * refs[1].absorbance[:, 0] for t in truth]
    cols = [c + 0.1 * (WL / 400) ** -4 for c in cols]
    res = unmix(AbsorptionSpectra(WL, np.column_stack(cols)), refs, background="scattering")
    np.testing.assert_allclose(res.fractions, truth, atol=0.03)
    assert res.background.shape == (3, 3) and np.all(res.background >= 0)


def test_unmix_errors() -> None:
    refs = _refs(["Au44"], False)
    s = AbsorptionSpectra(WL, refs[0].absorbance)
    with pytest.raises(InputError, match="unique"):
        unmix(s, [refs[0], refs[0]])
    far = AbsorptionSpectra(np.arange(1100.0, 1200.0), np.ones(100))
    with pytest.raises(InputError, match="share 0 points"):
        unmix(s, [far])


def test_plot_series_colours_by_time() -> None:
    s = AbsorptionSpectra(WL, np.column_stack([_measured("Ag44", k) for k in range(3)]))
    fig = uvvis.plot_series(s, times=[0, 30, 120])
    colours = [tuple(line.get_color()) for line in fig.axes[0].lines]
    assert len(set(colours)) == 3
    import matplotlib.pyplot as plt

    plt.close(fig)


# ----------------------------------------------------------------------------- CLI
def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_cli_bands_and_fractions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refs = _refs(["Au44", "Ag44"], False)
    ref_paths = []
    for r in refs:
        ref_paths.append(
            _write(
                tmp_path / f"{r.labels[0]}.csv",
                f"nm,{r.labels[0]}",
                np.column_stack([WL, r.absorbance]),
            )
        )
    rng = np.random.default_rng(11)
    y = 0.35 * refs[0].absorbance[:, 0] + 0.65 * refs[1].absorbance[:, 0]
    y = y + rng.normal(0, 0.003, WL.size)
    spec = _write(tmp_path / "mix.csv", "wavelength_nm,A", np.column_stack([WL, y])[::-1])
    out = tmp_path / "out"
    argv = ["uvvis", str(spec), "--refs", *map(str, ref_paths), "--out", str(out)]
    assert cli.main(argv) == 0
    header = (out / "bands.csv").read_text().splitlines()[0]
    assert header.startswith("wavelength_nm,kind,height")
    bands = _rows(out / "bands.csv")
    assert bands and {b["kind"] for b in bands} <= {"peak", "shoulder"}
    fr_header = (out / "fractions.csv").read_text().splitlines()[0]
    assert fr_header.startswith("reference,fraction,fraction_sd")
    fr = {r["reference"]: float(r["fraction"]) for r in _rows(out / "fractions.csv")}
    assert fr == pytest.approx({"Au44": 0.35, "Ag44": 0.65}, abs=0.03)
    assert (out / "uvvis.png").stat().st_size > 0
    report = (out / "report.html").read_text()
    assert "UV-vis" in report and "Unmixing" in report and "Au44" in report


def test_cli_series_without_refs(tmp_path: Path) -> None:
    cols = np.column_stack([WL] + [_measured("Au12Ag32", k) for k in range(3)])
    spec = _write(tmp_path / "series.tsv", "nm\t0\t30\t120", cols, "\t")
    out = tmp_path / "o"
    assert cli.main(["uvvis", str(spec), "--out", str(out)]) == 0
    rows = _rows(out / "bands.csv")
    assert {r["spectrum"] for r in rows} == {"0", "30", "120"}
    assert not (out / "fractions.csv").exists() and (out / "uvvis.png").exists()


@pytest.mark.parametrize(("text", "message"), BAD_FILES[:6])
def test_cli_bad_input_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    out = tmp_path / "out"
    assert cli.main(["uvvis", str(p), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not out.exists()


def test_cli_bad_reference_leaves_dir_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _write(tmp_path / "s.csv", "nm,A", np.column_stack([WL, _measured("Au44", 0)]))
    bad = tmp_path / "ref.csv"
    bad.write_text("400,0.1\n400,0.2\n500,0.3\n")
    out = tmp_path / "out"
    out.mkdir()
    assert cli.main(["uvvis", str(spec), "--refs", str(bad), "--out", str(out)]) == 1
    assert "duplicate wavelength" in capsys.readouterr().err
    assert list(out.iterdir()) == []
    assert cli.main(["uvvis", str(tmp_path / "missing.csv"), "--out", str(out)]) == 1
    assert list(out.iterdir()) == []


def test_a_transmittance_column_is_refused_not_read_as_absorbance(tmp_path: Path) -> None:
    """A stranger's %T export was read as absorbance: bands at 411 and 609 nm for 450
    and 670 (the curve's dips are maxima of absorbance)."""
    from nanoalloy.errors import InputError
    from nanoalloy.uvvis.bands import read_uvvis

    for name in ("%T", "Transmittance (%)", "% T"):
        p = tmp_path / "t.csv"
        p.write_text(f"wavelength,{name}\n300,99.9\n301,99.8\n302,99.7\n")
        with pytest.raises(InputError, match="transmittance"):
            read_uvvis(p)


def test_a_unit_the_file_contradicts_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--unit eV`` on a nm file put a band at "1.84 nm, 672.8 eV" (and ``--unit nm`` on an
    eV file one at 2.48 nm), exit 0: the unit given by hand is checked against the header
    and the values."""
    y = model_spectrum([(450.0, 30.0, 0.8), (670.0, 50.0, 0.5)], WL)
    e, a = AbsorptionSpectra(WL, y).to_energy()
    nm = _write(tmp_path / "nm.csv", "wavelength_nm,A", np.column_stack([WL, y]))
    nm_bare = _write(tmp_path / "nm_bare.csv", None, np.column_stack([WL, y]))
    ev = _write(tmp_path / "ev.csv", "energy_eV,A", np.column_stack([e, a[:, 0]]))
    ev_bare = _write(tmp_path / "ev_bare.csv", None, np.column_stack([e, a[:, 0]]))
    cases = [
        (nm, "eV", "contradicts the header 'wavelength_nm' (nm)"),
        (nm_bare, "eV", "are not photon energies in eV"),
        (ev, "nm", "contradicts the header 'energy_eV' (eV)"),
        (ev_bare, "nm", "are not wavelengths in nm"),
    ]
    for path, unit, message in cases:
        with pytest.raises(InputError, match=re.escape(message)):
            read_uvvis(path, unit=unit)  # type: ignore[arg-type]
        out = tmp_path / f"out_{path.stem}"
        assert cli.main(["uvvis", str(path), "--unit", unit, "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and not out.exists()
    # the unit that agrees reads the bands where they are, in nm and in eV
    for path, unit in ((nm_bare, "nm"), (ev_bare, "eV"), (ev, "eV"), (nm, "nm")):
        bands = find_bands(read_uvvis(path, unit=unit))  # type: ignore[arg-type]
        got = sorted(b.wavelength_nm for b in bands if b.kind == "peak")
        assert got == pytest.approx([450.0, 670.0], abs=3.0)
        assert sorted(b.energy_ev for b in bands if b.kind == "peak") == pytest.approx(
            [HC / 670.0, HC / 450.0], abs=0.02
        )


def test_cli_says_where_an_energy_axis_was_converted_and_where_axes_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stranger's mixture in eV against references in nm came back 0.876/0.124 for 0.70/0.30
    without a word: the eV file held plain absorbance, which the Jacobian (the issue's
    convention: an eV axis holds a density per eV) reshapes by E^2."""
    refs = _refs(["Au44", "Ag44"], False)
    ref_paths = [
        _write(
            tmp_path / f"{r.labels[0]}.csv",
            f"nm,{r.labels[0]}",
            np.column_stack([WL, r.absorbance]),
        )
        for r in refs
    ]
    y = 0.7 * refs[0].absorbance[:, 0] + 0.3 * refs[1].absorbance[:, 0]
    e, a = AbsorptionSpectra(WL, y[:, None]).to_energy()  # a density per eV: read back exactly
    spec = _write(tmp_path / "mix_ev.csv", "energy_eV,A", np.column_stack([e, a[:, 0]]))
    out = tmp_path / "out"
    assert cli.main(["uvvis", str(spec), "--refs", *map(str, ref_paths), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "an energy axis (eV), read as absorbance per eV" in err
    assert "different axes (nm and eV)" in err
    fr = {r["reference"]: float(r["fraction"]) for r in _rows(out / "fractions.csv")}
    assert fr == pytest.approx({"Au44": 0.7, "Ag44": 0.3}, abs=0.03)
    # one axis for every file: nothing to say
    spec_nm = _write(tmp_path / "mix.csv", "nm,A", np.column_stack([WL, y]))
    argv = ["uvvis", str(spec_nm), "--refs", *map(str, ref_paths), "--out", str(tmp_path / "o2")]
    assert cli.main(argv) == 0
    assert "eV" not in capsys.readouterr().err


def test_cli_an_output_folder_named_like_the_command_is_no_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--out uvvis` (or `batch DIR --out batch`, a rerun) was refused as "the input 'uvvis'":
    the command's own name was checked as an input path."""
    spec = _write(tmp_path / "s.csv", "nm,A", np.column_stack([WL, _measured("Au44", 1)]))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["uvvis", str(spec), "--out", "uvvis"]) == 0
    assert cli.main(["uvvis", str(spec), "--out", "uvvis", "--overwrite"]) == 0
    assert (tmp_path / "uvvis" / "bands.csv").exists()


def test_a_cary_export_with_two_header_rows_and_a_method_log_is_read(tmp_path: Path) -> None:
    """An Agilent Cary CSV: the sample name, then "Wavelength (nm),Abs,", the data from high to
    low wavelength with a trailing comma, a blank line and the method log (a stranger's probe,
    2026-12-07: refused as "one column only" and "line 654 has 1 columns")."""
    y = model_spectrum([(480.0, 40.0, 0.8)], WL)
    rows = "".join(f"{w:.1f},{a:.5f},\n" for w, a in zip(WL[::-1], y[::-1], strict=True))
    path = tmp_path / "cary.csv"
    path.write_text(
        "Sample1,\nWavelength (nm),Abs,\n" + rows + "\nMethod Log\nInstrument,Cary 60\n"
        "Start (nm),900.0\n"
    )
    s = read_uvvis(path)
    np.testing.assert_allclose(s.wavelength_nm, WL)
    np.testing.assert_allclose(s.absorbance[:, 0], y, atol=1e-5)
    assert s.labels == ("Sample1",)
    # a word line with data after it is a bad row, not a footer
    bad = tmp_path / "bad.csv"
    bad.write_text("nm,A\n400,0.1\n401,0.2\nOVER,0.3\n402,0.3\n403,0.2\n")
    with pytest.raises(InputError, match="line 4"):
        read_uvvis(bad)


def test_decimal_commas_between_semicolons_are_read(tmp_path: Path) -> None:
    """``250,0;0,56200``: a European export (refused before: "'250,0' is not a number")."""
    y = model_spectrum([(480.0, 40.0, 0.8)], WL)
    path = tmp_path / "dc.csv"
    path.write_text(
        "nm;A\n"
        + "".join(f"{w:.1f};{a:.5f}\n".replace(".", ",") for w, a in zip(WL, y, strict=True))
    )
    s = read_uvvis(path)
    np.testing.assert_allclose(s.wavelength_nm, WL)
    np.testing.assert_allclose(s.absorbance[:, 0], y, atol=1e-5)
