"""Presets and candidate enumeration."""

from __future__ import annotations

import numpy as np
import pytest

from nanoalloy.chem.formula import parse
from nanoalloy.errors import PresetError
from nanoalloy.ms.library import (
    complex_forms,
    enumerate_candidates,
    fragment_forms,
    fragment_parents,
    ion_forms,
    list_presets,
    load_preset,
    species_ion,
)


@pytest.fixture(scope="module")
def preset():  # noqa: ANN201
    return load_preset("auag44-pmba")


def test_shipped_presets() -> None:
    assert "auag44-pmba" in list_presets()


def test_families_and_electron_counts(preset) -> None:  # noqa: ANN001
    assert [f.name for f in preset.families] == ["M44S30", "M44S27", "M44S26"]
    assert species_ion(preset, "M44S30", 0).electrons == 18
    assert species_ion(preset, "M44S27", 21).electrons == 20
    assert species_ion(preset, "M44S26", 44).electrons == 20
    assert str(species_ion(preset, "M44S26", 44)) == "[Au44(p-MBA)26]2-"
    assert species_ion(preset, "M44S30", 12, halides=3).n_ligands == 30


def test_esi_ladder_is_charge_consistent(preset) -> None:  # noqa: ANN001
    forms = ion_forms(preset, "M44S26", 44)
    assert {c.charge for c in forms} == {-3, -6, -7, -8}
    for c in forms:
        assert c.ion.core_charge == -2
        assert c.protons_removed == c.na + (-2) - c.charge
        assert 0 <= c.protons_removed <= 26
    names = {str(c.ion) for c in forms}
    assert "[Au44(p-MBA)26+12Na-16H]6-" in names
    assert "[Au44(p-MBA)26-H]3-" in names


def test_cl_shell_variants_pool_into_one_species(preset) -> None:  # noqa: ANN001
    a = ion_forms(preset, "M44S30", 12, halides=0)
    b = ion_forms(preset, "M44S30", 12, halides=2)
    assert {c.species for c in a} == {c.species for c in b} == {"Au12Ag32(p-MBA)30"}
    assert all(c.ligands == 30 for c in b)
    assert max(c.protons_removed for c in b) <= 28


def test_fragments_and_complexes(preset) -> None:  # noqa: ANN001
    frags = {str(c.ion) for c in fragment_forms(preset, "M44S30", 0)}
    assert "[Ag43(p-MBA)28]3-" in frags
    ion = parse("[Ag43(p-MBA)28]3-")
    assert ion.mz_average == pytest.approx(2975.78, abs=0.05)
    comps = {str(c.ion) for c in complex_forms(preset)}
    assert {"[Au(p-MBA)2]-", "[Ag(p-MBA)2]-", "[Au3Ag3(p-MBA)7]-"} <= comps
    assert all(c.au + c.ag <= 6 for c in complex_forms(preset))


def test_fragment_parents_invert_fragment_forms(preset) -> None:  # noqa: ANN001
    for fam in preset.families:
        for x in (0, 1, 17, 43, 44):
            for c in fragment_forms(preset, fam.name, x):
                parents = fragment_parents(preset, c.au, c.ag, c.ligands, c.core_charge)
                assert (fam.name, x) in parents
                # one [M(SR)2]- lost: the parent had the same Au count or one more
                assert all(f == fam.name and px in (c.au, c.au + 1) for f, px in parents)
    # the isobar behind the rule: Au - SR = 2 (Na - H) within 2 mDa
    frag = parse("[Au21Ag22(p-MBA)28+2Na-2H]3-")
    clus = parse("[Au22Ag22(p-MBA)27]3-")
    assert abs(frag.mz_monoisotopic - clus.mz_monoisotopic) * 3 < 0.002
    assert fragment_parents(preset, 30, 20, 26, -2) == []  # no family of 51 metals


def test_enumeration_covers_paper_ions(preset) -> None:  # noqa: ANN001
    lib = enumerate_candidates(preset)
    assert len(lib) > 5000
    names = {str(c.ion): c for c in lib.candidates}
    assert "[Ag44(p-MBA)30]4-" in names
    assert "[Au21Ag23(p-MBA)27]3-" in names
    assert "[Au12Ag32(p-MBA)29Cl]4-" in names
    # average m/z of the library agree with the notation's own masses
    i = [str(c.ion) for c in lib.candidates].index("[Ag44(p-MBA)30]4-")
    assert lib.mz_average[i] == pytest.approx(2335.39, abs=0.05)
    sub = enumerate_candidates(
        preset, families=["M44S27"], mz_range=(3500, 3700), fragments=False, complexes=False
    )
    assert len(sub) > 0 and all(c.family == "M44S27" for c in sub.candidates)
    assert sub.mz_average.min() >= 3500 and sub.mz_average.max() <= 3700
    assert len(lib.subset(lib.mz_average < 1000)) == int((lib.mz_average < 1000).sum())


