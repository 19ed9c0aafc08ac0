"""Help for writing presets: a commented starting file from a formula, and a check.

Contents
--------
preset_template
    ``"[Au25(PET)18]-"`` + dopants / ligand exchange -> commented v2 preset TOML text.
FamilyCheck, PresetCheck
    What :func:`check_preset` found: per-family counts, m/z coverage, near-isobaric pairs.
check_preset
    Validate a preset and describe the candidate library it makes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..chem.formula import parse
from ..chem.ligands import DEFAULT_LIGANDS, LigandRegistry
from ..errors import InputError, UsageError
from .library import enumerate_candidates
from .preset import Preset, family_species, preset_from_text

__all__ = ["FamilyCheck", "PresetCheck", "check_preset", "preset_template"]

_RANGE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_\-,]*)\s*:\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def _parse_range(text: str, what: str) -> tuple[str, int, int]:
    m = _RANGE.match(text)
    if m is None:
        raise UsageError(f"{what} {text!r} must look like NAME:LO-HI, e.g. Ag:0-4")
    lo = int(m.group(2))
    hi = int(m.group(3)) if m.group(3) is not None else lo
    if hi < lo:
        raise UsageError(
            f"{what} {text!r}: the range {lo}-{hi} is empty; write LO-HI with LO <= HI"
        )
    return m.group(1), lo, hi


def _toml_range(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"[{lo}, {hi}]"


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_\-]+", k) else f'"{k}"'


def preset_template(
    formula: str,
    /,
    *,
    dope: Sequence[str] = (),
    exchange: Sequence[str] = (),
    hydrides: str | None = None,
    name: str | None = None,
    sr: str | None = None,
    registry: LigandRegistry | None = None,
) -> str:
    """A commented v2 preset for one cluster (and its alloys / exchange products).

    Parameters
    ----------
    formula
        The parent cluster with its core charge, e.g. ``"[Au25(PET)18]-"``.
    dope
        Dopants as ``METAL:LO-HI`` (``Ag:0-4``); the first metal of ``formula`` is the host.
    exchange
        Incoming ligands as ``LIGAND:LO-HI`` (``SBB:0-8``); they replace the first ligand.
    hydrides
        Hydride count range ``LO-HI``.
    name
        Preset name (default: from the formula).
    sr
        Ligand ``(SR)`` stands for in ``formula``.

    Examples
    --------
    >>> text = preset_template("[Au25(PET)18]-", dope=["Ag:0-4"])
    >>> "metals = { Au = [21, 25], Ag = [0, 4] }" in text
    True
    """
    reg = registry or DEFAULT_LIGANDS
    ion = parse(formula, sr=sr, ligands=reg)
    metals = ion.metals
    if not metals:
        raise InputError(
            f"{formula!r} has no metal atoms; write the parent cluster, e.g. [Au25(PET)18]-"
        )
    shell: dict[str, int] = {}
    donors: dict[str, int] = {}
    nh = 0
    for lig, n in ion.ligands.items():
        if lig == "H":
            nh = n
        elif lig in reg and reg[lig].electrons == 0:
            donors[lig] = n
        elif lig in reg:
            shell[lig] = n
        else:
            raise InputError(
                f"{lig!r} in {formula!r} is not a registered ligand; register it (--ligands FILE)"
            )
    if not shell:
        raise InputError(f"{formula!r} has no thiolate or halide shell")
    q = ion.core_charge
    host = next(iter(metals))
    n_metals = sum(metals.values())
    m_ranges: dict[str, tuple[int, int]] = {m: (n, n) for m, n in metals.items()}
    for d in dope:
        sym, lo, hi = _parse_range(d, "--dope")
        if sym == host:
            raise UsageError(f"--dope {d!r}: {sym} is the host metal; dope with another metal")
        m_ranges[sym] = (lo, hi)
    dl = sum(lo for m, (lo, _) in m_ranges.items() if m != host)
    dh = sum(hi for m, (_, hi) in m_ranges.items() if m != host)
    if dope:
        if n_metals - dh < 0:
            raise UsageError(
                f"--dope asks for up to {dh} other metal atoms in a {n_metals}-atom cluster"
            )
        m_ranges[host] = (n_metals - dh, n_metals - dl)
    main = next(iter(shell))
    n_lig = sum(shell.values())
    s_ranges: dict[str, tuple[int, int]] = {k: (v, v) for k, v in shell.items()}
    for e in exchange:
        lig, lo, hi = _parse_range(e, "--exchange")
        lig = reg.resolve(lig).name
        if lig == main:
            raise UsageError(
                f"--exchange {e!r}: {lig} is the parent's ligand; name the incoming one"
            )
        s_ranges[lig] = (lo, hi)
    if exchange:
        el = sum(lo for k, (lo, _) in s_ranges.items() if k != main)
        eh = sum(hi for k, (_, hi) in s_ranges.items() if k != main)
        base = shell[main]
        if base - eh < 0:
            raise UsageError(
                f"--exchange asks for up to {eh} incoming ligands; the shell holds {base}"
            )
        s_ranges[main] = (base - eh, base - el)
    h_lo, h_hi = nh, nh
    if hydrides is not None:
        _, h_lo, h_hi = _parse_range(f"H:{hydrides}", "--hydrides")
    acidic = any(reg[k].acidic_protons for k in s_ranges)
    label = name or re.sub(r"[^a-z0-9]+", "-", ion.core_notation.lower()).strip("-")
    metal_order = [host, *[m for m in m_ranges if m != host]]
    mtxt = ", ".join(f"{_toml_key(m)} = {_toml_range(*m_ranges[m])}" for m in metal_order)
    stxt = ", ".join(f"{_toml_key(k)} = {_toml_range(*v)}" for k, v in s_ranges.items())
    x = next((m for m in metal_order[1:] if m_ranges[m][1] > m_ranges[m][0]), None)
    x = x or next((k for k, v in list(s_ranges.items())[1:] if v[1] > v[0]), None)
    x = x or ("H" if h_hi > h_lo else host)
    q_text = f"{q:+d}" if q else "0"
    lines = [
        f"# Preset written by `nanoalloy preset new {formula!r}`: a starting point. Edit the ranges,",
        "# charges and ion forms to what your chemistry and spectra show, then run",
        "# `nanoalloy preset check THIS.toml --mz LO:HI --resolution R` before `nanoalloy assign`.",
        "# Cite the literature each family rests on in a comment like this one.",
        "format = 2",
        f'name = "{label}"',
        f'description = "{ion.core_notation} (core charge {q_text}) and its variants"',
        "",
        "[[family]]",
        f'name = "{label}"',
        f"n_metals = {n_metals}",
        f"metals = {{ {mtxt} }}          # count ranges; they always sum to n_metals",
        f"shell = {{ {stxt} }}           # shell ligands; counts sum to ligands",
        f"ligands = {n_lig}",
    ]
    if donors:
        dtxt = ", ".join(f"{_toml_key(k)} = [0, {v}]" for k, v in donors.items())
        lines.append(f"donors = {{ {dtxt} }}   # neutral donors, often lost in the source")
    if h_hi:
        lines.append(f"hydrides = {_toml_range(h_lo, h_hi)}   # H as a one-electron ligand")
    lines.append(f"core_charge = {q}             # signed; a list gives several species")
    if acidic:
        # from the core's own charge, six steps down: Au25(p-MBA)18 (core 1-) shows 3- to 7-,
        # Ag44(p-MBA)30 (core 4-) 4- and 5-, Au44(p-MBA)26 (core 2-) 3- and 6- to 8- (the charge
        # search adds one step beyond either end only: a default starting two below the core
        # left Ag44's 4- ions, 45 % of its signal, to other forms)
        top = min(q, -1)
        zs = list(range(top, top - 7, -1))
        lines += [
            f"ion_charges = {zs}   # acidic ligands: Na+/H+ ladders at several charges",
            "max_na = 6                   # Na+ ladder depth (h = na + core - z protons removed)",
            f"# charge_weights = {[1.0] * len(zs)}   # relative signal per ion charge (equal if "
            "absent): measure it on a wide window; window_share and fit-kinetics use it",
        ]
    elif q < 0:
        lines += [
            f"ion_charges = [{q}, 1]        # bare anion (negative mode); Cs+ adducts (positive mode)",
            'cations = ["Cs"]             # counter-ions: Cs, K, Na, TOA, PPh4, TBA, NH4',
            f"max_cations = {1 - q}",
        ]
    elif q == 0:
        # a neutral cluster takes Cs+ in positive mode, more of them the larger it is:
        # Au25(SR)18 [M+Cs]+, Au38(SR)24 also [M+2Cs]2+, Au144(SR)60 2+ to 4+ (a stranger's
        # Au144 3+/4+ and Au38 2+ panels needed the preset edited when only 1+ was written)
        k = 1 if n_metals < 30 else 2 if n_metals < 100 else 4
        zs = list(range(1, k + 1))
        lines += [
            f"ion_charges = {zs}            # a neutral cluster shows as [M+nCs]n+ in positive mode",
            'cations = ["Cs"]             # counter-ions: Cs, K, Na, TOA, PPh4, TBA, NH4',
            f"max_cations = {k}",
        ]
    else:
        lines.append(f"ion_charges = [{q}]           # the bare cation")
    lines.append(f'x = "{x}"                      # what the family\'s x axis counts')
    text = "\n".join(lines) + "\n"
    preset_from_text(text, "template", registry=reg)  # what we write always loads
    return text


@dataclass(frozen=True, slots=True)
class FamilyCheck:
    """One family as :func:`check_preset` sees it."""

    name: str
    """Family name."""
    species: int
    """Species in the family."""
    ions: int
    """Candidate ions (all charges and ion forms)."""
    ions_in_range: int
    """Candidate ions whose average m/z lies in the window."""
    mz_min: float
    """Lowest average m/z of its ions (NaN if none)."""
    mz_max: float
    """Highest average m/z of its ions (NaN if none)."""
    x: str
    """What the family's x counts."""
    x_range: tuple[int, int]
    """Range of x."""


