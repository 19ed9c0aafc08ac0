"""Series: inputs, labels, the long table (fit-kinetics ready), figures and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _fake_assign import fake_assign, make_spectrum
from nanoalloy import cli
from nanoalloy.errors import InputError, SpectrumFormatError
from nanoalloy.ms.io import write_csv, write_mzml
from nanoalloy.results.series import (
    TABLE_COLUMNS,
    Series,
    assign_series,
    collect_inputs,
    load_inputs,
    parse_label,
    run_series,
)

RATIO_DISTS = {
    "1:10": {("M44S30", 7): 1.0, ("M44S30", 8): 0.8, ("M44S30", 6): 0.4},
    "1:3": {("M44S30", 12): 1.0, ("M44S30", 11): 0.5},
    "3:1": {("M44S27", 21): 1.0, ("M44S27", 20): 0.6, ("M44S26", 41): 0.3},
    "30:1": {("M44S26", 43): 1.0, ("M44S26", 42): 0.5},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1:3", ("1:3", None, 1 / 3)),
        ("3:1", ("3:1", None, 3.0)),
        ("R1-40", ("1:40", None, 1 / 40)),
        ("ratio_30to1", ("30:1", None, 30.0)),
        ("run 2 1:10", ("1:10", None, 0.1)),
        ("30min", ("30 min", 0.5, None)),
        ("2h", ("2 h", 2.0, None)),
        ("t_90s", ("90 s", 0.025, None)),
        ("sample A", ("sample A", None, None)),
        ("0:1", ("0:1", None, None)),
    ],
)
def test_parse_label(text: str, expected: tuple[str, float | None, float | None]) -> None:
    label, t, r = parse_label(text)
    assert label == expected[0]
    assert t == pytest.approx(expected[1]) if expected[1] is not None else t is None
    assert r == pytest.approx(expected[2]) if expected[2] is not None else r is None


def _ratio_series() -> Series:
    items = []
    for lab, dist in RATIO_DISTS.items():
        label, t, r = parse_label(lab)
        items.append((label, t, r, make_spectrum(dist)))
    return assign_series(items[::-1], assign_fn=fake_assign, title="ratios")


def test_series_table_and_order() -> None:
    s = _ratio_series()
    assert s.axis == "ratio"
    assert s.labels == ["1:10", "1:3", "3:1", "30:1"]  # sorted by ratio
    tab = s.table
    assert list(tab.columns) == list(TABLE_COLUMNS)
    assert "complex" not in set(tab["family"])  # clusters only
    assert tab["time_h"].isna().all()
    sums = tab.groupby("label")["abundance"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    summ = s.summary
    assert list(summ["dominant_family"]) == ["M44S30", "M44S30", "M44S27", "M44S26"]
    np.testing.assert_allclose(summ["mean_electrons"].iloc[:2], 18.0)
    assert summ["feed_electrons"].iloc[0] == pytest.approx((20 * 0.1 + 18) / 1.1)
    html = s._repr_html_()
    assert "<table" in html and "M44S30" in html
    assert "ratio" in repr(s)


@pytest.mark.parametrize("kind", ["spectra", "heatmap", "fractions", "au_ag", "electrons"])
def test_series_plot_kinds(kind: str) -> None:
    fig = _ratio_series().plot(kind)
    assert fig.axes


def test_series_plot_bad_kind() -> None:
    with pytest.raises(InputError, match="unknown plot kind"):
        _ratio_series().plot("pie")  # type: ignore[arg-type]


def test_series_write(tmp_path: Path) -> None:
    out = _ratio_series().write(tmp_path / "out")
    for name in (
        "series.csv",
        "summary.csv",
        "ions.csv",
        "families.csv",
        "run.json",
        "report.html",
    ):
        assert (out / name).is_file(), name
    for fig in (
        "stacked_spectra",
        "heatmaps",
        "family_fractions",
        "au_ag_vs_feed",
        "electrons_vs_feed",
    ):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 1000
        assert (out / "figures" / f"{fig}.svg").read_text().lstrip().startswith("<?xml")
    back = pd.read_csv(out / "series.csv")
    assert {"label", "time_h", "family", "au", "ag", "ligands", "abundance", "abundance_sd"} <= set(
        back.columns
    )
    # each spectrum is written whole and exact enough to be assigned again (the demo's were
    # min-max decimated and written to 6 digits: m/z to 0.01, ~4 ppm)
    series = _ratio_series()
    spec = series.points[0].spectrum
    again = pd.read_csv(out / "spectra" / "000.csv")
    assert len(again) == len(spec)
    assert np.abs(again["mz"].to_numpy() - spec.mz).max() < 1e-6
    assert np.allclose(again["intensity"], spec.intensity, rtol=1e-6, atol=0.0)


def _time_file(tmp_path: Path) -> Path:
    spectra = []
    for i, (t_min, x) in enumerate([(2.0, 1), (30.0, 6), (120.0, 10), (1200.0, 12)]):
        dist = {("M44S30", x): 1.0, ("M44S30", max(x - 1, 0)): 0.4}
        spectra.append(make_spectrum(dist, {"rt_min": t_min, "ms_level": 1, "index": i}))
    p = tmp_path / "course.mzML"
    write_mzml(spectra, p)
    return p


def test_multiscan_file_is_time_course_and_fit_kinetics_reads_it(tmp_path: Path) -> None:
    from nanoalloy.kinetics import read_timecourse

    p = _time_file(tmp_path)
    items = load_inputs([p])
    assert [round(t or 0, 4) for _, t, _, _ in items] == [
        round(v / 60, 4) for v in (2, 30, 120, 1200)
    ]
    s = run_series([p], out=tmp_path / "ser", assign_fn=fake_assign)
    assert s.axis == "time"
    times, dist = read_timecourse(tmp_path / "ser" / "series.csv")
    np.testing.assert_allclose(times, [2 / 60, 0.5, 2.0, 20.0])
    assert int(np.argmax(dist[-1, 0])) == 12


def test_collect_inputs_folder_glob_and_labels(tmp_path: Path) -> None:
    for lab, dist in RATIO_DISTS.items():
        write_csv(make_spectrum(dist), tmp_path / f"R{lab.replace(':', 'to')}.csv")
    (tmp_path / "notes.md").write_text("not a spectrum")
    assert len(collect_inputs([tmp_path])) == 4
    assert len(collect_inputs([str(tmp_path / "R1*.csv")])) == 2
    items = load_inputs([tmp_path])
    assert sorted(lab for lab, *_ in items) == sorted(RATIO_DISTS)
    files = collect_inputs([tmp_path])
    items = load_inputs(files, labels=["a,b", "c", "d"])
    assert [lab for lab, *_ in items] == ["a", "b", "c", "d"]
    with pytest.raises(InputError, match="3 labels given for 4"):
        load_inputs(files, labels=["a", "b", "c"])
    with pytest.raises(InputError, match="matches no file"):
        collect_inputs([str(tmp_path / "*.mzXML")])
    with pytest.raises(InputError, match="does not exist"):
        collect_inputs([tmp_path / "missing.csv"])


def test_cli_series(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nanoalloy.results.series as series_mod

    monkeypatch.setattr(series_mod, "_default_assign", lambda: fake_assign)
    for lab, dist in RATIO_DISTS.items():
        write_csv(make_spectrum(dist), tmp_path / f"{lab.replace(':', 'to')}.csv")
    out = tmp_path / "out"
    assert cli.main(["series", str(tmp_path / "*.csv"), "--out", str(out)]) == 0
    assert (out / "report.html").stat().st_size > 20_000
    assert (out / "figures" / "au_ag_vs_feed.svg").exists()


def test_cli_series_bad_input_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["series", str(tmp_path / "nothing*.csv"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matches no file" in err
    assert not (tmp_path / "o").exists()


def test_series_columns_pick_text_columns(tmp_path: Path) -> None:
    """Two increasing columns (time, m/z) are ambiguous; ``columns`` names the fix."""
    spec = make_spectrum(RATIO_DISTS["1:3"])
    rows = pd.DataFrame(
        {
            "t": np.linspace(0.1, 5.0, len(spec)),
            "A": np.asarray(spec.mz),
            "B": np.asarray(spec.intensity),
        }
    )
    paths = []
    for lab in ("1to3", "3to1"):
        p = tmp_path / f"{lab}.csv"
        rows.to_csv(p, index=False)
        paths.append(p)
    with pytest.raises(SpectrumFormatError, match="--columns"):
        load_inputs(paths)
    items = load_inputs(paths, columns="2,3")
    assert [i[0] for i in items] == ["1:3", "3:1"]
    np.testing.assert_allclose(items[0][3].mz, np.asarray(spec.mz))
    np.testing.assert_allclose(items[0][3].intensity, np.asarray(spec.intensity))


def test_two_spectra_under_one_label_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import nanoalloy.results.series as series_mod

    monkeypatch.setattr(series_mod, "_default_assign", lambda: fake_assign)
    for name in ("x_1to3", "y_1to3"):
        write_csv(make_spectrum(RATIO_DISTS["1:3"]), tmp_path / f"{name}.csv")
    out = tmp_path / "out"
    assert cli.main(["series", str(tmp_path / "*.csv"), "--out", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nanoalloy series: error: "), lines
    assert "x_1to3.csv" in lines[0] and "y_1to3.csv" in lines[0] and "'1:3'" in lines[0]
    assert not out.exists()
    files = collect_inputs([tmp_path])
    with pytest.raises(InputError, match="same label 'a'.*--labels"):
        load_inputs(files, labels=["a", "a"])
    assert [lab for lab, *_ in load_inputs(files, labels=["a", "b"])] == ["a", "b"]
    spec = make_spectrum(RATIO_DISTS["1:3"])
    with pytest.raises(InputError, match="same label '1:3'"):
        assign_series([("1:3", None, 1 / 3, spec)] * 2, assign_fn=fake_assign)


def test_feed_electrons_belong_to_the_au44_ag44_preset_only() -> None:
    items = [(*parse_label(lab), make_spectrum(d)) for lab, d in RATIO_DISTS.items()]
    own = assign_series(items, assign_fn=fake_assign)  # auag44-pmba: the feed is Au44 + Ag44
    assert np.isfinite(own.summary["feed_electrons"]).all()
    other = assign_series(items, assign_fn=fake_assign, preset="au25ag-sr18")
    assert other.summary["feed_electrons"].isna().all()
    fig = other.plot("electrons")
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels == ["products (assigned)"]  # no (20R+18)/(R+1) feed, no Table S1 rule
    assert "Au44" not in ax.get_xlabel()
    assert ax.get_ylim() != (17.5, 20.5)  # the axes follow the products
    ax_own = own.plot("electrons").axes[0]
    assert "feed (20R+18)/(R+1)" in [ln.get_label() for ln in ax_own.get_lines()]
    assert "n(Au44)/n(Ag44)" in ax_own.get_xlabel()