def test_user_preset(tmp_path) -> None:
    path = tmp_path / "au25.toml"
    path.write_text(
        'name = "au25-pet"\nligand = "PET"\nmetals = ["Au", "Ag"]\nn_metals = 25\n'
        '[[family]]\nname = "M25S18"\nligands = 18\ncore_charge = -1\nx = [15, 25]\nion_charges = [-1]\n'
    )
    p = load_preset(path)
    lib = enumerate_candidates(p)
    assert {c.family for c in lib.candidates} == {"M25S18"}
    assert "[Au25(PET)18]-" in {str(c.ion) for c in lib.candidates}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x'\n", "missing key 'ligand'"),
        (
            "name = 'x'\nligand = 'NOPE'\nmetals=['Au','Ag']\nn_metals=44\nfamily=[]\n",
            "unknown ligand",
        ),
        (
            "name = 'x'\nligand = 'PET'\nmetals=['Au']\nn_metals=44\nfamily=[]\n",
            "two element symbols",
        ),
        ("name = 'x\n", "not valid TOML"),
        (
            "name='x'\nligand='PET'\nmetals=['Au','Ag']\nn_metals=25\n[[family]]\nname='F'\nligands=18\ncore_charge=-1\nx=[0,99]\n",
            "'x' must be",
        ),
    ],
)
def test_bad_presets(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(PresetError, match=message):
        load_preset(path)


def test_unknown_preset_name() -> None:
    with pytest.raises(PresetError, match="unknown preset 'nope'"):
        load_preset("nope")


# -- on-disk cache of the library and its isotope patterns -------------------------------
def _fresh(monkeypatch: pytest.MonkeyPatch, folder) -> None:  # noqa: ANN001
    from nanoalloy.ms.assign import candidates

    monkeypatch.setenv("NANOALLOY_CACHE_DIR", str(folder))
    monkeypatch.setattr(candidates, "_PATTERN_CACHE", {})


def test_disk_cache_written_then_read_without_rebuilding(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from nanoalloy.ms.assign import candidates

    p = load_preset("ag25-sr18")
    _fresh(monkeypatch, tmp_path / "c")
    lib, pats, owner, main_mz = candidates._library(p)
    files = list((tmp_path / "c").glob("library-*.pkl"))
    assert len(files) == 1
    assert not list((tmp_path / "c").glob("*.tmp"))  # renamed into place
    # a new process (empty memory cache) reads the entry and does not rebuild
    _fresh(monkeypatch, tmp_path / "c")

    def boom(_p):  # noqa: ANN001, ANN202
        raise AssertionError("rebuilt although cached")

    monkeypatch.setattr(candidates, "_build", boom)
    lib2, pats2, owner2, mz2 = candidates._library(p)
    assert [str(c.ion) for c in lib2.candidates] == [str(c.ion) for c in lib.candidates]
    assert np.array_equal(mz2, main_mz) and np.array_equal(owner2, owner)
    assert all(np.array_equal(a.mz, b.mz) for a, b in zip(pats, pats2, strict=True))


def test_disk_cache_corrupt_entry_is_rebuilt(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from nanoalloy.ms.assign import candidates

    p = load_preset("ag25-sr18")
    _fresh(monkeypatch, tmp_path)
    ref = candidates._library(p)[0]
    (entry,) = tmp_path.glob("library-*.pkl")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated by a crash elsewhere
    _fresh(monkeypatch, tmp_path)
    lib = candidates._library(p)[0]
    assert len(lib) == len(ref)
    assert entry.stat().st_size > 100  # rewritten whole


def test_disk_cache_key_follows_content_and_no_cache_writes_nothing(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from dataclasses import replace

    from nanoalloy.ms import diskcache
    from nanoalloy.ms.assign import candidates

    p = load_preset("ag25-sr18")
    f = p.families[0]
    q = replace(p, families=(replace(f, ion_charges=(-1,)),))
    assert diskcache.preset_key(p) != diskcache.preset_key(q)
    assert diskcache.preset_key(p) == diskcache.preset_key(load_preset("ag25-sr18"))
    _fresh(monkeypatch, tmp_path)
    candidates._library(q, cache=False)
    assert not list(tmp_path.iterdir())


def test_cache_dir_follows_environment(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from nanoalloy.ms import diskcache

    monkeypatch.setenv("NANOALLOY_CACHE_DIR", str(tmp_path / "a"))
    assert diskcache.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("NANOALLOY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert diskcache.cache_dir() == tmp_path / "xdg" / "nanoalloy"


def test_disk_cache_concurrent_writers_leave_one_whole_entry(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from concurrent.futures import ThreadPoolExecutor

    from nanoalloy.ms import diskcache

    monkeypatch.setenv("NANOALLOY_CACHE_DIR", str(tmp_path))
    payload = [np.arange(200_000, dtype=float) * k for k in range(4)]
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda _: diskcache.store("t", "k", payload), range(16)))
    assert all(done)
    assert [p.name for p in tmp_path.iterdir()] == ["t-k.pkl"]  # no temp files left
    got = diskcache.load("t", "k")
    assert all(np.array_equal(a, b) for a, b in zip(got, payload, strict=True))
    assert diskcache.load("t", "other") is None
