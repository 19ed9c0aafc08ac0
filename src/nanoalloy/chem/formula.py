"""Cluster and ion notation: parse, validate, print, and count electrons.

The chemist's notation is the interface::

    Au44(p-MBA)26                 a core (neutral unless bracketed with a charge)
    Au12Ag32(p-MBA)29Cl           mixed shell, bare halide
    Au25(p-MBA)16H                hydride
    (C7H5O2S)30                   raw element groups
    [Au44(p-MBA)26]2-             an ion
    [Au44(p-MBA)26+12Na-16H]6-    an ESI ion: 12 Na+ added, 16 H+ removed
    [[Au44(p-MBA)26]2-+12Na-16H]6-  the same with its core charge written (checked)

Modifications: ``-nH`` removes protons, ``+nH`` adds protons, ``+nNa``/``+nK``
(and Li, Rb, Cs, NH4) add cations, ``+nCl``/``Br``/``I``/``F`` add halide anions,
any other group adds a neutral. The ion charge is the one written at the end;
the core charge is inferred as ion charge minus the charges the modifications
brought in. ``SR`` means nothing until bound (``sr="p-MBA"`` or a preset).

Valence electron count (superatom model): free valence electrons of the metal
atoms (see :data:`nanoalloy.chem.elements.FREE_VALENCE`) minus electrons withdrawn by
ligands (1 per thiolate, halide, hydride; 2 per dithiolate; 0 per neutral
donor) minus the signed core charge. ``[Ag44(p-MBA)30]4-``: 44 - 30 + 4 = 18.

Contents
--------
Group
    One part of a core (metal, ligand, bare element or raw formula) with its count.
Ion
    A parsed species: core groups, modifications, ion and core charge.
parse
    Text -> :class:`Ion`, raising :class:`~nanoalloy.errors.FormulaError`
    with the offending token, its position and a caret line.
make_ion
    Build an :class:`Ion` from counts (what the candidate library uses).
check_chemistry
    Refuse an ion no cluster can be: a negative valence electron count, or more
    protons removed than its ligands' acidic protons (the rules presets keep).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..errors import FormulaError, LigandError
from .elements import ELEMENTS, FREE_VALENCE, METALS, hill_order
from .ligands import CATIONS, DEFAULT_LIGANDS, LigandRegistry, format_element_formula

if TYPE_CHECKING:
    from .isotopes import Pattern

__all__ = ["Group", "Ion", "MAX_CHARGE", "MAX_COUNT", "check_chemistry", "make_ion", "parse"]

MAX_COUNT = 10_000
"""Largest count accepted for any group (anything above is a typo)."""
MAX_CHARGE = 200
"""Largest absolute charge accepted."""

GroupKind = Literal["metal", "element", "ligand", "raw"]

_CATIONS = {"H", "Li", "Na", "K", "Rb", "Cs", *CATIONS.values()}  # + TOA, PPh4 ... (1+)
_ANIONS = {"F", "Cl", "Br", "I"}
# electrons withdrawn by bare non-metal atoms written in a core
_BARE_WITHDRAWN = {"H": 1, "F": 1, "Cl": 1, "Br": 1, "I": 1, "S": 2, "Se": 2, "Te": 2}
_METAL_ORDER = {"Au": 0, "Ag": 1, "Cu": 2}
_TRANSLATE = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",  # en dash
    "\u207b": "-",  # superscript minus
    "\u207a": "+",
    "\u208b": "-",
    "\u208a": "+",
    **{chr(0x2070 + d): str(d) for d in (0, 4, 5, 6, 7, 8, 9)},
    "\u00b9": "1",
    "\u00b2": "2",
    "\u00b3": "3",
    **{chr(0x2080 + d): str(d) for d in range(10)},
}


@dataclass(frozen=True, slots=True)
class Group:
    """One part of a cluster core."""

    name: str
    """Element symbol, canonical ligand name, or raw formula in Hill order."""
    count: int
    """How many of it (>= 1)."""
    kind: GroupKind
    """``metal``, bare ``element`` (hydride, halide), registered ``ligand`` or ``raw`` formula."""
    formula: tuple[tuple[str, int], ...]
    """Elements of one unit, Hill order."""
    electrons: int | None
    """Signed contribution of one unit to the core's electron count (metal +n, thiolate -1); None if undefined."""

    def text(self, *, explicit_one: bool = False) -> str:
        """The group as written canonically (``Au44``, ``(p-MBA)26``, ``Cl``).

        A raw formula whose Hill notation has no digit (``CO``, ``Cl``) would
        read back as a ligand name or a bare element; it is written with its
        ones (``(C1O1)22``, ``(Cl1)16``) so that it parses back to itself.
        """
        n = "" if self.count == 1 and not explicit_one else str(self.count)
        if self.kind in ("metal", "element"):
            return f"{self.name}{n}"
        if self.kind == "raw":
            return f"({_explicit_formula(self.formula, self.name)}){n}"
        return f"({self.name}){n}"


