"""Candidate enumeration: which ions of a preset's species could be in a spectrum.

Presets themselves (records, file formats v1 and v2, validation) live in
:mod:`nanoalloy.ms.preset` and are re-exported here.

Ion forms: an ion of charge ``z`` from a core of charge ``q`` carries ``n`` Na+
and has ``h = n + q - z`` protons removed (``0 <= h <=`` acidic protons of the
shell; ``n = h = 0`` is the bare ion), or carries ``z - q`` counter-ions of one
registered kind (Cs+, K+, TOA+, PPh4+), in negative or positive mode.

Contents
--------
FamilySpec, FragmentSpec, ComplexSpec, Preset, Species, load_preset, list_presets
    Re-exported from :mod:`nanoalloy.ms.preset`.
Candidate
    One candidate ion with the neutral species it belongs to.
CandidateLibrary
    All candidates of a preset with vectorised m/z bounds; ``subset`` and ``to_frame``.
species_ion, ion_forms, species_forms, fragment_forms, fragment_parents, complex_forms
    Build species and their ion forms.
enumerate_candidates, count_candidates
    The whole library of a preset (memory-cached), and its size without building it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations_with_replacement
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..chem.formula import Ion, make_ion
from ..chem.ligands import CATIONS, LigandRegistry
from ..errors import PresetError
from .preset import (
    ComplexSpec,
    FamilySpec,
    FragmentSpec,
    Preset,
    Species,
    family_species,
    list_presets,
    load_preset,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Candidate",
    "CandidateLibrary",
    "ComplexSpec",
    "FamilySpec",
    "FragmentSpec",
    "Preset",
    "Species",
    "complex_forms",
    "count_candidates",
    "enumerate_candidates",
    "family_species",
    "fragment_forms",
    "fragment_parents",
    "ion_forms",
    "list_presets",
    "load_preset",
    "species_forms",
    "species_ion",
]

Kind = Literal["cluster", "fragment", "complex"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One candidate ion and the neutral species it is a form of."""

    ion: Ion
    """The ion (charge, Na/H ladder or cations, halides)."""
    species: str
    """Label of the neutral species the ion pools into (``Au12Ag32(p-MBA)30``; halide shells pooled)."""
    family: str
    """Family name, or ``fragment`` / ``complex``."""
    au: int
    """Au atoms (v1 presets: the first metal, whatever it is)."""
    ag: int
    """Ag atoms (v1 presets: the second metal)."""
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
    x: int = -1
    """The family's x (what ``FamilySpec.x`` counts); ``au`` when not given."""
    electrons: int | None = None
    """Valence electron count of the core (None where undefined)."""
    cation: str = ""
    """Counter-ion adduct kind (``Cs``, ``TOA``), empty for the Na+/H+ ladder."""
    n_cation: int = 0
    """Counter-ions added."""
    hydrides: int = 0
    """Hydrides in the species."""

    def __post_init__(self) -> None:
        if self.x < 0:
            object.__setattr__(self, "x", self.au)
        if self.electrons is None:
            object.__setattr__(self, "electrons", self.ion.electrons)

    @property
    def charge(self) -> int:
        """Signed ion charge."""
        return self.ion.charge

    @property
    def form(self) -> tuple[int, int, int, str, int, int]:
        """What the ESI made of the species: (charge, Na+, halides, cation, cations, core charge)."""
        return (self.charge, self.na, self.halides, self.cation, self.n_cation, self.core_charge)


def species_label(preset: Preset, au: int, ag: int, ligands: int) -> str:
    """Canonical label of a two-metal single-ligand species, e.g. ``Au12Ag32(p-MBA)30``."""
    a, b = preset.metals[:2]
    metals = {a: au, b: ag}
    return make_ion(metals, {preset.ligand: ligands}, registry=preset.registry).core_notation


