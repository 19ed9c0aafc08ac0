"""Preset format v2: any metals, mixed shells, donors, hydrides, charges, ion forms; validation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nanoalloy.chem.formula import parse
from nanoalloy.errors import PresetError
from nanoalloy.ms.library import (
    count_candidates,
    enumerate_candidates,
    family_species,
    ion_forms,
    list_presets,
    load_preset,
    species_forms,
)
from nanoalloy.ms.preset import preset_from_text, x_axis_label

SHIPPED = {
    "auag44-pmba",
    "auag44-pmba-windows",
    "au25-sr18",
    "au25ag-sr18",
    "au25-pmba",
    "au38-sr24",
    "ag25-sr18",
    "ag29-bdt12-pph3",
    "au144-sr60",
}

# IUPAC 2013 conventional / standard atomic weights (independent of our isotope tables)
W = {"Au": 196.966569, "Ag": 107.8682, "Cu": 63.546, "Cs": 132.90545196, "C": 12.011,
     "H": 1.008, "S": 32.06, "P": 30.973762, "Pt": 195.084}  # fmt: skip
E = 0.000548579909


def _avg(counts: dict[str, int], z: int) -> float:
    return (sum(W[k] * n for k, n in counts.items()) - z * E) / abs(z)


BASE = """format = 2
name = "t"
[[family]]
name = "A"
metals = { Au = [21, 25], Ag = [0, 4] }
shell = { PET = 18 }
core_charge = -1
ion_charges = [-1]
"""


def test_every_listed_preset_ships_and_loads() -> None:
    assert SHIPPED <= set(list_presets())
    for name in list_presets():
        p = load_preset(name)
        assert p.families
        # every comment-carrying shipped v2 preset names its literature
    for name in SHIPPED - {"auag44-pmba", "auag44-pmba-windows"}:
        from importlib import resources

        text = (resources.files("nanoalloy") / "data" / "presets" / f"{name}.toml").read_text()
        assert re.search(r"#.*(J\. Am\. Chem\. Soc\.|Nanoscale|Nat\. Commun\.|Chem\.)", text), name


def test_v1_family_n_metals_is_its_own_x_bound() -> None:
    # the bug of issue 12: x was checked against the preset-level n_metals
    text = """name = "v1"
ligand = "p-MBA"
metals = ["Au", "Ag"]
n_metals = 25
[[family]]
name = "Au28"
n_metals = 28
ligands = 20
core_charge = -1
x = [0, 28]
ion_charges = [-3]
max_na = 2
"""
    p = preset_from_text(text, "v1.toml")
    assert p.family("Au28").x_range == (0, 28)
    assert {s.x for s in family_species(p, "Au28")} == set(range(29))
    with pytest.raises(PresetError, match=r"'x' must be \[lo, hi\] within 0\.\.28"):
        preset_from_text(text.replace("x = [0, 28]", "x = [0, 29]"), "v1.toml")


def test_charge_weights_are_read_and_checked() -> None:
    from nanoalloy.ms.response import family_charge_weights

    text = """name = "v1"
