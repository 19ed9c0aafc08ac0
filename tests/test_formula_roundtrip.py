"""``parse(str(ion)) == ion`` for every accepted string (issue 13, point 6).

A hypothesis property over the notation grammar (tests/strategies.py:
counts at and over the limit, raw groups, halides, modifications, written
core charges), plus the failures the issue found by random probing.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from nanoalloy.chem.formula import MAX_COUNT, parse
from nanoalloy.errors import FormulaError
from strategies import notations


@settings(max_examples=3000, deadline=None)
@given(notations())
def test_every_accepted_string_round_trips(text: str) -> None:
    try:
        ion = parse(text, sr="PET")
    except FormulaError as exc:
        assert "\n" not in exc.one_line  # rejected with a one-line reason, nothing else
        return
    printed = str(ion)
    again = parse(printed)
    assert again == ion, (text, printed, str(again))
    assert str(again) == printed


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("[Pt19(C1O1)22]4-", "[Pt19(C1O1)22]4-"),  # a raw group of ones is not a ligand name
        ("Au44(Cl1)16", "Au44(Cl1)16"),  # a raw Cl is not the bare halide Cl16
        ("[Au25(PET)18+(C1O1)]-", "[Au25(PET)18+C1O1]-"),  # nor is a CO modification
        ("Au25(C7H5O2S)18", "Au25(C7H5O2S)18"),  # formulas with counts print as they are
    ],
)
def test_raw_groups_of_ones_print_unambiguously(text: str, printed: str) -> None:
    ion = parse(text)
    assert str(ion) == printed
    assert parse(printed) == ion
    assert parse(printed).ligands == ion.ligands


@pytest.mark.parametrize(
    "text",
    [
        f"Au{MAX_COUNT - 4000}Au{MAX_COUNT - 4000}",  # Au6000Au6000: merged over the limit
        f"Au44(p-MBA)26(p-MBA){MAX_COUNT}",
        f"[Au44(p-MBA)26+{MAX_COUNT}Na+{MAX_COUNT}Na]-",
        f"Au2(C{MAX_COUNT}C{MAX_COUNT})",
    ],
)
def test_counts_over_the_limit_after_merging_are_refused(text: str) -> None:
    with pytest.raises(FormulaError, match=str(MAX_COUNT)):
        parse(text)


@pytest.mark.parametrize(
    "text",
    [
        "Au" + "9" * 4300,
        "Au" + "1" * 5000 + "(PET)2",
        "[Au25(PET)18]" + "1" * 4400 + "-",
        "Au2(C" + "7" * 4400 + ")",
    ],
    ids=["count", "count-then-ligand", "charge", "raw-count"],
)
def test_huge_digit_strings_are_formula_errors_not_python_limits(text: str) -> None:
    # int() of more than 4300 digits raises Python's own ValueError
    with pytest.raises(FormulaError, match="absurd|out of range|bad count") as info:
        parse(text)
    assert len(info.value.one_line) < 400
