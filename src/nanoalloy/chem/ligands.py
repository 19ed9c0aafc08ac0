"""The ligand registry: names, bound formulas, acidic protons and aliases.

A ligand here is the group as it sits on the cluster (a thiolate ``SR`` is the
thiol minus its S-H proton). Each carries the number of electrons it withdraws
from the metal core (1 for thiolates and halides, 2 for a dithiolate, 0 for a
neutral donor such as PPh3) and the number of acidic protons that ESI can strip
(one per carboxylic acid).

``SR`` is not a ligand: it is an alias that means nothing until bound, either
by ``sr=`` in :func:`nanoalloy.chem.formula.parse` or by a preset.

Users add ligands from a TOML file::

    [ligand.MPA]
    formula = "C3H5O2S"         # as bound
    acidic_protons = 1
    electrons = 1               # default 1
    aliases = ["3-MPA"]
    description = "3-mercaptopropionate"

Contents
--------
Ligand
    Frozen record of one ligand.
LigandRegistry
    Name/alias lookup; ``with_ligands`` and ``from_toml`` make extended copies.
DEFAULT_LIGANDS
    The built-in registry.
CATIONS
    Counter-ions seen as adducts (Cs, K, TOA, PPh4, ...): name -> Hill formula.
parse_element_formula
    ``"C7H5O2S"`` -> ``(("C", 7), ("H", 5), ("O", 2), ("S", 1))``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LigandError
from .elements import ELEMENTS, hill_order

__all__ = [
    "CATIONS",
    "DEFAULT_LIGANDS",
    "Ligand",
    "LigandRegistry",
    "format_element_formula",
    "parse_element_formula",
]

_ELEMENT_RUN = re.compile(r"([A-Z][a-z]?)(\d*)")


def parse_element_formula(text: str, /) -> tuple[tuple[str, int], ...]:
    """Parse a plain element formula such as ``C7H5O2S`` into Hill-ordered pairs.

    Raises
    ------
    LigandError
        If the text is not a run of known element symbols with optional counts.

    Examples
    --------
    >>> parse_element_formula("C7H5O2S")
    (('C', 7), ('H', 5), ('O', 2), ('S', 1))
    """
    pos = 0
    counts: dict[str, int] = {}
    if not text:
        raise LigandError("empty element formula", text, 0)
    while pos < len(text):
        m = _ELEMENT_RUN.match(text, pos)
        if m is None or m.end() == pos:
            raise LigandError("expected an element symbol", text, pos, text[pos:])
        sym, num = m.group(1), m.group(2)
        if sym not in ELEMENTS:
            raise LigandError(f"unknown element {sym!r}", text, pos, sym)
        n = int(num) if num else 1
        if n < 1:
            raise LigandError(f"count of {sym} must be >= 1", text, pos, m.group(0))
        counts[sym] = counts.get(sym, 0) + n
        pos = m.end()
    return hill_order(counts)


def format_element_formula(pairs: Iterable[tuple[str, int]], /) -> str:
    """Print element pairs as a formula, count 1 omitted (``C6H4NO2S``)."""
    return "".join(f"{el}{n if n != 1 else ''}" for el, n in pairs)


@dataclass(frozen=True, slots=True)
class Ligand:
    """One ligand as bound to a cluster."""

    name: str
    """Canonical name, e.g. ``"p-MBA"``."""
    formula: tuple[tuple[str, int], ...]
    """Elements of the bound group in Hill order, e.g. S-C6H4-COOH -> C7H5O2S."""
    acidic_protons: int = 0
    """Protons ESI can remove (carboxylic acids, sulfonates)."""
    electrons: int = 1
    """Electrons withdrawn from the metal core (1 thiolate/halide, 2 dithiolate, 0 neutral donor)."""
    aliases: tuple[str, ...] = ()
    """Other names that resolve to this ligand."""
    description: str = ""
    """Free text: the full chemical name."""

    @property
    def formula_string(self) -> str:
        """The bound formula as text, e.g. ``"C7H5O2S"``."""
        return format_element_formula(self.formula)

    @property
    def composition(self) -> dict[str, int]:
        """Element -> count of one bound ligand."""
        return dict(self.formula)


@dataclass(frozen=True, slots=True)
class LigandRegistry(Mapping[str, Ligand]):
    """Ligands by canonical name; lookups also accept aliases.

    Examples
    --------
    >>> DEFAULT_LIGANDS["pMBA"].name
    'p-MBA'
    """

    ligands: tuple[Ligand, ...]
    """Every registered ligand."""
    _index: dict[str, Ligand] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Ligand] = {}
        for lig in self.ligands:
            for key in (lig.name, *lig.aliases):
                if key in index and index[key].name != lig.name:
                    raise LigandError(
                        f"ligand name or alias {key!r} is used by both "
                        f"{index[key].name!r} and {lig.name!r}"
                    )
                if key == "SR":
                    raise LigandError("'SR' is reserved: bind it with sr=..., not as an alias")
                index[key] = lig
        object.__setattr__(self, "_index", index)

    def __getitem__(self, key: str) -> Ligand:
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        return (lig.name for lig in self.ligands)

    def __len__(self) -> int:
        return len(self.ligands)

    def resolve(self, name: str, /) -> Ligand:
        """Return the ligand for ``name`` or raise :class:`LigandError` listing known names."""
        if name in self._index:
            return self._index[name]
        known = ", ".join(sorted(lig.name for lig in self.ligands))
        raise LigandError(f"unknown ligand {name!r}; known ligands: {known}")

    def with_ligands(self, ligands: Iterable[Ligand], /) -> LigandRegistry:
        """A copy with ``ligands`` added (a same-named ligand is replaced)."""
        new = {lig.name: lig for lig in self.ligands}
        for lig in ligands:
            new[lig.name] = lig
        return LigandRegistry(tuple(new.values()))

    def from_toml(self, path: str | Path, /) -> LigandRegistry:
        """A copy extended with the ``[ligand.NAME]`` tables of a TOML file.

        A table whose name or alias is a known ligand's is accepted only with that
        ligand's chemistry (formula, acidic protons, electrons); another is refused, since
        it would change every mass of every formula and preset naming it.
        """
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise LigandError(f"cannot read ligand file {str(p)!r}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise LigandError(f"ligand file {str(p)!r} is not valid TOML: {exc}") from None
        table = data.get("ligand")
        if not isinstance(table, dict) or not table:
            raise LigandError(f"ligand file {str(p)!r} has no [ligand.NAME] tables")
        new = [_ligand_from_table(name, spec, p) for name, spec in table.items()]
        for lig in new:
            # a known name given another formula would silently change every mass of
            # every preset and formula naming it (PET read as C9H11S)
            for key in (lig.name, *lig.aliases):
                old = self._index.get(key)
                if old is not None and _chemistry(old) != _chemistry(lig):
                    raise LigandError(
                        f"ligand {lig.name!r} in {str(p)!r}: {key!r} is already the known "
                        f"ligand {old.name} ({_describe(old)}), here {_describe(lig)}; give "
                        "yours a name of its own and write that name in the formula or preset"
                    )
        return self.with_ligands(new)


def _chemistry(lig: Ligand) -> tuple[object, ...]:
    return (dict(lig.formula), lig.acidic_protons, lig.electrons)


def _describe(lig: Ligand) -> str:
    return (
        f"{lig.formula_string}, {lig.acidic_protons} acidic proton(s), {lig.electrons} electron(s)"
    )


def _ligand_from_table(name: str, spec: object, path: Path) -> Ligand:
    where = f"ligand {name!r} in {str(path)!r}"
    if not isinstance(spec, dict):
        raise LigandError(f"{where}: expected a table")
    unknown = set(spec) - {"formula", "acidic_protons", "electrons", "aliases", "description"}
    if unknown:
        raise LigandError(f"{where}: unknown key(s) {sorted(unknown)}")
    formula = spec.get("formula")
    if not isinstance(formula, str):
        raise LigandError(f"{where}: 'formula' (a string such as 'C7H5O2S') is required")
    acidic = spec.get("acidic_protons", 0)
    electrons = spec.get("electrons", 1)
    aliases = spec.get("aliases", [])
    if not isinstance(acidic, int) or acidic < 0:
        raise LigandError(f"{where}: 'acidic_protons' must be an integer >= 0")
    if not isinstance(electrons, int) or not 0 <= electrons <= 4:
        raise LigandError(f"{where}: 'electrons' must be an integer 0-4")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise LigandError(f"{where}: 'aliases' must be a list of strings")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]*", name):
        raise LigandError(f"{where}: names use letters, digits, '-' and '_' only")
    return Ligand(
        name=name,
        formula=parse_element_formula(formula),
        acidic_protons=acidic,
        electrons=electrons,
        aliases=tuple(aliases),
        description=str(spec.get("description", "")),
    )


def _lig(
    name: str, formula: str, acidic: int, electrons: int, aliases: tuple[str, ...], desc: str
) -> Ligand:
    return Ligand(name, parse_element_formula(formula), acidic, electrons, aliases, desc)


DEFAULT_LIGANDS = LigandRegistry(
    (
        _lig("p-MBA", "C7H5O2S", 1, 1, ("pMBA", "MBA", "4-MBA"), "4-mercaptobenzoate, S-C6H4-COOH"),
        _lig("NTP", "C6H4NO2S", 0, 1, ("4-NTP",), "4-nitrothiophenolate, S-C6H4-NO2"),
        _lig("PET", "C8H9S", 0, 1, ("SC2H4Ph",), "2-phenylethanethiolate, S-CH2CH2-C6H5"),
        _lig("SG", "C10H16N3O6S", 2, 1, ("GS", "GSH"), "glutathionate"),
        _lig("MHA", "C6H11O2S", 1, 1, ("6-MHA",), "6-mercaptohexanoate, S-(CH2)5-COOH"),
        _lig("DMBT", "C8H9S", 0, 1, ("2,4-DMBT",), "2,4-dimethylbenzenethiolate"),
        _lig("TBBT", "C10H13S", 0, 1, ("4-TBBT",), "4-tert-butylbenzenethiolate"),
        _lig("BDT", "C6H4S2", 0, 2, ("1,3-BDT",), "1,3-benzenedithiolate (two S, two electrons)"),
        _lig("MPA", "C3H5O2S", 1, 1, ("3-MPA",), "3-mercaptopropionate"),
        _lig("SC6H13", "C6H13S", 0, 1, ("HT", "hexanethiolate"), "1-hexanethiolate"),
        _lig("SC12H25", "C12H25S", 0, 1, ("DDT", "dodecanethiolate"), "1-dodecanethiolate"),
        _lig("SBB", "C11H15S", 0, 1, ("4-TBBM",), "4-tert-butylbenzylthiolate, S-CH2-C6H4-tBu"),
        _lig("PPh3", "C18H15P", 0, 0, ("TPP",), "triphenylphosphine (neutral donor)"),
        _lig("Cl", "Cl", 0, 1, ("chloride",), "chloride"),
        _lig("Br", "Br", 0, 1, ("bromide",), "bromide"),
        _lig("I", "I", 0, 1, ("iodide",), "iodide"),
    )
)


CATIONS: dict[str, str] = {
    "Li": "Li",
    "Na": "Na",
    "K": "K",
    "Rb": "Rb",
    "Cs": "Cs",
    "NH4": "H4N",
    "TOA": "C32H68N",  # tetraoctylammonium N(C8H17)4+
    "TBA": "C16H36N",  # tetrabutylammonium N(C4H9)4+
    "PPh4": "C24H20P",  # tetraphenylphosphonium
}
"""Singly charged counter-ions seen as ESI adducts: name -> Hill formula of the cation."""
