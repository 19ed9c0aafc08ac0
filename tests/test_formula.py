"""Notation: valid and malformed inputs, electrons, charges, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from nanoalloy.chem.formula import make_ion, parse
from nanoalloy.chem.ligands import DEFAULT_LIGANDS, Ligand
from nanoalloy.errors import FormulaError, LigandError
from strategies import ions

VALID = [
    # text, canonical, charge, core charge, electrons
    ("Au44(p-MBA)26", "Au44(p-MBA)26", 0, 0, 18),
    ("Au12Ag32(p-MBA)30", "Au12Ag32(p-MBA)30", 0, 0, 14),
    ("Ag44(p-MBA)25(NTP)5", "Ag44(p-MBA)25(NTP)5", 0, 0, 14),
    ("Au12Ag32(p-MBA)29Cl", "Au12Ag32(p-MBA)29Cl", 0, 0, 14),
    ("Au25(p-MBA)16H", "Au25(p-MBA)16H", 0, 0, 8),
    ("(C7H5O2S)30", "(C7H5O2S)30", 0, 0, None),
    ("[Au44(p-MBA)26]2-", "[Au44(p-MBA)26]2-", -2, -2, 20),
    ("[Ag44(p-MBA)30]4-", "[Ag44(p-MBA)30]4-", -4, -4, 18),
    ("[Au44(p-MBA)26+12Na-16H]6-", "[Au44(p-MBA)26+12Na-16H]6-", -6, -2, 20),
    ("[Au43Ag1(p-MBA)26-H]3-", "[Au43Ag1(p-MBA)26-H]3-", -3, -2, 20),
    ("[Au25(p-MBA)18+2Na-7H]6-", "[Au25(p-MBA)18+2Na-7H]6-", -6, -1, 8),
    ("[Au25(p-MBA)18-5H]6-", "[Au25(p-MBA)18-5H]6-", -6, -1, 8),
    ("[Au21Ag23(p-MBA)27]3-", "[Au21Ag23(p-MBA)27]3-", -3, -3, 20),
    ("[Ag43(p-MBA)28]3-", "[Ag43(p-MBA)28]3-", -3, -3, 18),
    ("[[Au44(p-MBA)26]2-+12Na-16H]6-", "[Au44(p-MBA)26+12Na-16H]6-", -6, -2, 20),
    ("Ag32Au12(pMBA)30", "Au12Ag32(p-MBA)30", 0, 0, 14),
    ("[Au(p-MBA)2]-", "[Au(p-MBA)2]-", -1, -1, 0),
    ("[Au44(p-MBA)26 + 12Na - 16H]6-", "[Au44(p-MBA)26+12Na-16H]6-", -6, -2, 20),
    ("[Au44(p-MBA)26]²⁻", "[Au44(p-MBA)26]2-", -2, -2, 20),
    ("[Au44(p-MBA)26+Cl]3-", "[Au44(p-MBA)26+Cl]3-", -3, -2, 20),
    ("[Au44(p-MBA)26+2K-4H]4-", "[Au44(p-MBA)26+2K-4H]4-", -4, -2, 20),
    ("[Au25(PET)18]-", "[Au25(PET)18]-", -1, -1, 8),
    ("PtAu24(PET)18", "Au24Pt1(PET)18", 0, 0, 6),
    ("[Au24Pd(PET)18]2-", "[Au24Pd1(PET)18]2-", -2, -2, 8),
    ("[Au24Cd(PET)18]-", "[Au24Cd1(PET)18]-", -1, -1, 9),
    ("Cu25H22(PPh3)12Cl", "Cu25(PPh3)12ClH22", 0, 0, 2),
    ("Au8(BDT)4", "Au8(BDT)4", 0, 0, 0),
    ("[Au44(p-MBA)26+H2O]2-", "[Au44(p-MBA)26+H2O]2-", -2, -2, 20),
]


@pytest.mark.parametrize(("text", "canonical", "charge", "core", "electrons"), VALID)
def test_valid_notation(
    text: str, canonical: str, charge: int, core: int, electrons: int | None
) -> None:
    ion = parse(text)
    assert str(ion) == canonical
    assert ion.charge == charge
    assert ion.core_charge == core
    assert ion.electrons == electrons
    assert parse(canonical) == ion


def test_composition_of_esi_ion() -> None:
    ion = parse("[Au44(p-MBA)26+12Na-16H]6-")
    assert ion.composition == {"C": 182, "H": 130 - 16, "Au": 44, "Na": 12, "O": 52, "S": 26}
    assert ion.n_ligands == 26 and ion.n_metals == 44


def test_sr_binding_and_electrons() -> None:
    ion = parse("[Au21Ag23(SR)27]3-", sr="p-MBA")
    assert ion == parse("[Au21Ag23(p-MBA)27]3-")
    assert ion.electrons == 20
    assert parse("[Ag44(SR)30]4-", sr="pMBA").electrons == 18


def test_raw_group_matching_a_ligand_counts_electrons() -> None:
    assert parse("[Ag44(C7H5O2S)30]4-").electrons == 18


def test_cl_shell_counts_as_ligand() -> None:
    ion = parse("[Au12Ag32(p-MBA)29Cl]4-")
    assert ion.n_ligands == 30
    assert ion.electrons == 18


# (text, fragment of the message, position)
MALFORMED = [
    ("", "empty formula", 0),
    ("   ", "empty formula", 0),
    ("[Au44(p-MBA)26", "unbalanced '['", 14),
    ("Au44(p-MBA)26]", "unbalanced ']'", 13),
    ("Au44(p-MBA26", "unclosed '('", 4),
    ("Au44p-MBA)26", "expected an element symbol", 4),
    ("Au44)(p-MBA)26", "unbalanced ')'", 4),
    ("Xx44(p-MBA)26", "unknown element 'Xx'", 0),
    ("Au44(FOO)26", "unknown ligand 'FOO'", 5),
    ("Au44(Zz3)26", "'Zz' is no element", 5),
    ("Au0(p-MBA)26", "at least 1", 2),
    ("Au44(p-MBA)0", "at least 1", 11),
    ("Au99999(p-MBA)26", "absurd", 2),
    ("Au44(p-MBA)026", "leading zero", 11),
    ("[Au44(p-MBA)26]2--", "garbage after the charge", 15),
    ("[Au44(p-MBA)26]-2", "garbage after the charge", 15),
    ("[Au44(p-MBA)26]2", "needs a sign", 15),
    ("[Au44(p-MBA)26]x", "after the end of the ion", 15),
    ("[Au44(p-MBA)26]999-", "out of range", 15),
    ("[Au44(p-MBA)26]0-", "takes no sign", 15),
    ("Au\x0744", "control character U+0007", 2),
    ("Au44\x00(p-MBA)26", "control character U+0000", 4),
    ("Au44(p-MBA)26\n", "control character U+000A", 13),
    ("[Au44(SR)26]2-", "SR is not bound", 6),
    ("Au44SR26", "SR is a ligand alias", 4),
    ("Au44(p-MBA)26+12Na", "needs the ion in brackets", 13),
    ("[Au44(p-MBA)26+]2-", "expected a group after '+'", 15),
    ("[Au44(p-MBA)26+12Na-30H]6-", "acidic protons", 25),
    ("[[Au44(p-MBA)26]3-+12Na-16H]6-", "written core charge 3- disagrees", 16),
    ("[[Au44(p-MBA)26]]6-", "expected the core charge", 16),
    ("au44(p-MBA)26", "expected an element symbol (capital letter)", 0),
    ("Au44(p-MBA)26 Ag", "unexpected 'A' after the core", 14),
    ("Au44(()p-MBA)26", "nested parentheses", 5),
    ("Au44()26", "empty parentheses", 4),
    ("Au44(p-MBA)26é", "unexpected character 'é'", 13),
    ("[]2-", "expected a core", 1),
    ("Au44(p MBA)26", "unexpected ' ' inside parentheses", 6),
    ("[Au44(p-MBA)26]2-]", "after the end of the ion", 17),
    ("Au-3(p-MBA)26", "needs the ion in brackets", 2),
    ("[Au44(p-MBA)26 12Na]6-", "expected '+', '-' or ']'", 15),
]


@pytest.mark.parametrize(("text", "message", "position"), MALFORMED)
def test_malformed_notation(text: str, message: str, position: int) -> None:
    with pytest.raises(FormulaError) as info:
        parse(text)
    err = info.value
    assert message in err.message, err.message
    assert err.position == position
    # the rendered message has a caret line under the offending token
    lines = str(err).splitlines()
    assert len(lines) == 3 and lines[2].rstrip().endswith("^")
    assert isinstance(err, ValueError)


def test_at_least_thirty_malformed_cases() -> None:
    assert len(MALFORMED) >= 30


def test_unknown_sr_binding() -> None:
    with pytest.raises(LigandError, match="unknown ligand 'XYZ'"):
        parse("[Au44(SR)26]2-", sr="XYZ")


def test_ligand_registry_contents() -> None:
    for name in ["p-MBA", "NTP", "PET", "SG", "MHA", "DMBT", "TBBT", "BDT", "Cl", "Br", "I"]:
        assert name in DEFAULT_LIGANDS
    assert DEFAULT_LIGANDS["BDT"].formula_string == "C6H4S2"
    assert DEFAULT_LIGANDS["BDT"].electrons == 2
    assert DEFAULT_LIGANDS["p-MBA"].acidic_protons == 1
    assert DEFAULT_LIGANDS["SG"].acidic_protons == 2


def test_user_ligands_from_toml(tmp_path) -> None:
    path = tmp_path / "lig.toml"
    path.write_text('[ligand.MPA2]\nformula = "C3H5O2S"\nacidic_protons = 1\naliases = ["mpa2"]\n')
    reg = DEFAULT_LIGANDS.from_toml(path)
    ion = parse("[Au25(mpa2)18-3H]4-", ligands=reg)
    assert str(ion) == "[Au25(MPA2)18-3H]4-"
    assert ion.electrons == 25 - 18 + 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[ligand.X]\nformula = 3\n")
    with pytest.raises(LigandError, match="'formula'"):
        DEFAULT_LIGANDS.from_toml(bad)


def test_sr_cannot_be_an_alias() -> None:
    with pytest.raises(LigandError, match="reserved"):
        DEFAULT_LIGANDS.with_ligands([Ligand("X", (("S", 1),), aliases=("SR",))])


def test_make_ion_matches_parse() -> None:
    ion = make_ion(
        {"Au": 12, "Ag": 32}, {"p-MBA": 29, "Cl": 1}, charge=-5, adducts={"Na": 1, "H": -2}
    )
    assert ion == parse("[Au12Ag32(p-MBA)29Cl+Na-2H]5-")
    assert ion.core_charge == -4


@settings(max_examples=200, deadline=None)
@given(ions())
def test_round_trip(ion) -> None:  # noqa: ANN001
    assert parse(str(ion)) == ion
    assert str(parse(str(ion))) == str(ion)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[Au25(PET)18-30H]7-", "removes 30 proton(s) but the ligands (PET) carry no acidic"),
        ("[Au25(PET)18]30+", "valence electron count would be -23 (< 0)"),
    ],
)
def test_cli_mz_refuses_an_ion_no_cluster_can_be(
    text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from nanoalloy import cli

    assert cli.main(["mz", text]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nanoalloy mz: error: "), captured.err
    assert message in lines[0]
    # sound ions still pass
    assert cli.main(["mz", "[Au44(p-MBA)26+12Na-16H]6-"]) == 0
    assert "valence electrons  20" in capsys.readouterr().out


def test_a_ligand_file_cannot_redefine_a_known_ligand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--ligands`` with ``[ligand.PET] formula = "C9H11S"`` silently replaced the built-in
    PET: every mass of every formula and preset naming PET moved (7390.93 -> 7643.21)."""
    from nanoalloy import cli

    redef = tmp_path / "redef.toml"
    redef.write_text('[ligand.PET]\nformula = "C9H11S"\n')
    with pytest.raises(LigandError, match=r"'PET' is already the known ligand PET \(C8H9S"):
        DEFAULT_LIGANDS.from_toml(redef)
    for argv in (
        ["mz", "[Au25(PET)18]-"],
        ["preset", "check", "au25ag-sr18"],
        ["assign", "nothing.csv", "--preset", "au25-sr18", "--out", str(tmp_path / "o")],
    ):
        assert cli.main([*argv, "--ligands", str(redef)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "already the known ligand PET" in err
    # as an alias of one's own ligand, too
    alias = tmp_path / "alias.toml"
    alias.write_text('[ligand.MBA2]\nformula = "C7H4O2S"\naliases = ["pMBA"]\n')
    with pytest.raises(LigandError, match="'pMBA' is already the known ligand p-MBA"):
        DEFAULT_LIGANDS.from_toml(alias)
    # the same chemistry under a known name (an extra alias) is no redefinition
    same = tmp_path / "same.toml"
    same.write_text('[ligand.PET]\nformula = "C8H9S"\naliases = ["phenylethyl"]\n')
    reg = DEFAULT_LIGANDS.from_toml(same)
    assert parse("[Au25(phenylethyl)18]-", ligands=reg) == parse("[Au25(PET)18]-")


def test_an_unknown_sr_is_refused_also_where_the_formula_holds_no_sr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``mz "[Au25(PET)18]-" --sr NOPE`` printed the masses, exit 0: the typo went unseen."""
    from nanoalloy import cli

    for argv in (["mz", "[Au25(PET)18]-"], ["pattern", "[Au25(PET)18]-", "--out", "x.csv"]):
        if argv[0] == "pattern":
            argv[-1] = str(tmp_path / "x.csv")
        assert cli.main([*argv, "--sr", "NOPE"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--sr NOPE: unknown ligand 'NOPE'" in err
    assert not (tmp_path / "x.csv").exists()
    assert cli.main(["mz", "[Au25(SR)18]-", "--sr", "SC2H4Ph"]) == 0  # an alias is known


def test_a_neutral_species_label_reads_back() -> None:
    """species.csv writes a neutral-core species as [Au25(p-MBA)18]0 (a -1/0 pair, one
    electron apart); the parser refused its own notation ("0 needs a sign")."""
    ion = parse("[Au25(p-MBA)18]0")
    assert ion.charge == 0
    assert parse("[Au25(p-MBA)18]-").composition == ion.composition
    with pytest.raises(FormulaError, match="takes no sign"):
        parse("[Au25(PET)18]0-")


def test_a_counter_ion_is_written_by_its_name() -> None:
    """``+2TOA`` as the README's counter-ions name it (was "unknown ligand 'TOA'")."""
    by_name = parse("[Au25(PET)18+2TOA]+")
    assert by_name == parse("[Au25(PET)18+2C32H68N]+")
    assert by_name.charge == 1
    assert parse("[Au25(PET)18+TBA]0") == parse("[Au25(PET)18+C16H36N]0")
    # and written back by its name, as a chemist labels it (was "+2C32H68N")
    assert str(by_name) == "[Au25(PET)18+2TOA]+"
    assert str(parse("[Au25(PET)18+C24H20P+Cs]2+")) == "[Au25(PET)18+PPh4+Cs]2+"
