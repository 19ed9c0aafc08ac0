"""The periodic table as nanoalloy needs it: symbols, groups and metal valence.

Masses and isotope abundances are *not* here: they come from IsoSpecPy's own
tables (see :mod:`nanoalloy.chem.isotopes`), so every mass agrees with that engine.

Contents
--------
ELEMENTS
    Symbol -> (atomic number, IUPAC group or None for lanthanides/actinides).
METALS
    Symbols treated as metal atoms of a cluster core.
FREE_VALENCE
    Electrons a metal atom donates to the superatomic core (Cu/Ag/Au 1,
    Ni/Pd/Pt 0, Zn/Cd/Hg 2, alkali 1, alkaline earth 2, Al/Ga/In/Tl 3).
    Metals missing here have no defined count (the electron count is then None).
hill_order
    Sort element counts in Hill order.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ELEMENTS", "FREE_VALENCE", "METALS", "hill_order"]

_TABLE = """
H 1 1|He 2 18|Li 3 1|Be 4 2|B 5 13|C 6 14|N 7 15|O 8 16|F 9 17|Ne 10 18|Na 11 1|Mg 12 2|Al 13 13|
Si 14 14|P 15 15|S 16 16|Cl 17 17|Ar 18 18|K 19 1|Ca 20 2|Sc 21 3|Ti 22 4|V 23 5|Cr 24 6|Mn 25 7|
Fe 26 8|Co 27 9|Ni 28 10|Cu 29 11|Zn 30 12|Ga 31 13|Ge 32 14|As 33 15|Se 34 16|Br 35 17|Kr 36 18|
Rb 37 1|Sr 38 2|Y 39 3|Zr 40 4|Nb 41 5|Mo 42 6|Tc 43 7|Ru 44 8|Rh 45 9|Pd 46 10|Ag 47 11|Cd 48 12|
In 49 13|Sn 50 14|Sb 51 15|Te 52 16|I 53 17|Xe 54 18|Cs 55 1|Ba 56 2|La 57 3|Ce 58 0|Pr 59 0|
Nd 60 0|Pm 61 0|Sm 62 0|Eu 63 0|Gd 64 0|Tb 65 0|Dy 66 0|Ho 67 0|Er 68 0|Tm 69 0|Yb 70 0|Lu 71 3|
Hf 72 4|Ta 73 5|W 74 6|Re 75 7|Os 76 8|Ir 77 9|Pt 78 10|Au 79 11|Hg 80 12|Tl 81 13|Pb 82 14|
Bi 83 15|Po 84 16|At 85 17|Rn 86 18|Fr 87 1|Ra 88 2|Ac 89 3|Th 90 0|Pa 91 0|U 92 0|Np 93 0|
Pu 94 0|Am 95 0|Cm 96 0|Bk 97 0|Cf 98 0|Es 99 0|Fm 100 0|Md 101 0|No 102 0|Lr 103 3|Rf 104 4|
Db 105 5|Sg 106 6|Bh 107 7|Hs 108 8|Mt 109 9|Ds 110 10|Rg 111 11|Cn 112 12|Nh 113 13|Fl 114 14|
Mc 115 15|Lv 116 16|Ts 117 17|Og 118 18
"""


def _load() -> dict[str, tuple[int, int | None]]:
    out: dict[str, tuple[int, int | None]] = {}
    for item in _TABLE.replace("\n", "").split("|"):
        sym, z, group = item.split()
        out[sym] = (int(z), int(group) or None)
    return out


ELEMENTS: dict[str, tuple[int, int | None]] = _load()

_NONMETALS = {"H", "He", "B", "C", "N", "O", "F", "Ne", "Si", "P", "S", "Cl", "Ar", "Ge", "As"}
_NONMETALS |= {"Se", "Br", "Kr", "Sb", "Te", "I", "Xe", "At", "Rn", "Og", "Ts"}
METALS: frozenset[str] = frozenset(s for s in ELEMENTS if s not in _NONMETALS)

_VALENCE_BY_GROUP = {1: 1, 2: 2, 10: 0, 11: 1, 12: 2, 13: 3}
FREE_VALENCE: dict[str, int] = {
    s: _VALENCE_BY_GROUP[g]
    for s, (_, g) in ELEMENTS.items()
    if s in METALS and g in _VALENCE_BY_GROUP
}


def hill_order(counts: Mapping[str, int], /) -> tuple[tuple[str, int], ...]:
    """Element counts in Hill order: C, H, then alphabetical (alphabetical without C).

    >>> hill_order({"S": 1, "O": 2, "H": 5, "C": 7})
    (('C', 7), ('H', 5), ('O', 2), ('S', 1))
    """
    keys = [k for k in counts if counts[k] != 0]
    if "C" in counts:
        first = [k for k in ("C", "H") if k in keys]
    else:
        first = []
    rest = sorted(k for k in keys if k not in first)
    return tuple((k, counts[k]) for k in first + rest)