@dataclass(frozen=True, slots=True)
class PresetCheck:
    """What a preset makes: families, m/z coverage and near-isobaric pairs."""

    preset: str
    """Preset name."""
    families: tuple[FamilyCheck, ...]
    """Per family."""
    candidates: int
    """All candidate ions (fragments and complexes included)."""
    mz_range: tuple[float, float] | None
    """The window checked (None: everything)."""
    resolution: float
    """Resolving power the pairs are judged at."""
    isobars: tuple[tuple[str, str, int, float, float], ...]
    """Near-isobaric pairs: (ion a, ion b, charge, m/z, delta m/z), closest first."""
    n_isobar_species: int
    """Distinct species pairs among them."""


def check_preset(
    preset: Preset,
    /,
    *,
    mz_range: tuple[float, float] | None = None,
    resolution: float = 20_000.0,
) -> PresetCheck:
    """Describe the candidate library of a (valid) preset.

    Near-isobaric pairs are two ions of different species with the same charge
    whose average m/z lie closer than one FWHM (m/z / ``resolution``): the fit
    cannot tell them apart without chemistry or other charge states.
    """
    if not resolution > 0:
        raise InputError(f"resolution must be positive, got {resolution}")
    lib = enumerate_candidates(preset)
    mz = lib.mz_average
    inside = np.ones(mz.size, dtype=bool)
    if mz_range is not None:
        inside = (mz >= mz_range[0]) & (mz <= mz_range[1])
    fams = []
    fam_of = np.array([c.family for c in lib.candidates])
    for f in preset.families:
        sel = fam_of == f.name
        m = mz[sel]
        fams.append(
            FamilyCheck(
                f.name,
                len(family_species(preset, f.name)),
                int(sel.sum()),
                int((sel & inside).sum()),
                float(m.min()) if m.size else float("nan"),
                float(m.max()) if m.size else float("nan"),
                f.x,
                f.x_range,
            )
        )
    idx = np.flatnonzero(inside)
    charge = np.array([c.charge for c in lib.candidates])
    pairs: list[tuple[str, str, int, float, float]] = []
    species_pairs: set[tuple[str, str]] = set()
    for z in np.unique(charge[idx]).tolist():
        sub = idx[charge[idx] == z]
        sub = sub[np.argsort(mz[sub])]
        ms = mz[sub]
        for i in range(sub.size):
            fwhm = ms[i] / resolution
            j = i + 1
            while j < sub.size and ms[j] - ms[i] < fwhm:
                a, b = lib.candidates[sub[i]], lib.candidates[sub[j]]
                if a.species != b.species:
                    pairs.append(
                        (str(a.ion), str(b.ion), int(z), float(ms[i]), float(ms[j] - ms[i]))
                    )
                    species_pairs.add(tuple(sorted((a.species, b.species))))  # type: ignore[arg-type]
                j += 1
    pairs.sort(key=lambda p: p[4])
    return PresetCheck(
        preset.name,
        tuple(fams),
        len(lib),
        mz_range,
        float(resolution),
        tuple(pairs),
        len(species_pairs),
    )