def _species_at(preset: Preset, family: str, x: int) -> Species:
    f = preset.family(family)
    found = [s for s in family_species(preset, family) if s.x == x]
    if not found:
        raise PresetError(f"x = {x} is outside {family}'s range {f.x_range}")
    if len(found) > 1:
        raise PresetError(
            f"{family} holds {len(found)} species with x = {x} ({found[0].label}, ...); "
            "pick one from family_species() and use species_forms()"
        )
    return found[0]


def species_ion(preset: Preset, family: str, x: int, /, *, halides: int = 0) -> Ion:
    """The bare cluster ion of ``family`` with ``x`` (core charge, no adducts).

    >>> str(species_ion(load_preset(), "M44S30", 12, halides=1))
    '[Au12Ag32(p-MBA)29Cl]4-'
    """
    f = preset.family(family)
    if halides and (f.halide is None or halides > f.max_halide):
        raise PresetError(f"{family} allows at most {f.max_halide} halides")
    return _species_at(preset, family, x).core(preset, halides=halides)


def _forms(
    core: Ion,
    *,
    charges: Iterable[int],
    max_na: int,
    acidic: int,
    cations: Sequence[str] = (),
    max_cations: int = 0,
    registry: LigandRegistry | None = None,
) -> list[tuple[Ion, int, int, str, int]]:
    """(ion, Na+, H+ removed, cation, cations) of every form of a core (its ligands named in
    ``registry``, the preset's: a ligand of the user's own is not in the default one)."""
    out = []
    q = core.core_charge
    metals, ligs = core.metals, core.ligands
    for z in charges:
        for na in range(max_na + 1):
            h = na + q - z
            if h < 0 or h > acidic:
                continue
            adducts = {"Na": na, "H": -h}
            ion = make_ion(metals, ligs, charge=z, adducts=adducts, registry=registry)
            out.append((ion, na, h, "", 0))
        n = z - q
        if 1 <= n <= max_cations:
            # every mix of the kinds ([Au25(PET)18+TOA+Cs]+ beside +2TOA and +2Cs); a mix
            # is named by its kinds joined with "+"
            for mix in combinations_with_replacement(cations, n):
                mixed = Counter(CATIONS[cat] for cat in mix)
                ion = make_ion(metals, ligs, charge=z, adducts=mixed, registry=registry)
                out.append((ion, 0, 0, "+".join(dict.fromkeys(mix)), n))
    return out


def _ladder(
    core: Ion,
    *,
    charges: Iterable[int],
    max_na: int,
    acidic: int,
    registry: LigandRegistry | None = None,
) -> list[tuple[Ion, int, int]]:
    forms = _forms(core, charges=charges, max_na=max_na, acidic=acidic, registry=registry)
    return [(i, na, h) for i, na, h, _, _ in forms]


def _acidic(preset: Preset, sp: Species, halides: int) -> int:
    reg = preset.registry
    total = sum(n * reg[name].acidic_protons for name, n in sp.shell)
    if halides:
        main = preset.family(sp.family).shell[0][0]
        total -= halides * reg[main].acidic_protons
    return total


def species_forms(
    preset: Preset,
    species: Species,
    /,
    *,
    halides: int = 0,
    charges: Sequence[int] | None = None,
    max_na: int | None = None,
) -> list[Candidate]:
    """Every ESI ion form (charge states x Na+/H+ ladder or cation adducts) of one species."""
    f = preset.family(species.family)
    core = species.core(preset, halides=halides)
    m = dict(species.metals)
    if preset.version == 1:  # x counts the first metal, the second fills the rest
        au, ag = m.get(preset.metals[0], 0), m.get(preset.metals[1], 0)
    else:  # the columns mean what they say
        au, ag = m.get("Au", 0), m.get("Ag", 0)
    e = core.electrons
    return [
        Candidate(
            ion, species.label, f.name, au, ag, f.ligands, species.core_charge, halides, na, h,
            "cluster", species.x, e, cat, n, species.hydrides,
        )
        for ion, na, h, cat, n in _forms(
            core,
            charges=f.ion_charges if charges is None else charges,
            max_na=f.max_na if max_na is None else max_na,
            acidic=_acidic(preset, species, halides),
            cations=f.cations,
            max_cations=f.max_cations,
            registry=preset.registry,
        )
    ]  # fmt: skip


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
    """Every ESI ion form of the one species of ``family`` with this ``x``."""
    f = preset.family(family)
    if halides and (f.halide is None or halides > f.max_halide):
        raise PresetError(f"{family} allows at most {f.max_halide} halides")
    sp = _species_at(preset, family, x)
    return species_forms(preset, sp, halides=halides, charges=charges, max_na=max_na)


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
    a, b = preset.metals[:2]
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
                core,
                charges=[q],
                max_na=spec.max_na,
                acidic=nl * preset.acidic_protons,
                registry=preset.registry,
            ):
                out.append(Candidate(ion, label, "fragment", au, ag, nl, q, 0, na, h, "fragment"))
    return out