ligand = "p-MBA"
metals = ["Au", "Ag"]
n_metals = 25
[[family]]
name = "Au25"
ligands = 18
core_charge = -1
x = [0, 25]
ion_charges = [-3, -4]
max_na = 4
"""
    assert family_charge_weights(preset_from_text(text).family("Au25")) == {-3: 1.0, -4: 1.0}
    given = text.replace("max_na = 4", "max_na = 4\ncharge_weights = [0.7, 0.3]")
    assert family_charge_weights(preset_from_text(given).family("Au25")) == {-3: 0.7, -4: 0.3}
    for bad in ("[0.7]", "[0, 0]", "[-1, 2]", '["a", 1]'):
        with pytest.raises(PresetError, match="charge_weights.*one per ion charge"):
            preset_from_text(text.replace("max_na = 4", f"max_na = 4\ncharge_weights = {bad}"))


def test_ternary_alloy_species_sum_to_n_metals_and_carry_electrons() -> None:
    p = load_preset("au25-sr18")
    sp = family_species(p, "Au25-x-yAgxCuy")
    assert len(sp) == 16  # Ag 1-4 x Cu 1-4, Au the rest (>= 17)
    for s in sp:
        m = dict(s.metals)
        assert sum(m.values()) == 25 and m["Ag"] >= 1 and m["Cu"] >= 1
        assert s.x == m["Ag"]
        assert s.core(p).electrons == 8  # 25 one-electron metals - 18 SR + 1


@pytest.mark.parametrize(
    ("preset", "family", "label", "electrons"),
    [
        ("au25-sr18", "PtAu24", "[Au24Pt1(PET)18]2-", 8),  # Pt gives 0 e: 24 - 18 + 2
        ("au25-sr18", "PtAu24", "[Au24Pt1(PET)18]0", 6),
        ("au25-sr18", "CdAu24", "Au24Cd1(PET)18", 8),  # Cd gives 2 e
        ("au25-pmba", "Au25S18", "Au25(p-MBA)18H", 7),  # hydride withdraws 1 e
        ("au25-pmba", "Au25S16", "Au25(p-MBA)16H2", 8),
        ("ag29-bdt12-pph3", "Ag29-xAux", "Ag29(BDT)12(PPh3)4", 8),  # BDT 2 e, PPh3 0
        ("ag29-bdt12-pph3", "Ag29-xAux", "Ag29(BDT)12", 8),
        ("au38-sr24", "Au38-xAgx", "[Au38(PET)24]0", 14),
    ],
)
def test_electron_counts(preset: str, family: str, label: str, electrons: int) -> None:
    p = load_preset(preset)
    (s,) = [s for s in family_species(p, family) if s.label == label]
    assert s.core(p).electrons == electrons
    for c in species_forms(p, s):
        assert c.electrons == electrons


def test_mixed_shell_ranges() -> None:
    p = load_preset("au25-sr18")
    sp = family_species(p, "Au25(PET)18-y(SBB)y")
    assert [s.x for s in sp] == list(range(1, 9))
    for s in sp:
        shell = dict(s.shell)
        assert shell["PET"] + shell["SBB"] == 18 and s.x == shell["SBB"]
    assert x_axis_label(p, "Au25(PET)18-y(SBB)y") == "x (SBB ligands)"
    assert x_axis_label(p, "Au25-xAgx") == "x (Ag atoms)"
    assert x_axis_label("au25-pmba", "Au25S18") == "x (hydrides)"


def test_cation_adducts_in_positive_mode_have_right_mz() -> None:
    p = load_preset("au25-sr18")
    (s,) = [s for s in family_species(p, "Au25-xAgx") if s.label == "[Au25(PET)18]-"]
    forms = {str(c.ion): c for c in species_forms(p, s)}
    # anion core: one Cs+ per unit of charge above -1
    assert set(forms) == {"[Au25(PET)18]-", "[Au25(PET)18+2Cs]+", "[Au25(PET)18+3Cs]2+"}
    for c in forms.values():
        assert c.n_cation == c.charge - c.core_charge or c.cation == ""
        assert c.ion.core_charge == -1
    pet = {"C": 8 * 18, "H": 9 * 18, "S": 18}
    ref = _avg({"Au": 25, **pet, "Cs": 2}, 1)
    lib = enumerate_candidates(p)
    i = [str(c.ion) for c in lib.candidates].index("[Au25(PET)18+2Cs]+")
    assert lib.mz_average[i] == pytest.approx(ref, abs=0.1)
    assert _avg({"Au": 25, **pet}, -1) == pytest.approx(7394.1, abs=0.1)  # ~7394 Da, DOMAIN.md


def test_au_ag_preset_spans_the_whole_range_with_right_mz() -> None:
    """au25ag-sr18: Au25-xAgx(PET)18 for every x = 0-25 and no other metal; m/z from IUPAC
    weights summed here (not our isotope tables)."""
    p = load_preset("au25ag-sr18")
    assert set(p.metals) == {"Au", "Ag"}
    lib = enumerate_candidates(p)
    ions = [str(c.ion) for c in lib.candidates]
    pet = {"C": 8 * 18, "H": 9 * 18, "S": 18}
    for au in (25, 22, 0):
        label = {25: "[Au25(PET)18]-", 22: "[Au22Ag3(PET)18]-", 0: "[Ag25(PET)18]-"}[au]
        want = _avg({"Au": au, "Ag": 25 - au, **pet}, -1)
        assert lib.mz_average[ions.index(label)] == pytest.approx(want, abs=0.1)


def test_counter_ions_toa_and_pph4() -> None:
    text = BASE.replace("ion_charges = [-1]", 'ion_charges = [-1, 1]\ncations = ["TOA", "PPh4"]')
    p = preset_from_text(text)
    (s,) = [s for s in family_species(p, "A") if s.x == 0]
    forms = {str(c.ion): c for c in species_forms(p, s)}
    assert "[Au25(PET)18+2TOA]+" in forms  # 2 TOA+ on the 1- core
    assert "[Au25(PET)18+2PPh4]+" in forms
    assert forms["[Au25(PET)18+2TOA]+"].ion.core_charge == -1


def test_na_ladder_with_several_core_charges_is_charge_consistent() -> None:
    text = """format = 2
