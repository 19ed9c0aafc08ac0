"""Candidates of the assigner: the preset's library with isotope patterns, pruning against
the spectrum, and the structured problem (species, forms, groups) the fit solves (step 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..library import CandidateLibrary, Preset, enumerate_candidates, fragment_parents

if TYPE_CHECKING:
    from ...chem.isotopes import Pattern

__all__: list[str] = []

#: preset -> (library, patterns, owner and m/z of every main isotope peak, pattern maxima)
_PATTERN_CACHE: dict[Any, tuple[Any, list[Pattern], np.ndarray, np.ndarray, np.ndarray]] = {}


@dataclass(frozen=True, slots=True)
class _Problem:
    """Candidates chosen for the fit and the structure tying them together."""

    idx: np.ndarray  # candidate indices into the library
    group: np.ndarray  # group of each ion
    form: np.ndarray  # form of each ion (-1: free)
    form_family: np.ndarray  # family index of each form
    form_init: np.ndarray
    group_labels: list[tuple[str, str, int]]  # (species, family, x) per group (free: ion name)
    free_group: np.ndarray  # bool per group
    col: np.ndarray  # design column of each ion
    parents: list[tuple[tuple[str, int], ...]]  # per group: parent species of a fragment
    observable: frozenset[tuple[str, int]]  # cluster species with an ion in the m/z range

    @property
    def families(self) -> set[str]:
        """The cluster families of the problem (free groups left out)."""
        return {lab[1] for k, lab in enumerate(self.group_labels) if not self.free_group[k]}


def _library(
    preset: Preset, *, cache: bool = True
) -> tuple[CandidateLibrary, list[Pattern], np.ndarray, np.ndarray]:
    """Full candidate library with patterns and the flattened main peaks.

    Cached in memory per preset and, unless ``cache`` is False, on disk
    (:mod:`nanoalloy.ms.diskcache`; a bad entry is rebuilt).
    """
    hit = _PATTERN_CACHE.get(preset)
    if hit is None:
        from .. import diskcache

        key = diskcache.preset_key(preset, "library")
        got = diskcache.load("library", key) if cache else None
        if got is not None:
            hit = got
        else:
            hit = _build(preset)
            if cache:
                diskcache.store("library", key, hit)
        if len(_PATTERN_CACHE) > 4:
            _PATTERN_CACHE.clear()
        _PATTERN_CACHE[preset] = hit
    lib, pats, owner, main_mz, _ = hit
    return lib, pats, owner, main_mz


def _build(
    preset: Preset,
) -> tuple[CandidateLibrary, list[Pattern], np.ndarray, np.ndarray, np.ndarray]:
    from ...chem.isotopes import batch_patterns

    lib = enumerate_candidates(preset)
    pats = batch_patterns(
        [c.ion.composition for c in lib.candidates],
        [c.charge for c in lib.candidates],
        min_probability=1e-5,
        coverage=0.999,
    )
    sizes = np.array([len(p) for p in pats])
    owner = np.repeat(np.arange(len(pats)), sizes)
    mz = np.concatenate([p.mz for p in pats])
    prob = np.concatenate([p.probability for p in pats])
    pmax = np.array([p.probability.max() for p in pats])
    main = prob >= 0.3 * pmax[owner]
    return lib, pats, owner[main], mz[main], pmax


def _prune(
    lib: CandidateLibrary,
    owner: np.ndarray,
    main_mz: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    *,
    in_range: np.ndarray,
    threshold: float,
    tolerance_ppm: float,
    resolution: float,
    points_per_fwhm: float,
    gap_resolution: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates whose main peaks all stand above ``threshold`` (within the tolerance), and
    those whose main peaks lie more in gaps of the data than on it (no form of the fit).

    A main peak in a gap of the data (no sample within two FWHM and the tolerance: a
    reduced-profile export that left out everything below its threshold, islands of
    noise between) cannot be judged either; a candidate with more of its main peaks in
    gaps than on data is no candidate, nor a form of a species that is one: its column
    touches the data by its flanks alone, and the fit gave such an ion 70 times the
    tallest data point (an eighteenth stranger's Au25(p-MBA)18 export cut at its 1 %
    baseline: 91 % of the signal to an [Au25(p-MBA)16H2+6Na-10H]5- no sample stands on).
    """
    from scipy.ndimage import maximum_filter1d

    half = max(1, math.ceil(tolerance_ppm * 1e-6 * resolution * points_per_fwhm) + 1)
    ymax = maximum_filter1d(gy, 2 * half + 1, mode="nearest")
    pos = np.clip(np.searchsorted(gx, main_mz), 0, gx.size - 1)
    inside = (main_mz >= gx[0]) & (main_mz <= gx[-1])
    ok = ymax[pos] >= threshold
    nearest = np.minimum(np.abs(gx[pos] - main_mz), np.abs(gx[np.maximum(pos - 1, 0)] - main_mz))
    # (FWHM at the lowest resolving power in view: the decimation's is the highest)
    reach = main_mz * (GAP_FWHM / (gap_resolution or resolution) + tolerance_ppm * 1e-6)
    # (and three of the data's own sampling steps: a sparse trace is no gap)
    reach = np.maximum(reach, 3.0 * float(np.median(np.diff(gx))) if gx.size > 1 else 0.0)
    gap = inside & (nearest > reach)
    judged = inside & ~gap
    n = len(lib)
    # main peaks outside the recorded window cannot be judged (a zoom, or an
    # envelope cut by the window's edge): every peak inside must stand, and one must be
    bad = np.bincount(owner, weights=judged & ~ok, minlength=n)
    seen = np.bincount(owner, weights=judged, minlength=n)
    holes = np.bincount(owner, weights=gap, minlength=n)
    return (bad == 0) & (seen > 0) & (holes <= seen) & in_range, holes > seen


