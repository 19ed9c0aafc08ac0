"""Hypothesis strategies shared by the test-suite (one module, as DESIGN.md asks)."""

from __future__ import annotations

from hypothesis import strategies as st

from nanoalloy.chem.formula import Ion, make_ion

METALS = ["Au", "Ag", "Cu", "Pt", "Pd", "Cd", "Hg"]
LIGANDS = ["p-MBA", "NTP", "PET", "SG", "MHA", "TBBT", "BDT", "Cl"]


@st.composite
def ions(draw: st.DrawFn) -> Ion:
    """Random but valid cluster ions with metals, ligands, Na/H ladders and a charge."""
    metals = draw(
        st.dictionaries(st.sampled_from(METALS), st.integers(1, 60), min_size=1, max_size=3)
    )
    ligands = draw(
        st.dictionaries(st.sampled_from(LIGANDS), st.integers(1, 40), min_size=1, max_size=3)
    )
    core_charge = draw(st.integers(-6, 3))
    na = draw(st.integers(0, 20))
    acidic = sum(n * {"p-MBA": 1, "SG": 2, "MHA": 1}.get(k, 0) for k, n in ligands.items())
    h = draw(st.integers(0, acidic))
    charge = core_charge + na - h
    adducts = {"Na": na, "H": -h}
    return make_ion(metals, ligands, charge=charge, adducts=adducts)


compositions = st.dictionaries(
    st.sampled_from(["Au", "Ag", "C", "H", "O", "S", "N", "Na", "Cl", "Pt", "Cu"]),
    st.integers(1, 80),
    min_size=1,
    max_size=6,
)


# ----------------------------------------------------------------------------- notation strings
_COUNT = st.one_of(
    st.just(""),
    st.integers(1, 60).map(str),
    st.sampled_from(["1", "01", "0", "9999", "10000", "10001", "6000", "9" * 30]),
)
_RAW_ELEMENTS = ["C", "H", "O", "S", "N", "P", "Cl", "Br", "Na", "Au"]


@st.composite
def _raw_group(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(st.tuples(st.sampled_from(_RAW_ELEMENTS), _COUNT), min_size=1, max_size=4)
    )
    return "(" + "".join(el + n for el, n in parts) + ")" + draw(_COUNT)


_CORE_PART = st.one_of(
    st.tuples(st.sampled_from(METALS), _COUNT).map("".join),
    st.tuples(
        st.sampled_from([*LIGANDS, "PPh3", "pMBA", "SR", "Br", "I", "CO"]).map(lambda s: f"({s})"),
        _COUNT,
    ).map("".join),
    _raw_group(),
    st.tuples(st.sampled_from(["Cl", "Br", "I", "H", "S"]), _COUNT).map("".join),
)
_MOD = st.tuples(
    st.sampled_from(["+", "-", " + ", "- "]),
    _COUNT,
    st.sampled_from(
        ["Na", "K", "H", "Cl", "Cs", "H4N", "(p-MBA)", "C1O1", "(C1O1)", "(Cl1)", "CO"]
    ),
).map("".join)
_CHARGE = st.sampled_from(["", "-", "+", "2-", "3-", "6-", "12-", "2+", "200-", "201-"])


@st.composite
def notations(draw: st.DrawFn) -> str:
    """Strings over the notation grammar: counts (incl. limits and absurd ones), ligand
    names, raw groups (with and without explicit ones), bare halides and hydrides,
    modifications, written core charges (nesting) and ion charges. Many are invalid;
    the valid ones exercise every printing rule."""
    core = "".join(draw(st.lists(_CORE_PART, min_size=1, max_size=5)))
    mods = "".join(draw(st.lists(_MOD, max_size=3)))
    charge = draw(_CHARGE)
    shape = draw(st.sampled_from(["bare", "bracket", "nested"]))
    if shape == "bare":
        return core
    if shape == "nested":
        return f"[[{core}]{draw(_CHARGE) or '-'}{mods}]{charge}"
    return f"[{core}{mods}]{charge}"
