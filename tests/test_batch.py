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
