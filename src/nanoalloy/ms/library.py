"""Presets and candidate enumeration: which ions could be in a spectrum.

A *preset* (a TOML file shipped in ``nanoalloy/data/presets`` or written by the
user) describes a cluster system: the ligand SR stands for, the two metals, and
structural *families* (shell size, core charge, observed ion charges, Na+ ladder
depth, halide shells), plus in-source fragments and metal-thiolate complexes.

Ion forms follow the ESI ladder of carboxylated ligands: an ion of charge ``z``
from a core of charge ``q`` carries ``n`` Na+ and has ``h = n + q - z`` protons
removed (``0 <= h <=`` acidic protons of the shell).

Contents
--------
FamilySpec, FragmentSpec, ComplexSpec, Preset
    Frozen records read from a preset TOML.
load_preset, list_presets
    Find and validate presets by name or path.
Candidate
    One candidate ion with the neutral species it belongs to.
CandidateLibrary
    All candidates of a preset with vectorised m/z bounds; ``subset`` and ``to_frame``.
species_ion, ion_forms, enumerate_candidates
    Build species and their ion forms.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..chem.formula import Ion, make_ion
from ..chem.ligands import DEFAULT_LIGANDS, LigandRegistry
from ..errors import PresetError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Candidate",
    "CandidateLibrary",
    "ComplexSpec",
    "FamilySpec",
    "FragmentSpec",
    "Preset",
    "enumerate_candidates",
    "ion_forms",
    "list_presets",
    "load_preset",
    "species_ion",
]

Kind = Literal["cluster", "fragment", "complex"]


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """One structural family, e.g. M44S30 = [AuxAg44-x(SR)30]4-."""

    name: str
    """Family label used in every table (``M44S30``)."""
    n_metals: int
    """Metal atoms per cluster."""
    ligands: int
    """Shell size, halides included."""
    core_charge: int
    """Signed charge of the core."""
    x_range: tuple[int, int] = (0, 44)
    """Inclusive range of the first metal's count."""
    ion_charges: tuple[int, ...] = ()
    """Signed ion charges observed by ESI."""
    max_na: int = 10
    """Deepest Na+ ladder step considered."""
    halide: str | None = None
    """Halide that may replace SR in the shell (``Cl``)."""
    max_halide: int = 0
    """How many SR it may replace."""


@dataclass(frozen=True, slots=True)
class FragmentSpec:
    """In-source fragments: successive losses of [M(SR)2]-."""

    families: tuple[str, ...] = ()
    """Families whose members fragment."""
    losses: int = 1
    """Number of successive [M(SR)2]- losses."""
    max_na: int = 4
    """Na+ ladder depth of the fragment ions."""


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
    """Canonical name of the ligand SR stands for."""
    metals: tuple[str, str]
    """The two metals; ``x`` counts the first."""
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
        """Acidic protons per ligand."""
        return self.registry[self.ligand].acidic_protons


def list_presets() -> list[str]:
    """Names of the presets shipped with nanoalloy."""
    folder = resources.files("nanoalloy") / "data" / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(
    name_or_path: str | Path = "auag44-pmba", /, *, registry: LigandRegistry | None = None
) -> Preset:
    """Load a shipped preset by name, or a user's preset TOML by path.

    Examples
    --------
    >>> p = load_preset("auag44-pmba")
    >>> [f.name for f in p.families]
    ['M44S30', 'M44S27', 'M44S26']
    """
    text: str
    where = str(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PresetError(f"cannot read preset {where!r}: {exc}") from None
    else:
        res = resources.files("nanoalloy") / "data" / "presets" / f"{name_or_path}.toml"
        if not res.is_file():
            raise PresetError(
                f"unknown preset {where!r}; shipped presets: {', '.join(list_presets())}"
            )
        text = res.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"preset {where!r} is not valid TOML: {exc}") from None
    return _preset_from_dict(data, where, registry or DEFAULT_LIGANDS)


