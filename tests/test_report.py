"""The HTML report: self-contained, built from series/assign/simulate folders, and in a real browser.

The browser test loads ``report.html`` from disk in headless Chromium (Debian packages
``chromium`` and ``chromium-driver``), lets the page run, and reads back the DOM: the plotly
plots must have rendered (``main-svg`` elements) and the page's own error trap (``#js-status``)
must have caught no script error or ``console.error``. Chromium's console log is also checked
for uncaught errors, and a screenshot is written into the test's tmp folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _fake_assign import fake_assign, make_spectrum
from nanoalloy import cli
from nanoalloy.errors import InputError
from nanoalloy.ms.spectrum import decimate
from nanoalloy.results.report import versions, write_report
from nanoalloy.results.series import assign_series, parse_label

DISTS = {
    "1:10": {("M44S30", 7): 1.0, ("M44S30", 8): 0.8},
    "1:3": {("M44S30", 12): 1.0, ("M44S30", 11): 0.5},
    "3:1": {("M44S27", 21): 1.0, ("M44S26", 41): 0.3},
}

CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


@pytest.fixture(scope="module")
def series_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    items = []
    for lab, d in DISTS.items():
        label, t, r = parse_label(lab)
        items.append((label, t, r, make_spectrum(d)))
    s = assign_series(items, assign_fn=fake_assign, title="Test <series> & co")
    out = tmp_path_factory.mktemp("rep") / "series"
    s.write(out)
    truth = s.table[["label", "family", "au", "abundance"]]
    truth.to_csv(out / "truth.csv", index=False)
    write_report(out, note="These spectra are simulated.")
    return out


def test_report_is_self_contained(series_dir: Path) -> None:
    html = (series_dir / "report.html").read_text()
    assert len(html.encode()) > 20_000
    outside = re.sub(r"<script>.*?</script>", "", html, flags=re.S)  # markup outside scripts
    assert "<script" not in outside and html.count("<script>") >= 3
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", outside)
    assert "Test &lt;series&gt; &amp; co" in html  # escaped
    assert "These spectra are simulated." in html
    assert "Simulated truth against assignment" in html
    assert outside.count("<img alt=") == 5
    assert 'class="sortable"' in html
    for key in ("numpy", "plotly", "nanoalloy"):
        assert key in versions()


def test_report_for_assign_and_simulate_folders(tmp_path: Path) -> None:
    a = tmp_path / "assign"
    a.mkdir()
    res = fake_assign(make_spectrum(DISTS["1:3"]))
    res.species.to_csv(a / "species.csv", index=False)
    res.ions.to_csv(a / "ions.csv", index=False)
    res.families.to_csv(a / "families.csv", index=False)
    spec = make_spectrum(DISTS["1:3"])
    pd.DataFrame({"mz": spec.mz, "intensity": spec.intensity, "model": res.model}).to_csv(
        a / "fit.csv", index=False
    )
    sim = tmp_path / "sim"
    sim.mkdir()
    pops = pd.DataFrame(
        {
            "time_h": [0, 0, 1, 1],
            "family": ["M44S30", "M44S26"] * 2,
            "au": [0, 44, 12, 44],
            "ag": [44, 0, 32, 0],
            "ligands": [30, 26, 30, 26],
            "core_charge": [-4, -2, -4, -2],
            "fraction": [0.5, 0.5, 0.9, 0.1],
        }
    )
    pops.to_csv(sim / "populations.csv", index=False)
    pops[pops.time_h == 1].drop(columns="time_h").to_csv(sim / "final.csv", index=False)
    (sim / "summary.json").write_text(json.dumps({"dominant": "M44S30"}))
    for folder, marker in ((a, "Assignment assign"), (sim, "Simulation sim")):
        assert cli.main(["report", str(folder)]) == 0
        html = (folder / "report.html").read_text()
        assert marker in html and 'class="main-svg"' not in html  # rendered in a browser
    # both at once, one level down
    path = write_report(tmp_path)
    text = path.read_text()
    assert "Assignment assign" in text and "Simulation sim" in text


def test_report_empty_folder_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError, match="holds no nanoalloy results"):
        write_report(tmp_path)
    assert cli.main(["report", str(tmp_path / "missing")]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_decimate_keeps_peaks() -> None:
    x = np.linspace(0, 1, 100_001)
    y = np.exp(-0.5 * ((x - 0.3137) / 1e-4) ** 2)
    xd, yd = decimate(x, y, max_points=2000)
    assert xd.size <= 2000 and yd.max() == y.max()
    assert np.all(np.diff(xd) > 0)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_in_headless_chromium(series_dir: Path, tmp_path: Path) -> None:
    exe = _chromium()
    if exe is None:
        pytest.skip(
            "headless Chromium not installed (Debian: apt-get install chromium chromium-driver)"
        )
    url = (series_dir / "report.html").resolve().as_uri()
    base = [exe, *CHROME_FLAGS, "--virtual-time-budget=15000"]
    dom = subprocess.run(
        [
            *base,
            f"--user-data-dir={tmp_path / 'profile1'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    status = re.search(r'<pre id="js-status"([^>]*)>(.*?)</pre>', dom.stdout, re.S)
    assert status is not None, "report did not load"
    attrs = dict(re.findall(r'data-([a-z]+)="([^"]*)"', status.group(1)))
    assert attrs.get("done") == "1", "page scripts did not finish"
    assert attrs.get("errors") == "0", f"script errors in the page: {status.group(2)}"
    assert int(attrs.get("plots", "0")) >= 3, "plotly plots did not render"
    assert dom.stdout.count('class="main-svg"') >= 3
    console = [
        line
        for line in dom.stderr.splitlines()
        if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)
    ]
    assert not console, console
    shot = tmp_path / "report.png"
    res = subprocess.run(
        [
            *base,
            f"--user-data-dir={tmp_path / 'profile2'}",
            "--window-size=1400,1000",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def _assign_folder(folder: Path) -> Path:
    folder.mkdir()
    res = fake_assign(make_spectrum(DISTS["1:3"]))
    res.species.to_csv(folder / "species.csv", index=False)
    res.ions.to_csv(folder / "ions.csv", index=False)
    res.families.to_csv(folder / "families.csv", index=False)
    (folder / "instrument.json").write_text(json.dumps({"resolution": 20000}) + "\n")
    return folder


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        # cut inside the header: the report had not one species, exit 0
        ("species.csv", lambda b: b[:40], "ends mid-line"),
        ("species.csv", lambda b: b.replace(b"abundance,", b"abund,", 1), "no column abundance"),
        ("ions.csv", lambda b: b[: len(b) // 2] + b"\n", "fields, the header"),
        ("ions.csv", lambda b: b[: len(b) // 2], "ends mid-line"),
        ("species.csv", lambda b: b.replace(b",", b",x", 1) + b"\xff\n", "not UTF-8"),
        ("families.csv", lambda b: b"", "No columns to parse"),
        ("instrument.json", lambda b: b[:5], "instrument.json"),
        ("instrument.json", lambda b: b"[1, 2]\n", "expected a JSON object"),
    ],
)
def test_a_damaged_results_table_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    damage: object,
    message: str,
) -> None:
    folder = _assign_folder(tmp_path / "assign")
    assert cli.main(["report", str(folder)]) == 0
    (folder / "report.html").unlink()
    capsys.readouterr()
    path = folder / name
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    assert cli.main(["report", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("nanoalloy report: error: cannot read ") and name in err
    assert message in err
    assert not (folder / "report.html").exists()


def test_a_non_number_in_a_numeric_column_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _assign_folder(tmp_path / "assign")
    species = pd.read_csv(folder / "species.csv")
    species["abundance"] = species["abundance"].astype(object)
    species.loc[1, "abundance"] = "0.1x"
    species.to_csv(folder / "species.csv", index=False)
    assert cli.main(["report", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "line 3, column 'abundance': '0.1x' is not a number" in err
