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