def _explicit_formula(formula: tuple[tuple[str, int], ...], name: str) -> str:
    """``name``, or the formula with every count written when ``name`` has no digit."""
    if any(ch.isdigit() for ch in name) and name not in DEFAULT_LIGANDS:
        return name
    return "".join(f"{el}{k}" for el, k in formula)


def _adduct_charge(formula: str) -> int:
    if formula in _CATIONS or formula == "H4N":
        return 1
    if formula in _ANIONS:
        return -1
    return 0


def _group_sort_key(g: Group) -> tuple[int, int, str]:
    if g.kind == "metal":
        return (0, _METAL_ORDER.get(g.name, 9), g.name)
    if g.kind == "ligand" and g.name not in _ANIONS:
        return (1, 0, "")  # keep written order among ligands (stable sort)
    if g.kind == "raw":
        return (2, 0, "")
    if g.name in _ANIONS or g.kind == "ligand":
        return (3, 0, g.name)
    return (4, 0, g.name)  # bare H and others


def _adduct_sort_key(item: tuple[str, int]) -> tuple[int, int, str]:
    name, n = item
    if name in _CATIONS - {"H"} or name == "H4N":
        cat = 0
    elif name == "H":
        cat = 1
    elif name in _ANIONS:
        cat = 2
    else:
        cat = 3
    return (cat, 0 if n > 0 else 1, name)