def _req(d: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise PresetError(f"preset {where}: missing key {key!r}")
    v = d[key]
    if not isinstance(v, typ) or isinstance(v, bool):
        raise PresetError(f"preset {where}: {key!r} has the wrong type ({type(v).__name__})")
    return v


def _preset_from_dict(d: dict[str, Any], where: str, registry: LigandRegistry) -> Preset:
    name = _req(d, "name", str, where)
    try:
        ligand = registry.resolve(_req(d, "ligand", str, where)).name
    except Exception as exc:
        raise PresetError(f"preset {where}: {exc}") from None
    metals = _req(d, "metals", list, where)
    if len(metals) != 2 or not all(isinstance(m, str) for m in metals):
        raise PresetError(f"preset {where}: 'metals' must list two element symbols")
    n_metals = _req(d, "n_metals", int, where)
    fams = []
    for i, f in enumerate(_req(d, "family", list, where)):
        fw = f"{where} family #{i + 1}"
        xr = f.get("x", [0, n_metals])
        if not (isinstance(xr, list) and len(xr) == 2 and 0 <= xr[0] <= xr[1] <= n_metals):
            raise PresetError(f"preset {fw}: 'x' must be [lo, hi] within 0..{n_metals}")
        charges = tuple(int(z) for z in f.get("ion_charges", [f.get("core_charge", 0)]))
        fams.append(
            FamilySpec(
                name=_req(f, "name", str, fw),
                n_metals=int(f.get("n_metals", n_metals)),
                ligands=_req(f, "ligands", int, fw),
                core_charge=_req(f, "core_charge", int, fw),
                x_range=(int(xr[0]), int(xr[1])),
                ion_charges=charges,
                max_na=int(f.get("max_na", 0)),
                halide=f.get("halide"),
                max_halide=int(f.get("max_halide", 0)),
            )
        )
    frag = d.get("fragments")
    fragments = (
        FragmentSpec(
            families=tuple(frag.get("families", [f.name for f in fams])),
            losses=int(frag.get("losses", 1)),
            max_na=int(frag.get("max_na", 4)),
        )
        if isinstance(frag, dict)
        else None
    )
    comp = d.get("complexes")
    complexes = (
        ComplexSpec(max_metals=int(comp.get("max_metals", 6)), max_na=int(comp.get("max_na", 2)))
        if isinstance(comp, dict)
        else None
    )
    return Preset(
        name=name,
        ligand=ligand,
        metals=(metals[0], metals[1]),
        families=tuple(fams),
        fragments=fragments,
        complexes=complexes,
        description=str(d.get("description", "")),
        registry=registry,
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate ion and the neutral species it is a form of."""

    ion: Ion
    """The ion (charge, Na/H ladder, halides)."""
    species: str
    """Label of the neutral species the ion pools into (``Au12Ag32(p-MBA)30``; halide shells pooled)."""
    family: str
    """Family name, or ``fragment`` / ``complex``."""
    au: int
    """Count of the first metal (Au)."""
    ag: int
    """Count of the second metal (Ag)."""
    ligands: int
    """Shell size including halides."""
    core_charge: int
    """Signed core charge."""
    halides: int = 0
    """Halides in place of SR."""
    na: int = 0
    """Na+ added."""
    protons_removed: int = 0
    """H+ removed."""
    kind: Kind = "cluster"
    """``cluster``, ``fragment`` or ``complex``."""

    @property
    def charge(self) -> int:
        """Signed ion charge."""
        return self.ion.charge


def species_label(preset: Preset, au: int, ag: int, ligands: int) -> str:
    """Canonical label of a neutral species, e.g. ``Au12Ag32(p-MBA)30``."""
    a, b = preset.metals
    metals = {a: au, b: ag}
    return make_ion(metals, {preset.ligand: ligands}, registry=preset.registry).core_notation


def species_ion(preset: Preset, family: str, x: int, /, *, halides: int = 0) -> Ion:
    """The bare cluster ion of ``family`` with ``x`` of the first metal (core charge, no adducts).

    >>> str(species_ion(load_preset(), "M44S30", 12, halides=1))
    '[Au12Ag32(p-MBA)29Cl]4-'
    """
    f = preset.family(family)
    if not f.x_range[0] <= x <= f.x_range[1]:
        raise PresetError(f"x = {x} is outside {family}'s range {f.x_range}")
    if halides and (f.halide is None or halides > f.max_halide):
        raise PresetError(f"{family} allows at most {f.max_halide} halides")
    a, b = preset.metals
    ligs = {preset.ligand: f.ligands - halides}
    if halides:
        ligs[str(f.halide)] = halides
    return make_ion({a: x, b: f.n_metals - x}, ligs, charge=f.core_charge, registry=preset.registry)


def _ladder(
    core: Ion,
    *,
    charges: Iterable[int],
    max_na: int,
    acidic: int,
) -> list[tuple[Ion, int, int]]:
    out = []
    q = core.core_charge
    metals, ligs = core.metals, core.ligands
    for z in charges:
        for na in range(max_na + 1):
            h = na + q - z
            if h < 0 or h > acidic:
                continue
            adducts = {"Na": na, "H": -h}
            out.append((make_ion(metals, ligs, charge=z, adducts=adducts), na, h))
    return out


def ion_forms(
    preset: Preset,
    family: str,
    x: int,
    /,
    *,
    halides: int = 0,
    charges: Sequence[int] | None = None,
    max_na: int | None = None,
) -> list[Candidate]:
    """Every ESI ion form (charge states x Na+ ladder) of one cluster species."""
    f = preset.family(family)
    core = species_ion(preset, family, x, halides=halides)
    acidic = (f.ligands - halides) * preset.acidic_protons
    label = species_label(preset, x, f.n_metals - x, f.ligands)
    return [
        Candidate(ion, label, f.name, x, f.n_metals - x, f.ligands, f.core_charge, halides, na, h)
        for ion, na, h in _ladder(
            core,
            charges=f.ion_charges if charges is None else charges,
            max_na=f.max_na if max_na is None else max_na,
            acidic=acidic,
        )
    ]


def fragment_parents(
    preset: Preset, au: int, ag: int, ligands: int, core_charge: int, /
) -> list[tuple[str, int]]:
    """``(family, x)`` of every species whose in-source fragment has this core.

    The inverse of :func:`fragment_forms`: a fragment that lost one [M(SR)2]-
    comes from the species with one more Au or one more Ag.

    >>> fragment_parents(load_preset(), 21, 22, 28, -3)
    [('M44S30', 21), ('M44S30', 22)]
    """
    spec = preset.fragments
    if spec is None:
        return []
    out: list[tuple[str, int]] = []
    for f in preset.families:
        if f.name not in spec.families:
            continue
        for k in range(1, spec.losses + 1):
            if (
                f.ligands - 2 * k != ligands
                or f.core_charge + k != core_charge
                or au + ag + k != f.n_metals
            ):
                continue
            for lost_a in range(k + 1):
                x = au + lost_a
                if f.x_range[0] <= x <= f.x_range[1] and (f.name, x) not in out:
                    out.append((f.name, x))
    return out


def fragment_forms(preset: Preset, family: str, x: int, /) -> list[Candidate]:
    """Fragments of one species after losing [M(SR)2]- (M = either metal), with their Na+ ladders."""
    spec = preset.fragments
    if spec is None or family not in spec.families:
        return []
    f = preset.family(family)
    a, b = preset.metals
    out: list[Candidate] = []
    seen: set[tuple[int, int, int]] = set()
    for k in range(1, spec.losses + 1):
        for lost_a in range(k + 1):
            au, ag = x - lost_a, f.n_metals - x - (k - lost_a)
            if au < 0 or ag < 0:
                continue
            nl = f.ligands - 2 * k
            q = f.core_charge + k
            if q >= 0 or (au, ag, nl) in seen:
                continue
            seen.add((au, ag, nl))
            core = make_ion({a: au, b: ag}, {preset.ligand: nl}, charge=q, registry=preset.registry)
            label = species_label(preset, au, ag, nl)
            for ion, na, h in _ladder(
                core, charges=[q], max_na=spec.max_na, acidic=nl * preset.acidic_protons
            ):
                out.append(Candidate(ion, label, "fragment", au, ag, nl, q, 0, na, h, "fragment"))
    return out


def complex_forms(preset: Preset, /) -> list[Candidate]:
    """Metal-thiolate complexes [AunAgm(SR)n+m+1]- with small Na+ ladders."""
    spec = preset.complexes
    if spec is None:
        return []
    a, b = preset.metals
    out: list[Candidate] = []
    for n_tot in range(1, spec.max_metals + 1):
        for na_ in range(n_tot + 1):
            au, ag = na_, n_tot - na_
            nl = n_tot + 1
            core = make_ion(
                {a: au, b: ag}, {preset.ligand: nl}, charge=-1, registry=preset.registry
            )
            label = species_label(preset, au, ag, nl)
            for ion, na, h in _ladder(
                core, charges=[-1], max_na=spec.max_na, acidic=nl * preset.acidic_protons
            ):
                out.append(Candidate(ion, label, "complex", au, ag, nl, -1, 0, na, h, "complex"))
    return out


@dataclass(frozen=True, slots=True)
class CandidateLibrary:
    """All candidate ions of a preset, with vectorised average m/z."""

    preset: Preset
    """The preset the candidates come from."""
    candidates: tuple[Candidate, ...]
    """Every candidate ion."""
    mz_average: np.ndarray = field(repr=False)
    """Average m/z of each candidate (read-only)."""

    def __len__(self) -> int:
        return len(self.candidates)

    def subset(self, mask: np.ndarray | Sequence[int], /) -> CandidateLibrary:
        """A library holding only the selected candidates (boolean mask or indices)."""
        idx = (
            np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask, dtype=int)
        )
        mz = self.mz_average[idx].copy()
        mz.setflags(write=False)
        return CandidateLibrary(self.preset, tuple(self.candidates[i] for i in idx), mz)

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate ion (pandas)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "ion": [str(c.ion) for c in self.candidates],
                "species": [c.species for c in self.candidates],
                "family": [c.family for c in self.candidates],
                "au": [c.au for c in self.candidates],
                "ag": [c.ag for c in self.candidates],
                "ligands": [c.ligands for c in self.candidates],
                "halides": [c.halides for c in self.candidates],
                "charge": [c.charge for c in self.candidates],
                "na": [c.na for c in self.candidates],
                "mz_average": self.mz_average,
            }
        )


def enumerate_candidates(
    preset: Preset | str = "auag44-pmba",
    /,
    *,
    families: Sequence[str] | None = None,
    mz_range: tuple[float, float] | None = None,
    fragments: bool = True,
    complexes: bool = True,
) -> CandidateLibrary:
    """Enumerate every candidate ion of a preset.

    Parameters
    ----------
    preset
        A :class:`Preset` or a preset name/path.
    families
        Restrict to these families (default: all).
    mz_range
        Keep ions whose average m/z lies in this window.
    fragments, complexes
        Include in-source fragments and metal-thiolate complexes.

    Libraries are immutable and cached per argument set, so repeated calls are free.

    Examples
    --------
    >>> lib = enumerate_candidates("auag44-pmba")
    >>> len(lib) > 5000
    True
    """
    p = load_preset(preset) if isinstance(preset, str | Path) else preset
    key = (p, None if families is None else tuple(families), mz_range, fragments, complexes)
    lib = _LIBRARY_CACHE.get(key)
    if lib is None:
        if len(_LIBRARY_CACHE) > 16:
            _LIBRARY_CACHE.clear()
        lib = _LIBRARY_CACHE[key] = _enumerate(p, families, mz_range, fragments, complexes)
    return lib


_LIBRARY_CACHE: dict[tuple[Any, ...], CandidateLibrary] = {}


def _enumerate(
    p: Preset,
    families: Sequence[str] | None,
    mz_range: tuple[float, float] | None,
    fragments: bool,
    complexes: bool,
) -> CandidateLibrary:
    from ..chem.isotopes import average_mass

    cands: list[Candidate] = []
    for f in p.families:
        if families is not None and f.name not in families:
            continue
        for x in range(f.x_range[0], f.x_range[1] + 1):
            for hal in range(f.max_halide + 1 if f.halide else 1):
                cands.extend(ion_forms(p, f.name, x, halides=hal))
            if fragments:
                cands.extend(fragment_forms(p, f.name, x))
    if complexes:
        cands.extend(complex_forms(p))
    # de-duplicate (fragments of neighbouring x coincide)
    unique: dict[str, Candidate] = {}
    for c in cands:
        unique.setdefault(str(c.ion), c)
    cands = list(unique.values())
    mass_cache: dict[tuple[tuple[str, int], ...], float] = {}
    mz = np.empty(len(cands))
    for i, c in enumerate(cands):
        comp = c.ion.composition
        key = tuple(comp.items())
        m = mass_cache.get(key)
        if m is None:
            m = mass_cache[key] = average_mass(comp)
        z = c.ion.charge
        mz[i] = (m - z * 0.000548579909) / abs(z)
    if mz_range is not None:
        keep = (mz >= mz_range[0]) & (mz <= mz_range[1])
        cands = [c for c, k in zip(cands, keep, strict=True) if k]
        mz = mz[keep]
    mz.setflags(write=False)
    return CandidateLibrary(p, tuple(cands), mz)