name = "t"
[[family]]
name = "A"
metals = { Au = 25 }
shell = { p-MBA = 18 }
core_charge = [-1, 0]
ion_charges = [-3, -4]
max_na = 3
"""
    p = preset_from_text(text)
    sp = family_species(p, "A")
    assert [s.core_charge for s in sp] == [-1, 0]
    assert len({s.label for s in sp}) == 2
    for s in sp:
        for c in species_forms(p, s):
            assert c.protons_removed == c.na + s.core_charge - c.charge
            assert 0 <= c.protons_removed <= 18


def test_ion_forms_of_a_family_with_one_species_per_x() -> None:
    p = load_preset("ag25-sr18")
    forms = ion_forms(p, "Ag25-xAux", 1)
    assert {c.species for c in forms} == {"Au1Ag24(DMBT)18"}
    # v2: the au / ag columns count Au and Ag atoms whatever the preset's metal order
    assert {(c.au, c.ag, c.x) for c in forms} == {(1, 24, 1)}
    with pytest.raises(PresetError, match="several|species with x"):
        ion_forms(load_preset("au25-sr18"), "Au25-x-yAgxCuy", 2)


BAD = [
    ("unknown metal", BASE.replace("Ag = [0, 4]", "Xx = [0, 4]"), r"unknown metal 'Xx' in 'metals'"),
    ("unknown ligand", BASE.replace("PET = 18", "FOO = 18"), r"'shell\.FOO': unknown ligand 'FOO'.*--ligands FILE to assign"),
    ("empty range", BASE.replace("Ag = [0, 4]", "Ag = [4, 0]"), r"'metals\.Ag' = \[4, 0\] is an empty range"),
    ("ranges miss n_metals", BASE.replace('name = "A"\n', 'name = "A"\nn_metals = 40\n'), r"never to n_metals = 40"),
    ("overlapping families", BASE + BASE[BASE.index("[[family]]"):].replace('name = "A"', 'name = "B"').replace("Au = [21, 25], Ag = [0, 4]", "Au = [19, 21], Ag = [4, 6]"), r"families 'A' and 'B' overlap \(both hold Au21Ag4\(PET\)18"),
    ("impossible ion charge", BASE.replace("ion_charges = [-1]", "ion_charges = [-1, 1]"), r"ion charge \+1 cannot be formed.*cations"),
    ("impossible core charge", BASE.replace("core_charge = -1", "core_charge = [-1, 0]"), r"core charge \+0 gives none of the ion charges"),
    ("negative electrons", BASE.replace("core_charge = -1\nion_charges = [-1]", "core_charge = 9\nion_charges = [9]"), r"valence electron count would be -2"),
    ("unknown cation", BASE.replace("ion_charges = [-1]", 'ion_charges = [-1]\ncations = ["Zz"]'), r"unknown cation 'Zz'"),
    ("unknown key", BASE.replace("core_charge = -1", "core_charge = -1\ncharge = 3"), r"unknown key\(s\) \['charge'\]"),
    ("donor in shell", BASE.replace("PET = 18", "PET = 18, PPh3 = 4"), r"'PPh3' is a neutral donor: list it under 'donors'"),
    ("neutral ion", BASE.replace("ion_charges = [-1]", "ion_charges = [-1, 0]"), r"'ion_charges' lists 0"),
    ("duplicate family", BASE + BASE[BASE.index("[[family]]"):], r"family name 'A' is used twice"),
    ("bad format", BASE.replace("format = 2", "format = 3"), r"'format' must be 1 or 2"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_presets_get_one_clear_line(what: str, text: str, message: str) -> None:
    with pytest.raises(PresetError) as info:
        preset_from_text(text, "my.toml")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("preset my.toml")
    assert re.search(message, msg), msg


def test_too_many_candidates_is_refused_with_the_count() -> None:
    text = BASE.replace('name = "t"', 'name = "t"\nmax_candidates = 4')
    p = preset_from_text(text, "my.toml")
    assert sum(count_candidates(p).values()) == 5
    with pytest.raises(PresetError, match=r"makes 5 candidate ions .* max_candidates = 4"):
        enumerate_candidates(p)
    # the limit is configurable at load time too
    assert len(enumerate_candidates(preset_from_text(text, max_candidates=5))) == 5


def test_count_candidates_matches_the_library() -> None:
    for name in list_presets():
        p = load_preset(name)
        lib = enumerate_candidates(p, fragments=False, complexes=False)
        assert sum(count_candidates(p).values()) == len(lib), name


# -- nanoalloy preset new / check / list ------------------------------------------------
def test_cli_preset_list(capsys: pytest.CaptureFixture[str]) -> None:
    from nanoalloy.cli import main

    assert main(["preset", "list"]) == 0
    out = capsys.readouterr().out
    assert {line.split()[0] for line in out.splitlines()} == set(list_presets())


def test_cli_preset_new_writes_a_valid_commented_preset(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:  # noqa: ANN001
    from nanoalloy.cli import main

    out = tmp_path / "my.toml"
    args = ["preset", "new", "[Ag29(BDT)12(PPh3)4]3-", "--dope", "Au:0-5", "--out", str(out)]
    assert main(args) == 0
    text = out.read_text()
    assert text.startswith("#")
    assert "metals = { Ag = [24, 29], Au = [0, 5] }" in text
    assert "donors = { PPh3 = [0, 4] }" in text
    p = load_preset(out)
    (f,) = p.families
    assert f.x == "Au" and f.x_range == (0, 5) and f.core_charge == -3
    assert len(family_species(p, f.name)) == 6 * 5  # x 0-5, PPh3 0-4
    # no overwrite without --force; one line, exit 1
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "--force" in err
    assert main([*args, "--force"]) == 0


@pytest.mark.parametrize(
    ("formula", "seen"),
    [
        # the charge states published for each (DOMAIN.md; the shipped presets)
        ("[Au25(p-MBA)18]-", {-3, -4, -5, -6, -7}),
        ("[Ag44(p-MBA)30]4-", {-4, -5}),
        ("[Au44(p-MBA)26]2-", {-3, -6, -7, -8}),
    ],
)
def test_preset_new_lists_the_charge_states_acidic_clusters_show(
    tmp_path, formula: str, seen: set[int]
) -> None:  # noqa: ANN001
    """An acidic shell's charge states start at the core's own: a default starting two below
    it left Ag44(p-MBA)30's 4- ions (the dominant ones) out, and the charge search, one step
    beyond either end, brought back 5- but not 4-."""
    from nanoalloy.cli import main

    out = tmp_path / "p.toml"
    assert main(["preset", "new", formula, "--out", str(out)]) == 0
    (f,) = load_preset(out).families
    assert seen <= set(f.ion_charges), f.ion_charges


@pytest.mark.parametrize(
    ("formula", "seen"),
    [
        # the Cs+ adduct charges of the shipped presets au25-sr18, au38-sr24, au144-sr60
        # (their literature: Qian & Jin 2009; Qian et al. 2010)
        ("[Au25(PET)18]0", {1}),
        ("[Au38(PET)24]0", {1, 2}),
        ("[Au144(PET)60]0", {2, 3, 4}),
    ],
)
def test_preset_new_gives_larger_neutral_clusters_more_cs_charges(
    tmp_path, formula: str, seen: set[int]
) -> None:  # noqa: ANN001
    """A neutral cluster was written with [M+Cs]+ only: a stranger's Au144(PET)60 3+/4+ and
    Au38(PET)24 2+ panels needed the preset edited before any ion was found."""
    from nanoalloy.cli import main

    out = tmp_path / "p.toml"
    assert main(["preset", "new", formula, "--out", str(out)]) == 0
    (f,) = load_preset(out).families
    assert seen <= set(f.ion_charges), f.ion_charges
    assert f.max_cations >= max(seen)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["[Au25(PET)18]-", "--dope", "Ag:0-40"], "up to 40 other metal atoms"),
        (["[Au25(PET)18]-", "--dope", "Ag0-4"], "must look like NAME:LO-HI"),
        (["[Au25(PET)18]-", "--dope", "Au:0-4"], "host metal"),
        (["[Au25(PET)18", "--dope", "Ag:0-4"], "position"),
        (["[Au25(PET)18]-", "--exchange", "SBB:0-30"], "the shell holds 18"),
    ],
)
def test_cli_preset_new_bad_input(
    tmp_path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:  # noqa: ANN001
    from nanoalloy.cli import main

    out = tmp_path / "x.toml"
    usage = "position" != message  # the options' values (2); the formula is the input (1)
    assert main(["preset", "new", *args, "--out", str(out)]) == (2 if usage else 1)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_cli_preset_check_reports_counts_coverage_and_isobars(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from nanoalloy.cli import main

    assert main(["preset", "check", "au25-sr18", "--mz", "6500:8000", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    fams = {f["name"]: f for f in doc["families"]}
    assert fams["Au25-x-yAgxCuy"]["species"] == 16
    assert fams["Au25-xAgx"]["ions"] == count_candidates("au25-sr18")["Au25-xAgx"]
    assert fams["Au25-xAgx"]["mz_min"] < fams["Au25-xAgx"]["mz_max"]
    # 3 (Ag - Cu) = 132.96 Da against one Cs = 132.905 Da: 0.06 m/z apart at 1+,
    # within one FWHM (7000/20000 = 0.35) - the fit needs chemistry to tell them apart
    three = 3 * (107.8682 - 63.546) - 132.90545196
    pairs = [(p["a"], p["b"]) for p in doc["pairs"]]
    assert ("[Au22Cu3(PET)18+2Cs]+", "[Au22Ag3(PET)18+Cs]+") in pairs or (
        "[Au22Ag3(PET)18+Cs]+",
        "[Au22Cu3(PET)18+2Cs]+",
    ) in pairs
    d = next(p["delta_mz"] for p in doc["pairs"] if "Au22Cu3" in p["a"] + p["b"])
    assert d == pytest.approx(three, abs=0.01)
    # at a resolving power high enough to split them, the pair is gone
    assert main(["preset", "check", "au25-sr18", "--mz", "6500:8000", "--resolution",
                 "1000000", "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["near_isobaric_pairs"] == 0


def test_cli_preset_check_bad_preset_one_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from nanoalloy.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace("Ag = [0, 4]", "Ag = [4, 0]"))
    assert main(["preset", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'metals.Ag' = [4, 0] is an empty range" in err
    assert main(["preset", "check", "auag44-pmba", "--max-candidates", "100"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "max_candidates = 100" in err
    with pytest.raises(SystemExit) as info:
        main(["preset", "check"])
    assert info.value.code == 2


def test_msms_ladder_for_a_mixed_shell_preset(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    import pandas as pd

    from nanoalloy.chem.formula import parse
    from nanoalloy.cli import main
    from nanoalloy.ms.msms import fragment_ladder

    ladder = fragment_ladder("[Au25(PET)16(SBB)2]3-", sr=["PET", "SBB"], max_neutral=0)
    by = {f.notation: f for f in ladder}
    assert by["[Au24(PET)16]2-"].loss == "-[Au(SBB)2]-"
    assert by["[Au24(PET)14(SBB)2]2-"].loss == "-[Au(PET)2]-"
    assert {f.notation for f in ladder if f.kind == "complement"} == {"[Au(PET)2]-", "[Au(SBB)2]-"}
    # mass balance: precursor = fragment + lost [Au(SBB)2]- (average masses, charges add up)
    pre = parse("[Au25(PET)16(SBB)2]3-")
    frag, comp = parse("[Au24(PET)16]2-"), parse("[Au(SBB)2]-")
    assert pre.mz_average * 3 == pytest.approx(frag.mz_average * 2 + comp.mz_average, abs=1e-6)
    out = tmp_path / "ms"
    args = [
        "msms",
        "--precursor",
        "[Au25(SR)16(SBB)2]3-",
        "--preset",
        "au25-sr18",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    df = pd.read_csv(out / "fragments.csv")
    assert {"-[Au(PET)2]-", "-[Au(SBB)2]-"} <= set(df["loss"].dropna())


def test_v2_halides_replace_the_main_ligand_and_pool_into_the_species() -> None:
    text = """format = 2
