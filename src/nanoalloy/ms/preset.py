"""Preset files: which cluster system a spectrum is read against, validated on load.

A preset (TOML, shipped in ``nanoalloy/data/presets`` or written by the user)
lists structural *families*. Two formats are read:

* **v1** (the Au44/Ag44 presets): one ``ligand``, two ``metals``, ``n_metals``;
  each family has ``ligands``, ``core_charge``, ``x`` (range of the first metal),
  ``ion_charges`` (with optional ``charge_weights``, the relative signal of each),
  ``max_na`` and optional ``halide``/``max_halide``.
* **v2** (``format = 2``): per family a ``metals`` table of count ranges (any
  number of metals; the counts sum to ``n_metals``, by default the first
  metal's maximum plus the others' minima), a ``shell`` table of ligand count
  ranges summing to ``ligands`` (mixed shells; same default rule), ``donors`` (neutral
  donors such as PPh3, outside the shell count), ``hydrides`` (a range),
  ``core_charge`` (one or several), ``ion_charges`` (signed: negative or
  positive mode; ``charge_weights`` as in v1), the Na+/H+ ladder depth ``max_na``, counter-ion adducts
  ``cations`` (any registered cation: Cs, K, TOA, PPh4, ...) with
  ``max_cations``, halides as in v1, and ``x``: what the family's x axis counts
  (a metal, a ligand or ``H``).

An ion of charge ``z`` from a core of charge ``q`` carries either ``n`` Na+ with
``h = n + q - z`` protons removed (``0 <= h <=`` the shell's acidic protons;
``n = 0, h = 0`` is the bare ion) or ``z - q`` cations, of one kind or mixed
(``+TOA+Cs`` beside ``+2TOA`` and ``+2Cs``).

Every problem is one :class:`~nanoalloy.errors.PresetError` line naming the key
and the fix: unknown metal or ligand, empty ranges, overlapping families,
impossible charges, too many candidates (``max_candidates``).

Contents
--------
FamilySpec, FragmentSpec, ComplexSpec, Preset
    Frozen records read from a preset TOML.
Species
    One neutral species of a family (metals, shell, hydrides, core charge).
family_species
    Every species of a family.
x_axis_label
    ``"x (Au atoms)"``, ``"x (SBB ligands)"``, ``"x (hydrides)"``: what a family's x counts.
load_preset, list_presets, preset_from_text
    Find, read and validate presets.
DEFAULT_MAX_CANDIDATES
    Candidate count above which a preset is refused unless it sets ``max_candidates``.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..chem.elements import METALS
from ..chem.formula import Ion, make_ion
from ..chem.ligands import CATIONS, DEFAULT_LIGANDS, LigandRegistry
from ..errors import NanoalloyError, PresetError

__all__ = [
    "ComplexSpec",
    "DEFAULT_MAX_CANDIDATES",
    "FamilySpec",
    "FragmentSpec",
    "Preset",
    "Species",
    "family_species",
    "list_presets",
    "load_preset",
    "preset_from_text",
    "x_axis_label",
]

DEFAULT_MAX_CANDIDATES = 200_000
"""A preset making more candidate ions is refused unless it raises ``max_candidates``."""

Range = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """One structural family, e.g. M44S30 = [AuxAg44-x(SR)30]4- or Au25-xAgx(PET)18-."""

    name: str
    """Family label used in every table (``M44S30``)."""
    n_metals: int
    """Metal atoms per cluster."""
    ligands: int
    """Shell size (one-electron or dithiolate ligands), halides included, donors and hydrides not."""
    core_charge: int
    """Signed charge of the core (the first of ``core_charges``)."""
    x_range: tuple[int, int] = (0, 44)
    """Inclusive range of what ``x`` counts (v1: the first metal)."""
    ion_charges: tuple[int, ...] = ()
    """Signed ion charges observed by ESI."""
    charge_weights: tuple[float, ...] = ()
    """Relative ion signal of each of ``ion_charges`` (parallel to it); empty: equal.
    The family's charge-state distribution: what share of a species' signal a recorded
    m/z window sees (:mod:`nanoalloy.ms.response`), and the synthesizer's default."""
    max_na: int = 10
    """Deepest Na+ ladder step considered."""
    halide: str | None = None
    """Halide that may replace SR in the shell (``Cl``); pooled into the species."""
    max_halide: int = 0
    """How many SR it may replace."""
    metals: tuple[Range, ...] = ()
    """Per metal ``(symbol, lo, hi)``; counts sum to ``n_metals``."""
    shell: tuple[Range, ...] = ()
    """Per shell ligand ``(name, lo, hi)``; counts sum to ``ligands``."""
    donors: tuple[Range, ...] = ()
    """Neutral donors ``(name, lo, hi)`` (PPh3), outside the shell count."""
    hydrides: tuple[int, int] = (0, 0)
    """Inclusive range of hydride count."""
    core_charges: tuple[int, ...] = ()
    """Every core charge of the family (several give several species)."""
    cations: tuple[str, ...] = ()
    """Counter-ion adducts (registered cation names: Cs, K, TOA, PPh4)."""
    max_cations: int = 0
    """Most cations on one ion."""
    x: str = ""
    """What x counts: a metal symbol, a ligand name or ``H``."""

    @property
    def charges(self) -> tuple[int, ...]:
        """Core charges (``core_charges`` or the single ``core_charge``)."""
        return self.core_charges or (self.core_charge,)