@dataclass(frozen=True, slots=True)
class Ion:
    """A cluster, complex or ion in chemist's notation.

    Build one with :func:`parse` or :func:`make_ion`; ``str(ion)`` prints the
    canonical notation and ``parse(str(ion)) == ion``.

    Examples
    --------
    >>> ion = parse("[Au44(p-MBA)26+12Na-16H]6-")
    >>> ion.charge, ion.core_charge, ion.electrons
    (-6, -2, 20)
    >>> str(ion)
    '[Au44(p-MBA)26+12Na-16H]6-'
    """

    core: tuple[Group, ...]
    """Core groups in canonical order (metals, ligands, raw groups, halides, hydride)."""
    adducts: tuple[tuple[str, int], ...] = ()
    """Modifications as (Hill formula, signed count): ``(("Na", 12), ("H", -16))``."""
    charge: int = 0
    """Signed charge of the ion as written."""
    core_charge: int = 0
    """Signed charge of the core, inferred from ``charge`` and the adducts."""
    _cache: dict[str, object] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    # -- printing -------------------------------------------------------------
    def __str__(self) -> str:
        return self.notation

    @property
    def core_notation(self) -> str:
        """The core alone, e.g. ``Au43Ag1(p-MBA)26``."""
        n_metal_kinds = sum(1 for g in self.core if g.kind == "metal")
        return "".join(
            g.text(explicit_one=g.kind == "metal" and n_metal_kinds > 1) for g in self.core
        )

    @property
    def notation(self) -> str:
        """Canonical notation of the whole ion (cached: the assigner prints ions by the
        thousand per hypothesis)."""
        cached = self._cache.get("notation")
        if cached is None:
            cached = self._cache["notation"] = self._notation()
        return str(cached)

    def _notation(self) -> str:
        core = self.core_notation
        if not self.adducts and self.charge == 0:
            return core
        mods = "".join(
            f"{'+' if n > 0 else '-'}{abs(n) if abs(n) != 1 else ''}{_adduct_text(name)}"
            for name, n in self.adducts
        )
        return f"[{core}{mods}]{_format_charge(self.charge)}"

    def __repr__(self) -> str:
        return f"Ion({self.notation!r})"

    # -- composition ----------------------------------------------------------
    @property
    def composition(self) -> dict[str, int]:
        """Element -> count of the whole ion (Hill order)."""
        cached = self._cache.get("composition")
        if cached is None:
            counts: dict[str, int] = {}
            for g in self.core:
                for el, n in g.formula:
                    counts[el] = counts.get(el, 0) + n * g.count
            for name, n in self.adducts:
                for el, k in _adduct_formula(name):
                    counts[el] = counts.get(el, 0) + n * k
            cached = dict(hill_order(counts))
            self._cache["composition"] = cached
        return dict(cached)  # type: ignore[call-overload]

    @property
    def formula(self) -> str:
        """Elemental formula of the whole ion in Hill order (no charge)."""
        return format_element_formula(self.composition.items())

    @property
    def metals(self) -> dict[str, int]:
        """Metal symbol -> count in the core."""
        return {g.name: g.count for g in self.core if g.kind == "metal"}

    @property
    def ligands(self) -> dict[str, int]:
        """Ligand (or raw group, halide, hydride) -> count in the shell."""
        return {g.name: g.count for g in self.core if g.kind != "metal"}

    @property
    def n_metals(self) -> int:
        """Total number of metal atoms."""
        return sum(g.count for g in self.core if g.kind == "metal")

    @property
    def n_ligands(self) -> int:
        """Ligands in the shell, halides included, hydrides and raw groups excluded."""
        return sum(g.count for g in self.core if g.kind == "ligand" or g.name in _ANIONS)

    @property
    def electrons(self) -> int | None:
        """Valence electron count of the core, or None where not defined."""
        if not any(g.kind == "metal" for g in self.core):
            return None
        total = 0
        for g in self.core:
            if g.electrons is None:
                return None
            total += g.electrons * g.count
        return total - self.core_charge

    # -- masses (delegated to nanoalloy.chem.isotopes) -------------------------------
    @property
    def mz_monoisotopic(self) -> float:
        """m/z of the monoisotopic peak (most abundant isotope of every element)."""
        from .isotopes import monoisotopic_mass, to_mz

        return float(to_mz(monoisotopic_mass(self.composition), self.charge))

    @property
    def mz_average(self) -> float:
        """Average m/z (electron mass counted for the charge)."""
        from .isotopes import average_mass, to_mz

        return float(to_mz(average_mass(self.composition), self.charge))

    @property
    def mz_most_abundant(self) -> float:
        """m/z of the most abundant aggregated isotope peak."""
        from .isotopes import most_abundant_mz

        return float(most_abundant_mz(self.composition, self.charge))

    def pattern(self, *, coverage: float = 0.9999) -> Pattern:
        """Aggregated isotope pattern (one peak per nominal shift) of this ion."""
        from .isotopes import aggregated_pattern

        return aggregated_pattern(self.composition, self.charge, coverage=coverage)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary (what ``nanoalloy mz --json`` prints)."""
        return {
            "formula": self.notation,
            "elemental_formula": self.formula,
            "composition": self.composition,
            "charge": self.charge,
            "core_charge": self.core_charge,
            "electrons": self.electrons,
            "metals": self.metals,
            "ligands": self.ligands,
            "mz_monoisotopic": self.mz_monoisotopic,
            "mz_average": self.mz_average,
            "mz_most_abundant": self.mz_most_abundant,
        }


_CATION_NAMES = {f: n for n, f in CATIONS.items() if f != n}
"""Counter-ions written by name in a notation (``+2TOA``, not ``+2C32H68N``)."""


def _adduct_text(name: str) -> str:
    """An adduct as written: a counter-ion's name (``TOA``), an element (``Na``) or a
    formula that reads back as one (``C1O1``: ``CO`` alone would be an unknown ligand
    name)."""
    if name in _CATION_NAMES:
        return _CATION_NAMES[name]
    if name in ELEMENTS or any(ch.isdigit() for ch in name):
        return name
    return _explicit_formula(_adduct_formula(name), name)


def _format_charge(z: int) -> str:
    if z == 0:
        return ""
    sign = "-" if z < 0 else "+"
    return sign if abs(z) == 1 else f"{abs(z)}{sign}"


_ADDUCT_CACHE: dict[str, tuple[tuple[str, int], ...]] = {}


def _adduct_formula(name: str) -> tuple[tuple[str, int], ...]:
    f = _ADDUCT_CACHE.get(name)
    if f is None:
        from .ligands import parse_element_formula

        f = _ADDUCT_CACHE[name] = parse_element_formula(name)
    return f


# ---------------------------------------------------------------------------
# construction
# ---------------------------------------------------------------------------
def _finish(
    groups: list[Group],
    adducts: dict[str, int],
    charge: int,
    *,
    text: str | None = None,
    written_core: tuple[int, int] | None = None,
) -> Ion:
    merged: dict[tuple[str, str], Group] = {}
    for g in groups:
        key = (g.kind, g.name)
        if key in merged:
            old = merged[key]
            g = Group(g.name, old.count + g.count, g.kind, g.formula, g.electrons)
        merged[key] = g
    for g in merged.values():
        if g.count > MAX_COUNT:
            raise FormulaError(
                f"{g.name} adds up to {g.count}, more than the limit {MAX_COUNT}",
                text,
                0 if text else None,
            )
    for name, n in adducts.items():
        if abs(n) > MAX_COUNT:
            raise FormulaError(
                f"modification {name} adds up to {n}, beyond the limit {MAX_COUNT}",
                text,
                0 if text else None,
            )
    core = tuple(sorted(merged.values(), key=_group_sort_key))
    mods = tuple(sorted(((k, v) for k, v in adducts.items() if v != 0), key=_adduct_sort_key))
    core_charge = charge - sum(n * _adduct_charge(name) for name, n in mods)
    if written_core is not None and written_core[0] != core_charge:
        z, pos = written_core
        raise FormulaError(
            f"written core charge {_format_charge(z) or '0'} disagrees with the "
            f"{_format_charge(core_charge) or 'neutral'} implied by the ion charge "
            f"{_format_charge(charge) or '0'} and the modifications",
            text,
            pos,
        )
    ion = Ion(core, mods, charge, core_charge)
    removed = -sum(n for name, n in mods if name == "H" and n < 0)
    if removed and all(g.kind in ("metal", "ligand", "element") for g in core):
        from .ligands import DEFAULT_LIGANDS as _reg

        acidic = sum(
            g.count * (_reg[g.name].acidic_protons if g.name in _reg else 0)
            for g in core
            if g.kind == "ligand"
        )
        if acidic and removed > acidic:
            raise FormulaError(
                f"removes {removed} protons but the ligands carry only {acidic} acidic protons",
                text,
                len(text) - 1 if text else None,
            )
    negative = {el: n for el, n in ion.composition.items() if n < 0}
    if negative:
        el, n = next(iter(negative.items()))
        raise FormulaError(
            f"modifications remove more {el} than the core holds ({n} left)",
            text,
            len(text) - 1 if text else None,
        )
    return ion


def check_chemistry(
    ion: Ion, /, *, ligands: LigandRegistry | None = None, text: str | None = None
) -> None:
    """Refuse an ion that breaks the rules a preset keeps for its species.

    Its valence electron count must not be negative, and ``-nH`` must not remove more
    protons than the ligands' acidic protons (checked when every part of the core is
    known: metals, bare elements and ligands of ``ligands``, default the built-in
    registry). ``text`` is the notation shown under the caret.

    Examples
    --------
    >>> check_chemistry(parse("[Au25(PET)18]-"))
    >>> check_chemistry(parse("[Au25(PET)18-30H]7-"))
    Traceback (most recent call last):
    ...
    nanoalloy.errors.FormulaError: removes 30 proton(s) but the ligands (PET) carry no acidic ...
    """
    reg = DEFAULT_LIGANDS if ligands is None else ligands
    pos = len(text) - 1 if text else None
    removed = -sum(n for name, n in ion.adducts if name == "H" and n < 0)
    known = all(g.kind != "raw" and (g.kind != "ligand" or g.name in reg) for g in ion.core)
    if removed and known:
        ligs = [g for g in ion.core if g.kind == "ligand"]
        acidic = sum(g.count * reg[g.name].acidic_protons for g in ligs)
        if removed > acidic:
            names = ", ".join(g.name for g in ligs) or "none"
            have = f"only {acidic} acidic protons" if acidic else "no acidic protons"
            raise FormulaError(
                f"removes {removed} proton(s) but the ligands ({names}) carry {have} (-nH strips "
                "acidic protons such as COOH; write the charge on the core instead)",
                text,
                pos,
            )
    e = ion.electrons
    if e is not None and e < 0:
        raise FormulaError(
            f"valence electron count would be {e} (< 0) for core charge "
            f"{ion.core_charge:+d}; check the charge (signed: - for an anion), ligands "
            "and modifications",
            text,
            pos,
        )


def make_ion(
    metals: Mapping[str, int],
    ligands: Mapping[str, int],
    /,
    *,
    charge: int = 0,
    adducts: Mapping[str, int] | None = None,
    registry: LigandRegistry | None = None,
) -> Ion:
    """Build an :class:`Ion` from counts, without going through text.

    Parameters
    ----------
    metals
        Metal symbol -> count, e.g. ``{"Au": 12, "Ag": 32}``.
    ligands
        Ligand name (registry name or alias, ``Cl``, ``H`` for hydride) -> count.
    charge
        Signed ion charge.
    adducts
        Formula -> signed count, e.g. ``{"Na": 12, "H": -16}``.

    Examples
    --------
    >>> str(make_ion({"Au": 12, "Ag": 32}, {"p-MBA": 29, "Cl": 1}, charge=-4))
    '[Au12Ag32(p-MBA)29Cl]4-'
    """
    reg = registry or DEFAULT_LIGANDS
    groups: list[Group] = []
    for sym, n in metals.items():
        if sym not in METALS:
            raise FormulaError(f"{sym!r} is not a metal element")
        if n:
            groups.append(_check_count(Group(sym, n, "metal", ((sym, 1),), FREE_VALENCE.get(sym))))
    for name, n in ligands.items():
        if not n:
            continue
        if name in ELEMENTS and name not in reg:
            groups.append(_check_count(_bare_element(name, n)))
        else:
            lig = reg.resolve(name)
            kind: GroupKind = "element" if lig.name in _ANIONS else "ligand"
            groups.append(_check_count(Group(lig.name, n, kind, lig.formula, -lig.electrons)))
    return _finish(groups, dict(adducts or {}), charge)


def _check_count(g: Group) -> Group:
    if not 1 <= g.count <= MAX_COUNT:
        raise FormulaError(f"count {g.count} of {g.name} is outside 1..{MAX_COUNT}")
    return g


def _bare_element(sym: str, n: int) -> Group:
    if sym in METALS:
        return Group(sym, n, "metal", ((sym, 1),), FREE_VALENCE.get(sym))
    w = _BARE_WITHDRAWN.get(sym)
    return Group(sym, n, "element", ((sym, 1),), None if w is None else -w)


# ---------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------
def parse(text: str, /, *, sr: str | None = None, ligands: LigandRegistry | None = None) -> Ion:
    """Parse cluster or ion notation into an :class:`Ion`.

    Parameters
    ----------
    text
        Notation such as ``"[Au44(p-MBA)26+12Na-16H]6-"``.
    sr
        Ligand that ``SR`` stands for (name or alias). Without it ``SR`` is an error.
    ligands
        Registry to resolve ligand names (default: the built-in one).

    Raises
    ------
    FormulaError
        Naming the token, its position (caret line in ``str(err)``) and what was expected.

    Examples
    --------
    >>> parse("[Au21Ag23(SR)27]3-", sr="p-MBA").electrons
    20
    >>> parse("Au44(p-MBA")
    Traceback (most recent call last):
    ...
    nanoalloy.errors.FormulaError: unclosed '(': expected ')' (at position 4)
      Au44(p-MBA
          ^
    """
    if not isinstance(text, str):
        raise FormulaError(f"expected notation as a string, got {type(text).__name__}")
    return _Parser(text, sr, ligands or DEFAULT_LIGANDS).parse()


class _Parser:
    def __init__(self, text: str, sr: str | None, reg: LigandRegistry) -> None:
        self.raw = text
        self.reg = reg
        self.sr_name = sr
        chars = []
        for i, ch in enumerate(text):
            ch = _TRANSLATE.get(ch, ch)
            if unicodedata.category(ch).startswith("C"):
                raise FormulaError(
                    f"control character U+{ord(ch):04X} is not allowed", text, i, repr(ch)
                )
            if ord(ch) > 127:
                raise FormulaError(f"unexpected character {ch!r}", text, i, ch)
            chars.append(ch)
        self.s = "".join(chars)
        self.pos = 0

    # -- helpers --
    def error(self, msg: str, pos: int | None = None, token: str | None = None) -> FormulaError:
        p = self.pos if pos is None else pos
        if token is None:
            token = self.s[p : p + 1] or None
        return FormulaError(msg, self.raw, p, token)

    def peek(self) -> str:
        self.skip_ws()
        return self.s[self.pos] if self.pos < len(self.s) else ""

    def skip_ws(self) -> None:
        while self.pos < len(self.s) and self.s[self.pos] == " ":
            self.pos += 1

    def describe(self) -> str:
        ch = self.peek()
        return "end of input" if not ch else repr(ch)

    # -- grammar --
    def parse(self) -> Ion:
        if not self.s.strip():
            raise FormulaError(
                "empty formula: expected a cluster such as Au44(p-MBA)26", self.raw, 0
            )
        if self.peek() == "[":
            ion = self.parse_bracketed()
        else:
            start = self.pos
            groups = self.parse_groups()
            ch = self.peek()
            if ch in ("+", "-") or ch.isdigit():
                raise self.error(
                    "a charge or modification needs the ion in brackets, e.g. [Au25(SR)18]-"
                )
            if ch == "]":
                raise self.error("unbalanced ']': no matching '['")
            if ch:
                raise self.error(f"unexpected {self.describe()} after the core")
            ion = _finish(groups, {}, 0, text=self.raw)
            del start
        if self.peek():
            raise self.error(f"unexpected {self.describe()} after the end of the ion")
        return ion

    def parse_bracketed(self) -> Ion:
        open_pos = self.pos
        self.pos += 1
        written_core: tuple[int, int] | None = None
        if self.peek() == "[":
            inner_open = self.pos
            self.pos += 1
            groups = self.parse_groups()
            if self.peek() != "]":
                raise self.error(
                    f"expected ']' closing the core opened at {inner_open}, got {self.describe()}"
                )
            self.pos += 1
            zpos = self.pos
            zc = self.parse_charge(required=True, inner=True)
            written_core = (zc, zpos)
        else:
            groups = self.parse_groups()
        adducts = self.parse_mods()
        if self.peek() != "]":
            if not self.peek():
                raise self.error(f"unbalanced '[' at position {open_pos}: expected ']'")
            raise self.error(f"expected '+', '-' or ']', got {self.describe()}")
        self.pos += 1
        charge = self.parse_charge(required=False)
        return _finish(groups, adducts, charge, text=self.raw, written_core=written_core)

    def parse_groups(self) -> list[Group]:
        groups: list[Group] = []
        self.skip_ws()
        while True:
            ch = self.s[self.pos] if self.pos < len(self.s) else ""  # no spaces inside a core
            if ch == "(":
                groups.append(self.parse_paren_group())
            elif ch.isalpha() and ch.isupper():
                groups.append(self.parse_element_group())
            elif ch.isalpha():
                raise self.error(
                    f"expected an element symbol (capital letter) or '(', got {ch!r}; "
                    "ligand names go in parentheses, e.g. (p-MBA)"
                )
            elif ch == ")":
                raise self.error("unbalanced ')': no matching '('")
            else:
                break
        if not groups:
            raise self.error(f"expected a core such as Au44(p-MBA)26, got {self.describe()}")
        return groups

    def parse_symbol(self) -> tuple[str, int]:
        start = self.pos
        sym = self.s[self.pos]
        self.pos += 1
        if self.pos < len(self.s) and self.s[self.pos].islower():
            sym += self.s[self.pos]
            self.pos += 1
        if sym not in ELEMENTS:
            raise self.error(f"unknown element {sym!r}", start, sym)
        return sym, start

    def parse_element_group(self) -> Group:
        sym, start = self.parse_symbol()
        n = self.parse_count()
        if sym == "S" and self.s[start:].startswith("SR"):
            raise self.error("SR is a ligand alias: write it in parentheses, (SR)", start, "SR")
        return _bare_element(sym, n)

    def parse_count(self, *, default: int = 1) -> int:
        start = self.pos
        while self.pos < len(self.s) and self.s[self.pos].isdigit():
            self.pos += 1
        digits = self.s[start : self.pos]
        if not digits:
            return default
        if len(digits) > 1 and digits[0] == "0":
            raise self.error(f"count {digits!r} has a leading zero", start, digits)
        if len(digits) > 6:
            shown = digits if len(digits) <= 20 else f"{digits[:8]}...({len(digits)} digits)"
            raise self.error(f"count {shown} is absurd (at most {MAX_COUNT})", start, shown)
        n = int(digits)
        if n == 0:
            raise self.error(
                "count must be at least 1 (leave the group out instead)", start, digits
            )
        if n > MAX_COUNT:
            raise self.error(f"count {n} is absurd (at most {MAX_COUNT})", start, digits)
        return n

    def paren_content(self) -> tuple[str, int]:
        open_pos = self.pos
        self.pos += 1
        end = self.s.find(")", self.pos)
        nested = self.s.find("(", self.pos)
        if end < 0:
            raise self.error("unclosed '(': expected ')'", open_pos, "(")
        if 0 <= nested < end:
            raise self.error("nested parentheses are not supported", nested, "(")
        content = self.s[self.pos : end]
        for bad in "[]+ ":
            k = content.find(bad)
            if k >= 0:
                raise self.error(f"unexpected {bad!r} inside parentheses", self.pos + k, bad)
        if not content:
            raise self.error("empty parentheses: expected a ligand or formula", open_pos, "()")
        start = self.pos
        self.pos = end + 1
        return content, start

    def parse_paren_group(self) -> Group:
        content, start = self.paren_content()
        if content == "SR":
            if self.sr_name is None:
                raise LigandError(
                    "SR is not bound to a ligand: pass --sr LIGAND (e.g. --sr p-MBA) or use a preset",
                    self.raw,
                    start,
                    "SR",
                )
            try:
                lig = self.reg.resolve(self.sr_name)
            except LigandError as exc:
                raise LigandError(
                    f"SR is bound to an {exc.message[0].lower()}{exc.message[1:]}",
                    self.raw,
                    start,
                    "SR",
                ) from None
            n = self.parse_count()
            return Group(lig.name, n, "ligand", lig.formula, -lig.electrons)
        if content in self.reg:
            lig = self.reg[content]
            n = self.parse_count()
            kind: GroupKind = "element" if lig.name in _ANIONS else "ligand"
            return Group(lig.name, n, kind, lig.formula, -lig.electrons)
        formula = self.parse_raw_formula(content, start)
        n = self.parse_count()
        name = format_element_formula(formula)
        electrons: int | None = None
        for lig in self.reg.ligands:
            if lig.formula == formula:
                electrons = -lig.electrons
                break
        if len(formula) == 1 and formula[0][1] == 1:
            g = _bare_element(formula[0][0], n)
            return Group(name, n, "raw", formula, g.electrons)
        return Group(name, n, "raw", formula, electrons)

    def parse_raw_formula(self, content: str, start: int) -> tuple[tuple[str, int], ...]:
        def unknown(detail: str) -> FormulaError:
            known = ", ".join(sorted(self.reg))
            return FormulaError(f"{detail}; known ligands: {known}", self.raw, start, content)

        counts: dict[str, int] = {}
        i = 0
        if content.isalpha() and content not in ELEMENTS:
            raise unknown(
                f"unknown ligand {content!r} (a raw formula needs counts, e.g. (C7H5O2S))"
            )
        while i < len(content):
            ch = content[i]
            if not (ch.isalpha() and ch.isupper()):
                raise unknown(f"unknown ligand or element formula {content!r}")
            sym = ch
            if i + 1 < len(content) and content[i + 1].islower():
                sym += content[i + 1]
            if sym not in ELEMENTS:
                raise unknown(
                    f"unknown ligand or element formula {content!r} ({sym!r} is no element)"
                )
            i += len(sym)
            j = i
            while j < len(content) and content[j].isdigit():
                j += 1
            digits = content[i:j]
            n = int(digits) if digits and len(digits) <= 6 else 1
            if digits and (
                len(digits) > 6 or n == 0 or n > MAX_COUNT or (len(digits) > 1 and digits[0] == "0")
            ):
                shown = digits if len(digits) <= 20 else f"{digits[:8]}...({len(digits)} digits)"
                raise FormulaError(f"bad count {shown!r} in formula", self.raw, start + i, shown)
            counts[sym] = counts.get(sym, 0) + n
            if counts[sym] > MAX_COUNT:
                raise FormulaError(
                    f"{sym} adds up to {counts[sym]} in formula, more than the limit {MAX_COUNT}",
                    self.raw,
                    start + i,
                    digits or sym,
                )
            i = j
        return hill_order(counts)

    def parse_mods(self) -> dict[str, int]:
        adducts: dict[str, int] = {}
        while self.peek() in ("+", "-"):
            sign = 1 if self.s[self.pos] == "+" else -1
            self.pos += 1
            self.skip_ws()
            n = self.parse_count()
            self.skip_ws()
            ch = self.peek()
            if ch == "(":
                content, start = self.paren_content()
                if content in self.reg:
                    formula = self.reg[content].formula
                elif content == "SR" and self.sr_name is not None:
                    formula = self.reg.resolve(self.sr_name).formula
                else:
                    formula = self.parse_raw_formula(content, start)
            elif ch.isalpha() and ch.isupper():
                start = self.pos
                while self.pos < len(self.s) and self.s[self.pos].isalnum():
                    self.pos += 1
                token = self.s[start : self.pos]
                # a counter-ion by name (+2TOA: tetraoctylammonium), as presets write them
                formula = self.parse_raw_formula(CATIONS.get(token, token), start)
            else:
                raise self.error(
                    f"expected a group after '{'+' if sign > 0 else '-'}' (e.g. +12Na, -16H), "
                    f"got {self.describe()}"
                )
            name = format_element_formula(formula)
            adducts[name] = adducts.get(name, 0) + sign * n
        return adducts

    def parse_charge(self, *, required: bool, inner: bool = False) -> int:
        self.skip_ws()
        start = self.pos
        while self.pos < len(self.s) and self.s[self.pos].isdigit():
            self.pos += 1
        digits = self.s[start : self.pos]
        if self.pos < len(self.s) and self.s[self.pos] in "+-":
            sign = -1 if self.s[self.pos] == "-" else 1
            self.pos += 1
            if not inner and self.pos < len(self.s) and self.s[self.pos] in "+-0123456789":
                raise self.error(
                    "garbage after the charge: write charges as 2-, 6-, 3+",
                    start,
                    self.s[start : self.pos + 1],
                )
        else:
            if digits == "0":  # a neutral species, as species.csv writes one: [Au25(PET)18]0
                return 0
            if digits:
                raise self.error(
                    f"charge {digits!r} needs a sign after the number, e.g. {digits}-",
                    start,
                    digits,
                )
            if required:
                raise self.error(
                    f"expected the core charge (e.g. 2-) after ']', got {self.describe()}"
                )
            return 0
        if digits and set(digits) == {"0"}:
            raise self.error(
                "a charge of 0 takes no sign: write ]0 for a neutral species", start, digits
            )
        if digits and (digits[0] == "0" or len(digits) > 4 or int(digits) > MAX_CHARGE):
            shown = digits if len(digits) <= 20 else f"{digits[:8]}...({len(digits)} digits)"
            raise self.error(
                f"charge {shown}{'-' if sign < 0 else '+'} is out of range 1..{MAX_CHARGE}",
                start,
                shown,
            )
        return sign * (int(digits) if digits else 1)