name = "t"
[[family]]
name = "M44S30"
metals = { Ag = [42, 44], Au = [0, 2] }
shell = { p-MBA = 30 }
core_charge = -4
ion_charges = [-4]
max_na = 2
halide = "Cl"
max_halide = 2
x = "Au"
"""
    p = preset_from_text(text)
    (s,) = [s for s in family_species(p, "M44S30") if s.x == 1]
    two = species_forms(p, s, halides=2)
    assert {c.species for c in two} == {"Au1Ag43(p-MBA)30"}
    assert {str(c.ion) for c in two} >= {"[Au1Ag43(p-MBA)28Cl2]4-", "[Au1Ag43(p-MBA)28Cl2+Na-H]4-"}
    assert all(c.electrons == 18 and c.halides == 2 for c in two)  # 44 - 30 + 4
    lib = enumerate_candidates(p)
    assert sum(count_candidates(p).values()) == len(lib) == 3 * 3 * 3  # x, halides, Na 0-2


def test_assign_takes_the_ligands_a_preset_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A preset naming a ligand of one's own: the error says how (``--ligands FILE`` to
    ``assign``), and ``assign --ligands`` then reads the spectrum with it (the error named a
    flag ``assign`` did not have)."""
    import pandas as pd

    from nanoalloy.chem.ligands import DEFAULT_LIGANDS
    from nanoalloy.cli import main
    from nanoalloy.ms.io import write_csv
    from nanoalloy.ms.synth import synthesize

    ligs = tmp_path / "ligands.toml"
    ligs.write_text('[ligand.SBu]\nformula = "C4H9S"\nacidic_protons = 0\n')
    preset = tmp_path / "au25-sbu.toml"
    preset.write_text(
        'format = 2\nname = "au25-sbu"\nmetals = ["Au"]\n\n[[family]]\nname = "Au25"\n'
        "n_metals = 25\nmetals = { Au = [25, 25] }\nshell = { SBu = 18 }\ncore_charge = -1\n"
        "ion_charges = [-1]\n"
    )
    reg = DEFAULT_LIGANDS.from_toml(ligs)
    p = load_preset(preset, registry=reg)
    pops = pd.DataFrame({"family": ["Au25"], "species": ["[Au25(SBu)18]-"], "fraction": [1.0]})
    syn = synthesize(pops, preset=p, mz_range=(6500.0, 6640.0), resolution=15_000, seed=1,
                     polarity="negative")  # fmt: skip
    spec = tmp_path / "s.csv"
    write_csv(syn.spectrum, spec)
    argv = ["assign", str(spec), "--preset", str(preset), "--polarity", "negative", "--no-plot",
            "--no-report"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pass --ligands FILE to assign" in err[0]
    assert main([*argv, "--ligands", str(ligs), "--out", str(tmp_path / "b")]) == 0
    got = pd.read_csv(tmp_path / "b" / "ions.csv")
    assert got.loc[0, "ion"] == "[Au25(SBu)18]-"


def test_counter_ions_of_two_kinds_mix_on_one_ion() -> None:
    """A stranger's positive-mode Au25 panel held [Au25(PET)18+TOA+Cs]+ beside +2TOA and +2Cs,
    which no preset could write: the kinds now mix (each multiset of ``max_cations`` at most)."""
    text = BASE.replace("ion_charges = [-1]", 'ion_charges = [-1, 1]\ncations = ["TOA", "Cs"]')
    p = preset_from_text(text)
    (s,) = [s for s in family_species(p, "A") if s.x == 0]
    forms = {str(c.ion): c for c in species_forms(p, s)}
    assert {"[Au25(PET)18+2TOA]+", "[Au25(PET)18+2Cs]+", "[Au25(PET)18+TOA+Cs]+"} <= set(forms)
    mixed = forms["[Au25(PET)18+TOA+Cs]+"]
    assert mixed.n_cation == 2 and mixed.cation == "TOA+Cs"
    assert parse("[Au25(PET)18+TOA+Cs]+").formula == mixed.ion.formula
    # the fast count agrees with the forms built
    built = [c for c in enumerate_candidates(p).candidates if c.kind == "cluster"]
    assert count_candidates(p)["A"] == len(built)