@dataclass(frozen=True, slots=True)
class FragmentSpec:
    """In-source loss of [M(SR)2]- from cluster families."""

    families: tuple[str, ...]
    """Families whose members fragment."""
    losses: int = 1
    """How many successive [M(SR)2]- losses."""
    max_na: int = 4
    """Na+ ladder depth of fragments."""


@dataclass(frozen=True, slots=True)
class ComplexSpec:
    """Metal-thiolate complexes [AunAgm(SR)n+m+1]-."""

    max_metals: int = 6
    """Largest n + m."""
    max_na: int = 2
    """Na+ ladder depth."""


@dataclass(frozen=True, slots=True)
class Preset:
    """A candidate library definition (see the module docstring)."""

    name: str
    """Preset name (``auag44-pmba``)."""
    ligand: str
    """Canonical name of the main ligand (what SR stands for; fragments and complexes use it)."""
    metals: tuple[str, ...]
    """Metals in axis order; ``au``/``ag`` columns count the first two."""
    families: tuple[FamilySpec, ...]
    """Structural families."""
    fragments: FragmentSpec | None = None
    """In-source fragments, if any."""
    complexes: ComplexSpec | None = None
    """Metal-thiolate complexes, if any."""
    description: str = ""
    """Free text."""
    registry: LigandRegistry = field(default=DEFAULT_LIGANDS, repr=False, compare=False)
    """Ligand registry used to resolve names."""
    max_candidates: int = DEFAULT_MAX_CANDIDATES
    """Candidate ions above which the preset is refused."""
    version: int = 1
    """File format (1 or 2)."""

    def family(self, name: str, /) -> FamilySpec:
        """The family called ``name`` (PresetError if absent)."""
        for f in self.families:
            if f.name == name:
                return f
        raise PresetError(
            f"preset {self.name!r} has no family {name!r}; families: "
            + ", ".join(f.name for f in self.families)
        )

    @property
    def acidic_protons(self) -> int:
        """Acidic protons per main ligand."""
        return self.registry[self.ligand].acidic_protons

    @property
    def ligand_names(self) -> tuple[str, ...]:
        """Every shell ligand and donor of the preset, in order of appearance."""
        out: list[str] = []
        for f in self.families:
            for name, _, _ in (*f.shell, *f.donors):
                if name not in out:
                    out.append(name)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Species:
    """One neutral species of a family (halide variants pooled)."""

    family: str
    """Family name."""
    label: str
    """Canonical label (``Au21Ag4(PET)18``; ``[PtAu24(PET)18]2-`` when the family has several core charges)."""
    metals: tuple[tuple[str, int], ...]
    """Metal counts (zero counts left out)."""
    shell: tuple[tuple[str, int], ...]
    """Shell ligand and donor counts (zero counts left out)."""
    hydrides: int
    """Hydride count."""
    core_charge: int
    """Signed core charge."""
    x: int
    """The family's x (count of ``FamilySpec.x``)."""
    ligands: int
    """Shell size."""

    def core(self, preset: Preset, *, halides: int = 0) -> Ion:
        """The core ion (core charge, no adducts), ``halides`` halides in place of the main ligand."""
        f = preset.family(self.family)
        ligs = dict(self.shell)
        if halides:
            main = f.shell[0][0]
            ligs[main] = ligs.get(main, 0) - halides
            ligs[str(f.halide)] = halides
        if self.hydrides:
            ligs["H"] = self.hydrides
        return make_ion(dict(self.metals), ligs, charge=self.core_charge, registry=preset.registry)

    def count(self, what: str, /) -> int:
        """Count of a metal, ligand or ``H`` in the species."""
        if what == "H":
            return self.hydrides
        return dict(self.metals).get(what, dict(self.shell).get(what, 0))