def complex_forms(preset: Preset, /) -> list[Candidate]:
    """Metal-thiolate complexes [AunAgm(SR)n+m+1]- with small Na+ ladders."""
    spec = preset.complexes
    if spec is None:
        return []
    a, b = preset.metals[:2]
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
                core,
                charges=[-1],
                max_na=spec.max_na,
                acidic=nl * preset.acidic_protons,
                registry=preset.registry,
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
                "x": [c.x for c in self.candidates],
                "ligands": [c.ligands for c in self.candidates],
                "halides": [c.halides for c in self.candidates],
                "charge": [c.charge for c in self.candidates],
                "na": [c.na for c in self.candidates],
                "cation": [c.cation for c in self.candidates],
                "n_cation": [c.n_cation for c in self.candidates],
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


def _n_forms(f: FamilySpec, q: int, acidic: int) -> int:
    n = 0
    for z in f.ion_charges:
        n += sum(1 for na in range(f.max_na + 1) if 0 <= na + q - z <= acidic)
        if 1 <= z - q <= f.max_cations:
            n += math.comb(len(f.cations) + z - q - 1, z - q)  # the mixes of z - q cations
    return n


def count_candidates(preset: Preset | str, /) -> dict[str, int]:
    """Candidate cluster ions per family, counted without building them (fast).

    >>> count_candidates("auag44-pmba")["M44S27"]
    990
    """
    p = load_preset(preset) if isinstance(preset, str | Path) else preset
    out: dict[str, int] = {}
    for f in p.families:
        total = 0
        for sp in family_species(p, f.name):
            for hal in range(f.max_halide + 1 if f.halide else 1):
                total += _n_forms(f, sp.core_charge, _acidic(p, sp, hal))
        out[f.name] = total
    return out


def _check_size(p: Preset) -> None:
    counts = count_candidates(p)
    total = sum(counts.values())
    if total > p.max_candidates:
        big = max(counts, key=lambda k: counts[k])
        raise PresetError(
            f"preset {p.name!r} makes {total} candidate ions (family {big!r}: {counts[big]}), "
            f"more than max_candidates = {p.max_candidates}; narrow the ranges, charges or "
            f"ladders, or raise max_candidates in the preset"
        )


def _enumerate(
    p: Preset,
    families: Sequence[str] | None,
    mz_range: tuple[float, float] | None,
    fragments: bool,
    complexes: bool,
) -> CandidateLibrary:
    from ..chem.isotopes import average_mass

    _check_size(p)
    cands: list[Candidate] = []
    for f in p.families:
        if families is not None and f.name not in families:
            continue
        frag = fragments and p.fragments is not None and f.name in p.fragments.families
        species = family_species(p, f.name)
        for i, sp in enumerate(species):
            for hal in range(f.max_halide + 1 if f.halide else 1):
                cands.extend(species_forms(p, sp, halides=hal))
            if frag and (i + 1 == len(species) or species[i + 1].x != sp.x):
                cands.extend(fragment_forms(p, f.name, sp.x))
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