GAP_FWHM = 2.0
"""A main peak farther than this many FWHM (plus the pruning tolerance) from every sample
lies in a gap of the data (see :func:`_prune`)."""


NA_MEAN = 2.0  # starting Na+ mean of every family


def _prior(charge: int, na: int, halides: int, *_: object, na_mean: float) -> float:
    """Starting weight of a form: Poisson in Na+, halved per halide, flat in charge."""
    return math.exp(na * math.log(na_mean) - math.lgamma(na + 1)) * 0.5**halides


def _problem(lib: CandidateLibrary, survive: np.ndarray, in_range: np.ndarray) -> _Problem:
    """Groups (species / free ions) and forms of the surviving candidates."""
    cands = lib.candidates
    species_ok: set[tuple[str, str]] = set()
    for i in np.flatnonzero(survive):
        c = cands[i]
        if c.kind == "cluster":
            species_ok.add((c.family, c.species))
    fam_names = [f.name for f in lib.preset.families]
    idx: list[int] = []
    group: list[int] = []
    form: list[int] = []
    groups: dict[tuple[str, str, int], int] = {}
    forms: dict[tuple[Any, ...], int] = {}
    form_count: list[float] = []
    free: list[bool] = []
    parents: list[tuple[tuple[str, int], ...]] = []
    observable: set[tuple[str, int]] = set()
    for i in np.flatnonzero(in_range):
        c = cands[i]
        if c.kind == "cluster":
            observable.add((c.family, c.x))
            if (c.family, c.species) not in species_ok:
                continue
            key = (c.species, c.family, c.x)
            fkey = (c.family, *c.form)
            if fkey not in forms:
                forms[fkey] = len(forms)
                form_count.append(0.0)
            f = forms[fkey]
            form_count[f] += 1.0 if survive[i] else 0.0
        elif survive[i]:
            key = (str(c.ion), c.family, c.x)
            f = -1
        else:
            continue
        if key not in groups:
            groups[key] = len(groups)
            free.append(f < 0)
            parents.append(
                tuple(fragment_parents(lib.preset, c.au, c.ag, c.ligands, c.core_charge))
                if c.kind == "fragment"
                else ()
            )
        idx.append(int(i))
        group.append(groups[key])
        form.append(f)
    form_family = np.array([fam_names.index(k[0]) for k in forms], dtype=np.intp)
    init = np.array([_prior(*k[1:], na_mean=NA_MEAN) for k in forms])
    if init.size:
        fam_sum = np.bincount(form_family, weights=init)
        init = init / fam_sum[form_family]
    return _Problem(
        np.array(idx, dtype=np.intp),
        np.array(group, dtype=np.intp),
        np.array(form, dtype=np.intp),
        form_family,
        init,
        list(groups),
        np.array(free, dtype=bool),
        np.arange(len(idx), dtype=np.intp),
        parents,
        frozenset(observable),
    )