def _compositions(ranges: tuple[Range, ...], total: int | None) -> Iterator[dict[str, int]]:
    """Count vectors within the ranges (summing to ``total`` if given)."""
    names = [r[0] for r in ranges]
    for counts in itertools.product(*(range(lo, hi + 1) for _, lo, hi in ranges)):
        if total is None or sum(counts) == total:
            yield dict(zip(names, counts, strict=True))


_SPECIES_CACHE: dict[tuple[Preset, str], tuple[Species, ...]] = {}


def family_species(preset: Preset, family: str, /) -> tuple[Species, ...]:
    """Every species of a family, ordered by x, then metals, shell, hydrides, core charge.

    >>> [s.label for s in family_species(load_preset("auag44-pmba"), "M44S26")][:2]
    ['Ag44(p-MBA)26', 'Au1Ag43(p-MBA)26']
    """
    key = (preset, family)
    hit = _SPECIES_CACHE.get(key)
    if hit is not None:
        return hit
    f = preset.family(family)
    out: list[Species] = []
    several = len(f.charges) > 1
    donor_sets = list(_compositions(f.donors, None)) if f.donors else [{}]
    for metals in _compositions(f.metals, f.n_metals):
        for shell in _compositions(f.shell, f.ligands):
            for donors in donor_sets:
                for nh in range(f.hydrides[0], f.hydrides[1] + 1):
                    m = tuple((k, v) for k, v in metals.items() if v)
                    s = tuple((k, v) for k, v in {**shell, **donors}.items() if v)
                    for q in f.charges:
                        ligs = dict(s)
                        if nh:
                            ligs["H"] = nh
                        core = make_ion(dict(m), ligs, charge=q, registry=preset.registry)
                        label = core.core_notation
                        if several:
                            label = str(core) if q else f"[{label}]0"
                        x = nh if f.x == "H" else dict(m).get(f.x, dict(s).get(f.x, 0))
                        out.append(Species(f.name, label, m, s, nh, q, x, f.ligands))
    out.sort(key=lambda s: (s.x, s.metals, s.shell, s.hydrides, s.core_charge))
    if len(_SPECIES_CACHE) > 64:
        _SPECIES_CACHE.clear()
    res = _SPECIES_CACHE[key] = tuple(out)
    return res


