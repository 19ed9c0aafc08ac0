"""Batch on Dask: 20 spectra on a 2-worker LocalCluster equal 20 single runs; reruns skip all."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from _fake_assign import fake_assign, make_spectrum
from nanoalloy.batch import file_sha256, run_batch, settings_hash
from nanoalloy.errors import InputError
from nanoalloy.ms.io import read, write_csv

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def spectra_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("batch_in")
    for i in range(20):
        x = 2 + i % 11
        dist = {("M44S30", x): 1.0, ("M44S30", x + 1): 0.3 + 0.02 * i}
        if i % 3 == 0:
            dist[("M44S27", 20 + i % 4)] = 0.5
        write_csv(make_spectrum(dist), d / f"s{i:02d}.csv")
    return d


def _single(path: Path) -> pd.DataFrame:
    return fake_assign(read(path)).species


def test_batch_equals_single_runs_and_resumes(spectra_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_batch(
        [spectra_dir], out=out, workers=2, processes=False, progress=False, assign_fn=fake_assign
    )
    assert len(res.done) == 20 and not res.skipped
    files = sorted(spectra_dir.glob("*.csv"))
    for f in files:
        got = res.species[res.species["spectrum"] == f.name].drop(columns=["spectrum", "sha256"])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), _single(f), check_dtype=False)
    # per-spectrum tables on disk, Parquet and CSV, and the combined tables
    manifest = json.loads((out / "manifest.json").read_text())["entries"]
    assert len(manifest) == 20
    entry = next(iter(manifest.values()))
    for name in ("species", "ions", "families"):
        assert (out / entry["result"] / f"{name}.parquet").is_file()
        assert (out / entry["result"] / f"{name}.csv").is_file()
        assert len(pd.read_parquet(out / f"{name}.parquet")) == len(
            pd.read_csv(out / f"{name}.csv")
        )
    # a rerun skips everything
    again = run_batch(
        [spectra_dir], out=out, workers=2, processes=False, progress=False, assign_fn=fake_assign
    )
    assert not again.done and len(again.skipped) == 20
    pd.testing.assert_frame_equal(again.species, res.species)
    # new settings are a new key: done again
    other = run_batch(
        [files[0]], out=out, workers=1, processes=False, progress=False, assign_fn=fake_assign,
        assign_kwargs={"resolution": 15000},
    )  # fmt: skip
    assert len(other.done) == 1


def test_hashes() -> None:
    assert settings_hash("a") != settings_hash("a", {"x": 1})
    assert settings_hash("a", {"x": 1, "y": 2}) == settings_hash("a", {"y": 2, "x": 1})


def test_changed_file_is_redone(spectra_dir: Path, tmp_path: Path) -> None:
    f = tmp_path / "one.csv"
    f.write_bytes((spectra_dir / "s00.csv").read_bytes())
    kw = {"out": tmp_path / "o", "workers": 1, "processes": False, "progress": False}
    run_batch([f], assign_fn=fake_assign, **kw)  # type: ignore[arg-type]
    sha = file_sha256(f)
    write_csv(make_spectrum({("M44S26", 43): 1.0}), f)
    assert file_sha256(f) != sha
    res = run_batch([f], assign_fn=fake_assign, **kw)  # type: ignore[arg-type]
    assert len(res.done) == 1 and set(res.species["family"]) >= {"M44S26"}


def test_bad_manifest_is_clear(spectra_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="corrupt"):
        run_batch([spectra_dir / "s00.csv"], out=tmp_path, progress=False, assign_fn=fake_assign)


HAVE_ASSIGN = importlib.util.find_spec("nanoalloy.ms.assign") is not None


@pytest.mark.skipif(not HAVE_ASSIGN, reason="nanoalloy.ms.assign (the real assigner) not installed")
def test_batch_with_real_assign_equals_single_runs(tmp_path: Path) -> None:
    from nanoalloy.ms.synth import synthesize

    assign = importlib.import_module("nanoalloy.ms.assign").assign

    src = tmp_path / "in"
    for i in range(20):
        pops = pd.DataFrame(
            {
                "family": ["M44S30"] * 3,
                "au": [6 + i % 6, 7 + i % 6, 8 + i % 6],
                "fraction": [0.3, 0.5, 0.2],
            }
        )
        syn = synthesize(pops, mz_range=(2440.0, 2660.0), resolution=12_000, seed=i)
        write_csv(syn.spectrum, src / f"s{i:02d}.csv")
    out = tmp_path / "out"
    # isotope peaks of a 4- ion at R = 12 000 overlap above half height and a CSV
    # carries no metadata: the workers estimate R from the valleys, like assign
    kw: dict[str, float] = {}
    res = run_batch([src], out=out, workers=2, processes=False, progress=False, assign_kwargs=kw)
    assert len(res.done) == 20
    for f in sorted(src.glob("*.csv")):
        got = res.species[res.species["spectrum"] == f.name].drop(columns=["spectrum", "sha256"])
        want = assign(read(f), **kw)
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True), want.species.reset_index(drop=True), check_dtype=False
        )
    again = run_batch([src], out=out, workers=2, processes=False, progress=False, assign_kwargs=kw)
    assert not again.done and len(again.skipped) == 20


# ----------------------------------------------------------------------------- faults (issue 13)
def _inputs_with_bad_ones(src: Path, spectra_dir: Path) -> list[Path]:
    """Three good spectra, an unreadable file, and a spectrum the assigner refuses."""
    import numpy as np

    from nanoalloy.ms.spectrum import Spectrum

    src.mkdir()
    good = []
    for name in ("s00.csv", "s01.csv", "s02.csv"):
        (src / name).write_bytes((spectra_dir / name).read_bytes())
        good.append(src / name)
    (src / "garbage.csv").write_bytes(b"mz,intensity\n100.1,5\nnot a number at all\n")
    base = read(spectra_dir / "s03.csv")
    y = np.array(base.intensity)
    y[0] = 7.0  # marked: picky_assign refuses it, crashing_assign kills its worker
    write_csv(Spectrum(base.mz, y), src / "refused.csv")
    return [*good, src / "garbage.csv", src / "refused.csv"]


def test_batch_goes_on_past_bad_inputs_and_lists_them(spectra_dir: Path, tmp_path: Path) -> None:
    from _faulty_assign import picky_assign

    files = _inputs_with_bad_ones(tmp_path / "in", spectra_dir)
    out = tmp_path / "out"
    res = run_batch(
        files, out=out, workers=2, processes=False, progress=False, assign_fn=picky_assign
    )
    assert sorted(f.name for f in res.done) == ["s00.csv", "s01.csv", "s02.csv"]
    reasons = {f.name: r for f, r in res.failed}
    assert set(reasons) == {"garbage.csv", "refused.csv"}
    assert "line 3" in reasons["garbage.csv"] and "no cluster ion fits" in reasons["refused.csv"]
    assert all("\n" not in r for r in reasons.values())
    table = pd.read_csv(out / "failures.csv")
    assert list(table.columns) == ["file", "reason"] and len(table) == 2
    # the combined tables hold the good spectra only, and say so in combined.json
    assert set(res.species["spectrum"]) == {"s00.csv", "s01.csv", "s02.csv"}
    combined = json.loads((out / "combined.json").read_text())
    assert sorted(i["spectrum"] for i in combined["inputs"]) == ["s00.csv", "s01.csv", "s02.csv"]
    for name in ("species", "ions", "families"):
        assert combined["tables"][f"{name}.csv"]["rows"] == len(pd.read_csv(out / f"{name}.csv"))
        assert combined["tables"][f"{name}.csv"]["sha256"] == file_sha256(out / f"{name}.csv")
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(out / "ions.parquet").metadata[b"nanoalloy"])
    assert [i["spectrum"] for i in meta["combined"]] == [i["spectrum"] for i in combined["inputs"]]
    # a rerun after fixing nothing: the good ones are skipped, the bad ones fail again
    again = run_batch(
        files, out=out, workers=1, processes=False, progress=False, assign_fn=picky_assign
    )
    assert len(again.skipped) == 3 and len(again.failed) == 2


def test_batch_fail_fast_stops_at_the_first_bad_input(spectra_dir: Path, tmp_path: Path) -> None:
    from _faulty_assign import picky_assign
    from nanoalloy.errors import FitError, SpectrumFormatError

    files = _inputs_with_bad_ones(tmp_path / "in", spectra_dir)
    kw = {"workers": 1, "processes": False, "progress": False, "assign_fn": picky_assign}
    with pytest.raises(SpectrumFormatError, match="garbage.csv"):
        run_batch(files, out=tmp_path / "a", fail_fast=True, **kw)  # type: ignore[arg-type]
    with pytest.raises(FitError, match="no cluster ion fits"):
        run_batch(files[-1:], out=tmp_path / "b", fail_fast=True, **kw)  # type: ignore[arg-type]


def test_batch_cli_failures_table_and_exit_1(
    spectra_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import nanoalloy.batch as nbatch
    from _faulty_assign import picky_assign
    from nanoalloy import cli

    files = _inputs_with_bad_ones(tmp_path / "in", spectra_dir)
    real = nbatch.run_batch

    def threaded(*a: object, **kw: object) -> object:  # the CLI's run, on threads, fake assigner
        return real(*a, **{**kw, "processes": False, "assign_fn": picky_assign})  # type: ignore[arg-type]

    monkeypatch.setattr(nbatch, "run_batch", threaded)
    args = ["batch", *map(str, files), "--out", str(tmp_path / "out"), "--no-progress"]
    assert cli.main(args) == 1
    captured = capsys.readouterr()
    assert "assigned 3" in captured.out and "failed 2" in captured.out
    err = captured.err.strip().splitlines()
    assert "2 input(s) failed" in err[0] and err[1].split() == ["file", "reason"]
    assert len(err) == 4 and {"garbage.csv", "refused.csv"} == {
        Path(line.split()[0]).name for line in err[2:]
    }
    assert "Traceback" not in captured.err


_PICKY_BATCH = """
import sys
import nanoalloy.batch as b
from _faulty_assign import picky_assign
real = b.run_batch
b.run_batch = lambda *a, **k: real(*a, **{**k, "assign_fn": picky_assign})
from nanoalloy.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_batch_cli_on_worker_processes_prints_the_table_not_their_tracebacks(
    spectra_dir: Path, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root / "tests")])}
    files = _inputs_with_bad_ones(tmp_path / "in", spectra_dir)
    args = ["batch", *map(str, files), "--out", str(tmp_path / "out"), "--workers", "1",
            "--no-progress"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", _PICKY_BATCH, *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr and "distributed" not in proc.stderr, proc.stderr
    assert "2 input(s) failed" in err[0] and err[1].split() == ["file", "reason"], proc.stderr
    assert len(err) == 4, proc.stderr
    assert any("refused.csv" in ln and "no cluster ion fits" in ln for ln in err[2:])
    failures = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert {Path(f).name for f in failures["file"]} == {"garbage.csv", "refused.csv"}


def test_batch_task_that_kills_its_workers_is_a_failure_not_a_traceback(
    spectra_dir: Path, tmp_path: Path
) -> None:
    import dask

    from _faulty_assign import crashing_assign

    files = _inputs_with_bad_ones(tmp_path / "in", spectra_dir)
    good = [f for f in files if f.name != "garbage.csv"]
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        res = run_batch(
            good, out=tmp_path / "out", workers=1, processes=True, progress=False,
            assign_fn=crashing_assign,
        )  # fmt: skip
    assert sorted(f.name for f in res.done) == ["s00.csv", "s01.csv", "s02.csv"]
    [(f, reason)] = res.failed
    assert f.name == "refused.csv" and "died" in reason and "\n" not in reason


def test_large_spectra_go_by_scatter_without_graph_warnings(tmp_path: Path) -> None:
    import warnings

    import numpy as np

    from _fake_assign import GRID, fake_assign
    from nanoalloy.ms.io import write_mzml
    from nanoalloy.ms.spectrum import Spectrum

    # 1.5 M points (24 MB of float64): far above Dask's 10 MB "large graph" threshold
    mz = np.linspace(GRID[0], GRID[-1], 1_500_000)
    y = np.exp(-0.5 * ((mz - 1200.0) / 1.0) ** 2) + 1e-4
    write_mzml([Spectrum(mz, y)], tmp_path / "big.mzML")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Sending large graph" is a UserWarning
        res = run_batch(
            [tmp_path / "big.mzML"], out=tmp_path / "out", workers=1, processes=False,
            progress=False, assign_fn=fake_assign,
        )  # fmt: skip
    assert len(res.done) == 1 and not res.failed


def test_combined_tables_never_half_written(
    spectra_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nanoalloy.batch as nbatch

    out = tmp_path / "out"
    kw = {"out": out, "workers": 1, "processes": False, "progress": False, "assign_fn": fake_assign}
    run_batch([spectra_dir / "s00.csv", spectra_dir / "s01.csv"], **kw)  # type: ignore[arg-type]
    before = {p.name: p.read_bytes() for p in out.glob("*.csv")}
    real = nbatch._to_parquet

    def dies_on_families(df: pd.DataFrame, path: Path, meta: object = None) -> None:
        if path.name.startswith(".families.parquet"):
            raise KeyboardInterrupt  # killed while writing the last table
        real(df, path, meta)  # type: ignore[arg-type]

    monkeypatch.setattr(nbatch, "_to_parquet", dies_on_families)
    with pytest.raises(KeyboardInterrupt):
        run_batch([spectra_dir / "s02.csv", spectra_dir / "s03.csv"], **kw)  # type: ignore[arg-type]
    # no manifest claims the tables belong together, and every table file is whole:
    # it holds exactly the old run's spectra or exactly the new run's
    assert not (out / "combined.json").exists()
    assert not list(out.glob(".*.part"))
    old, new = {"s00.csv", "s01.csv"}, {"s02.csv", "s03.csv"}
    for name in ("species", "ions", "families"):
        for table in (pd.read_csv(out / f"{name}.csv"), pd.read_parquet(out / f"{name}.parquet")):
            assert set(table["spectrum"]) in (old, new)
    assert set(pd.read_parquet(out / "families.parquet")["spectrum"]) == old  # the cut one
    assert set(pd.read_csv(out / "ions.csv")["spectrum"]) == new
    assert (out / "ions.csv").read_bytes() != before["ions.csv"]
    monkeypatch.setattr(nbatch, "_to_parquet", real)
    res = run_batch([spectra_dir / "s02.csv", spectra_dir / "s03.csv"], **kw)  # type: ignore[arg-type]
    combined = json.loads((out / "combined.json").read_text())
    assert [i["spectrum"] for i in combined["inputs"]] == ["s02.csv", "s03.csv"]
    assert len(res.skipped) == 2


def test_batch_columns_option(spectra_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("s00.csv", "s01.csv"):
        s = read(spectra_dir / name)
        rows = "".join(
            f"{m!r},{y!r},{1.0 + (i % 5)!r},{2.0 * y!r}\n"
            for i, (m, y) in enumerate(zip(s.mz.tolist(), s.intensity.tolist(), strict=True))
        )
        (src / name).write_text("a,b,c,d\n" + rows)
    kw = {"workers": 1, "processes": False, "progress": False, "assign_fn": fake_assign}
    res = run_batch([src], out=tmp_path / "o1", **kw)  # type: ignore[arg-type]
    assert not res.done and all("--columns" in r for _, r in res.failed)
    res = run_batch([src], out=tmp_path / "o2", columns="1,2", **kw)  # type: ignore[arg-type]
    assert len(res.done) == 2 and not res.failed
    for name in ("s00.csv", "s01.csv"):
        got = res.species[res.species["spectrum"] == name].drop(columns=["spectrum", "sha256"])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), _single(spectra_dir / name))