def x_axis_label(preset: Preset | str | None, family: str | None = None, /) -> str:
    """Axis title for a family's x, named after what it counts.

    Falls back to the first metal of the preset, and to ``"x"`` when the preset
    or family is unknown.

    >>> x_axis_label("au25-sr18", "Au25(PET)18-y(SBB)y")
    'x (SBB ligands)'
    >>> x_axis_label("auag44-pmba", "M44S30")
    'x (Au atoms)'
    """
    try:
        p = load_preset(preset) if isinstance(preset, str | Path) else preset
    except PresetError:
        return "x"
    if p is None:
        return "x"
    what = p.metals[0] if p.metals else ""
    if family is not None:
        try:
            what = p.family(family).x
        except PresetError:
            pass
    if what == "H":
        return "x (hydrides)"
    if what in METALS:
        return f"x ({what} atoms)"
    return f"x ({what} ligands)" if what else "x"


def list_presets() -> list[str]:
    """Names of the presets shipped with nanoalloy."""
    folder = resources.files("nanoalloy") / "data" / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _preset_text(name_or_path: str | Path, /) -> tuple[str, str]:
    """``(text, where)`` of a shipped preset name or a preset file path."""
    where = str(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            return path.read_text(encoding="utf-8"), where
        except FileNotFoundError:
            raise PresetError(f"cannot read preset {where!r}: no such file") from None
        except IsADirectoryError:
            raise PresetError(f"cannot read preset {where!r}: it is a folder") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PresetError(f"cannot read preset {where!r}: {exc}") from None
    res = resources.files("nanoalloy") / "data" / "presets" / f"{name_or_path}.toml"
    if not res.is_file():
        raise PresetError(f"unknown preset {where!r}; shipped presets: {', '.join(list_presets())}")
    return res.read_text(encoding="utf-8"), where


def load_preset(
    name_or_path: str | Path = "auag44-pmba",
    /,
    *,
    registry: LigandRegistry | None = None,
    max_candidates: int | None = None,
) -> Preset:
    """Load a shipped preset by name, or a user's preset TOML by path.

    ``max_candidates`` overrides the preset's own cap on the number of candidate ions.

    Examples
    --------
    >>> p = load_preset("auag44-pmba")
    >>> [f.name for f in p.families]
    ['M44S30', 'M44S27', 'M44S26']
    """
    text, where = _preset_text(name_or_path)
    return preset_from_text(text, where, registry=registry, max_candidates=max_candidates)


def preset_from_text(
    text: str,
    where: str = "<text>",
    /,
    *,
    registry: LigandRegistry | None = None,
    max_candidates: int | None = None,
) -> Preset:
    """Parse and validate preset TOML text (``where`` names it in messages)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"preset {where!r} is not valid TOML: {exc}") from None
    p = _preset_from_dict(data, where, registry or DEFAULT_LIGANDS)
    if max_candidates is not None:
        from dataclasses import replace

        p = replace(p, max_candidates=int(max_candidates))
    _check_overlaps(p, where)
    return p


# ---------------------------------------------------------------------------
# reading and validation
# ---------------------------------------------------------------------------
def _fail(where: str, msg: str) -> PresetError:
    return PresetError(f"preset {where}: {msg}")


def _req(d: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise _fail(where, f"missing key {key!r}")
    v = d[key]
    if not isinstance(v, typ) or isinstance(v, bool):
        raise _fail(where, f"{key!r} has the wrong type ({type(v).__name__})")
    return v


def _int(d: dict[str, Any], key: str, default: int, where: str, *, lo: int = 0) -> int:
    v = d.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        raise _fail(where, f"{key!r} must be an integer >= {lo} (got {v!r})")
    return v


def _range(v: Any, key: str, where: str) -> tuple[int, int]:
    """An int or ``[lo, hi]`` -> (lo, hi), checked non-empty."""
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v, v]
    if not (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(a, int) and not isinstance(a, bool) for a in v)
    ):
        raise _fail(where, f"{key!r} must be a count or [lo, hi] (got {v!r})")
    lo, hi = int(v[0]), int(v[1])
    if lo < 0 or hi < lo:
        raise _fail(
            where, f"{key!r} = [{lo}, {hi}] is an empty range; write [lo, hi] with 0 <= lo <= hi"
        )
    return lo, hi


def _charges(v: Any, key: str, where: str) -> tuple[int, ...]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v]
    if not (
        isinstance(v, list) and v and all(isinstance(a, int) and not isinstance(a, bool) for a in v)
    ):
        raise _fail(where, f"{key!r} must be a signed integer or a non-empty list of them")
    if len(set(v)) != len(v):
        raise _fail(where, f"{key!r} lists a charge twice ({v!r})")
    return tuple(int(a) for a in v)


def _charge_weights(f: dict[str, Any], charges: tuple[int, ...], where: str) -> tuple[float, ...]:
    v = f.get("charge_weights", [])
    ok = isinstance(v, list) and all(
        isinstance(a, int | float) and not isinstance(a, bool) and a >= 0 for a in v
    )
    if not ok or (v and (len(v) != len(charges) or sum(v) <= 0)):
        raise _fail(
            where,
            f"'charge_weights' must list {len(charges)} numbers >= 0 (one per ion charge "
            f"{list(charges)}), not all 0",
        )
    return tuple(float(a) for a in v)


def _ligand(name: Any, key: str, where: str, reg: LigandRegistry) -> str:
    if not isinstance(name, str):
        raise _fail(where, f"{key!r} must name a ligand")
    try:
        return reg.resolve(name).name
    except NanoalloyError as exc:
        raise _fail(
            where,
            f"{key!r}: {exc} (or define it in a ligand TOML file, [ligand.NAME] tables, and "
            "pass --ligands FILE to assign or preset check)",
        ) from None


def _metal(sym: Any, where: str) -> str:
    if not isinstance(sym, str) or sym not in METALS:
        raise _fail(
            where,
            f"unknown metal {sym!r} in 'metals'; use element symbols such as Au, Ag, Cu, Pt",
        )
    return sym


def _preset_from_dict(d: dict[str, Any], where: str, registry: LigandRegistry) -> Preset:
    version = d.get("format", 1)
    if version not in (1, 2):
        raise _fail(where, f"'format' must be 1 or 2 (got {version!r})")
    name = _req(d, "name", str, where)
    if version == 1:
        ligand = _ligand(_req(d, "ligand", str, where), "ligand", where, registry)
        metals = _req(d, "metals", list, where)
        if len(metals) != 2 or not all(isinstance(m, str) for m in metals):
            raise _fail(where, "'metals' must list two element symbols (or write format = 2)")
        pm = tuple(_metal(m, where) for m in metals)
        n_top = _req(d, "n_metals", int, where)
        fams = [
            _family_v1(f, f"{where} family #{i + 1}", n_top, pm, ligand, registry)
            for i, f in enumerate(_req(d, "family", list, where))
        ]
    else:
        fam_list = _req(d, "family", list, where)
        if not fam_list:
            raise _fail(where, "no [[family]] tables; add at least one")
        top_metals = d.get("metals", [])
        if not isinstance(top_metals, list):
            raise _fail(where, "'metals' must list element symbols")
        pm_list = [_metal(m, where) for m in top_metals]
        fams = []
        for i, f in enumerate(fam_list):
            if not isinstance(f, dict):
                raise _fail(where, f"family #{i + 1} must be a table")
            fam = _family_v2(f, f"{where} family #{i + 1}", registry)
            fams.append(fam)
            for m, _, _ in fam.metals:
                if m not in pm_list:
                    pm_list.append(m)
        pm = tuple(pm_list)
        ligand = _ligand(d.get("ligand", fams[0].shell[0][0]), "ligand", where, registry)
    names = [f.name for f in fams]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise _fail(
            where, f"family name {sorted(dup)[0]!r} is used twice; give each family its own name"
        )
    frag = d.get("fragments")
    fragments = None
    if isinstance(frag, dict):
        fr_fams = tuple(frag.get("families", [f.name for f in fams]))
        for fn in fr_fams:
            if fn not in names:
                raise _fail(
                    where, f"[fragments] families: no family {fn!r}; families: {', '.join(names)}"
                )
            f = fams[names.index(fn)]
            simple = (
                len(f.metals) <= 2
                and [m for m, _, _ in f.metals] == list(pm[: len(f.metals)])
                and len(f.shell) == 1
                and f.shell[0][0] == ligand
                and not f.donors
                and f.hydrides == (0, 0)
                and len(f.charges) == 1
            )
            if not simple:
                raise _fail(
                    where,
                    f"[fragments] family {fn!r} is not a two-metal single-ligand family; "
                    "remove it from 'families'",
                )
        fragments = FragmentSpec(
            families=fr_fams,
            losses=_int(frag, "losses", 1, where, lo=1),
            max_na=_int(frag, "max_na", 4, where),
        )
    comp = d.get("complexes")
    complexes = None
    if isinstance(comp, dict):
        if len(pm) < 2:
            raise _fail(where, "[complexes] needs two metals; remove the table")
        complexes = ComplexSpec(
            max_metals=_int(comp, "max_metals", 6, where, lo=1),
            max_na=_int(comp, "max_na", 2, where),
        )
    cap = _int(d, "max_candidates", DEFAULT_MAX_CANDIDATES, where, lo=1)
    return Preset(
        name=name,
        ligand=ligand,
        metals=pm,
        families=tuple(fams),
        fragments=fragments,
        complexes=complexes,
        description=str(d.get("description", "")),
        registry=registry,
        max_candidates=cap,
        version=int(version),
    )


def _family_v1(
    f: Any,
    fw: str,
    n_top: int,
    pm: tuple[str, ...],
    ligand: str,
    registry: LigandRegistry,
) -> FamilySpec:
    if not isinstance(f, dict):
        raise _fail(fw, "must be a table")
    n_metals = _int(f, "n_metals", n_top, fw, lo=1)
    xr = f.get("x", [0, n_metals])
    if not (
        isinstance(xr, list)
        and len(xr) == 2
        and all(isinstance(a, int) and not isinstance(a, bool) for a in xr)
        and 0 <= xr[0] <= xr[1] <= n_metals
    ):
        raise _fail(fw, f"'x' must be [lo, hi] within 0..{n_metals} (the family's n_metals)")
    core_charge = _req(f, "core_charge", int, fw)
    charges = _charges(f.get("ion_charges", [core_charge]), "ion_charges", fw)
    ligs = _req(f, "ligands", int, fw)
    halide = f.get("halide")
    if halide is not None:
        halide = _ligand(halide, "halide", fw, registry)
    a, b = pm
    lo, hi = int(xr[0]), int(xr[1])
    fam = FamilySpec(
        name=_req(f, "name", str, fw),
        n_metals=n_metals,
        ligands=ligs,
        core_charge=core_charge,
        x_range=(lo, hi),
        ion_charges=charges,
        charge_weights=_charge_weights(f, charges, fw),
        max_na=_int(f, "max_na", 0, fw),
        halide=halide,
        max_halide=_int(f, "max_halide", 0, fw),
        metals=((a, lo, hi), (b, n_metals - hi, n_metals - lo)),
        shell=((ligand, ligs, ligs),),
        core_charges=(core_charge,),
        x=a,
    )
    _check_family(fam, fw, registry)
    return fam


_V2_KEYS = {
    "name", "n_metals", "metals", "ligands", "shell", "donors", "hydrides", "core_charge",
    "ion_charges", "charge_weights", "max_na", "halide", "max_halide", "cations",
    "max_cations", "x",
}  # fmt: skip


def _family_v2(f: dict[str, Any], fw: str, registry: LigandRegistry) -> FamilySpec:
    unknown = set(f) - _V2_KEYS
    if unknown:
        raise _fail(fw, f"unknown key(s) {sorted(unknown)}; allowed: {', '.join(sorted(_V2_KEYS))}")
    name = _req(f, "name", str, fw)
    fw = f"{fw} ({name})"
    mt = _req(f, "metals", dict, fw)
    if not mt:
        raise _fail(fw, "'metals' is empty; write e.g. metals = { Au = [21, 25], Ag = [0, 4] }")
    metals = tuple((_metal(m, fw), *_range(v, f"metals.{m}", fw)) for m, v in mt.items())
    # default: the first (host) metal at its maximum, the others at their minimum
    n_metals = _int(f, "n_metals", metals[0][2] + sum(lo for _, lo, _ in metals[1:]), fw, lo=1)
    sh = _req(f, "shell", dict, fw)
    if not sh:
        raise _fail(fw, "'shell' is empty; write e.g. shell = { PET = 18 }")
    shell = tuple(
        (_ligand(k, f"shell.{k}", fw, registry), *_range(v, f"shell.{k}", fw))
        for k, v in sh.items()
    )
    for lig, _, _ in shell:
        if registry[lig].electrons == 0:
            raise _fail(fw, f"{lig!r} is a neutral donor: list it under 'donors', not 'shell'")
    ligs = _int(f, "ligands", shell[0][2] + sum(lo for _, lo, _ in shell[1:]), fw, lo=0)
    dn = f.get("donors", {})
    if not isinstance(dn, dict):
        raise _fail(fw, "'donors' must be a table such as { PPh3 = [0, 4] }")
    donors = tuple(
        (_ligand(k, f"donors.{k}", fw, registry), *_range(v, f"donors.{k}", fw))
        for k, v in dn.items()
    )
    for lig, _, _ in donors:
        if registry[lig].electrons != 0:
            raise _fail(fw, f"{lig!r} withdraws electrons: list it under 'shell', not 'donors'")
    hyd = _range(f.get("hydrides", 0), "hydrides", fw)
    core = _charges(_req(f, "core_charge", (int, list), fw), "core_charge", fw)
    ion_charges = _charges(f.get("ion_charges", list(core)), "ion_charges", fw)
    cats = f.get("cations", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        raise _fail(fw, "'cations' must list cation names such as [\"Cs\"]")
    for c in cats:
        if c not in CATIONS:
            raise _fail(
                fw, f"unknown cation {c!r} in 'cations'; known: {', '.join(sorted(CATIONS))}"
            )
    max_cat = _int(f, "max_cations", 3 if cats else 0, fw)
    halide = f.get("halide")
    if halide is not None:
        halide = _ligand(halide, "halide", fw, registry)
    x = f.get("x")
    if x is None:
        varying = [m for m, lo, hi in metals[1:] if hi > lo]
        varying += [s for s, lo, hi in shell[1:] if hi > lo]
        x = varying[0] if varying else metals[0][0]
    known = {m for m, _, _ in metals} | {s for s, _, _ in (*shell, *donors)} | {"H"}
    if x not in known:
        raise _fail(fw, f"'x' = {x!r} is not one of the family's metals, ligands or 'H'")
    fam = FamilySpec(
        name=name,
        n_metals=n_metals,
        ligands=ligs,
        core_charge=core[0],
        x_range=(0, 0),
        ion_charges=ion_charges,
        charge_weights=_charge_weights(f, ion_charges, fw),
        max_na=_int(f, "max_na", 0, fw),
        halide=halide,
        max_halide=_int(f, "max_halide", 0, fw),
        metals=metals,
        shell=shell,
        donors=donors,
        hydrides=hyd,
        core_charges=core,
        cations=tuple(cats),
        max_cations=max_cat,
        x=str(x),
    )
    _check_family(fam, fw, registry)
    sp = [
        s.count(fam.x)
        for s in family_species(
            Preset("check", shell[0][0], (), (fam,), registry=registry), fam.name
        )
    ]
    from dataclasses import replace

    return replace(fam, x_range=(min(sp), max(sp)))


def _check_family(f: FamilySpec, fw: str, registry: LigandRegistry) -> None:
    """Ranges that can be met, charges that can be formed, electron counts >= 0."""
    lo_m = sum(lo for _, lo, _ in f.metals)
    hi_m = sum(hi for _, _, hi in f.metals)
    if not lo_m <= f.n_metals <= hi_m:
        raise _fail(
            fw,
            f"the 'metals' ranges sum to {lo_m}..{hi_m}, never to n_metals = {f.n_metals}; "
            "widen a range or fix n_metals",
        )
    lo_s = sum(lo for _, lo, _ in f.shell)
    hi_s = sum(hi for _, _, hi in f.shell)
    if not lo_s <= f.ligands <= hi_s:
        raise _fail(
            fw,
            f"the 'shell' ranges sum to {lo_s}..{hi_s}, never to ligands = {f.ligands}; "
            "widen a range or fix ligands",
        )
    if f.halide and f.max_halide > min(hi for _, _, hi in f.shell[:1]):
        raise _fail(fw, f"max_halide = {f.max_halide} exceeds the main ligand's count; lower it")
    if any(abs(z) > 200 for z in (*f.ion_charges, *f.charges)):
        raise _fail(fw, "charges must lie within -200..200")
    if 0 in f.ion_charges:
        raise _fail(fw, "'ion_charges' lists 0: a neutral ion is not seen by MS; remove it")
    acidic = sum(hi * registry[s].acidic_protons for s, _, hi in f.shell)
    for q in f.charges:
        ok = [z for z in f.ion_charges if _formable(q, z, f, acidic)]
        if not ok:
            raise _fail(
                fw,
                f"core charge {q:+d} gives none of the ion charges {list(f.ion_charges)}: "
                'add cations (cations = ["Cs"], max_cations), a Na+ ladder (max_na) '
                "or the core charge itself to ion_charges",
            )
    for z in f.ion_charges:
        if not any(_formable(q, z, f, acidic) for q in f.charges):
            raise _fail(
                fw,
                f"ion charge {z:+d} cannot be formed from core charge(s) {list(f.charges)}; "
                "remove it from ion_charges or add cations / max_na / acidic ligands",
            )
    # electron count of the leanest species must not be negative
    from ..chem.elements import FREE_VALENCE

    e_metal = min(
        sum(FREE_VALENCE.get(m, 0) * n for m, n in comp.items())
        for comp in _compositions(f.metals, f.n_metals)
    )
    e_lig = max(
        sum(registry[s].electrons * n for s, n in comp.items())
        for comp in _compositions(f.shell, f.ligands)
    )
    worst = e_metal - e_lig - f.hydrides[1] - max(f.charges)
    if worst < 0:
        raise _fail(
            fw,
            f"valence electron count would be {worst} (< 0) for core charge {max(f.charges):+d}; "
            "check core_charge (signed: -1 for an anion), ligands and hydrides",
        )


def _formable(q: int, z: int, f: FamilySpec, acidic: int) -> bool:
    """Whether an ion of charge z can come from a core of charge q."""
    for na in range(f.max_na + 1):
        h = na + q - z
        if 0 <= h <= acidic:
            return True
    return bool(f.cations) and 1 <= z - q <= f.max_cations


def _check_overlaps(p: Preset, where: str) -> None:
    """No species in two families."""
    seen: dict[tuple[Any, ...], str] = {}
    for f in p.families:
        for s in family_species(p, f.name):
            key = (s.metals, s.shell, s.hydrides, s.core_charge)
            other = seen.get(key)
            if other is not None and other != f.name:
                raise _fail(
                    where,
                    f"families {other!r} and {f.name!r} overlap (both hold {s.label}, core "
                    f"charge {s.core_charge:+d}); narrow one family's ranges",
                )
            seen[key] = f.name
